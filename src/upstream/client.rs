//! The upstream HTTP client: every request to the Géoplateforme goes through [`UpstreamClient::get`].

use std::{error::Error as _, sync::Arc, time::Duration};

use bytes::Bytes;
use reqwest::{header, StatusCode};
use tokio::sync::Semaphore;

use super::{quota::Quotas, Api, UpstreamError};
use crate::config::UpstreamConfig;

/// The largest upstream answer read: a bigger one (a download through the mirror, say) is refused
/// as it arrives rather than held in memory.
pub const MAX_BODY_BYTES: usize = 128 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// The whole body of `response`, refused past `max` bytes (announced or received), in an
/// allocation of its own size.
async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Bytes, BodyError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > max as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    // An allocation of the body's own size: cached answers must not keep the slack of a
    // growing buffer alive (the caches weigh the body, not its buffer).
    if body.capacity() > body.len() {
        return Ok(Bytes::copy_from_slice(&body));
    }
    Ok(body.freeze())
}

/// The longest URL sent upstream: longer ones (a client's long filter once translated) are the
/// client's error (414), not a retried upstream failure.
pub const MAX_URL_BYTES: usize = 32 * 1024;

/// A request to one upstream API: a path below the base URL, its query parameters, and for a POST
/// its body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamRequest {
    pub api: Api,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// A POST's body and its media type; `None` for a GET.
    pub body: Option<PostBody>,
    /// Extra request headers (an adapter's `Accept`, say); never the key, which the client adds.
    pub headers: Vec<(String, String)>,
    /// Validators of a copy the gateway holds: sent as `If-None-Match` / `If-Modified-Since`, so
    /// an unchanged document comes back as an empty 304.
    pub validators: Validators,
}

/// The body of a POST and its media type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PostBody {
    pub content_type: String,
    pub bytes: Bytes,
}

/// The validators of a stored upstream document (`ETag`, `Last-Modified`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl UpstreamRequest {
    pub fn new(api: Api, path: impl Into<String>) -> Self {
        UpstreamRequest {
            api,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            validators: Validators::default(),
        }
    }

    /// Makes the request a POST of `bytes` (of media type `content_type`). A POST is never
    /// retried: the upstream may have acted on it.
    pub fn post(mut self, content_type: impl Into<String>, bytes: Bytes) -> Self {
        self.body = Some(PostBody {
            content_type: content_type.into(),
            bytes,
        });
        self
    }

    /// Makes the request conditional on the copy described by `validators`.
    pub fn if_changed(mut self, validators: Validators) -> Self {
        self.validators = validators;
        self
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a query parameter when there is a value.
    pub fn param_opt<V: ToString>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// A stable identity of the request, used as its cache key. Keys and values are encoded, so
    /// a value holding `&` or `=` cannot alias another query.
    pub fn cache_key(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        if !self.headers.is_empty() {
            let headers = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.headers)
                .finish();
            query = format!("{query} [{headers}]");
        }
        match &self.body {
            None => format!("{:?} {}?{query}", self.api, self.path),
            Some(b) => {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(&b.bytes));
                format!(
                    "{:?} POST {}?{query} {} {digest}",
                    self.api, self.path, b.content_type
                )
            }
        }
    }
}

/// A successful (2xx, or 304 to a conditional request) upstream answer.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    /// The answer's own validators, to make the next request for it conditional.
    pub validators: Validators,
}

impl UpstreamResponse {
    /// The upstream said the copy the request described is still current (304).
    pub fn not_modified(&self) -> bool {
        self.status == 304
    }
}

#[derive(Clone)]
pub struct UpstreamClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<header::HeaderValue>,
    timeout: Duration,
    retries: u32,
    /// The longest pause an upstream 429's Retry-After imposes, in seconds.
    max_pause_s: u64,
    backoff: Duration,
    quotas: Quotas,
    in_flight: Semaphore,
    health: std::sync::Mutex<std::collections::BTreeMap<Api, ApiHealth>>,
}

/// What is known of one upstream API from the gateway's own calls.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApiHealth {
    pub calls: u64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

enum Attempt {
    Done(UpstreamResponse),
    Retry(UpstreamError),
    Fail(UpstreamError),
}

impl UpstreamClient {
    /// The client of `config`; in cluster mode (`shared`) its quotas and pauses are the
    /// replicas' together.
    pub fn new(
        config: &UpstreamConfig,
        shared: Option<crate::cluster::Cluster>,
    ) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let http = reqwest::Client::builder()
            .user_agent(concat!("geopf-gateway/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .build()?;
        let api_key = (!config.api_key.is_empty())
            .then(|| header::HeaderValue::from_str(&config.api_key).ok())
            .flatten()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        let quotas = Quotas::new(
            Api::ALL.into_iter().map(|api| {
                let rate = config.quotas.get(api.config_name()).copied().unwrap_or(0);
                (api, rate)
            }),
            Duration::from_millis(config.queue_timeout_ms),
            shared,
        );
        Ok(UpstreamClient {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                api_key,
                timeout,
                retries: config.retries,
                max_pause_s: config.max_pause_s.max(1),
                backoff: Duration::from_millis(config.retry_backoff_ms),
                quotas,
                in_flight: Semaphore::new(config.max_concurrency),
                health: Default::default(),
            }),
        })
    }

    /// Sends a GET, waiting for the API's quota, retrying transient failures with jittered
    /// exponential backoff. Non-2xx answers become errors carrying the upstream's own message.
    pub async fn get(&self, request: &UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let inner = &self.inner;
        let bytes = self.url_len(request);
        if bytes > MAX_URL_BYTES {
            return Err(UpstreamError::TooLong {
                api: request.api,
                bytes,
                max: MAX_URL_BYTES,
            });
        }
        let mut attempt = 0;
        let api = request.api.config_name();
        loop {
            let waited = std::time::Instant::now();
            let acquired = inner.quotas.acquire(request.api).await;
            metrics::histogram!("geopf_upstream_quota_wait_seconds", "api" => api)
                .record(waited.elapsed().as_secs_f64());
            if let Err(e) = acquired {
                metrics::counter!("geopf_upstream_requests_total", "api" => api, "outcome" => outcome_of(&e)).increment(1);
                return Err(e);
            }
            let outcome =
                {
                    let _permit = inner.in_flight.acquire().await.map_err(|_| {
                        UpstreamError::Unreachable {
                            api: request.api,
                            reason: "the gateway is shutting down".into(),
                        }
                    })?;
                    self.attempt(request).await
                };
            let label = match &outcome {
                Attempt::Done(_) => "ok",
                Attempt::Fail(e) | Attempt::Retry(e) => outcome_of(e),
            };
            metrics::counter!("geopf_upstream_requests_total", "api" => api, "outcome" => label)
                .increment(1);
            self.record(request.api, &outcome);
            match outcome {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry(error) if attempt >= inner.retries || request.body.is_some() => {
                    return Err(error)
                }
                Attempt::Retry(error) => {
                    let base = inner.backoff.saturating_mul(1 << attempt.min(16));
                    let delay = base.mul_f64(0.5 + fastrand::f64());
                    tracing::warn!(api = %request.api, path = %request.path, attempt, ?delay, %error, "upstream retry");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The length of the URL `request` would be sent to.
    fn url_len(&self, request: &UpstreamRequest) -> usize {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&request.query)
            .finish();
        self.inner.base_url.len() + request.path.len() + 1 + query.len()
    }

    fn record(&self, api: Api, outcome: &Attempt) {
        let mut health = self.inner.health.lock().unwrap_or_else(|e| e.into_inner());
        let h = health.entry(api).or_default();
        h.calls += 1;
        match outcome {
            Attempt::Done(_) => h.last_success = Some(crate::rfc3339::now()),
            Attempt::Fail(e) | Attempt::Retry(e) => {
                h.last_error = Some(e.to_string());
                h.last_error_at = Some(crate::rfc3339::now());
            }
        }
    }

    /// The upstream base URL (for rewriting the upstream's own links in documents the gateway
    /// republishes).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Per API called so far: calls, last success, last error.
    pub fn health(&self) -> Vec<(Api, ApiHealth)> {
        let health = self.inner.health.lock().unwrap_or_else(|e| e.into_inner());
        health.iter().map(|(a, h)| (*a, h.clone())).collect()
    }

    /// Seconds left of the pause an upstream 429 imposed on `api`, if any.
    pub fn paused_for(&self, api: Api) -> Option<u64> {
        self.inner
            .quotas
            .pause_left(api)
            .map(|d| d.as_secs_f64().ceil() as u64)
    }

    async fn attempt(&self, request: &UpstreamRequest) -> Attempt {
        let inner = &self.inner;
        let api = request.api;
        let url = format!("{}{}", inner.base_url, request.path);
        let mut builder = match &request.body {
            None => inner.http.get(&url),
            Some(b) => inner
                .http
                .post(&url)
                .header(header::CONTENT_TYPE, b.content_type.as_str())
                .body(b.bytes.clone()),
        }
        .query(&request.query);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(key) = &inner.api_key {
            builder = builder.header("X-Key", key.clone());
        }
        if let Some(id) = super::RequestContext::current().request_id {
            builder = builder.header("X-Request-Id", id);
        }
        if let Some(etag) = &request.validators.etag {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &request.validators.last_modified {
            builder = builder.header(header::IF_MODIFIED_SINCE, date);
        }
        let started = std::time::Instant::now();
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return self.transport_error(api, e),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text_header = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: text_header(header::ETAG),
            last_modified: text_header(header::LAST_MODIFIED),
        };
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = match read_bounded(response, MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return Attempt::Fail(UpstreamError::BadBody {
                    api,
                    reason: format!(
                        "the answer is larger than the {} MiB this gateway reads",
                        MAX_BODY_BYTES >> 20
                    ),
                })
            }
            Err(BodyError::Read(e)) if e.is_timeout() => return Attempt::Fail(self.timeout(api)),
            Err(BodyError::Read(e)) => {
                return Attempt::Retry(UpstreamError::BadBody {
                    api,
                    reason: format!("the body was cut short ({})", chain(&e)),
                })
            }
        };
        tracing::debug!(%api, path = %request.path, status = status.as_u16(), bytes = body.len(), elapsed_ms = started.elapsed().as_millis() as u64, "upstream");
        let conditional =
            request.validators.etag.is_some() || request.validators.last_modified.is_some();
        if status.is_success() || (status == StatusCode::NOT_MODIFIED && conditional) {
            return Attempt::Done(UpstreamResponse {
                status: status.as_u16(),
                content_type,
                body,
                validators,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            // A day-long Retry-After must not stop an API for a day: the pause is capped, and
            // the next request after it finds out whether the limit still holds.
            let retry_after_s = retry_after.unwrap_or(5).clamp(1, inner.max_pause_s);
            inner
                .quotas
                .pause(api, Duration::from_secs(retry_after_s))
                .await;
            metrics::counter!("geopf_upstream_429_total", "api" => api.config_name()).increment(1);
            tracing::warn!(%api, retry_after_s, "upstream rate limit: pausing this API");
            return Attempt::Fail(UpstreamError::RateLimited { api, retry_after_s });
        }
        let error = UpstreamError::Status {
            api,
            status: status.as_u16(),
            message: upstream_message(&body),
        };
        match status.as_u16() {
            502..=504 => Attempt::Retry(error),
            _ => Attempt::Fail(error),
        }
    }

    fn transport_error(&self, api: Api, e: reqwest::Error) -> Attempt {
        if e.is_timeout() {
            return Attempt::Fail(self.timeout(api));
        }
        Attempt::Retry(UpstreamError::Unreachable {
            api,
            reason: chain(&e),
        })
    }

    fn timeout(&self, api: Api) -> UpstreamError {
        UpstreamError::Timeout {
            api,
            after: self.inner.timeout,
        }
    }
}

/// The metrics label of a failure.
fn outcome_of(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::Timeout { .. } => "timeout",
        UpstreamError::Unreachable { .. } => "unreachable",
        UpstreamError::Status { .. } => "status",
        UpstreamError::RateLimited { .. } => "rate_limited",
        UpstreamError::QueueFull { .. } => "queue_full",
        UpstreamError::BadBody { .. } => "bad_body",
        UpstreamError::TooLong { .. } => "too_long",
    }
}

/// The error and its causes on one line, without the URL (reqwest puts it in its message).
fn chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

/// The human message inside an upstream error body, whatever the API's error format:
/// geocoding `{message, detail[]}`, navigation `{error:{message}}`, altimetry
/// `{error:{description}}`, Kong `{message}`, OWS `<ExceptionText>`, or plain text.
pub fn upstream_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let error = value.get("error").unwrap_or(&value);
        let message = ["message", "description"]
            .iter()
            .find_map(|k| error.get(*k).and_then(|m| m.as_str()))
            .map(|m| m.trim().to_string());
        let detail = value.get("detail").and_then(|d| match d {
            serde_json::Value::Array(items) => Some(
                items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        });
        match (message, detail) {
            (Some(m), Some(d)) if !d.is_empty() => return format!("{m}: {d}"),
            (Some(m), _) => return m,
            (None, Some(d)) => return d,
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    // OWS (`<ows:ExceptionText>`) and WMS (`<ServiceException code="…">`) exception reports:
    // the text before the element's closing tag.
    for close in [
        "</ows:ExceptionText>",
        "</ExceptionText>",
        "</ServiceException>",
    ] {
        if let Some(end) = text.find(close) {
            let before = &text[..end];
            let start = before.rfind('>').map_or(0, |i| i + 1);
            return before[start..].trim().to_string();
        }
    }
    let plain: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    plain.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_do_not_alias() {
        let one =
            UpstreamRequest::new(Api::WmsRaster, "/wms-r").param("STYLES", "&TRANSPARENT=TRUE");
        let two = UpstreamRequest::new(Api::WmsRaster, "/wms-r")
            .param("STYLES", "")
            .param("TRANSPARENT", "TRUE");
        assert_ne!(one.cache_key(), two.cache_key());
    }

    #[test]
    fn messages_of_every_upstream_error_format() {
        assert_eq!(
            upstream_message(
                br#"{"code":400,"message":"Failed parsing query","detail":["q: required param"]}"#
            ),
            "Failed parsing query: q: required param"
        );
        assert_eq!(
            upstream_message(
                br#"{"error":{"errorType":"parameter","message":"Parameter 'start' is invalid"}}"#
            ),
            "Parameter 'start' is invalid"
        );
        assert_eq!(
            upstream_message(br#"{"error":{"code":"BAD_PARAMETER","description":"too many"}}"#),
            "too many"
        );
        assert_eq!(
            upstream_message(b"<ows:ExceptionReport><ows:Exception><ows:ExceptionText>Could not find type: x</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"),
            "Could not find type: x"
        );
        assert_eq!(
            upstream_message(br#"<?xml version="1.0"?><ServiceExceptionReport version="1.3.0"><ServiceException code="LayerNotDefined">Layer X unknown</ServiceException></ServiceExceptionReport>"#),
            "Layer X unknown"
        );
        assert_eq!(
            upstream_message(b"<html> 502  Bad </html>"),
            "<html> 502 Bad </html>"
        );
    }
}
