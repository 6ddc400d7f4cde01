//! The only code that talks to the Géoplateforme: one HTTP client with timeouts, retries with
//! jittered backoff, per-API quotas (token buckets), 429 pauses and API-key injection.

mod api;
mod client;
mod error;
mod quota;

pub use api::Api;
pub use client::{UpstreamClient, UpstreamRequest, UpstreamResponse};
pub use error::UpstreamError;
