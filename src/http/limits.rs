//! Request limits and the last word on errors: over-long URIs are refused (414), and any error
//! response that left an extractor or a layer without a problem body gets one.

use std::time::Duration;

use axum::{
    body::Body,
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use futures::StreamExt;

use crate::error::{ApiError, PROBLEM_JSON};

/// How long a refused body is still read (and thrown away) after the 413 is sent.
const LINGER: Duration = Duration::from_secs(5);

/// Refuses a body whose declared `Content-Length` is over the limit before reading any of it: the
/// 413 goes out at once, rather than after megabytes that will be refused. The body is then read
/// and thrown away for at most [`LINGER`], so that a client still sending it is not cut off by a
/// reset before it reads the answer (what closing at once did); past that, the connection closes.
/// A client that asked `Expect: 100-continue` is answered without being told to send the body.
pub async fn limit_declared_body(max_bytes: u64, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len > max_bytes) {
        // A client that waits for `100 Continue` sends nothing more: reading would invite it to.
        let waits = request
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits {
            tokio::spawn(linger(request.into_body()));
        }
        return ApiError::from_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is {len} bytes, more than the {max_bytes} this gateway takes (server.body_limit_mb)"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Reads `body` to its end or for [`LINGER`], whichever comes first, keeping none of it.
async fn linger(body: Body) {
    let mut frames = body.into_data_stream();
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(_)) = frames.next().await {}
    })
    .await;
}

pub async fn limit_uri(max_bytes: usize, request: Request, next: Next) -> Response {
    let len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if len > max_bytes {
        return ApiError::from_status(
            StatusCode::URI_TOO_LONG,
            format!("the request URI is {len} bytes, more than the {max_bytes} this gateway takes (server.max_uri_bytes); POST an execute request instead"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Turns a bare error response (413 from the body limit, 408 from the timeout, a path rejection…)
/// into problem+json, keeping its status and headers.
pub async fn problem_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // Handlers' own answers (problem+json, or a JSON document such as /ready's) are left alone.
    let has_document = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || has_document {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            "this path does not take that method (the Allow header lists those it takes)".to_string()
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this gateway takes (server.body_limit_mb)".to_string(),
        StatusCode::REQUEST_TIMEOUT => {
            "the request took longer than server.request_timeout_s; long runs belong in jobs (Prefer: respond-async)".to_string()
        }
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(detail),
        _ => ApiError::from_status(status, detail),
    }
    .into_response();
    let mut out = Response::from_parts(parts, Body::empty());
    let (p_parts, p_body) = problem.into_parts();
    *out.body_mut() = p_body;
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        p_parts.headers[header::CONTENT_TYPE].clone(),
    );
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out
}
