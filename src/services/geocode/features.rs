//! Reading the geocoder's answers as they are (2025 and 2026 shapes, a bare features array, extra
//! top-level keys) and giving every feature a stable top-level `id`. Properties are kept whole.

use serde_json::{Map, Value};

/// Accepts any geocoder search/reverse answer whose features can be found; the rest is vetted
/// feature by feature.
fn check_feature_collection(value: &Value) -> Result<(), String> {
    match value {
        Value::Array(_) => Ok(()),
        Value::Object(o) if o.get("features").is_some_and(Value::is_array) => Ok(()),
        Value::Object(o) if o.contains_key("code") && o.contains_key("message") => Err(format!(
            "an error object in a successful answer: {}",
            o["message"]
        )),
        _ => Err("no `features` array in the answer".into()),
    }
}

/// The features of a geocoder answer, each with its stable `id`; entries that are not GeoJSON
/// features are skipped.
pub fn features_of(value: &Value) -> Vec<Value> {
    let list = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(o) => o
            .get("features")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    list.iter().filter_map(normalize).collect()
}

fn normalize(feature: &Value) -> Option<Value> {
    let mut feature: Map<String, Value> = feature.as_object()?.clone();
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return None;
    }
    if !feature.get("properties").is_some_and(Value::is_object) {
        feature.insert("properties".into(), Value::Object(Map::new()));
    }
    let id = stable_id(&feature);
    // `id` first, as people read it.
    let mut out = Map::with_capacity(feature.len() + 1);
    out.insert("type".into(), Value::String("Feature".into()));
    out.insert("id".into(), Value::String(id));
    for (k, v) in feature {
        if k != "type" && k != "id" {
            out.insert(k, v);
        }
    }
    Some(Value::Object(out))
}

/// The identifier the upstream gives the feature: the BAN key of an address, the cadastral id of
/// a parcel, the BD TOPO `cleabs` of a POI; otherwise a hash of what the feature says.
pub fn stable_id(feature: &Map<String, Value>) -> String {
    let props = feature.get("properties").and_then(Value::as_object);
    let prop = |k: &str| props.and_then(|p| p.get(k)).and_then(Value::as_str);
    let kind = prop("_type").unwrap_or("");
    let upstream = match kind {
        "poi" => props
            .and_then(|p| p.get("extrafields"))
            .and_then(|e| e.get("cleabs"))
            .and_then(Value::as_str),
        _ => prop("id"),
    };
    if let Some(id) = upstream.filter(|s| !s.is_empty()) {
        return id.to_string();
    }
    if let Some(Value::String(id)) = feature.get("id") {
        return id.clone();
    }
    let fingerprint = format!(
        "{}|{}|{}",
        kind,
        prop("label")
            .or(prop("toponym"))
            .or(prop("fulltext"))
            .unwrap_or(""),
        feature
            .get("geometry")
            .map(Value::to_string)
            .unwrap_or_default()
    );
    format!(
        "{}-{:016x}",
        if kind.is_empty() { "f" } else { kind },
        fnv1a(fingerprint.as_bytes())
    )
}

/// FNV-1a, 64 bits: a hash that is the same on every build and platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A geocoder answer as it is cached: its features, checked and with their ids.
pub fn prepare_features(value: Value) -> Result<Value, String> {
    check_feature_collection(&value)?;
    Ok(Value::Array(features_of(&value)))
}

/// An autocompletion answer as it is cached: its results as GeoJSON points.
pub fn prepare_completion(value: Value) -> Result<Value, String> {
    check_completion(&value)?;
    Ok(Value::Array(completion_features(&value)))
}

/// Accepts an autocompletion answer unless it reports a failure inside a 200.
fn check_completion(value: &Value) -> Result<(), String> {
    match value.get("status").and_then(Value::as_str) {
        Some("OK") if value.get("results").is_some_and(Value::is_array) => Ok(()),
        Some("OK") => Err("no `results` array in the answer".into()),
        _ => Err(format!(
            "the autocompletion reported an error: {}",
            value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
        )),
    }
}

/// Autocompletion results as GeoJSON points (x, y are lon, lat); every field is kept.
pub fn completion_features(value: &Value) -> Vec<Value> {
    let results = value
        .get("results")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    results
        .iter()
        .filter_map(|r| {
            let o = r.as_object()?;
            let x = o.get("x")?.as_f64()?;
            let y = o.get("y")?.as_f64()?;
            let mut f = Map::new();
            f.insert("type".into(), "Feature".into());
            f.insert(
                "geometry".into(),
                serde_json::json!({"type": "Point", "coordinates": [x, y]}),
            );
            f.insert("properties".into(), Value::Object(o.clone()));
            let id = stable_id(&f);
            f.insert("id".into(), Value::String(id));
            Some(Value::Object(f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_come_from_the_upstream() {
        let fc = json!({"type": "FeatureCollection", "query": {"q": "x"}, "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
             "properties": {"id": "34172_2388_00001", "_type": "address", "extra": [1]}},
            {"type": "Feature", "geometry": null,
             "properties": {"extrafields": {"cleabs": "SURFACTI1"}, "_type": "poi"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]},
             "properties": {"label": "x", "_type": "address"}},
            {"type": "NotAFeature"}
        ]});
        let f = features_of(&fc);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0]["id"], "34172_2388_00001");
        assert_eq!(f[0]["properties"]["extra"], json!([1]));
        assert_eq!(f[1]["id"], "SURFACTI1");
        assert!(f[1]["geometry"].is_null());
        let hashed = f[2]["id"].as_str().unwrap();
        assert!(hashed.starts_with("address-"));
        assert_eq!(features_of(&fc)[2]["id"], hashed, "stable across calls");
    }

    #[test]
    fn a_bare_array_is_a_feature_list() {
        let f = features_of(
            &json!([{"type": "Feature", "properties": {"id": "44070000AR0238", "_type": "parcel"}}]),
        );
        assert_eq!(f[0]["id"], "44070000AR0238");
    }

    #[test]
    fn completion_errors_inside_200_are_failures() {
        assert!(
            check_completion(&json!({"status": "Error", "error": "boom"}))
                .unwrap_err()
                .contains("boom")
        );
        let ok = json!({"status": "OK", "results": [{"x": 2.4, "y": 48.8, "fulltext": "IGN", "country": "PositionOfInterest"}]});
        check_completion(&ok).unwrap();
        let f = completion_features(&ok);
        assert_eq!(f[0]["geometry"]["coordinates"], json!([2.4, 48.8]));
        assert_eq!(f[0]["properties"]["country"], "PositionOfInterest");
    }
}
