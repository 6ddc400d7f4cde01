//! WMS-Raster (`/wms-r/wms`, ROK4 WMS 1.3.0) republished through the gateway: its capabilities
//! (refreshed like the others) with the gateway's URLs, GetMap through the image cache keyed by the
//! normalised query, GetFeatureInfo and GetLegendGraphic passed through.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;

use super::{
    capabilities::{point_operations_at, Capabilities, Current, Item},
    images::{ImageCache, Tile, TileOrigin},
    ServiceError,
};
use crate::{
    cache::snapshot::Snapshots,
    catalog::wms::{parse_capabilities, WmsLayer},
    upstream::{Api, UpstreamRequest, UpstreamResponse},
};

const PATH: &str = "/wms-r/wms";

/// The largest map side the gateway asks for, in pixels (the upstream allows 10 000; a map that
/// large is a download, not a view).
pub const MAX_SIDE: u32 = 4096;

/// The query parameters of a WMS request, keys in upper case (WMS keys are case-insensitive).
#[derive(Debug, Clone, Default)]
pub struct WmsQuery(pub Vec<(String, String)>);

impl WmsQuery {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<&str, ServiceError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ServiceError::invalid(key, "is required"))
    }

    /// The upstream request: the same parameters, sorted, so equal maps share one cache key.
    fn upstream(&self) -> UpstreamRequest {
        let mut params = self.0.clone();
        params.sort();
        params.dedup_by(|a, b| a.0 == b.0);
        params
            .into_iter()
            .fold(UpstreamRequest::new(Api::WmsRaster, PATH), |r, (k, v)| {
                r.param(&k, v)
            })
    }
}

pub struct WmsService {
    caps: Arc<Capabilities<WmsLayer>>,
    images: ImageCache,
}

/// The WMS-R GetCapabilities request.
fn capabilities_request() -> UpstreamRequest {
    UpstreamRequest::new(Api::WmsRaster, PATH)
        .param("SERVICE", "WMS")
        .param("VERSION", "1.3.0")
        .param("REQUEST", "GetCapabilities")
}

impl WmsService {
    pub fn new(images: ImageCache, snapshots: Option<Snapshots>) -> Self {
        let caps = Capabilities::new(
            "wms-r",
            images.client().clone(),
            capabilities_request(),
            (parse_capabilities, |l: &WmsLayer| l.name.as_str()),
            snapshots,
        );
        WmsService {
            caps: Arc::new(caps),
            images,
        }
    }

    /// The layers in use and the document they come from.
    pub fn state(&self) -> Current<WmsLayer> {
        self.caps.current()
    }

    /// The capabilities document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<WmsLayer> {
        &self.caps
    }

    pub fn layer(&self, name: &str) -> Option<Item<WmsLayer>> {
        self.caps.get(name)
    }

    /// The layers in use.
    pub fn layers(&self) -> Arc<Vec<WmsLayer>> {
        self.caps.items()
    }

    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        self.caps.refresh().await
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.caps.clone().spawn_refresh(every)
    }

    /// The capabilities republished at `public` (the gateway's `/wms`): every operation and the
    /// service's own link point at the gateway; legends stay where the upstream serves them.
    pub fn republished_capabilities(&self, public: &str) -> Option<Bytes> {
        let upstream = format!("{}{PATH}", self.images.client().base_url());
        self.caps.republished(public, |state| {
            let text = state.text.replace(&upstream, public);
            let text = point_operations_at(&text, ("<Request>", "</Request>"), public);
            point_operations_at(&text, ("<Service>", "</Service>"), public)
        })
    }

    /// Checks a GetMap's parameters: known layers, a sane size, an image format, a bbox.
    fn check_map(&self, q: &WmsQuery) -> Result<(), ServiceError> {
        let layers = q.required("LAYERS")?;
        if !self.layers().is_empty() {
            if let Some(unknown) = layers.split(',').find(|name| self.layer(name).is_none()) {
                return Err(ServiceError::invalid(
                    "LAYERS",
                    format!("{unknown:?} is not a layer of this WMS (see GetCapabilities)"),
                ));
            }
        }
        for side in ["WIDTH", "HEIGHT"] {
            let value = q.required(side)?;
            match value.parse::<u32>() {
                Ok(n) if (1..=MAX_SIDE).contains(&n) => {}
                _ => {
                    return Err(ServiceError::invalid(
                        side,
                        format!("{value:?} is not a whole number from 1 to {MAX_SIDE}"),
                    ))
                }
            }
        }
        let bbox = q.required("BBOX")?;
        if bbox
            .split(',')
            .filter(|n| n.trim().parse::<f64>().is_ok())
            .count()
            != 4
        {
            return Err(ServiceError::invalid(
                "BBOX",
                format!("{bbox:?} is not four numbers separated by commas"),
            ));
        }
        if q.get("CRS").or(q.get("SRS")).is_none_or(str::is_empty) {
            return Err(ServiceError::invalid("CRS", "is required"));
        }
        let format = q.required("FORMAT")?;
        if !format.starts_with("image/") {
            return Err(ServiceError::invalid(
                "FORMAT",
                format!("{format:?} is not an image format"),
            ));
        }
        Ok(())
    }

    /// A GetMap through the image caches (memory, disk, stale-if-error), keyed by its normalised
    /// query; fetched once for any number of identical requests.
    pub async fn map(&self, q: &WmsQuery) -> Result<(Tile, TileOrigin), ServiceError> {
        self.check_map(q)?;
        let request = q.upstream();
        self.images.get(request.cache_key(), &request).await
    }

    /// GetFeatureInfo or GetLegendGraphic, passed through (not cached).
    pub async fn pass_through(&self, q: &WmsQuery) -> Result<UpstreamResponse, ServiceError> {
        let layer = q.get("LAYERS").or(q.get("LAYER")).unwrap_or_default();
        if layer.is_empty() {
            return Err(ServiceError::invalid("LAYERS", "is required"));
        }
        Ok(self.images.client().get(&q.upstream()).await?)
    }
}
