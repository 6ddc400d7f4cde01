//! Server-rendered HTML: one small page template (askama, escaped, no scripts, no CDN) that every
//! resource fills with a title, tables, links and its JSON.

use askama::Template;
use axum::{
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use serde_json::Value;

use super::links::Link;
use crate::{
    cache::CacheStatus, error::ApiError, http::base_url::BaseUrl, http::negotiate::Format,
};

#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            href: None,
        }
    }

    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            href: Some(href.into()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(caption: &str, headers: &[&str]) -> Self {
        Table {
            caption: caption.to_string(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    pub label: String,
    pub value: String,
    pub placeholder: String,
}

#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub submit: String,
    pub fields: Vec<FormField>,
}

#[derive(Template, Default)]
#[template(path = "page.html")]
pub struct Page {
    pub home: String,
    pub title: String,
    pub description: String,
    pub note: Option<String>,
    pub form: Option<Form>,
    pub tables: Vec<Table>,
    pub links: Vec<Link>,
    pub json: Option<String>,
    /// Images shown above the tables: a 3×3 tile mosaic (nine) or one map.
    pub preview: Vec<String>,
    /// A pannable, zoomable map (Leaflet, or MapLibre for vector tiles; served by the gateway)
    /// instead, the preview images kept for a browser without scripts.
    pub map: Option<MapView>,
}

/// What the map of a page shows: XYZ tiles, a WMS layer, or vector tiles in one of their styles,
/// around a point.
#[derive(Debug, Clone)]
pub struct MapView {
    /// The vendored map libraries (`…/assets`: `leaflet/…`, `maplibre/…`).
    pub assets: String,
    /// An XYZ URL template, or the WMS endpoint when `wms_layer_js` is set, as JavaScript string
    /// literals (written into the page's script as they are).
    pub url_js: String,
    pub wms_layer_js: Option<String>,
    /// Vector tiles: their styles (name, URL), the first shown; MapLibre draws them.
    pub vector_styles: Vec<(String, String)>,
    pub lon: f64,
    pub lat: f64,
    pub zoom: u32,
    pub min_zoom: u32,
    pub max_zoom: u32,
}

/// A JavaScript string literal of `text`, safe inside a `<script>` element.
fn js_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| "\"\"".into())
        .replace("</", "<\\/")
}

impl MapView {
    /// XYZ tiles (`{z}/{x}/{y}`) between zoom levels `min_zoom` and `max_zoom`.
    pub fn xyz(
        assets: String,
        url: &str,
        (lon, lat): (f64, f64),
        zoom: u32,
        (min_zoom, max_zoom): (u32, u32),
    ) -> Self {
        MapView {
            assets,
            url_js: js_string(url),
            wms_layer_js: None,
            vector_styles: Vec::new(),
            lon,
            lat,
            zoom,
            min_zoom,
            max_zoom,
        }
    }

    /// Vector tiles drawn in one of their MapLibre `styles` (name, URL; the first shown).
    pub fn vector(
        assets: String,
        styles: Vec<(String, String)>,
        (lon, lat): (f64, f64),
        zoom: u32,
    ) -> Self {
        MapView {
            vector_styles: styles,
            ..MapView::xyz(assets, "", (lon, lat), zoom, (0, 18))
        }
    }

    /// WMS `layer` of the WMS at `url`.
    pub fn wms(assets: String, url: &str, layer: &str, (lon, lat): (f64, f64), zoom: u32) -> Self {
        MapView {
            wms_layer_js: Some(js_string(layer)),
            ..MapView::xyz(assets, url, (lon, lat), zoom, (0, 20))
        }
    }
}

impl Page {
    pub fn new(base: &BaseUrl, title: impl Into<String>, description: impl Into<String>) -> Self {
        Page {
            home: base.join("/"),
            title: title.into(),
            description: description.into(),
            ..Page::default()
        }
    }

    pub fn render_response(self) -> Response {
        match self.render() {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                ApiError::internal(format!("an HTML page failed to render: {e}")).into_response()
            }
        }
    }
}

/// The first allocation of a JSON document's text: most pages of ten features fit.
const JSON_BUFFER: usize = 16 * 1024;

/// Answers a resource in the negotiated format: its JSON with `json_type`, or the HTML page made
/// by `page` (which receives the pretty JSON to embed).
pub fn respond(
    format: Format,
    json: &impl serde::Serialize,
    json_type: &'static str,
    page: impl FnOnce() -> Page,
) -> Response {
    match format {
        Format::Json => {
            // Written once into a buffer of a page's usual size (not grown from 128 bytes by
            // doubling, each step a copy).
            let mut body = Vec::with_capacity(JSON_BUFFER);
            if let Err(e) = serde_json::to_writer(&mut body, json) {
                return crate::error::ApiError::internal(format!(
                    "the document could not be written as JSON: {e}"
                ))
                .into_response();
            }
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(json_type))],
                body,
            )
                .into_response()
        }
        Format::Html => {
            let mut p = page();
            p.json = serde_json::to_string_pretty(json).ok();
            p.render_response()
        }
    }
}

/// Adds the `Cache-Status` header (RFC 9211) of an answer that went through the cache.
pub fn with_cache_status(mut response: Response, status: Option<CacheStatus>) -> Response {
    if let Some(s) = status {
        response
            .headers_mut()
            .insert("cache-status", HeaderValue::from_static(s.as_str()));
    }
    response
}

/// A JSON value as a short text for a table cell.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}
