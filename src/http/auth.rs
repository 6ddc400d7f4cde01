//! Access keys: when any is configured, every route but `/health` and `/ready` needs one
//! (`Authorization: Bearer …` or `?token=…`), compared in constant time, each with its own request
//! budget. The `token` query parameter is removed before anything else sees the request.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    clock::{Clock, DefaultClock},
    DefaultDirectRateLimiter, Quota, RateLimiter,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    cluster::{rate::Rate, Cluster},
    config::AuthConfig,
    error::ApiError,
    upstream::RequestContext,
};

struct Key {
    name: Arc<str>,
    admin: bool,
    sha256: [u8; 32],
    limiter: DefaultDirectRateLimiter,
    /// The budget as the replicas share it (cluster mode).
    rate: Rate,
}

/// The configured keys; none means an open gateway.
pub struct Keys {
    keys: Vec<Key>,
    /// Cluster mode: the budgets are the replicas' together.
    shared: Option<Cluster>,
}

/// Who is calling (a request extension set once the key is checked).
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<str>);

/// The token a client gave in the query string: links written for it carry it too.
#[derive(Debug, Clone)]
pub struct LinkToken(pub String);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Keys {
    pub fn from_config(config: &AuthConfig) -> Self {
        let keys = config
            .keys
            .iter()
            .filter_map(|k| {
                let sha256 = match (&k.token, &k.token_sha256) {
                    (Some(t), _) => digest(t),
                    (None, Some(h)) => hex::decode(h).ok()?.try_into().ok()?,
                    (None, None) => return None,
                };
                let rate = NonZeroU32::new(k.requests_per_second)?;
                let burst =
                    NonZeroU32::new(k.burst.unwrap_or(k.requests_per_second.saturating_mul(2)))
                        .unwrap_or(rate);
                Some(Key {
                    name: Arc::from(k.name.as_str()),
                    admin: k.admin,
                    sha256,
                    limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
                    rate: Rate {
                        interval: Duration::from_secs(1) / rate.get(),
                        burst: burst.get(),
                    },
                })
            })
            .collect();
        Keys { keys, shared: None }
    }

    /// Shares the keys' budgets with the other replicas through `cluster`.
    pub fn with_cluster(mut self, cluster: Option<Cluster>) -> Self {
        self.shared = cluster;
        self
    }

    /// Whether `key`'s budget has room for one more request: `Err` with the wait if not. The
    /// shared budget in cluster mode, this replica's while Redis is unavailable.
    async fn spend(&self, key: &Key) -> Result<(), Duration> {
        if let Some(cluster) = &self.shared {
            if let Some(answer) = cluster.allow(&format!("key:{}", key.name), key.rate).await {
                return answer;
            }
        }
        key.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose token this is; every key is compared, in constant time.
    fn find(&self, token: &str) -> Option<&Key> {
        let d = digest(token);
        let mut found = None;
        for k in &self.keys {
            if bool::from(k.sha256.ct_eq(&d)) {
                found = Some(k);
            }
        }
        found
    }
}

/// The URI without its `token` parameter, and that token.
pub fn strip_token(uri: &Uri) -> (Uri, Option<String>) {
    let Some(query) = uri.query() else {
        return (uri.clone(), None);
    };
    let mut token = None;
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter_map(|(k, v)| {
            // In any case: `TOKEN=` (OGC clients upper-case keys) is the same secret.
            if k.eq_ignore_ascii_case("token") {
                token = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if token.is_none() {
        return (uri.clone(), None);
    }
    let mut pq = uri.path().to_string();
    if !kept.is_empty() {
        pq.push('?');
        pq.push_str(&crate::ogcapi::links::encode_query(&kept));
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    (
        Uri::from_parts(parts).unwrap_or_else(|_| uri.clone()),
        token,
    )
}

fn unauthorized(detail: &str) -> Response {
    let mut response = ApiError::unauthorized(detail).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"geopf-gateway\""),
    );
    response
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_of(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

pub async fn authenticate(
    State(keys): State<Arc<Keys>>,
    mut request: Request,
    next: Next,
) -> Response {
    let (uri, query_token) = strip_token(request.uri());
    *request.uri_mut() = uri;
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !keys.is_open() && request.uri().path() == "/ready" {
        // Open to probes, but the details (upstream errors, pauses) only with a valid key.
        let token = bearer_of(&request).or(query_token.clone());
        if let Some(key) = token.as_deref().and_then(|t| keys.find(t)) {
            request.extensions_mut().insert(Caller(key.name.clone()));
        }
    }
    let path = request.uri().path();
    // OPTIONS never carries data: CORS preflights (which browsers send without credentials) and
    // QGIS's `Allow` queries are answered without a key.
    // The plugin repository too: QGIS's plugin manager sends no key, and the plugin holds none.
    if keys.is_open()
        || path == "/health"
        || path == "/ready"
        || path.starts_with("/qgis/")
        || request.method() == axum::http::Method::OPTIONS
        || request.method().as_str() == crate::http::ALLOW_PROBE
    {
        let context = RequestContext {
            caller: Arc::from(""),
            admin: false,
            request_id,
        };
        return context.scope(next.run(request)).await;
    }
    let bearer = bearer_of(&request);
    let from_query = bearer.is_none() && query_token.is_some();
    let Some(token) = bearer.or(query_token) else {
        return unauthorized("this gateway needs an access key: send `Authorization: Bearer <token>` or add `?token=<token>`");
    };
    let Some(key) = keys.find(&token) else {
        return unauthorized("the access key is not valid");
    };
    if let Err(wait) = keys.spend(key).await {
        let mut err = ApiError::too_many_requests(format!(
            "the requests of key {:?} exceed its budget; retry in {} ms",
            key.name,
            wait.as_millis()
        ));
        err.retry_after_s = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        metrics::counter!("geopf_key_throttled_total", "key" => key.name.to_string()).increment(1);
        return err.into_response();
    }
    request.extensions_mut().insert(Caller(key.name.clone()));
    if from_query {
        request.extensions_mut().insert(LinkToken(token));
    }
    let context = RequestContext {
        caller: key.name.clone(),
        admin: key.admin,
        request_id,
    };
    context.scope(next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_parameter_is_removed() {
        let (uri, token) = strip_token(
            &"/collections/x/items?limit=2&token=abc&q=a%20b"
                .parse()
                .unwrap(),
        );
        assert_eq!(token.as_deref(), Some("abc"));
        assert_eq!(uri.to_string(), "/collections/x/items?limit=2&q=a+b");
        let (uri, token) = strip_token(&"/api?token=abc".parse().unwrap());
        assert_eq!(
            (uri.to_string().as_str(), token.as_deref()),
            ("/api", Some("abc"))
        );
        let (uri, token) = strip_token(&"/wms?LAYERS=a&TOKEN=abc".parse().unwrap());
        assert_eq!(
            (uri.to_string().as_str(), token.as_deref()),
            ("/wms?LAYERS=a", Some("abc"))
        );
        let (uri, token) = strip_token(&"/api?f=json".parse().unwrap());
        assert_eq!((uri.to_string().as_str(), token), ("/api?f=json", None));
    }
}
