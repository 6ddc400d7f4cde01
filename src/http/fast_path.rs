//! The fast path: a request whose answer is already in memory — a cached tile
//! ([`super::fast_tiles`]) or a rendered answer kept for a few seconds
//! ([`super::fast_documents`]) — is answered here, before the router and its dozen middleware
//! layers. It keeps what those layers give such an answer: the `Host` check (no DNS rebinding),
//! the request id, the metrics (under the full path's route labels) and the access log. Anything
//! else goes the full way, unchanged: a HEAD or a POST, a refused `Host`, a miss; and everything
//! on a gateway with access keys (their check, budgets and per-key metrics stay on the full path)
//! or in demo mode (its labels are on the full path).

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{header, Method, Request, Response, StatusCode},
};
use metrics::Counter;

use super::{
    access_log::AccessLog,
    fast_documents::{self, DocumentCache, DocumentKey},
    fast_tiles::FastTiles,
    origin::AllowedHosts,
    REQUEST_ID,
};
use crate::AppState;

/// What the fast path needs of the gateway.
pub struct FastPath {
    allowed_hosts: AllowedHosts,
    access_log: AccessLog,
    tiles: FastTiles,
    documents: Option<DocumentCache>,
    tiles_answered: Counter,
    documents_answered: Counter,
}

/// What the fast path did with a request.
pub enum Outcome {
    /// Answered.
    Answered(Response<Body>),
    /// The full path answers; its answer may be kept under this key.
    Full(Option<DocumentKey>),
}

impl FastPath {
    /// The fast path of `state`, if it has one (see the module's doc).
    pub fn new(state: &AppState) -> Option<Self> {
        (state.keys.is_open() && !state.config.server.demo).then(|| FastPath {
            allowed_hosts: AllowedHosts::from_config(&state.config.server),
            access_log: AccessLog::new(&state.config.log),
            tiles: FastTiles::new(state),
            documents: DocumentCache::new(state),
            tiles_answered: metrics::counter!("geopf_http_fast_answers_total", "kind" => "tile"),
            documents_answered: metrics::counter!("geopf_http_fast_answers_total", "kind" => "document"),
        })
    }

    /// Answers `request` if its answer is in memory.
    pub async fn answer<B>(&self, request: &Request<B>) -> Outcome {
        let started = Instant::now();
        if request.method() != Method::GET {
            return Outcome::Full(None);
        }
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if !host.is_some_and(|h| self.allowed_hosts.allows(h)) {
            return Outcome::Full(None);
        }
        let id = || {
            request
                .headers()
                .get(REQUEST_ID)
                .cloned()
                .unwrap_or_else(super::new_request_id)
        };
        // Tiles first: they are the many; their paths are never kept as documents.
        if let Some(tile) = self.tiles.answer(request, &id).await {
            let took = started.elapsed();
            tile.requests.increment(1);
            tile.duration.record(took.as_secs_f64());
            self.tiles_answered.increment(1);
            self.log(request, &tile.response, took);
            return Outcome::Answered(tile.response);
        }
        let Some(documents) = &self.documents else {
            return Outcome::Full(None);
        };
        let Some(key) = documents.key(request) else {
            return Outcome::Full(None);
        };
        let Some(document) = documents.get(&key) else {
            return Outcome::Full(Some(key));
        };
        let response = fast_documents::response(&document, id());
        let took = started.elapsed();
        document.requests.increment(1);
        document.duration.record(took.as_secs_f64());
        self.documents_answered.increment(1);
        self.log(request, &response, took);
        Outcome::Answered(response)
    }

    /// The full path's `response`, kept under `key` if it may be.
    pub async fn keep(&self, key: DocumentKey, response: Response<Body>) -> Response<Body> {
        match &self.documents {
            Some(documents) => documents.keep(key, response).await,
            None => response,
        }
    }

    /// The access line. No token in the URI: the fast path takes none.
    fn log<B>(&self, request: &Request<B>, response: &Response<Body>, took: Duration) {
        let id = response
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let status: StatusCode = response.status();
        let uri = request.uri();
        // A request's URI is its path and query but for a proxy's absolute form.
        let text = match (uri.scheme(), uri.path_and_query()) {
            (None, Some(p)) => std::borrow::Cow::Borrowed(p.as_str()),
            _ => std::borrow::Cow::Owned(uri.to_string()),
        };
        self.access_log.write(&Method::GET, &text, id, status, took);
    }
}
