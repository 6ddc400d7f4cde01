//! The upstream APIs, each with its own published quota and base path.

use std::fmt;

/// One rate-limited upstream API of the Géoplateforme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Geocoding,
    Completion,
    Route,
    Isochrone,
    Altimetry,
    Wfs,
    WmsRaster,
    WmsVector,
    Wmts,
    /// The *Recherche* search API (layers of the Géoplateforme by text or field).
    Recherche,
    /// Every other API, reached through the mirror (annexes, recherche, csw…).
    Other,
    /// The APIs declarative adapters name with a `quota` of their own: the adapters keep those
    /// buckets; here they share the 429 pauses.
    Adapter,
}

impl Api {
    pub const ALL: [Api; 12] = [
        Api::Geocoding,
        Api::Completion,
        Api::Route,
        Api::Isochrone,
        Api::Altimetry,
        Api::Wfs,
        Api::WmsRaster,
        Api::WmsVector,
        Api::Wmts,
        Api::Recherche,
        Api::Other,
        Api::Adapter,
    ];

    /// The key of this API under `upstream.quotas` in the configuration.
    pub fn config_name(self) -> &'static str {
        match self {
            Api::Geocoding => "geocoding",
            Api::Completion => "completion",
            Api::Route => "route",
            Api::Isochrone => "isochrone",
            Api::Altimetry => "altimetry",
            Api::Wfs => "wfs",
            Api::WmsRaster => "wms_raster",
            Api::WmsVector => "wms_vector",
            Api::Wmts => "wmts",
            Api::Recherche => "recherche",
            Api::Other => "other",
            Api::Adapter => "adapters",
        }
    }

    pub fn from_config_name(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|a| a.config_name() == name)
    }

    pub fn config_names() -> Vec<&'static str> {
        Api::ALL.iter().map(|a| a.config_name()).collect()
    }

    /// A human name, used in error messages ("the Géoplateforme geocoding API …").
    pub fn title(self) -> &'static str {
        match self {
            Api::Geocoding => "geocoding",
            Api::Completion => "autocompletion",
            Api::Route => "routing",
            Api::Isochrone => "isochrone",
            Api::Altimetry => "altimetry",
            Api::Wfs => "WFS",
            Api::WmsRaster => "WMS-Raster",
            Api::WmsVector => "WMS-Vecteur",
            Api::Wmts => "WMTS",
            Api::Recherche => "Recherche",
            Api::Other => "mirrored",
            Api::Adapter => "adapter",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}
