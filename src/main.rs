//! The `geopf-gateway` command: `serve`, `seed`, `catalog`, `check-config` and `health`.

// No `unwrap` outside tests: a failure becomes an error (problem+json at the edge), never a panic.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use geopf_gateway::config::{Config, Overrides};
use tracing_subscriber::EnvFilter;

mod cli;

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
    /// Print the catalogue (WMTS, WMS and WFS layers): from the snapshot on disk, else the upstream,
    /// else the catalogue embedded in the binary.
    Catalog(CatalogArgs),
    /// Print the effective configuration (secrets masked); exit non-zero if it is invalid.
    CheckConfig(ConfigArgs),
    /// Declarative adapters (TOML files that add a process or a collection).
    Adapters {
        #[command(subcommand)]
        action: AdaptersCommand,
    },
    /// Ask a running gateway whether it is alive (exit 0) or not (exit 1); for container health checks.
    Health {
        /// The gateway's /health URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

#[derive(Subcommand)]
enum AdaptersCommand {
    /// Check adapter files: each file is named with its ids, or with the key and reason of what
    /// is wrong in it. Exits 1 if any file is wrong.
    Check {
        /// A folder of adapter files (default: adapters.dir of the configuration); the shipped
        /// adapters are checked too, as the gateway would load them together.
        dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
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
    /// Serve replayed recordings of the Géoplateforme instead of the real one (server.demo): no
    /// network needed, every answer labelled demo.
    #[arg(long, conflicts_with = "upstream")]
    demo: bool,
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

#[derive(Args)]
struct CatalogArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Words that must all appear in the id, title, abstract or keywords.
    #[arg(long, value_name = "WORDS")]
    q: Option<String>,
    /// Only this theme (ortho, maps, cadastre, administrative, elevation, …).
    #[arg(long)]
    theme: Option<String>,
    /// Only layers offered by this service: wmts, wms or wfs.
    #[arg(long)]
    service: Option<String>,
    /// Ask the upstream now instead of using the snapshot on disk.
    #[arg(long)]
    refresh: bool,
    /// One JSON document instead of tab-separated lines.
    #[arg(long)]
    json: bool,
    /// Base URL of the Géoplateforme (upstream.base_url).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Folder of the disk cache (cache.dir).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// Logs of the server, to stderr in batches written by a thread of their own
/// ([`geopf_gateway::log_writer`]): a request never waits for the terminal, a pipe or journald.
/// The guard writes what is left when dropped, at exit.
fn init_server_logging(config: &Config) -> geopf_gateway::log_writer::FlushGuard {
    let (writer, guard) = geopf_gateway::log_writer::BatchWriter::spawn(std::io::stderr());
    if config.server.demo {
        init_logging_to(config, geopf_gateway::demo::DemoLines(writer));
    } else {
        init_logging_to(config, writer);
    }
    guard
}

/// Logs of a command (seed, catalog, adapters check), written to stderr as they come.
fn init_logging(config: &Config) {
    init_logging_to(config, std::io::stderr);
}

/// The log of the process through `writer`, access lines included (written straight to it).
fn init_logging_to<W>(config: &Config, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    {
        let writer = writer.clone();
        geopf_gateway::http::access_log::install(move |line| {
            use std::io::Write;
            let _ = writer.make_writer().write_all(line);
        });
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
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
        Command::Seed(args) => return cli::seed::main(args),
        Command::Catalog(args) => return cli::catalog::main(args),
        Command::Adapters {
            action: AdaptersCommand::Check { dir, config },
        } => return cli::adapters::check(dir, config.config),
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
                demo: args.demo,
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
    let _log_writer = init_server_logging(&config);
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
