//! The navigation capabilities (`/navigation/getcapabilities`, road2's format): which resources
//! exist, and per operation the allowed values, defaults, constraint keys and point extents.
//! Process descriptions and input checks come from here; built-in defaults stand in until (or
//! while) the upstream does not answer.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::geo::Bbox;

/// The built-in defaults, in the upstream's own format (written from the API documentation).
pub const DEFAULT_CAPABILITIES: &str = include_str!("default_capabilities.json");

/// A constraint key and what it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintSpec {
    pub key: String,
    pub types: Vec<String>,
    pub operators: Vec<String>,
    /// Allowed values; empty means any (numeric keys such as widths).
    pub values: Vec<String>,
}

/// One parameter of an operation of a resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamSpec {
    pub values: Vec<String>,
    pub default: Option<String>,
    pub bbox: Option<Bbox>,
    pub constraints: Vec<ConstraintSpec>,
}

/// What one resource offers for one operation (`route` or `isochrone`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Operation {
    pub params: BTreeMap<String, ParamSpec>,
}

impl Operation {
    pub fn values(&self, param: &str) -> &[String] {
        self.params.get(param).map_or(&[], |p| p.values.as_slice())
    }

    pub fn default(&self, param: &str) -> Option<&str> {
        self.params.get(param).and_then(|p| p.default.as_deref())
    }

    pub fn bbox(&self, param: &str) -> Option<Bbox> {
        self.params.get(param).and_then(|p| p.bbox)
    }

    pub fn constraints(&self) -> &[ConstraintSpec] {
        self.params
            .get("constraints")
            .map_or(&[], |p| p.constraints.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub description: String,
    pub operations: BTreeMap<String, Operation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NavCapabilities {
    pub title: String,
    pub resources: Vec<Resource>,
}

impl NavCapabilities {
    pub fn builtin() -> Self {
        let value: Value =
            serde_json::from_str(DEFAULT_CAPABILITIES).expect("built-in capabilities are JSON");
        Self::parse(&value).expect("built-in capabilities are valid")
    }

    /// Reads a getcapabilities document; unknown members are ignored, a document without any
    /// usable resource is refused.
    pub fn parse(doc: &Value) -> Result<Self, String> {
        let resources: Vec<Resource> = doc
            .get("resources")
            .and_then(Value::as_array)
            .ok_or("no `resources` array")?
            .iter()
            .filter_map(parse_resource)
            .collect();
        if resources.is_empty() {
            return Err("no resource with an operation".into());
        }
        Ok(NavCapabilities {
            title: doc["info"]["title"].as_str().unwrap_or("").to_string(),
            resources,
        })
    }

    /// The resources offering `operation`, in document order.
    pub fn resources_for(&self, operation: &str) -> Vec<&Resource> {
        self.resources
            .iter()
            .filter(|r| r.operations.contains_key(operation))
            .collect()
    }

    pub fn operation(&self, resource: &str, operation: &str) -> Option<&Operation> {
        self.resources
            .iter()
            .find(|r| r.id == resource)
            .and_then(|r| r.operations.get(operation))
    }

    /// The default resource of an operation: the upstream's usual one when offered, else the first.
    pub fn default_resource(&self, operation: &str) -> Option<&str> {
        let preferred = if operation == "isochrone" {
            "bdtopo-valhalla"
        } else {
            "bdtopo-osrm"
        };
        let offered = self.resources_for(operation);
        offered
            .iter()
            .find(|r| r.id == preferred)
            .or(offered.first())
            .map(|r| r.id.as_str())
    }

    /// Every value of `param` over the resources offering `operation` (for descriptions).
    pub fn all_values(&self, operation: &str, param: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.resources_for(operation) {
            for v in r.operations[operation].values(param) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        out
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| match s {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_bbox(text: &str) -> Option<Bbox> {
    let n: Vec<f64> = text
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    (n.len() == 4).then(|| Bbox {
        min_lon: n[0],
        min_lat: n[1],
        max_lon: n[2],
        max_lat: n[3],
    })
}

fn parse_param(p: &Value) -> ParamSpec {
    let values = &p["values"];
    let mut spec = ParamSpec {
        default: match &p["defaultValue"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        },
        ..ParamSpec::default()
    };
    match values {
        Value::Object(o) => spec.bbox = o.get("bbox").and_then(Value::as_str).and_then(parse_bbox),
        Value::Array(items) if items.iter().any(Value::is_object) => {
            spec.constraints = items
                .iter()
                .filter_map(|c| {
                    Some(ConstraintSpec {
                        key: c.get("key")?.as_str()?.to_string(),
                        types: strings(&c["availableConstraintType"]),
                        operators: strings(&c["availableOperators"]),
                        values: strings(&c["values"]),
                    })
                })
                .collect();
        }
        other => spec.values = strings(other),
    }
    spec
}

fn parse_resource(r: &Value) -> Option<Resource> {
    let id = r.get("id")?.as_str()?.to_string();
    let operations: BTreeMap<String, Operation> = r
        .get("availableOperations")?
        .as_array()?
        .iter()
        .filter_map(|op| {
            let op_id = op.get("id")?.as_str()?.to_string();
            let params = op
                .get("availableParameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| Some((p.get("id")?.as_str()?.to_string(), parse_param(p))))
                        .collect()
                })
                .unwrap_or_default();
            Some((op_id, Operation { params }))
        })
        .collect();
    (!operations.is_empty()).then(|| Resource {
        id,
        description: r["description"].as_str().unwrap_or("").to_string(),
        operations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_defaults_describe_the_three_public_resources() {
        let caps = NavCapabilities::builtin();
        let route: Vec<_> = caps
            .resources_for("route")
            .iter()
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(route, ["bdtopo-osrm", "bdtopo-valhalla", "bdtopo-pgr"]);
        assert_eq!(caps.default_resource("route"), Some("bdtopo-osrm"));
        assert_eq!(caps.default_resource("isochrone"), Some("bdtopo-valhalla"));
        let op = caps.operation("bdtopo-valhalla", "isochrone").unwrap();
        assert_eq!(op.values("direction"), ["departure", "arrival"]);
        assert!(op.bbox("point").unwrap().contains(2.35, 48.85));
        assert_eq!(op.constraints()[0].key, "waytype");
        assert_eq!(
            caps.operation("bdtopo-pgr", "route")
                .unwrap()
                .constraints()
                .len(),
            5
        );
    }

    #[test]
    fn a_document_without_resources_is_refused() {
        assert!(NavCapabilities::parse(&serde_json::json!({"resources": []})).is_err());
        assert!(NavCapabilities::parse(&serde_json::json!({"info": {}})).is_err());
    }
}
