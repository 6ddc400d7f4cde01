//! The replayed Géoplateforme: an HTTP server on loopback answering the upstream's paths from
//! the recordings (geocoding, navigation, altimetry, WFS), the embedded capabilities (WMTS, WMS,
//! WFS) and drawn images (tiles, maps), in the upstream's formats and with its error shapes.

use std::{collections::HashMap, sync::Arc};

use axum::{
    body::Bytes,
    extract::State,
    http::{header, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::{json, Value};

use super::{paint, recordings::Recordings};
use crate::catalog::embedded;

/// What the replay serves, read once at start.
pub struct Replay {
    recordings: Recordings,
    wmts: String,
    wms: String,
    wfs: String,
    /// The recorded communes, paged as the WFS pages them.
    communes: Value,
    /// Layer identifier → formats, from the WMTS capabilities.
    wmts_formats: HashMap<String, Vec<String>>,
    /// Bounds the requests worked on at once ([`WORKING`]).
    working: Arc<tokio::sync::Semaphore>,
}

impl Replay {
    pub fn load() -> Result<Replay, String> {
        let recordings = Recordings::load()?;
        let communes = recordings
            .named("wfs/getfeature_json_commune_ecql-filter_2025.json")
            .map(|r| serde_json::from_slice(r.body))
            .transpose()
            .map_err(|e| format!("the recorded communes are unreadable: {e}"))?
            .unwrap_or(Value::Null);
        let wmts = embedded::WMTS.text()?;
        let wmts_formats = crate::catalog::wmts::parse_capabilities(&wmts)
            .map_err(|e| format!("the embedded WMTS capabilities: {e}"))?
            .into_iter()
            .map(|l| (l.id, l.formats))
            .collect();
        Ok(Replay {
            recordings,
            wmts,
            wms: embedded::WMS_RASTER.text()?,
            wfs: embedded::WFS.text()?,
            communes,
            wmts_formats,
            working: Arc::new(tokio::sync::Semaphore::new(WORKING)),
        })
    }

    pub fn recordings(&self) -> usize {
        self.recordings.len()
    }

    pub fn router(self) -> Router {
        Router::new().fallback(answer).with_state(Arc::new(self))
    }
}

type Answer = (StatusCode, &'static str, Vec<u8>);

async fn answer(State(replay): State<Arc<Replay>>, uri: Uri, body: Bytes) -> Response {
    // Parameters from the query and, for a form POST (WFS GetFeature), the body.
    let mut params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .chain(url::form_urlencoded::parse(&body))
            .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
            .collect();
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .trim_end_matches('/')
        .to_string();
    params.remove("apikey");
    // Drawing a map (up to 4096² pixels) is CPU work and memory: off the runtime's threads, a few
    // at a time.
    let Ok(permit) = replay.working.clone().acquire_owned().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        replay.route(&path, &params)
    });
    match work.await {
        Ok((status, content_type, body)) => {
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// How many requests the replay works on at once.
const WORKING: usize = 4;

impl Replay {
    fn route(&self, path: &str, params: &HashMap<String, String>) -> Answer {
        match path {
            "/wmts" => self.wmts(params),
            "/wms-r" | "/wms-r/wms" | "/wms-r/ows" => self.wms(params),
            "/wfs" | "/wfs/ows" | "/wfs/wfs" => self.wfs(params),
            "/geocodage/search" => self.search(params),
            "/geocodage/getcapabilities" => self.recorded("/geocodage/getCapabilities", params),
            "/navigation/isodistance" => self.recorded("/navigation/isochrone", params),
            other => self.recorded(other, params),
        }
    }

    /// The recording of this path that agrees best with the request, or the upstream's "not
    /// found" when none was recorded.
    fn recorded(&self, path: &str, params: &HashMap<String, String>) -> Answer {
        match self.recordings.best(path, params, None) {
            Some((r, _)) => (status(r.status), content_type(&r.content_type), r.answer()),
            None => not_recorded(path),
        }
    }

    /// A search shares words with a recorded one, or finds nothing (as the upstream would find
    /// nothing it knows).
    fn search(&self, params: &HashMap<String, String>) -> Answer {
        let asked = params.get("q").map_or("", String::as_str);
        match self.recordings.best("/geocodage/search", params, Some("q")) {
            Some((r, shared)) if shared > 0 || asked.is_empty() => {
                (status(r.status), content_type(&r.content_type), r.answer())
            }
            _ => (
                StatusCode::OK,
                "application/json; charset=utf-8",
                br#"{"type":"FeatureCollection","features":[]}"#.to_vec(),
            ),
        }
    }

    fn wmts(&self, params: &HashMap<String, String>) -> Answer {
        let request = params.get("request").map(|r| r.to_lowercase());
        match request.as_deref() {
            Some("getcapabilities") => (
                StatusCode::OK,
                "application/xml",
                self.wmts.clone().into_bytes(),
            ),
            Some("gettile") => self.tile(params),
            _ => ows_exception("OperationNotSupported", "REQUEST"),
        }
    }

    fn tile(&self, params: &HashMap<String, String>) -> Answer {
        let layer = params.get("layer").map_or("", String::as_str);
        let Some(formats) = self.wmts_formats.get(layer) else {
            return ows_exception("InvalidParameterValue", "LAYER");
        };
        let number = |key: &str| params.get(key).and_then(|v| v.parse::<u32>().ok());
        let (Some(z), Some(row), Some(col)) =
            (number("tilematrix"), number("tilerow"), number("tilecol"))
        else {
            return ows_exception("MissingParameterValue", "TILEMATRIX");
        };
        if z > 21 || row >= 1 << z || col >= 1 << z {
            return ows_exception("TileOutOfRange", "TILEROW");
        }
        let format = params
            .get("format")
            .cloned()
            .or_else(|| formats.first().cloned())
            .unwrap_or_else(|| "image/png".into());
        if !formats.contains(&format) {
            return ows_exception("InvalidParameterValue", "FORMAT");
        }
        image(&paint::tile(layer, z, col, row), &format)
    }

    fn wms(&self, params: &HashMap<String, String>) -> Answer {
        let request = params.get("request").map(|r| r.to_lowercase());
        match request.as_deref() {
            Some("getcapabilities") => (StatusCode::OK, "text/xml", self.wms.clone().into_bytes()),
            Some("getmap") => {
                let size = |key: &str| {
                    params
                        .get(key)
                        .and_then(|v| v.parse::<u32>().ok())
                        .filter(|n| (1..=4096).contains(n))
                };
                let (Some(width), Some(height)) = (size("width"), size("height")) else {
                    return ows_exception("InvalidParameterValue", "WIDTH");
                };
                let layers = params.get("layers").map_or("", String::as_str);
                let bbox = params.get("bbox").map_or("", String::as_str);
                let format = params.get("format").map_or("image/png", String::as_str);
                image(&paint::map(layers, bbox, width, height), format)
            }
            _ => ows_exception("OperationNotSupported", "REQUEST"),
        }
    }

    fn wfs(&self, params: &HashMap<String, String>) -> Answer {
        let request = params.get("request").map(|r| r.to_lowercase());
        let type_name = params
            .get("typenames")
            .or_else(|| params.get("typename"))
            .map_or("", String::as_str);
        match request.as_deref() {
            Some("getcapabilities") => (
                StatusCode::OK,
                "application/xml",
                self.wfs.clone().into_bytes(),
            ),
            Some("describefeaturetype") => {
                let schema = self.recordings.best(
                    "/wfs/ows",
                    &HashMap::from([
                        ("request".to_string(), "DescribeFeatureType".to_string()),
                        ("typenames".to_string(), type_name.to_string()),
                    ]),
                    None,
                );
                match schema {
                    Some((r, _))
                        if r.params.get("typenames").map(String::as_str) == Some(type_name) =>
                    {
                        (StatusCode::OK, "application/xml", r.answer())
                    }
                    _ => self
                        .recordings
                        .named("wfs/error_400_describefeaturetype_unknown-type.xml")
                        .map_or_else(
                            || ows_exception("InvalidParameterValue", "TYPENAMES"),
                            |r| (StatusCode::BAD_REQUEST, "application/xml", r.answer()),
                        ),
                }
            }
            Some("getfeature") => self.features(type_name, params),
            _ => ows_exception("OperationNotSupported", "REQUEST"),
        }
    }

    /// The recorded communes for their type (none for another), paged by `startIndex`/`count`.
    fn features(&self, type_name: &str, params: &HashMap<String, String>) -> Answer {
        let all: &[Value] = if type_name == "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune" {
            self.communes["features"]
                .as_array()
                .map_or(&[], Vec::as_slice)
        } else {
            &[]
        };
        let number = |key: &str| params.get(key).and_then(|v| v.parse::<usize>().ok());
        let start = number("startindex").unwrap_or(0).min(all.len());
        let count = number("count").or(number("maxfeatures")).unwrap_or(1000);
        let page = &all[start..(start + count).min(all.len())];
        let doc = json!({
            "type": "FeatureCollection",
            "features": page,
            "totalFeatures": all.len(),
            "numberMatched": all.len(),
            "numberReturned": page.len(),
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}},
        });
        (
            StatusCode::OK,
            "application/json;charset=UTF-8",
            serde_json::to_vec(&doc).unwrap_or_default(),
        )
    }
}

fn image(canvas: &paint::Canvas, format: &str) -> Answer {
    let encoded = if format.contains("jpeg") {
        canvas.jpeg().map(|b| ("image/jpeg", b))
    } else {
        canvas.png().map(|b| ("image/png", b))
    };
    match encoded {
        Ok((content_type, bytes)) => (StatusCode::OK, content_type, bytes),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("the demo image could not be drawn: {e}").into_bytes(),
        ),
    }
}

/// An OGC exception report, as the Géoplateforme's WMTS and WFS send them (400).
fn ows_exception(code: &str, locator: &str) -> Answer {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0"><ows:Exception exceptionCode="{code}" locator="{locator}"><ows:ExceptionText>{code}: {locator}</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"#
    );
    (
        StatusCode::BAD_REQUEST,
        "application/xml",
        body.into_bytes(),
    )
}

fn not_recorded(path: &str) -> Answer {
    let body = json!({"error": {"code": 404, "message": format!("the demo has no recorded answer for {path}")}});
    (
        StatusCode::NOT_FOUND,
        "application/json",
        body.to_string().into_bytes(),
    )
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

/// A recorded Content-Type as a static value (the few the recordings have).
fn content_type(recorded: &str) -> &'static str {
    match recorded {
        "application/xml" => "application/xml",
        "text/xml" => "text/xml",
        "application/json" => "application/json",
        r if r.starts_with("application/json") => "application/json; charset=utf-8",
        _ => "application/octet-stream",
    }
}
