//! OGC API Processes: `/processes`, `/processes/{id}`, and execution by POST (JSON execute
//! request) or by GET with the inputs as query parameters (for QGIS layers and curl).

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Map, Value};

use super::{
    html::{respond, with_cache_status, Cell, Page, Table},
    links::{self, Link},
};
use crate::{
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    services::{
        inputs::Inputs,
        process::{feature_collection_schema, ProcessOutput, ProcessSpec, OUTPUT_ID},
    },
    AppState,
};

const VERSION: &str = "1.0.0";

fn find<'a>(state: &'a AppState, id: &str) -> Result<&'a ProcessSpec, ApiError> {
    state.processes.get(id).ok_or_else(|| {
        let ids: Vec<_> = state.processes.list().iter().map(|p| p.id).collect();
        ApiError::not_found(format!(
            "there is no process {id:?} (processes: {})",
            ids.join(", ")
        ))
    })
}

fn summary(base: &BaseUrl, p: &ProcessSpec) -> Map<String, Value> {
    let path = format!("/processes/{}", p.id);
    let l = vec![
        Link::new(base.join(&path), "self", links::JSON, "Process description"),
        Link::new(
            base.join(&format!("{path}?f=html")),
            "alternate",
            links::HTML,
            "Process description as HTML",
        ),
        Link::new(
            base.join(&format!("{path}/execution")),
            links::REL_EXECUTE,
            links::JSON,
            "Execute",
        ),
    ];
    let doc = json!({
        "id": p.id,
        "title": p.title,
        "description": p.description,
        "version": VERSION,
        "keywords": p.keywords,
        "jobControlOptions": ["sync-execute"],
        "outputTransmission": ["value"],
        "links": links::to_value(&l),
    });
    doc.as_object().cloned().unwrap_or_default()
}

/// The full OGC process description: the summary plus every input and the output.
pub fn description(base: &BaseUrl, p: &ProcessSpec) -> Value {
    let mut doc = summary(base, p);
    let inputs: Map<String, Value> = p
        .inputs
        .iter()
        .map(|i| {
            (
                i.name.to_string(),
                json!({
                    "title": i.title,
                    "description": i.description,
                    "schema": i.schema,
                    "minOccurs": u8::from(i.required),
                    "maxOccurs": 1,
                }),
            )
        })
        .collect();
    doc.insert("inputs".into(), Value::Object(inputs));
    doc.insert(
        "outputs".into(),
        json!({ OUTPUT_ID: { "title": p.output_title, "schema": feature_collection_schema() } }),
    );
    Value::Object(doc)
}

pub async fn list(State(state): State<AppState>, base: BaseUrl, format: Format) -> Response {
    let processes: Vec<Value> = state
        .processes
        .list()
        .iter()
        .map(|p| Value::Object(summary(&base, p)))
        .collect();
    let l = links::self_and_alternate(&base, "/processes", format, links::JSON);
    let doc = json!({ "processes": processes, "links": links::to_value(&l) });
    respond(format, &doc, links::JSON, || {
        let mut page = Page::new(
            &base,
            "Processes",
            "Processes this gateway runs; each returns GeoJSON.",
        );
        let mut t = Table::new("", &["Process", "Title", "Description"]);
        for p in state.processes.list() {
            t.rows.push(vec![
                Cell::link(p.id, base.join(&format!("/processes/{}?f=html", p.id))),
                Cell::text(p.title),
                Cell::text(p.description),
            ]);
        }
        page.tables.push(t);
        page.links = l;
        page
    })
}

pub async fn describe(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let p = find(&state, &id)?;
    let doc = description(&base, p);
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = Page::new(&base, p.title, p.description);
        let mut t = Table::new("Inputs", &["Input", "Required", "Meaning", "Schema"]);
        for i in &p.inputs {
            t.rows.push(vec![
                Cell::text(i.name),
                Cell::text(if i.required { "yes" } else { "no" }),
                Cell::text(format!("{} — {}", i.title, i.description)),
                Cell::text(i.schema.to_string()),
            ]);
        }
        page.tables.push(t);
        let example = base.join(&format!("/processes/{}/execution", p.id));
        page.note = Some(format!(
            "Run it with POST {example} and a JSON body {{\"inputs\": {{…}}}}, or GET {example}?input=value…"
        ));
        page
    }))
}

fn geojson(output: ProcessOutput) -> Response {
    let mut response = Json(output.value).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(links::GEOJSON),
    );
    if let Ok(v) = HeaderValue::from_str(&output.cache_status.to_string()) {
        headers.insert("cache-status", v);
    }
    response
}

/// `POST /processes/{id}/execution` with `{"inputs": {…}, "response": "raw"|"document"}`.
/// Runs synchronously (a `Prefer: respond-async` is answered synchronously, as the standard allows
/// a server without async support to do, with `Preference-Applied` absent).
pub async fn execute_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    find(&state, &id)?;
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_body(format!("the execute request is not valid JSON: {e}"))
        })?
    };
    let Value::Object(mut request) = request else {
        return Err(ApiError::bad_body(
            "the execute request must be a JSON object with an \"inputs\" member",
        ));
    };
    let inputs = match request.remove("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_body(
                "\"inputs\" must be an object of input name to value",
            ))
        }
    };
    let document = match request.get("response").and_then(Value::as_str) {
        None | Some("raw") => false,
        Some("document") => true,
        Some(other) => {
            return Err(ApiError::bad_parameter(
                "response",
                format!("{other:?} is not raw or document"),
            ))
        }
    };
    let output = state.processes.execute(&id, &Inputs::from(inputs)).await?;
    if document {
        let response = Json(json!({
            OUTPUT_ID: { "mediaType": links::GEOJSON, "value": output.value }
        }))
        .into_response();
        return Ok(with_cache_status(response, Some(output.cache_status)));
    }
    Ok(geojson(output))
}

/// `GET /processes/{id}/execution?input=value…`: the result as GeoJSON, for QGIS's
/// "Add Vector Layer → HTTP(S)" and one-line curls.
pub async fn execute_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    find(&state, &id)?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "f")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let inputs: Inputs = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(geojson(state.processes.execute(&id, &inputs).await?))
}
