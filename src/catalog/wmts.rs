//! WMTS 1.0 capabilities: the layers (with their styles, formats, legends and tile matrix set limits)
//! read with a streaming parser; the 2 MB real document holds 543 layers.

use std::collections::BTreeMap;

use quick_xml::{events::Event, Reader};

use super::{append_text, href, local};
use crate::geo::Bbox;

#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    pub id: String,
    pub is_default: bool,
    pub legend_url: Option<String>,
}

/// One WMTS layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WmtsLayer {
    pub id: String,
    pub title: String,
    pub abstract_: String,
    pub keywords: Vec<String>,
    pub wgs84_bbox: Option<Bbox>,
    pub styles: Vec<Style>,
    pub formats: Vec<String>,
    pub tile_matrix_set: String,
    /// Per zoom level: min row, max row, min col, max col.
    pub limits: BTreeMap<u32, (u64, u64, u64, u64)>,
}

impl WmtsLayer {
    /// Served as XYZ tiles: on a WebMercator (`PM…`) matrix set.
    pub fn is_xyz(&self) -> bool {
        self.tile_matrix_set.starts_with("PM")
    }

    /// The CRS of its tile matrix set, for the matrix sets the Géoplateforme uses (`PM…`,
    /// `WGS84G…`, `LAMB93…`).
    pub fn crs(&self) -> Option<&'static str> {
        let set = self.tile_matrix_set.as_str();
        if set.starts_with("PM") {
            Some("EPSG:3857")
        } else if set.starts_with("WGS84G") {
            Some("EPSG:4326")
        } else if set.starts_with("LAMB93") {
            Some("EPSG:2154")
        } else {
            None
        }
    }

    pub fn default_style(&self) -> &str {
        self.styles
            .iter()
            .find(|s| s.is_default)
            .or(self.styles.first())
            .map_or("normal", |s| s.id.as_str())
    }

    pub fn zoom_range(&self) -> Option<(u32, u32)> {
        Some((*self.limits.keys().next()?, *self.limits.keys().last()?))
    }

    /// Whether the tile z/x/y exists in the layer's limits.
    pub fn has_tile(&self, z: u32, x: u64, y: u64) -> bool {
        self.limits
            .get(&z)
            .is_some_and(|(r0, r1, c0, c1)| (*r0..=*r1).contains(&y) && (*c0..=*c1).contains(&x))
    }
}

type Corner = Option<(f64, f64)>;

/// An element opens: a layer, a style, a legend. Returns its local name.
fn open(
    e: &quick_xml::events::BytesStart<'_>,
    layer: &mut Option<WmtsLayer>,
    style: &mut Option<Style>,
    lower: &mut Corner,
    upper: &mut Corner,
) -> String {
    let name = local(e.name().as_ref()).to_string();
    match name.as_str() {
        "Layer" => {
            *layer = Some(WmtsLayer::default());
            *lower = None;
            *upper = None;
        }
        "Style" if layer.is_some() => {
            let is_default = e
                .attributes()
                .flatten()
                .any(|a| a.key.as_ref() == "isDefault" && a.value.as_ref() == "true");
            *style = Some(Style {
                id: String::new(),
                is_default,
                legend_url: None,
            });
        }
        "LegendURL" => {
            if let Some(s) = style.as_mut() {
                s.legend_url = href(e);
            }
        }
        _ => {}
    }
    name
}

/// Every layer of a WMTS capabilities document.
pub fn parse_capabilities(xml: &str) -> Result<Vec<WmtsLayer>, String> {
    let mut reader = Reader::from_str(xml);
    let mut layers = Vec::new();
    let mut layer: Option<WmtsLayer> = None;
    let mut style: Option<Style> = None;
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let (mut lower, mut upper) = (None, None);
    let mut limit: (Option<u32>, [u64; 4]) = (None, [0; 4]);
    let corner = |t: &str| -> Option<(f64, f64)> {
        let mut it = t.split_whitespace().map(str::parse::<f64>);
        Some((it.next()?.ok()?, it.next()?.ok()?))
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the WMTS capabilities are not XML: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let name = open(&e, &mut layer, &mut style, &mut lower, &mut upper);
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                open(&e, &mut layer, &mut style, &mut lower, &mut upper);
            }
            e if append_text(&e, &mut text) => {}
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str);
                let value = text.trim().to_string();
                if let Some(l) = layer.as_mut() {
                    match (name.as_str(), parent) {
                        ("Title", Some("Layer")) => l.title = value,
                        ("Abstract", Some("Layer")) => l.abstract_ = value,
                        ("Identifier", Some("Layer")) => l.id = value,
                        ("Identifier", Some("Style")) => {
                            if let Some(s) = style.as_mut() {
                                s.id = value;
                            }
                        }
                        ("Keyword", _) if !l.keywords.contains(&value) => l.keywords.push(value),
                        ("Style", _) => {
                            if let Some(s) = style.take() {
                                l.styles.push(s);
                            }
                        }
                        ("Format", Some("Layer")) => l.formats.push(value),
                        ("TileMatrixSet", Some("TileMatrixSetLink")) => l.tile_matrix_set = value,
                        ("TileMatrix", Some("TileMatrixLimits")) => limit.0 = value.parse().ok(),
                        ("MinTileRow", _) => limit.1[0] = value.parse().unwrap_or(0),
                        ("MaxTileRow", _) => limit.1[1] = value.parse().unwrap_or(0),
                        ("MinTileCol", _) => limit.1[2] = value.parse().unwrap_or(0),
                        ("MaxTileCol", _) => limit.1[3] = value.parse().unwrap_or(0),
                        ("TileMatrixLimits", _) => {
                            if let Some(z) = limit.0.take() {
                                let [a, b, c, d] = limit.1;
                                l.limits.insert(z, (a, b, c, d));
                            }
                        }
                        ("LowerCorner", Some("WGS84BoundingBox")) => lower = corner(&value),
                        ("UpperCorner", Some("WGS84BoundingBox")) => upper = corner(&value),
                        ("Layer", _) => {
                            if let (Some((x1, y1)), Some((x2, y2))) = (lower, upper) {
                                l.wgs84_bbox = Some(Bbox {
                                    min_lon: x1,
                                    min_lat: y1,
                                    max_lon: x2,
                                    max_lat: y2,
                                });
                            }
                            if let Some(done) = layer.take().filter(|l| !l.id.is_empty()) {
                                layers.push(done);
                            }
                        }
                        _ => {}
                    }
                }
                text.clear();
            }
            _ => {}
        }
    }
    if layers.is_empty() {
        return Err("no Layer in the WMTS capabilities".into());
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_with_its_style_legend_and_limits() {
        let xml = r#"<Capabilities xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink"><Contents>
          <Layer><ows:Title>Plan IGN v2</ows:Title><ows:Abstract>Cartographie &amp; plan</ows:Abstract>
          <ows:WGS84BoundingBox><ows:LowerCorner>-180 -86</ows:LowerCorner><ows:UpperCorner>180 84</ows:UpperCorner></ows:WGS84BoundingBox>
          <ows:Identifier>GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2</ows:Identifier>
          <Style isDefault="true"><ows:Title>Légende</ows:Title><ows:Keywords><ows:Keyword>Cartes</ows:Keyword></ows:Keywords><ows:Identifier>normal</ows:Identifier>
          <LegendURL format="image/png" xlink:href="https://data.geopf.fr/legend.png" width="1" height="1"/></Style>
          <Format>image/png</Format><TileMatrixSetLink><TileMatrixSet>PM_0_19</TileMatrixSet><TileMatrixSetLimits>
          <TileMatrixLimits><TileMatrix>0</TileMatrix><MinTileRow>0</MinTileRow><MaxTileRow>0</MaxTileRow><MinTileCol>0</MinTileCol><MaxTileCol>0</MaxTileCol></TileMatrixLimits>
          <TileMatrixLimits><TileMatrix>19</TileMatrix><MinTileRow>10</MinTileRow><MaxTileRow>20</MaxTileRow><MinTileCol>30</MinTileCol><MaxTileCol>40</MaxTileCol></TileMatrixLimits>
          </TileMatrixSetLimits></TileMatrixSetLink></Layer></Contents>
          <TileMatrixSet><ows:Identifier>PM_0_19</ows:Identifier></TileMatrixSet></Capabilities>"#;
        let layers = parse_capabilities(xml).unwrap();
        assert_eq!(layers.len(), 1);
        let l = &layers[0];
        assert_eq!(l.id, "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2");
        assert_eq!(l.title, "Plan IGN v2");
        assert_eq!(l.abstract_, "Cartographie & plan");
        assert_eq!(l.default_style(), "normal");
        assert_eq!(
            l.styles[0].legend_url.as_deref(),
            Some("https://data.geopf.fr/legend.png")
        );
        assert_eq!(l.keywords, ["Cartes"]);
        assert_eq!(l.tile_matrix_set, "PM_0_19");
        assert_eq!(l.zoom_range(), Some((0, 19)));
        assert!(l.has_tile(19, 35, 15) && !l.has_tile(19, 41, 15) && !l.has_tile(5, 0, 0));
        assert!(l.is_xyz());
    }
}
