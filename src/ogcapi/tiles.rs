//! The basemaps' tiles: XYZ (`/tiles/{id}/{z}/{x}/{y}.{png|jpeg}`) and the WMTS republished with
//! the gateway's URLs (`/wmts` KVP, `/wmts/1.0.0/…` REST), both through the tile caches.

use axum::{
    extract::{Path, RawQuery, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::ows::{self, Kvp};
use crate::{
    catalog::wmts::WmtsLayer, error::ApiError, http::base_url::BaseUrl,
    services::capabilities::Item, AppState,
};

/// A path segment as a tile number, or a 400 naming it.
fn tile_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| {
        let shown: String = value.chars().take(40).collect();
        ApiError::bad_parameter(name, format!("{shown:?} is not a tile number"))
    })
}

/// `GET /tiles/{id}/{z}/{x}/{y}.{png|jpeg}`, or `.pbf` for a vector tile layer of the TMS.
pub async fn tile(
    State(state): State<AppState>,
    Path((id, z, x, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let z: u32 = tile_number("z", &z)?;
    let x: u64 = tile_number("x", &x)?;
    let (y, format) = file
        .split_once('.')
        .and_then(|(y, f)| Some((y.parse::<u64>().ok()?, f.to_string())))
        .ok_or_else(|| {
            ApiError::bad_parameter("y", format!("{file:?} is not {{y}}.png or {{y}}.jpeg"))
        })?;
    let (tile, origin) = if format == "pbf" {
        state.tms.tile(&id, z, x, y).await?
    } else {
        let layer = state.basemaps.xyz_layer(&id)?;
        state.basemaps.tile(layer, z, x, y, &format).await?
    };
    Ok(ows::image(
        &headers,
        &tile,
        origin.cache_status,
        origin.stale,
    ))
}

/// `GET /styles/{id}/{style}.json`: a vector layer's MapLibre style as the Géoplateforme
/// publishes it, its tiles, sprite and glyphs pointed at the gateway (so that it works through
/// the gateway's caches, and offline once they are filled).
pub async fn style(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    let name = file.strip_suffix(".json").ok_or_else(|| {
        ApiError::not_found(format!(
            "{file:?}: a style is {{name}}.json (e.g. standard.json)"
        ))
    })?;
    let mut style = state.tms.style(&id, name).await?;
    let upstream = state.config.upstream.base_url.as_str();
    crate::services::tms::rewrite_style(
        &mut style,
        &base.0,
        &[crate::services::tms::GEOPF, upstream],
    );
    Ok(json_document(style.to_string()))
}

/// `GET /tiles/{id}/tilejson.json`: a vector layer's TileJSON (its zoom range, bounds, source
/// layers and their fields, as the Géoplateforme publishes them), its tiles at the gateway.
pub async fn tilejson(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    let mut doc = state.tms.tilejson(&id).await?;
    let tiles = base.join(&format!(
        "/tiles/{}/{{z}}/{{x}}/{{y}}.pbf",
        super::features::urlencode(&id)
    ));
    crate::services::tms::rewrite_tilejson(&mut doc, &tiles);
    Ok(json_document(doc.to_string()))
}

/// A JSON document that changes with the upstream's (a style, a TileJSON): cached an hour.
fn json_document(body: String) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            ),
            (
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

fn capabilities_response(state: &AppState, base: &BaseUrl) -> Result<Response, ApiError> {
    let public = format!("{}/wmts", base.0);
    let xml = state
        .basemaps
        .republished_capabilities(&public)
        .ok_or_else(|| ows::not_loaded("WMTS"))?;
    Ok(ows::xml(xml))
}

/// A WMTS GetTile, by KVP or REST.
pub struct GetTile<'a> {
    pub layer: &'a str,
    pub style: &'a str,
    pub tms: &'a str,
    pub z: u32,
    pub row: u64,
    pub col: u64,
    pub format: &'a str,
}

impl<'a> GetTile<'a> {
    /// The GetTile of a KVP query (`REQUEST=GetTile` already known).
    pub fn of_kvp(q: &'a Kvp<'_>) -> Result<Self, ApiError> {
        let z = u32::try_from(q.number("TILEMATRIX")?)
            .map_err(|_| ApiError::bad_parameter("TILEMATRIX", "too large"))?;
        Ok(GetTile {
            layer: q.get("LAYER"),
            style: q.get("STYLE"),
            tms: q.get("TILEMATRIXSET"),
            z,
            row: q.number("TILEROW")?,
            col: q.number("TILECOL")?,
            format: q.get("FORMAT"),
        })
    }

    /// The layer, if the layer, matrix set, style and format are ones this WMTS serves; the
    /// error says which is not.
    pub fn check(&self, state: &AppState) -> Result<Item<WmtsLayer>, ApiError> {
        let layer = self.layer;
        let l = state.basemaps.layer(layer).ok_or_else(|| {
            ApiError::bad_parameter("LAYER", format!("{layer:?} is not a layer of this WMTS"))
        })?;
        self.check_layer(&l)?;
        Ok(l)
    }

    /// Whether layer `l` has the matrix set, style and format asked; the error says which not.
    pub fn check_layer(&self, l: &WmtsLayer) -> Result<(), ApiError> {
        let GetTile {
            layer,
            style,
            tms,
            format,
            ..
        } = *self;
        // "PM", the name countless maps and scripts send to data.geopf.fr (which accepts it), means
        // the layer's WebMercator set (PM_0_19, PM_6_18…).
        let same_set = tms == l.tile_matrix_set || (tms == "PM" && l.is_xyz());
        if !same_set {
            return Err(ApiError::bad_parameter(
                "TILEMATRIXSET",
                format!("{layer} is published on {}, not {tms:?}", l.tile_matrix_set),
            ));
        }
        if !style.is_empty() && style != "default" && !l.styles.iter().any(|s| s.id == style) {
            return Err(ApiError::bad_parameter(
                "STYLE",
                format!("{style:?} is not a style of {layer}"),
            ));
        }
        if !matches!(format, "image/png" | "png" | "image/jpeg" | "jpeg" | "jpg") {
            return Err(ApiError::bad_parameter(
                "FORMAT",
                format!("{format:?} is not image/png or image/jpeg"),
            ));
        }
        Ok(())
    }
}

async fn tile_response(
    state: &AppState,
    headers: &HeaderMap,
    t: GetTile<'_>,
) -> Result<Response, ApiError> {
    let layer = t.check(state)?;
    // Every matrix set of the layer (WebMercator, LAMB93, WGS84G…) through the tile caches.
    let (tile, origin) = state
        .basemaps
        .tile(layer, t.z, t.col, t.row, t.format)
        .await?;
    Ok(ows::image(
        headers,
        &tile,
        origin.cache_status,
        origin.stale,
    ))
}

/// `GET /wmts?SERVICE=WMTS&REQUEST=GetCapabilities|GetTile…` (keys in any case).
pub async fn wmts_kvp(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let q = Kvp::parse(raw.as_deref());
    match q.get("REQUEST").to_ascii_lowercase().as_str() {
        "getcapabilities" => capabilities_response(&state, &base),
        "gettile" => tile_response(&state, &headers, GetTile::of_kvp(&q)?).await,
        other => Err(ApiError::bad_parameter(
            "REQUEST",
            format!("{other:?} is not supported (GetCapabilities, GetTile)"),
        )),
    }
}

/// `GET /wmts/1.0.0/WMTSCapabilities.xml` (REST).
pub async fn wmts_rest_capabilities(
    State(state): State<AppState>,
    base: BaseUrl,
) -> Result<Response, ApiError> {
    capabilities_response(&state, &base)
}

/// `GET /wmts/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}.{ext}` (REST, as the `ResourceURL` says).
pub async fn wmts_rest_tile(
    State(state): State<AppState>,
    Path((layer, style, tms, z, row, file)): Path<(String, String, String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let z: u32 = tile_number("TileMatrix", &z)?;
    let row: u64 = tile_number("TileRow", &row)?;
    let (col, ext) = file
        .split_once('.')
        .and_then(|(c, e)| Some((c.parse::<u64>().ok()?, e.to_string())))
        .ok_or_else(|| {
            ApiError::bad_parameter(
                "TileCol",
                format!("{file:?} is not {{col}}.png or {{col}}.jpeg"),
            )
        })?;
    let t = GetTile {
        layer: &layer,
        style: &style,
        tms: &tms,
        z,
        row,
        col,
        format: &ext,
    };
    tile_response(&state, &headers, t).await
}
