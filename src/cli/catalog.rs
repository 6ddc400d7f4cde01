//! `geopf-gateway catalog`: the catalogue on the command line — from the snapshot on disk (what a
//! gateway on that cache folder would serve), or asked of the upstream with `--refresh`.

use std::process::ExitCode;

use geopf_gateway::{services::catalogue::THEMES, AppState};
use serde_json::json;

use crate::CatalogArgs;

pub fn main(args: CatalogArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("geopf-gateway catalog: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: CatalogArgs) -> Result<(), String> {
    if let Some(t) = args.theme.as_deref().filter(|t| !THEMES.contains(t)) {
        return Err(format!(
            "--theme: {t:?} is not one of {}",
            THEMES.join(", ")
        ));
    }
    if let Some(s) = args
        .service
        .as_deref()
        .filter(|s| !["wmts", "wms", "wfs"].contains(s))
    {
        return Err(format!("--service: {s:?} is not wmts, wms or wfs"));
    }
    let config = super::config(args.config.config, args.upstream, args.cache_dir)?;
    super::runtime()?.block_on(async move {
        let state = AppState::new(config).map_err(|e| e.to_string())?;
        let mut errors = Vec::new();
        if args.refresh || state.basemaps.capabilities().wants_upstream() {
            if let Err(e) = state.basemaps.refresh().await {
                errors.push(format!("WMTS: {e}"));
            }
        }
        if args.refresh || state.wms.capabilities().wants_upstream() {
            if let Err(e) = state.wms.refresh().await {
                errors.push(format!("WMS: {e}"));
            }
        }
        if args.refresh || state.wfs.capabilities().wants_upstream() {
            if let Err(e) = state.wfs.refresh().await {
                errors.push(format!("WFS: {e}"));
            }
        }
        for e in &errors {
            eprintln!("geopf-gateway catalog: {e}");
        }
        let words: Vec<String> = args
            .q
            .unwrap_or_default()
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let entries = state.catalogue.entries();
        if entries.is_empty() {
            return Err("no catalogue: no snapshot on disk and the upstream did not answer".into());
        }
        let found = entries
            .iter()
            .filter(|e| e.matches(&words, args.theme.as_deref(), args.service.as_deref()));
        if args.json {
            let layers: Vec<_> = found
                .map(|e| {
                    json!({
                        "id": e.id,
                        "title": e.title,
                        "theme": e.theme,
                        "services": e.services(),
                        "bbox": e.bbox.map(|b| [b.min_lon, b.min_lat, b.max_lon, b.max_lat]),
                        "zoom": e.xyz().and_then(|l| l.zoom_range()),
                    })
                })
                .collect();
            println!("{}", json!({ "layers": layers }));
        } else {
            for e in found {
                println!(
                    "{}\t{}\t{}\t{}",
                    e.id,
                    e.services().join(","),
                    e.theme,
                    e.title
                );
            }
        }
        Ok(())
    })
}
