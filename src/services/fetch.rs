//! Cached, coalesced upstream JSON: what services use to reach the Géoplateforme.

use std::sync::Arc;

use serde_json::Value;

use super::ServiceError;
use crate::{
    cache::{CacheKind, CacheStatus, Cached, MemoryCache},
    cluster::{shared::Sharing, Cluster},
    upstream::{SharedUpstream, UpstreamError, UpstreamRequest},
};

/// A parsed upstream JSON answer, shared by every request that hits the cache.
pub type CachedJson = Arc<Cached<Value>>;

#[derive(Clone)]
pub struct Fetcher {
    client: SharedUpstream,
    cache: MemoryCache<Value>,
    /// Cluster mode: the replicas' shared second level (and their cross-replica lock).
    shared: Option<Cluster>,
}

impl Fetcher {
    pub fn new(client: SharedUpstream, cache: MemoryCache<Value>) -> Self {
        Fetcher {
            client,
            cache,
            shared: None,
        }
    }

    /// Shares answers with the other replicas through `cluster` (none: this process only).
    pub fn with_cluster(mut self, cluster: Option<Cluster>) -> Self {
        self.shared = cluster;
        self
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
        let upstream = async move {
            let response = client.get(&request).await?;
            let value: Value =
                serde_json::from_slice(&response.body).map_err(|e| UpstreamError::BadBody {
                    api,
                    reason: format!("not JSON ({e})"),
                })?;
            prepare(value).map_err(|reason| UpstreamError::BadBody { api, reason })
        };
        let shared = self.shared.as_ref();
        if shared.is_some() {
            // A memory hit needs no shared key (a digest of the key): looked up first.
            if let Some(hit) = self.cache.get(&key).await {
                return Ok((hit, CacheStatus::Hit));
            }
        }
        let ttl = self.cache.ttl(kind);
        let shared_key = shared.map(|c| c.value_key("answer", &key));
        let fetch = async move {
            let (value, sharing) = match (shared, &shared_key) {
                (Some(cluster), Some(shared_key)) => {
                    cluster
                        .fetch_once(
                            shared_key,
                            ttl,
                            |bytes| serde_json::from_slice::<Value>(bytes).ok(),
                            || async {
                                let value = upstream.await?;
                                let bytes = serde_json::to_vec(&value).ok();
                                Ok::<_, UpstreamError>((value, bytes))
                            },
                        )
                        .await?
                }
                _ => (upstream.await?, Sharing::Fetched),
            };
            Ok::<_, UpstreamError>(Cached {
                kind,
                weight: u32::try_from(crate::cache::json_weight(&value)).unwrap_or(u32::MAX),
                value,
                shared: sharing == Sharing::Shared,
            })
        };
        self.cache
            .get_or_fetch(key, fetch)
            .await
            .map_err(|e| ServiceError::Upstream((*e).clone()))
    }
}
