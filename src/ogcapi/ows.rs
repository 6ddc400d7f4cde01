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
    /// The parameters of a query, decoded as `application/x-www-form-urlencoded`
    /// (`url::form_urlencoded::parse`'s result). The `&`s and whether anything needs decoding
    /// are found with `memchr` (vector instructions); a part with nothing to decode is borrowed
    /// as it is. On a GetTile: a fifth of `form_urlencoded`'s instructions.
    pub fn parse(raw: Option<&'a str>) -> Self {
        let raw = raw.unwrap_or_default();
        let encoded = memchr::memchr2(b'%', b'+', raw.as_bytes()).is_some();
        let mut pairs = Vec::with_capacity(12);
        let mut start = 0;
        let ends = memchr::memchr_iter(b'&', raw.as_bytes()).chain([raw.len()]);
        for end in ends {
            let part = &raw[start..end];
            start = end + 1;
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.bytes().position(|b| b == b'=') {
                Some(equals) => (&part[..equals], &part[equals + 1..]),
                None => (part, ""),
            };
            let (k, v) = match encoded {
                true => (form_decoded(k), form_decoded(v)),
                false => (Cow::Borrowed(k), Cow::Borrowed(v)),
            };
            if k == "token" {
                continue;
            }
            let k = match k.bytes().any(|b| b.is_ascii_lowercase()) {
                true => Cow::Owned(k.to_ascii_uppercase()),
                false => k,
            };
            pairs.push((k, v));
        }
        Kvp(pairs)
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

/// A form-encoded text decoded: `+` a space, `%XX` a byte, invalid UTF-8 replaced.
fn form_decoded(part: &str) -> Cow<'_, str> {
    if !part.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(part);
    }
    let spaced = part.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters as `url::form_urlencoded` reads them (the reference).
    fn reference(raw: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(raw.as_bytes())
            .filter(|(k, _)| k != "token")
            .map(|(k, v)| (k.to_ascii_uppercase(), v.into_owned()))
            .collect()
    }

    #[test]
    fn kvp_reads_queries_as_form_urlencoded_does() {
        for raw in [
            "SERVICE=WMTS&REQUEST=GetTile&LAYER=A.B&FORMAT=image/png&TILEMATRIX=6",
            "layer=a%2Fb&style=x+y&&token=secret&Token=kept&=v&k=&k2&%zz=%e9&q=%C3%A9t%C3%A9",
            "",
            "&&",
            "a==b&c=d=e",
            "%74oken=x&%6Cayer=l&t%6Fken=y&LAYER%3Dx=z",
        ] {
            assert_eq!(Kvp::parse(Some(raw)).into_owned(), reference(raw), "{raw}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn kvp_agrees_with_form_urlencoded_on_any_query(raw in "[a-zA-Z0-9=&%+./é -]{0,40}") {
            proptest::prop_assert_eq!(Kvp::parse(Some(&raw)).into_owned(), reference(&raw));
        }
    }
}
