//! The basemaps: the WMTS layers of the Géoplateforme (kept current from the capabilities), their
//! tiles in WebMercator XYZ through the image caches, and the capabilities republished with the
//! gateway's URLs.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;

use super::{
    capabilities::{point_operations_at, Capabilities, Current, Item},
    images::{ImageCache, Tile, TileOrigin, Vet},
    ServiceError,
};
use crate::{
    cache::snapshot::Snapshots,
    catalog::wmts::{parse_capabilities, WmtsLayer},
    upstream::{Api, UpstreamRequest},
};

/// The WMTS GetCapabilities request.
pub fn capabilities_request() -> UpstreamRequest {
    UpstreamRequest::new(Api::Wmts, "/wmts")
        .param("SERVICE", "WMTS")
        .param("VERSION", "1.0.0")
        .param("REQUEST", "GetCapabilities")
}

pub struct Basemaps {
    caps: Arc<Capabilities<WmtsLayer>>,
    images: ImageCache,
}

impl Basemaps {
    pub fn new(images: ImageCache, snapshots: Option<Snapshots>) -> Self {
        let caps = Capabilities::new(
            "wmts",
            images.client().clone(),
            capabilities_request(),
            (parse_capabilities, |l: &WmtsLayer| l.id.as_str()),
            snapshots,
        );
        Basemaps {
            caps: Arc::new(caps),
            images,
        }
    }

    /// The capabilities document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<WmtsLayer> {
        &self.caps
    }

    /// The WMTS capabilities republished at `public_wmts` (the gateway's `/wmts`): the upstream's
    /// links replaced by the gateway's, and a REST `ResourceURL` added to every layer.
    pub fn republished_capabilities(&self, public_wmts: &str) -> Option<Bytes> {
        let upstream = self.images.client().base_url();
        self.caps
            .republished(public_wmts, |state| republish(state, upstream, public_wmts))
    }

    /// Bytes of tiles and maps held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.images.memory_bytes()
    }

    /// Bytes held by the disk store.
    pub fn disk_bytes(&self) -> u64 {
        self.images.disk().map_or(0, |d| d.size())
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
        self.images
            .seed(&key, &get_tile(layer, z, x, y, media), Vet::Image)
            .await
    }

    /// The disk store, if there is one (seeding reports its size).
    pub fn disk(&self) -> Option<&crate::cache::disk::DiskStore> {
        self.images.disk()
    }

    /// Layer `layer_id`, or a 404 saying where the basemaps are listed.
    fn find(&self, layer_id: &str) -> Result<Item<WmtsLayer>, ServiceError> {
        self.layer(layer_id).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "there is no basemap {layer_id:?} (see /catalog.json)"
            ))
        })
    }

    /// Layer `layer_id` for XYZ tiles, or a 404 saying why (unknown, or not published in
    /// WebMercator).
    pub fn xyz_layer(&self, layer_id: &str) -> Result<Item<WmtsLayer>, ServiceError> {
        let layer = self.find(layer_id)?;
        if !layer.is_xyz() {
            return Err(ServiceError::NotFound(format!(
                "{layer_id} is not published in WebMercator ({})",
                layer.tile_matrix_set
            )));
        }
        Ok(layer)
    }

    /// The cache key of tile z/x/y in `format` of layer `layer_id` if `fits` the layer: what a
    /// hit needs and nothing more (the HTTP fast path for cached tiles). `None` for anything
    /// else, which the full path answers (an unknown layer, a tile outside it, a bad format).
    pub fn hit_key(
        &self,
        layer_id: &str,
        fits: impl FnOnce(&WmtsLayer) -> bool,
        z: u32,
        x: u64,
        y: u64,
        format: &str,
    ) -> Option<String> {
        self.caps
            .with(layer_id, |layer| {
                fits(layer)
                    .then(|| tile_key(layer, z, x, y, format).ok().map(|(_, key)| key))
                    .flatten()
            })
            .flatten()
    }

    /// The tile under `key` ([`Basemaps::hit_key`]) if it is in memory.
    pub async fn cached(&self, key: &str) -> Option<Tile> {
        self.images.cached(key).await
    }

    /// Tile `x` (column), `y` (row) of level `z` of `layer` on its own tile matrix set (XYZ
    /// tiles: WebMercator), in `format` (`png`, `jpeg`, or a media type) — or in the layer's own
    /// format when it has not that one, as the upstream answers (a `.png` asked of a JPEG layer
    /// is its JPEG tile, with its own `Content-Type`).
    pub async fn tile(
        &self,
        layer: Item<WmtsLayer>,
        z: u32,
        x: u64,
        y: u64,
        format: &str,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        let (media, key) = tile_key(&layer, z, x, y, format)?;
        // A hit builds no upstream request.
        if let Some(tile) = self.images.cached(&key).await {
            return Ok((tile, TileOrigin::hit()));
        }
        self.images
            .get(key, &get_tile(&layer, z, x, y, media))
            .await
    }
}

/// The media type to ask of the upstream for tile z/x/y of `layer` in `format`, and its cache key;
/// an error for a format that is neither PNG nor JPEG, or a tile outside the layer.
fn tile_key<'l>(
    layer: &'l WmtsLayer,
    z: u32,
    x: u64,
    y: u64,
    format: &str,
) -> Result<(&'l str, String), ServiceError> {
    let layer_id = layer.id.as_str();
    let asked = match format {
        "png" | "image/png" => "image/png",
        "jpeg" | "jpg" | "image/jpeg" => "image/jpeg",
        other => {
            return Err(ServiceError::invalid(
                "format",
                format!("{other:?} is not png or jpeg"),
            ))
        }
    };
    let media = if layer.formats.iter().any(|f| f == asked) {
        asked
    } else {
        match layer.formats.first() {
            Some(own) => own.as_str(),
            None => asked,
        }
    };
    if !layer.has_tile(z, x, y) {
        let (lo, hi) = layer.zoom_range().unwrap_or((0, 0));
        return Err(ServiceError::NotFound(format!(
            "tile {z}/{x}/{y} is outside {layer_id} (zoom {lo} to {hi}, and the layer's extent)"
        )));
    }
    Ok((media, request_key(layer_id, z, x, y, media)))
}

/// The WMTS capabilities with the gateway's URLs: the upstream's links replaced by `public_wmts`,
/// and a REST `ResourceURL` added to every layer. A WebMercator layer is also linked to the
/// generic `PM` matrix set (without limits) when the document defines it: the form countless
/// existing projects and scripts use (`TILEMATRIXSET=PM`), which the Géoplateforme accepts and so
/// does the gateway — QGIS finds the set it was saved with (3.22 crashes on a set a layer lacks).
fn republish(state: &Current<WmtsLayer>, upstream: &str, public_wmts: &str) -> String {
    let upstream_wmts = format!("{upstream}/wmts");
    let text = point_operations_at(
        &state.text.replace(&upstream_wmts, public_wmts),
        ("<ows:OperationsMetadata", "</ows:OperationsMetadata>"),
        public_wmts,
    );
    let parts: Vec<&str> = text.split("</TileMatrixSetLink>").collect();
    // One TileMatrixSetLink per layer, in document order: the k-th closes the k-th layer.
    if parts.len() != state.items.len() + 1 {
        return text;
    }
    let generic_pm = text.contains("<ows:Identifier>PM</ows:Identifier>");
    let mut out = String::with_capacity(text.len() + state.items.len() * 300);
    for (part, layer) in parts.iter().zip(state.items.iter()) {
        out.push_str(part);
        out.push_str("</TileMatrixSetLink>");
        if generic_pm && layer.is_xyz() && layer.tile_matrix_set != "PM" {
            out.push_str(
                "<TileMatrixSetLink><TileMatrixSet>PM</TileMatrixSet></TileMatrixSetLink>",
            );
        }
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
    out
}

/// The WMTS GetTile of tile z/x/y on the layer's matrix set and default style.
fn get_tile(layer: &WmtsLayer, z: u32, x: u64, y: u64, media: &str) -> UpstreamRequest {
    UpstreamRequest::new(Api::Wmts, "/wmts")
        .param("SERVICE", "WMTS")
        .param("VERSION", "1.0.0")
        .param("REQUEST", "GetTile")
        .param("LAYER", &layer.id)
        .param("STYLE", layer.default_style())
        .param("FORMAT", media)
        .param("TILEMATRIXSET", &layer.tile_matrix_set)
        .param("TILEMATRIX", z)
        .param("TILEROW", y)
        .param("TILECOL", x)
}

/// The cache key of a tile, `tile {layer} {z}/{x}/{y} {media}`: built piece by piece, as it is
/// on every cached tile's way (`format!` cost a cached tile 4 % of its instructions).
fn request_key(layer: &str, z: u32, x: u64, y: u64, media: &str) -> String {
    let mut number = itoa::Buffer::new();
    let mut key = String::with_capacity(layer.len() + media.len() + 40);
    key.push_str("tile ");
    key.push_str(layer);
    key.push(' ');
    key.push_str(number.format(z));
    key.push('/');
    key.push_str(number.format(x));
    key.push('/');
    key.push_str(number.format(y));
    key.push(' ');
    key.push_str(media);
    key
}

#[cfg(test)]
mod tests {
    #[test]
    fn tile_keys_read_like_the_request() {
        assert_eq!(
            super::request_key("PLAN", 6, 32, 22, "image/png"),
            "tile PLAN 6/32/22 image/png"
        );
    }
}
