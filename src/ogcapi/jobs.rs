//! OGC API Processes jobs: `/jobs`, `/jobs/{id}`, `/jobs/{id}/results`, `DELETE /jobs/{id}`.

use axum::{
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{
    documents,
    features::{parse_limit, parse_offset},
    html::{respond, Cell, Page, Table},
    links::{self, Link},
    processes::{raw_output, results_document},
};
use crate::{
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    jobs::{JobInfo, JobStatus, Viewer},
    AppState,
};

pub const REL_RESULTS: &str = "http://www.opengis.net/def/rel/ogc/1.0/results";

/// The OGC status information of a job.
pub fn status_document(base: &BaseUrl, job: &JobInfo) -> Value {
    let path = format!("/jobs/{}", job.id);
    let mut l = vec![
        Link::new(base.join(&path), "self", links::JSON, "Job status"),
        Link::new(
            base.join(&format!("{path}?f=html")),
            "alternate",
            links::HTML,
            "Job status as HTML",
        ),
        Link::new(base.join("/jobs"), "up", links::JSON, "All jobs"),
        Link::new(
            base.join(&format!("/processes/{}", job.process_id)),
            "http://www.opengis.net/def/rel/ogc/1.0/process",
            links::JSON,
            "The process",
        ),
    ];
    if job.status == JobStatus::Successful {
        l.push(Link::new(
            base.join(&format!("{path}/results")),
            REL_RESULTS,
            links::JSON,
            "Results",
        ));
    }
    documents::to_json(&documents::StatusInfo {
        job_id: &job.id,
        process_id: &job.process_id,
        kind: "process",
        status: job.status.as_str(),
        message: &job.message,
        created: crate::rfc3339::format(job.created),
        started: job.started.map(crate::rfc3339::format),
        finished: job.finished.map(crate::rfc3339::format),
        updated: crate::rfc3339::format(job.updated),
        progress: job.progress,
        exception: job.error.as_ref().map(|e| ApiError::from(e.clone()).body()),
        links: l,
    })
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let mut limit = 10;
    let mut offset = 0;
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "limit" => limit = parse_limit(&v)?,
            "offset" => offset = parse_offset(&v)?,
            _ => {}
        }
    }
    let (jobs, total) = state.jobs.page(&Viewer::current(), offset, limit).await;
    let mut l = links::self_and_alternate(&base, "/jobs", format, links::JSON);
    l.extend(links::paging(
        &base,
        &links::Page {
            path: "/jobs",
            query: &[],
            offset,
            limit,
            more: offset + jobs.len() < total,
        },
        links::JSON,
    ));
    let docs: Vec<Value> = jobs.iter().map(|j| status_document(&base, j)).collect();
    let doc = json!({ "jobs": docs, "numberMatched": total, "links": links::to_value(&l) });
    Ok(respond(format, &doc, links::JSON, || {
        let mut p = Page::new(&base, "Jobs", "Asynchronous process runs, newest first.");
        let mut t = Table::new("", &["Job", "Process", "Status", "Progress", "Created"]);
        for j in &jobs {
            t.rows.push(vec![
                Cell::link(j.id.clone(), base.join(&format!("/jobs/{}?f=html", j.id))),
                Cell::text(j.process_id.clone()),
                Cell::text(j.status.as_str()),
                Cell::text(format!("{} %", j.progress)),
                Cell::text(crate::rfc3339::format(j.created)),
            ]);
        }
        p.tables.push(t);
        p.links = l;
        p
    }))
}

pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let job = state.jobs.status(&id, &Viewer::current()).await?;
    let doc = status_document(&base, &job);
    Ok(respond(format, &doc, links::JSON, || {
        let mut p = Page::new(
            &base,
            format!("Job {}", job.id),
            format!(
                "{} — {} ({} %)",
                job.process_id,
                job.status.as_str(),
                job.progress
            ),
        );
        p.note = Some(job.message.clone());
        p
    }))
}

/// The results document of a successful job; `?output=id` gives that one output raw.
pub async fn results(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let output = state.jobs.results(&id, &Viewer::current()).await?;
    let wanted = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "output")
        .map(|(_, v)| v.into_owned());
    match wanted {
        Some(w) => {
            let one = output.output(Some(&w)).ok_or_else(|| {
                ApiError::bad_parameter("output", format!("{w:?} is not an output of this job"))
            })?;
            Ok(raw_output(one, None))
        }
        None => Ok(Json(results_document(&output, None)).into_response()),
    }
}

/// `POST /uploads`: keeps a request body (a CSV) for an hour; answers its URL, to be given as an
/// input `{"href": "…/uploads/{id}"}`.
pub async fn upload(
    State(state): State<AppState>,
    base: BaseUrl,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_body("the upload is empty"));
    }
    let size = body.len();
    let id = state.uploads.put(&Viewer::current().name, body).await;
    let href = base.join(&format!("/uploads/{id}"));
    let mut response = (
        axum::http::StatusCode::CREATED,
        Json(json!({ "id": id, "href": href, "bytes": size, "expires_in_s": 3600 })),
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&href) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, v);
    }
    Ok(response)
}

pub async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    let job = state.jobs.cancel(&id, &Viewer::current()).await?;
    Ok(Json(status_document(&base, &job)).into_response())
}
