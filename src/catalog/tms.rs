//! The TMS service document (`/tms/1.0.0`, rok4's TileMapService): the vector tile layers, each a
//! `<TileMap title srs profile extension href>` whose last path segment is the layer's name.

use quick_xml::{events::Event, Reader};

/// One TMS layer (vector tiles for the Géoplateforme's, `extension` pbf).
#[derive(Debug, Clone, PartialEq)]
pub struct TmsLayer {
    pub id: String,
    pub title: String,
    pub srs: String,
    pub extension: String,
}

impl TmsLayer {
    /// Vector tiles (Mapbox Vector Tiles), as opposed to images.
    pub fn is_vector(&self) -> bool {
        self.extension == "pbf" || self.extension == "mvt"
    }
}

pub fn parse_service(xml: &str) -> Result<Vec<TmsLayer>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut root_seen = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("the TMS document is not XML: {e}"))?
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = super::local(e.name().as_ref()).to_string();
                if name == "TileMapService" {
                    root_seen = true;
                }
                if name != "TileMap" {
                    continue;
                }
                let mut layer = TmsLayer {
                    id: String::new(),
                    title: String::new(),
                    srs: String::new(),
                    extension: String::new(),
                };
                for a in e.attributes().flatten() {
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("a TileMap attribute is not text: {e}"))?
                        .into_owned();
                    match super::local(a.key.as_ref()) {
                        "title" => layer.title = value,
                        "srs" => layer.srs = value,
                        "extension" => layer.extension = value,
                        "href" => {
                            layer.id = value
                                .trim_end_matches('/')
                                .rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .to_string()
                        }
                        _ => {}
                    }
                }
                if !layer.id.is_empty() {
                    if layer.title.is_empty() {
                        layer.title = layer.id.clone();
                    }
                    out.push(layer);
                }
            }
            _ => {}
        }
    }
    if !root_seen {
        return Err("not a TMS TileMapService document".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_lists_its_tile_maps() {
        let xml = include_str!("../../tests/fixtures/tms/capabilities.xml");
        let layers = parse_service(xml).unwrap();
        let plan = layers.iter().find(|l| l.id == "PLAN.IGN").unwrap();
        assert_eq!(plan.title, "Plan IGN");
        assert_eq!(plan.srs, "EPSG:3857");
        assert!(plan.is_vector());
        assert!(layers.len() >= 5);
        assert!(parse_service("<html/>").is_err());
        assert!(parse_service("<TileMapService").is_err());
    }
}

/// The styles a TileMap (`/tms/1.0.0/{layer}`) lists — its `<Metadata type="Other"
/// mime-type="application/json" href="…/styles/{folder}/{name}.json">` — as (name, path of the
/// style below the host), in the TileMap's order (the first is the layer's default).
pub fn parse_tile_map_styles(xml: &str) -> Result<Vec<(String, String)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("the TileMap is not XML: {e}"))?
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if super::local(e.name().as_ref()) == "Metadata" => {
                let (mut json, mut href) = (false, None);
                for a in e.attributes().flatten() {
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("a Metadata attribute is not text: {e}"))?
                        .into_owned();
                    match super::local(a.key.as_ref()) {
                        "mime-type" => json = value == "application/json",
                        "href" => href = Some(value),
                        _ => {}
                    }
                }
                let Some(href) = href.filter(|_| json) else {
                    continue;
                };
                // The path below the host, whatever host the document names.
                let path = match href.split_once("://") {
                    Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
                    None => href.as_str(),
                };
                if let Some(name) = path
                    .rsplit('/')
                    .next()
                    .and_then(|f| f.strip_suffix(".json"))
                    .filter(|n| !n.is_empty())
                {
                    out.push((name.to_string(), path.to_string()));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tile_map_tests {
    use super::*;

    #[test]
    fn the_styles_of_a_tile_map_in_its_order() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<TileMap version="1.0.0"><Title>OCSGE_2016</Title><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr/annexes/ressources/vectorTiles/styles/OCSGE/ocsge_couverture.json"/><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr/annexes/ressources/vectorTiles/styles/OCSGE/ocsge_usage.json"/><Metadata type="Other" mime-type="text/html" href="https://example.org/about.html"/><SRS>EPSG:3857</SRS></TileMap>"#;
        assert_eq!(
            parse_tile_map_styles(xml).expect("parses"),
            vec![
                (
                    "ocsge_couverture".to_string(),
                    "/annexes/ressources/vectorTiles/styles/OCSGE/ocsge_couverture.json"
                        .to_string()
                ),
                (
                    "ocsge_usage".to_string(),
                    "/annexes/ressources/vectorTiles/styles/OCSGE/ocsge_usage.json".to_string()
                ),
            ]
        );
    }
}
