//! `geopf-gateway seed`: the command line around [`geopf_gateway::seed`], with a progress bar.

use std::{process::ExitCode, time::Duration};

use geopf_gateway::{
    catalog::wmts::WmtsLayer,
    seed::{self, SeedArea},
    AppState,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::SeedArgs;

/// A tile's size when the disk store has none to go by (IGN's PNG and JPEG tiles weigh
/// 10–40 kB).
const TYPICAL_TILE_BYTES: u64 = 20 * 1024;

pub fn main(args: SeedArgs) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("geopf-gateway seed: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: SeedArgs) -> Result<ExitCode, String> {
    let bbox = seed::parse_bbox(&args.bbox).map_err(|e| format!("--bbox: {e}"))?;
    let zooms = seed::parse_zooms(&args.zoom).map_err(|e| format!("--zoom: {e}"))?;
    let config = super::config(args.config.config, args.upstream, args.cache_dir)?;
    let concurrency = config.upstream.max_tile_fetches;
    super::runtime()?.block_on(async move {
        let state = AppState::new(config).map_err(|e| e.to_string())?;
        if state.basemaps.capabilities().wants_upstream() {
            // Every capabilities document on disk: the kiosk complete offline.
            for (name, kept) in seed::keep_catalogue(&state).await {
                if let Err(e) = kept {
                    eprintln!("geopf-gateway seed: the {name} capabilities could not be read ({e}); the copy on disk, if any, stays");
                }
            }
            if state.basemaps.layers().is_empty() {
                return Err("the WMTS capabilities could not be read".into());
            }
        }
        let area = SeedArea { bbox, zooms };
        let mut failed = false;
        for id in &args.layers {
            let plan = plan(&state, id, args.format.as_deref())?;
            let total = plan.tiles(&area).count() as u64;
            if args.dry_run {
                let per_tile = state
                    .basemaps
                    .disk()
                    .filter(|d| !d.is_empty())
                    .map_or(TYPICAL_TILE_BYTES, |d| d.size() / d.len() as u64);
                println!(
                    "{id}: {total} tiles at zoom {}-{}, about {:.1} MB ({} kB a tile)",
                    area.zooms.start(),
                    area.zooms.end(),
                    (total * per_tile) as f64 / 1e6,
                    per_tile / 1024
                );
                continue;
            }
            let bar = progress_bar(id, total);
            let report = |t: &seed::Tally| {
                bar.set_position(t.done());
                if t.failed > 0 {
                    bar.set_message(format!("{} failed", t.failed));
                }
            };
            let tiles = plan.tiles(&area);
            let tally = match &plan {
                Plan::Raster { layer, media } => {
                    let seed_one = |(z, x, y)| state.basemaps.seed_tile(layer, z, x, y, media);
                    seed::run(tiles, concurrency, seed_one, report).await
                }
                Plan::Vector => {
                    let seed_one = |(z, x, y)| state.tms.seed_tile(id, z, x, y);
                    seed::run(tiles, concurrency, seed_one, report).await
                }
            };
            bar.finish_and_clear();
            println!(
                "{id}: {total} tiles: {} fetched ({:.1} MB), {} already on disk, {} failed",
                tally.fetched,
                tally.bytes as f64 / 1e6,
                tally.already_on_disk,
                tally.failed
            );
            if let Some(e) = tally.last_error {
                eprintln!("{id}: last error: {e}");
                failed = true;
            }
            if matches!(plan, Plan::Vector) {
                let styles = seed::vector_styles(&state, id, concurrency).await;
                println!(
                    "{id}: {} styles, {} TileJSON, sprite sheets and glyph ranges kept ({} not published upstream), {} failed",
                    styles.styles, styles.resources, styles.not_published, styles.failed
                );
                if let Some(e) = styles.last_error {
                    eprintln!("{id}: last error: {e}");
                    failed = true;
                }
            }
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// What seeding a layer means: a raster basemap in one of its formats, or a vector tile layer
/// (its tiles, then its styles with their sprites and glyphs).
enum Plan {
    Raster {
        layer: Box<WmtsLayer>,
        media: &'static str,
    },
    Vector,
}

impl Plan {
    fn tiles<'a>(&'a self, area: &'a SeedArea) -> Box<dyn Iterator<Item = (u32, u64, u64)> + 'a> {
        match self {
            Plan::Raster { layer, .. } => Box::new(seed::tiles(layer, area)),
            Plan::Vector => Box::new(seed::area_tiles(area)),
        }
    }
}

fn plan(state: &AppState, id: &str, format: Option<&str>) -> Result<Plan, String> {
    if let Some(layer) = state.basemaps.layer(id).filter(|l| l.is_xyz()) {
        let layer = (*layer).clone();
        let media = match format {
            Some("png") => "image/png",
            Some("jpeg" | "jpg") => "image/jpeg",
            Some(other) => return Err(format!("--format: {other:?} is not png or jpeg")),
            None if layer.formats.iter().any(|f| f == "image/png") => "image/png",
            None => "image/jpeg",
        };
        if !layer.formats.iter().any(|f| f == media) {
            return Err(format!(
                "--format: {id} is published as {}",
                layer.formats.join(", ")
            ));
        }
        return Ok(Plan::Raster {
            layer: Box::new(layer),
            media,
        });
    }
    if state.tms.is_vector_layer(id) {
        return match format {
            None | Some("pbf" | "mvt") => Ok(Plan::Vector),
            Some(other) => Err(format!(
                "--format: {id} is a vector tile layer, not {other}"
            )),
        };
    }
    Err(format!(
        "--layer: {id:?} is neither a WebMercator basemap of the catalogue nor a vector tile layer of the TMS"
    ))
}

fn progress_bar(id: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} tiles, {per_sec}, eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(id.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
