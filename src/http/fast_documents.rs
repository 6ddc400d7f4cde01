//! Rendered answers kept for a few seconds: the second `GET /collections/addresses/items?q=…` of a
//! map client (or of a whole team behind one gateway) is the first one's bytes, served before the
//! router — no handler, no page built again from the cached upstream answer, no JSON written.
//!
//! What is kept: a `200` to a `GET` whose answer came from the answer cache (it has a
//! `Cache-Status`, never a stale one), a document (JSON, XML, HTML, text) of at most
//! [`MAX_BODY`] bytes (compressed or not), for [`crate::config::CacheConfig::documents_s`]
//! seconds, never more than the shortest `cache.ttl.*` (the answer itself is kept its
//! `cache.ttl.*`; this adds at most those seconds to its age). The key is everything an answer
//! depends on: the path and query, and the request headers its answer varies on — `Host` (its
//! links), `Accept` (JSON or HTML), `Accept-Encoding` (gzip or not), `Origin` (CORS). A request
//! with credentials, a condition or a range, and a gateway with access keys, behind trusted
//! proxies or in demo mode, go the full way (see [`DocumentCache::new`]).

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::MatchedPath,
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, Response},
};
use metrics::{Counter, Histogram};
use moka::sync::Cache;

use super::{CACHE_STATUS, REQUEST_ID};
use crate::{cache::CacheStatus, AppState};

/// The largest body kept.
pub const MAX_BODY: usize = 1 << 20;

/// The request headers that make an answer personal (credentials, cookies) or partial
/// (conditions, ranges): such a request always goes the full way.
const REFUSED: [HeaderName; 9] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    HeaderName::from_static("x-key"),
];

/// Whether a query has `token` in it, in any case: the full path takes it out of what it logs
/// and sends.
fn mentions_token(query: &str) -> bool {
    let q = query.as_bytes();
    memchr::memchr2_iter(b't', b'T', q).any(|at| {
        q.get(at..at + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"token"))
    })
}

/// A kept answer: its headers (without a request id), its body, and its route's metrics.
pub struct Document {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub requests: Counter,
    pub duration: Histogram,
}

/// The rendered answers of a gateway.
pub struct DocumentCache {
    /// Keys hashed with aHash, as the memory cache's ([`crate::cache::MemoryCache`]).
    documents: Cache<String, Arc<Document>, ahash::RandomState>,
}

/// The key of a request whose answer may be kept, taken before the router has the request.
pub struct DocumentKey(String);

impl DocumentCache {
    /// The cache `state` asks for; none when it is off (`cache.documents_s = 0`) or when an
    /// answer depends on more than the request's URI and headers: per-key budgets and metrics
    /// (access keys), the peer's address (trusted proxies, unless `server.public_url` is set).
    pub fn new(state: &AppState) -> Option<Self> {
        let cache = &state.config.cache;
        let proxied =
            !state.trusted_proxies.is_empty() && state.config.server.public_url.is_empty();
        if cache.documents_s == 0 || cache.documents_mb == 0 || !state.keys.is_open() || proxied {
            return None;
        }
        // Never longer than an answer of any kind is kept.
        let shortest_ttl = cache.ttl.values().copied().min().unwrap_or(u64::MAX);
        let lifetime = cache.documents_s.min(shortest_ttl).max(1);
        let documents = Cache::builder()
            .max_capacity(cache.documents_mb.saturating_mul(1024 * 1024))
            .weigher(|key: &String, d: &Arc<Document>| {
                u32::try_from(key.len() + d.body.len() + 512).unwrap_or(u32::MAX)
            })
            .time_to_live(Duration::from_secs(lifetime))
            .build_with_hasher(ahash::RandomState::new());
        Some(DocumentCache { documents })
    }

    /// The key of `request`, if its answer may be kept or served from here. One pass over the
    /// request's headers (measured: a third of the instructions of looking each name up).
    pub fn key<B>(&self, request: &Request<B>) -> Option<DocumentKey> {
        if request.method() != Method::GET {
            return None;
        }
        // Host, Accept, Accept-Encoding and Origin, in the key's order.
        let mut keyed: [Option<&str>; 4] = [None; 4];
        for (name, value) in request.headers() {
            let slot = if *name == header::HOST {
                0
            } else if *name == header::ACCEPT {
                1
            } else if *name == header::ACCEPT_ENCODING {
                2
            } else if *name == header::ORIGIN {
                3
            } else if REFUSED.contains(name) {
                return None;
            } else {
                continue;
            };
            // A header given twice is not worth the doubt.
            if keyed[slot].replace(value.to_str().ok()?).is_some() {
                return None;
            }
        }
        let uri = request.uri();
        let query = uri.query().unwrap_or("");
        if mentions_token(query) {
            return None;
        }
        let mut key = String::with_capacity(128);
        for value in keyed {
            key.push_str(value.unwrap_or(""));
            key.push('\n');
        }
        key.push_str(uri.path());
        key.push('?');
        key.push_str(query);
        Some(DocumentKey(key))
    }

    /// The kept answer to `key`, if any.
    pub fn get(&self, key: &DocumentKey) -> Option<Arc<Document>> {
        self.documents.get(&key.0)
    }

    /// `response` as it goes out, kept under `key` if it may be. Its body is read first (a
    /// rendered answer, compressed or not, is in memory already); one longer than [`MAX_BODY`]
    /// goes out as it came, unkept.
    pub async fn keep(&self, key: DocumentKey, response: Response<Body>) -> Response<Body> {
        if !may_keep(&response) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let body = match read_at_most(body, MAX_BODY).await {
            Read::Whole(body) => body,
            Read::Longer(body) => return Response::from_parts(parts, body),
        };
        if let Some(route) = parts.extensions.get::<MatchedPath>() {
            let route = route.as_str().to_string();
            let mut headers = parts.headers.clone();
            // A blank for each answer's own id, filled in place ([`response`]).
            headers.insert(REQUEST_ID, HeaderValue::from_static(""));
            headers.insert(
                CACHE_STATUS,
                HeaderValue::from_static(CacheStatus::Hit.as_str()),
            );
            let document = Document {
                requests: metrics::counter!("geopf_http_requests_total", "route" => route.clone(), "method" => "GET", "status" => "200"),
                duration: metrics::histogram!("geopf_http_request_duration_seconds", "route" => route),
                headers,
                body: body.clone(),
            };
            self.documents.insert(key.0, Arc::new(document));
        }
        Response::from_parts(parts, Body::from(body))
    }
}

/// A `200` document (JSON, XML, HTML, text: images have caches and a fast path of their own) from
/// the answer cache, fresh, that may be shared.
fn may_keep(response: &Response<Body>) -> bool {
    let h = response.headers();
    let document = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/") || t.contains("json") || t.contains("xml"));
    document
        && response.status() == axum::http::StatusCode::OK
        && h.get(CACHE_STATUS)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.contains("stale"))
        && !h.contains_key(header::WARNING)
        && !h.contains_key(header::SET_COOKIE)
}

enum Read {
    Whole(Bytes),
    /// Longer than the bound, or failed: the body to send as it is (what was read, then the rest).
    Longer(Body),
}

/// Reads `body` whole if it has at most `max` bytes.
async fn read_at_most(body: Body, max: usize) -> Read {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                len += chunk.len();
                chunks.push(chunk);
                if len > max {
                    let head = futures::stream::iter(chunks.into_iter().map(Ok));
                    return Read::Longer(Body::from_stream(head.chain(stream)));
                }
            }
            Err(e) => {
                // The client gets what was read, then the failure.
                let head = futures::stream::iter(chunks.into_iter().map(Ok));
                let failed = futures::stream::once(async move { Err::<Bytes, _>(e) });
                return Read::Longer(Body::from_stream(head.chain(failed)));
            }
        }
    }
    if chunks.len() == 1 {
        return Read::Whole(chunks.swap_remove(0));
    }
    let mut whole = bytes::BytesMut::with_capacity(len);
    for chunk in chunks {
        whole.extend_from_slice(&chunk);
    }
    Read::Whole(whole.freeze())
}

/// The parts of a kept answer's response (headers cloned, body shared), with `id` in the blank
/// kept for it.
pub fn response(document: &Document, id: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::from(document.body.clone()));
    let headers = response.headers_mut();
    *headers = document.headers.clone();
    if let Some(blank) = headers.get_mut(REQUEST_ID) {
        *blank = id;
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_in_any_case_anywhere_in_the_query_is_seen() {
        for query in ["token=x", "a=1&TOKEN=x", "a=1&ToKeN", "q=tokens", "xtoken"] {
            assert!(super::mentions_token(query), "{query}");
        }
        for query in ["", "t", "toke", "q=tok&en=1", "layer=T0KEN"] {
            assert!(!super::mentions_token(query), "{query}");
        }
    }
}
