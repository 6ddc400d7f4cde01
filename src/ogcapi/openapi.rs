//! The OpenAPI 3.0 document of the whole service, generated from the collections and processes
//! the gateway serves (`/api`), and a readable rendering of it (`/api.html`).
//!
//! It is built as JSON rather than with utoipa: utoipa 6 emits OpenAPI 3.1, and the OGC `oas30`
//! classes and QGIS (which reads `components.parameters.limit`) want 3.0.

use axum::{extract::State, response::Response};
use serde_json::{json, Map, Value};

use super::{
    common::TITLE,
    features::{LIMIT_DEFAULT, LIMIT_MAX},
    html::{respond, Cell, Page, Table},
    links,
    processes::description,
};
use crate::{
    http::{base_url::BaseUrl, negotiate::Format},
    AppState,
};

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn response(description: &str, media: &[&str], schema: &str) -> Value {
    let content: Map<String, Value> = media
        .iter()
        .map(|m| {
            (
                m.to_string(),
                json!({ "schema": { "$ref": format!("#/components/schemas/{schema}") } }),
            )
        })
        .collect();
    json!({ "description": description, "content": content })
}

fn problems(codes: &[&str]) -> Map<String, Value> {
    codes
        .iter()
        .map(|c| {
            (
                c.to_string(),
                json!({ "$ref": "#/components/responses/Problem" }),
            )
        })
        .collect()
}

fn get_op(summary: &str, tag: &str, params: Vec<Value>, ok: Value, errors: &[&str]) -> Value {
    let mut responses = problems(errors);
    responses.insert("200".into(), ok);
    json!({ "get": { "summary": summary, "tags": [tag], "parameters": params, "responses": responses } })
}

/// The OpenAPI document, with `base` as its server.
pub fn document(state: &AppState, base: &BaseUrl) -> Value {
    let mut paths = Map::new();
    let doc_ok = |what: &str| response(what, &[links::JSON, links::HTML], "Document");
    paths.insert(
        "/".into(),
        get_op(
            "Landing page",
            "Common",
            vec![param_ref("f")],
            doc_ok("The landing page"),
            &["400"],
        ),
    );
    paths.insert(
        "/conformance".into(),
        get_op(
            "Conformance classes",
            "Common",
            vec![param_ref("f")],
            doc_ok("Conformance"),
            &["400"],
        ),
    );
    paths.insert(
        "/api".into(),
        get_op(
            "This OpenAPI document",
            "Common",
            vec![],
            response("OpenAPI 3.0", &[links::OPENAPI_JSON], "Document"),
            &[],
        ),
    );
    paths.insert(
        "/health".into(),
        get_op(
            "Liveness",
            "Common",
            vec![],
            response("Alive", &[links::JSON], "Document"),
            &[],
        ),
    );
    paths.insert(
        "/ready".into(),
        get_op(
            "Readiness: the upstream answers",
            "Common",
            vec![],
            response("Ready", &[links::JSON], "Document"),
            &["503"],
        ),
    );
    paths.insert(
        "/collections".into(),
        get_op(
            "Feature collections",
            "Features",
            vec![param_ref("f")],
            doc_ok("The collections"),
            &["400"],
        ),
    );

    for provider in state.collections.providers() {
        paths.extend(provider.openapi_paths(state));
    }

    paths.insert(
        "/processes".into(),
        get_op(
            "Processes",
            "Processes",
            vec![param_ref("f")],
            doc_ok("The process list"),
            &["400"],
        ),
    );
    for p in &state.processes.list() {
        let path = format!("/processes/{}", p.id);
        paths.insert(
            path.clone(),
            get_op(
                &p.title,
                "Processes",
                vec![param_ref("f")],
                doc_ok("The process description"),
                &["400"],
            ),
        );
        let desc = description(base, p);
        let query_params: Vec<Value> = p
            .inputs
            .iter()
            .map(|i| json!({ "name": i.name, "in": "query", "required": i.required, "description": i.description, "schema": desc["inputs"][i.name.as_ref()]["schema"] }))
            .collect();
        let ok = response("The result", &[links::GEOJSON], "FeatureCollection");
        let mut post_responses = problems(&["400", "404", "422", "429", "502", "504"]);
        post_responses.insert("200".into(), ok.clone());
        post_responses.insert(
            "201".into(),
            response(
                "A job was created (Prefer: respond-async)",
                &[links::JSON],
                "Document",
            ),
        );
        let mut op = get_op(
            &format!("Run {} with query parameters", p.title),
            "Processes",
            query_params,
            ok,
            &["400", "429", "502", "504"],
        );
        op["post"] = json!({
            "summary": format!("Run {}", p.title),
            "tags": ["Processes"],
            "parameters": [{"name": "Prefer", "in": "header", "required": false, "description": "respond-async: run as a job (201 and Location)", "schema": {"type": "string"}}],
            "requestBody": { "required": true, "content": { links::JSON: { "schema": { "$ref": "#/components/schemas/Execute" } } } },
            "responses": post_responses,
        });
        paths.insert(format!("{path}/execution"), op);
    }

    let mut jobs = get_op(
        "Jobs, newest first",
        "Processes",
        vec![param_ref("limit"), param_ref("offset"), param_ref("f")],
        doc_ok("The job list"),
        &["400"],
    );
    jobs["get"]["parameters"][0] = json!({"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "default": 10}});
    paths.insert("/jobs".into(), jobs);
    let job_id =
        json!({"name": "jobId", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut job = get_op(
        "Status of a job",
        "Processes",
        vec![job_id.clone(), param_ref("f")],
        doc_ok("The status"),
        &["404"],
    );
    job["delete"] = json!({
        "summary": "Dismiss a job (a running one is cancelled)", "tags": ["Processes"], "parameters": [job_id.clone()],
        "responses": {"200": response("The status, dismissed", &[links::JSON], "Document"), "404": {"$ref": "#/components/responses/Problem"}}
    });
    paths.insert("/jobs/{jobId}".into(), job);
    let output = json!({"name": "output", "in": "query", "required": false, "description": "One output, raw", "schema": {"type": "string"}});
    paths.insert(
        "/jobs/{jobId}/results".into(),
        get_op(
            "Results of a successful job",
            "Processes",
            vec![job_id, output],
            response("The results document", &[links::JSON], "Document"),
            &["404", "422", "502", "504"],
        ),
    );

    maps(&mut paths);

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": env!("CARGO_PKG_VERSION"),
            "description": "IGN's Géoplateforme through OGC API Features and Processes.",
            "license": { "name": "Etalab Open Licence 2.0 (data); MIT OR Apache-2.0 (gateway)" },
        },
        "servers": [{ "url": base.0 }],
        "tags": [{ "name": "Common" }, { "name": "Features" }, { "name": "Processes" }, { "name": "Maps" }],
        "paths": paths,
        "components": components(),
    })
}

/// The catalogue, tiles, WMTS and WMS.
fn maps(paths: &mut Map<String, Value>) {
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}});
    let path = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}});
    let image = json!({"description": "An image, with ETag and Cache-Control (304 on If-None-Match)",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}});
    let xml = json!({"description": "An XML document", "content": {"application/xml": {"schema": {"type": "string"}}}});
    let html = json!({"description": "The kiosk page", "content": {links::HTML: {"schema": {"type": "string"}}}});
    let document = response("The document", &[links::JSON], "Document");
    let layer = path("layerId", "A layer of the catalogue (`GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2`); `{id}.qlr` for a QGIS layer definition");
    paths.insert(
        "/catalog".into(),
        get_op(
            "The kiosk: every layer as a card, searchable",
            "Maps",
            vec![],
            html,
            &[],
        ),
    );
    paths.insert("/catalog.json".into(), get_op(
        "The catalogue of WMTS, WMS and WFS layers",
        "Maps",
        vec![
            query("q", "Words that must all appear in the id, title, abstract or keywords"),
            query("theme", "ortho, maps, cadastre, administrative, elevation, transport, hydrography, land cover, topography, environment, energy, other"),
            query("service", "wmts, wms or wfs"),
            param_ref("limit"),
            param_ref("offset"),
        ],
        document.clone(),
        &["400"],
    ));
    paths.insert(
        "/catalog/{layerId}".into(),
        get_op(
            "One layer (JSON, HTML with a map preview), or its QGIS layer definition (.qlr)",
            "Maps",
            vec![layer.clone()],
            response("The layer", &[links::JSON, links::HTML], "Document"),
            &["404"],
        ),
    );
    paths.insert(
        "/catalog/qgis-connections.xml".into(),
        get_op(
            "A QGIS 'Load connections' file",
            "Maps",
            vec![query(
                "type",
                "xyz (default), wms (the WMTS and the WMS) or wfs (the OGC API connection)",
            )],
            xml.clone(),
            &["400"],
        ),
    );
    paths.insert(
        "/tiles/{layerId}/{z}/{x}/{y}".into(),
        get_op(
            "An XYZ tile (WebMercator); `{y}` ends in .png or .jpeg",
            "Maps",
            vec![
                layer,
                path("z", "Zoom level"),
                path("x", "Column"),
                path("y", "Row, then .png or .jpeg"),
            ],
            image.clone(),
            &["400", "404", "502", "504"],
        ),
    );
    paths.insert("/wmts".into(), get_op(
        "The WMTS, KVP: GetCapabilities (the gateway's URLs) or GetTile (through the tile cache)",
        "Maps",
        ["SERVICE", "REQUEST", "LAYER", "STYLE", "FORMAT", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL"]
            .iter()
            .map(|k| query(k, "WMTS 1.0.0 KVP parameter (any case)"))
            .collect(),
        json!({"description": "Capabilities (XML) or a tile (image)", "content": {"application/xml": {"schema": {"type": "string"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}, "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}),
        &["400", "404", "502", "503", "504"],
    ));
    paths.insert(
        "/wmts/1.0.0/WMTSCapabilities.xml".into(),
        get_op(
            "The WMTS capabilities, REST (a ResourceURL per layer)",
            "Maps",
            vec![],
            xml,
            &["503"],
        ),
    );
    paths.insert("/wms".into(), get_op(
        "The WMS-Raster: GetCapabilities, GetMap (cached), GetFeatureInfo, GetLegendGraphic",
        "Maps",
        ["SERVICE", "VERSION", "REQUEST", "LAYERS", "STYLES", "CRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT"]
            .iter()
            .map(|k| query(k, "WMS 1.3.0 KVP parameter (any case)"))
            .collect(),
        json!({"description": "Capabilities (XML), a map (image) or feature information", "content": {"application/xml": {"schema": {"type": "string"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}}}),
        &["400", "502", "503", "504"],
    ));
    let mut mirror = get_op(
        "The guarded mirror: what {upstream}/{path} answers, through the gateway's cache, quotas and key, for the API prefixes of mirror.prefixes only (any other path is a 404)",
        "Mirror",
        vec![path("path", "A path below the Géoplateforme's base URL, e.g. geocodage/search; the query is passed on")],
        json!({"description": "The upstream's answer, as it sent it", "content": {"application/json": {"schema": {}}, "application/xml": {"schema": {"type": "string"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}}}),
        &["400", "401", "404", "429", "502", "504"],
    );
    mirror["post"] = json!({
        "summary": "The guarded mirror, POST: the body is sent on with its Content-Type; never cached, never retried",
        "tags": ["Mirror"],
        "parameters": [path("path", "A path below the Géoplateforme's base URL, e.g. geocodage/search/csv")],
        "requestBody": {"required": true, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": mirror["get"]["responses"].clone(),
    });
    paths.insert("/geopf/{path}".into(), mirror);
}

fn components() -> Value {
    json!({
        "parameters": {
            "limit": {
                "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                "description": "Most features in the page; a larger value is clamped to the maximum.",
                "schema": { "type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT }
            },
            "offset": {
                "name": "offset", "in": "query", "required": false,
                "description": "Features to skip (the rel=next links set it).",
                "schema": { "type": "integer", "minimum": 0, "default": 0 }
            },
            "bbox": {
                "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                "description": "west,south,east,north in WGS84 degrees (4 or 6 numbers).",
                "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } }
            },
            "bbox-crs": {
                "name": "bbox-crs", "in": "query", "required": false,
                "schema": { "type": "string", "format": "uri", "enum": [super::features::CRS84] }
            },
            "f": {
                "name": "f", "in": "query", "required": false,
                "description": "The format: json or html (else the Accept header decides).",
                "schema": { "type": "string", "enum": ["json", "html"] }
            },
            "featureId": { "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } }
        },
        "schemas": {
            "Document": { "type": "object" },
            "Feature": {
                "type": "object", "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": { "type": "string", "enum": ["Feature"] },
                    "id": { "type": "string" },
                    "geometry": { "type": "object", "nullable": true },
                    "properties": { "type": "object", "nullable": true }
                }
            },
            "FeatureCollection": {
                "type": "object", "required": ["type", "features"],
                "properties": {
                    "type": { "type": "string", "enum": ["FeatureCollection"] },
                    "features": { "type": "array", "items": { "$ref": "#/components/schemas/Feature" } },
                    "numberMatched": { "type": "integer" },
                    "numberReturned": { "type": "integer" },
                    "timeStamp": { "type": "string", "format": "date-time" },
                    "links": { "type": "array", "items": { "type": "object" } }
                }
            },
            "Execute": {
                "type": "object",
                "properties": {
                    "inputs": { "type": "object", "additionalProperties": true },
                    "outputs": { "type": "object", "additionalProperties": true },
                    "response": { "type": "string", "enum": ["raw", "document"], "default": "raw" }
                }
            },
            "Problem": {
                "type": "object", "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": { "type": "string" }, "title": { "type": "string" },
                    "status": { "type": "integer" }, "detail": { "type": "string" },
                    "parameter": { "type": "string" }
                }
            }
        },
        "responses": {
            "Problem": {
                "description": "An error (RFC 7807)",
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
            }
        }
    })
}

pub async fn api(State(state): State<AppState>, base: BaseUrl, format: Format) -> Response {
    let doc = document(&state, &base);
    respond(format, &doc, links::OPENAPI_JSON, || api_page(&base, &doc))
}

pub async fn api_html(State(state): State<AppState>, base: BaseUrl) -> Response {
    let doc = document(&state, &base);
    respond(Format::Html, &doc, links::OPENAPI_JSON, || {
        api_page(&base, &doc)
    })
}

fn api_page(base: &BaseUrl, doc: &Value) -> Page {
    let mut page = Page::new(
        base,
        "API documentation",
        "Every path of this gateway, generated from its OpenAPI 3.0 document (/api).",
    );
    let mut t = Table::new("", &["Method", "Path", "Summary", "Parameters"]);
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    p["name"].as_str().map(str::to_string).unwrap_or_else(|| {
                        p["$ref"]
                            .as_str()
                            .unwrap_or("")
                            .rsplit('/')
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                })
                .collect();
            let link = if method == "get" && !path.contains('{') {
                Cell::link(path.clone(), base.join(path))
            } else {
                Cell::text(path.clone())
            };
            t.rows.push(vec![
                Cell::text(method.to_uppercase()),
                link,
                Cell::text(op["summary"].as_str().unwrap_or("")),
                Cell::text(params.join(", ")),
            ]);
        }
    }
    page.tables.push(t);
    page
}

/// The OpenAPI paths of one geocoding collection (its document, items, one item, queryables).
pub fn geocoding_collection_paths(
    c: &crate::services::geocode::CollectionSpec,
) -> Vec<(String, Value)> {
    let queryables: Vec<_> = c
        .queryables
        .iter()
        .map(|q| (q.name, q.title, &q.schema))
        .collect();
    collection_paths(c.id, c.title, &queryables)
}

/// The OpenAPI paths of a collection: its document, items (with its own query parameters
/// `queryables`: name, description, schema), one item, queryables.
pub fn collection_paths(
    id: &str,
    title: &str,
    queryables: &[(&str, &str, &Value)],
) -> Vec<(String, Value)> {
    let mut paths = Map::new();
    let doc_ok = |what: &str| response(what, &[links::JSON, links::HTML], "Document");
    let base_path = format!("/collections/{id}");
    paths.insert(
        base_path.clone(),
        get_op(
            title,
            "Features",
            vec![param_ref("f")],
            doc_ok("The collection"),
            &["400"],
        ),
    );
    let mut params = vec![
        param_ref("limit"),
        param_ref("offset"),
        param_ref("bbox"),
        param_ref("bbox-crs"),
        param_ref("f"),
    ];
    params.extend(queryables.iter().map(|(name, description, schema)| {
            json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema, "style": "form", "explode": false })
        }));
    paths.insert(
        format!("{base_path}/items"),
        get_op(
            &format!("Items of {title}"),
            "Features",
            params,
            response(
                "A page of features",
                &[links::GEOJSON, links::HTML],
                "FeatureCollection",
            ),
            &["400", "429", "502", "504"],
        ),
    );
    paths.insert(
        format!("{base_path}/items/{{featureId}}"),
        get_op(
            &format!("One item of {title}"),
            "Features",
            vec![param_ref("featureId"), param_ref("f")],
            response("The feature", &[links::GEOJSON, links::HTML], "Feature"),
            &["400", "404", "502", "504"],
        ),
    );
    paths.insert(
        format!("{base_path}/queryables"),
        get_op(
            &format!("Queryables of {title}"),
            "Features",
            vec![param_ref("f")],
            response(
                "JSON Schema of the filters",
                &[links::SCHEMA_JSON, links::HTML],
                "Document",
            ),
            &["400"],
        ),
    );
    paths.into_iter().collect()
}
