//! Capabilities parsers: what the Géoplateforme's OGC services offer, read with a streaming XML
//! parser into plain models (WMTS layers, WMS layers, WFS feature types and their schemas).

pub mod wfs;
pub mod wms;
pub mod wmts;
