//! Altimetry (the Géoplateforme's `/altimetrie`): the `elevation` process (heights of points) and
//! the `elevation-profile` process (a 3D line with its summary).

use serde_json::{json, Value};

use super::{
    fetch::Fetcher,
    inputs::Inputs,
    process::{
        keywords, no_such_process, InputSpec, OutputSpec, ProcessOutput, ProcessProvider,
        ProcessSpec, Progress,
    },
    ServiceError,
};
use crate::{
    cache::{CacheKind, CacheStatus},
    upstream::{Api, UpstreamRequest},
};
use futures::future::BoxFuture;

/// The height the service gives where it has no data.
pub const NO_DATA: f64 = -99999.0;
/// The default resource, and the ones known to exist.
pub const DEFAULT_RESOURCE: &str = "ign_rge_alti_wld";
/// Most points one `elevation` run takes (the upstream's own limit).
pub const MAX_POINTS: usize = 5000;
/// Most points sent in a GET URL: long ones fail upstream (414 beyond ~350 points), so more go
/// as a POST, which the service takes with the same keys in a JSON body.
const GET_MAX_POINTS: usize = 100;
/// Most vertices of a profile line (the upstream's limit on values).
pub const MAX_LINE_VERTICES: usize = 5000;

const ELEVATION: &str = "/altimetrie/1.0/calcul/alti/rest/elevation.json";
const ELEVATION_LINE: &str = "/altimetrie/1.0/calcul/alti/rest/elevationLine.json";

pub struct AltimetryService {
    fetcher: Fetcher,
}

/// One sampled point: lon, lat, height (None where the service has no data), accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub lon: f64,
    pub lat: f64,
    pub z: Option<f64>,
    pub acc: Value,
}

/// The `elevations` of an answer (objects with lon/lat/z/acc; `acc` a string or a number).
pub fn samples(answer: &Value) -> Result<Vec<Sample>, String> {
    let list = answer
        .get("elevations")
        .and_then(Value::as_array)
        .ok_or("no `elevations` array in the answer")?;
    list.iter()
        .map(|e| {
            let lon = e["lon"].as_f64().ok_or("an elevation without lon")?;
            let lat = e["lat"].as_f64().ok_or("an elevation without lat")?;
            let z = e["z"].as_f64().ok_or("an elevation without z")?;
            Ok(Sample {
                lon,
                lat,
                z: (z > NO_DATA + 0.5).then_some(z),
                acc: e.get("acc").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn check_samples(v: Value) -> Result<Value, String> {
    samples(&v)?;
    Ok(v)
}

fn resource(inputs: &Inputs) -> Result<String, ServiceError> {
    let r = inputs
        .string("resource")?
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_string());
    if r.is_empty()
        || r.len() > 100
        || !r
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ServiceError::invalid(
            "resource",
            format!("{r:?} is not a resource name (e.g. {DEFAULT_RESOURCE})"),
        ));
    }
    Ok(r)
}

fn join(values: impl Iterator<Item = f64>) -> String {
    values.map(|v| v.to_string()).collect::<Vec<_>>().join("|")
}

fn haversine_m((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

fn worst(a: CacheStatus, b: CacheStatus) -> CacheStatus {
    if a == CacheStatus::Hit {
        b
    } else {
        a
    }
}

impl AltimetryService {
    pub fn new(fetcher: Fetcher) -> Self {
        AltimetryService { fetcher }
    }

    /// The request for `points` and parameters `extra`: a GET for a few points (cacheable and
    /// readable in logs), a POST with the same keys as JSON strings beyond [`GET_MAX_POINTS`].
    fn request(
        path: &str,
        points: &[(f64, f64)],
        resource: &str,
        extra: &[(&str, String)],
    ) -> UpstreamRequest {
        let mut pairs: Vec<(&str, String)> = vec![
            ("lon", join(points.iter().map(|p| p.0))),
            ("lat", join(points.iter().map(|p| p.1))),
            ("resource", resource.to_string()),
            ("delimiter", "|".into()),
            ("indent", "false".into()),
            ("measures", "false".into()),
        ];
        pairs.extend(extra.iter().cloned());
        let request = UpstreamRequest::new(Api::Altimetry, path);
        if points.len() <= GET_MAX_POINTS {
            return pairs.into_iter().fold(request, |r, (k, v)| r.param(k, v));
        }
        let body: serde_json::Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        request.post(
            "application/json",
            bytes::Bytes::from(Value::Object(body).to_string()),
        )
    }

    /// Heights of points, as 3D Point features (2D with `noData` where the service has none).
    pub async fn elevation(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let points = inputs
            .points("points")?
            .ok_or_else(|| ServiceError::invalid("points", "is required"))?;
        if points.is_empty() || points.len() > MAX_POINTS {
            return Err(ServiceError::invalid(
                "points",
                format!("must hold 1 to {MAX_POINTS} points, got {}", points.len()),
            ));
        }
        let resource = resource(inputs)?;
        let mut features = Vec::with_capacity(points.len());
        let mut status = CacheStatus::Hit;
        // One request: a POST carries every point the service takes at once.
        {
            let request =
                Self::request(ELEVATION, &points, &resource, &[("zonly", "false".into())]);
            let (answer, s) = self
                .fetcher
                .json(request, CacheKind::Altimetry, check_samples)
                .await?;
            status = worst(status, s);
            for sample in samples(&answer.value).map_err(|e| ServiceError::invalid("points", e))? {
                let i = features.len() + 1;
                let (coords, props) = match sample.z {
                    Some(z) => (
                        json!([sample.lon, sample.lat, z]),
                        json!({"z": z, "noData": false, "acc": sample.acc, "index": i, "resource": resource}),
                    ),
                    None => (
                        json!([sample.lon, sample.lat]),
                        json!({"z": null, "noData": true, "acc": sample.acc, "index": i, "resource": resource}),
                    ),
                };
                features.push(json!({"type": "Feature", "id": format!("p{i}"), "geometry": {"type": "Point", "coordinates": coords}, "properties": props}));
            }
        }
        Ok(ProcessOutput::geojson(
            json!({"type": "FeatureCollection", "features": features}),
            status,
        ))
    }

    /// A line sampled along the terrain: one 3D LineString with min, max, ascent, descent, length.
    pub async fn profile(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let line = inputs
            .points("line")?
            .ok_or_else(|| ServiceError::invalid("line", "is required"))?;
        if line.len() < 2 || line.len() > MAX_LINE_VERTICES {
            return Err(ServiceError::invalid(
                "line",
                format!(
                    "must have 2 to {MAX_LINE_VERTICES} vertices, got {}",
                    line.len()
                ),
            ));
        }
        let sampling = inputs.integer("sampling", 2, 5000)?.unwrap_or(100);
        let mode = inputs
            .choice("profileMode", &["simple", "accurate"])?
            .unwrap_or_else(|| "simple".into());
        let resource = resource(inputs)?;
        let request = Self::request(
            ELEVATION_LINE,
            &line,
            &resource,
            &[
                ("profile_mode", mode.clone()),
                ("sampling", sampling.to_string()),
            ],
        );
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Altimetry, check_samples)
            .await?;
        let samples = samples(&answer.value).map_err(|e| ServiceError::invalid("line", e))?;
        let known: Vec<&Sample> = samples.iter().filter(|s| s.z.is_some()).collect();
        let heights: Vec<f64> = known.iter().filter_map(|s| s.z).collect();
        let length: f64 = samples
            .windows(2)
            .map(|w| haversine_m((w[0].lon, w[0].lat), (w[1].lon, w[1].lat)))
            .sum();
        let (ascent, descent) = match (
            answer.value["height_differences"]["positive"].as_f64(),
            answer.value["height_differences"]["negative"].as_f64(),
        ) {
            (Some(p), Some(n)) => (p, n),
            _ => heights.windows(2).fold((0.0, 0.0), |(up, down), w| {
                let d = w[1] - w[0];
                if d > 0.0 {
                    (up + d, down)
                } else {
                    (up, down - d)
                }
            }),
        };
        let round = |v: f64| (v * 100.0).round() / 100.0;
        let coordinates: Vec<Value> = known.iter().map(|s| json!([s.lon, s.lat, s.z])).collect();
        let geometry = if coordinates.len() >= 2 {
            json!({"type": "LineString", "coordinates": coordinates})
        } else {
            Value::Null
        };
        let feature = json!({
            "type": "Feature",
            "id": "profile",
            "geometry": geometry,
            "properties": {
                "min": heights.iter().copied().reduce(f64::min),
                "max": heights.iter().copied().reduce(f64::max),
                "ascent": round(ascent),
                "descent": round(descent),
                "length": round(length),
                "points": samples.len(),
                "noDataPoints": samples.len() - known.len(),
                "sampling": sampling,
                "profileMode": mode,
                "resource": resource,
            }
        });
        Ok(ProcessOutput::geojson(
            json!({"type": "FeatureCollection", "features": [feature]}),
            status,
        ))
    }
}

impl ProcessProvider for AltimetryService {
    fn processes(&self) -> Vec<ProcessSpec> {
        process_specs()
    }

    fn descriptions_source(&self) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        Some(crate::services::process::fixed_descriptions())
    }

    fn execute<'a>(
        &'a self,
        id: &'a str,
        inputs: &'a Inputs,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<ProcessOutput, ServiceError>> {
        Box::pin(async move {
            match id {
                "elevation" => self.elevation(inputs).await,
                "elevation-profile" => self.profile(inputs).await,
                other => Err(no_such_process(other)),
            }
        })
    }
}

pub fn process_specs() -> Vec<ProcessSpec> {
    let resource = InputSpec::new(
        "resource",
        "Elevation model",
        "The altimetry resource.",
        json!({"type": "string", "default": DEFAULT_RESOURCE, "pattern": "^[A-Za-z0-9_-]+$"}),
    );
    let points_schema = json!({"oneOf": [
        {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}},
        {"type": "object", "format": "geojson-geometry", "description": "a GeoJSON MultiPoint"},
        {"type": "string", "description": "\"lon,lat|lon,lat…\""}
    ]});
    vec![
        ProcessSpec {
            id: "elevation".into(),
            title: "Elevation".into(),
            description: "Heights of points (Géoplateforme altimetry), as 3D Point features; points without data get z = null and noData = true.".into(),
            keywords: keywords(&["altimétrie", "elevation", "altitude"]),
            inputs: vec![
                InputSpec::new("points", "Points", "Up to 5000 points: [[lon, lat], …], a GeoJSON MultiPoint, or \"lon,lat|lon,lat\".", points_schema).required(),
                resource.clone(),
            ],
            outputs: vec![OutputSpec::geojson("The points with their heights")],
        },
        ProcessSpec {
            id: "elevation-profile".into(),
            title: "Elevation profile".into(),
            description: "Samples the terrain along a line (Géoplateforme altimetry): one 3D LineString with min, max, ascent, descent (m) and length (m).".into(),
            keywords: keywords(&["altimétrie", "profil", "elevation profile"]),
            inputs: vec![
                InputSpec::new(
                    "line",
                    "Line",
                    "A GeoJSON LineString (2 to 5000 vertices), or its coordinates.",
                    json!({"oneOf": [{"type": "object", "format": "geojson-geometry", "description": "a GeoJSON LineString"}, {"type": "array"}, {"type": "string"}]}),
                )
                .required(),
                InputSpec::new("sampling", "Samples", "Number of points sampled along the line, 2 to 5000.", json!({"type": "integer", "minimum": 2, "maximum": 5000, "default": 100})),
                InputSpec::new("profileMode", "Mode", "simple, or accurate (denser sampling upstream).", json!({"type": "string", "enum": ["simple", "accurate"], "default": "simple"})),
                resource,
            ],
            outputs: vec![OutputSpec::geojson("The profile")],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::memory::MemoryUpstream;

    /// The service on an upstream in memory answering the documented two-point example.
    #[tokio::test]
    async fn elevations_of_points_from_the_recorded_answer() {
        let upstream = std::sync::Arc::new(MemoryUpstream::default());
        upstream.answer(
            ELEVATION,
            200,
            "application/json",
            include_str!("../../../tests/fixtures/altimetrie/elevation_2points.json"),
        );
        let cache =
            crate::cache::MemoryCache::new("test", &crate::config::Config::defaults().cache);
        let service = AltimetryService::new(Fetcher::new(upstream.clone(), cache));
        let inputs = Inputs::from(
            json!({"points": "1.48,43.54|1.49,43.55"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let out = service.elevation(&inputs).await.unwrap();
        let features = out.outputs[0].value["features"].as_array().unwrap().clone();
        assert_eq!(features.len(), 2);
        assert_eq!(
            features[0]["geometry"]["coordinates"],
            json!([1.48, 43.54, 164.34])
        );
        assert_eq!(features[1]["properties"]["z"], json!(141.33));
        let sent = upstream.requests();
        assert_eq!(sent.len(), 1);
        let param = |k: &str| {
            sent[0]
                .query
                .iter()
                .find(|(q, _)| q == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(param("lon").as_deref(), Some("1.48|1.49"));
        assert_eq!(param("lat").as_deref(), Some("43.54|43.55"));
        // The second run is the cache's.
        service.elevation(&inputs).await.unwrap();
        assert_eq!(upstream.requests().len(), 1);
    }

    #[test]
    fn no_data_becomes_none_and_acc_stays_as_given() {
        let answer = json!({"elevations": [
            {"lon": 1.0, "lat": 2.0, "z": 164.34, "acc": "Variable suivant la source de mesure"},
            {"lon": 1.0, "lat": 2.0, "z": -99999, "acc": 2.5}
        ]});
        let s = samples(&answer).unwrap();
        assert_eq!(s[0].z, Some(164.34));
        assert_eq!(s[1].z, None);
        assert_eq!(s[1].acc, json!(2.5));
        assert!(samples(&json!({"elevations": [164.34]})).is_err());
    }

    #[test]
    fn haversine_is_about_right() {
        let d = haversine_m((2.351389, 48.856701), (2.294481, 48.85837));
        assert!((4100.0..4250.0).contains(&d), "{d}");
    }
}
