//! Failures of an upstream call, each naming the API concerned.

use std::time::Duration;

use super::Api;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the Géoplateforme {api} API did not answer within {}", fmt_duration(*.after))]
    Timeout { api: Api, after: Duration },
    #[error("the Géoplateforme {api} API could not be reached: {reason}")]
    Unreachable { api: Api, reason: String },
    #[error("the Géoplateforme {api} API answered HTTP {status}: {message}")]
    Status {
        api: Api,
        status: u16,
        message: String,
    },
    #[error("the Géoplateforme {api} API is rate limiting; retry in {retry_after_s} s")]
    RateLimited { api: Api, retry_after_s: u64 },
    #[error(
        "the gateway's queue for the Géoplateforme {api} API is full; retry in {retry_after_s} s"
    )]
    QueueFull { api: Api, retry_after_s: u64 },
    #[error("the Géoplateforme {api} API sent an unreadable answer: {reason}")]
    BadBody { api: Api, reason: String },
    /// The request the client's input would make is longer than the upstream takes: the
    /// client's to shorten (a long filter, a long list of points), never sent.
    #[error("the request to the Géoplateforme {api} API would be {bytes} bytes long, more than the {max} it takes; shorten the filter or the list of values")]
    TooLong { api: Api, bytes: usize, max: usize },
}

fn fmt_duration(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

impl UpstreamError {
    pub fn api(&self) -> Api {
        match self {
            UpstreamError::Timeout { api, .. }
            | UpstreamError::Unreachable { api, .. }
            | UpstreamError::Status { api, .. }
            | UpstreamError::RateLimited { api, .. }
            | UpstreamError::QueueFull { api, .. }
            | UpstreamError::BadBody { api, .. }
            | UpstreamError::TooLong { api, .. } => *api,
        }
    }
}
