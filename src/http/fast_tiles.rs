//! Cached tiles on the fast path ([`super::fast_path`]): a `GET /tiles/{layer}/{z}/{x}/{y}.{ext}`
//! or a WMTS KVP GetTile (`/wmts?REQUEST=GetTile&…`) whose tile is in memory — the one request a
//! map client sends by the hundred per screen. The answer is the one the full path gives
//! (headers, public CORS, `ETag`, `304` to `If-None-Match`), which `tests/fast_tiles.rs` compares
//! header by header. Anything else — a miss, a query string on an XYZ path (a token), a malformed
//! path — goes the full way, unchanged.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode},
};
use metrics::{Counter, Histogram};

use super::{CACHE_STATUS, REQUEST_ID};
use crate::{
    cache::CacheStatus,
    ogcapi::{ows::Kvp, tiles::GetTile},
    services::images::Tile,
    AppState,
};

/// The route labels of the full path's metrics, so that both count as one route.
const XYZ_ROUTE: &str = "/tiles/{layer_id}/{z}/{x}/{file}";
const KVP_ROUTE: &str = "/wmts";

/// Cached tiles, as the fast path serves them.
pub struct FastTiles {
    state: AppState,
    /// The `Vary` the full path adds to `/wmts` answers (a document route).
    documents_vary: HeaderValue,
    xyz_metrics: RouteMetrics,
    kvp_metrics: RouteMetrics,
}

/// The metrics of a route, their handles looked up once rather than per request.
struct RouteMetrics {
    ok: Counter,
    not_modified: Counter,
    duration: Histogram,
}

impl RouteMetrics {
    fn of(route: &'static str) -> Self {
        let requests = |status: &'static str| metrics::counter!("geopf_http_requests_total", "route" => route, "method" => "GET", "status" => status);
        RouteMetrics {
            ok: requests("200"),
            not_modified: requests("304"),
            duration: metrics::histogram!("geopf_http_request_duration_seconds", "route" => route),
        }
    }
}

/// A tile answer and the metrics it counts in.
pub struct TileAnswer<'a> {
    pub response: Response<Body>,
    pub route: &'static str,
    pub requests: &'a Counter,
    pub duration: &'a Histogram,
}

impl FastTiles {
    pub fn new(state: &AppState) -> Self {
        FastTiles {
            state: state.clone(),
            documents_vary: HeaderValue::from_static(super::documents_vary(state)),
            xyz_metrics: RouteMetrics::of(XYZ_ROUTE),
            kvp_metrics: RouteMetrics::of(KVP_ROUTE),
        }
    }

    /// The tile `request` asks for, if it is in memory, and the route it is counted under.
    async fn cached_tile<B>(&self, request: &Request<B>) -> Option<(Tile, &'static str)> {
        let basemaps = &self.state.basemaps;
        let uri = request.uri();
        if uri.path() == KVP_ROUTE {
            let q = Kvp::parse(uri.query());
            if !q.get("REQUEST").eq_ignore_ascii_case("GetTile") || !q.get("TOKEN").is_empty() {
                return None;
            }
            let t = GetTile::of_kvp(&q).ok()?;
            let layer = t.check(&self.state).ok()?;
            let tile = basemaps.cached(&layer, t.z, t.col, t.row, t.format).await?;
            return Some((tile, KVP_ROUTE));
        }
        if uri.query().is_some() {
            return None;
        }
        let (layer, z, x, y, format) = parse_tile_path(uri.path())?;
        let layer = basemaps.xyz_layer(layer).ok()?;
        let tile = basemaps.cached(&layer, z, x, y, format).await?;
        Some((tile, XYZ_ROUTE))
    }

    /// The answer to `request` if it is a cached tile (its request id made by `id`), else `None`.
    pub async fn answer<B>(
        &self,
        request: &Request<B>,
        id: impl FnOnce() -> HeaderValue,
    ) -> Option<TileAnswer<'_>> {
        let (tile, route) = self.cached_tile(request).await?;
        let mut response = tile_response(request.headers(), tile, id());
        let metrics = if route == KVP_ROUTE {
            response
                .headers_mut()
                .append(header::VARY, self.documents_vary.clone());
            &self.kvp_metrics
        } else {
            &self.xyz_metrics
        };
        let requests = if response.status() == StatusCode::OK {
            &metrics.ok
        } else {
            &metrics.not_modified
        };
        Some(TileAnswer {
            response,
            route,
            requests,
            duration: &metrics.duration,
        })
    }
}

/// `(layer, z, x, y, extension)` of `/tiles/{layer}/{z}/{x}/{y}.{ext}`, digits only for the
/// numbers; anything else is left to the router.
fn parse_tile_path(path: &str) -> Option<(&str, u32, u64, u64, &str)> {
    let mut parts = path.strip_prefix("/tiles/")?.split('/');
    let (layer, z, x, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || layer.is_empty() || layer.contains('%') {
        return None;
    }
    let (y, format) = file.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(z) && digits(x) && digits(y)) {
        return None;
    }
    Some((
        layer,
        z.parse().ok()?,
        x.parse().ok()?,
        y.parse().ok()?,
        format,
    ))
}

/// The full path's answer to a tile hit — `ogcapi::ows::image`'s, with what the public CORS layer
/// and the request-id layer add — written at once into one map sized for it (measured: fewer µs
/// per tile than building `ows::image`'s and adding to it). `tests/fast_tiles.rs` holds the two
/// to the same headers, 200 and 304.
fn tile_response(request: &HeaderMap, tile: Tile, id: HeaderValue) -> Response<Body> {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == tile.etag);
    let mut h = HeaderMap::with_capacity(16);
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        h.insert(header::CONTENT_TYPE, tile.content_type);
        (StatusCode::OK, Body::from(tile.body))
    };
    h.insert(header::ETAG, tile.etag);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(
        CACHE_STATUS,
        HeaderValue::from_static(CacheStatus::Hit.as_str()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after,cache-status"),
    );
    h.insert(REQUEST_ID, id);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = h;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tile_paths_take_the_fast_path() {
        assert_eq!(
            parse_tile_path("/tiles/PLAN/6/32/22.png"),
            Some(("PLAN", 6, 32, 22, "png"))
        );
        for path in [
            "/tiles/PLAN/6/32/22",
            "/tiles/PLAN/6/32/22.png/more",
            "/tiles//6/32/22.png",
            "/tiles/PLAN/-1/32/22.png",
            "/tiles/PLAN/6/32/99999999999.png",
            "/tiles/PL%41N/6/32/22.png",
            "/catalog/PLAN",
        ] {
            assert_eq!(parse_tile_path(path), None, "{path}");
        }
    }
}
