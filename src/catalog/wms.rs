//! WMS 1.3.0 capabilities: the named layers (title, abstract, keywords, geographic extent, styles
//! and legends, scale range) read with a streaming parser; the real WMS-R document holds 308.

use quick_xml::{events::Event, Reader};

use super::{append_text, href, local, wmts::Style};
use crate::geo::Bbox;

/// One named WMS layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WmsLayer {
    pub name: String,
    pub title: String,
    pub abstract_: String,
    pub keywords: Vec<String>,
    pub wgs84_bbox: Option<Bbox>,
    pub styles: Vec<Style>,
    pub min_scale: Option<f64>,
    pub max_scale: Option<f64>,
    pub queryable: bool,
    /// ISO 19115 metadata records (`MetadataURL`).
    pub metadata_urls: Vec<String>,
}

/// What is being read: layers nest (the root layer holds the others), so one per open `Layer`.
#[derive(Default)]
struct Open {
    layers: Vec<WmsLayer>,
    style: Option<Style>,
    bbox: [Option<f64>; 4],
}

/// Every named layer of a WMS 1.3.0 capabilities document, in document order.
pub fn parse_capabilities(xml: &str) -> Result<Vec<WmsLayer>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut open = Open::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the WMS capabilities are not XML: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let name = local(e.name().as_ref()).to_string();
                match name.as_str() {
                    "Layer" => {
                        let queryable = e
                            .attributes()
                            .flatten()
                            .any(|a| a.key.as_ref() == "queryable" && a.value.as_ref() == "1");
                        open.layers.push(WmsLayer {
                            queryable,
                            ..WmsLayer::default()
                        });
                        open.bbox = [None; 4];
                    }
                    "Style" => {
                        open.style = Some(Style {
                            id: String::new(),
                            is_default: open.layers.last().is_some_and(|l| l.styles.is_empty()),
                            legend_url: None,
                        })
                    }
                    _ => {}
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) if local(e.name().as_ref()) == "OnlineResource" => {
                let href = href(&e);
                match path.last().map(String::as_str) {
                    Some("LegendURL") => {
                        if let Some(s) = open.style.as_mut() {
                            s.legend_url = href;
                        }
                    }
                    Some("MetadataURL") => {
                        if let (Some(l), Some(href)) = (open.layers.last_mut(), href) {
                            l.metadata_urls.push(href);
                        }
                    }
                    _ => {}
                }
            }
            e if append_text(&e, &mut text) => {}
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str);
                close(&name, parent, text.trim(), &mut open, &mut out);
                text.clear();
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err("no named Layer in the WMS capabilities".into());
    }
    Ok(out)
}

fn close(name: &str, parent: Option<&str>, value: &str, open: &mut Open, out: &mut Vec<WmsLayer>) {
    let Some(layer) = open.layers.last_mut() else {
        return;
    };
    let number = value.parse::<f64>().ok();
    match (name, parent) {
        ("Name", Some("Layer")) => layer.name = value.to_string(),
        ("Title", Some("Layer")) => layer.title = value.to_string(),
        ("Abstract", Some("Layer")) => layer.abstract_ = value.to_string(),
        ("Keyword", Some("KeywordList")) if !layer.keywords.iter().any(|k| k == value) => {
            layer.keywords.push(value.to_string())
        }
        ("Name", Some("Style")) => {
            if let Some(s) = open.style.as_mut() {
                s.id = value.to_string();
            }
        }
        ("Style", _) => {
            if let Some(s) = open.style.take() {
                layer.styles.push(s);
            }
        }
        ("westBoundLongitude", _) => open.bbox[0] = number,
        ("southBoundLatitude", _) => open.bbox[1] = number,
        ("eastBoundLongitude", _) => open.bbox[2] = number,
        ("northBoundLatitude", _) => open.bbox[3] = number,
        ("EX_GeographicBoundingBox", _) => {
            if let [Some(min_lon), Some(min_lat), Some(max_lon), Some(max_lat)] = open.bbox {
                layer.wgs84_bbox = Some(Bbox {
                    min_lon,
                    min_lat,
                    max_lon,
                    max_lat,
                });
            }
        }
        ("MinScaleDenominator", Some("Layer")) => layer.min_scale = number,
        ("MaxScaleDenominator", Some("Layer")) => layer.max_scale = number,
        ("Layer", _) => {
            if let Some(done) = open.layers.pop().filter(|l| !l.name.is_empty()) {
                out.push(done);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_layers_inside_the_root_layer() {
        let xml = r#"<WMS_Capabilities xmlns="http://www.opengis.net/wms" xmlns:xlink="http://www.w3.org/1999/xlink"><Capability>
          <Layer><Title>WMS layers</Title><CRS>EPSG:2154</CRS>
            <Layer queryable="1"><Name>ORTHOIMAGERY.ORTHOPHOTOS</Name><Title>Photographies aériennes</Title>
              <Abstract>Ortho &amp; photos d&#233;t&#xE9;</Abstract><KeywordList><Keyword>Ortho</Keyword></KeywordList>
              <EX_GeographicBoundingBox><westBoundLongitude>-5.5</westBoundLongitude><eastBoundLongitude>9.8</eastBoundLongitude>
              <southBoundLatitude>41.3</southBoundLatitude><northBoundLatitude>51.1</northBoundLatitude></EX_GeographicBoundingBox>
              <Style><Name>normal</Name><Title>Légende générique</Title><LegendURL width="200" height="200"><Format>image/jpeg</Format>
              <OnlineResource xlink:type="simple" xlink:href="https://data.geopf.fr/annexes/ressources/legendes/LEGEND.jpg" /></LegendURL></Style>
              <MinScaleDenominator>100</MinScaleDenominator><MaxScaleDenominator>1000000</MaxScaleDenominator></Layer>
            <Layer><Name>PLAN</Name><Title>Plan</Title></Layer>
          </Layer></Capability></WMS_Capabilities>"#;
        let layers = parse_capabilities(xml).unwrap();
        assert_eq!(layers.len(), 2, "the unnamed root layer is not one");
        let l = &layers[0];
        assert_eq!(l.name, "ORTHOIMAGERY.ORTHOPHOTOS");
        assert_eq!(
            l.abstract_, "Ortho & photos dété",
            "entity and character references"
        );
        assert_eq!(l.keywords, ["Ortho"]);
        assert!(l.queryable && !layers[1].queryable);
        assert_eq!(l.styles[0].id, "normal");
        assert!(l.styles[0].is_default);
        assert_eq!(
            l.styles[0].legend_url.as_deref(),
            Some("https://data.geopf.fr/annexes/ressources/legendes/LEGEND.jpg")
        );
        assert_eq!(l.wgs84_bbox.map(|b| b.max_lat), Some(51.1));
        assert_eq!((l.min_scale, l.max_scale), (Some(100.0), Some(1_000_000.0)));
    }

    #[test]
    fn not_xml_or_no_layer_is_an_error() {
        assert!(parse_capabilities("<a><b></a>").is_err());
        assert!(parse_capabilities("<WMS_Capabilities/>").is_err());
    }
}
