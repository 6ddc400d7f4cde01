//! Typed, validated access to loosely typed inputs: process inputs (JSON) and query parameters
//! (strings) go through the same getters, so `limit=5` and `"limit": 5` mean the same.

use serde_json::{Map, Value};

use super::ServiceError;

#[derive(Debug, Clone, Default)]
pub struct Inputs(Map<String, Value>);

impl From<Map<String, Value>> for Inputs {
    fn from(map: Map<String, Value>) -> Self {
        Inputs(map)
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for Inputs {
    fn from_iter<T: IntoIterator<Item = (&'a str, &'a str)>>(iter: T) -> Self {
        Inputs(
            iter.into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect(),
        )
    }
}

impl Inputs {
    /// The raw value of an input; a qualified value `{"value": …, "mediaType": …}` is unwrapped.
    /// Empty strings and nulls count as absent.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        const QUALIFIERS: [&str; 4] = ["value", "mediaType", "encoding", "schema"];
        let v = self.0.get(name)?;
        let v = match v {
            Value::Object(o)
                if o.contains_key("value")
                    && o.keys().all(|k| QUALIFIERS.contains(&k.as_str())) =>
            {
                &o["value"]
            }
            other => other,
        };
        match v {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            other => Some(other),
        }
    }

    /// Whether the input was given at all, even empty.
    pub fn present(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ServiceError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Array(items)) if items.iter().all(|i| i.is_string()) => Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(other) => Err(ServiceError::invalid(
                name,
                format!("expected a string, got {}", type_name(other)),
            )),
        }
    }

    pub fn required_string(&self, name: &str) -> Result<String, ServiceError> {
        self.string(name)?
            .ok_or_else(|| ServiceError::invalid(name, "is required"))
    }

    pub fn number(&self, name: &str) -> Result<Option<f64>, ServiceError> {
        let value = match self.raw(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(ServiceError::invalid(name, "expected a number")),
        }
    }

    /// A whole number within `min..=max`.
    pub fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ServiceError> {
        let Some(v) = self.number(name).map_err(|_| {
            ServiceError::invalid(name, format!("expected a whole number from {min} to {max}"))
        })?
        else {
            return Ok(None);
        };
        if v.fract() != 0.0 || v < min as f64 || v > max as f64 {
            return Err(ServiceError::invalid(
                name,
                format!("expected a whole number from {min} to {max}, got {v}"),
            ));
        }
        Ok(Some(v as i64))
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ServiceError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(ServiceError::invalid(name, "expected true or false")),
            },
            Some(_) => Err(ServiceError::invalid(name, "expected true or false")),
        }
    }

    /// One of `allowed`, compared exactly.
    pub fn choice(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ServiceError> {
        let Some(v) = self.string(name)? else {
            return Ok(None);
        };
        if allowed.contains(&v.as_str()) {
            Ok(Some(v))
        } else {
            Err(ServiceError::invalid(
                name,
                format!("{v:?} is not one of {}", allowed.join(", ")),
            ))
        }
    }

    /// A point given as `"lon,lat"`, `[lon, lat]` or a GeoJSON Point.
    pub fn point(&self, name: &str) -> Result<Option<(f64, f64)>, ServiceError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let bad =
            || ServiceError::invalid(name, "expected \"lon,lat\", [lon, lat] or a GeoJSON Point");
        let coords: Vec<f64> = match v {
            Value::String(s) => s
                .split(',')
                .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
                .collect::<Result<_, _>>()?,
            Value::Array(a) => a
                .iter()
                .map(|c| c.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            Value::Object(o) if o.get("type") == Some(&Value::String("Point".into())) => o
                .get("coordinates")
                .and_then(Value::as_array)
                .ok_or_else(bad)?
                .iter()
                .map(|c| c.as_f64().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad()),
        };
        if coords.len() != 2 {
            return Err(bad());
        }
        check_lon_lat(name, coords[0], coords[1])?;
        Ok(Some((coords[0], coords[1])))
    }
}

impl Inputs {
    /// A list of points: an array of points (in any form [`Inputs::point`] takes), the
    /// coordinates of a GeoJSON MultiPoint or LineString, or `"lon,lat|lon,lat…"` (`;` works too).
    pub fn points(&self, name: &str) -> Result<Option<Vec<(f64, f64)>>, ServiceError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let bad = || {
            ServiceError::invalid(
                name,
                "expected a list of points: [[lon, lat], …], a GeoJSON MultiPoint or LineString, or \"lon,lat|lon,lat\"",
            )
        };
        let items: Vec<Value> = match v {
            Value::String(s) => s
                .split(['|', ';'])
                .filter(|p| !p.trim().is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect(),
            Value::Array(a) => a.clone(),
            Value::Object(o)
                if matches!(
                    o.get("type").and_then(Value::as_str),
                    Some("MultiPoint" | "LineString")
                ) =>
            {
                o.get("coordinates")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(bad)?
            }
            _ => return Err(bad()),
        };
        if items.len() > MAX_LIST_POINTS {
            return Err(ServiceError::invalid(
                name,
                format!(
                    "holds {} points, more than the {MAX_LIST_POINTS} any process takes",
                    items.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let one = Inputs::from(Map::from_iter([(name.to_string(), item)]));
            let label = format!("{name}[{i}]");
            let point = one
                .point(name)
                .map_err(|e| {
                    ServiceError::invalid(
                        &label,
                        e.to_string()
                            .split_once(": ")
                            .map_or(String::new(), |(_, r)| r.to_string()),
                    )
                })?
                .ok_or_else(bad)?;
            out.push(point);
        }
        Ok(Some(out))
    }
}

/// The most points a list input may hold before each is read (every process takes fewer).
pub const MAX_LIST_POINTS: usize = 10_000;

/// A WGS84 longitude/latitude pair within range.
pub fn check_lon_lat(name: &str, lon: f64, lat: f64) -> Result<(), ServiceError> {
    if !(-180.0..=180.0).contains(&lon) || !lon.is_finite() {
        return Err(ServiceError::invalid(
            name,
            format!("longitude {lon} is outside -180..180"),
        ));
    }
    if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
        return Err(ServiceError::invalid(
            name,
            format!("latitude {lat} is outside -90..90"),
        ));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(v: Value) -> Inputs {
        Inputs::from(v.as_object().unwrap().clone())
    }

    #[test]
    fn strings_and_numbers_are_interchangeable() {
        let i = inputs(json!({"a": "5", "b": 5, "c": {"value": 7}, "d": ""}));
        assert_eq!(i.integer("a", 1, 20).unwrap(), Some(5));
        assert_eq!(i.integer("b", 1, 20).unwrap(), Some(5));
        assert_eq!(i.integer("c", 1, 20).unwrap(), Some(7));
        assert_eq!(i.integer("d", 1, 20).unwrap(), None);
        assert!(i.integer("a", 6, 20).is_err());
    }

    #[test]
    fn lists_of_points_in_every_form() {
        let i = inputs(json!({
            "s": "1,2|3,4", "a": [[1, 2], "3,4"], "g": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
            "bad": [[1, 2], [3, 95]]
        }));
        for n in ["s", "a", "g"] {
            assert_eq!(i.points(n).unwrap(), Some(vec![(1.0, 2.0), (3.0, 4.0)]));
        }
        let e = i.points("bad").unwrap_err().to_string();
        assert!(e.starts_with("bad[1]: latitude 95"), "{e}");
    }

    #[test]
    fn points_in_every_form() {
        let i = inputs(json!({
            "s": "3.5,43.6", "a": [3.5, 43.6],
            "g": {"type": "Point", "coordinates": [3.5, 43.6]}, "bad": "3.5", "far": "3.5,95"
        }));
        for n in ["s", "a", "g"] {
            assert_eq!(i.point(n).unwrap(), Some((3.5, 43.6)));
        }
        assert!(i.point("bad").is_err());
        assert!(i.point("far").unwrap_err().to_string().contains("latitude"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Long and odd lists end in an answer, never a crash, and never more than the bound.
        #[test]
        fn long_point_lists_are_bounded(n in 0usize..30_000, sep in "[|;,]", junk in "\\PC{0,12}") {
            let text = vec![format!("1.5,43.2{junk}"); n].join(&sep);
            let i = inputs(json!({"line": text}));
            if let Ok(Some(points)) = i.points("line") {
                proptest::prop_assert!(points.len() <= MAX_LIST_POINTS);
            }
        }
    }
}
