//! The TMS vector tile layers (`/tms/1.0.0`): their list kept current like the other capabilities
//! (snapshot on disk, conditional refresh), for the catalogue; their tiles through the tile caches
//! (memory, disk, seedable), and their MapLibre styles with every URL pointed at the gateway.

use std::{sync::Arc, time::Duration};

use serde_json::Value;

use super::{
    capabilities::{Capabilities, Current},
    fetch::Fetcher,
    images::{ImageCache, Tile, TileOrigin},
    ServiceError,
};
use crate::{
    cache::{snapshot::Snapshots, CacheKind},
    catalog::tms::{parse_service, parse_tile_map_styles, TmsLayer},
    upstream::{Api, SharedUpstream, UpstreamError, UpstreamRequest},
};

/// The TMS service document's path.
pub const PATH: &str = "/tms/1.0.0";
/// Where the Géoplateforme keeps the vector layers' styles, sprites and glyphs.
pub const STYLES: &str = "/annexes/ressources/vectorTiles/styles";
/// The deepest zoom level asked of the upstream.
const MAX_ZOOM: u32 = 22;

pub struct TmsService {
    caps: Arc<Capabilities<TmsLayer>>,
    images: ImageCache,
    fetcher: Fetcher,
    /// Per layer, the styles its TileMap lists: (name, upstream path), the default first.
    styles: moka::future::Cache<String, Styles>,
}

type Styles = Arc<Vec<(String, String)>>;

impl TmsService {
    pub fn new(
        client: SharedUpstream,
        snapshots: Option<Snapshots>,
        images: ImageCache,
        fetcher: Fetcher,
    ) -> Self {
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
            fetcher,
            styles: moka::future::Cache::builder()
                .max_capacity(64)
                .time_to_live(Duration::from_secs(3600))
                .build(),
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
        let key = format!("tms/{}/{z}/{x}/{y}.pbf", layer.id);
        if let Some(tile) = self.images.cached(&key).await {
            return Ok((tile, TileOrigin::hit()));
        }
        let request = UpstreamRequest::new(
            Api::Wmts,
            format!("{PATH}/{}/{z}/{x}/{y}.{}", layer.id, layer.extension),
        );
        self.images.get(key, &request).await
    }

    /// The styles of layer `id`, as its TileMap lists them (the default first).
    pub async fn styles(&self, id: &str) -> Result<Styles, ServiceError> {
        let layer = self.vector_layer(id)?;
        let client = self.images.client().clone();
        self.styles
            .try_get_with(layer.id.clone(), async move {
                let request = UpstreamRequest::new(Api::Wmts, format!("{PATH}/{}", layer.id));
                let answer = client.get(&request).await?;
                let text = String::from_utf8_lossy(&answer.body);
                parse_tile_map_styles(&text)
                    .map(Arc::new)
                    .map_err(|reason| UpstreamError::BadBody {
                        api: Api::Wmts,
                        reason,
                    })
            })
            .await
            .map_err(|e| ServiceError::Upstream((*e).clone()))
    }

    /// Style `style` of layer `id` as the upstream publishes it (cached like capabilities);
    /// `default` is the first its TileMap lists.
    pub async fn style(&self, id: &str, style: &str) -> Result<Arc<Value>, ServiceError> {
        let layer = self.vector_layer(id)?;
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
        // Where the TileMap says the style is (a layer's styles may sit in another's folder),
        // else where the Géoplateforme keeps them.
        let listed = self.styles(id).await.ok();
        let path = match listed.as_deref() {
            Some(list) if style == "default" => list.first().map(|(_, p)| p.clone()),
            Some(list) => list
                .iter()
                .find(|(n, _)| n == style)
                .map(|(_, p)| p.clone()),
            None => None,
        };
        let path = match path {
            Some(p) => p,
            None if style == "default" => {
                return Err(ServiceError::NotFound(format!(
                    "{id}: its TileMap lists no style"
                )))
            }
            None => format!("{STYLES}/{}/{style}.json", layer.id),
        };
        let request = UpstreamRequest::new(Api::Wmts, path);
        let (answer, _) = self
            .fetcher
            .raw_json(request, CacheKind::Capabilities)
            .await
            .map_err(|e| match e {
                ServiceError::Upstream(UpstreamError::Status { status: 404, .. }) => {
                    ServiceError::NotFound(format!("{id} has no style {style:?}"))
                }
                other => other,
            })?;
        Ok(Arc::new(answer.value.clone()))
    }
}

/// A style with its URLs pointed at the gateway: the tiles of the Géoplateforme's TMS at its
/// `/tiles/{id}/{z}/{x}/{y}.pbf` (cached like the raster tiles), any other URL of the upstream
/// (`sprite`, `glyphs`, a TileJSON `url`) at its guarded mirror `/geopf/…`. URLs elsewhere stay.
pub fn rewrite_style(style: &mut Value, gateway: &str, upstreams: &[&str]) {
    let to_gateway = |url: &str| -> Option<String> {
        let path = upstreams
            .iter()
            .find_map(|u| url.strip_prefix(u.trim_end_matches('/')))?;
        if !path.starts_with('/') {
            return None;
        }
        Some(match path.strip_prefix(PATH) {
            Some(rest)
                if rest.ends_with("/{z}/{x}/{y}.pbf") || rest.ends_with("/{z}/{x}/{y}.mvt") =>
            {
                let layer = rest
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default();
                format!("{gateway}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf")
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
            "http://gw/geopf/tms/1.0.0/PCI/metadata.json"
        );
        assert_eq!(
            style["sources"]["other"]["tiles"][0],
            "https://tile.example.org/{z}/{x}/{y}.png"
        );
    }
}
