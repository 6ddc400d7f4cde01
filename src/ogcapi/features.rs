//! The geocoding collections (addresses, places, parcels) as a [`CollectionProvider`]: their
//! documents, items searched upstream, items remembered, queryables; and the query parameters every
//! collection shares (`limit`, `offset`, `bbox`).

use axum::{
    http::{header, HeaderValue},
    response::Response,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{
    collections::{CollectionProvider, Listed},
    documents,
    html::{cell_text, respond, with_cache_status, Cell, Form, FormField, Page, Table},
    links::{self, Link},
};
use crate::{
    error::ApiError,
    geo::Bbox,
    http::{base_url::BaseUrl, negotiate::Format},
    services::{
        geocode::{CollectionSpec, ItemsQuery},
        inputs::Inputs,
    },
    AppState,
};

/// Page size when `limit` is absent, and the largest page (a larger `limit` is clamped).
pub const LIMIT_DEFAULT: usize = 10;
pub const LIMIT_MAX: usize = 1000;

pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// Roughly France with its overseas departments, west-south-east-north.
pub const FRANCE: [f64; 4] = [-63.2, -21.4, 55.9, 51.2];

/// Parameters every items request takes, besides the collection's queryables.
pub const STANDARD_PARAMS: [&str; 6] = ["f", "limit", "offset", "bbox", "bbox-crs", "crs"];

/// The geocoding indexes — addresses, places (POI), cadastral parcels — as collections: searched
/// upstream by text or box, their items remembered per access key.
pub struct GeocodingCollections;

/// The geocoding collection `id`.
fn spec<'a>(state: &'a AppState, id: &str) -> Result<&'a CollectionSpec, ApiError> {
    state
        .geocoding_collections
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found(format!("there is no geocoding collection {id:?}")))
}

impl CollectionProvider for GeocodingCollections {
    fn list(&self, state: &AppState, base: &BaseUrl, format: Format) -> Vec<Listed> {
        state
            .geocoding_collections
            .iter()
            .map(|c| {
                let (doc, _) = collection_doc(state, base, c, format, false);
                Listed::new(c.id, c.title, c.description, &doc)
            })
            .collect()
    }

    fn has(&self, state: &AppState, id: &str) -> bool {
        state.geocoding_collections.iter().any(|c| c.id == id)
    }

    fn count(&self, state: &AppState) -> usize {
        state.geocoding_collections.len()
    }

    fn collection(
        &self,
        state: &AppState,
        id: &str,
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError> {
        collection_page(state, spec(state, id)?, base, format)
    }

    fn items<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move { items_page(state, spec(state, id)?, query, base, format).await })
    }

    fn item<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        feature_id: &'a str,
        _query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move { item_page(state, spec(state, id)?, feature_id, base, format).await })
    }

    fn queryables<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move { Ok(queryables_page(spec(state, id)?, base, format)) })
    }

    fn openapi_paths(&self, state: &AppState) -> Vec<(String, Value)> {
        state
            .geocoding_collections
            .iter()
            .flat_map(super::openapi::geocoding_collection_paths)
            .collect()
    }
}

/// The collection document, and its links (for the HTML page).
fn collection_doc(
    state: &AppState,
    base: &BaseUrl,
    c: &CollectionSpec,
    format: Format,
    top: bool,
) -> (Value, Vec<Link>) {
    let path = format!("/collections/{}", c.id);
    let l = links::collection_links(base, &path, c.title, format, top);
    let extent = state
        .geocode
        .known_extent(c.index)
        .map(|b| [b.min_lon, b.min_lat, b.max_lon, b.max_lat])
        .unwrap_or(FRANCE);
    let doc = documents::to_json(&documents::Collection {
        keywords: c.keywords.to_vec(),
        extent: Some(documents::Extent::wgs84(extent)),
        links: l.clone(),
        ..documents::Collection::features(c.id, c.title, c.description)
    });
    (doc, l)
}

fn collection_page(
    state: &AppState,
    c: &CollectionSpec,
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let (doc, l) = collection_doc(state, base, c, format, true);
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = Page::new(base, c.title, c.description);
        page.form = Some(search_form(base, c, &[]));
        page.tables.push(queryables_table(c));
        page.links = l;
        page
    }))
}

fn queryables_table(c: &CollectionSpec) -> Table {
    let mut t = Table::new(
        "Filters (query parameters of items)",
        &["Parameter", "Meaning", "Schema"],
    );
    for q in &c.queryables {
        t.rows.push(vec![
            Cell::text(q.name),
            Cell::text(q.title),
            Cell::text(q.schema.to_string()),
        ]);
    }
    t
}

fn search_form(base: &BaseUrl, c: &CollectionSpec, pairs: &[(String, String)]) -> Form {
    text_and_box_form(
        base,
        c.id,
        pairs,
        (
            "1 place Georges Frêche Montpellier",
            "or a box (west,south,east,north)",
        ),
        "3.894,43.596,3.900,43.601",
    )
}

/// The search form of a collection's items page: a text (`q`) and a box (`bbox`), filled with the
/// request's values; `(text placeholder, box label)` and the box's placeholder as given.
pub fn text_and_box_form(
    base: &BaseUrl,
    id: &str,
    pairs: &[(String, String)],
    (q_placeholder, bbox_label): (&str, &str),
    bbox_placeholder: &str,
) -> Form {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Form {
        action: base.join(&format!("/collections/{id}/items")),
        submit: "Find".into(),
        fields: vec![
            FormField {
                name: "q".into(),
                label: "Search".into(),
                value: value("q"),
                placeholder: q_placeholder.into(),
            },
            FormField {
                name: "bbox".into(),
                label: bbox_label.into(),
                value: value("bbox"),
                placeholder: bbox_placeholder.into(),
            },
        ],
    }
}

/// The standard items parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Paging {
    pub limit: usize,
    pub offset: usize,
    pub bbox: Option<Bbox>,
}

pub fn parse_limit(v: &str) -> Result<usize, ApiError> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_parameter("limit", format!("{v:?} is not a whole number")))?;
    if n < 1 {
        return Err(ApiError::bad_parameter(
            "limit",
            format!("must be at least 1, got {n}"),
        ));
    }
    Ok((n as u64).min(LIMIT_MAX as u64) as usize)
}

pub fn parse_offset(v: &str) -> Result<usize, ApiError> {
    v.trim().parse::<usize>().map_err(|_| {
        ApiError::bad_parameter(
            "offset",
            format!("{v:?} is not a whole number of 0 or more"),
        )
    })
}

/// The corners of a `bbox` parameter, in any CRS (see [`crate::geo::bbox_corners`]).
pub fn bbox_corners(v: &str) -> Result<(f64, f64, f64, f64), ApiError> {
    crate::geo::bbox_corners(v).map_err(|reason| ApiError::bad_parameter("bbox", reason))
}

/// `bbox=west,south,east,north` (or 6 numbers with heights), in WGS84 degrees.
pub fn parse_bbox(v: &str) -> Result<Bbox, ApiError> {
    crate::geo::parse_wgs84_bbox(v).map_err(|reason| ApiError::bad_parameter("bbox", reason))
}

pub fn check_crs(name: &str, v: &str) -> Result<(), ApiError> {
    const ACCEPTED: [&str; 3] = [
        CRS84,
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "EPSG:4326",
    ];
    if ACCEPTED.contains(&v.trim()) {
        Ok(())
    } else {
        Err(ApiError::bad_parameter(
            name,
            format!("{v:?} is not supported; use {CRS84}"),
        ))
    }
}

/// Splits the query into the standard parameters and the collection's own; anything else is a 400.
fn parse_items_query(
    c: &CollectionSpec,
    pairs: &[(String, String)],
) -> Result<(Paging, Inputs), ApiError> {
    let mut paging = Paging {
        limit: LIMIT_DEFAULT,
        offset: 0,
        bbox: None,
    };
    let mut own = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "f" => {}
            "limit" => paging.limit = parse_limit(v)?,
            "offset" => paging.offset = parse_offset(v)?,
            "bbox" => paging.bbox = Some(parse_bbox(v)?),
            "bbox-crs" | "crs" => check_crs(k, v)?,
            name if c.queryables.iter().any(|q| q.name == name) => {
                own.push((k.as_str(), v.as_str()))
            }
            other => {
                let mut known: Vec<&str> = STANDARD_PARAMS.to_vec();
                known.extend(c.queryables.iter().map(|q| q.name));
                return Err(ApiError::bad_parameter(
                    other,
                    format!(
                        "is not a parameter of {} items (parameters: {})",
                        c.id,
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok((paging, own.into_iter().collect()))
}

async fn items_page(
    state: &AppState,
    c: &CollectionSpec,
    pairs: &[(String, String)],
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let (paging, params) = parse_items_query(c, pairs)?;
    let page = state
        .geocode
        .items(
            c.index,
            ItemsQuery {
                bbox: paging.bbox,
                limit: paging.limit,
                offset: paging.offset,
                params,
            },
        )
        .await?;
    let path = format!("/collections/{}/items", c.id);
    let l = links::items(
        base,
        &links::Page {
            path: &path,
            query: pairs,
            offset: paging.offset,
            limit: paging.limit,
            more: paging.offset + page.features.len() < page.number_matched,
        },
        c.title,
        format,
    );
    let doc = documents::items_page(
        page.features,
        Some(page.number_matched),
        page.note.as_deref(),
        &l,
    );
    let response = respond(format, &doc, links::GEOJSON, || {
        let mut p = Page::new(base, format!("{} — items", c.title), c.description);
        p.note = page.note.clone();
        p.form = Some(search_form(base, c, pairs));
        let mut t = Table::new(
            &format!(
                "{} of {} feature(s)",
                doc.number_returned, page.number_matched
            ),
            &["id", "label", "type", "lon, lat"],
        );
        for f in doc.features.iter() {
            let props = &f["properties"];
            let label = ["label", "toponym", "name", "id"]
                .iter()
                .map(|k| cell_text(&props[*k]))
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            let fid = cell_text(&f["id"]);
            let href = base.join(&format!("{path}/{}?f=html", urlencode(&fid)));
            t.rows.push(vec![
                Cell::link(fid, href),
                Cell::text(label),
                Cell::text(cell_text(&props["_type"])),
                Cell::text(cell_text(&f["geometry"]["coordinates"])),
            ]);
        }
        p.tables.push(t);
        p.links = l.clone();
        p
    });
    Ok(with_cache_status(response, page.cache_status))
}

/// The characters a path segment keeps as they are (RFC 3986 unreserved, and `:`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

async fn item_page(
    state: &AppState,
    c: &CollectionSpec,
    fid: &str,
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let (feature, status) = state.geocode.item(c.index, fid).await?;
    let response = feature_response(base, format, feature, c.id, c.title, fid);
    Ok(with_cache_status(response, status))
}

/// One feature of collection `id` (titled `title`) as GeoJSON with its links, or as an HTML page
/// of its properties and geometry.
pub fn feature_response(
    base: &BaseUrl,
    format: Format,
    mut feature: Value,
    id: &str,
    title: &str,
    fid: &str,
) -> Response {
    let collection = format!("/collections/{}", urlencode(id));
    let path = format!("{collection}/items/{}", urlencode(fid));
    let mut l = links::self_and_alternate(base, &path, format, links::GEOJSON);
    l.push(Link::new(
        base.join(&collection),
        "collection",
        links::JSON,
        title,
    ));
    feature["links"] = links::to_value(&l);
    respond(format, &feature, links::GEOJSON, || {
        let mut p = Page::new(base, format!("{title} {fid}"), "");
        let mut t = Table::new("Properties", &["Property", "Value"]);
        for (k, v) in feature["properties"].as_object().into_iter().flatten() {
            t.rows
                .push(vec![Cell::text(k.clone()), Cell::text(cell_text(v))]);
        }
        t.rows.push(vec![
            Cell::text("geometry"),
            Cell::text(feature["geometry"].to_string()),
        ]);
        p.tables.push(t);
        p.links = l;
        p
    })
}

fn queryables_page(c: &CollectionSpec, base: &BaseUrl, format: Format) -> Response {
    let properties: Map<String, Value> = c
        .queryables
        .iter()
        .map(|q| {
            let mut schema = q.schema.clone();
            schema["title"] = json!(q.title);
            (q.name.to_string(), schema)
        })
        .collect();
    queryables_response(base, c.id, c.title, properties, format, || {
        queryables_table(c)
    })
}

/// The queryables document of collection `id` (`properties`: name → JSON Schema with a title),
/// or its HTML page showing `table`.
pub fn queryables_response(
    base: &BaseUrl,
    id: &str,
    title: &str,
    properties: Map<String, Value>,
    format: Format,
    table: impl FnOnce() -> Table,
) -> Response {
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": base.join(&format!("/collections/{id}/queryables")),
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": false,
    });
    let mut response = respond(format, &doc, links::SCHEMA_JSON, || {
        let mut p = Page::new(base, format!("{title} — queryables"), "");
        p.tables.push(table());
        p
    });
    if format == Format::Json {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(links::SCHEMA_JSON),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits_are_clamped_not_refused() {
        assert_eq!(parse_limit("5000").unwrap(), LIMIT_MAX);
        assert_eq!(parse_limit("7").unwrap(), 7);
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("ten").is_err());
    }

    #[test]
    fn bboxes_are_checked() {
        assert!(parse_bbox("3.894,43.596,3.900,43.601").is_ok());
        assert!(parse_bbox("3.894,43.596,0,3.900,43.601,100").is_ok());
        assert!(parse_bbox("1,2,3").unwrap_err().detail.contains("4 or 6"));
        assert!(parse_bbox("1,50,2,40")
            .unwrap_err()
            .detail
            .contains("south"));
        assert!(parse_bbox("1,2,3,95")
            .unwrap_err()
            .detail
            .contains("outside"));
        assert!(parse_bbox("1,2,x,4").is_err());
    }

    proptest! {
        #[test]
        fn bbox_parsing_never_panics(s in "[-0-9.,eE ]{0,60}") {
            if let Ok(b) = parse_bbox(&s) {
                prop_assert!(b.min_lon <= b.max_lon && b.min_lat <= b.max_lat);
            }
        }

        #[test]
        fn any_valid_box_round_trips(w in -180.0f64..180.0, s in -90.0f64..90.0, dw in 0.0f64..10.0, dh in 0.0f64..10.0) {
            let e = (w + dw).min(180.0);
            let n = (s + dh).min(90.0);
            let b = parse_bbox(&format!("{w:.17},{s:.17},{e:.17},{n:.17}")).unwrap();
            prop_assert!((b.min_lon - w).abs() < 1e-9 && (b.max_lat - n).abs() < 1e-9);
        }

        #[test]
        fn limit_parsing_never_panics(s in "\\PC{0,20}") {
            if let Ok(n) = parse_limit(&s) {
                prop_assert!((1..=LIMIT_MAX).contains(&n));
            }
        }
    }
}
