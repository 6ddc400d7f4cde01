//! How an upstream JSON answer becomes GeoJSON features: JSONPath (RFC 9535) to the items, then
//! to each item's geometry, id and properties, as an adapter's `[response]` declares.

use serde_json::{json, Map, Value};
use serde_json_path::JsonPath;

use super::spec::{GeometryDecl, PropertiesDecl, ResponseDecl};

/// A compiled `[response]`.
#[derive(Debug)]
pub struct Mapping {
    features: JsonPath,
    geometry: Option<Geometry>,
    id: Option<JsonPath>,
    properties: Properties,
    number_matched: Option<JsonPath>,
}

#[derive(Debug)]
enum Geometry {
    LonLat(JsonPath, JsonPath, Option<JsonPath>),
    GeoJson(JsonPath),
    Wkt(JsonPath),
}

#[derive(Debug)]
enum Properties {
    /// Every scalar field of the item.
    Scalars,
    /// The fields of the object at the path, as they are.
    Object(JsonPath),
    Fields(Vec<(String, JsonPath)>),
}

/// What a mapping made of one answer.
#[derive(Debug, Default)]
pub struct Mapped {
    pub features: Vec<Value>,
    pub number_matched: Option<usize>,
}

fn path(key: &str, text: &str) -> Result<JsonPath, (String, String)> {
    JsonPath::parse(text)
        .map_err(|e| (key.to_string(), format!("{text:?} is not a JSONPath ({e})")))
}

impl Mapping {
    /// Compiles every path; the error names the key and says why.
    pub fn compile(decl: &ResponseDecl) -> Result<Self, (String, String)> {
        let geometry = match &decl.geometry {
            None => None,
            Some(GeometryDecl::LonLat { lon, lat, z }) => Some(Geometry::LonLat(
                path("response.geometry.lon", lon)?,
                path("response.geometry.lat", lat)?,
                z.as_deref()
                    .map(|z| path("response.geometry.z", z))
                    .transpose()?,
            )),
            Some(GeometryDecl::GeoJson { geojson }) => Some(Geometry::GeoJson(path(
                "response.geometry.geojson",
                geojson,
            )?)),
            Some(GeometryDecl::Wkt { wkt }) => {
                Some(Geometry::Wkt(path("response.geometry.wkt", wkt)?))
            }
        };
        let properties = match &decl.properties {
            None => Properties::Scalars,
            Some(PropertiesDecl::Path(p)) if p == "*" => Properties::Scalars,
            Some(PropertiesDecl::Path(p)) => Properties::Object(path("response.properties", p)?),
            Some(PropertiesDecl::Fields(fields)) => Properties::Fields(
                fields
                    .iter()
                    .map(|(name, p)| {
                        Ok((
                            name.clone(),
                            path(&format!("response.properties.{name}"), p)?,
                        ))
                    })
                    .collect::<Result<_, (String, String)>>()?,
            ),
        };
        Ok(Mapping {
            features: path("response.features", &decl.features)?,
            geometry,
            id: decl
                .id
                .as_deref()
                .map(|p| path("response.id", p))
                .transpose()?,
            properties,
            number_matched: decl
                .number_matched
                .as_deref()
                .map(|p| path("response.number_matched", p))
                .transpose()?,
        })
    }

    /// The features of `answer`. An item without a geometry where one is declared gets `null`.
    pub fn map(&self, answer: &Value) -> Mapped {
        let found = self.features.query(answer).all();
        // A path to an array (`$` on an array answer) means its elements.
        let items: Vec<&Value> = match found.as_slice() {
            [Value::Array(items)] => items.iter().collect(),
            _ => found,
        };
        let features = items
            .into_iter()
            .enumerate()
            .map(|(n, item)| self.feature(n, item))
            .collect();
        let number_matched = self
            .number_matched
            .as_ref()
            .and_then(|p| first(p, answer))
            .and_then(number)
            .map(|n| n.max(0.0) as usize);
        Mapped {
            features,
            number_matched,
        }
    }

    fn feature(&self, n: usize, item: &Value) -> Value {
        let geometry = match &self.geometry {
            None => Value::Null,
            Some(Geometry::LonLat(lon, lat, z)) => {
                let z = z.as_ref().and_then(|z| first(z, item)).and_then(number);
                match (
                    first(lon, item).and_then(number),
                    first(lat, item).and_then(number),
                    z,
                ) {
                    (Some(lon), Some(lat), None) => {
                        json!({"type": "Point", "coordinates": [lon, lat]})
                    }
                    (Some(lon), Some(lat), Some(z)) => {
                        json!({"type": "Point", "coordinates": [lon, lat, z]})
                    }
                    _ => Value::Null,
                }
            }
            Some(Geometry::GeoJson(p)) => first(p, item)
                .filter(|g| g.get("type").is_some_and(Value::is_string))
                .cloned()
                .unwrap_or(Value::Null),
            Some(Geometry::Wkt(p)) => first(p, item)
                .and_then(Value::as_str)
                .and_then(|text| crate::cql2::parse_wkt(text).ok())
                .and_then(|g| g.to_geojson())
                .unwrap_or(Value::Null),
        };
        let properties: Map<String, Value> = match &self.properties {
            Properties::Scalars => item
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| !v.is_object() && !v.is_array())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            Properties::Object(p) => first(p, item)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            Properties::Fields(fields) => fields
                .iter()
                .map(|(name, p)| (name.clone(), first(p, item).cloned().unwrap_or(Value::Null)))
                .collect(),
        };
        let id = self
            .id
            .as_ref()
            .and_then(|p| first(p, item))
            .filter(|v| v.is_string() || v.is_number())
            .cloned()
            .unwrap_or_else(|| json!(n + 1));
        json!({"type": "Feature", "id": id, "geometry": geometry, "properties": properties})
    }
}

fn first<'v>(path: &JsonPath, value: &'v Value) -> Option<&'v Value> {
    path.query(value).all().into_iter().next()
}

/// A number, or a text that reads as one (some APIs quote their coordinates).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(toml_text: &str) -> Mapping {
        Mapping::compile(&toml::from_str(toml_text).unwrap()).unwrap()
    }

    #[test]
    fn items_become_points_with_chosen_properties() {
        let m = mapping(
            r#"features = "$.elevations[*]"
               geometry = { lon = "$.lon", lat = "$.lat" }
               properties = { z = "$.z", accuracy = "$.acc" }"#,
        );
        let out =
            m.map(&json!({"elevations": [{"lon": 1.48, "lat": "43.54", "z": 120.5, "acc": 2.5}]}));
        assert_eq!(
            out.features,
            vec![
                json!({"type": "Feature", "id": 1, "geometry": {"type": "Point", "coordinates": [1.48, 43.54]}, "properties": {"z": 120.5, "accuracy": 2.5}})
            ]
        );
    }

    #[test]
    fn an_array_answer_star_properties_and_a_total() {
        let m = mapping(
            r#"features = "$.documents"
               geometry = { geojson = "$.extent" }
               id = "$.id"
               number_matched = "$.total""#,
        );
        let out = m.map(&json!({"total": 42, "documents": [
            {"id": "a", "title": "T", "keywords": ["k"], "extent": {"type": "Point", "coordinates": [1, 2]}},
            {"id": "b", "title": "U", "extent": "nowhere"}
        ]}));
        assert_eq!(out.number_matched, Some(42));
        assert_eq!(out.features[0]["id"], "a");
        assert_eq!(
            out.features[0]["properties"],
            json!({"id": "a", "title": "T"})
        );
        assert_eq!(out.features[0]["geometry"]["type"], "Point");
        assert_eq!(out.features[1]["geometry"], Value::Null);
    }

    #[test]
    fn wkt_geometries_and_object_properties() {
        let m = mapping(
            r#"geometry = { wkt = "$.wkt" }
               properties = "$.props""#,
        );
        let out = m.map(&json!([{"wkt": "LINESTRING (1 2, 3 4)", "props": {"a": [1]}}]));
        assert_eq!(
            out.features[0]["geometry"],
            json!({"type": "LineString", "coordinates": [[1.0, 2.0], [3.0, 4.0]]})
        );
        assert_eq!(out.features[0]["properties"], json!({"a": [1]}));
    }

    #[test]
    fn bad_paths_name_their_key() {
        let decl: ResponseDecl = toml::from_str(r#"properties = { z = "$.[" }"#).unwrap();
        let (key, reason) = Mapping::compile(&decl).unwrap_err();
        assert_eq!(key, "response.properties.z");
        assert!(reason.contains("JSONPath"));
    }
}
