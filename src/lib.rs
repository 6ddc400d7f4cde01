//! geopf-gateway: a local gateway that re-exposes IGN's Géoplateforme (data.geopf.fr) through
//! open standards — OGC API Features and Processes today — with caching, quotas and clear errors.
//!
//! Layers, from the edge inwards (no module imports one above it):
//! `http` → `ogcapi` → `services` → `cache` / `upstream`.

// No `unwrap` outside tests: a failure becomes an error (problem+json at the edge), never a panic.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod adapters;
pub mod cache;
pub mod catalog;
pub mod cluster;
pub mod config;
pub mod cql2;
pub mod demo;
pub mod error;
pub mod geo;
pub mod http;
pub mod jobs;
pub mod log_writer;
pub mod ogcapi;
pub mod rfc3339;
pub mod seed;
pub mod services;
pub mod upstream;

use std::{sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    cache::MemoryCache,
    config::Config,
    jobs::{uploads::Uploads, JobStore},
    services::{
        altimetry::AltimetryService,
        geocode::{collection_specs, CollectionSpec, GeocodeService},
        navigation::NavigationService,
        process::Processes,
        Fetcher,
    },
    upstream::{SharedUpstream, UpstreamClient},
};

/// What every handler can reach: one pointer, cloned for every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub upstream: SharedUpstream,
    pub geocode: Arc<GeocodeService>,
    pub navigation: Arc<NavigationService>,
    pub wfs: Arc<services::wfs::WfsService>,
    pub basemaps: Arc<services::basemaps::Basemaps>,
    pub wms: Arc<services::wms::WmsService>,
    pub tms: Arc<services::tms::TmsService>,
    pub catalogue: Arc<services::catalogue::Catalogue>,
    pub mirror: Arc<services::mirror::Mirror>,
    pub jobs: Arc<JobStore>,
    pub uploads: Arc<Uploads>,
    pub keys: Arc<http::auth::Keys>,
    /// Cluster mode: the replicas' shared state (none: this process only).
    pub cluster: Option<cluster::Cluster>,
    /// The memory cache (shared with the services), for its metrics.
    pub cache: MemoryCache<serde_json::Value>,
    /// The geocoding indexes' collections (served by [`ogcapi::features::GeocodingCollections`]).
    pub geocoding_collections: Arc<Vec<CollectionSpec>>,
    /// The collection providers: every OGC API Features collection comes from one.
    pub collections: ogcapi::collections::Collections,
    pub processes: Processes,
    /// The declarative adapters in force (a process and a collection provider, reloadable).
    pub adapters: Arc<adapters::AdapterSet>,
    pub readiness: Arc<ogcapi::common::Readiness>,
    /// The peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: http::base_url::TrustedProxies,
}

impl AppState {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        http::observe::recorder();
        let cluster = cluster::Cluster::from_config(&config.cluster)?;
        let upstream: SharedUpstream =
            Arc::new(UpstreamClient::new(&config.upstream, cluster.clone())?);
        let cache = MemoryCache::new("answers", &config.cache);
        let fetcher = Fetcher::new(upstream.clone(), cache.clone()).with_cluster(cluster.clone());
        let geocoding_quota = config
            .upstream
            .quotas
            .get("geocoding")
            .copied()
            .unwrap_or(0);
        let batch_rate =
            (f64::from(geocoding_quota) * config.jobs.batch_quota_share).floor() as u32;
        let geocode = Arc::new(GeocodeService::new(
            fetcher.clone(),
            config.geocoding.clone(),
            batch_rate.max(u32::from(geocoding_quota > 0)),
        ));
        let navigation = Arc::new(NavigationService::new(fetcher.clone()));
        let altimetry = Arc::new(AltimetryService::new(fetcher.clone()));
        let geocoding_collections = Arc::new(collection_specs());
        // The built-in process providers: one line each.
        let mut process_providers: Vec<Arc<dyn services::process::ProcessProvider>> =
            vec![geocode.clone(), navigation.clone(), altimetry];
        let reserved = process_providers
            .iter()
            .flat_map(|p| p.processes())
            .map(|p| p.id.into_owned())
            .chain(geocoding_collections.iter().map(|c| c.id.to_string()))
            .collect();
        let adapters = Arc::new(adapters::AdapterSet::new(
            adapters::Sources {
                shipped: config.adapters.shipped,
                dir: config.adapters.dir(),
            },
            reserved,
            fetcher.clone(),
            Duration::from_millis(config.upstream.queue_timeout_ms),
            config.geocoding.known_features as u64,
        ));
        process_providers.push(adapters.clone());
        let snapshots = Some(
            cache::snapshot::Snapshots::new(
                config.cache_dir().join("catalog"),
                &config.upstream.base_url,
            )
            .with_cluster(cluster.clone()),
        );
        let wfs = Arc::new(services::wfs::WfsService::new(
            fetcher.clone(),
            snapshots.clone(),
        ));
        let images = image_cache(&config, &upstream).with_shared(
            cluster::tiles::SharedTiles::from_config(&config.cluster, cluster.as_ref())?,
        );
        let basemaps = Arc::new(services::basemaps::Basemaps::new(
            images.clone(),
            snapshots.clone(),
        ));
        let mirror = Arc::new(services::mirror::Mirror::new(
            upstream.clone(),
            MemoryCache::new("mirror", &config.cache),
            images.clone(),
            config.mirror.prefixes.clone(),
        ));
        let wms = Arc::new(services::wms::WmsService::new(
            images.clone(),
            snapshots.clone(),
        ));
        let tms = Arc::new(services::tms::TmsService::new(
            upstream.clone(),
            snapshots,
            images,
        ));
        if config.catalog.embedded {
            use catalog::embedded;
            basemaps.capabilities().start_from_embedded(&embedded::WMTS);
            wms.capabilities()
                .start_from_embedded(&embedded::WMS_RASTER);
            wfs.capabilities().start_from_embedded(&embedded::WFS);
        }
        let catalogue = Arc::new(services::catalogue::Catalogue::new(
            basemaps.clone(),
            wms.clone(),
            wfs.clone(),
            tms.clone(),
            config.mirror.prefixes.iter().any(|p| p == "annexes"),
        ));
        let jobs = Arc::new(
            JobStore::new(
                config.jobs.max_jobs,
                // An open gateway has one user: the per-key share is for gateways with keys.
                if config.auth.keys.is_empty() {
                    config.jobs.max_jobs
                } else {
                    config.jobs.max_jobs_per_key
                },
                Duration::from_secs(config.jobs.max_age_s),
                usize::try_from(config.jobs.memory_mb.saturating_mul(1024 * 1024))
                    .unwrap_or(usize::MAX),
                config.cache_dir().join("jobs"),
            )
            .with_cluster(cluster.clone()),
        );
        let uploads = Arc::new(
            Uploads::new(
                config.server.body_limit_mb.saturating_mul(4 * 1024 * 1024),
                Duration::from_secs(3600),
            )
            .with_cluster(cluster.clone()),
        );
        Ok(AppState(Arc::new(Services {
            trusted_proxies: http::base_url::TrustedProxies::from_config(
                &config.server.trusted_proxies,
            ),
            keys: Arc::new(
                http::auth::Keys::from_config(&config.auth).with_cluster(cluster.clone()),
            ),
            cluster,
            cache,
            uploads,
            processes: Processes::new(process_providers),
            config: Arc::new(config),
            upstream,
            geocode,
            navigation,
            wfs,
            basemaps,
            wms,
            tms,
            catalogue,
            mirror,
            jobs,
            geocoding_collections,
            // The collection providers: one line each.
            collections: ogcapi::collections::Collections::new(vec![
                Arc::new(ogcapi::features::GeocodingCollections),
                Arc::new(ogcapi::wfs::WfsCollections),
                Arc::new(ogcapi::records::CatalogRecords),
                adapters.clone(),
            ]),
            adapters,
            readiness: Arc::new(ogcapi::common::Readiness::default()),
        })))
    }
}

/// The tile and map caches: memory, and the disk store under `<cache.dir>/tiles` (none, with a
/// warning, if the folder cannot be used).
fn image_cache(config: &Config, upstream: &SharedUpstream) -> services::images::ImageCache {
    let disk = match cache::disk::DiskStore::open(
        config.cache_dir().join("tiles"),
        config.cache.disk_mb.saturating_mul(1024 * 1024),
    ) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, dir = %config.cache_dir().display(), "no disk tile store");
            None
        }
    };
    let fresh_for = Duration::from_secs(config.cache.ttl.get("tiles").copied().unwrap_or(86400));
    services::images::ImageCache::new(
        services::images::ImageFetcher::new(upstream.clone(), config.upstream.max_tile_fetches),
        MemoryCache::new("images", &config.cache),
        disk,
        fresh_for,
    )
}

/// The application router for a configuration, without background tasks.
pub fn app(config: Config) -> anyhow::Result<axum::Router> {
    Ok(http::router(AppState::new(config)?))
}

/// Starts what runs beside the server: the refresh of the upstream capabilities.
fn spawn_background(state: &AppState) {
    let every = Duration::from_secs(state.config.catalog.refresh_s.max(60));
    state.wfs.spawn_refresh(every);
    state.basemaps.spawn_refresh(every);
    state.wms.spawn_refresh(every);
    // The demo has no recording of these: the built-in navigation resources stand, and no vector
    // tiles are served.
    if !state.config.server.demo {
        state.navigation.clone().spawn_refresh(every);
        state.tms.spawn_refresh(every);
    }
    spawn_reload_on_hangup(state.adapters.clone());
    if let Some(cluster) = &state.cluster {
        cluster.spawn_heartbeat();
    }
}

/// Reads the adapter files again on each SIGHUP.
fn spawn_reload_on_hangup(adapters: Arc<adapters::AdapterSet>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be watched: adapters are read at start only");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the adapter files again");
            adapters.reload();
        }
    });
    #[cfg(not(unix))]
    let _ = adapters;
}

/// Binds the configured address and serves until SIGINT/SIGTERM, then lets in-flight requests
/// finish for at most `server.shutdown_grace_s`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.listen))?;
    serve_on(listener, config).await
}

/// Serves on an already bound listener.
pub async fn serve_on(listener: TcpListener, mut config: Config) -> anyhow::Result<()> {
    // Demo mode: the upstream is the replay, for as long as the server runs.
    let demo = match config.server.demo {
        true => {
            let demo = demo::Demo::start().await?;
            demo.configure(&mut config);
            tracing::warn!(
                replay = demo.url(),
                recordings = demo.recordings(),
                "DEMO MODE: answers are replayed recordings of the Géoplateforme, not live data"
            );
            Some(demo)
        }
        false => None,
    };
    let grace = Duration::from_secs(config.server.shutdown_grace_s);
    let addr = listener.local_addr()?;
    let upstream = config.upstream.base_url.clone();
    let state = AppState::new(config)?;
    spawn_background(&state);
    let limits = http::server::ConnectionLimits::from_config(&state.config.server);
    let fast_path = http::fast_path::FastPath::new(&state).map(Arc::new);
    let router = http::router(state);
    tracing::info!(%addr, %upstream, "geopf-gateway listening on http://{addr}/");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = http::server::serve(listener, router, fast_path, limits, stop_rx.clone());
    tokio::pin!(server);
    tokio::select! {
        _ = server.as_mut() => return Ok(()),
        _ = shutdown_signal() => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    if tokio::time::timeout(grace, server).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {grace:?}; stopping anyway");
    }
    drop(demo);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
