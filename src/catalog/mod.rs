//! Capabilities parsers: what the Géoplateforme's OGC services offer, read with a streaming XML
//! parser into plain models (WFS feature types and their schemas today).

pub mod wfs;
pub mod wmts;
