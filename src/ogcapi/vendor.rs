//! Third-party files the gateway's pages use, embedded in the binary and served by it (no CDN: the
//! kiosk works offline and on a network that reaches only the gateway): Leaflet for the pannable
//! map of a layer's page (`assets/vendor/leaflet`, with its licence and provenance).

use axum::{
    extract::Path,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.js"),
    ),
    (
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.css"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/LICENSE"),
    ),
];

/// `GET /assets/leaflet/{file}`.
pub async fn leaflet(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::not_found(format!("no asset {file:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The version is in the binary: a day is safe, and a new gateway brings its own.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        *body,
    )
        .into_response())
}
