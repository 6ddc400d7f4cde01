//! Descriptions of the `route` and `isochrone` processes, generated from the capabilities in use:
//! resources, profiles, optimisations, units, directions and constraint keys are the upstream's.

use serde_json::{json, Value};

use futures::future::BoxFuture;

use super::{NavCapabilities, NavigationService};
use crate::services::{
    inputs::Inputs,
    process::{
        keywords, no_such_process, InputSpec, OutputSpec, ProcessOutput, ProcessProvider,
        ProcessSpec, Progress,
    },
    ServiceError,
};

fn enum_schema(values: Vec<String>, default: Option<&str>) -> Value {
    let mut schema = json!({ "type": "string", "enum": values });
    if let Some(d) = default {
        schema["default"] = json!(d);
    }
    schema
}

fn point_schema() -> Value {
    json!({"oneOf": [
        {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$", "description": "\"lon,lat\" in WGS84"},
        {"type": "object", "format": "geojson-geometry", "description": "a GeoJSON Point"}
    ]})
}

fn constraints_input(caps: &NavCapabilities, operation: &str) -> InputSpec {
    let mut keys: Vec<String> = Vec::new();
    for r in caps.resources_for(operation) {
        for c in r.operations[operation].constraints() {
            let text = format!(
                "{} ({}; {}{})",
                c.key,
                c.types.join("/"),
                c.operators.join(" "),
                if c.values.is_empty() {
                    String::new()
                } else {
                    format!("; {}", c.values.join(", "))
                }
            );
            if !keys.contains(&text) {
                keys.push(text);
            }
        }
    }
    InputSpec::new(
        "constraints",
        "Constraints",
        "Ways to ban, avoid or prefer: one object {constraintType, key, operator, value} or a list of them. Keys by resource in the capabilities.",
        json!({
            "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
            "description": format!("Keys: {}", if keys.is_empty() { "none".into() } else { keys.join("; ") }),
            "properties": {
                "constraintType": {"type": "string", "enum": ["banned", "avoid", "prefer"]},
                "key": {"type": "string"}, "operator": {"type": "string"}, "value": {"type": "string"}
            }
        }),
    )
}

/// The constraints a checkbox can say: a key whose values are a few words (not numbers) that the
/// upstream lets one avoid with `=` — `waytype` (autoroute, tunnel, pont) today. `(key, value)`.
pub(super) fn avoidable(caps: &NavCapabilities, operation: &str) -> Vec<(String, String)> {
    /// More values than this and a list of checkboxes stops helping: the `constraints` input.
    const MAX_VALUES: usize = 4;
    let mut out: Vec<(String, String)> = Vec::new();
    for r in caps.resources_for(operation) {
        for c in r.operations[operation].constraints() {
            let words = !c.values.is_empty()
                && c.values.len() <= MAX_VALUES
                && c.values.iter().all(|v| v.parse::<f64>().is_err());
            if !words
                || !c.types.iter().any(|t| t == "avoid")
                || !c.operators.iter().any(|o| o == "=")
            {
                continue;
            }
            for v in &c.values {
                let pair = (c.key.clone(), v.clone());
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
    }
    out
}

/// The input id of avoiding `value` of `key`: `avoid_waytype_autoroute`.
pub(super) fn avoid_input(key: &str, value: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("avoid_{}_{}", clean(key), clean(value))
}

/// A checkbox per avoidable constraint (see [`avoidable`]): what QGIS shows as a boolean widget.
fn avoid_inputs(caps: &NavCapabilities, operation: &str) -> Vec<InputSpec> {
    avoidable(caps, operation)
        .into_iter()
        .map(|(key, value)| {
            InputSpec::new(
                avoid_input(&key, &value),
                format!("Avoid {value} ({key})"),
                format!("Avoid the ways whose {key} is {value} (a constraint {{\"constraintType\": \"avoid\", \"key\": \"{key}\", \"operator\": \"=\", \"value\": \"{value}\"}}, added to the others)."),
                json!({"type": "boolean", "default": false}),
            )
        })
        .collect()
}

fn common(caps: &NavCapabilities, operation: &str) -> Vec<InputSpec> {
    let resources: Vec<String> = caps
        .resources_for(operation)
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let default_res = caps.default_resource(operation);
    let op = default_res.and_then(|r| caps.operation(r, operation));
    let default = |p: &str| op.and_then(|o| o.default(p));
    let mut inputs = vec![
        InputSpec::new(
            "resource",
            "Routing graph",
            "The upstream resource (engine and graph).",
            enum_schema(resources, default_res),
        ),
        InputSpec::new(
            "profile",
            "Profile",
            "Means of transport.",
            enum_schema(caps.all_values(operation, "profile"), default("profile")),
        ),
        constraints_input(caps, operation),
        InputSpec::new(
            "crs",
            "Output CRS",
            "CRS of the result's geometry.",
            enum_schema(caps.all_values(operation, "crs"), default("crs")),
        ),
    ];
    inputs.extend(avoid_inputs(caps, operation));
    inputs
}

pub fn process_specs(caps: &NavCapabilities) -> Vec<ProcessSpec> {
    let mut specs = Vec::new();
    if caps.default_resource("route").is_some() {
        let mut inputs = vec![
            InputSpec::new("start", "Start", "Where the route starts.", point_schema()).required(),
            InputSpec::new("end", "End", "Where the route ends.", point_schema()).required(),
            InputSpec::new(
                "intermediates",
                "Via points",
                "Points to pass through, in order: a list of points, or \"lon,lat|lon,lat\".",
                json!({"oneOf": [{"type": "array", "items": point_schema()}, {"type": "string"}]}),
            ),
            InputSpec::new(
                "optimization",
                "Optimisation",
                "Fastest or shortest.",
                enum_schema(caps.all_values("route", "optimization"), Some("fastest")),
            ),
        ];
        inputs.extend(common(caps, "route"));
        specs.push(ProcessSpec {
            id: "route".into(),
            title: "Route".into(),
            description: "Computes a route between points (Géoplateforme itinéraire): one LineString feature with its distance (m) and duration (s), then one feature per step.".into(),
            keywords: keywords(&["itinéraire", "route", "routing", "navigation"]),
            inputs,
            outputs: vec![OutputSpec::geojson("The route, then its steps")],
        });
    }
    if caps.default_resource("isochrone").is_some() {
        let mut inputs = vec![
            InputSpec::new(
                "point",
                "Centre",
                "The point the area is computed around.",
                point_schema(),
            )
            .required(),
            InputSpec::new(
                "costType",
                "Cost",
                "time (isochrone) or distance (isodistance).",
                enum_schema(caps.all_values("isochrone", "costType"), Some("time")),
            ),
            InputSpec::new(
                "costValue",
                "Cost value",
                "How far, in timeUnit or distanceUnit; greater than 0.",
                json!({"type": "number", "exclusiveMinimum": 0}),
            )
            .required(),
            InputSpec::new(
                "timeUnit",
                "Time unit",
                "Unit of costValue for a time cost.",
                enum_schema(caps.all_values("isochrone", "timeUnit"), Some("second")),
            ),
            InputSpec::new(
                "distanceUnit",
                "Distance unit",
                "Unit of costValue for a distance cost.",
                enum_schema(caps.all_values("isochrone", "distanceUnit"), Some("meter")),
            ),
            InputSpec::new(
                "direction",
                "Direction",
                "departure (from the point) or arrival (to the point).",
                enum_schema(caps.all_values("isochrone", "direction"), Some("departure")),
            ),
        ];
        inputs.extend(common(caps, "isochrone"));
        specs.push(ProcessSpec {
            id: "isochrone".into(),
            title: "Isochrone".into(),
            description: "Computes the area reachable from (or to) a point within a time or a distance (Géoplateforme isochrone): one Polygon feature with its parameters.".into(),
            keywords: keywords(&["isochrone", "isodistance", "navigation"]),
            inputs,
            outputs: vec![OutputSpec::geojson("The reachable area")],
        });
    }
    specs
}

impl ProcessProvider for NavigationService {
    /// Only the processes the upstream's capabilities offer a resource for.
    fn processes(&self) -> Vec<ProcessSpec> {
        process_specs(&self.capabilities().caps)
    }

    fn descriptions_source(&self) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        Some(self.capabilities().caps)
    }

    fn execute<'a>(
        &'a self,
        id: &'a str,
        inputs: &'a Inputs,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<ProcessOutput, ServiceError>> {
        Box::pin(async move {
            match id {
                "route" => self.route(inputs).await,
                "isochrone" => self.isochrone(inputs).await,
                other => Err(no_such_process(other)),
            }
        })
    }

    /// The inputs make an upstream request (an async job with a bad point is a 400, not a
    /// failed job).
    fn check(&self, id: &str, inputs: &Inputs) -> Result<(), ServiceError> {
        match id {
            "route" => self.route_request(inputs).map(drop),
            "isochrone" => self.isochrone_request(inputs).map(drop),
            _ => Ok(()),
        }
    }
}
