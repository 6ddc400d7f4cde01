//! `geopf-gateway seed`: the command line around [`geopf_gateway::seed`], with a progress bar.

use std::{process::ExitCode, time::Duration};

use geopf_gateway::{
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
        let basemaps = &state.basemaps;
        if basemaps.capabilities().wants_upstream() {
            if let Err(e) = basemaps.refresh().await {
                if basemaps.layers().is_empty() {
                    return Err(format!("the WMTS capabilities could not be read: {e}"));
                }
                eprintln!("geopf-gateway seed: the WMTS capabilities could not be read ({e}); the embedded catalogue is used");
            }
        }
        let mut failed = false;
        for id in &args.layers {
            let layer = basemaps.layer(id).filter(|l| l.is_xyz()).ok_or_else(|| {
                format!("--layer: {id:?} is not a WebMercator basemap of the catalogue")
            })?;
            let media = match args.format.as_deref() {
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
            let area = SeedArea {
                bbox,
                zooms: zooms.clone(),
            };
            let total = seed::tiles(&layer, &area).count() as u64;
            if args.dry_run {
                let per_tile = basemaps
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
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} tiles, {per_sec}, eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(id.clone());
            bar.enable_steady_tick(Duration::from_millis(200));
            let tally = seed::run(basemaps, &layer, media, &area, concurrency, |t| {
                bar.set_position(t.done());
                if t.failed > 0 {
                    bar.set_message(format!("{} failed", t.failed));
                }
            })
            .await;
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
        }
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}
