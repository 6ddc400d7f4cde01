//! Who may read the gateway from a web page, and under which name it may be reached.
//!
//! - CORS: public map data (tiles, WMTS, WMS, the catalogue: [`crate::ogcapi::public_routes`]) may
//!   be read from any origin, so web maps can use them; every other route (features, processes, jobs, uploads, metrics) only from
//!   `server.cors_origins` (default: none) — a page on another site cannot read a user's lookups or
//!   jobs from their personal gateway.
//! - Host: a gateway listening on a loopback address answers only to loopback names, the listen
//!   address and `server.public_url`'s host, so a DNS-rebinding page cannot reach it by a name of
//!   its own.

use std::{net::IpAddr, sync::Arc};

use axum::{
    extract::Request,
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{config::ServerConfig, error::ApiError};

/// The CORS layer of public map data (tiles, WMTS, WMS, the catalogue): any origin, so web maps
/// can use them.
pub fn cors_public() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::ACCEPT, header::AUTHORIZATION])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("cache-status")])
}

/// The CORS layer of every other route: only `server.cors_origins` (`"*"`: any).
pub fn cors_private(server: &ServerConfig) -> CorsLayer {
    let origins = if server.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            server
                .cors_origins
                .iter()
                .filter_map(|o| o.parse::<HeaderValue>().ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
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
        ])
}

/// The host names a loopback gateway answers to; `None` when it listens beyond loopback (a team
/// server behind its own names, where `server.public_url` and a proxy decide).
#[derive(Debug, Clone)]
pub struct AllowedHosts(Option<Arc<[String]>>);

impl AllowedHosts {
    pub fn from_config(server: &ServerConfig) -> Self {
        if !server.listen.ip().is_loopback() {
            return AllowedHosts(None);
        }
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        names.push(server.listen.ip().to_string());
        if let Some(host) = url::Url::parse(&server.public_url).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        }) {
            names.push(host);
        }
        AllowedHosts(Some(names.into()))
    }

    /// Whether a `Host` value (`name[:port]`, `[v6]:port`) is one of the names.
    pub fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.0 else {
            return true;
        };
        let name = host_name(host);
        names.iter().any(|n| n.eq_ignore_ascii_case(name))
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The name of a `Host` value, without its port and brackets.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    let bytes = host.as_bytes();
    match bytes.iter().rposition(|&b| b == b':') {
        Some(colon) if bytes[colon + 1..].iter().all(u8::is_ascii_digit) => &host[..colon],
        _ => host,
    }
}

/// Refuses a request whose `Host` (or HTTP/2 authority) is not one of the allowed names.
pub async fn check_host(allowed: AllowedHosts, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if let Some(host) = host.filter(|h| !allowed.allows(h)) {
        let shown: String = host.chars().take(80).collect();
        return ApiError::from_status(
            StatusCode::FORBIDDEN,
            format!("this gateway listens on a loopback address and answers only to localhost, 127.0.0.1, [::1] or server.public_url's host, not {shown:?} (a protection against DNS rebinding)"),
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(listen: &str, public_url: &str) -> ServerConfig {
        let mut s = crate::config::Config::defaults().server;
        s.listen = listen.parse().unwrap();
        s.public_url = public_url.into();
        s
    }

    #[test]
    fn a_loopback_gateway_answers_to_loopback_names_only() {
        let a = AllowedHosts::from_config(&server("127.0.0.1:8080", "https://gis.example.org/x"));
        for ok in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "[::1]:8080",
            "gis.example.org",
            "127.0.0.2:9",
        ] {
            assert!(a.allows(ok), "{ok}");
        }
        for bad in [
            "rebind.evil.example",
            "rebind.evil.example:8080",
            "localhost.evil.example",
            "[::2]:8080",
        ] {
            assert!(!a.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::from_config(&server("0.0.0.0:8080", "")).allows("anything.example"));
    }
}
