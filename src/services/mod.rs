//! The capabilities of the gateway, each a pure mapping between the upstream's formats and the
//! OGC models (GeoJSON features, process inputs and outputs). No HTTP responses are built here.

pub mod altimetry;
pub mod basemaps;
pub mod fetch;
pub mod geocode;
pub mod inputs;
pub mod navigation;
pub mod process;
pub mod wfs;

pub use fetch::Fetcher;

use crate::upstream::UpstreamError;

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
}

impl ServiceError {
    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        ServiceError::InvalidInput {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}
