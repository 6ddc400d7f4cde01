//! The edge's error type: every failure leaves the gateway as an RFC 7807 `application/problem+json`
//! body (`type`, `title`, `status`, `detail`, and `parameter` for a bad parameter).

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{jobs::JobError, services::ServiceError, upstream::UpstreamError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub parameter: Option<String>,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: String,
    ) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail,
            parameter: None,
            retry_after_s: None,
        }
    }

    /// 400: a request parameter (or process input) is missing or wrong; `detail` says why.
    pub fn bad_parameter(name: &str, detail: impl Into<String>) -> Self {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            format!("{name}: {}", detail.into()),
        );
        e.parameter = Some(name.to_string());
        e
    }

    /// 400: the request body cannot be read.
    pub fn bad_body(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "Invalid request body",
            detail.into(),
        )
    }

    /// 401: no access key, or a wrong one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail.into(),
        )
    }

    /// 429: the caller's own budget is spent (`retry_after_s` to be set).
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            detail.into(),
        )
    }

    /// Any other status, for responses that left an extractor or a layer without a problem body.
    pub fn from_status(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError::new(
            status,
            "http",
            status.canonical_reason().unwrap_or("Error"),
            detail.into(),
        )
    }

    /// 404: no such resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            detail.into(),
        )
    }

    pub fn not_acceptable(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "Not acceptable",
            detail.into(),
        )
    }

    /// 500: a bug. The detail stays generic; the cause goes to the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail.into(),
        )
    }

    pub fn type_uri(&self) -> String {
        format!("urn:geopf-gateway:problem:{}", self.kind)
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(p) = &self.parameter {
            body["parameter"] = json!(p);
        }
        if let Some(s) = self.retry_after_s {
            body["retryAfter"] = json!(s);
        }
        body
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        let detail = e.to_string();
        match e {
            UpstreamError::Timeout { .. } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream-timeout",
                "Upstream timeout",
                detail,
            ),
            UpstreamError::RateLimited { retry_after_s, .. }
            | UpstreamError::QueueFull { retry_after_s, .. } => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    detail,
                );
                err.retry_after_s = Some(retry_after_s);
                err
            }
            UpstreamError::TooLong { .. } => ApiError::new(
                StatusCode::URI_TOO_LONG,
                "upstream-request-too-long",
                "Request too long for the Géoplateforme",
                detail,
            ),
            UpstreamError::Status { status: 400, .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "upstream-rejected",
                "Rejected by the Géoplateforme",
                detail,
            ),
            UpstreamError::Unreachable { .. }
            | UpstreamError::Status { .. }
            | UpstreamError::BadBody { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream-failure",
                "Upstream failure",
                detail,
            ),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidInput { name, reason } => ApiError::bad_parameter(&name, reason),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::NoResult(why) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no-result",
                "No result",
                why,
            ),
            ServiceError::Upstream(u) => u.into(),
            e @ ServiceError::Adapter { .. } => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "adapter-failed",
                "Adapter failed",
                e.to_string(),
            ),
            ServiceError::Elsewhere { status, detail } => ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                "job-failed",
                "Job failed",
                detail,
            ),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        let detail = e.to_string();
        match e {
            JobError::NoSuchJob(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "no-such-job", "No such job", detail)
            }
            JobError::NotReady(..) => ApiError::new(
                StatusCode::NOT_FOUND,
                "result-not-ready",
                "Result not ready",
                detail,
            ),
            JobError::Failed(cause) => cause.into(),
            JobError::TooMany(_) | JobError::Full(_) => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-jobs",
                    "Too many jobs",
                    detail,
                );
                err.retry_after_s = Some(5);
                err
            }
            JobError::Storage(..) => ApiError::internal(detail),
            JobError::HeldElsewhere(_) => {
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "job-results-elsewhere",
                    "Results held by another replica",
                    detail,
                );
                err.retry_after_s = Some(1);
                err
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), detail = %self.detail, "request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), detail = %self.detail, "request refused");
        }
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}
