//! Cached, coalesced upstream JSON: what services use to reach the Géoplateforme.

use std::sync::Arc;

use serde_json::Value;

use super::ServiceError;
use crate::{
    cache::{CacheKind, CacheStatus, Cached, MemoryCache},
    upstream::{SharedUpstream, UpstreamError, UpstreamRequest},
};

/// A parsed upstream JSON answer, shared by every request that hits the cache.
pub type CachedJson = Arc<Cached<Value>>;

#[derive(Clone)]
pub struct Fetcher {
    client: SharedUpstream,
    cache: MemoryCache<Value>,
}

impl Fetcher {
    pub fn new(client: SharedUpstream, cache: MemoryCache<Value>) -> Self {
        Fetcher { client, cache }
    }

    /// The upstream client behind the cache.
    pub fn client(&self) -> &SharedUpstream {
        &self.client
    }

    /// The upstream's JSON answer to `request`, fetched now (for capabilities refreshes).
    pub async fn fresh_json(&self, request: &UpstreamRequest) -> Result<Value, ServiceError> {
        let response = self.client.get(request).await?;
        serde_json::from_slice(&response.body).map_err(|e| {
            ServiceError::Upstream(UpstreamError::BadBody {
                api: request.api,
                reason: format!("not JSON ({e})"),
            })
        })
    }

    /// The upstream's answer body, fetched now (XML capabilities and schemas).
    pub async fn raw(&self, request: &UpstreamRequest) -> Result<bytes::Bytes, ServiceError> {
        Ok(self.client.get(request).await?.body)
    }

    /// The upstream's JSON answer to `request`, from the cache or fetched once. `prepare` vets the
    /// parsed answer (an API that reports failures inside a 200, say) and turns it into what is
    /// cached, so that a cache hit costs no parsing or mapping.
    pub async fn json(
        &self,
        request: UpstreamRequest,
        kind: CacheKind,
        prepare: fn(Value) -> Result<Value, String>,
    ) -> Result<(CachedJson, CacheStatus), ServiceError> {
        let key = request.cache_key();
        self.cached(key, request, kind, prepare).await
    }

    /// The upstream's JSON answer to `request` as it came, from the cache or fetched once. Kept
    /// apart from the prepared answers of [`Fetcher::json`], which differ for the same request.
    pub async fn raw_json(
        &self,
        request: UpstreamRequest,
        kind: CacheKind,
    ) -> Result<(CachedJson, CacheStatus), ServiceError> {
        let key = format!("raw {}", request.cache_key());
        self.cached(key, request, kind, Ok).await
    }

    async fn cached(
        &self,
        key: String,
        request: UpstreamRequest,
        kind: CacheKind,
        prepare: fn(Value) -> Result<Value, String>,
    ) -> Result<(CachedJson, CacheStatus), ServiceError> {
        let client = &self.client;
        let api = request.api;
        let fetch = async move {
            let response = client.get(&request).await?;
            let value: Value =
                serde_json::from_slice(&response.body).map_err(|e| UpstreamError::BadBody {
                    api,
                    reason: format!("not JSON ({e})"),
                })?;
            let value = prepare(value).map_err(|reason| UpstreamError::BadBody { api, reason })?;
            Ok::<_, UpstreamError>(Cached {
                kind,
                weight: u32::try_from(crate::cache::json_weight(&value)).unwrap_or(u32::MAX),
                value,
            })
        };
        self.cache
            .get_or_fetch(key, fetch)
            .await
            .map_err(|e| ServiceError::Upstream((*e).clone()))
    }
}
