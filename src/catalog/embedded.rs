//! The catalogue snapshot embedded in the binary (`assets/catalog/`, real capabilities documents,
//! gzip-compressed): what a gateway whose cache folder has no snapshot starts from, so the kiosk
//! and `/catalog.json` are complete at the first request, online or not. The first successful
//! refresh replaces it.

use std::io::Read;

/// One embedded document: its snapshot name (as the disk snapshots name it), the date it was
/// recorded, and its compressed bytes.
pub struct Embedded {
    pub name: &'static str,
    pub recorded: &'static str,
    gz: &'static [u8],
}

pub const WMTS: Embedded = Embedded {
    name: "wmts",
    recorded: "2024-06-01",
    gz: include_bytes!("../../assets/catalog/wmts.xml.gz"),
};

pub const WMS_RASTER: Embedded = Embedded {
    name: "wms-r",
    recorded: "2024-06-06",
    gz: include_bytes!("../../assets/catalog/wms-r.xml.gz"),
};

pub const WFS: Embedded = Embedded {
    name: "wfs",
    recorded: "2025-06-25",
    gz: include_bytes!("../../assets/catalog/wfs.xml.gz"),
};

impl Embedded {
    /// The document's text.
    pub fn text(&self) -> Result<String, String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(self.gz)
            .read_to_string(&mut text)
            .map_err(|e| format!("the embedded {} snapshot is unreadable: {e}", self.name))?;
        Ok(text)
    }

    /// When it was recorded.
    pub fn recorded_at(&self) -> Option<std::time::SystemTime> {
        crate::rfc3339::parse_date(self.recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_document_parses() {
        let wmts = crate::catalog::wmts::parse_capabilities(&WMTS.text().unwrap()).unwrap();
        assert!(wmts.len() > 500, "{}", wmts.len());
        let wms = crate::catalog::wms::parse_capabilities(&WMS_RASTER.text().unwrap()).unwrap();
        assert!(wms.len() > 300, "{}", wms.len());
        let wfs = crate::catalog::wfs::parse_capabilities(&WFS.text().unwrap()).unwrap();
        assert!(wfs.len() > 700, "{}", wfs.len());
        assert!(WMTS.recorded_at().is_some());
    }
}
