//! WFS 2.0 capabilities (the `FeatureTypeList`) and `DescribeFeatureType` schemas.

use quick_xml::{events::Event, Reader};

use super::{append_text, local};
use crate::geo::Bbox;

/// One feature type of the WFS.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureType {
    /// `PREFIX:type`, e.g. `BDTOPO_V3:batiment`.
    pub name: String,
    pub title: String,
    pub abstract_: String,
    pub keywords: Vec<String>,
    /// The default CRS as an EPSG code (`EPSG:2154`), when it is one.
    pub default_crs: Option<String>,
    pub wgs84_bbox: Option<Bbox>,
}

/// `urn:ogc:def:crs:EPSG::2154` or `EPSG:2154` → `EPSG:2154`.
pub fn epsg_code(crs: &str) -> Option<String> {
    let code = crs.rsplit(':').next()?.trim();
    (!code.is_empty()
        && code.bytes().all(|b| b.is_ascii_digit())
        && crs.to_ascii_uppercase().contains("EPSG"))
    .then(|| format!("EPSG:{code}"))
}

fn corner(text: &str) -> Option<(f64, f64)> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some((it.next()?.ok()?, it.next()?.ok()?))
}

/// Every `FeatureType` of a capabilities document (whole, or its FeatureTypeList section).
pub fn parse_capabilities(xml: &str) -> Result<Vec<FeatureType>, String> {
    let mut reader = Reader::from_str(xml);
    let mut types = Vec::new();
    let mut current: Option<FeatureType> = None;
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let (mut lower, mut upper) = (None, None);
    loop {
        match reader.read_event() {
            Err(e) => {
                return Err(format!(
                    "the capabilities are not XML at byte {}: {e}",
                    reader.buffer_position()
                ))
            }
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let name = local(e.name().as_ref()).to_string();
                if name == "FeatureType" {
                    current = Some(FeatureType {
                        name: String::new(),
                        title: String::new(),
                        abstract_: String::new(),
                        keywords: Vec::new(),
                        default_crs: None,
                        wgs84_bbox: None,
                    });
                    lower = None;
                    upper = None;
                }
                path.push(name);
                text.clear();
            }
            Ok(e) if append_text(&e, &mut text) => {}
            Ok(Event::End(_)) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str);
                if let Some(ft) = current.as_mut() {
                    let value = text.trim().to_string();
                    match (name.as_str(), parent) {
                        ("Name", Some("FeatureType")) => ft.name = value,
                        ("Title", Some("FeatureType")) => ft.title = value,
                        ("Abstract", Some("FeatureType")) => ft.abstract_ = value,
                        ("Keyword", _) => ft.keywords.push(value),
                        ("DefaultCRS", _) | ("DefaultSRS", _) => ft.default_crs = epsg_code(&value),
                        ("LowerCorner", Some("WGS84BoundingBox")) => lower = corner(&value),
                        ("UpperCorner", Some("WGS84BoundingBox")) => upper = corner(&value),
                        ("FeatureType", _) => {
                            if let (Some((x1, y1)), Some((x2, y2))) = (lower, upper) {
                                ft.wgs84_bbox = Some(Bbox {
                                    min_lon: x1,
                                    min_lat: y1,
                                    max_lon: x2,
                                    max_lat: y2,
                                });
                            }
                            if let Some(done) = current.take().filter(|f| !f.name.is_empty()) {
                                types.push(done);
                            }
                        }
                        _ => {}
                    }
                }
                text.clear();
            }
            Ok(_) => {}
        }
    }
    if types.is_empty() {
        return Err("no FeatureType in the capabilities".into());
    }
    Ok(types)
}

/// The JSON Schema type of one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    DateTime,
    Geometry,
}

/// A property of a feature type, from its DescribeFeatureType schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub kind: PropertyType,
    /// For geometries: the GML type (`MultiSurfacePropertyType`…).
    pub gml_type: Option<String>,
}

fn property_type(xsd_type: &str) -> (PropertyType, Option<String>) {
    let (prefix, name) = xsd_type.split_once(':').unwrap_or(("", xsd_type));
    if prefix == "gml" {
        return (PropertyType::Geometry, Some(name.to_string()));
    }
    let kind = match name {
        "int" | "integer" | "long" | "short" | "byte" | "nonNegativeInteger"
        | "positiveInteger" => PropertyType::Integer,
        "double" | "float" | "decimal" => PropertyType::Number,
        "boolean" => PropertyType::Boolean,
        "date" => PropertyType::Date,
        "dateTime" => PropertyType::DateTime,
        _ => PropertyType::String,
    };
    (kind, None)
}

/// The properties of the (first) feature type of a DescribeFeatureType answer.
pub fn parse_schema(xsd: &str) -> Result<Vec<Property>, String> {
    let mut reader = Reader::from_str(xsd);
    let mut props = Vec::new();
    let mut in_type = false;
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("the schema is not XML: {e}")),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) if local(e.name().as_ref()) == "complexType" => {
                in_type = props.is_empty()
            }
            Ok(Event::End(e)) if local(e.name().as_ref()) == "complexType" => in_type = false,
            Ok(Event::Empty(e) | Event::Start(e))
                if in_type && local(e.name().as_ref()) == "element" =>
            {
                let mut name = None;
                let mut xsd_type = None;
                for a in e.attributes().flatten() {
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::default())
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match a.key.as_ref() {
                        "name" => name = Some(v),
                        "type" => xsd_type = Some(v),
                        _ => {}
                    }
                }
                if let (Some(name), Some(t)) = (name, xsd_type) {
                    let (kind, gml_type) = property_type(&t);
                    props.push(Property {
                        name,
                        kind,
                        gml_type,
                    });
                }
            }
            Ok(_) => {}
        }
    }
    if props.is_empty() {
        return Err("no property in the schema".into());
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: &str = r#"<wfs:WFS_Capabilities xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns="http://www.opengis.net/wfs/2.0" xmlns:ows="http://www.opengis.net/ows/1.1"><FeatureTypeList>
      <FeatureType xmlns:BDTOPO_V3="http://BDTOPO_V3"><Name>BDTOPO_V3:batiment</Name><Title><![CDATA[ Bâtiment ]]></Title>
      <Abstract>Bâtiments &amp; constructions</Abstract><ows:Keywords><ows:Keyword>BD TOPO</ows:Keyword></ows:Keywords>
      <DefaultCRS>urn:ogc:def:crs:EPSG::4326</DefaultCRS>
      <ows:WGS84BoundingBox><ows:LowerCorner>-63.2 -21.4</ows:LowerCorner><ows:UpperCorner>55.9 51.1</ows:UpperCorner></ows:WGS84BoundingBox></FeatureType>
    </FeatureTypeList></wfs:WFS_Capabilities>"#;

    #[test]
    fn feature_types_are_read_with_cdata_and_entities() {
        let t = parse_capabilities(CAPS).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "BDTOPO_V3:batiment");
        assert_eq!(t[0].title, "Bâtiment");
        assert_eq!(t[0].abstract_, "Bâtiments & constructions");
        assert_eq!(t[0].keywords, ["BD TOPO"]);
        assert_eq!(t[0].default_crs.as_deref(), Some("EPSG:4326"));
        assert_eq!(t[0].wgs84_bbox.unwrap().max_lat, 51.1);
        assert!(parse_capabilities("<a/>").is_err());
    }

    #[test]
    fn schema_types_map_to_json_types() {
        let xsd = r#"<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"><xsd:complexType name="t"><xsd:complexContent><xsd:extension base="gml:AbstractFeatureType"><xsd:sequence>
          <xsd:element name="nom" type="xsd:string"/><xsd:element name="population" type="xsd:int"/>
          <xsd:element name="surface" type="xsd:double"/><xsd:element name="date" type="xsd:date"/>
          <xsd:element name="geometrie" type="gml:MultiSurfacePropertyType"/></xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType></xsd:schema>"#;
        let p = parse_schema(xsd).unwrap();
        let kinds: Vec<_> = p.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                PropertyType::String,
                PropertyType::Integer,
                PropertyType::Number,
                PropertyType::Date,
                PropertyType::Geometry
            ]
        );
        assert_eq!(p[4].gml_type.as_deref(), Some("MultiSurfacePropertyType"));
    }
}
