//! The commands beside `serve`: their argument handling and output (the work is in the library).

pub mod adapters;
pub mod catalog;
pub mod seed;

use std::path::PathBuf;

use geopf_gateway::config::{Config, Overrides};

/// The configuration of a command, with its logging set up.
fn config(
    file: Option<PathBuf>,
    upstream: Option<String>,
    cache_dir: Option<PathBuf>,
) -> Result<Config, String> {
    let config = Config::load(&Overrides {
        config_file: file,
        upstream,
        cache_dir,
        ..Overrides::default()
    })
    .map_err(|e| e.to_string())?;
    crate::init_logging(&config);
    Ok(config)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}
