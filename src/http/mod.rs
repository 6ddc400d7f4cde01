//! The HTTP edge: the router and its middleware (tracing, request ids, CORS, compression, body
//! limit, panics caught as problem+json, OPTIONS answered, unknown paths as 404 problems).

pub mod access_log;
pub mod auth;
pub mod base_url;
pub mod fast_documents;
pub mod fast_path;
pub mod fast_tiles;
pub mod limits;
pub mod negotiate;
pub mod observe;
pub mod origin;
pub mod server;
pub mod threads;

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
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use self::access_log::AccessLog;
use crate::{config::ServerConfig, error::ApiError, ogcapi, AppState};

/// The request id header, set or kept on every answer.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header saying where an answer came from (RFC 9211).
pub(crate) const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

/// The whole application: every route and every layer.
pub fn router(state: AppState) -> Router {
    let server = state.config.server.clone();
    let keys = state.keys.clone();
    // Whole requests of the API are bounded in time (a slow synchronous run answers 408); the map
    // routes are bounded by the upstream client's timeouts instead.
    // Public map data may be read by any web page; the rest only from the configured origins.
    let api = ogcapi::routes()
        .route("/metrics", axum::routing::get(observe::metrics_handler))
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(server.request_timeout_s),
        ))
        .layer(origin::cors_private(&server));
    // Documents are compressed; tiles (images) skip the compression layer. Bare error answers
    // become problem+json before compression.
    // Documents depend on Accept (JSON or HTML) and, behind trusted proxies, on the forwarded
    // headers their links are built from: shared caches must keep them apart.
    let vary = documents_vary(&state);
    let documents = api
        .merge(ogcapi::public_routes().layer(origin::cors_public()))
        .layer(middleware::map_response(
            move |mut r: Response| async move {
                r.headers_mut()
                    .append(header::VARY, HeaderValue::from_static(vary));
                r
            },
        ))
        .layer(middleware::from_fn(limits::problem_bodies));
    let documents = if state.config.server.demo {
        documents.layer(middleware::from_fn(crate::demo::banner))
    } else {
        documents
    }
    .layer(CompressionLayer::new());
    let tiles = ogcapi::tile_routes()
        .layer(origin::cors_public())
        .layer(middleware::from_fn(limits::problem_bodies));
    let routes = documents
        .merge(tiles)
        .route_layer(middleware::from_fn(observe::track))
        .fallback(|| async {
            ApiError::not_found(
                "no such path on this gateway; the landing page / lists what there is",
            )
        })
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(keys, auth::authenticate));
    let routes = if state.config.server.demo {
        routes.layer(middleware::from_fn(crate::demo::warn))
    } else {
        routes
    };
    with_layers(routes, &server, AccessLog::new(&state.config.log))
}

/// The `Vary` of documents: they depend on `Accept` (JSON or HTML) and, behind trusted proxies, on
/// the forwarded headers their links are built from, which shared caches must keep apart.
pub(crate) fn documents_vary(state: &AppState) -> &'static str {
    if !state.trusted_proxies.is_empty() && state.config.server.public_url.is_empty() {
        "accept, x-forwarded-proto, x-forwarded-host, x-forwarded-prefix"
    } else {
        "accept"
    }
}

/// Wraps routes in the gateway's outer middleware stack (CORS, OPTIONS, URI limit, panics, tracing,
/// request ids); answered requests are written to `access_log`.
pub fn with_layers(routes: Router, server: &ServerConfig, access_log: AccessLog) -> Router {
    let max_uri = server.max_uri_bytes;
    let allowed_hosts = origin::AllowedHosts::from_config(server);
    let max_body = server.body_limit_mb.saturating_mul(1024 * 1024);
    // A router's layers wrap each of its routes; `answer_options` must wrap the router as a whole
    // (it reads the `Allow` the router sets last), hence the router as the fallback of another.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(answer_options))
        .layer(DefaultBodyLimit::max(
            usize::try_from(max_body).unwrap_or(usize::MAX),
        ))
        .layer(middleware::from_fn(move |req, next| {
            limits::limit_declared_body(max_body, req, next)
        }))
        .layer(middleware::from_fn(move |req, next| limits::limit_uri(max_uri, req, next)))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(move |req, next| {
            origin::check_host(allowed_hosts.clone(), req, next)
        }))
        // The span gives what is logged while a request is served (an upstream failure) its
        // request: the method, the URI without its token, the request id.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), uri = %observe::loggable_uri(req.uri()), id)
                })
                .on_request(())
                .on_response(())
                .on_failure(()),
        )
        .layer(middleware::from_fn(move |req, next| {
            log_access(access_log, req, next)
        }))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("x-key"),
            header::COOKIE,
        ]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, FastRequestId))
}

/// Writes the access line of a request once its answer is ready.
async fn log_access(log: AccessLog, request: Request, next: Next) -> Response {
    if !log.is_on() {
        return next.run(request).await;
    }
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let uri = observe::loggable_uri(request.uri());
    let id = request.headers().get(REQUEST_ID).cloned();
    let response = next.run(request).await;
    let id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
    log.write(&method, &uri, id, response.status(), started.elapsed());
    response
}

/// Request ids in the UUID v4 format from a per-thread generator: unique enough to follow a
/// request through the logs and the upstream, without a `getrandom` system call per request.
#[derive(Clone, Copy)]
struct FastRequestId;

impl MakeRequestId for FastRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        Some(RequestId::new(new_request_id()))
    }
}

/// A new request id (see [`FastRequestId`]).
pub(crate) fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or(HeaderValue::from_static("-"))
}

/// The method of a plain `OPTIONS` once [`answer_options`] has turned it into a question to the
/// router: no route takes it, so the router answers 405 with the path's `Allow`.
pub const ALLOW_PROBE: &str = "X-GEOPF-ALLOW";

/// QGIS sends `OPTIONS …/items` to learn what a collection allows: answer 204 with the `Allow`
/// the router itself gives (its 405 lists the methods of a path); an unknown path stays a 404.
/// (CORS preflights, which carry `Access-Control-Request-Method`, are left to the CORS layers,
/// which answer every `OPTIONS` they see — hence the probe method.)
async fn answer_options(mut request: Request, next: Next) -> Response {
    let plain_options = request.method() == Method::OPTIONS
        && !request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if plain_options {
        if let Ok(probe) = Method::from_bytes(ALLOW_PROBE.as_bytes()) {
            *request.method_mut() = probe;
        }
    }
    let response = next.run(request).await;
    if !plain_options || response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|a| format!("{a},OPTIONS"))
        .and_then(|a| HeaderValue::from_str(&a).ok());
    match allow {
        Some(allow) => (StatusCode::NO_CONTENT, [(header::ALLOW, allow)]).into_response(),
        None => response,
    }
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
