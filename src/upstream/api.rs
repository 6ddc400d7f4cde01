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
    /// Every other API, reached through the mirror (annexes, recherche, csw…).
    Other,
}

impl Api {
    pub const ALL: [Api; 10] = [
        Api::Geocoding,
        Api::Completion,
        Api::Route,
        Api::Isochrone,
        Api::Altimetry,
        Api::Wfs,
        Api::WmsRaster,
        Api::WmsVector,
        Api::Wmts,
        Api::Other,
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
            Api::Other => "other",
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
            Api::Other => "mirrored",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}
