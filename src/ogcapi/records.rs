//! The catalogue as an OGC API – Records collection (`/collections/catalog`, `itemType` record):
//! one record per layer with the links a catalogue client acts on, searchable by `q`, `bbox`,
//! `type` and `theme`, best matches first. QGIS's own MetaSearch (OGC API – Records backend) reads
//! it: it takes a link's `type` as its protocol, so the service links are typed `OGC:WMTS`,
//! `OGC:WMS`, `OGC:WFS` as its `link_types.py` lists them; media-typed links sit beside them.

use axum::response::Response;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{
    catalog::{collection_url, detail_url, qlr_source, xyz_url},
    collections::{CollectionProvider, Listed},
    documents,
    features::{
        feature_response, parse_bbox, parse_limit, parse_offset, queryables_response, urlencode,
        LIMIT_DEFAULT,
    },
    html::{cell_text, respond, Cell, Page, Table},
    links::{self, Link},
};
use crate::{
    error::ApiError,
    geo::Bbox,
    http::{base_url::BaseUrl, negotiate::Format},
    services::catalogue::{ranked, Entry, THEMES},
    AppState,
};

/// The records collection's id.
pub const ID: &str = "catalog";
const TITLE: &str = "Géoplateforme layers (catalogue records)";
const DESCRIPTION: &str = "One record per layer the gateway serves (WMTS, WMS, WFS): title, description, keywords, theme, extent, and links to add it to QGIS. Search with q, bbox, type and theme.";
const SERVICES: [&str; 4] = ["wmts", "wms", "wfs", "tms"];
/// The record core requirements class a record conforms to.
const RECORD_CORE: &str = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core";

/// The catalogue as records.
pub struct CatalogRecords;

/// The name of the catalogue in MetaSearch.
pub const METASEARCH_NAME: &str = "Géoplateforme (geopf-gateway)";

/// A MetaSearch connections file (Web → MetaSearch → Services → Load): the records collection
/// as an OGC API – Records catalogue. MetaSearch saves the type as `type` but loads it from
/// `catalog-type`: both are written.
pub fn metasearch_connections(base: &BaseUrl) -> Response {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let url = base.join(&format!("/collections/{ID}"));
    super::ows::xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<qgsCSWConnections version=\"1.0\">\n  <csw name=\"{}\" type=\"OGC API - Records\" catalog-type=\"OGC API - Records\" url=\"{}\"/>\n</qgsCSWConnections>\n",
        esc(METASEARCH_NAME),
        esc(&url)
    ))
}

/// One layer as a record (GeoJSON encoding). `mirrored`: the mirror's prefixes (vector tile
/// layers are linked through it until the gateway serves them itself).
fn record(base: &BaseUrl, e: &Entry, mirrored: &[String]) -> Value {
    let path = format!("/collections/{ID}/items/{}", urlencode(&e.id));
    let mut l = vec![
        Link::new(base.join(&path), "self", links::GEOJSON, "This record"),
        Link::new(
            base.join(&format!("{path}?f=html")),
            "alternate",
            links::HTML,
            "This record as HTML",
        ),
        Link::new(
            base.join(&format!("/collections/{ID}")),
            "collection",
            links::JSON,
            TITLE,
        ),
    ];
    let mut service = |href: String, protocol: &str, title: String| {
        l.push(Link::new(href, "item", protocol, &title));
    };
    if e.wmts.is_some() {
        // The REST capabilities: QGIS reads a URL ending in WMTSCapabilities.xml as a WMTS.
        service(
            base.join("/wmts/1.0.0/WMTSCapabilities.xml"),
            "OGC:WMTS",
            format!("WMTS layer {}", e.id),
        );
    }
    if e.wms.is_some() {
        service(
            base.join("/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
            "OGC:WMS",
            format!("WMS layer {}", e.id),
        );
    }
    if let Some(collection) = collection_url(base, e) {
        // QGIS's WFS connections also open OGC API – Features landing pages.
        service(
            base.join("/"),
            "OGC:WFS",
            format!("OGC API – Features collection {}", e.id),
        );
        l.push(Link::new(
            format!("{collection}/items"),
            "items",
            links::GEOJSON,
            "The features (OGC API – Features)",
        ));
    }
    if let Some(tms) = e.tms.as_ref().filter(|t| t.is_vector()) {
        l.push(Link::new(
            base.join(&format!("/tiles/{}/tilejson.json", urlencode(&tms.id))),
            "item",
            links::JSON,
            "TileJSON of the vector tiles (tiles through the gateway)",
        ));
    }
    if let Some(tms) = e
        .tms
        .as_ref()
        .filter(|_| mirrored.iter().any(|p| p == "tms"))
    {
        let path = format!("/geopf/tms/1.0.0/{}", urlencode(&tms.id));
        l.push(Link::new(
            base.join(&path),
            "item",
            "application/xml",
            "TMS TileMap (through the gateway's mirror)",
        ));
    }
    if e.tms.is_some() && e.wmts.is_none() && e.wms.is_none() && e.wfs.is_none() {
        // Nothing in the kiosk for a vector-only layer yet: no kiosk or .qlr links.
        return finish(base, e, l);
    }
    let detail = detail_url(base, e);
    l.push(Link::new(
        format!("{detail}?f=html"),
        "describedby",
        links::HTML,
        "The layer in the kiosk",
    ));
    if qlr_source(base, e).is_some() {
        l.push(Link::new(
            format!("{detail}.qlr"),
            "alternate",
            "application/x-qgis-layer-definition",
            "QGIS layer definition (.qlr)",
        ));
    }
    if let Some(legend) = super::catalog::legend(base, e) {
        l.push(Link::new(legend, "describedby", "image/png", "Legend"));
    }
    finish(base, e, l)
}

/// The record of `e` with its links `l`, and its XYZ template where it has one.
fn finish(base: &BaseUrl, e: &Entry, l: Vec<Link>) -> Value {
    let mut links_json = links::to_value(&l);
    if let (Some(layer), Some(all)) = (e.xyz(), links_json.as_array_mut()) {
        let jpeg = !layer.formats.iter().any(|f| f == "image/png");
        all.push(json!({
            "href": xyz_url(base, layer),
            "rel": "item",
            "type": if jpeg { "image/jpeg" } else { "image/png" },
            "title": "XYZ tiles",
            "templated": true,
        }));
    }
    let formats: Vec<String> = e.services().iter().map(|s| s.to_uppercase()).collect();
    json!({
        "id": e.id,
        "type": "Feature",
        "conformsTo": [RECORD_CORE],
        "geometry": e.bbox.map(|b| b.to_polygon()),
        "properties": {
            "type": "dataset",
            "title": e.title,
            "description": e.abstract_,
            "keywords": e.keywords,
            "themes": [{"concepts": [{"id": e.theme}], "scheme": base.join("/catalog")}],
            "formats": formats,
        },
        "links": links_json,
    })
}

/// The search of an items request.
struct Search {
    words: Vec<String>,
    bbox: Option<Bbox>,
    service: Option<String>,
    theme: Option<String>,
    limit: usize,
    offset: usize,
}

fn parse_search(pairs: &[(String, String)]) -> Result<Search, ApiError> {
    let mut s = Search {
        words: Vec::new(),
        bbox: None,
        service: None,
        theme: None,
        limit: LIMIT_DEFAULT,
        offset: 0,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "f" => {}
            // Records' q is a comma-separated list; each word counts.
            "q" => s.words = crate::services::catalogue::search_terms(v),
            "bbox" => s.bbox = Some(parse_bbox(v)?),
            "type" => {
                let t = v.to_ascii_lowercase();
                if !SERVICES.contains(&t.as_str()) {
                    return Err(ApiError::bad_parameter(
                        "type",
                        format!("{v:?} is not one of {}", SERVICES.join(", ")),
                    ));
                }
                s.service = Some(t);
            }
            "theme" => {
                if !THEMES.contains(&v.as_str()) {
                    return Err(ApiError::bad_parameter(
                        "theme",
                        format!("{v:?} is not one of {}", THEMES.join(", ")),
                    ));
                }
                s.theme = Some(v.clone());
            }
            "limit" => s.limit = parse_limit(v)?,
            "offset" => s.offset = parse_offset(v)?,
            "bbox-crs" | "crs" => super::features::check_crs(k, v)?,
            other => {
                return Err(ApiError::bad_parameter(
                    other,
                    "is not a parameter of the catalogue's records (parameters: f, q, bbox, type, theme, limit, offset)",
                ))
            }
        }
    }
    Ok(s)
}

fn queryables() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "q",
            "Words of the identifier, title, description or keywords (best matches first)",
            json!({"type": "string"}),
        ),
        (
            "type",
            "The service offering the layer",
            json!({"type": "string", "enum": SERVICES}),
        ),
        (
            "theme",
            "The layer's theme",
            json!({"type": "string", "enum": THEMES}),
        ),
    ]
}

fn collection_document(base: &BaseUrl, format: Format, top: bool) -> (Value, Vec<Link>) {
    let path = format!("/collections/{ID}");
    let l = links::collection_links(base, &path, TITLE, format, top);
    let doc = documents::to_json(&documents::Collection {
        item_type: "record",
        keywords: vec!["catalogue", "records", "IGN", "Géoplateforme"],
        extent: Some(documents::Extent::wgs84([-180.0, -90.0, 180.0, 90.0])),
        links: l.clone(),
        ..documents::Collection::features(ID, TITLE, DESCRIPTION)
    });
    (doc, l)
}

fn queryables_table() -> Table {
    let mut t = Table::new(
        "Filters (query parameters of items)",
        &["Parameter", "Meaning", "Schema"],
    );
    for (name, title, schema) in queryables() {
        t.rows.push(vec![
            Cell::text(name),
            Cell::text(title),
            Cell::text(schema.to_string()),
        ]);
    }
    t
}

async fn items_page(
    state: &AppState,
    pairs: &[(String, String)],
    base: &BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let s = parse_search(pairs)?;
    let entries = state.catalogue.entries();
    let found = ranked(
        entries.iter().filter(|e| {
            e.matches(&s.words, s.theme.as_deref(), s.service.as_deref())
                && s.bbox
                    .is_none_or(|b| e.bbox.is_none_or(|eb| b.intersection(&eb).is_some()))
        }),
        &s.words,
    );
    let records: Vec<Value> = found
        .iter()
        .skip(s.offset)
        .take(s.limit)
        .map(|e| record(base, e, &state.config.mirror.prefixes))
        .collect();
    let path = format!("/collections/{ID}/items");
    let l = links::items(
        base,
        &links::Page {
            path: &path,
            query: pairs,
            offset: s.offset,
            limit: s.limit,
            more: s.offset.saturating_add(records.len()) < found.len(),
        },
        TITLE,
        format,
    );
    let doc = documents::items_page(records, Some(found.len()), None, &l);
    Ok(respond(format, &doc, links::GEOJSON, || {
        let mut p = Page::new(base, format!("{TITLE} — records"), DESCRIPTION);
        let mut t = Table::new(
            &format!(
                "{} of {} record(s)",
                doc.number_returned,
                doc.number_matched.unwrap_or_default()
            ),
            &["Layer", "Title", "Services", "Theme"],
        );
        for r in doc.features.iter() {
            let id = cell_text(&r["id"]);
            let href = base.join(&format!("{path}/{}?f=html", urlencode(&id)));
            let props = &r["properties"];
            t.rows.push(vec![
                Cell::link(id, href),
                Cell::text(cell_text(&props["title"])),
                Cell::text(cell_text(&props["formats"])),
                Cell::text(cell_text(&props["themes"][0]["concepts"][0]["id"])),
            ]);
        }
        p.tables.push(t);
        p.links = l.clone();
        p
    }))
}

impl CollectionProvider for CatalogRecords {
    fn list(&self, _state: &AppState, base: &BaseUrl, format: Format) -> Vec<Listed> {
        let (doc, _) = collection_document(base, format, false);
        vec![Listed::new(ID, TITLE, DESCRIPTION, &doc)]
    }

    fn has(&self, _state: &AppState, id: &str) -> bool {
        id == ID
    }

    fn count(&self, _state: &AppState) -> usize {
        1
    }

    fn collection(
        &self,
        _state: &AppState,
        _id: &str,
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError> {
        let (doc, l) = collection_document(base, format, true);
        Ok(respond(format, &doc, links::JSON, || {
            let mut page = Page::new(base, TITLE, DESCRIPTION);
            page.tables.push(queryables_table());
            page.links = l;
            page
        }))
    }

    fn items<'a>(
        &'a self,
        state: &'a AppState,
        _id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(items_page(state, query, base, format))
    }

    fn item<'a>(
        &'a self,
        state: &'a AppState,
        _id: &'a str,
        feature_id: &'a str,
        _query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move {
            let entry = state.catalogue.get(feature_id).ok_or_else(|| {
                ApiError::not_found(format!("there is no layer {feature_id:?} in the catalogue"))
            })?;
            let doc = record(base, &entry, &state.config.mirror.prefixes);
            // As JSON, the record with its own links; as HTML, the page of any feature.
            Ok(match format {
                Format::Html => feature_response(base, format, doc, ID, TITLE, feature_id),
                _ => respond(format, &doc, links::GEOJSON, Page::default),
            })
        })
    }

    fn queryables<'a>(
        &'a self,
        _state: &'a AppState,
        _id: &'a str,
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move {
            let properties: Map<String, Value> = queryables()
                .into_iter()
                .map(|(name, title, mut schema)| {
                    schema["title"] = json!(title);
                    (name.to_string(), schema)
                })
                .collect();
            Ok(queryables_response(
                base,
                ID,
                TITLE,
                properties,
                format,
                queryables_table,
            ))
        })
    }

    fn openapi_paths(&self, _state: &AppState) -> Vec<(String, Value)> {
        let q = queryables();
        let q: Vec<(&str, &str, &Value)> = q.iter().map(|(n, t, s)| (*n, *t, s)).collect();
        super::openapi::collection_paths(ID, TITLE, &q)
    }
}
