//! The guarded mirror: `GET|POST /geopf/{path}` answers what `{upstream.base_url}/{path}` answers, for the
//! API prefixes listed in `mirror.prefixes` only, through the one upstream client (quotas, retries,
//! 429 pauses, API key) and a memory cache of its own (TTL by kind of answer, concurrent identical
//! misses coalesced). Scripts and tools that let a user set a base URL get the gateway's cache,
//! quota protection and key; a service the gateway does not model yet is reachable on day one.
//! WMTS tiles, WMS maps and the static resources under `annexes/` (the vector styles' sprites and
//! glyphs, the legends) go through the gateway's image caches (memory, disk, stale-if-error, seedable):
//! they are what a map needs offline.
//!
//! It is never an open proxy: the path is checked segment by segment (no empty, `.` or `..`
//! segment, no scheme, nothing but URL-safe characters), its first segment must be a listed prefix,
//! and the host is always the configured upstream.

use super::{
    images::{sniff_image, ImageCache, Tile, TileOrigin, Vet},
    ServiceError,
};
use crate::{
    cache::{CacheKind, CacheStatus, Cached, MemoryCache, ENTRY_OVERHEAD},
    upstream::{Api, PostBody, SharedUpstream, UpstreamError, UpstreamRequest},
};

pub struct Mirror {
    client: SharedUpstream,
    cache: MemoryCache<Tile>,
    images: ImageCache,
    prefixes: Vec<String>,
}

/// Whether a request is for a map image: a WMTS GetTile or a WMS GetMap.
fn is_map_image(prefix: &str, query: &[(String, String)]) -> bool {
    let request = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("request"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    match prefix {
        "wmts" => request.eq_ignore_ascii_case("GetTile"),
        "wms-r" | "wms-v" => request.eq_ignore_ascii_case("GetMap"),
        _ => false,
    }
}

/// How a GET is kept if it is kept like the tiles (on disk, stale-if-error): a map image, or a
/// static resource of `annexes/` (sprites, glyphs, styles, legends).
fn durable(prefix: &str, query: &[(String, String)]) -> Option<Vet> {
    if is_map_image(prefix, query) {
        Some(Vet::Image)
    } else if prefix == "annexes" {
        Some(Vet::Resource)
    } else {
        None
    }
}

/// A mirrored answer: its bytes, how they were obtained, and whether it is durable (then answered
/// as the tiles are: long-lived, stale-if-error).
pub struct MirrorAnswer {
    pub answer: Tile,
    pub origin: TileOrigin,
    pub durable: bool,
}

/// How a mirrored request is answered.
pub struct MirrorRequest {
    request: UpstreamRequest,
    kind: CacheKind,
    durable: Option<Vet>,
}

/// Where a mirrored path goes: its quota bucket and how long its answer is kept.
fn route(prefix: &str, path: &str, query: &[(String, String)]) -> (Api, CacheKind) {
    let capabilities = query.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("request") && v.eq_ignore_ascii_case("GetCapabilities")
    });
    match prefix {
        "geocodage" if path.contains("/completion") => (Api::Completion, CacheKind::Completion),
        "geocodage" => (Api::Geocoding, CacheKind::Geocoding),
        "navigation" if path.contains("isochron") => (Api::Isochrone, CacheKind::Navigation),
        "navigation" => (Api::Route, CacheKind::Navigation),
        "altimetrie" => (Api::Altimetry, CacheKind::Altimetry),
        _ if capabilities => (api_of_map_service(prefix), CacheKind::Capabilities),
        "wfs" => (Api::Wfs, CacheKind::Features),
        "wms-r" | "wms-v" | "wmts" | "tms" => (api_of_map_service(prefix), CacheKind::Tiles),
        "annexes" => (Api::Other, CacheKind::Tiles),
        "recherche" => (Api::Recherche, CacheKind::Features),
        _ => (Api::Other, CacheKind::Features),
    }
}

fn api_of_map_service(prefix: &str) -> Api {
    match prefix {
        "wfs" => Api::Wfs,
        "wms-r" => Api::WmsRaster,
        "wms-v" => Api::WmsVector,
        "wmts" | "tms" => Api::Wmts,
        _ => Api::Other,
    }
}

/// Whether `path` (without its leading `/`) is a plain relative path: segments of URL-safe
/// characters, none empty, `.` or `..`.
fn is_plain_path(path: &str) -> bool {
    // Spaces only in the font stacks of the vector styles ("Source Sans Pro Regular,…").
    let spaces = path.starts_with(FONTS);
    path.len() <= 1024
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'-' | b'_' | b'.' | b'~' | b',' | b'@' | b'+' | b'=')
                        || (spaces && b == b' ')
                })
        })
}

/// Where the glyphs of the vector styles are, below `/geopf/`.
const FONTS: &str = "annexes/ressources/vectorTiles/fonts/";

impl Mirror {
    pub fn new(
        client: SharedUpstream,
        cache: MemoryCache<Tile>,
        images: ImageCache,
        prefixes: Vec<String>,
    ) -> Self {
        Mirror {
            client,
            cache,
            images,
            prefixes,
        }
    }

    /// The upstream request for `path` (below `/geopf/`, as decoded) with its query and, for a
    /// POST, its body; `None` when the mirror does not lead there.
    pub fn request(
        &self,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<PostBody>,
    ) -> Option<MirrorRequest> {
        if !is_plain_path(path) {
            return None;
        }
        let prefix = path.split('/').next()?;
        if !self.prefixes.iter().any(|p| p == prefix) {
            return None;
        }
        let (api, kind) = route(prefix, path, &query);
        let durable = durable(prefix, &query).filter(|_| body.is_none());
        let mut request = query.into_iter().fold(
            UpstreamRequest::new(api, format!("/{path}")),
            |r, (k, v)| r.param(&k, v),
        );
        request.body = body;
        Some(MirrorRequest {
            request,
            kind,
            durable,
        })
    }

    /// The upstream's answer, from a cache when it holds one.
    pub async fn get(&self, m: MirrorRequest) -> Result<MirrorAnswer, ServiceError> {
        let MirrorRequest {
            request,
            kind,
            durable,
        } = m;
        if let Some(vet) = durable {
            let found = match vet {
                Vet::Image => self.images.get(request.cache_key(), &request).await,
                Vet::Resource => self.images.resource(&request).await,
            };
            let (answer, origin) = found.map_err(not_there)?;
            return Ok(MirrorAnswer {
                answer,
                origin,
                durable: true,
            });
        }
        if request.body.is_some() {
            // A POST may act upstream (a batch project, say): sent each time, never cached.
            let answer = Tile::from_upstream(self.client.get(&request).await?);
            return Ok(MirrorAnswer {
                answer,
                origin: TileOrigin {
                    cache_status: CacheStatus::Miss,
                    stale: false,
                },
                durable: false,
            });
        }
        let client = &self.client;
        let key = request.cache_key();
        let fetch = async move {
            let response = client.get(&request).await?;
            let mut answer = Tile::from_upstream(response);
            // An image body is named by its bytes, as the tile caches do.
            if let Some(sniffed) = sniff_image(&answer.body) {
                if let Ok(v) = sniffed.parse() {
                    answer.content_type = v;
                }
            }
            Ok::<_, UpstreamError>(Cached {
                kind,
                weight: u32::try_from(answer.body.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(ENTRY_OVERHEAD),
                value: answer,
                shared: false,
            })
        };
        let (cached, status) = self
            .cache
            .get_or_fetch(key, fetch)
            .await
            .map_err(|e| not_there(ServiceError::Upstream((*e).clone())))?;
        Ok(MirrorAnswer {
            answer: cached.value.clone(),
            origin: TileOrigin {
                cache_status: status,
                stale: false,
            },
            durable: false,
        })
    }
}

/// The upstream has no such path: so is it for the mirror (a 404 a map client tolerates, for a
/// sprite `@2x` the Géoplateforme does not publish, say).
fn not_there(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Upstream(UpstreamError::Status {
            status: 404,
            message,
            ..
        }) => ServiceError::NotFound(format!("the Géoplateforme has no such path: {message}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_below_listed_prefixes() {
        for ok in [
            "geocodage/search",
            "wmts",
            "annexes/ressources/legendes/LEGEND.jpg",
            "tms/1.0.0/PLAN.IGN/10/511/367.pbf",
            "annexes/ressources/vectorTiles/fonts/Source Sans Pro Regular,Arial/0-255.pbf",
        ] {
            assert!(is_plain_path(ok), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "geocodage/../../etc",
            "http://evil/",
            "geocodage//search",
            "geocodage/search/",
            "geocodage/%2e%2e",
            "geocodage/a b",
            "annexes/ressources/legendes/a b.png",
            "geocodage/a?b",
        ] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }

    #[test]
    fn each_prefix_has_its_quota_and_ttl() {
        assert_eq!(
            route("geocodage", "geocodage/completion", &[]),
            (Api::Completion, CacheKind::Completion)
        );
        assert_eq!(
            route("navigation", "navigation/isochrone", &[]).0,
            Api::Isochrone
        );
        let caps = [("request".to_string(), "GetCapabilities".to_string())];
        assert_eq!(
            route("wms-r", "wms-r/wms", &caps),
            (Api::WmsRaster, CacheKind::Capabilities)
        );
        assert_eq!(
            route("recherche", "recherche/search", &[]).0,
            Api::Recherche
        );
        assert_eq!(route("csw", "csw", &[]).0, Api::Other);
    }
}
