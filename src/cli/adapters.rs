//! `geopf-gateway adapters check [DIR]`: the adapter files as the gateway would load them, each
//! named with what it adds or with the key and reason of what is wrong.

use std::{path::PathBuf, process::ExitCode};

use geopf_gateway::{
    config::{Config, Overrides},
    AppState,
};

pub fn check(dir: Option<PathBuf>, config_file: Option<PathBuf>) -> ExitCode {
    let mut config = match Config::load(&Overrides {
        config_file,
        ..Overrides::default()
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("geopf-gateway adapters check: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = dir {
        if !dir.is_dir() {
            eprintln!(
                "geopf-gateway adapters check: {} is not a folder",
                dir.display()
            );
            return ExitCode::from(2);
        }
        config.adapters.dir = dir.display().to_string();
    }
    // The report is the output: the load's own warnings would say it twice.
    config.log.level = "error".into();
    // Checking files needs no catalogue: the embedded one is not unpacked for it.
    config.catalog.embedded = false;
    crate::init_logging(&config);
    let state = match AppState::new(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("geopf-gateway adapters check: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded = state.adapters.current();
    for a in &loaded.adapters {
        println!("ok     {}  ({} {:?})", a.source, a.id(), a.kind());
    }
    for p in &loaded.problems {
        println!("error  {p}");
    }
    println!(
        "{} adapter(s) usable, {} file(s) with errors",
        loaded.adapters.len(),
        loaded.problems.len()
    );
    if loaded.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
