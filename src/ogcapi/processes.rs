//! OGC API Processes: `/processes`, `/processes/{id}`, and execution by POST (JSON execute
//! request; `Prefer: respond-async` makes a job) or by GET with the inputs as query parameters
//! (for QGIS layers and curl).

use axum::{
    body::{Body, Bytes},
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Map, Value};

use super::{
    documents,
    html::{respond, with_cache_status, Cell, Page, Table},
    jobs::status_document,
    links::{self, Link},
};
use crate::{
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    jobs::Progress,
    services::{
        inputs::Inputs,
        process::{OutputValue, ProcessOutput, ProcessSpec},
    },
    AppState,
};

const VERSION: &str = "1.0.0";

fn find(state: &AppState, id: &str) -> Result<std::sync::Arc<ProcessSpec>, ApiError> {
    state.processes.get(id).ok_or_else(|| {
        let list = state.processes.list();
        let ids: Vec<&str> = list.iter().map(|p| p.id.as_ref()).collect();
        ApiError::not_found(format!(
            "there is no process {id:?} (processes: {})",
            ids.join(", ")
        ))
    })
}

fn summary<'a>(base: &BaseUrl, p: &'a ProcessSpec) -> documents::ProcessSummary<'a> {
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
    documents::ProcessSummary {
        id: &p.id,
        title: &p.title,
        description: &p.description,
        version: VERSION,
        keywords: p.keywords.iter().map(AsRef::as_ref).collect(),
        job_control_options: &["sync-execute", "async-execute", "dismiss"],
        output_transmission: &["value"],
        links: l,
    }
}

/// The full OGC process description: the summary plus every input and output.
pub fn description(base: &BaseUrl, p: &ProcessSpec) -> Value {
    documents::to_json(&documents::ProcessDescription {
        summary: summary(base, p),
        inputs: p
            .inputs
            .iter()
            .map(|i| {
                let input = documents::InputDescription {
                    title: &i.title,
                    description: &i.description,
                    schema: &i.schema,
                    min_occurs: u8::from(i.required),
                    max_occurs: 1,
                };
                (i.name.as_ref(), input)
            })
            .collect(),
        outputs: p
            .outputs
            .iter()
            .map(|o| {
                let output = documents::OutputDescription {
                    title: &o.title,
                    schema: &o.schema,
                };
                (o.id.as_ref(), output)
            })
            .collect(),
    })
}

pub async fn list(State(state): State<AppState>, base: BaseUrl, format: Format) -> Response {
    let specs = state.processes.list();
    let processes: Vec<Value> = specs
        .iter()
        .map(|p| documents::to_json(&summary(&base, p)))
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
        for p in &specs {
            t.rows.push(vec![
                Cell::link(
                    p.id.clone(),
                    base.join(&format!("/processes/{}?f=html", p.id)),
                ),
                Cell::text(p.title.clone()),
                Cell::text(p.description.clone()),
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
    let doc = description(&base, &p);
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = Page::new(&base, p.title.as_ref(), p.description.as_ref());
        let mut t = Table::new("Inputs", &["Input", "Required", "Meaning", "Schema"]);
        for i in &p.inputs {
            t.rows.push(vec![
                Cell::text(i.name.clone()),
                Cell::text(if i.required { "yes" } else { "no" }),
                Cell::text(format!("{} — {}", i.title, i.description)),
                Cell::text(i.schema.to_string()),
            ]);
        }
        page.tables.push(t);
        let example = base.join(&format!("/processes/{}/execution", p.id));
        page.note = Some(format!(
            "Run it with POST {example} and a JSON body {{\"inputs\": {{…}}}} (add the header \
             Prefer: respond-async for a job), or GET {example}?input=value…"
        ));
        page
    }))
}

/// One output as a raw response: JSON for JSON types, text for the rest.
pub fn raw_output(output: &OutputValue, cache: Option<crate::cache::CacheStatus>) -> Response {
    let media = HeaderValue::from_str(&output.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = match &output.value {
        Value::String(text) if !output.media_type.contains("json") => {
            Body::from(text.clone()).into_response()
        }
        value => Json(value).into_response(),
    };
    response.headers_mut().insert(header::CONTENT_TYPE, media);
    with_cache_status(response, cache)
}

/// The results document: every output (or those asked for) with its media type and value.
pub fn results_document(output: &ProcessOutput, wanted: Option<&[String]>) -> Value {
    let map: Map<String, Value> = output
        .outputs
        .iter()
        .filter(|o| wanted.is_none_or(|w| w.contains(&o.id)))
        .map(|o| {
            (
                o.id.clone(),
                json!({ "mediaType": o.media_type, "value": o.value }),
            )
        })
        .collect();
    Value::Object(map)
}

/// Replaces inputs given as links (`{"href": …}`) by the upload they point at. Only the gateway's
/// own `/uploads/{id}` are accepted: the gateway never fetches a URL taken from a request.
async fn resolve_uploads(
    state: &AppState,
    inputs: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    for (name, value) in inputs.iter_mut() {
        let Some(href) = value
            .as_object()
            .and_then(|o| o.get("href"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let id = crate::jobs::uploads::Uploads::id_of(href).ok_or_else(|| {
            ApiError::bad_parameter(name, "only this gateway's own /uploads/{id} links are accepted (POST the data to /uploads first)")
        })?;
        let data = state
            .uploads
            .get(id, &crate::jobs::Viewer::current())
            .await
            .ok_or_else(|| {
                ApiError::bad_parameter(name, format!("upload {id} does not exist or has expired"))
            })?;
        let text = String::from_utf8(data.to_vec())
            .map_err(|_| ApiError::bad_parameter(name, "the upload is not UTF-8 text"))?;
        *value = Value::String(text);
    }
    Ok(())
}

struct ExecuteRequest {
    inputs: Inputs,
    document: bool,
    outputs: Option<Vec<String>>,
}

async fn parse_execute(
    state: &AppState,
    spec: &ProcessSpec,
    body: &[u8],
) -> Result<ExecuteRequest, ApiError> {
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_body(format!("the execute request is not valid JSON: {e}"))
        })?
    };
    let Value::Object(mut request) = request else {
        return Err(ApiError::bad_body(
            "the execute request must be a JSON object with an \"inputs\" member",
        ));
    };
    let mut inputs = match request.remove("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_body(
                "\"inputs\" must be an object of input name to value",
            ))
        }
    };
    resolve_uploads(state, &mut inputs).await?;
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
    let outputs = match request.get("outputs") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => {
            let ids: Vec<String> = o.keys().cloned().collect();
            for id in &ids {
                if !spec.outputs.iter().any(|s| s.id == id.as_str()) {
                    let known: Vec<_> = spec.outputs.iter().map(|s| s.id.as_ref()).collect();
                    return Err(ApiError::bad_parameter(
                        "outputs",
                        format!(
                            "{id:?} is not an output of {} (outputs: {})",
                            spec.id,
                            known.join(", ")
                        ),
                    ));
                }
            }
            Some(ids)
        }
        Some(_) => {
            return Err(ApiError::bad_body(
                "\"outputs\" must be an object of output id to options",
            ))
        }
    };
    Ok(ExecuteRequest {
        inputs: Inputs::from(inputs),
        document,
        outputs,
    })
}

fn wants_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

/// `POST /processes/{id}/execution` with `{"inputs": {…}, "outputs": {…}, "response": "raw"|"document"}`.
pub async fn execute_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = find(&state, &id)?;
    let request = parse_execute(&state, &spec, &body).await?;
    if wants_async(&headers) {
        // Inputs are checked now, so a bad request is a 400 rather than a failed job.
        state.processes.validate(&id, &request.inputs)?;
        let progress = Progress::default();
        let processes = state.processes.clone();
        let (pid, inputs, p) = (id.clone(), request.inputs, progress.clone());
        let owner = crate::jobs::Viewer::current().name;
        let job = state
            .jobs
            .submit(&owner, &id, progress, async move {
                processes.execute_with_progress(&pid, &inputs, &p).await
            })
            .await?;
        let location = base.join(&format!("/jobs/{}", job.id));
        let mut response =
            (StatusCode::CREATED, Json(status_document(&base, &job))).into_response();
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&location) {
            h.insert(header::LOCATION, v);
        }
        h.insert(
            "preference-applied",
            HeaderValue::from_static("respond-async"),
        );
        return Ok(response);
    }
    let output = state.processes.execute(&id, &request.inputs).await?;
    let single = match &request.outputs {
        Some(ids) if ids.len() == 1 => output.output(Some(&ids[0])),
        Some(_) => None,
        None if output.outputs.len() == 1 => output.output(None),
        None => None,
    };
    match (request.document, single) {
        (false, Some(one)) => Ok(raw_output(one, output.cache_status)),
        _ => Ok(with_cache_status(
            Json(results_document(&output, request.outputs.as_deref())).into_response(),
            output.cache_status,
        )),
    }
}

/// `GET /processes/{id}/execution?input=value…`: the main output (or `output=id`), for QGIS's
/// "Add Vector Layer → HTTP(S)" and one-line curls.
pub async fn execute_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let spec = find(&state, &id)?;
    let mut wanted = None;
    let mut pairs = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "f" => {}
            "output" => wanted = Some(v.into_owned()),
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    if let Some(w) = &wanted {
        if !spec.outputs.iter().any(|o| o.id == w.as_str()) {
            let known: Vec<_> = spec.outputs.iter().map(|o| o.id.as_ref()).collect();
            return Err(ApiError::bad_parameter(
                "output",
                format!(
                    "{w:?} is not an output of {id} (outputs: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    let inputs: Inputs = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let output = state.processes.execute(&id, &inputs).await?;
    let one = output
        .output(wanted.as_deref())
        .ok_or_else(|| ApiError::internal("the process returned no output"))?;
    Ok(raw_output(one, output.cache_status))
}
