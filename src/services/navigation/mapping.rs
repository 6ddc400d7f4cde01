//! From the routing engine's answers to GeoJSON: a route as one LineString feature plus one
//! feature per step, an isochrone as one Polygon feature. Distances become metres and durations
//! seconds, whatever units the answer was given in.

use serde_json::{json, Map, Value};

/// Metres in one `distanceUnit`.
pub fn metres_per(unit: &str) -> Option<f64> {
    match unit {
        "meter" | "m" => Some(1.0),
        "kilometer" | "km" => Some(1000.0),
        _ => None,
    }
}

/// Seconds in one `timeUnit`.
pub fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "second" | "s" | "standard" => Some(1.0),
        "minute" | "min" => Some(60.0),
        "hour" | "h" => Some(3600.0),
        _ => None,
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

struct Units {
    metres: f64,
    seconds: f64,
}

impl Units {
    fn of(answer: &Value) -> Result<Units, String> {
        let d = answer["distanceUnit"].as_str().unwrap_or("meter");
        let t = answer["timeUnit"].as_str().unwrap_or("second");
        Ok(Units {
            metres: metres_per(d).ok_or_else(|| format!("unknown distanceUnit {d:?}"))?,
            seconds: seconds_per(t).ok_or_else(|| format!("unknown timeUnit {t:?}"))?,
        })
    }

    fn distance(&self, v: &Value) -> Value {
        v.as_f64()
            .map_or(Value::Null, |d| json!(round(d * self.metres, 2)))
    }

    fn duration(&self, v: &Value) -> Value {
        v.as_f64()
            .map_or(Value::Null, |d| json!(round(d * self.seconds, 2)))
    }
}

/// The name of the road a step follows, from its `attributes.name`.
fn road_name(attributes: &Value) -> Value {
    let name = &attributes["name"];
    ["nom_1_droite", "nom_1_gauche", "cpx_toponyme", "cpx_numero"]
        .iter()
        .filter_map(|k| name[*k].as_str())
        .find(|s| !s.trim().is_empty())
        .map_or(Value::Null, |s| json!(s))
}

/// A route answer as a FeatureCollection: the route, then its steps.
pub fn route_features(answer: &Value) -> Result<Value, String> {
    let geometry = answer
        .get("geometry")
        .filter(|g| g["type"] == "LineString")
        .ok_or("the route has no GeoJSON LineString geometry")?;
    let units = Units::of(answer)?;
    let mut route = Map::new();
    route.insert("role".into(), json!("route"));
    for key in [
        "resource",
        "resourceVersion",
        "profile",
        "optimization",
        "start",
        "end",
        "crs",
    ] {
        route.insert(key.into(), answer.get(key).cloned().unwrap_or(Value::Null));
    }
    route.insert("distance".into(), units.distance(&answer["distance"]));
    route.insert("duration".into(), units.duration(&answer["duration"]));
    route.insert("distanceUnit".into(), json!("meter"));
    route.insert("timeUnit".into(), json!("second"));
    route.insert(
        "bbox".into(),
        answer.get("bbox").cloned().unwrap_or(Value::Null),
    );
    route.insert(
        "constraints".into(),
        answer.get("constraints").cloned().unwrap_or(json!([])),
    );
    let portions = answer["portions"].as_array().map_or(&[][..], Vec::as_slice);
    route.insert("portions".into(), json!(portions.len()));

    let mut features = vec![json!({
        "type": "Feature",
        "id": "route",
        "geometry": geometry,
        "properties": route,
    })];
    for (p, portion) in portions.iter().enumerate() {
        for (s, step) in portion["steps"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            let instruction = &step["instruction"];
            features.push(json!({
                "type": "Feature",
                "id": format!("step-{}-{}", p + 1, s + 1),
                "geometry": step.get("geometry").cloned().unwrap_or(Value::Null),
                "properties": {
                    "role": "step",
                    "portion": p + 1,
                    "step": s + 1,
                    "instruction": instruction.get("type").cloned().unwrap_or(Value::Null),
                    "modifier": instruction.get("modifier").cloned().unwrap_or(Value::Null),
                    "name": road_name(&step["attributes"]),
                    "distance": units.distance(&step["distance"]),
                    "duration": units.duration(&step["duration"]),
                    "attributes": step.get("attributes").cloned().unwrap_or(Value::Null),
                },
            }));
        }
    }
    Ok(collection(features, answer))
}

/// An isochrone answer as a FeatureCollection of one Polygon feature with its parameters.
pub fn isochrone_features(answer: &Value) -> Result<Value, String> {
    let geometry = answer
        .get("geometry")
        .filter(|g| matches!(g["type"].as_str(), Some("Polygon" | "MultiPolygon")))
        .ok_or("the isochrone has no GeoJSON Polygon geometry")?;
    let mut props = Map::new();
    for (k, v) in answer.as_object().into_iter().flatten() {
        if k != "geometry" {
            props.insert(k.clone(), v.clone());
        }
    }
    let cost = answer["costValue"].as_f64();
    let (metres, seconds) = match answer["costType"].as_str() {
        Some("distance") => (
            cost.zip(answer["distanceUnit"].as_str().and_then(metres_per))
                .map(|(c, f)| c * f),
            None,
        ),
        _ => (
            None,
            cost.zip(answer["timeUnit"].as_str().and_then(seconds_per))
                .map(|(c, f)| c * f),
        ),
    };
    if let Some(m) = metres {
        props.insert("costMetres".into(), json!(round(m, 2)));
    }
    if let Some(s) = seconds {
        props.insert("costSeconds".into(), json!(round(s, 2)));
    }
    let feature =
        json!({ "type": "Feature", "id": "isochrone", "geometry": geometry, "properties": props });
    Ok(collection(vec![feature], answer))
}

/// A FeatureCollection; a projected answer says its CRS the way QGIS and GDAL read it.
fn collection(features: Vec<Value>, answer: &Value) -> Value {
    let mut fc = json!({ "type": "FeatureCollection", "features": features });
    if let Some(crs) = answer["crs"].as_str().filter(|c| *c != "EPSG:4326") {
        fc["crs"] = json!({ "type": "name", "properties": { "name": crs.replace("EPSG:", "urn:ogc:def:crs:EPSG::") } });
    }
    fc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_become_metres_and_seconds() {
        let answer = json!({
            "resource": "bdtopo-osrm", "distanceUnit": "kilometer", "timeUnit": "hour",
            "distance": 48.9819, "duration": 1.2273, "crs": "EPSG:4326",
            "geometry": {"type": "LineString", "coordinates": [[3.7, 43.9], [4.0, 44.1]]},
            "portions": [{"steps": [{"geometry": {"type": "LineString", "coordinates": [[3.7, 43.9], [3.8, 43.95]]},
                "attributes": {"name": {"nom_1_gauche": "AV DU GEN DE GAULLE", "nom_1_droite": ""}},
                "distance": 0.0942, "duration": 0.01, "instruction": {"type": "depart", "modifier": "left"}}]}]
        });
        let fc = route_features(&answer).unwrap();
        assert_eq!(fc["features"][0]["properties"]["distance"], 48981.9);
        assert_eq!(fc["features"][0]["properties"]["duration"], 4418.28);
        let step = &fc["features"][1]["properties"];
        assert_eq!(step["distance"], 94.2);
        assert_eq!(step["duration"], 36.0);
        assert_eq!(step["name"], "AV DU GEN DE GAULLE");
        assert_eq!(step["instruction"], "depart");
        assert!(fc.get("crs").is_none());
    }

    #[test]
    fn isochrones_keep_their_parameters() {
        let answer = json!({"point": "3.59,44.32", "costType": "distance", "costValue": 10, "distanceUnit": "kilometer",
            "crs": "EPSG:2154", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}});
        let fc = isochrone_features(&answer).unwrap();
        let p = &fc["features"][0]["properties"];
        assert_eq!(p["costMetres"], 10000.0);
        assert_eq!(p["point"], "3.59,44.32");
        assert_eq!(
            fc["crs"]["properties"]["name"],
            "urn:ogc:def:crs:EPSG::2154"
        );
        assert!(isochrone_features(&json!({"geometry": null})).is_err());
    }
}
