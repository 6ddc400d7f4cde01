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
    catalog::wmts::WmtsLayer,
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
    headers: TileHeaders,
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
            headers: TileHeaders {
                ok: tile_headers(true),
                not_modified: tile_headers(false),
            },
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
            let fits = |l: &_| t.check_layer(l).is_ok();
            let key = basemaps.hit_key(t.layer, fits, t.z, t.col, t.row, t.format)?;
            return Some((basemaps.cached(&key).await?, KVP_ROUTE));
        }
        if uri.query().is_some() {
            return None;
        }
        let (layer, z, x, y, format) = parse_tile_path(uri.path())?;
        let key = basemaps.hit_key(layer, WmtsLayer::is_xyz, z, x, y, format)?;
        Some((basemaps.cached(&key).await?, XYZ_ROUTE))
    }

    /// The answer to `request` if it is a cached tile (its request id made by `id`), else `None`.
    pub async fn answer<B>(
        &self,
        request: &Request<B>,
        id: impl FnOnce() -> HeaderValue,
    ) -> Option<TileAnswer<'_>> {
        let (tile, route) = self.cached_tile(request).await?;
        let mut response = tile_response(&self.headers, request.headers(), tile, id());
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
/// numbers; anything else is left to the router. One pass over the bytes (on every tile's way:
/// `split` and `parse` cost a cached tile 5 % of its instructions).
fn parse_tile_path(path: &str) -> Option<(&str, u32, u64, u64, &str)> {
    let rest = path.strip_prefix("/tiles/")?;
    // The layer, z, x, and y.ext, split at the slashes.
    let mut parts = [""; 4];
    let (mut n, mut start) = (0, 0);
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'/' if n < 3 => {
                parts[n] = &rest[start..i];
                (n, start) = (n + 1, i + 1);
            }
            b'/' => return None,
            b'%' if n == 0 => return None,
            _ => {}
        }
    }
    if n != 3 || parts[0].is_empty() {
        return None;
    }
    parts[3] = &rest[start..];
    let (y, format) = parts[3].split_at(parts[3].bytes().position(|b| b == b'.')?);
    Some((
        parts[0],
        u32::try_from(number(parts[1])?).ok()?,
        number(parts[2])?,
        number(y)?,
        &format[1..],
    ))
}

/// A path's number: 1 to 10 decimal digits.
fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The headers of a tile answer, 200 or 304 (`ok`): `ogcapi::ows::image`'s, with what the public
/// CORS layer and the request-id layer add; the tile's own (`Content-Type`, `ETag`) and the
/// request id are blanks to fill in ([`tile_response`]).
fn tile_headers(ok: bool) -> HeaderMap {
    let blank = HeaderValue::from_static("");
    let mut h = HeaderMap::with_capacity(16);
    if ok {
        h.insert(header::CONTENT_TYPE, blank.clone());
    }
    h.insert(header::ETAG, blank.clone());
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
    h.insert(REQUEST_ID, blank);
    h
}

/// The full path's answer to a tile hit: a copy of [`tile_headers`] with its blanks filled in,
/// in place — no header name hashed, no map grown (measured: half the instructions of inserting
/// the headers one by one). `tests/fast_tiles.rs` holds the answer to the full path's headers,
/// 200 and 304.
fn tile_response(
    headers: &TileHeaders,
    request: &HeaderMap,
    tile: Tile,
    id: HeaderValue,
) -> Response<Body> {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == tile.etag);
    let (status, mut h, body) = if not_modified {
        let h = headers.not_modified.clone();
        (StatusCode::NOT_MODIFIED, h, Body::empty())
    } else {
        (StatusCode::OK, headers.ok.clone(), Body::from(tile.body))
    };
    let (mut content_type, mut etag, mut id) = (Some(tile.content_type), Some(tile.etag), Some(id));
    for (name, value) in h.iter_mut() {
        let own = if name == header::CONTENT_TYPE {
            content_type.take()
        } else if name == header::ETAG {
            etag.take()
        } else if name == REQUEST_ID {
            id.take()
        } else {
            None
        };
        if let Some(own) = own {
            *value = own;
        }
    }
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = h;
    response
}

/// [`tile_headers`], made once.
struct TileHeaders {
    ok: HeaderMap,
    not_modified: HeaderMap,
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
            "/tiles/PLAN/6/3a/22.png",
            "/tiles/PLAN/6//22.png",
            "/tiles/PLAN/6/32/.png",
            "/tiles/PLAN/9999999999/32/22.png",
            "/tiles/PL%41N/6/32/22.png",
            "/catalog/PLAN",
        ] {
            assert_eq!(parse_tile_path(path), None, "{path}");
        }
    }
}
