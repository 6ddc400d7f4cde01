//! Seeding (`geopf-gateway seed`), like MapProxy's seeder: fills the disk tile store with a layer's
//! tiles over an area and a zoom range before going offline — raster basemaps, or vector tiles with
//! everything their styles need (the styles, sprites and glyphs) — and keeps every capabilities
//! document on disk, so that the catalogue is complete offline. Tiles already fresh on disk are
//! skipped, so an interrupted run resumes where it stopped; upstream requests stay behind
//! `upstream.max_tile_fetches`, as the server's do.

use std::{future::Future, ops::RangeInclusive};

use futures::StreamExt;

use crate::{
    catalog::wmts::WmtsLayer,
    geo::{tile_of, Bbox},
    services::{tms, ServiceError},
    AppState,
};

/// Where and how deep to seed.
#[derive(Debug, Clone)]
pub struct SeedArea {
    pub bbox: Bbox,
    pub zooms: RangeInclusive<u32>,
}

/// The deepest WebMercator level the Géoplateforme serves.
pub const MAX_ZOOM: u32 = 21;

/// `10-15` or `12`.
pub fn parse_zooms(text: &str) -> Result<RangeInclusive<u32>, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .ok_or_else(|| format!("{t:?} is not a zoom level from 0 to {MAX_ZOOM}"))
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(text)?, number(text)?),
    };
    if lo > hi {
        return Err(format!("{text:?}: the first zoom level is above the last"));
    }
    Ok(lo..=hi)
}

/// `west,south,east,north` in WGS84 degrees.
pub fn parse_bbox(text: &str) -> Result<Bbox, String> {
    crate::geo::parse_wgs84_bbox(text)
}

/// The WebMercator tiles (XYZ numbering) of the area, level by level, row by row.
pub fn area_tiles(area: &SeedArea) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
    let b = area.bbox;
    area.zooms.clone().flat_map(move |z| {
        let (x0, y0) = tile_of(b.min_lon, b.max_lat, z);
        let (x1, y1) = tile_of(b.max_lon, b.min_lat, z);
        (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (z, x, y)))
    })
}

/// The tiles of `layer` in the area, level by level, row by row (only those inside the layer's
/// tile matrix limits).
pub fn tiles<'a>(
    layer: &'a WmtsLayer,
    area: &'a SeedArea,
) -> impl Iterator<Item = (u32, u64, u64)> + 'a {
    area_tiles(area).filter(|(z, x, y)| layer.has_tile(*z, *x, *y))
}

/// What a run did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub fetched: u64,
    pub already_on_disk: u64,
    pub failed: u64,
    pub bytes: u64,
    pub last_error: Option<String>,
}

impl Tally {
    pub fn done(&self) -> u64 {
        self.fetched + self.already_on_disk + self.failed
    }
}

/// Seeds `tiles`, `concurrency` at a time, each with `seed_one` (the bytes fetched, or `None` when
/// a fresh copy was on disk); `progress` sees the tally after every tile.
pub async fn run<F, Fut>(
    tiles: impl Iterator<Item = (u32, u64, u64)>,
    concurrency: usize,
    seed_one: F,
    mut progress: impl FnMut(&Tally),
) -> Tally
where
    F: Fn((u32, u64, u64)) -> Fut,
    Fut: Future<Output = Result<Option<usize>, ServiceError>>,
{
    let mut tally = Tally::default();
    let mut results = futures::stream::iter(tiles)
        .map(seed_one)
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        match result {
            Ok(Some(bytes)) => {
                tally.fetched += 1;
                tally.bytes += bytes as u64;
            }
            Ok(None) => tally.already_on_disk += 1,
            Err(e) => {
                tally.failed += 1;
                tally.last_error = Some(e.to_string());
            }
        }
        progress(&tally);
    }
    tally
}

/// Refreshes every capabilities document the catalogue is made of (WMTS, WMS, WFS, TMS), each
/// kept on disk as it is read: the kiosk is complete offline. Returns each document's name and
/// its layer count, or why it could not be read (the one on disk, if any, stays).
pub async fn keep_catalogue(state: &AppState) -> Vec<(&'static str, Result<usize, ServiceError>)> {
    let (wmts, wms, wfs, tms) = tokio::join!(
        state.basemaps.refresh(),
        state.wms.refresh(),
        state.wfs.refresh(),
        state.tms.refresh(),
    );
    vec![("WMTS", wmts), ("WMS", wms), ("WFS", wfs), ("TMS", tms)]
}

/// What seeding a vector layer's styles did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StyleTally {
    pub styles: u64,
    /// The TileJSON, sprite sheets and glyph ranges kept on disk.
    pub resources: u64,
    /// Resources the Géoplateforme does not publish (a glyph range no text uses, say).
    pub not_published: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

/// Keeps on disk vector layer `id`'s TileJSON, every style its TileMap lists, and each style's
/// sprite sheets and glyph ranges ([`tms::style_resources`]), `concurrency` at a time.
pub async fn vector_styles(state: &AppState, id: &str, concurrency: usize) -> StyleTally {
    let mut tally = StyleTally::default();
    let styles = match state.tms.styles(id).await {
        Ok(s) => s,
        Err(e) => {
            tally.failed += 1;
            tally.last_error = Some(format!("{id}'s TileMap: {e}"));
            return tally;
        }
    };
    match state.tms.tilejson(id).await {
        Ok(_) => tally.resources += 1,
        Err(ServiceError::NotFound(_)) => tally.not_published += 1,
        Err(e) => {
            tally.failed += 1;
            tally.last_error = Some(format!("{id}'s TileJSON: {e}"));
        }
    }
    let upstream = state.config.upstream.base_url.as_str();
    let upstreams = [tms::GEOPF, upstream];
    let mut paths = std::collections::BTreeSet::new();
    for (name, _) in styles.iter() {
        match state.tms.style(id, name).await {
            Ok(style) => {
                tally.styles += 1;
                paths.extend(tms::style_resources(&style, &upstreams));
            }
            Err(e) => {
                tally.failed += 1;
                tally.last_error = Some(format!("style {name}: {e}"));
            }
        }
    }
    let mut results = futures::stream::iter(paths)
        .map(|path| async move {
            let request = state
                .mirror
                .request(path.trim_start_matches('/'), Vec::new(), None)
                .ok_or_else(|| {
                    format!("{path}: not a path the mirror leads to (mirror.prefixes)")
                })?;
            match state.mirror.get(request).await {
                Ok(_) => Ok(true),
                Err(ServiceError::NotFound(_)) => Ok(false),
                Err(e) => Err(format!("{path}: {e}")),
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = results.next().await {
        match result {
            Ok(true) => tally.resources += 1,
            Ok(false) => tally.not_published += 1,
            Err(e) => {
                tally.failed += 1;
                tally.last_error = Some(e);
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_ranges_and_boxes() {
        assert_eq!(parse_zooms("10-15"), Ok(10..=15));
        assert_eq!(parse_zooms("12"), Ok(12..=12));
        assert!(parse_zooms("15-10").is_err());
        assert!(parse_zooms("3-99").is_err());
        assert!(parse_zooms("x").is_err());
        let b = parse_bbox("3.85,43.58,3.92,43.63").unwrap();
        assert_eq!((b.min_lon, b.max_lat), (3.85, 43.63));
        assert!(parse_bbox("3.92,43.58,3.85,43.63").is_err(), "west > east");
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("1,2,3,95").is_err());
    }

    #[test]
    fn tiles_cover_the_box_within_the_layer_limits() {
        let mut layer = WmtsLayer {
            tile_matrix_set: "PM_0_19".into(),
            ..WmtsLayer::default()
        };
        for z in 0..=19u32 {
            let n = (1u64 << z) - 1;
            layer.limits.insert(z, (0, n, 0, n));
        }
        let area = SeedArea {
            bbox: parse_bbox("3.85,43.58,3.92,43.63").unwrap(),
            zooms: 0..=12,
        };
        let all: Vec<_> = tiles(&layer, &area).collect();
        assert_eq!(all[0], (0, 0, 0));
        // Montpellier at zoom 12: x 2091..=2092, y 1495..=1496.
        let z12: Vec<_> = all.iter().filter(|t| t.0 == 12).collect();
        assert_eq!(z12.len(), 4, "{z12:?}");
        assert!(z12.contains(&&(12, 2091, 1495)));
        // Limits cut the count: the layer stops at zoom 10.
        layer.limits.retain(|z, _| *z <= 10);
        assert!(tiles(&layer, &area).all(|t| t.0 <= 10));
    }
}
