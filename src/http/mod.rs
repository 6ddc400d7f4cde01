//! The HTTP edge: the router and its middleware (tracing, request ids, CORS, compression, body
//! limit, panics caught as problem+json, OPTIONS answered, unknown paths as 404 problems).

pub mod auth;
pub mod base_url;
pub mod limits;
pub mod negotiate;
pub mod observe;
pub mod server;

use std::{any::Any, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, Any as AnyOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{config::ServerConfig, error::ApiError, ogcapi, AppState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every route and every layer.
pub fn router(state: AppState) -> Router {
    let server = state.config.server.clone();
    let keys = state.keys.clone();
    let state_log_requests = state.config.log.requests;
    // Whole requests of the API are bounded in time (a slow synchronous run answers 408); the map
    // routes are bounded by the upstream client's timeouts instead.
    let api = ogcapi::routes().route_layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(server.request_timeout_s),
    ));
    // Documents are compressed; tiles (images) skip the compression layer. Bare error answers
    // become problem+json before compression.
    let documents = api
        .merge(ogcapi::map_routes())
        .route("/metrics", axum::routing::get(observe::metrics_handler))
        .layer(middleware::from_fn(limits::problem_bodies))
        .layer(CompressionLayer::new());
    let tiles = ogcapi::tile_routes().layer(middleware::from_fn(limits::problem_bodies));
    let routes = documents
        .merge(tiles)
        .route_layer(middleware::from_fn(observe::track))
        .fallback(|| async {
            ApiError::not_found(
                "no such path on this gateway; the landing page / lists what there is",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::method_not_allowed("this path does not take that method")
        })
        .with_state(state)
        .layer(middleware::from_fn_with_state(keys, auth::authenticate));
    let access_log = if state_log_requests {
        Level::INFO
    } else {
        Level::DEBUG
    };
    with_layers(routes, &server, access_log)
}

/// Wraps routes in the gateway's outer middleware stack (CORS, OPTIONS, URI limit, panics, tracing,
/// request ids); answered requests are logged at `access_log`.
pub fn with_layers(routes: Router, server: &ServerConfig, access_log: Level) -> Router {
    let max_uri = server.max_uri_bytes;
    let max_body = server.body_limit_mb.saturating_mul(1024 * 1024);
    routes
        .layer(DefaultBodyLimit::max(
            usize::try_from(max_body).unwrap_or(usize::MAX),
        ))
        .layer(middleware::from_fn(move |req, next| {
            limits::limit_declared_body(max_body, req, next)
        }))
        .layer(cors(server))
        .layer(middleware::from_fn(answer_options))
        .layer(middleware::from_fn(move |req, next| limits::limit_uri(max_uri, req, next)))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // A span's fields are formatted when it opens: without an access log, the
                    // span is a debug one too.
                    if access_log == Level::INFO {
                        tracing::info_span!("request", method = %req.method(), uri = %observe::loggable_uri(req.uri()), id)
                    } else {
                        tracing::debug_span!("request", method = %req.method(), uri = %observe::loggable_uri(req.uri()), id)
                    }
                })
                .on_response(DefaultOnResponse::new().level(access_log)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("x-key"),
            header::COOKIE,
        ]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, FastRequestId))
}

/// Request ids in the UUID v4 format from a per-thread generator: unique enough to follow a
/// request through the logs and the upstream, without a `getrandom` system call per request.
#[derive(Clone, Copy)]
struct FastRequestId;

impl MakeRequestId for FastRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
        HeaderValue::from_str(&id.to_string())
            .ok()
            .map(RequestId::new)
    }
}

fn cors(server: &ServerConfig) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::ACCEPT,
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("prefer"),
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("cache-status"),
        ]);
    if server.cors_origins.iter().any(|o| o == "*") {
        layer.allow_origin(AnyOrigin)
    } else {
        let origins: Vec<HeaderValue> = server
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(origins))
    }
}

/// QGIS sends `OPTIONS …/items` to learn what a collection allows: answer with `Allow`.
/// (CORS preflights, which carry `Access-Control-Request-Method`, are left to the CORS layer.)
async fn answer_options(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS
        && !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let allow =
            if request.uri().path().ends_with("/execution") || request.uri().path() == "/jobs" {
                "GET, HEAD, POST, OPTIONS"
            } else {
                "GET, HEAD, OPTIONS"
            };
        return (StatusCode::NO_CONTENT, [(header::ALLOW, allow)]).into_response();
    }
    next.run(request).await
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %what, "a handler panicked");
    ApiError::internal(
        "the gateway hit an internal error while answering; it keeps serving. Please report it.",
    )
    .into_response()
}
