//! The public HTTP contract: OGC API Common (landing, conformance, OpenAPI), Features
//! (collections, items, queryables) and Processes (list, descriptions, execution, jobs), in JSON and
//! HTML; the basemap kiosk and catalogue; tiles (XYZ, WMTS) and the republished WMS.

pub mod catalog;
pub mod collections;
pub mod common;
pub mod documents;
pub mod features;
pub mod html;
pub mod jobs;
pub mod links;
pub mod mirror;
pub mod openapi;
pub mod ows;
pub mod plugin_repository;
pub mod processes;
pub mod qgis_renderer;
pub mod records;
pub mod tiles;
pub mod vendor;
pub mod wfs;
pub mod wms;

use axum::{routing::get, Router};

use crate::AppState;

/// The API: OGC API resources, processes and jobs, the catalogue.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(common::landing))
        .route("/conformance", get(common::conformance))
        .route("/health", get(common::health))
        .route("/ready", get(common::ready))
        .route("/qgis/plugins.xml", get(plugin_repository::plugins_xml))
        .route(
            "/qgis/geopf_gateway.zip",
            get(plugin_repository::plugin_zip),
        )
        .route("/qgis/icon.png", get(plugin_repository::icon))
        .route("/api", get(openapi::api))
        .route("/api.html", get(openapi::api_html))
        .route("/collections", get(collections::collections))
        .route("/collections/{collection_id}", get(collections::collection))
        .route(
            "/collections/{collection_id}/items",
            get(collections::items),
        )
        .route(
            "/collections/{collection_id}/items/{feature_id}",
            get(collections::item),
        )
        .route(
            "/collections/{collection_id}/queryables",
            get(collections::queryables),
        )
        .route("/processes", get(processes::list))
        .route("/processes/{process_id}", get(processes::describe))
        .route(
            "/processes/{process_id}/execution",
            get(processes::execute_get).post(processes::execute_post),
        )
        .route("/uploads", axum::routing::post(jobs::upload))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{job_id}", get(jobs::status).delete(jobs::dismiss))
        .route("/jobs/{job_id}/results", get(jobs::results))
        .route(
            "/geopf/{*path}",
            get(mirror::mirror).post(mirror::mirror_post),
        )
}

/// Public map documents, readable by any web page: the catalogue, the WMTS (KVP, and its REST
/// capabilities) and the WMS. Their upstream requests are bounded by the upstream client's own
/// timeouts, so they skip the per-request timer of the API routes.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/catalog", get(catalog::kiosk))
        .route("/catalog.json", get(catalog::catalog_json))
        .route("/catalog/{layer_id}", get(catalog::catalog_entry))
        .route("/wmts", get(tiles::wmts_kvp))
        .route("/wms", get(wms::wms))
        .route("/styles/{layer_id}/{file}", get(tiles::style))
        .route("/tiles/{layer_id}/tilejson.json", get(tiles::tilejson))
        .route("/assets/{library}/{file}", get(vendor::asset))
        .route(
            "/wmts/1.0.0/WMTSCapabilities.xml",
            get(tiles::wmts_rest_capabilities),
        )
}

/// The tiles (XYZ and WMTS REST): images only, so neither the timer nor the compression layer of
/// the other routes — a map pans at tens of thousands of tiles a second.
pub fn tile_routes() -> Router<AppState> {
    Router::new()
        .route("/tiles/{layer_id}/{z}/{x}/{file}", get(tiles::tile))
        .route(
            "/wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{file}",
            get(tiles::wmts_rest_tile),
        )
}
