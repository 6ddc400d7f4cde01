//! `GET /wms`: the Géoplateforme's WMS-Raster republished — GetCapabilities with the gateway's
//! URLs, GetMap through the image cache, GetFeatureInfo and GetLegendGraphic passed through.

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};

use super::ows::{self, Kvp};
use crate::{error::ApiError, http::base_url::BaseUrl, services::wms::WmsQuery, AppState};

pub async fn wms(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let q = Kvp::parse(raw.as_deref());
    let service = q.get("SERVICE");
    if !service.is_empty() && !service.eq_ignore_ascii_case("WMS") {
        return Err(ApiError::bad_parameter(
            "SERVICE",
            format!("{service:?} is not WMS"),
        ));
    }
    let request = q.get("REQUEST").to_ascii_lowercase();
    let query = WmsQuery(q.into_owned());
    match request.as_str() {
        "getcapabilities" => {
            let public = format!("{}/wms", base.0);
            let xml = state
                .wms
                .republished_capabilities(&public)
                .ok_or_else(|| ows::not_loaded("WMS"))?;
            Ok(ows::xml(xml))
        }
        "getmap" => {
            let (map, origin) = state.wms.map(&query).await?;
            Ok(ows::image(&headers, &map, origin.cache_status, origin.stale))
        }
        "getfeatureinfo" | "getlegendgraphic" => {
            let r = state.wms.pass_through(&query).await?;
            let media = HeaderValue::from_str(&r.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            Ok(([(header::CONTENT_TYPE, media)], r.body).into_response())
        }
        other => Err(ApiError::bad_parameter(
            "REQUEST",
            format!(
                "{other:?} is not supported (GetCapabilities, GetMap, GetFeatureInfo, GetLegendGraphic)"
            ),
        )),
    }
}
