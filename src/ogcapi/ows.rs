//! What the republished OGC services (`/wmts`, `/wms`) share: case-insensitive KVP parameters,
//! XML documents, and images with validators (`ETag`, 304, `Cache-Control`, stale warnings).

use std::borrow::Cow;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use super::html::with_cache_status;
use crate::{cache::CacheStatus, error::ApiError, services::images::Tile};

/// KVP query parameters, keys in upper case (OGC keys are case-insensitive); `token` (the
/// gateway's own access key) is left out, it is never sent upstream. Borrowed from the query
/// where it needs no decoding (a tile request's usual case: nothing allocated but the list).
pub struct Kvp<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Kvp<'a> {
    pub fn parse(raw: Option<&'a str>) -> Self {
        let upper = |k: Cow<'a, str>| match k.bytes().any(|b| b.is_ascii_lowercase()) {
            true => Cow::Owned(k.to_ascii_uppercase()),
            false => k,
        };
        Kvp(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (upper(k), v))
                .collect(),
        )
    }

    /// The parameters, owned.
    pub fn into_owned(self) -> Vec<(String, String)> {
        self.0
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The value of `key` (upper case), or "".
    pub fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v)
    }

    /// `key` as a whole number, or a 400 naming it.
    pub fn number(&self, key: &str) -> Result<u64, ApiError> {
        self.get(key).parse().map_err(|_| {
            ApiError::bad_parameter(key, format!("{:?} is not a whole number", self.get(key)))
        })
    }
}

/// An XML document (capabilities).
pub fn xml(body: impl Into<axum::body::Body>) -> Response {
    let mut r = body.into().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// A 503 while a capabilities document has not loaded yet.
pub fn not_loaded(what: &str) -> ApiError {
    ApiError::from_status(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the {what} capabilities have not loaded yet; retry shortly"),
    )
}

/// An image (tile or map) with its `ETag` and `Cache-Control`; a 304 when the client's
/// `If-None-Match` names it; `Warning: 110` and a stale `Cache-Status` when it is served past its
/// time to live because the upstream failed.
pub fn image(headers: &HeaderMap, image: &Tile, status: CacheStatus, stale: bool) -> Response {
    let etag = image.etag.clone();
    let cache_control = HeaderValue::from_static("public, max-age=86400");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == image.etag)
    {
        let r = (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)],
        )
            .into_response();
        return with_cache_status(r, Some(status));
    }
    let media = image.content_type.clone();
    let mut r = (
        [
            (header::CONTENT_TYPE, media),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
        ],
        image.body.clone(),
    )
        .into_response();
    if stale {
        let h = r.headers_mut();
        h.insert(
            header::WARNING,
            HeaderValue::from_static("110 geopf-gateway \"Response is Stale\""),
        );
        h.insert(
            "cache-status",
            HeaderValue::from_static("geopf-gateway; hit; detail=stale-if-error"),
        );
        return r;
    }
    with_cache_status(r, Some(status))
}
