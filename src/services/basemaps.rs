//! The basemaps: the WMTS layers of the Géoplateforme, their catalogue (refreshed from the
//! capabilities) and their tiles in WebMercator XYZ, fetched through the memory cache.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use bytes::Bytes;

use super::ServiceError;
use crate::{
    cache::{
        disk::{DiskStore, Stored},
        CacheKind, CacheStatus, Cached, MemoryCache,
    },
    catalog::wmts::{parse_capabilities, WmtsLayer},
    upstream::{Api, UpstreamClient, UpstreamError, UpstreamRequest},
};

/// A tile as cached: its media type, bytes and a strong validator.
#[derive(Debug, Clone)]
pub struct Tile {
    pub content_type: String,
    pub body: Bytes,
    pub etag: String,
}

#[derive(Debug, Clone, Default)]
pub struct LayersState {
    pub layers: Arc<Vec<WmtsLayer>>,
    /// The capabilities document as the upstream wrote it.
    pub capabilities: Arc<String>,
    pub fetched_at: Option<SystemTime>,
    pub last_error: Option<String>,
}

pub struct Basemaps {
    client: UpstreamClient,
    state: RwLock<LayersState>,
    tiles: MemoryCache<Tile>,
    disk: Option<Arc<DiskStore>>,
    /// How long a tile on disk is fresh (`cache.ttl.tiles`); older ones serve only when the
    /// upstream fails.
    fresh_for: Duration,
}

/// How a tile was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileOrigin {
    pub cache_status: CacheStatus,
    /// Past its time to live, served because the upstream failed (stale-if-error).
    pub stale: bool,
}

/// The theme of a layer, from its identifier's prefix.
pub fn theme(id: &str) -> &'static str {
    let id = id.to_ascii_uppercase();
    let starts = |p: &[&str]| p.iter().any(|x| id.starts_with(x));
    if starts(&["ORTHOIMAGERY", "HR.ORTHOIMAGERY"]) {
        "ortho"
    } else if starts(&["CADASTRALPARCELS", "CADASTRE"]) {
        "cadastre"
    } else if starts(&["GEOGRAPHICALGRIDSYSTEMS", "SCAN", "PLAN"]) {
        "maps"
    } else if starts(&[
        "ADMINEXPRESS",
        "LIMITES_ADMINISTRATIVES",
        "ADMINISTRATIVEUNITS",
    ]) {
        "administrative"
    } else if starts(&["ELEVATION", "ALTI"]) {
        "elevation"
    } else if starts(&["TRANSPORTNETWORKS", "TRANSPORTS", "ROUTES"]) {
        "transport"
    } else if starts(&["HYDROGRAPHY", "HYDRO"]) {
        "hydrography"
    } else if starts(&["LANDCOVER", "OCSGE", "LANDUSE"]) {
        "land cover"
    } else {
        "other"
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Basemaps {
    pub fn new(
        client: UpstreamClient,
        tiles: MemoryCache<Tile>,
        disk: Option<DiskStore>,
        fresh_for: Duration,
    ) -> Self {
        Basemaps {
            client,
            state: RwLock::new(LayersState::default()),
            tiles,
            disk: disk.map(Arc::new),
            fresh_for,
        }
    }

    /// The WMTS capabilities republished at `public_wmts` (the gateway's `/wmts`): the upstream's
    /// links replaced by the gateway's, and a REST `ResourceURL` added to every layer.
    pub fn republished_capabilities(&self, public_wmts: &str) -> Option<String> {
        let state = self.state();
        if state.capabilities.is_empty() {
            return None;
        }
        let upstream_wmts = format!("{}/wmts", self.client.base_url());
        let text = point_operations_at(
            &state.capabilities.replace(&upstream_wmts, public_wmts),
            public_wmts,
        );
        let parts: Vec<&str> = text.split("</TileMatrixSetLink>").collect();
        // One TileMatrixSetLink per layer, in document order: the k-th closes the k-th layer.
        if parts.len() != state.layers.len() + 1 {
            return Some(text);
        }
        let mut out = String::with_capacity(text.len() + state.layers.len() * 200);
        for (part, layer) in parts.iter().zip(state.layers.iter()) {
            out.push_str(part);
            out.push_str("</TileMatrixSetLink>");
            for format in &layer.formats {
                let ext = if format.contains("jpeg") {
                    "jpeg"
                } else if format.contains("png") {
                    "png"
                } else {
                    continue;
                };
                out.push_str(&format!(
                    "<ResourceURL format=\"{format}\" resourceType=\"tile\" template=\"{public_wmts}/1.0.0/{}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{ext}\"/>",
                    quick_xml::escape::escape(&layer.id)
                ));
            }
        }
        out.push_str(parts[parts.len() - 1]);
        Some(out)
    }

    /// Bytes held by the disk store.
    pub fn disk_bytes(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.size())
    }

    pub fn state(&self) -> LayersState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn layer(&self, id: &str) -> Option<WmtsLayer> {
        self.state().layers.iter().find(|l| l.id == id).cloned()
    }

    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        let request = UpstreamRequest::new(Api::Wmts, "/wmts")
            .param("SERVICE", "WMTS")
            .param("VERSION", "1.0.0")
            .param("REQUEST", "GetCapabilities");
        let result = match self.client.get(&request).await {
            Ok(r) => {
                let text = String::from_utf8_lossy(&r.body).into_owned();
                parse_capabilities(&text)
                    .map(|layers| (layers, text))
                    .map_err(|reason| {
                        ServiceError::Upstream(UpstreamError::BadBody {
                            api: Api::Wmts,
                            reason,
                        })
                    })
            }
            Err(e) => Err(e.into()),
        };
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok((layers, text)) => {
                let n = layers.len();
                *state = LayersState {
                    layers: Arc::new(layers),
                    capabilities: Arc::new(text),
                    fetched_at: Some(SystemTime::now()),
                    last_error: None,
                };
                Ok(n)
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        super::spawn_refresh(
            self,
            "WMTS layers",
            every,
            |s| async move { s.refresh().await },
        )
    }

    /// The XYZ tile z/x/y of `layer_id` in `format` (`png` or `jpeg`).
    pub async fn tile(
        &self,
        layer_id: &str,
        z: u32,
        x: u64,
        y: u64,
        format: &str,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        let layer = self.layer(layer_id).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "there is no basemap {layer_id:?} (see /catalog.json)"
            ))
        })?;
        if !layer.is_xyz() {
            return Err(ServiceError::NotFound(format!(
                "{layer_id} is not published in WebMercator ({})",
                layer.tile_matrix_set
            )));
        }
        let media = match format {
            "png" => "image/png",
            "jpeg" | "jpg" => "image/jpeg",
            other => {
                return Err(ServiceError::invalid(
                    "format",
                    format!("{other:?} is not png or jpeg"),
                ))
            }
        };
        if !layer.formats.iter().any(|f| f == media) {
            return Err(ServiceError::NotFound(format!(
                "{layer_id} is published as {}, not {media}",
                layer.formats.join(", ")
            )));
        }
        if !layer.has_tile(z, x, y) {
            let (lo, hi) = layer.zoom_range().unwrap_or((0, 0));
            return Err(ServiceError::NotFound(format!(
                "tile {z}/{x}/{y} is outside {layer_id} (zoom {lo} to {hi}, and the layer's extent)"
            )));
        }
        let request = UpstreamRequest::new(Api::Wmts, "/wmts")
            .param("SERVICE", "WMTS")
            .param("VERSION", "1.0.0")
            .param("REQUEST", "GetTile")
            .param("LAYER", &layer.id)
            .param("STYLE", layer.default_style())
            .param("FORMAT", media)
            .param("TILEMATRIXSET", &layer.tile_matrix_set)
            .param("TILEMATRIX", z)
            .param("TILEROW", y)
            .param("TILECOL", x);
        let key = request_key(layer_id, z, x, y, media);
        let (client, disk, fresh_for) = (&self.client, self.disk.clone(), self.fresh_for);
        let disk_key = key.clone();
        let fetch = async move {
            if let Some(stored) = disk
                .as_ref()
                .and_then(|d| d.get(&disk_key))
                .filter(|s| s.age() < fresh_for)
            {
                return Ok(cached(Tile {
                    content_type: stored.content_type,
                    body: Bytes::from(stored.body),
                    etag: stored.etag,
                }));
            }
            let r = client.get(&request).await?;
            if !r.content_type.starts_with("image/") {
                return Err(UpstreamError::BadBody {
                    api: Api::Wmts,
                    reason: format!("a {} answer instead of a tile", r.content_type),
                });
            }
            let etag = format!("\"{:016x}\"", fnv1a(&r.body));
            if let Some(d) = &disk {
                let stored = Stored {
                    content_type: r.content_type.clone(),
                    etag: etag.clone(),
                    fetched: SystemTime::now(),
                    body: r.body.to_vec(),
                };
                if let Err(e) = d.put(&disk_key, &stored) {
                    tracing::warn!(error = %e, "a tile could not be written to the disk store");
                }
            }
            Ok(cached(Tile {
                content_type: r.content_type,
                body: r.body,
                etag,
            }))
        };
        match self.tiles.get_or_fetch(key.clone(), fetch).await {
            Ok((t, status)) => Ok((
                t.value.clone(),
                TileOrigin {
                    cache_status: status,
                    stale: false,
                },
            )),
            Err(e) => {
                // stale-if-error: an old copy beats no map.
                match self.disk.as_ref().and_then(|d| d.get(&key)) {
                    Some(stored) => {
                        tracing::warn!(error = %e, "serving a stale tile");
                        let tile = Tile {
                            content_type: stored.content_type,
                            body: Bytes::from(stored.body),
                            etag: stored.etag,
                        };
                        Ok((
                            tile,
                            TileOrigin {
                                cache_status: CacheStatus::Hit,
                                stale: true,
                            },
                        ))
                    }
                    None => Err(ServiceError::Upstream((*e).clone())),
                }
            }
        }
    }
}

/// Every operation URL of the capabilities' `OperationsMetadata` set to `public` (the document may
/// name another host than the configured upstream: a mirror, a recording).
fn point_operations_at(xml: &str, public: &str) -> String {
    let (Some(start), Some(end)) = (
        xml.find("<ows:OperationsMetadata"),
        xml.find("</ows:OperationsMetadata>"),
    ) else {
        return xml.to_string();
    };
    let mut section = String::with_capacity(end - start);
    let mut rest = &xml[start..end];
    while let Some(i) = rest.find("xlink:href=\"") {
        let value_start = i + "xlink:href=\"".len();
        section.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        let Some(close) = rest.find('"') else { break };
        let value = &rest[..close];
        section.push_str(public);
        if value.ends_with('?') {
            section.push('?');
        }
        rest = &rest[close..];
    }
    section.push_str(rest);
    format!("{}{}{}", &xml[..start], section, &xml[end..])
}

fn cached(tile: Tile) -> Cached<Tile> {
    Cached {
        kind: CacheKind::Tiles,
        weight: u32::try_from(tile.body.len()).unwrap_or(u32::MAX),
        value: tile,
    }
}

fn request_key(layer: &str, z: u32, x: u64, y: u64, media: &str) -> String {
    format!("tile {layer} {z}/{x}/{y} {media}")
}

#[cfg(test)]
mod tests {
    use super::theme;

    #[test]
    fn operation_urls_point_at_the_gateway() {
        let xml = r#"<a><ows:OperationsMetadata><ows:Get xlink:href="https://data.geopf.fr/wmts"/><ows:Get xlink:href="https://mirror/wmts?"/></ows:OperationsMetadata><LegendURL xlink:href="https://data.geopf.fr/legend.png"/></a>"#;
        let out = super::point_operations_at(xml, "http://gw/wmts");
        assert_eq!(out.matches("http://gw/wmts").count(), 2);
        assert!(out.contains("http://gw/wmts?\""));
        assert!(
            out.contains("https://data.geopf.fr/legend.png"),
            "legends are not WMTS operations"
        );
    }

    #[test]
    fn themes_from_identifiers() {
        assert_eq!(theme("ORTHOIMAGERY.ORTHOPHOTOS"), "ortho");
        assert_eq!(theme("CADASTRALPARCELS.PARCELLAIRE_EXPRESS"), "cadastre");
        assert_eq!(theme("GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2"), "maps");
        assert_eq!(theme("ACCES.BIOMETHANE"), "other");
    }
}
