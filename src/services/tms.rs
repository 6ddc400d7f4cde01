//! The TMS vector tile layers (`/tms/1.0.0`): their list kept current like the other capabilities
//! (snapshot on disk, conditional refresh), for the catalogue; their tiles through the tile caches
//! (memory, disk, seedable), and their MapLibre styles with every URL pointed at the gateway.

use std::{sync::Arc, time::Duration};

use serde_json::Value;

use super::{
    capabilities::{Capabilities, Current},
    images::{ImageCache, Tile, TileOrigin, Vet},
    ServiceError,
};
use crate::{
    cache::snapshot::Snapshots,
    catalog::tms::{parse_service, parse_tile_map_styles, TmsLayer},
    upstream::{Api, SharedUpstream, UpstreamError, UpstreamRequest},
};

/// The TMS service document's path.
pub const PATH: &str = "/tms/1.0.0";
/// Where the Géoplateforme keeps the vector layers' styles, sprites and glyphs.
pub const STYLES: &str = "/annexes/ressources/vectorTiles/styles";
/// The deepest zoom level asked of the upstream.
const MAX_ZOOM: u32 = 22;
/// The Géoplateforme's public address, which its styles name whatever upstream the gateway uses.
pub const GEOPF: &str = "https://data.geopf.fr";
/// The glyph ranges kept when seeding: Latin-1, Latin Extended-A (œ, Œ…), general punctuation
/// (’, –, …): what French place names are written with. Others are fetched when a text needs them.
const GLYPH_RANGES: [&str; 3] = ["0-255", "256-511", "8192-8447"];

pub struct TmsService {
    caps: Arc<Capabilities<TmsLayer>>,
    images: ImageCache,
}

type Styles = Arc<Vec<(String, String)>>;

impl TmsService {
    pub fn new(client: SharedUpstream, snapshots: Option<Snapshots>, images: ImageCache) -> Self {
        // TMS, like WMTS, is not rate limited upstream: the WMTS bucket (unlimited by default).
        let caps = Capabilities::new(
            "tms",
            client,
            UpstreamRequest::new(Api::Wmts, PATH),
            (parse_service, |l: &TmsLayer| l.id.as_str()),
            snapshots,
        );
        TmsService {
            caps: Arc::new(caps),
            images,
        }
    }

    pub fn state(&self) -> Current<TmsLayer> {
        self.caps.current()
    }

    /// The document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<TmsLayer> {
        &self.caps
    }

    pub fn layers(&self) -> Arc<Vec<TmsLayer>> {
        self.caps.items()
    }

    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        self.caps.refresh().await
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.caps.clone().spawn_refresh(every)
    }

    /// A vector layer of the TMS, or a 404 naming the layers there are.
    fn vector_layer(&self, id: &str) -> Result<TmsLayer, ServiceError> {
        match self.caps.get(id) {
            Some(item) if item.is_vector() => Ok((*item).clone()),
            _ => {
                let ids: Vec<String> = self
                    .layers()
                    .iter()
                    .filter(|l| l.is_vector())
                    .map(|l| l.id.clone())
                    .collect();
                Err(ServiceError::NotFound(format!(
                    "{id:?} is not a vector tile layer (those of the TMS: {})",
                    ids.join(", ")
                )))
            }
        }
    }

    /// Vector tile z/x/y of layer `id` (XYZ numbering, as the upstream's own styles use it),
    /// through the tile caches.
    pub async fn tile(
        &self,
        id: &str,
        z: u32,
        x: u64,
        y: u64,
    ) -> Result<(Tile, TileOrigin), ServiceError> {
        let layer = self.vector_layer(id)?;
        let side = 1u64 << z.min(MAX_ZOOM);
        if z > MAX_ZOOM || x >= side || y >= side {
            return Err(ServiceError::NotFound(format!(
                "no tile {z}/{x}/{y} in {id} (zoom 0 to {MAX_ZOOM})"
            )));
        }
        let key = tile_key(&layer, z, x, y);
        if let Some(tile) = self.images.cached(&key).await {
            return Ok((tile, TileOrigin::hit()));
        }
        self.images.get(key, &get_tile(&layer, z, x, y)).await
    }

    /// Puts vector tile z/x/y of layer `id` on disk unless a fresh copy is there (`None` then,
    /// else the bytes fetched), for the seeder.
    pub async fn seed_tile(
        &self,
        id: &str,
        z: u32,
        x: u64,
        y: u64,
    ) -> Result<Option<usize>, ServiceError> {
        let layer = self.vector_layer(id)?;
        let key = tile_key(&layer, z, x, y);
        self.images
            .seed(&key, &get_tile(&layer, z, x, y), Vet::Image)
            .await
    }

    /// Whether `id` is a vector tile layer of the TMS.
    pub fn is_vector_layer(&self, id: &str) -> bool {
        self.vector_layer(id).is_ok()
    }

    /// The styles of layer `id`, as its TileMap lists them (the default first). The TileMap is
    /// kept like the tiles (memory, disk, stale-if-error): a seeded gateway finds it offline.
    pub async fn styles(&self, id: &str) -> Result<Styles, ServiceError> {
        let layer = self.vector_layer(id)?;
        let request = UpstreamRequest::new(Api::Wmts, format!("{PATH}/{}", layer.id));
        let (tile_map, _) = self.images.resource(&request).await?;
        parse_tile_map_styles(&String::from_utf8_lossy(&tile_map.body))
            .map(Arc::new)
            .map_err(|reason| bad_body(reason).into())
    }

    /// Where style `style` of layer `id` is upstream: where its TileMap says (a layer's styles may
    /// sit in another's folder), else where the Géoplateforme keeps them; `default` is the first
    /// its TileMap lists.
    async fn style_path(&self, layer: &TmsLayer, style: &str) -> Result<String, ServiceError> {
        if style.is_empty()
            || style.len() > 64
            || !style
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ServiceError::invalid(
                "style",
                "letters, digits, '_' and '-' only (e.g. standard)",
            ));
        }
        let listed = self.styles(&layer.id).await.ok();
        let path = match listed.as_deref() {
            Some(list) if style == "default" => list.first().map(|(_, p)| p.clone()),
            Some(list) => list
                .iter()
                .find(|(n, _)| n == style)
                .map(|(_, p)| p.clone()),
            None => None,
        };
        match path {
            Some(p) => Ok(p),
            None if style == "default" => Err(ServiceError::NotFound(format!(
                "{}: its TileMap lists no style",
                layer.id
            ))),
            None => Ok(format!("{STYLES}/{}/{style}.json", layer.id)),
        }
    }

    /// Style `style` of layer `id` as the upstream publishes it, kept like the tiles (memory,
    /// disk, stale-if-error, seedable).
    pub async fn style(&self, id: &str, style: &str) -> Result<Value, ServiceError> {
        let layer = self.vector_layer(id)?;
        let request = UpstreamRequest::new(Api::Wmts, self.style_path(&layer, style).await?);
        self.json_resource(&request, "style")
            .await
            .map_err(|e| match e {
                ServiceError::Upstream(UpstreamError::Status { status: 404, .. }) => {
                    ServiceError::NotFound(format!("{id} has no style {style:?}"))
                }
                other => other,
            })
    }

    /// The layer's TileJSON as the upstream publishes it (`metadata.json`: zoom range, bounds,
    /// the source layers and their fields), kept like the tiles.
    pub async fn tilejson(&self, id: &str) -> Result<Value, ServiceError> {
        let layer = self.vector_layer(id)?;
        let request = UpstreamRequest::new(Api::Wmts, format!("{PATH}/{}/metadata.json", layer.id));
        self.json_resource(&request, "TileJSON").await
    }

    /// A JSON document of the upstream (`what`: a style, a TileJSON), kept like the tiles.
    async fn json_resource(
        &self,
        request: &UpstreamRequest,
        what: &str,
    ) -> Result<Value, ServiceError> {
        let (answer, _) = self.images.resource(request).await?;
        serde_json::from_slice(&answer.body)
            .map_err(|e| bad_body(format!("the {what} is not JSON ({e})")).into())
    }
}

/// A TileJSON with its tiles at the gateway (`gateway_tiles`, the `{z}/{x}/{y}` template).
pub fn rewrite_tilejson(tilejson: &mut Value, gateway_tiles: &str) {
    if let Some(doc) = tilejson.as_object_mut() {
        doc.insert("tiles".into(), Value::from(vec![gateway_tiles]));
        doc.entry("tilejson")
            .or_insert_with(|| Value::from("3.0.0"));
        doc.insert("scheme".into(), Value::from("xyz"));
    }
}

fn tile_key(layer: &TmsLayer, z: u32, x: u64, y: u64) -> String {
    format!("tms/{}/{z}/{x}/{y}.pbf", layer.id)
}

fn get_tile(layer: &TmsLayer, z: u32, x: u64, y: u64) -> UpstreamRequest {
    UpstreamRequest::new(
        Api::Wmts,
        format!("{PATH}/{}/{z}/{x}/{y}.{}", layer.id, layer.extension),
    )
}

fn bad_body(reason: String) -> UpstreamError {
    UpstreamError::BadBody {
        api: Api::Wmts,
        reason,
    }
}

/// A style with its URLs pointed at the gateway: the tiles of the Géoplateforme's TMS at its
/// `/tiles/{id}/{z}/{x}/{y}.pbf` (cached like the raster tiles), any other URL of the upstream
/// (`sprite`, `glyphs`, a TileJSON `url`) at its guarded mirror `/geopf/…`. URLs elsewhere stay.
pub fn rewrite_style(style: &mut Value, gateway: &str, upstreams: &[&str]) {
    let to_gateway = |url: &str| -> Option<String> {
        let path = upstream_path(url, upstreams)?;
        let layer = |rest: &str| {
            let rest = rest.trim_start_matches('/');
            rest.split('/').next().unwrap_or_default().to_string()
        };
        Some(match path.strip_prefix(PATH) {
            Some(rest)
                if rest.ends_with("/{z}/{x}/{y}.pbf") || rest.ends_with("/{z}/{x}/{y}.mvt") =>
            {
                format!("{gateway}/tiles/{}/{{z}}/{{x}}/{{y}}.pbf", layer(rest))
            }
            // A TileJSON source: the gateway's, whose tiles are the gateway's too.
            Some(rest) if rest.ends_with("/metadata.json") => {
                format!("{gateway}/tiles/{}/tilejson.json", layer(rest))
            }
            _ => format!("{gateway}/geopf{path}"),
        })
    };
    let rewrite = |v: &mut Value| {
        if let Some(new) = v.as_str().and_then(to_gateway) {
            *v = Value::String(new);
        }
    };
    for key in ["sprite", "glyphs"] {
        if let Some(v) = style.get_mut(key) {
            match v {
                // A sprite may also be a list of {id, url}.
                Value::Array(items) => items
                    .iter_mut()
                    .filter_map(|i| i.get_mut("url"))
                    .for_each(rewrite),
                other => rewrite(other),
            }
        }
    }
    if let Some(sources) = style.get_mut("sources").and_then(Value::as_object_mut) {
        for source in sources.values_mut() {
            if let Some(url) = source.get_mut("url") {
                rewrite(url);
            }
            for key in ["tiles", "urls"] {
                if let Some(list) = source.get_mut(key).and_then(Value::as_array_mut) {
                    list.iter_mut().for_each(rewrite);
                }
            }
        }
    }
}

/// The path of `url` on one of the `upstreams` (starting with `/`), if it is there.
fn upstream_path<'a>(url: &'a str, upstreams: &[&str]) -> Option<&'a str> {
    upstreams
        .iter()
        .find_map(|u| url.strip_prefix(u.trim_end_matches('/')))
        .filter(|path| path.starts_with('/'))
}

/// The upstream paths a style needs besides its tiles, for the seeder: its sprite sheets (index
/// and image) and the [`GLYPH_RANGES`] of every font stack its symbols use (as a map client asks
/// for them: the fonts joined by commas). URLs elsewhere than the `upstreams` are left out.
pub fn style_resources(style: &Value, upstreams: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let sprites: Vec<&str> = match style.get("sprite") {
        Some(Value::String(url)) => vec![url],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.get("url").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    };
    for sprite in sprites {
        if let Some(path) = upstream_path(sprite, upstreams).filter(|p| !p.contains('?')) {
            out.push(format!("{path}.json"));
            out.push(format!("{path}.png"));
        }
    }
    let glyphs = style
        .get("glyphs")
        .and_then(Value::as_str)
        .and_then(|url| upstream_path(url, upstreams))
        .filter(|p| p.contains("{fontstack}") && p.contains("{range}") && !p.contains('?'));
    if let Some(glyphs) = glyphs {
        let mut stacks = std::collections::BTreeSet::new();
        for layer in style
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(fonts) = layer.pointer("/layout/text-font") {
                font_stacks(fonts, &mut stacks);
            }
        }
        for stack in stacks {
            for range in GLYPH_RANGES {
                out.push(
                    glyphs
                        .replace("{fontstack}", &stack)
                        .replace("{range}", range),
                );
            }
        }
    }
    out
}

/// The font stacks a `text-font` value names: a list of font names, or such lists inside an
/// expression (`["literal", […]]`, `["step", ["zoom"], […], 10, […]]`…). A list is taken for
/// font names when each looks like one (a capital or a space: expression operators have neither).
fn font_stacks(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    let Value::Array(items) = value else { return };
    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
    match names {
        Some(names)
            if !names.is_empty()
                && names
                    .iter()
                    .all(|n| n.contains(' ') || n.chars().any(char::is_uppercase)) =>
        {
            out.insert(names.join(","));
        }
        _ => items.iter().for_each(|i| font_stacks(i, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_style_points_at_the_gateway_and_nowhere_else() {
        let mut style = json!({
            "glyphs": "https://data.geopf.fr/annexes/ressources/vectorTiles/fonts/{fontstack}/{range}.pbf",
            "sprite": "https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn",
            "sources": {
                "plan_ign": {"type": "vector", "tiles": ["https://data.geopf.fr/tms/1.0.0/PLAN.IGN/{z}/{x}/{y}.pbf"]},
                "meta": {"type": "vector", "url": "http://fake:9/tms/1.0.0/PCI/metadata.json"},
                "other": {"type": "raster", "tiles": ["https://tile.example.org/{z}/{x}/{y}.png"]}
            }
        });
        rewrite_style(
            &mut style,
            "http://gw",
            &["https://data.geopf.fr", "http://fake:9/"],
        );
        assert_eq!(
            style["glyphs"],
            "http://gw/geopf/annexes/ressources/vectorTiles/fonts/{fontstack}/{range}.pbf"
        );
        assert_eq!(
            style["sprite"],
            "http://gw/geopf/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn"
        );
        assert_eq!(
            style["sources"]["plan_ign"]["tiles"][0],
            "http://gw/tiles/PLAN.IGN/{z}/{x}/{y}.pbf"
        );
        assert_eq!(
            style["sources"]["meta"]["url"],
            "http://gw/tiles/PCI/tilejson.json"
        );
        assert_eq!(
            style["sources"]["other"]["tiles"][0],
            "https://tile.example.org/{z}/{x}/{y}.png"
        );
    }

    #[test]
    fn a_style_needs_its_sprites_and_the_glyphs_of_its_font_stacks() {
        let style = json!({
            "glyphs": "https://data.geopf.fr/annexes/ressources/vectorTiles/fonts/{fontstack}/{range}.pbf",
            "sprite": "https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn",
            "layers": [
                {"id": "a", "layout": {"text-font": ["Source Sans Pro Regular"]}},
                {"id": "b", "layout": {"text-font": ["step", ["zoom"], ["literal", ["Source Sans Pro Italic", "Arial"]], 12, ["literal", ["Source Sans Pro Regular"]]]}},
                {"id": "c", "layout": {"icon-image": "x"}}
            ]
        });
        let paths = style_resources(&style, &[GEOPF]);
        let sprite = "/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn";
        assert!(paths.contains(&format!("{sprite}.json")));
        assert!(paths.contains(&format!("{sprite}.png")));
        let fonts = "/annexes/ressources/vectorTiles/fonts";
        assert!(paths.contains(&format!("{fonts}/Source Sans Pro Regular/0-255.pbf")));
        assert!(paths.contains(&format!("{fonts}/Source Sans Pro Italic,Arial/256-511.pbf")));
        // Two stacks, three ranges each, and the sprite's two files; "zoom" is no font.
        assert_eq!(paths.len(), 2 + 2 * GLYPH_RANGES.len(), "{paths:?}");
        // A style of another host's glyphs (maptiler, with a key): not the upstream's to seed.
        let elsewhere = json!({"glyphs": "https://api.maptiler.com/fonts/{fontstack}/{range}.pbf?key={key}",
            "layers": [{"layout": {"text-font": ["Noto Sans Regular"]}}]});
        assert!(style_resources(&elsewhere, &[GEOPF]).is_empty());
    }
}
