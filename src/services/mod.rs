//! The capabilities of the gateway, each a pure mapping between the upstream's formats and the
//! OGC models (GeoJSON features, process inputs and outputs). No HTTP responses are built here.

pub mod altimetry;
pub mod basemaps;
pub mod capabilities;
pub mod catalogue;
pub mod fetch;
pub mod geocode;
pub mod images;
pub mod inputs;
pub mod mirror;
pub mod navigation;
pub mod page;
pub mod process;
pub mod tms;
pub mod wfs;
pub mod wms;

pub use fetch::{CachedJson, Fetcher};
pub use page::PageFeatures;

use std::{future::Future, sync::Arc, time::Duration};

use crate::upstream::UpstreamError;

/// Runs `refresh` on `service` now and then every `every` — every minute while it fails, keeping
/// what the service had — until the process ends. For capabilities that load in the background.
pub fn spawn_refresh<S, F, Fut, T>(
    service: Arc<S>,
    what: &'static str,
    every: Duration,
    refresh: F,
) -> tokio::task::JoinHandle<()>
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ServiceError>> + Send,
{
    tokio::spawn(async move {
        loop {
            let wait = match refresh(service.clone()).await {
                Ok(_) => every,
                Err(e) => {
                    tracing::warn!(error = %e, "{what} not refreshed; keeping the previous ones");
                    every.min(Duration::from_secs(60))
                }
            };
            tokio::time::sleep(wait).await;
        }
    })
}

/// What can go wrong in a service; converted to problem+json at the edge.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// A request parameter or process input is missing or wrong.
    #[error("{name}: {reason}")]
    InvalidInput { name: String, reason: String },
    /// The resource does not exist (or is not known to the gateway).
    #[error("{0}")]
    NotFound(String),
    /// The inputs are valid but have no answer (no route between the points, say).
    #[error("{0}")]
    NoResult(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A declarative adapter could not do what its file says (a template that fails to render,
    /// say): the file's fault, not the request's.
    #[error("the adapter {id} failed: {reason}")]
    Adapter { id: String, reason: String },
    /// A failure another replica reported (a shared job's): its HTTP status and detail.
    #[error("{detail}")]
    Elsewhere { status: u16, detail: String },
}

impl ServiceError {
    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        ServiceError::InvalidInput {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}
