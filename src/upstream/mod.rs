//! The only code that talks to the Géoplateforme: one HTTP client with timeouts, retries with
//! jittered backoff, per-API quotas (token buckets), 429 pauses and API-key injection.

mod api;
mod client;
pub mod context;
mod error;
mod fair;
mod quota;

pub use api::Api;
pub use client::{
    ApiHealth, PostBody, UpstreamClient, UpstreamRequest, UpstreamResponse, Validators,
};
pub use context::RequestContext;
pub use error::UpstreamError;
