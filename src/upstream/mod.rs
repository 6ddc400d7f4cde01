//! The only code that talks to the Géoplateforme. Services see it as [`Upstream`] (an
//! `Arc<dyn Upstream>`): [`UpstreamClient`] is the one real implementation — timeouts, retries with
//! jittered backoff, per-API quotas (token buckets), 429 pauses, API-key injection — and
//! [`memory::MemoryUpstream`] answers from memory in tests where a socket adds nothing.

mod api;
mod client;
pub mod context;
mod error;
mod fair;
pub mod memory;
mod quota;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use api::Api;
pub use client::{
    ApiHealth, PostBody, UpstreamClient, UpstreamRequest, UpstreamResponse, Validators,
};
pub use context::RequestContext;
pub use error::UpstreamError;
pub use quota::bucket_for;

/// The Géoplateforme as the services reach it: GET or POST (see [`UpstreamRequest`]).
pub trait Upstream: Send + Sync {
    /// The answer to `request`: a 2xx (or a 304 to a conditional request), else an error naming
    /// the API.
    fn get<'a>(
        &'a self,
        request: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>>;

    /// The base URL the paths are below (for rewriting the upstream's own links).
    fn base_url(&self) -> &str;

    /// Per API called so far: calls, last success, last error.
    fn health(&self) -> Vec<(Api, ApiHealth)> {
        Vec::new()
    }

    /// Seconds left of the pause an upstream 429 imposed on `api`, if any.
    fn paused_for(&self, _api: Api) -> Option<u64> {
        None
    }
}

/// The upstream as services hold it.
pub type SharedUpstream = Arc<dyn Upstream>;

impl Upstream for UpstreamClient {
    fn get<'a>(
        &'a self,
        request: &'a UpstreamRequest,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        Box::pin(UpstreamClient::get(self, request))
    }

    fn base_url(&self) -> &str {
        UpstreamClient::base_url(self)
    }

    fn health(&self) -> Vec<(Api, ApiHealth)> {
        UpstreamClient::health(self)
    }

    fn paused_for(&self, api: Api) -> Option<u64> {
        UpstreamClient::paused_for(self, api)
    }
}
