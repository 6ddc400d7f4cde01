//! The `geopf-gateway` command: `serve` and `check-config`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use geopf_gateway::config::{Config, Overrides};
use tracing_subscriber::EnvFilter;

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
