//! The basemaps: the WMTS layers of the Géoplateforme, their catalogue (refreshed from the
//! capabilities) and their tiles in WebMercator XYZ, fetched through the memory cache.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use reqwest::header::HeaderValue;
use tokio::sync::Semaphore;

use super::{
    capabilities::{Capabilities, Current, Item},
    ServiceError,
};
use crate::{
    cache::{
        disk::{DiskStore, Stored},
        snapshot::Snapshots,
        CacheKind, CacheStatus, Cached, MemoryCache,
    },
    catalog::wmts::{parse_capabilities, WmtsLayer},
    upstream::{Api, UpstreamClient, UpstreamError, UpstreamRequest, UpstreamResponse},
};

/// A tile (or map) as cached: its media type, bytes and a strong validator. The media type and
/// validator are kept as header values, so answering a cache hit copies nothing.
#[derive(Debug, Clone)]
pub struct Tile {
    pub content_type: HeaderValue,
    pub body: Bytes,
    pub etag: HeaderValue,
}

/// Where images (tiles, maps) come from: the upstream client, behind a cap on how many image
/// requests are in flight at once (`upstream.max_tile_fetches`), so a pan storm or a seeding run
/// queues instead of opening hundreds of connections.
#[derive(Clone)]
pub struct ImageFetcher {
    client: UpstreamClient,
    in_flight: Arc<Semaphore>,
}

impl ImageFetcher {
    pub fn new(client: UpstreamClient, max_in_flight: usize) -> Self {
        ImageFetcher {
            client,
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    pub fn client(&self) -> &UpstreamClient {
        &self.client
    }

    /// The upstream's image answer to `request`; any other media type is a bad body.
    pub async fn get(&self, request: &UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| UpstreamError::Unreachable {
                api: request.api,
                reason: "the gateway is shutting down".into(),
            })?;
        let r = self.client.get(request).await?;
        if !r.content_type.starts_with("image/") {
            return Err(UpstreamError::BadBody {
                api: request.api,
                reason: format!("a {} answer instead of an image", r.content_type),
            });
        }
        Ok(r)
    }
}

pub struct Basemaps {
    caps: Arc<Capabilities<WmtsLayer>>,
    images: ImageFetcher,
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

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Tile {
    /// An image as the upstream sent it, with a validator of its bytes.
    pub fn from_upstream(r: UpstreamResponse) -> Self {
        Tile::new(
            &r.content_type,
            &format!("\"{:016x}\"", fnv1a(&r.body)),
            r.body,
        )
    }

    fn new(content_type: &str, etag: &str, body: Bytes) -> Self {
        Tile {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            etag: HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\"")),
            body,
        }
    }

    fn from_disk(stored: Stored) -> Self {
        Tile::new(&stored.content_type, &stored.etag, Bytes::from(stored.body))
    }
}

/// The WMTS GetCapabilities request.
pub fn capabilities_request() -> UpstreamRequest {
    UpstreamRequest::new(Api::Wmts, "/wmts")
        .param("SERVICE", "WMTS")
        .param("VERSION", "1.0.0")
        .param("REQUEST", "GetCapabilities")
}

impl Basemaps {
    pub fn new(
        images: ImageFetcher,
        tiles: MemoryCache<Tile>,
        disk: Option<DiskStore>,
        fresh_for: Duration,
        snapshots: Option<Snapshots>,
    ) -> Self {
        let caps = Capabilities::new(
            "wmts",
            images.client.clone(),
            capabilities_request(),
            (parse_capabilities, |l: &WmtsLayer| l.id.as_str()),
            snapshots,
        );
        Basemaps {
            caps: Arc::new(caps),
            images,
            tiles,
            disk: disk.map(Arc::new),
            fresh_for,
        }
    }

    /// The capabilities document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<WmtsLayer> {
        &self.caps
    }

    /// The WMTS capabilities republished at `public_wmts` (the gateway's `/wmts`): the upstream's
    /// links replaced by the gateway's, and a REST `ResourceURL` added to every layer.
    pub fn republished_capabilities(&self, public_wmts: &str) -> Option<String> {
        let state = self.state();
        if state.text.is_empty() {
            return None;
        }
        let upstream_wmts = format!("{}/wmts", self.images.client.base_url());
        let text = point_operations_at(
            &state.text.replace(&upstream_wmts, public_wmts),
            ("<ows:OperationsMetadata", "</ows:OperationsMetadata>"),
            public_wmts,
        );
        let parts: Vec<&str> = text.split("</TileMatrixSetLink>").collect();
        // One TileMatrixSetLink per layer, in document order: the k-th closes the k-th layer.
        if parts.len() != state.items.len() + 1 {
            return Some(text);
        }
        let mut out = String::with_capacity(text.len() + state.items.len() * 200);
        for (part, layer) in parts.iter().zip(state.items.iter()) {
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

    /// The layers in use and the document they come from.
    pub fn state(&self) -> Current<WmtsLayer> {
        self.caps.current()
    }

    pub fn layer(&self, id: &str) -> Option<Item<WmtsLayer>> {
        self.caps.get(id)
    }

    /// The layers in use.
    pub fn layers(&self) -> Arc<Vec<WmtsLayer>> {
        self.caps.items()
    }

    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        self.caps.refresh().await
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.caps.clone().spawn_refresh(every)
    }

    /// A copy on disk younger than the tiles' time to live.
    fn fresh_on_disk(&self, key: &str) -> Option<Tile> {
        let stored = self
            .disk
            .as_ref()?
            .get(key)
            .filter(|s| s.age() < self.fresh_for)?;
        Some(Tile::from_disk(stored))
    }

    /// Fetches a tile (WMTS GetTile on the layer's matrix set and default style) and keeps it on
    /// disk.
    async fn fetch_to_disk(
        &self,
        layer: &WmtsLayer,
        z: u32,
        x: u64,
        y: u64,
        media: &str,
        key: &str,
    ) -> Result<Tile, UpstreamError> {
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
        let tile = Tile::from_upstream(self.images.get(&request).await?);
        if let Some(d) = &self.disk {
            let stored = Stored {
                content_type: tile.content_type.to_str().unwrap_or_default().to_string(),
                etag: tile.etag.to_str().unwrap_or_default().to_string(),
                fetched: SystemTime::now(),
                body: tile.body.to_vec(),
            };
            if let Err(e) = d.put(key, &stored) {
                tracing::warn!(error = %e, "a tile could not be written to the disk store");
            }
        }
        Ok(tile)
    }

    /// Seeds one tile into the disk store: `None` when a fresh copy is there already, else the
    /// bytes fetched. Bypasses the memory cache.
    pub async fn seed_tile(
        &self,
        layer: &WmtsLayer,
        z: u32,
        x: u64,
        y: u64,
        media: &str,
    ) -> Result<Option<usize>, ServiceError> {
        let key = request_key(&layer.id, z, x, y, media);
        if self.fresh_on_disk(&key).is_some() {
            return Ok(None);
        }
        let tile = self.fetch_to_disk(layer, z, x, y, media, &key).await?;
        Ok(Some(tile.body.len()))
    }

    /// The disk store, if there is one (seeding reports its size).
    pub fn disk(&self) -> Option<&DiskStore> {
        self.disk.as_deref()
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
        let key = request_key(layer_id, z, x, y, media);
        let fetch = async {
            if let Some(tile) = self.fresh_on_disk(&key) {
                return Ok(cached(tile));
            }
            self.fetch_to_disk(&layer, z, x, y, media, &key)
                .await
                .map(cached)
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
                        let tile = Tile::from_disk(stored);
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

/// Every link (`xlink:href`) inside the document's `section` (its opening and closing tags: the
/// operations metadata) set to `public`: the document may name another host than the configured
/// upstream (a mirror, a recording).
pub fn point_operations_at(xml: &str, section: (&str, &str), public: &str) -> String {
    let (Some(start), Some(end)) = (xml.find(section.0), xml.find(section.1)) else {
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

pub fn cached(tile: Tile) -> Cached<Tile> {
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
    #[test]
    fn operation_urls_point_at_the_gateway() {
        let xml = r#"<a><ows:OperationsMetadata><ows:Get xlink:href="https://data.geopf.fr/wmts"/><ows:Get xlink:href="https://mirror/wmts?"/></ows:OperationsMetadata><LegendURL xlink:href="https://data.geopf.fr/legend.png"/></a>"#;
        let section = ("<ows:OperationsMetadata", "</ows:OperationsMetadata>");
        let out = super::point_operations_at(xml, section, "http://gw/wmts");
        assert_eq!(out.matches("http://gw/wmts").count(), 2);
        assert!(out.contains("http://gw/wmts?\""));
        assert!(
            out.contains("https://data.geopf.fr/legend.png"),
            "legends are not WMTS operations"
        );
    }
}
