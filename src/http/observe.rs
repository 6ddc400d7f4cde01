//! Observability: Prometheus metrics (`/metrics`) for requests, upstream calls, quota waits, cache
//! and jobs; request logs without secrets.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// The process-wide recorder (installed once, shared by every app in a process).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then this handle renders nothing new.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts and times every request by route template, method and status.
/// The answer carries its route (for the fast path's kept answers).
pub async fn track(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched
        .as_ref()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    let status = response.status().as_u16().to_string();
    metrics::counter!("geopf_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("geopf_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics_handler(State(state): State<AppState>) -> Response {
    metrics::gauge!("geopf_cache_memory_bytes", "cache" => "answers")
        .set(state.cache.weighted_size() as f64);
    metrics::gauge!("geopf_cache_memory_bytes", "cache" => "images")
        .set(state.basemaps.memory_bytes() as f64);
    metrics::gauge!("geopf_cache_disk_bytes").set(state.basemaps.disk_bytes() as f64);
    for (status, n) in state.jobs.counts() {
        metrics::gauge!("geopf_jobs", "state" => status.as_str()).set(n as f64);
    }
    let mut response = recorder().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The request URI as logged: the `token` parameter masked.
pub fn loggable_uri(uri: &axum::http::Uri) -> String {
    let (clean, token) = crate::http::auth::strip_token(uri);
    match token {
        Some(_) => format!("{clean} (token=***)"),
        None => clean.to_string(),
    }
}
