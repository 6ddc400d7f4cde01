//! The public base URL of a request, from which every absolute link is built: the configured
//! `server.public_url`, else `X-Forwarded-Proto`/`-Host`/`-Prefix` when the peer is one of
//! `server.trusted_proxies`, else the `Host` header.

use std::net::IpAddr;

use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap};
use ipnet::IpNet;

use crate::{error::ApiError, AppState};

/// A `server.trusted_proxies` entry: an IP address (a block of one) or a CIDR block.
pub fn parse_proxy(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The peers whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn from_config(entries: &[String]) -> Self {
        TrustedProxies(entries.iter().filter_map(|e| parse_proxy(e)).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, peer: Option<IpAddr>) -> bool {
        let Some(peer) = peer else {
            return false;
        };
        // An IPv4 peer may arrive on a dual-stack socket as ::ffff:a.b.c.d.
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&peer))
    }
}

/// `scheme://host[:port][/prefix]`, without a trailing slash; and the access token to write into
/// links when the client gave it in the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String, pub Option<String>);

impl BaseUrl {
    /// An absolute URL for a path (and query) of the gateway; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        match &self.1 {
            None => format!("{}{}", self.0, path),
            Some(token) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                let t = crate::ogcapi::links::encode_query(&[("token".into(), token.clone())]);
                format!("{}{}{sep}{t}", self.0, path)
            }
        }
    }

    /// The base URL from the configured one, else the headers; `X-Forwarded-*` count only when
    /// `forwarded` (the peer is a trusted proxy).
    pub fn from_headers(
        headers: &HeaderMap,
        configured: &str,
        fallback_host: &str,
        forwarded: bool,
    ) -> BaseUrl {
        if !configured.is_empty() {
            return BaseUrl(configured.trim_end_matches('/').to_string(), None);
        }
        let first = |name: &str| {
            if name.starts_with("x-forwarded-") && !forwarded {
                return None;
            }
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let proto = match first("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = first("x-forwarded-host")
            .or_else(|| first("host"))
            .filter(|h| is_host(h))
            .unwrap_or(fallback_host);
        let prefix = first("x-forwarded-prefix")
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| p.starts_with('/') && is_path(p))
            .unwrap_or("");
        BaseUrl(format!("{proto}://{host}{prefix}"), None)
    }
}

/// A host[:port] that cannot smuggle anything into a URL.
fn is_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

fn is_path(p: &str) -> bool {
    p.len() <= 512
        && p.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b'~' | b'%')
        })
}

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fallback = state.config.server.listen.to_string();
        let peer = crate::http::server::peer(parts).map(|a| a.ip());
        let forwarded = state.trusted_proxies.trusts(peer);
        let mut base = BaseUrl::from_headers(
            &parts.headers,
            &state.config.server.public_url,
            &fallback,
            forwarded,
        );
        base.1 = parts
            .extensions
            .get::<crate::http::auth::LinkToken>()
            .map(|t| t.0.clone());
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_win_over_host() {
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "gis.example.org"),
            ("x-forwarded-prefix", "/geopf/"),
        ]);
        assert_eq!(
            BaseUrl::from_headers(&h, "", "x", true).0,
            "https://gis.example.org/geopf"
        );
        // From a peer that is not a trusted proxy, only Host counts.
        assert_eq!(
            BaseUrl::from_headers(&h, "", "x", false).0,
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn proxies_are_addresses_or_blocks() {
        let t = TrustedProxies::from_config(&["10.0.0.0/8".into(), "::1".into()]);
        assert!(t.trusts("10.1.2.3".parse().ok()));
        assert!(t.trusts("::1".parse().ok()));
        assert!(t.trusts("::ffff:10.9.9.9".parse().ok()));
        assert!(!t.trusts("127.0.0.1".parse().ok()));
        assert!(!t.trusts(None));
        assert!(parse_proxy("not-an-ip").is_none());
    }

    #[test]
    fn configured_url_wins_and_bad_hosts_are_ignored() {
        let h = headers(&[("host", "evil.org/\"><script>")]);
        assert_eq!(
            BaseUrl::from_headers(&h, "", "127.0.0.1:8080", true).0,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            BaseUrl::from_headers(&h, "https://a.b/c/", "x", true).0,
            "https://a.b/c"
        );
    }
}
