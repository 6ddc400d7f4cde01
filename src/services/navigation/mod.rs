//! Navigation (the Géoplateforme's `/navigation`, engine road2): the `route` and `isochrone`
//! processes, checked against — and described from — the upstream's own capabilities.

mod capabilities;
mod mapping;
mod processes;

use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use serde_json::{json, Value};

pub use capabilities::NavCapabilities;
pub use processes::process_specs;

use self::capabilities::Operation;
use super::{fetch::Fetcher, inputs::Inputs, process::ProcessOutput, ServiceError};
use crate::{
    cache::CacheKind,
    geo::Bbox,
    upstream::{Api, UpstreamError, UpstreamRequest},
};

/// Where the capabilities in use came from.
#[derive(Debug, Clone)]
pub struct CapabilitiesState {
    pub caps: Arc<NavCapabilities>,
    /// `"upstream"` or `"built-in"`.
    pub source: &'static str,
    pub fetched_at: Option<SystemTime>,
    pub last_error: Option<String>,
}

pub struct NavigationService {
    fetcher: Fetcher,
    state: RwLock<CapabilitiesState>,
}

impl NavigationService {
    pub fn new(fetcher: Fetcher) -> Self {
        NavigationService {
            fetcher,
            state: RwLock::new(CapabilitiesState {
                caps: Arc::new(NavCapabilities::builtin()),
                source: "built-in",
                fetched_at: None,
                last_error: None,
            }),
        }
    }

    pub fn capabilities(&self) -> CapabilitiesState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Fetches the upstream capabilities once; on failure the ones in use stay.
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        let request = UpstreamRequest::new(Api::Route, "/navigation/getcapabilities");
        let result = match self.fetcher.fresh_json(&request).await {
            Ok(doc) => NavCapabilities::parse(&doc).map_err(|reason| {
                ServiceError::Upstream(UpstreamError::BadBody {
                    api: Api::Route,
                    reason,
                })
            }),
            Err(e) => Err(e),
        };
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(caps) => {
                *state = CapabilitiesState {
                    caps: Arc::new(caps),
                    source: "upstream",
                    fetched_at: Some(SystemTime::now()),
                    last_error: None,
                };
                Ok(())
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        super::spawn_refresh(self, "navigation capabilities", every, |s| async move {
            s.refresh().await
        })
    }

    pub async fn route(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let request = self.route_request(inputs)?;
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Navigation, |v| {
                mapping::route_features(&v)
            })
            .await
            .map_err(|e| no_result(e, "no route was found between these points"))?;
        Ok(ProcessOutput::geojson(answer.value.clone(), status))
    }

    /// The upstream request of a route, or why the inputs cannot make one.
    pub fn route_request(&self, inputs: &Inputs) -> Result<UpstreamRequest, ServiceError> {
        let caps = self.capabilities().caps;
        let (resource, op) = resource(&caps, inputs, "route")?;
        let start = point_in(inputs, "start", op)?
            .ok_or_else(|| ServiceError::invalid("start", "is required"))?;
        let end = point_in(inputs, "end", op)?
            .ok_or_else(|| ServiceError::invalid("end", "is required"))?;
        let intermediates = inputs.points("intermediates")?.unwrap_or_default();
        for (i, p) in intermediates.iter().enumerate() {
            check_inside(
                &format!("intermediates[{i}]"),
                *p,
                op.bbox("intermediates").or(op.bbox("start")),
            )?;
        }
        let request = UpstreamRequest::new(Api::Route, "/navigation/itineraire")
            .param("resource", &resource)
            .param("start", lon_lat(start))
            .param("end", lon_lat(end))
            .param_opt(
                "intermediates",
                (!intermediates.is_empty()).then(|| {
                    intermediates
                        .iter()
                        .map(|p| lon_lat(*p))
                        .collect::<Vec<_>>()
                        .join("|")
                }),
            )
            .param("profile", enum_input(inputs, "profile", op)?)
            .param("optimization", enum_input(inputs, "optimization", op)?)
            .param_opt("constraints", constraints(inputs, op)?)
            .param("crs", enum_input(inputs, "crs", op)?)
            .param("geometryFormat", "geojson")
            .param("getSteps", "true")
            .param("getBbox", "true")
            .param("waysAttributes", "name")
            .param("distanceUnit", "meter")
            .param("timeUnit", "second");
        Ok(request)
    }

    pub async fn isochrone(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let request = self.isochrone_request(inputs)?;
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Navigation, |v| {
                mapping::isochrone_features(&v)
            })
            .await
            .map_err(|e| no_result(e, "no area could be computed around this point"))?;
        Ok(ProcessOutput::geojson(answer.value.clone(), status))
    }

    /// The upstream request of an isochrone, or why the inputs cannot make one.
    pub fn isochrone_request(&self, inputs: &Inputs) -> Result<UpstreamRequest, ServiceError> {
        let caps = self.capabilities().caps;
        let (resource, op) = resource(&caps, inputs, "isochrone")?;
        let point = point_in(inputs, "point", op)?
            .ok_or_else(|| ServiceError::invalid("point", "is required"))?;
        let cost_type = enum_input(inputs, "costType", op)?;
        let cost = inputs
            .number("costValue")?
            .ok_or_else(|| ServiceError::invalid("costValue", "is required"))?;
        if cost <= 0.0 {
            return Err(ServiceError::invalid(
                "costValue",
                format!("must be greater than 0, got {cost}"),
            ));
        }
        let mut request = UpstreamRequest::new(Api::Isochrone, "/navigation/isochrone")
            .param("resource", &resource)
            .param("point", lon_lat(point))
            .param("costType", &cost_type)
            .param("costValue", cost)
            .param("profile", enum_input(inputs, "profile", op)?)
            .param("direction", enum_input(inputs, "direction", op)?)
            .param_opt("constraints", constraints(inputs, op)?)
            .param("crs", enum_input(inputs, "crs", op)?)
            .param("geometryFormat", "geojson");
        request = if cost_type == "distance" {
            request.param("distanceUnit", enum_input(inputs, "distanceUnit", op)?)
        } else {
            request.param("timeUnit", enum_input(inputs, "timeUnit", op)?)
        };
        Ok(request)
    }
}

/// The engine's 404 means "no path": the inputs were fine, there is just no answer.
fn no_result(e: ServiceError, what: &str) -> ServiceError {
    match e {
        ServiceError::Upstream(UpstreamError::Status {
            status: 404,
            message,
            ..
        }) => ServiceError::NoResult(format!("{what} (the routing engine said: {message})")),
        other => other,
    }
}

fn lon_lat((lon, lat): (f64, f64)) -> String {
    format!("{lon},{lat}")
}

/// The `resource` input (or the operation's default resource) and what it offers.
fn resource<'a>(
    caps: &'a NavCapabilities,
    inputs: &Inputs,
    operation: &str,
) -> Result<(String, &'a Operation), ServiceError> {
    let offered: Vec<&str> = caps
        .resources_for(operation)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let id = match inputs.string("resource")? {
        Some(id) => id,
        None => caps
            .default_resource(operation)
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no navigation resource offers {operation}"))
            })?
            .to_string(),
    };
    let op = caps.operation(&id, operation).ok_or_else(|| {
        ServiceError::invalid(
            "resource",
            format!(
                "{id:?} does not offer {operation}; allowed: {}",
                offered.join(", ")
            ),
        )
    })?;
    Ok((id, op))
}

/// An enumerated input, checked against the resource's allowed values; its default when absent.
fn enum_input(inputs: &Inputs, name: &str, op: &Operation) -> Result<String, ServiceError> {
    let allowed = op.values(name);
    match inputs.string(name)? {
        Some(v) if allowed.is_empty() || allowed.contains(&v) => Ok(v),
        Some(v) => Err(ServiceError::invalid(
            name,
            format!(
                "{v:?} is not allowed; allowed values: {}",
                allowed.join(", ")
            ),
        )),
        None => op
            .default(name)
            .or(allowed.first().map(String::as_str))
            .map(str::to_string)
            .ok_or_else(|| ServiceError::invalid(name, "is required")),
    }
}

fn check_inside(
    name: &str,
    (lon, lat): (f64, f64),
    bbox: Option<Bbox>,
) -> Result<(), ServiceError> {
    match bbox {
        Some(b) if !b.contains(lon, lat) => Err(ServiceError::invalid(
            name,
            format!(
                "{lon},{lat} is outside the area the resource covers ({},{},{},{})",
                b.min_lon, b.min_lat, b.max_lon, b.max_lat
            ),
        )),
        _ => Ok(()),
    }
}

fn point_in(
    inputs: &Inputs,
    name: &str,
    op: &Operation,
) -> Result<Option<(f64, f64)>, ServiceError> {
    let Some(p) = inputs.point(name)? else {
        return Ok(None);
    };
    check_inside(name, p, op.bbox(name))?;
    Ok(Some(p))
}

/// The `constraints` input (an object, a list of objects, or their JSON text), each checked against
/// the resource's constraint keys, types, operators and values, and the `avoid_{key}_{value}`
/// checkboxes set; sent `|`-separated.
fn constraints(inputs: &Inputs, op: &Operation) -> Result<Option<String>, ServiceError> {
    let mut out = match inputs.raw("constraints") {
        Some(raw) => listed_constraints(raw, op)?,
        None => Vec::new(),
    };
    let names: Vec<String> = inputs
        .names()
        .filter(|n| n.starts_with("avoid_"))
        .map(str::to_string)
        .collect();
    for name in names {
        if inputs.boolean(&name)? != Some(true) {
            continue;
        }
        let found = op.constraints().iter().find_map(|spec| {
            let value = spec
                .values
                .iter()
                .find(|v| processes::avoid_input(&spec.key, v) == name)?;
            let allowed =
                spec.types.iter().any(|t| t == "avoid") && spec.operators.iter().any(|o| o == "=");
            allowed.then(|| {
                json!({"constraintType": "avoid", "key": spec.key, "operator": "=", "value": value})
                    .to_string()
            })
        });
        out.push(found.ok_or_else(|| {
            ServiceError::invalid(&name, "this routing graph has no such constraint to avoid (see the resource's constraints in the capabilities)")
        })?);
    }
    Ok((!out.is_empty()).then(|| out.join("|")))
}

/// The constraints of the `constraints` input, each checked and written as the upstream reads it.
fn listed_constraints(raw: &Value, op: &Operation) -> Result<Vec<String>, ServiceError> {
    let value = match raw {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| ServiceError::invalid("constraints", format!("is not JSON: {e}")))?,
        other => other.clone(),
    };
    let list = match value {
        Value::Array(items) => items,
        Value::Object(_) => vec![value],
        _ => {
            return Err(ServiceError::invalid(
                "constraints",
                "expected a constraint object or a list of them",
            ))
        }
    };
    let specs = op.constraints();
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let name = format!("constraints[{i}]");
        let field = |k: &str| {
            c.get(k)
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .ok_or_else(|| {
                    ServiceError::invalid(
                        &name,
                        format!(
                            "lacks \"{k}\" (a constraint has constraintType, key, operator, value)"
                        ),
                    )
                })
        };
        let (kind, key, operator, value) = (
            field("constraintType")?,
            field("key")?,
            field("operator")?,
            field("value")?,
        );
        let keys: Vec<&str> = specs.iter().map(|s| s.key.as_str()).collect();
        let spec = specs
            .iter()
            .find(|s| s.key.eq_ignore_ascii_case(&key))
            .ok_or_else(|| {
                ServiceError::invalid(
                    &name,
                    format!(
                        "key {key:?} is not allowed here; allowed keys: {}",
                        if keys.is_empty() {
                            "none".into()
                        } else {
                            keys.join(", ")
                        }
                    ),
                )
            })?;
        let check = |what: &str, v: &str, allowed: &[String]| {
            if allowed.is_empty() || allowed.iter().any(|a| a == v) {
                Ok(())
            } else {
                Err(ServiceError::invalid(
                    &name,
                    format!(
                        "{what} {v:?} is not allowed for {}; allowed: {}",
                        spec.key,
                        allowed.join(", ")
                    ),
                ))
            }
        };
        check("constraintType", &kind, &spec.types)?;
        check("operator", &operator, &spec.operators)?;
        check("value", &value, &spec.values)?;
        out.push(
            json!({"constraintType": kind, "key": spec.key, "operator": operator, "value": value})
                .to_string(),
        );
    }
    Ok(out)
}
