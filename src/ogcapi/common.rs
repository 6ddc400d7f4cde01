//! OGC API Common: the landing page, conformance, and the health and readiness probes.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{
    documents,
    html::{respond, Cell, Page, Table},
    links::{self, Link},
};
use crate::{
    http::{base_url::BaseUrl, negotiate::Format},
    upstream::{Api, UpstreamError, UpstreamRequest},
    AppState,
};

/// The conformance classes the gateway implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    // LIKE, IN, BETWEEN (QGIS pushes them only when this class is declared), and S_INTERSECTS
    // with BBOX or a geometry.
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-collection",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
];

pub const TITLE: &str = "Géoplateforme gateway";
const DESCRIPTION: &str =
    "IGN's Géoplateforme (data.geopf.fr) through open standards: geocoding as OGC API \
    Features collections and OGC API Processes, GeoJSON everywhere, cached and quota-safe.";

pub async fn landing(State(state): State<AppState>, base: BaseUrl, format: Format) -> Response {
    let mut links = links::self_and_alternate(&base, "/", format, links::JSON);
    links.extend([
        Link::new(
            base.join("/api"),
            "service-desc",
            links::OPENAPI_JSON,
            "The API definition (OpenAPI 3.0)",
        ),
        Link::new(
            base.join("/api.html"),
            "service-doc",
            links::HTML,
            "The API documentation",
        ),
        Link::new(
            base.join("/conformance"),
            "conformance",
            links::JSON,
            "Conformance classes",
        ),
        Link::new(
            base.join("/conformance"),
            links::REL_CONFORMANCE,
            links::JSON,
            "Conformance classes",
        ),
        Link::new(
            base.join("/collections"),
            "data",
            links::JSON,
            "Feature collections",
        ),
        Link::new(
            base.join("/collections"),
            links::REL_DATA,
            links::JSON,
            "Feature collections",
        ),
        Link::new(
            base.join("/processes"),
            links::REL_PROCESSES,
            links::JSON,
            "Processes",
        ),
        Link::new(base.join("/health"), "status", links::JSON, "Health"),
        Link::new(
            base.join("/catalog"),
            "related",
            links::HTML,
            "The basemap kiosk (IGN layers, previews, QGIS files)",
        ),
        Link::new(
            base.join("/catalog.json"),
            "related",
            links::JSON,
            "The basemap catalogue",
        ),
        Link::new(
            base.join("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
            "related",
            "application/xml",
            "WMTS capabilities (the IGN basemaps through the gateway's tile cache)",
        ),
        Link::new(
            base.join("/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
            "related",
            "application/xml",
            "WMS capabilities (WMS-Raster through the gateway)",
        ),
    ]);
    let doc = documents::to_json(&documents::Landing {
        title: TITLE,
        description: DESCRIPTION,
        links: links.clone(),
    });
    respond(format, &doc, links::JSON, || {
        let mut page = Page::new(&base, TITLE, DESCRIPTION);
        let mut t = Table::new("Start here", &["What", "Where"]);
        // What the registries hold now.
        let collections: usize = state
            .collections
            .providers()
            .iter()
            .map(|p| p.count(&state))
            .sum();
        let list = state.processes.list();
        let processes: Vec<&str> = list.iter().map(|p| p.id.as_ref()).collect();
        let collections = format!("Feature collections ({collections})");
        let processes = format!("Processes ({})", processes.join(", "));
        for (what, path) in [
            (collections.as_str(), "/collections?f=html"),
            (processes.as_str(), "/processes?f=html"),
            ("Basemap kiosk (search, preview, add to QGIS)", "/catalog"),
            (
                "WMTS capabilities",
                "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
            ),
            (
                "WMS capabilities",
                "/wms?SERVICE=WMS&REQUEST=GetCapabilities",
            ),
            ("API documentation", "/api.html"),
            ("Conformance", "/conformance?f=html"),
        ] {
            t.rows.push(vec![
                Cell::text(what),
                Cell::link(base.join(path), base.join(path)),
            ]);
        }
        page.tables.push(t);
        page.links = links;
        page
    })
}

pub async fn conformance(base: BaseUrl, format: Format) -> Response {
    let doc = documents::to_json(&documents::Conformance {
        conforms_to: CONFORMANCE,
    });
    respond(format, &doc, links::JSON, || {
        let mut page = Page::new(
            &base,
            "Conformance",
            "The OGC conformance classes this gateway implements.",
        );
        let mut t = Table::new("", &["Class"]);
        t.rows = CONFORMANCE.iter().map(|c| vec![Cell::text(*c)]).collect();
        page.tables.push(t);
        page
    })
}

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The last upstream probe, kept a short while so `/ready` never floods the upstream.
#[derive(Default)]
pub struct Readiness {
    last: Mutex<Option<Probe>>,
}

/// What the upstream probe found.
#[derive(Clone)]
struct Probe {
    at: Instant,
    ok: bool,
    /// No answer at all (no network, DNS, refused, timed out), as opposed to an error answer.
    unreachable: bool,
    detail: Value,
}

const PROBE_TTL: Duration = Duration::from_secs(15);

pub async fn ready(
    State(state): State<AppState>,
    caller: Option<axum::Extension<crate::http::auth::Caller>>,
) -> Response {
    let cached = {
        let last = state
            .readiness
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .filter(|p| p.at.elapsed() < PROBE_TTL)
            .cloned()
    };
    let Probe {
        ok,
        unreachable,
        detail: geocoding,
        ..
    } = match cached {
        Some(c) => c,
        None => {
            let started = Instant::now();
            let probe = UpstreamRequest::new(Api::Geocoding, "/geocodage/getCapabilities");
            let result = state.upstream.get(&probe).await;
            let detail = match &result {
                Ok(_) => {
                    json!({"reachable": true, "latency_ms": started.elapsed().as_millis() as u64})
                }
                Err(e) => json!({"reachable": false, "error": e.to_string()}),
            };
            let probe = Probe {
                at: Instant::now(),
                ok: result.is_ok(),
                unreachable: matches!(
                    result,
                    Err(UpstreamError::Unreachable { .. } | UpstreamError::Timeout { .. })
                ),
                detail,
            };
            *state
                .readiness
                .last
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(probe.clone());
            probe
        }
    };
    // Upstream unreachable (no network: an upstream that answers errors is degraded), but every
    // capabilities document is one the upstream gave (this run or a snapshot a previous run or
    // `seed` kept): the gateway serves its catalogue and cached maps, offline — ready for what a
    // field laptop is for.
    let offline = unreachable
        && !state.basemaps.capabilities().wants_upstream()
        && !state.wms.capabilities().wants_upstream()
        && !state.wfs.capabilities().wants_upstream()
        && !state.tms.capabilities().wants_upstream();
    let (status, word) = if ok || offline {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    let mode = offline.then_some(
        "offline: the upstream is unreachable; the catalogue and the cached maps are served from disk",
    );
    // Cluster mode: a replica without Redis still serves (alone), so it stays ready — a load
    // balancer must not take every replica out when Redis goes — but says so.
    let cluster = match &state.cluster {
        Some(c) => {
            c.ping().await;
            Some(c.status())
        }
        None => None,
    };
    if !state.keys.is_open() && caller.is_none() {
        // A team gateway tells anyone whether it is ready; what is wrong, only to its users.
        let body = json!({
            "status": word,
            "offline": mode,
            "cluster": cluster.as_ref().map(|c| &c["mode"]),
            "detail": "send an access key for the state of each upstream service",
        });
        return (status, Json(body)).into_response();
    }
    let nav = state.navigation.capabilities();
    let navigation = json!({
        "capabilities": nav.source,
        "resources": nav.caps.resources.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        "fetched_at": nav.fetched_at.map(crate::rfc3339::format),
        "last_error": nav.last_error,
    });
    let apis: serde_json::Map<String, Value> = state
        .upstream
        .health()
        .into_iter()
        .map(|(api, h)| {
            let mut v = serde_json::to_value(h).unwrap_or_default();
            v["paused_for_s"] = json!(state.upstream.paused_for(api));
            (api.config_name().to_string(), v)
        })
        .collect();
    let body = json!({
        "status": word,
        "offline": mode,
        "demo": state.config.server.demo.then_some(
            "answers are replayed recordings of the Géoplateforme (serve --demo), not live data"
        ),
        "upstream": {
            "wfs": state.wfs.capabilities().status(),
            "wmts": state.basemaps.capabilities().status(),
            "wms": state.wms.capabilities().status(),
            "tms": state.tms.capabilities().status(),
            "base_url": state.config.upstream.base_url,
            "geocoding": geocoding,
            "navigation": navigation,
            "apis": apis,
        },
        "adapters": state.adapters.report(),
        "cluster": cluster,
    });
    (status, Json(body)).into_response()
}
