//! OGC API Features over the WFS feature types: collection documents, items (bbox, paging, CRS,
//! CQL2 `filter` and `property=value`), one item, queryables from the type's schema.

use axum::{
    http::{HeaderValue, StatusCode},
    response::Response,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{
    collections::{CollectionProvider, Listed},
    documents,
    features::{feature_response, parse_bbox, parse_limit, parse_offset, urlencode, CRS84},
    html::{cell_text, respond, with_cache_status, Cell, Page, Table},
    links::{self, Link},
};
use crate::{
    catalog::wfs::{FeatureType, PropertyType},
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    services::wfs::{OutputCrs, WfsQuery, CRS_LIST},
    AppState,
};

/// Where the items of a collection may be filtered and paged, at most this many per page.
pub const WFS_LIMIT_MAX: usize = 1000;

pub fn find(state: &AppState, id: &str) -> Result<FeatureType, ApiError> {
    state.wfs.feature_type(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no WFS feature type {id:?} ({} are listed at /collections)",
            state.wfs.types().len()
        ))
    })
}

/// The WFS feature types of the Géoplateforme, each a collection.
pub struct WfsCollections;

impl CollectionProvider for WfsCollections {
    fn list(&self, state: &AppState, base: &BaseUrl, format: Format) -> Vec<Listed> {
        state
            .wfs
            .types()
            .iter()
            .map(|t| {
                let (doc, _) = collection_doc(base, t, format, false);
                Listed::new(&t.name, &t.title, &t.abstract_, &doc)
            })
            .collect()
    }

    fn list_source(
        &self,
        state: &AppState,
    ) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        Some(state.wfs.types())
    }

    fn has(&self, state: &AppState, id: &str) -> bool {
        state.wfs.feature_type(id).is_some()
    }

    fn count(&self, state: &AppState) -> usize {
        state.wfs.types().len()
    }

    fn collection(
        &self,
        state: &AppState,
        id: &str,
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError> {
        collection(state, id, base, format)
    }

    fn items<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(items(state, id, query, base, format))
    }

    fn item<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        feature_id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(item(state, id, feature_id, query, base, format))
    }

    fn queryables<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(queryables(state, id, base, format))
    }
}

fn crs_uri(epsg: &str) -> String {
    match epsg {
        "EPSG:4326" => CRS84.to_string(),
        other => format!(
            "http://www.opengis.net/def/crs/EPSG/0/{}",
            other.trim_start_matches("EPSG:")
        ),
    }
}

pub fn collection_doc(
    base: &BaseUrl,
    t: &FeatureType,
    format: Format,
    top: bool,
) -> (Value, Vec<Link>) {
    let path = format!("/collections/{}", urlencode(&t.name));
    let l = links::collection_links(base, &path, &t.title, format, top);
    let storage_crs = crs_uri(t.default_crs.as_deref().unwrap_or("EPSG:4326"));
    let doc = documents::to_json(&documents::Collection {
        keywords: t.keywords.iter().map(String::as_str).collect(),
        crs: CRS_LIST.iter().map(|c| c.uri).collect(),
        storage_crs: &storage_crs,
        extent: t
            .wgs84_bbox
            .map(|b| documents::Extent::wgs84([b.min_lon, b.min_lat, b.max_lon, b.max_lat])),
        links: l.clone(),
        ..documents::Collection::features(&t.name, &t.title, &t.abstract_)
    });
    (doc, l)
}

pub fn collection(
    state: &AppState,
    id: &str,
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let t = find(state, id)?;
    let (doc, l) = collection_doc(base, &t, format, true);
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = Page::new(base, t.title.clone(), t.abstract_.clone());
        page.links = l;
        page
    }))
}

fn output_crs(value: &str) -> Result<OutputCrs, ApiError> {
    let v = value.trim();
    CRS_LIST
        .iter()
        .find(|c| c.uri == v || c.srs_name == v)
        .cloned()
        .ok_or_else(|| {
            let all: Vec<_> = CRS_LIST.iter().map(|c| c.uri).collect();
            ApiError::bad_parameter(
                "crs",
                format!("{v:?} is not offered; CRS: {}", all.join(", ")),
            )
        })
}

/// The EPSG code of a projected `bbox-crs`; None for CRS84 / EPSG:4326.
fn bbox_srid(value: &str) -> Result<Option<u32>, ApiError> {
    let crs = output_crs(value).map_err(|e| {
        ApiError::bad_parameter("bbox-crs", e.detail.trim_start_matches("crs: ").to_string())
    })?;
    Ok(match crs.srs_name {
        "EPSG:4326" => None,
        other => other.trim_start_matches("EPSG:").parse().ok(),
    })
}

/// A bbox in any CRS: 4 or 6 numbers, min before max (no range check: projected coordinates).
fn parse_bbox_any(v: &str) -> Result<crate::geo::Bbox, ApiError> {
    let (w, s, e, no) = super::features::bbox_corners(v)?;
    if w > e || s > no {
        return Err(ApiError::bad_parameter(
            "bbox",
            "the minimum is greater than the maximum",
        ));
    }
    Ok(crate::geo::Bbox {
        min_lon: w,
        min_lat: s,
        max_lon: e,
        max_lat: no,
    })
}

fn check_crs84(name: &str, value: &str) -> Result<(), ApiError> {
    match value.trim() {
        CRS84 | "http://www.opengis.net/def/crs/EPSG/0/4326" | "EPSG:4326" => Ok(()),
        other => Err(ApiError::bad_parameter(
            name,
            format!("{other:?} is not supported; use {CRS84}"),
        )),
    }
}

pub async fn items(
    state: &AppState,
    id: &str,
    pairs: &[(String, String)],
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let t = find(state, id)?;
    let mut query = WfsQuery {
        bbox: None,
        bbox_srid: None,
        limit: 10,
        offset: 0,
        filter: None,
        equals: Vec::new(),
        crs: CRS_LIST[0].clone(),
    };
    let mut filter_text = None;
    for (k, v) in pairs {
        match k.as_str() {
            "f" => {}
            "limit" => query.limit = parse_limit(v)?.min(WFS_LIMIT_MAX),
            "offset" => query.offset = parse_offset(v)?,
            "bbox" => query.bbox = Some(parse_bbox_any(v)?),
            "bbox-crs" => query.bbox_srid = bbox_srid(v)?,
            "filter-crs" => check_crs84(k, v)?,
            "crs" => query.crs = output_crs(v)?,
            "filter" => filter_text = Some(v.clone()),
            "filter-lang" if v == "cql2-text" => {}
            "filter-lang" => {
                return Err(ApiError::bad_parameter(
                    "filter-lang",
                    format!("{v:?} is not supported; use cql2-text"),
                ))
            }
            _ => query.equals.push((k.clone(), v.clone())),
        }
    }
    if let (Some(b), None) = (query.bbox, query.bbox_srid) {
        // In CRS84 the usual range checks apply.
        parse_bbox(&format!(
            "{},{},{},{}",
            b.min_lon, b.min_lat, b.max_lon, b.max_lat
        ))?;
    }
    if let Some(text) = filter_text.filter(|t| !t.trim().is_empty()) {
        query.filter = Some(
            crate::cql2::parse(&text)
                .map_err(|e| ApiError::bad_parameter("filter", e.to_string()))?,
        );
    }
    let page = state.wfs.items(&t.name, &query).await?;
    let path = format!("/collections/{}/items", urlencode(&t.name));
    let returned = page.features.len();
    let more = match page.number_matched {
        Some(m) => (query.offset + returned) < m as usize,
        None => returned == query.limit,
    };
    let l = links::items(
        base,
        &links::Page {
            path: &path,
            query: pairs,
            offset: query.offset,
            limit: query.limit,
            more,
        },
        &t.title,
        format,
    );
    let doc = documents::items_page(
        page.features,
        page.number_matched.map(|m| m as usize),
        None,
        &l,
    );
    let mut response = respond(format, &doc, links::GEOJSON, || {
        let mut p = Page::new(base, format!("{} — items", t.title), t.abstract_.clone());
        let mut table = Table::new(&format!("{returned} feature(s)"), &["id", "properties"]);
        for f in doc.features.iter() {
            let props: Vec<String> = f["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .take(6)
                .map(|(k, v)| format!("{k}: {}", cell_text(v)))
                .collect();
            table.rows.push(vec![
                Cell::text(cell_text(&f["id"])),
                Cell::text(props.join(" · ")),
            ]);
        }
        p.tables.push(table);
        p.links = l.clone();
        p
    });
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", query.crs.uri)) {
        response.headers_mut().insert("content-crs", v);
    }
    Ok(with_cache_status(response, Some(page.cache_status)))
}

pub async fn item(
    state: &AppState,
    id: &str,
    fid: &str,
    pairs: &[(String, String)],
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let t = find(state, id)?;
    let crs = match pairs.iter().find(|(k, _)| k == "crs") {
        Some((_, v)) => output_crs(v)?,
        None => CRS_LIST[0].clone(),
    };
    let (feature, status) = state.wfs.item(&t.name, fid, &crs).await?;
    let mut response = feature_response(base, format, feature, &t.name, &t.title, fid);
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri)) {
        response.headers_mut().insert("content-crs", v);
    }
    Ok(with_cache_status(response, Some(status)))
}

fn geometry_format(gml: Option<&str>) -> &'static str {
    match gml.unwrap_or("") {
        "PointPropertyType" => "geometry-point",
        "MultiPointPropertyType" => "geometry-multipoint",
        "CurvePropertyType" | "LineStringPropertyType" => "geometry-linestring",
        "MultiCurvePropertyType" | "MultiLineStringPropertyType" => "geometry-multilinestring",
        "SurfacePropertyType" | "PolygonPropertyType" => "geometry-polygon",
        "MultiSurfacePropertyType" | "MultiPolygonPropertyType" => "geometry-multipolygon",
        _ => "geometry-any",
    }
}

pub async fn queryables(
    state: &AppState,
    id: &str,
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let t = find(state, id)?;
    let schema = state.wfs.schema(&t.name).await?;
    let properties: Map<String, Value> = schema
        .iter()
        .map(|p| {
            let s = match p.kind {
                PropertyType::String => json!({"type": "string"}),
                PropertyType::Integer => json!({"type": "integer"}),
                PropertyType::Number => json!({"type": "number"}),
                PropertyType::Boolean => json!({"type": "boolean"}),
                PropertyType::Date => json!({"type": "string", "format": "date"}),
                PropertyType::DateTime => json!({"type": "string", "format": "date-time"}),
                PropertyType::Geometry => json!({"format": geometry_format(p.gml_type.as_deref())}),
            };
            (p.name.clone(), s)
        })
        .collect();
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": base.join(&format!("/collections/{}/queryables", urlencode(&t.name))),
        "type": "object",
        "title": t.title,
        "properties": properties,
        "additionalProperties": false,
    });
    let mut response = respond(format, &doc, links::SCHEMA_JSON, || {
        let mut p = Page::new(base, format!("{} — queryables", t.title), "");
        let mut table = Table::new("", &["Property", "Schema"]);
        for (k, v) in doc["properties"].as_object().into_iter().flatten() {
            table
                .rows
                .push(vec![Cell::text(k.clone()), Cell::text(v.to_string())]);
        }
        p.tables.push(table);
        p
    });
    if response.status() == StatusCode::OK && format == Format::Json {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(links::SCHEMA_JSON),
        );
    }
    Ok(response)
}
