//! The `geopf-gateway` command: `serve`, `seed`, `check-config` and `health`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use geopf_gateway::config::{Config, Overrides};
use tracing_subscriber::EnvFilter;

/// mimalloc: many small allocations per request (headers, futures, log lines) cost less than with
/// glibc's allocator (benches/load.sh §2b measures the cached-tile path).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "geopf-gateway",
    version,
    about = "IGN's Géoplateforme through OGC API Features and Processes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    Serve(ServeArgs),
    /// Fill the disk tile cache with basemap tiles over an area, before going offline. Resumable:
    /// tiles already fresh on disk are skipped.
    Seed(SeedArgs),
    /// Print the effective configuration (secrets masked); exit non-zero if it is invalid.
    CheckConfig(ConfigArgs),
    /// Ask a running gateway whether it is alive (exit 0) or not (exit 1); for container health checks.
    Health {
        /// The gateway's /health URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

#[derive(Args)]
struct ConfigArgs {
    /// A TOML file overriding config/default.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (server.listen), e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Base URL of the Géoplateforme (upstream.base_url).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Folder of the disk cache (cache.dir).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Args)]
struct SeedArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// A basemap id from the catalogue (/catalog.json); repeat for several.
    #[arg(long = "layer", value_name = "ID", required = true)]
    layers: Vec<String>,
    /// The area: west,south,east,north in WGS84 degrees.
    #[arg(long, value_name = "W,S,E,N", allow_hyphen_values = true)]
    bbox: String,
    /// Zoom levels: "10-15" or "12" (cut to each layer's own range).
    #[arg(long, value_name = "LEVELS")]
    zoom: String,
    /// png or jpeg (default: the layer's own, png when it has both).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Print the tile count and an estimated size, fetch nothing.
    #[arg(long)]
    dry_run: bool,
    /// Base URL of the Géoplateforme (upstream.base_url).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Folder of the disk cache (cache.dir).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn health(url: &str) -> ExitCode {
    let check = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        client.get(url).send().await?.error_for_status().map(|_| ())
    };
    let ok = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(check).is_ok())
        .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("geopf-gateway: {url} does not answer");
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (overrides, serve) = match cli.command {
        Command::Health { url } => return health(&url),
        Command::Seed(args) => return seed::main(args),
        Command::CheckConfig(args) => (
            Overrides {
                config_file: args.config,
                ..Overrides::default()
            },
            false,
        ),
        Command::Serve(args) => (
            Overrides {
                config_file: args.config.config,
                listen: args.listen,
                upstream: args.upstream,
                cache_dir: args.cache_dir,
            },
            true,
        ),
    };
    let config = match Config::load(&overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("geopf-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    if !serve {
        println!("{}", config.to_masked_json());
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("geopf-gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(geopf_gateway::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("geopf-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

mod seed {
    //! `geopf-gateway seed`: the command line around [`geopf_gateway::seed`], with a progress bar.

    use std::{process::ExitCode, time::Duration};

    use geopf_gateway::{
        config::{Config, Overrides},
        seed::{self, SeedArea},
        AppState,
    };
    use indicatif::{ProgressBar, ProgressStyle};

    use super::SeedArgs;

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
        let config = Config::load(&Overrides {
            config_file: args.config.config,
            upstream: args.upstream,
            cache_dir: args.cache_dir,
            ..Overrides::default()
        })
        .map_err(|e| e.to_string())?;
        super::init_logging(&config);
        let concurrency = config.upstream.max_tile_fetches;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime.block_on(async move {
            let state = AppState::new(config).map_err(|e| e.to_string())?;
            let basemaps = &state.basemaps;
            if basemaps.layers().is_empty() {
                basemaps
                    .refresh()
                    .await
                    .map_err(|e| format!("the WMTS capabilities could not be read: {e}"))?;
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
}
