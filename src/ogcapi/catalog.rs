//! The catalogue: `/catalog` (the kiosk page), `/catalog.json`, `/catalog/{id}` (JSON and an HTML
//! page with a map preview), `/catalog/{id}.qlr` (a QGIS layer definition through the gateway) and
//! `/catalog/qgis-connections.xml` (QGIS connection files).

use askama::Template;
use axum::{
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use serde_json::{json, Value};

use super::{
    features::{parse_limit, parse_offset, urlencode},
    html::{respond, Cell, MapView, Page, Table},
    links::{self, Link},
};
use crate::{
    catalog::{wms::WmsLayer, wmts::WmtsLayer},
    error::ApiError,
    geo::{tile_bounds_3857, tile_of},
    http::{base_url::BaseUrl, negotiate::Format},
    services::catalogue::{fold, Entry, THEMES},
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
pub(crate) fn xyz_url(base: &BaseUrl, layer: &WmtsLayer) -> String {
    base.join(&format!(
        "/tiles/{}/{{z}}/{{x}}/{{y}}.{}",
        urlencode(&layer.id),
        ext(layer)
    ))
}

/// The zoom level a preview shows: 6 (France on a few tiles), or the nearest the layer has.
fn preview_zoom(layer: &WmtsLayer) -> u32 {
    let (lo, hi) = layer.zoom_range().unwrap_or((0, 0));
    6u32.clamp(lo, hi.max(lo))
}

/// The zoom a vector layer's map opens at: streets and place names.
const VECTOR_ZOOM: u32 = 12;

/// Metropolitan France.
const METROPOLE: crate::geo::Bbox = crate::geo::Bbox {
    min_lon: -5.2,
    min_lat: 41.3,
    max_lon: 9.6,
    max_lat: 51.1,
};

/// Where a preview looks: the middle of the part of the layer's extent over metropolitan France
/// when it has one (a world-wide layer shows France, not 0°,0°), else the middle of its extent.
fn centre(e: &Entry) -> (f64, f64) {
    let Some(b) = e.bbox else {
        return (2.35, 46.6);
    };
    b.intersection(&METROPOLE)
        .filter(|i| i.min_lon < i.max_lon && i.min_lat < i.max_lat)
        .unwrap_or(b)
        .center()
}

/// The tile `dx`,`dy` away from the one over the middle of the layer's extent.
fn preview_tile(base: &BaseUrl, e: &Entry, layer: &WmtsLayer, dx: i64, dy: i64) -> String {
    let z = preview_zoom(layer);
    let (lon, lat) = centre(e);
    let (x, y) = tile_of(lon, lat, z);
    let last = (1i64 << z) - 1;
    let x = (x as i64 + dx).clamp(0, last);
    let y = (y as i64 + dy).clamp(0, last);
    base.join(&format!(
        "/tiles/{}/{z}/{x}/{y}.{}",
        urlencode(&layer.id),
        ext(layer)
    ))
}

/// The WebMercator zoom level whose scale (256-pixel tiles, 0.28 mm pixels) lies within the
/// layer's scale range and is nearest to 6 — a layer drawn only close up gets a close-up preview.
fn wms_zoom(layer: &WmsLayer) -> u32 {
    const SCALE_AT_ZOOM_0: f64 = 559_082_264.028_717_9;
    let shown = |z: u32| {
        let scale = SCALE_AT_ZOOM_0 / f64::from(1u32 << z);
        layer.min_scale.is_none_or(|lo| scale >= lo) && layer.max_scale.is_none_or(|hi| scale <= hi)
    };
    (0..=21u32)
        .filter(|z| shown(*z))
        .min_by_key(|z| z.abs_diff(6))
        .unwrap_or(6)
}

/// A WMS GetMap through the gateway of `side`×`side` pixels over the tile at the middle of the
/// layer's extent, at a zoom level the layer is drawn at.
fn wms_map(base: &BaseUrl, e: &Entry, layer: &WmsLayer, side: u32) -> String {
    let (lon, lat) = centre(e);
    let z = wms_zoom(layer);
    let (x, y) = tile_of(lon, lat, z);
    let (minx, miny, maxx, maxy) = tile_bounds_3857(z, x, y);
    base.join(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={}&STYLES=&CRS=EPSG:3857&BBOX={minx:.0},{miny:.0},{maxx:.0},{maxy:.0}&WIDTH={side}&HEIGHT={side}&FORMAT=image/png",
        urlencode(&layer.name)
    ))
}

/// The picture of a layer on its card: a tile, or a small WMS map; none for feature types.
fn preview(base: &BaseUrl, e: &Entry) -> Option<String> {
    if let Some(layer) = e.xyz() {
        return Some(preview_tile(base, e, layer, 0, 0));
    }
    e.wms.as_ref().map(|l| wms_map(base, e, l, 256))
}

/// The layer's legend: through the gateway (cached, offline once seen) when it can, else where
/// the upstream publishes it.
pub(crate) fn legend(base: &BaseUrl, e: &Entry) -> Option<String> {
    e.legend_gateway_path()
        .map(|path| base.join(&path))
        .or_else(|| e.legend_url())
}

pub(crate) fn detail_url(base: &BaseUrl, e: &Entry) -> String {
    base.join(&format!("/catalog/{}", urlencode(&e.id)))
}

/// The vector tiles of a TMS vector layer through the gateway, and its default IGN style.
pub(crate) fn vector_urls(base: &BaseUrl, e: &Entry) -> Option<(String, String)> {
    let t = e.tms.as_ref().filter(|t| t.is_vector())?;
    let id = urlencode(&t.id);
    Some((
        base.join(&format!("/tiles/{id}/{{z}}/{{x}}/{{y}}.pbf")),
        base.join(&format!("/styles/{id}/default.json")),
    ))
}

pub(crate) fn collection_url(base: &BaseUrl, e: &Entry) -> Option<String> {
    e.wfs
        .as_ref()
        .map(|t| base.join(&format!("/collections/{}", urlencode(&t.name))))
}

pub fn entry(base: &BaseUrl, e: &Entry) -> Value {
    let detail = detail_url(base, e);
    let wmts = e.wmts.as_ref();
    let zooms = e.xyz().and_then(|l| l.zoom_range());
    json!({
        "id": e.id,
        "title": e.title,
        "abstract": e.abstract_,
        "keywords": e.keywords,
        "theme": e.theme,
        "services": e.services(),
        "formats": wmts.map(|l| l.formats.clone()).unwrap_or_default(),
        "styles": wmts.map(|l| &l.styles).or(e.wms.as_ref().map(|l| &l.styles)).map(|s| s.iter().map(|s| s.id.clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "bbox": e.bbox.map(|b| vec![b.min_lon, b.min_lat, b.max_lon, b.max_lat]),
        "min_zoom": zooms.map(|z| z.0),
        "max_zoom": zooms.map(|z| z.1),
        "tile_matrix_set": wmts.map(|l| l.tile_matrix_set.clone()),
        "min_scale_denominator": e.wms.as_ref().and_then(|l| l.min_scale),
        "max_scale_denominator": e.wms.as_ref().and_then(|l| l.max_scale),
        "default_crs": e.wfs.as_ref().and_then(|t| t.default_crs.clone()),
        "legend_url": legend(base, e),
        "metadata_urls": e.wms.as_ref().map(|l| l.metadata_urls.clone()).unwrap_or_default(),
        "links": {
            "tiles": e.xyz().map(|l| xyz_url(base, l)),
            "wmts": wmts.map(|_| base.join("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")),
            "wms": e.wms.as_ref().map(|_| base.join("/wms?SERVICE=WMS&REQUEST=GetCapabilities")),
            "collection": collection_url(base, e),
            "vector_tiles": vector_urls(base, e).map(|(tiles, _)| tiles),
            "style": vector_urls(base, e).map(|(_, style)| style),
            "preview": preview(base, e),
            "qlr": qlr_source(base, e).map(|_| format!("{detail}.qlr")),
            "detail": detail,
        },
    })
}

pub async fn catalog_json(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    let (mut q, mut theme, mut service, mut limit, mut offset) =
        (Vec::new(), None, None, usize::MAX, 0);
    for (k, v) in url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "q" => q = crate::services::catalogue::search_terms(&v),
            "theme" => {
                if !THEMES.contains(&v.as_ref()) {
                    return Err(ApiError::bad_parameter(
                        "theme",
                        format!("{v:?} is not one of {}", THEMES.join(", ")),
                    ));
                }
                theme = Some(v.into_owned());
            }
            "service" => {
                let s = v.to_ascii_lowercase();
                if !["wmts", "wms", "wfs", "tms"].contains(&s.as_str()) {
                    return Err(ApiError::bad_parameter(
                        "service",
                        format!("{v:?} is not wmts, wms, wfs or tms"),
                    ));
                }
                service = Some(s);
            }
            "limit" => limit = parse_limit(&v)?,
            "offset" => offset = parse_offset(&v)?,
            _ => {}
        }
    }
    let entries = state.catalogue.entries();
    // Best first when searching (the same ranking as the records of /collections/catalog).
    let found: Vec<&Entry> = crate::services::catalogue::ranked(
        entries
            .iter()
            .filter(|e| e.matches(&q, theme.as_deref(), service.as_deref())),
        &q,
    );
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(limit)
        .map(|e| entry(&base, e))
        .collect();
    let mut links_out = vec![Link::new(
        base.join("/catalog.json"),
        "self",
        links::JSON,
        "This catalogue",
    )];
    if limit != usize::MAX {
        // The next page keeps the search (q, theme, service).
        let pairs = links::query_pairs(raw.as_deref());
        links_out.extend(links::paging(
            &base,
            &links::Page {
                path: "/catalog.json",
                query: &pairs,
                offset,
                limit,
                more: offset.saturating_add(page.len()) < found.len(),
            },
            links::JSON,
        ));
    }
    Ok(axum::Json(json!({ "numberMatched": found.len(), "layers": page, "links": links::to_value(&links_out) })).into_response())
}

struct Card {
    id: String,
    title: String,
    theme: &'static str,
    services: String,
    about: String,
    abstract_short: String,
    search: String,
    /// What the in-page search ranks by, as the gateway's does (services::catalogue::Entry::score):
    /// the identifier, title and keywords folded, and whether the layer is a featured basemap.
    rank_id: String,
    rank_title: String,
    rank_keywords: String,
    featured: bool,
    preview: Option<String>,
    copy_label: &'static str,
    copy: String,
    /// A vector layer's styles (name, URL), the default first: a picker sets what is copied.
    styles: Vec<(String, String)>,
    /// What stands for the preview when there is no image: "vector features", "vector tiles".
    placeholder: &'static str,
    qlr: Option<String>,
    legend: Option<String>,
    detail: String,
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct Kiosk {
    home: String,
    themes: Vec<&'static str>,
    layers: Vec<Card>,
    /// The processes (built-in and adapters), as title and page.
    tools: Vec<(String, String)>,
    /// Where the layers come from when it is not the upstream's current answer.
    provenance: Option<String>,
}

/// The URL of each of a vector layer's `styles` (names), the default first.
fn style_urls(base: &BaseUrl, id: &str, styles: &[String]) -> Vec<(String, String)> {
    styles
        .iter()
        .map(|name| {
            let url = base.join(&format!(
                "/styles/{}/{}.json",
                urlencode(id),
                urlencode(name)
            ));
            (name.clone(), url)
        })
        .collect()
}

/// The names of the styles vector layer `id`'s TileMap lists (none when it cannot be read: the
/// default style stands alone).
async fn style_names(state: &AppState, id: &str) -> Vec<String> {
    match state.tms.styles(id).await {
        Ok(list) => list.iter().map(|(name, _)| name.clone()).collect(),
        Err(_) => Vec::new(),
    }
}

fn card(base: &BaseUrl, e: &Entry, styles: &[String]) -> Card {
    let (copy_label, copy, about) = if let Some(l) = e.xyz() {
        let (lo, hi) = l.zoom_range().unwrap_or((0, 0));
        ("Copy XYZ URL", xyz_url(base, l), format!("zoom {lo}–{hi}"))
    } else if let Some(l) = &e.wms {
        let about = match (l.min_scale, l.max_scale) {
            (Some(lo), Some(hi)) => format!("1:{lo:.0} to 1:{hi:.0}"),
            _ => "all scales".into(),
        };
        // A complete map request, layer included, not just the service's address.
        ("Copy WMS URL", wms_map(base, e, l, 1024), about)
    } else if let Some((_, style)) = vector_urls(base, e) {
        // QGIS and MapLibre need only the style: its sources lead to the tiles.
        ("Copy style URL", style, "vector tiles, zoom 0–18".into())
    } else if let Some(l) = e.wmts.as_ref() {
        // Another matrix set than WebMercator: the republished WMTS.
        (
            "Copy WMTS URL",
            base.join("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
            format!("WMTS, {}", l.tile_matrix_set),
        )
    } else {
        let crs = e.wfs.as_ref().and_then(|t| t.default_crs.clone());
        (
            "Copy collection URL",
            collection_url(base, e).unwrap_or_default(),
            format!(
                "features{}",
                crs.map(|c| format!(", {c}")).unwrap_or_default()
            ),
        )
    };
    Card {
        id: e.id.clone(),
        title: e.title.clone(),
        theme: e.theme,
        services: e.services().join(" "),
        about,
        abstract_short: e.abstract_.chars().take(160).collect(),
        search: fold(&format!(
            "{} {} {} {} {}",
            e.id,
            e.title,
            e.abstract_,
            e.keywords.join(" "),
            e.theme
        )),
        rank_id: fold(&e.id),
        rank_title: fold(&e.title),
        rank_keywords: fold(&e.keywords.join("|")),
        featured: crate::services::catalogue::FEATURED.contains(&e.id.as_str()),
        preview: preview(base, e),
        copy_label,
        copy,
        styles: match e.tms.as_ref().filter(|_| e.xyz().is_none()) {
            Some(t) => style_urls(base, &t.id, styles),
            None => Vec::new(),
        },
        placeholder: if e.tms.is_some() {
            "vector tiles"
        } else if e.wfs.is_some() {
            "vector features"
        } else {
            "WMTS tiles"
        },
        qlr: qlr_source(base, e).map(|_| format!("{}.qlr", detail_url(base, e))),
        legend: legend(base, e),
        detail: format!("{}?f=html", detail_url(base, e)),
    }
}

pub async fn kiosk(State(state): State<AppState>, base: BaseUrl) -> Response {
    let entries = state.catalogue.entries();
    let mut themes: Vec<&'static str> = entries.iter().map(|e| e.theme).collect();
    themes.sort_unstable();
    themes.dedup();
    // The vector layers' style pickers: a handful of TileMaps, kept like the tiles.
    let vector: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.xyz().is_none() && vector_urls(&base, e).is_some())
        .collect();
    let styles: std::collections::HashMap<&str, Vec<String>> = futures::future::join_all(
        vector
            .iter()
            .map(|e| async { (e.id.as_str(), style_names(&state, &e.id).await) }),
    )
    .await
    .into_iter()
    .collect();
    let cards = entries
        .iter()
        .filter(|e| {
            e.wmts.is_some()
                || e.wms.is_some()
                || e.wfs.is_some()
                || e.tms.as_ref().is_some_and(|t| t.is_vector())
        })
        .map(|e| {
            card(
                &base,
                e,
                styles.get(e.id.as_str()).map_or(&[], Vec::as_slice),
            )
        })
        .collect();
    let tools = state
        .processes
        .list()
        .iter()
        .map(|p| {
            let href = base.join(&format!("/processes/{}?f=html", p.id));
            (p.title.to_string(), href)
        })
        .collect();
    let wmts = state.basemaps.capabilities().current();
    let provenance = (wmts.source == crate::services::capabilities::Source::Embedded).then(|| {
        format!(
            "catalogue of {} (built in), refreshing from the Géoplateforme…",
            wmts.fetched_at
                .map(crate::rfc3339::format)
                .map(|t| t.get(..10).unwrap_or(&t).to_string())
                .unwrap_or_default()
        )
    });
    let page = Kiosk {
        home: base.join("/"),
        themes,
        layers: cards,
        tools,
        provenance,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(format!("the kiosk failed to render: {e}")).into_response(),
    }
}

/// QGIS's "Load connections" files (Data Source Manager → a provider's tab → Load), through the
/// gateway, named as the QGIS plugin names the same connections (doing both makes no duplicates).
/// QGIS reads one kind of connection per file, chosen by `type`: `xyz` (the default: the
/// featured basemaps as XYZ), `wms` (the WMTS and the WMS, both in QGIS's WMS/WMTS tab), `wfs` (the
/// OGC API – Features connection, in QGIS's WFS / OGC API – Features tab), `vectortile` (every
/// vector layer of the TMS with its default IGN style, in QGIS's Vector Tiles tab: a layer added
/// from such a connection gets the style).
fn connections_xml(state: &AppState, base: &BaseUrl, kind: &str) -> Result<Response, ApiError> {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut xml = String::from("<!DOCTYPE connections>\n");
    match kind {
        "" | "xyz" => {
            xml.push_str("<qgsXYZTilesConnections version=\"1.0\">\n");
            let layers = state.basemaps.layers();
            for l in layers.iter().filter(|l| {
                l.is_xyz() && crate::services::catalogue::FEATURED.contains(&l.id.as_str())
            }) {
                let (lo, hi) = l.zoom_range().unwrap_or((0, 19));
                xml.push_str(&format!(
                    "  <xyztiles name=\"{} — IGN\" url=\"{}\" zmin=\"{lo}\" zmax=\"{hi}\" authcfg=\"\" username=\"\" password=\"\" referer=\"\" tilePixelRatio=\"0\"/>\n",
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
                    "Géoplateforme (geopf-gateway)",
                    base.join("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
                ),
                (
                    "Géoplateforme WMS-Raster (geopf-gateway)",
                    base.join("/wms"),
                ),
            ] {
                xml.push_str(&format!(
                    "  <wms name=\"{}\" url=\"{}\" ignoreGetMapURI=\"false\" ignoreGetFeatureInfoURI=\"false\" ignoreAxisOrientation=\"false\" invertAxisOrientation=\"false\" smoothPixmapTransform=\"false\" dpiMode=\"7\" username=\"\" password=\"\"/>\n",
                    esc(name),
                    esc(&url)
                ));
            }
            xml.push_str("</qgsWMSConnections>\n");
        }
        "vectortile" => {
            xml.push_str("<qgsVectorTileConnections version=\"1.0\">\n");
            let catalogue = state.catalogue.entries();
            for e in catalogue.iter() {
                if let (None, Some((tiles, style))) = (e.xyz(), vector_urls(base, e)) {
                    xml.push_str(&format!(
                        "  <vectortile name=\"{} (vector) — IGN\" url=\"{}\" zmin=\"0\" zmax=\"18\" serviceType=\"\" styleUrl=\"{}\" authcfg=\"\" username=\"\" password=\"\" referer=\"\"/>\n",
                        esc(&e.title),
                        esc(&tiles),
                        esc(&style),
                    ));
                }
            }
            xml.push_str("</qgsVectorTileConnections>\n");
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
                format!("{other:?} is not xyz, wms, wfs or vectortile"),
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

/// How a layer is added to QGIS through the gateway: vector tiles, XYZ tiles, the WMTS (another
/// matrix set), the WMS, else the OGC API collection. `(provider, layer type, data source, CRS)`.
pub(crate) fn qlr_source(
    base: &BaseUrl,
    e: &Entry,
) -> Option<(&'static str, &'static str, String, &'static str)> {
    let enc = |v: &str| percent_encoding::utf8_percent_encode(v, QGIS_URI_VALUE).to_string();
    if let (None, Some((tiles, style))) = (e.xyz(), vector_urls(base, e)) {
        // A vector tile layer with the layer's default IGN style ("xyzvectortiles": the provider
        // key of QGIS 3.40, which 3.22 reads too).
        let source = format!(
            "styleUrl={}&type=xyz&url={}&zmax=18&zmin=0",
            enc(&style),
            enc(&tiles)
        );
        return Some(("xyzvectortiles", "vector-tile", source, "EPSG:3857"));
    }
    if let Some(l) = e.xyz() {
        let (lo, hi) = l.zoom_range().unwrap_or((0, 19));
        let source = format!(
            "type=xyz&url={}&zmax={hi}&zmin={lo}",
            enc(&xyz_url(base, l))
        );
        return Some(("wms", "raster", source, "EPSG:3857"));
    }
    if let Some((l, crs)) = e.wmts.as_ref().and_then(|l| Some((l, l.crs()?))) {
        // A WMTS layer on another matrix set (WGS84G, LAMB93): QGIS's WMTS client on the
        // republished capabilities (the REST document: QGIS knows it for a WMTS by its name).
        let format = l.formats.first().map_or("image/png", String::as_str);
        let source = format!(
            "contextualWMSLegend=0&crs={crs}&dpiMode=7&featureCount=10&format={}&layers={}&styles={}&tileMatrixSet={}&url={}",
            enc(format),
            enc(&l.id),
            enc(l.default_style()),
            enc(&l.tile_matrix_set),
            enc(&base.join("/wmts/1.0.0/WMTSCapabilities.xml"))
        );
        return Some(("wms", "raster", source, crs));
    }
    if let Some(l) = &e.wms {
        let source = format!(
            "crs=EPSG:3857&format=image/png&layers={}&styles=&url={}",
            enc(&l.name),
            enc(&base.join("/wms"))
        );
        return Some(("wms", "raster", source, "EPSG:3857"));
    }
    e.wfs.as_ref().map(|t| {
        // Only the visible extent is asked (else QGIS pages through the whole collection).
        let source = format!(
            "url='{}' typename='{}' restrictToRequestBBOX='1'",
            base.join("/").replace('\'', "%27"),
            t.name.replace('\'', "\\'")
        );
        ("OAPIF", "vector", source, "EPSG:4326")
    })
}

/// A QGIS layer definition adding the layer through the gateway; `renderer`, a vector tile
/// layer's symbology (see [`super::qgis_renderer`]).
fn qlr(base: &BaseUrl, e: &Entry, renderer: Option<&str>) -> Option<String> {
    let (provider, kind, source, crs) = qlr_source(base, e)?;
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    Some(format!(
        r#"<!DOCTYPE qgis-layer-definition>
<qlr>
  <layer-tree-group expanded="1" checked="Qt::Checked" name="">
    <layer-tree-layer expanded="1" checked="Qt::Checked" id="{id}" name="{title}" source="{source}" providerKey="{provider}"/>
  </layer-tree-group>
  <maplayers>
    <maplayer type="{kind}" hasScaleBasedVisibilityFlag="0">
      <id>{id}</id>
      <datasource>{source}</datasource>
      <layername>{title}</layername>
      <srs>{srs}</srs>
      <provider>{provider}</provider>{renderer}
    </maplayer>
  </maplayers>
</qlr>
"#,
        id = esc(&e.id),
        title = esc(&e.title),
        source = esc(&source),
        srs = spatialrefsys(crs),
        renderer = renderer.unwrap_or_default(),
    ))
}

/// A `<spatialrefsys>` QGIS 3.22 and 3.40 read as a valid CRS: an `authid` alone is not enough
/// (the layer loads with an invalid CRS and its tiles land in the wrong place in a Lambert-93
/// project); the PROJ string is what they rebuild it from.
fn spatialrefsys(authid: &str) -> String {
    let (srid, proj4, description, geographic) = match authid {
        "EPSG:4326" => (4326, "+proj=longlat +datum=WGS84 +no_defs", "WGS 84", true),
        "EPSG:2154" => (
            2154,
            "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
            "RGF93 v1 / Lambert-93",
            false,
        ),
        _ => (
            3857,
            "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs",
            "WGS 84 / Pseudo-Mercator",
            false,
        ),
    };
    format!(
        "<spatialrefsys><proj4>{proj4}</proj4><srid>{srid}</srid><authid>EPSG:{srid}</authid><description>{description}</description><geographicflag>{geographic}</geographicflag></spatialrefsys>"
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
    if id == "metasearch-connections.xml" {
        return Ok(super::records::metasearch_connections(&base));
    }
    let (id, as_qlr) = match id.strip_suffix(".qlr") {
        Some(i) => (i.to_string(), true),
        None => (id, false),
    };
    let e = state.catalogue.get(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no layer {id:?} in the catalogue (see /catalog.json)"
        ))
    })?;
    if as_qlr {
        // A vector layer comes with its default IGN style drawn as QGIS symbols (QGIS applies no
        // style URL from a layer definition); without the style at hand, QGIS's default style.
        let renderer = match e.tms.as_ref().filter(|t| t.is_vector()) {
            Some(t) => match state.tms.style(&t.id, "default").await {
                Ok(style) => Some(super::qgis_renderer::renderer(&style).0),
                Err(err) => {
                    tracing::warn!(layer = %t.id, error = %err, "a vector layer definition without its style");
                    None
                }
            },
            None => None,
        };
        let text = qlr(&base, &e, renderer.as_deref()).ok_or_else(|| {
            ApiError::not_found(format!(
                "{id} is published neither in WebMercator nor by the WMS or WFS"
            ))
        })?;
        let mut r = text.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-qgis-layer-definition"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"{}.qlr\"",
            id.replace(['"', '/', '\\', ':'], "_")
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        return Ok(r);
    }
    let doc = entry(&base, &e);
    // A feature type's page lists its fields (its schema, cached; the page still shows without it).
    let fields = match (&e.wfs, format) {
        (Some(t), Format::Html) => Some(state.wfs.schema(&t.name).await),
        _ => None,
    };
    let styles = match (e.tms.as_ref().filter(|t| t.is_vector()), format) {
        (Some(t), Format::Html) => style_names(&state, &t.id).await,
        _ => Vec::new(),
    };
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = detail_page(&base, &e, &styles);
        match fields {
            Some(Ok(fields)) => page.tables.push(fields_table(&fields)),
            Some(Err(e)) => page.note = Some(format!("The fields could not be read: {e}")),
            None => {}
        }
        page
    }))
}

/// The fields of a feature type, as its DescribeFeatureType schema gives them.
fn fields_table(fields: &[crate::catalog::wfs::Property]) -> Table {
    let mut t = Table::new(&format!("{} field(s)", fields.len()), &["field", "type"]);
    for f in fields {
        let kind = match (&f.gml_type, f.kind) {
            (Some(gml), _) => gml.trim_end_matches("PropertyType").to_string(),
            (None, kind) => format!("{kind:?}").to_lowercase(),
        };
        t.rows
            .push(vec![Cell::text(f.name.clone()), Cell::text(kind)]);
    }
    t
}

/// The HTML page of one layer: a pannable, zoomable map (its XYZ tiles, else its WMS) around the
/// middle of its extent over France — a 3×3 tile mosaic (or one WMS map) without scripts —, then
/// what the catalogue knows and the ways to add it.
fn detail_page(base: &BaseUrl, e: &Entry, styles: &[String]) -> Page {
    let mut p = Page::new(base, e.title.clone(), e.abstract_.clone());
    let assets = base.join("/assets");
    if let Some(layer) = e.xyz() {
        for dy in -1..=1 {
            for dx in -1..=1 {
                p.preview.push(preview_tile(base, e, layer, dx, dy));
            }
        }
        let zooms = layer.zoom_range().unwrap_or((0, 19));
        p.map = Some(MapView::xyz(
            assets,
            &xyz_url(base, layer),
            centre(e),
            preview_zoom(layer),
            zooms,
        ));
    } else if let Some((_, default)) = vector_urls(base, e) {
        let mut choices = style_urls(base, &e.id, styles);
        if choices.is_empty() {
            choices.push(("default".into(), default));
        }
        p.map = Some(MapView::vector(assets, choices, centre(e), VECTOR_ZOOM));
    } else if let Some(l) = &e.wms {
        p.preview.push(wms_map(base, e, l, 384));
        p.map = Some(MapView::wms(
            assets,
            &base.join("/wms"),
            &l.name,
            centre(e),
            wms_zoom(l),
        ));
    }
    let mut t = Table::new("", &["", ""]);
    for (k, v) in [
        ("id", e.id.clone()),
        ("theme", e.theme.into()),
        ("services", e.services().join(", ")),
        ("keywords", e.keywords.join(", ")),
    ] {
        t.rows.push(vec![Cell::text(k), Cell::text(v)]);
    }
    if let Some(l) = e.xyz() {
        let (lo, hi) = l.zoom_range().unwrap_or((0, 0));
        t.rows.push(vec![
            Cell::text("zoom"),
            Cell::text(format!("{lo} to {hi}")),
        ]);
        t.rows
            .push(vec![Cell::text("XYZ"), Cell::text(xyz_url(base, l))]);
    }
    if e.wms.is_some() {
        t.rows.push(vec![
            Cell::text("WMS"),
            Cell::link(
                base.join("/wms"),
                base.join("/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
            ),
        ]);
    }
    if let Some(url) = collection_url(base, e) {
        t.rows.push(vec![
            Cell::text("OGC API collection"),
            Cell::link(url.clone(), format!("{url}?f=html")),
        ]);
    }
    if let Some(crs) = e.wfs.as_ref().and_then(|t| t.default_crs.clone()) {
        t.rows.push(vec![Cell::text("CRS"), Cell::text(crs)]);
    }
    if let Some(b) = e.bbox {
        t.rows.push(vec![
            Cell::text("extent (WGS 84)"),
            Cell::text(format!(
                "{:.4}, {:.4}, {:.4}, {:.4}",
                b.min_lon, b.min_lat, b.max_lon, b.max_lat
            )),
        ]);
    }
    if let Some(legend) = legend(base, e) {
        t.rows
            .push(vec![Cell::text("legend"), Cell::link("legend", legend)]);
    }
    if qlr_source(base, e).is_some() {
        t.rows.push(vec![
            Cell::text("QGIS"),
            Cell::link(".qlr", format!("{}.qlr", detail_url(base, e))),
        ]);
    }
    p.tables.push(t);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wms_preview_is_drawn_at_a_scale_the_layer_shows() {
        let mut layer = WmsLayer::default();
        assert_eq!(wms_zoom(&layer), 6, "no scale range: France on a few tiles");
        // LiDAR HD: 1:0.02 to 1:2 511 — only the closest levels.
        layer.max_scale = Some(2511.16);
        assert_eq!(wms_zoom(&layer), 18);
        layer.max_scale = Some(8_735_660.4);
        layer.min_scale = Some(8530.9);
        assert_eq!(wms_zoom(&layer), 6);
    }
}
