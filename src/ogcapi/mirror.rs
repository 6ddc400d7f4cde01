//! `GET|POST /geopf/{path}`: the guarded mirror of the Géoplateforme (see [`crate::services::mirror`]).
//! Anything the mirror does not lead to is a 404, never a request elsewhere.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::{html::with_cache_status, ows};
use crate::{error::ApiError, upstream::PostBody, AppState};

/// `GET /geopf/{path}`.
pub async fn mirror(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    forward(&state, &path, raw.as_deref(), None, &headers).await
}

/// `POST /geopf/{path}`: the body is sent on with its `Content-Type` (never cached).
pub async fn mirror_post(
    State(state): State<AppState>,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = PostBody {
        content_type,
        bytes: body,
    };
    forward(&state, &path, raw.as_deref(), Some(body), &headers).await
}

async fn forward(
    state: &AppState,
    path: &str,
    raw: Option<&str>,
    body: Option<PostBody>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let query = super::links::query_pairs(raw);
    let request = state.mirror.request(path, query, body).ok_or_else(|| {
        ApiError::not_found(format!(
            "the mirror leads only to the Géoplateforme APIs listed in mirror.prefixes ({}), by plain paths",
            state.config.mirror.prefixes.join(", ")
        ))
    })?;
    let m = state.mirror.get(request).await?;
    let status = m.origin.cache_status;
    if m.durable {
        return Ok(ows::image(headers, &m.answer, status, m.origin.stale));
    }
    let answer = m.answer;
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == answer.etag)
    {
        let r = (StatusCode::NOT_MODIFIED, [(header::ETAG, answer.etag)]).into_response();
        return Ok(with_cache_status(r, Some(status)));
    }
    let r = (
        [
            (header::CONTENT_TYPE, answer.content_type),
            (header::ETAG, answer.etag),
        ],
        answer.body,
    )
        .into_response();
    Ok(with_cache_status(r, Some(status)))
}
