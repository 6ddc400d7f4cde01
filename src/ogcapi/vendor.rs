//! Third-party files the gateway's pages use, embedded in the binary and served by it (no CDN: the
//! kiosk works offline and on a network that reaches only the gateway): Leaflet for the pannable
//! map of a raster layer's page, MapLibre GL JS for a vector tile layer's (`assets/vendor/…`, each
//! with its licence and provenance).

use axum::{
    extract::Path,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// (library, file, media type, bytes).
const FILES: &[(&str, &str, &str, &[u8])] = &[
    (
        "leaflet",
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.js"),
    ),
    (
        "leaflet",
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.css"),
    ),
    (
        "leaflet",
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/LICENSE"),
    ),
    (
        "maplibre",
        "maplibre-gl.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre/maplibre-gl.js"),
    ),
    (
        "maplibre",
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre/maplibre-gl.css"),
    ),
    (
        "maplibre",
        "LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/maplibre/LICENSE.txt"),
    ),
];

/// `GET /assets/{library}/{file}`.
pub async fn asset(Path((library, file)): Path<(String, String)>) -> Result<Response, ApiError> {
    let (_, _, content_type, body) = FILES
        .iter()
        .find(|(lib, name, _, _)| *lib == library && *name == file)
        .ok_or_else(|| ApiError::not_found(format!("no asset {library}/{file}")))?;
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
