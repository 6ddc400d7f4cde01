//! The basemap catalogue and tiles: `/catalog` (the kiosk page), `/catalog.json`, `/catalog/{id}`,
//! `/catalog/{id}.qlr` (a QGIS layer definition) and `/tiles/{id}/{z}/{x}/{y}.{png|jpeg}`.

use askama::Template;
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use serde_json::{json, Value};

use super::{
    features::{parse_limit, parse_offset, urlencode},
    html::{respond, Cell, Page, Table},
    links::{self, encode_query, Link},
};
use crate::{
    catalog::wmts::WmtsLayer,
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    services::basemaps::theme,
    AppState,
};

fn ext(layer: &WmtsLayer) -> &'static str {
    if layer.formats.iter().any(|f| f == "image/png") {
        "png"
    } else {
        "jpeg"
    }
}

/// The XYZ URL template of a layer through the gateway.
fn xyz_url(base: &BaseUrl, layer: &WmtsLayer) -> String {
    base.join(&format!(
        "/tiles/{}/{{z}}/{{x}}/{{y}}.{}",
        urlencode(&layer.id),
        ext(layer)
    ))
}

/// A tile showing the layer: at zoom 6 (or the nearest it has), over the middle of its extent.
fn preview(base: &BaseUrl, layer: &WmtsLayer) -> String {
    let (lo, hi) = layer.zoom_range().unwrap_or((0, 0));
    let z = 6u32.clamp(lo, hi.max(lo));
    let (lon, lat) = layer.wgs84_bbox.map(|b| b.center()).unwrap_or((2.35, 46.6));
    let (x, y) = crate::geo::tile_of(lon, lat, z);
    base.join(&format!(
        "/tiles/{}/{z}/{x}/{y}.{}",
        urlencode(&layer.id),
        ext(layer)
    ))
}

pub fn entry(base: &BaseUrl, l: &WmtsLayer) -> Value {
    let (min_zoom, max_zoom) = l.zoom_range().unwrap_or((0, 0));
    let detail = base.join(&format!("/catalog/{}", urlencode(&l.id)));
    json!({
        "id": l.id,
        "title": l.title,
        "abstract": l.abstract_,
        "keywords": l.keywords,
        "theme": theme(&l.id),
        "services": ["wmts"],
        "formats": l.formats,
        "styles": l.styles.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        "bbox": l.wgs84_bbox.map(|b| vec![b.min_lon, b.min_lat, b.max_lon, b.max_lat]),
        "min_zoom": min_zoom,
        "max_zoom": max_zoom,
        "tile_matrix_set": l.tile_matrix_set,
        "legend_url": l.styles.iter().find(|s| s.is_default).or(l.styles.first()).and_then(|s| s.legend_url.clone()),
        "metadata_urls": [],
        "links": {
            "tiles": if l.is_xyz() { Some(xyz_url(base, l)) } else { None },
            "qlr": if l.is_xyz() { Some(format!("{detail}.qlr")) } else { None },
            "detail": detail,
        },
    })
}

fn matches(l: &WmtsLayer, q: &[String], theme_filter: Option<&str>) -> bool {
    let text = format!(
        "{} {} {} {}",
        l.id,
        l.title,
        l.abstract_,
        l.keywords.join(" ")
    )
    .to_lowercase();
    theme_filter.is_none_or(|t| theme(&l.id) == t) && q.iter().all(|w| text.contains(w.as_str()))
}

pub async fn catalog_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    let (mut q, mut theme_filter, mut limit, mut offset) = (Vec::new(), None, usize::MAX, 0);
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "q" => {
                q = v
                    .to_lowercase()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            }
            "theme" => theme_filter = Some(v.into_owned()),
            "service" if v != "wmts" => q.push("\u{0}".into()), // only WMTS layers are catalogued yet
            "limit" => limit = parse_limit(&v)?,
            "offset" => offset = parse_offset(&v)?,
            _ => {}
        }
    }
    let layers = state.basemaps.state().items;
    let found: Vec<&WmtsLayer> = layers
        .iter()
        .filter(|l| matches(l, &q, theme_filter.as_deref()))
        .collect();
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|l| entry(&base, l))
        .collect();
    let mut links_out = vec![Link::new(
        base.join("/catalog.json"),
        "self",
        links::JSON,
        "This catalogue",
    )];
    if offset.saturating_add(page.len()) < found.len() && limit != usize::MAX {
        let next = encode_query(&[
            ("limit".into(), limit.to_string()),
            ("offset".into(), (offset + limit).to_string()),
        ]);
        links_out.push(Link::new(
            base.join(&format!("/catalog.json?{next}")),
            "next",
            links::JSON,
            "Next page",
        ));
    }
    Ok(axum::Json(json!({ "numberMatched": found.len(), "layers": page, "links": links::to_value(&links_out) })).into_response())
}

struct Card {
    id: String,
    title: String,
    theme: &'static str,
    zooms: String,
    abstract_short: String,
    search: String,
    preview: String,
    xyz: String,
    qlr: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct Kiosk {
    home: String,
    themes: Vec<&'static str>,
    layers: Vec<Card>,
}

pub async fn kiosk(State(state): State<AppState>, base: BaseUrl) -> Response {
    let layers = state.basemaps.state().items;
    let mut themes: Vec<&'static str> = layers.iter().map(|l| theme(&l.id)).collect();
    themes.sort_unstable();
    themes.dedup();
    let cards = layers
        .iter()
        .filter(|l| l.is_xyz())
        .map(|l| {
            let (lo, hi) = l.zoom_range().unwrap_or((0, 0));
            let detail = base.join(&format!("/catalog/{}?f=html", urlencode(&l.id)));
            Card {
                id: l.id.clone(),
                title: l.title.clone(),
                theme: theme(&l.id),
                zooms: format!("{lo}–{hi}"),
                abstract_short: l.abstract_.chars().take(160).collect(),
                search: format!(
                    "{} {} {} {}",
                    l.id,
                    l.title,
                    l.abstract_,
                    l.keywords.join(" ")
                )
                .to_lowercase(),
                preview: preview(&base, l),
                xyz: xyz_url(&base, l),
                qlr: base.join(&format!("/catalog/{}.qlr", urlencode(&l.id))),
                detail,
            }
        })
        .collect();
    let page = Kiosk {
        home: base.join("/"),
        themes,
        layers: cards,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(format!("the kiosk failed to render: {e}")).into_response(),
    }
}

/// The layers offered as XYZ connections by default.
const FEATURED: [&str; 3] = [
    "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2",
    "ORTHOIMAGERY.ORTHOPHOTOS",
    "CADASTRALPARCELS.PARCELLAIRE_EXPRESS",
];

/// QGIS's "Load connections" files (Data Source Manager → a provider's tab → Load), through the
/// gateway. QGIS reads one kind of connection per file, chosen by `type`: `xyz` (the default: the
/// featured basemaps as XYZ), `wms` (the WMTS and the WMS, both in QGIS's WMS/WMTS tab), `wfs` (the
/// OGC API – Features connection, in QGIS's WFS / OGC API – Features tab).
fn connections_xml(state: &AppState, base: &BaseUrl, kind: &str) -> Result<Response, ApiError> {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut xml = String::from("<!DOCTYPE connections>\n");
    match kind {
        "" | "xyz" => {
            xml.push_str("<qgsXYZTilesConnections version=\"1.0\">\n");
            let layers = state.basemaps.state().items;
            for l in layers
                .iter()
                .filter(|l| l.is_xyz() && FEATURED.contains(&l.id.as_str()))
            {
                let (lo, hi) = l.zoom_range().unwrap_or((0, 19));
                xml.push_str(&format!(
                    "  <xyztiles name=\"{} (IGN)\" url=\"{}\" zmin=\"{lo}\" zmax=\"{hi}\" authcfg=\"\" username=\"\" password=\"\" referer=\"\" tilePixelRatio=\"0\"/>\n",
                    esc(&l.title),
                    esc(&xyz_url(base, l)),
                ));
            }
            xml.push_str("</qgsXYZTilesConnections>\n");
        }
        "wms" => {
            xml.push_str("<qgsWMSConnections version=\"1.0\">\n");
            for (name, url) in [
                (
                    "IGN basemaps, WMTS (geopf-gateway)",
                    base.join("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
                ),
                ("IGN WMS-Raster (geopf-gateway)", base.join("/wms")),
            ] {
                xml.push_str(&format!(
                    "  <wms name=\"{}\" url=\"{}\" ignoreGetMapURI=\"false\" ignoreGetFeatureInfoURI=\"false\" ignoreAxisOrientation=\"false\" invertAxisOrientation=\"false\" smoothPixmapTransform=\"false\" dpiMode=\"7\" username=\"\" password=\"\"/>\n",
                    esc(name),
                    esc(&url)
                ));
            }
            xml.push_str("</qgsWMSConnections>\n");
        }
        "wfs" | "oapif" => {
            xml.push_str("<qgsWFSConnections version=\"1.1\">\n");
            xml.push_str(&format!(
                "  <wfs name=\"Géoplateforme (geopf-gateway)\" url=\"{}\" version=\"OGC_API_FEATURES\" maxnumfeatures=\"\" pagesize=\"\" pagingenabled=\"true\" ignoreAxisOrientation=\"false\" invertAxisOrientation=\"false\" username=\"\" password=\"\" featureMode=\"default\"/>\n",
                esc(&base.join("/"))
            ));
            xml.push_str("</qgsWFSConnections>\n");
        }
        other => {
            return Err(ApiError::bad_parameter(
                "type",
                format!("{other:?} is not xyz, wms or wfs"),
            ))
        }
    }
    Ok(super::ows::xml(xml))
}

/// What QGIS percent-encodes in a value of a provider URI (`QgsDataSourceUri::encodedUri`): the
/// URI's own delimiters and the template's braces. QGIS 3.40 does not find tiles behind a URL
/// whose `:` and `/` are encoded too (3.22 does).
const QGIS_URI_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'{')
    .add(b'}');

/// A QGIS layer definition adding the layer as XYZ tiles through the gateway.
fn qlr(base: &BaseUrl, l: &WmtsLayer) -> String {
    let (lo, hi) = l.zoom_range().unwrap_or((0, 19));
    let url = percent_encoding::utf8_percent_encode(&xyz_url(base, l), QGIS_URI_VALUE).to_string();
    let source = format!("type=xyz&url={url}&zmax={hi}&zmin={lo}");
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        r#"<!DOCTYPE qgis-layer-definition>
<qlr>
  <layer-tree-group expanded="1" checked="Qt::Checked" name="">
    <layer-tree-layer expanded="1" checked="Qt::Checked" id="{id}" name="{title}" source="{source}" providerKey="wms"/>
  </layer-tree-group>
  <maplayers>
    <maplayer type="raster" hasScaleBasedVisibilityFlag="0">
      <id>{id}</id>
      <datasource>{source}</datasource>
      <layername>{title}</layername>
      <srs><spatialrefsys><authid>EPSG:3857</authid></spatialrefsys></srs>
      <provider>wms</provider>
    </maplayer>
  </maplayers>
</qlr>
"#,
        id = esc(&l.id),
        title = esc(&l.title),
        source = esc(&source),
    )
}

pub async fn catalog_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    if id == "qgis-connections.xml" {
        let kind = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "type")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        return connections_xml(&state, &base, &kind);
    }
    let (id, as_qlr) = match id.strip_suffix(".qlr") {
        Some(i) => (i.to_string(), true),
        None => (id, false),
    };
    let layer = state.basemaps.layer(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no basemap {id:?} in the catalogue (see /catalog.json)"
        ))
    })?;
    if as_qlr {
        if !layer.is_xyz() {
            return Err(ApiError::not_found(format!(
                "{id} is not published in WebMercator"
            )));
        }
        let mut r = qlr(&base, &layer).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-qgis-layer-definition"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{}.qlr\"",
            id.replace(['"', '/', '\\'], "_")
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(r);
    }
    let doc = entry(&base, &layer);
    Ok(respond(format, &doc, links::JSON, || {
        let mut p = Page::new(&base, layer.title.clone(), layer.abstract_.clone());
        let mut t = Table::new("", &["", ""]);
        for (k, v) in [
            ("id", layer.id.clone()),
            ("theme", theme(&layer.id).into()),
            ("zoom", format!("{:?}", layer.zoom_range())),
            ("formats", layer.formats.join(", ")),
        ] {
            t.rows.push(vec![Cell::text(k), Cell::text(v)]);
        }
        if layer.is_xyz() {
            t.rows
                .push(vec![Cell::text("XYZ"), Cell::text(xyz_url(&base, &layer))]);
            t.rows.push(vec![
                Cell::text("preview"),
                Cell::link("a tile", preview(&base, &layer)),
            ]);
            t.rows.push(vec![
                Cell::text("QGIS"),
                Cell::link(
                    ".qlr",
                    base.join(&format!("/catalog/{}.qlr", urlencode(&layer.id))),
                ),
            ]);
        }
        p.tables.push(t);
        p
    }))
}
