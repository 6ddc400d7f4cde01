//! Typed configuration: `config/default.toml` < a user file < `GEOPF_<SECTION>__<KEY>` environment
//! variables < command-line flags. Validation names the offending key; secrets never print.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

/// The defaults, compiled in so the binary runs from any folder.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub cache: CacheConfig,
    pub geocoding: GeocodingConfig,
    pub auth: AuthConfig,
    pub catalog: CatalogConfig,
    pub mirror: MirrorConfig,
    pub adapters: AdaptersConfig,
    pub jobs: JobsConfig,
    pub cluster: ClusterConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub body_limit_mb: u64,
    pub cors_origins: Vec<String>,
    /// Peers (IPs or CIDR blocks) whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<String>,
    pub shutdown_grace_s: u64,
    pub request_timeout_s: u64,
    pub max_uri_bytes: usize,
    /// Most connections open at once; beyond it the longest-idle one is closed.
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed, in seconds.
    pub idle_timeout_s: u64,
    /// Threads serving the connections, each with a runtime of its own; 0 = one per CPU.
    pub connection_threads: usize,
    /// Serve replayed recordings instead of the Géoplateforme (`serve --demo`).
    #[serde(default)]
    pub demo: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub keys: Vec<AuthKey>,
}

/// One access key: who, its secret (plain, or as the hex SHA-256 of it), and its request budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthKey {
    pub name: String,
    #[serde(default, serialize_with = "mask_opt_secret")]
    pub token: Option<String>,
    #[serde(default)]
    pub token_sha256: Option<String>,
    #[serde(default = "default_key_rate")]
    pub requests_per_second: u32,
    #[serde(default)]
    pub burst: Option<u32>,
    /// An admin key sees and dismisses every key's jobs and uploads.
    #[serde(default)]
    pub admin: bool,
}

fn default_key_rate() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub base_url: String,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub retries: u32,
    pub retry_backoff_ms: u64,
    #[serde(serialize_with = "mask_secret")]
    pub api_key: String,
    pub pool_max_idle_per_host: usize,
    pub max_concurrency: usize,
    /// Most tile and map image requests in flight upstream at once (within `max_concurrency`).
    pub max_tile_fetches: usize,
    pub queue_timeout_ms: u64,
    /// The longest pause an upstream 429's `Retry-After` imposes on an API, in seconds.
    pub max_pause_s: u64,
    /// Requests per second per upstream API (see [`crate::upstream::Api`]); 0 = unlimited.
    pub quotas: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub dir: String,
    pub memory_mb: u64,
    pub disk_mb: u64,
    /// Time to live per kind of answer, in seconds (see [`crate::cache::CacheKind`]).
    pub ttl: BTreeMap<String, u64>,
    /// How long a rendered answer is served again as it is (`http::fast_documents`), in seconds;
    /// 0: never.
    pub documents_s: u64,
    /// Budget in MiB of those rendered answers.
    pub documents_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeocodingConfig {
    pub max_bbox_side_m: f64,
    pub known_features: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    pub refresh_s: u64,
    /// Start from the catalogue embedded in the binary when the cache folder has none.
    pub embedded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// The upstream API prefixes `GET /geopf/{path}` forwards to.
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptersConfig {
    /// Serve the adapters shipped in the binary (`adapters/*.toml` of the repository).
    pub shipped: bool,
    /// A folder of adapter files (`*.toml`) of the user's or team's; empty for none.
    pub dir: String,
}

impl AdaptersConfig {
    /// The folder of the user's adapter files, if one is set.
    pub fn dir(&self) -> Option<PathBuf> {
        (!self.dir.trim().is_empty()).then(|| PathBuf::from(self.dir.trim()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    pub max_jobs: usize,
    /// Most jobs one access key keeps at once (all keys share `max_jobs`).
    pub max_jobs_per_key: usize,
    pub max_age_s: u64,
    pub memory_mb: u64,
    pub batch_quota_share: f64,
}

/// Cluster mode (DESIGN §8): replicas sharing one Valkey/Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://[:password@]host:port/db`; empty: everything stays in-process.
    #[serde(serialize_with = "mask_url_password")]
    pub redis_url: String,
    /// Prefix of every key the gateway writes (gateways of unrelated teams can share one Redis).
    pub key_prefix: String,
    /// The longest one Redis call may take before the replica goes on alone, in milliseconds.
    pub timeout_ms: u64,
    /// Answers, documents and tiles larger than this stay local, in KiB.
    pub max_value_kb: u64,
    /// Tiles in Redis too (a second level shared by the replicas, expiring with `cache.ttl.tiles`).
    pub tiles: bool,
    /// Tiles in S3-compatible object storage instead (`s3://bucket/prefix`; credentials and
    /// endpoint from `AWS_*` variables); empty: Redis (`tiles`) or none.
    pub tiles_url: String,
    /// The longest one object-storage call may take, in milliseconds.
    pub tiles_timeout_ms: u64,
    /// How long a replica waits for another's upstream call for the same answer, in milliseconds.
    pub lock_wait_ms: u64,
    /// How long the replica running a job may stay silent before the job is reported failed, in
    /// seconds.
    pub job_lease_s: u64,
}

impl ClusterConfig {
    /// Whether replicas share state (a Redis URL is set).
    pub fn enabled(&self) -> bool {
        !self.redis_url.trim().is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: String,
    pub level: String,
    /// One line per answered request at `info` (an access log); false logs them at `debug`.
    pub requests: bool,
}

/// Values given on the command line; they win over every other source.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub upstream: Option<String>,
    pub cache_dir: Option<PathBuf>,
    /// `--demo`: the replayed Géoplateforme (server.demo).
    pub demo: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} cannot be read: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: String, reason: String },
}

fn mask_secret<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if value.is_empty() { "" } else { "***" })
}

/// A URL with its password (if any) masked.
pub fn masked_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) if value.is_empty() => String::new(),
        Err(_) => "***".into(),
    }
}

fn mask_url_password<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&masked_url(value))
}

fn mask_opt_secret<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str("***"),
        None => s.serialize_none(),
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl Config {
    /// Loads every layer, applies the command-line overrides and validates the result.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with_env(overrides, Env::prefixed("GEOPF_"))
    }

    /// The built-in defaults alone (what tests start from).
    pub fn defaults() -> Self {
        Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("config/default.toml is valid (checked by a unit test)")
    }

    fn load_with_env(overrides: &Overrides, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = &overrides.config_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
                path: path.clone(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        // Only `SECTION__KEY` variables are configuration (GEOPF_GATEWAY_URL, say, is the plugin's).
        let env = env.filter(|key| key.as_str().contains("__")).split("__");
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        if let Some(listen) = overrides.listen {
            config.server.listen = listen;
        }
        if let Some(upstream) = &overrides.upstream {
            config.upstream.base_url = upstream.clone();
        }
        if overrides.demo {
            config.server.demo = true;
        }
        if let Some(dir) = &overrides.cache_dir {
            config.cache.dir = dir.display().to_string();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that deserialization alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_http_url("upstream.base_url", &self.upstream.base_url)?;
        if !self.server.public_url.is_empty() {
            check_http_url("server.public_url", &self.server.public_url)?;
        }
        let tiles_url = self.cluster.tiles_url.trim();
        if !tiles_url.is_empty()
            && !url::Url::parse(tiles_url).is_ok_and(|u| matches!(u.scheme(), "s3" | "s3a"))
        {
            return Err(invalid(
                "cluster.tiles_url",
                format!(
                    "must be an s3://bucket/prefix URL, got {:?}",
                    masked_url(tiles_url)
                ),
            ));
        }
        if self.cluster.enabled() {
            match url::Url::parse(self.cluster.redis_url.trim()) {
                Ok(u) if matches!(u.scheme(), "redis" | "valkey") && u.host().is_some() => {}
                _ => {
                    return Err(invalid(
                        "cluster.redis_url",
                        format!(
                            "must be a redis:// URL (TLS is not built in: keep Redis on the replicas' private network), got {:?}",
                            masked_url(&self.cluster.redis_url)
                        ),
                    ))
                }
            }
            if self.cluster.timeout_ms == 0 || self.cluster.job_lease_s == 0 {
                return Err(invalid(
                    "cluster.timeout_ms",
                    "and cluster.job_lease_s must be above 0",
                ));
            }
        }
        for (key, value) in [
            ("upstream.timeout_ms", self.upstream.timeout_ms),
            (
                "upstream.connect_timeout_ms",
                self.upstream.connect_timeout_ms,
            ),
            ("upstream.queue_timeout_ms", self.upstream.queue_timeout_ms),
            ("cache.memory_mb", self.cache.memory_mb),
            ("server.body_limit_mb", self.server.body_limit_mb),
            ("server.idle_timeout_s", self.server.idle_timeout_s),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if self.server.max_connections < 16 {
            return Err(invalid("server.max_connections", "must be at least 16"));
        }
        if self.upstream.max_tile_fetches == 0 {
            return Err(invalid(
                "upstream.max_tile_fetches",
                "must be greater than 0",
            ));
        }
        if self.upstream.max_concurrency == 0 {
            return Err(invalid(
                "upstream.max_concurrency",
                "must be greater than 0",
            ));
        }
        if self.upstream.retries > 10 {
            return Err(invalid("upstream.retries", "must be at most 10"));
        }
        if self.upstream.api_key.chars().any(|c| c.is_control()) {
            return Err(invalid("upstream.api_key", "contains control characters"));
        }
        for name in self.upstream.quotas.keys() {
            if crate::upstream::Api::from_config_name(name).is_none() {
                return Err(invalid(
                    &format!("upstream.quotas.{name}"),
                    format!(
                        "is not an upstream API (expected one of: {})",
                        crate::upstream::Api::config_names().join(", ")
                    ),
                ));
            }
        }
        for name in self.cache.ttl.keys() {
            if crate::cache::CacheKind::from_config_name(name).is_none() {
                return Err(invalid(
                    &format!("cache.ttl.{name}"),
                    format!(
                        "is not a cache kind (expected one of: {})",
                        crate::cache::CacheKind::config_names().join(", ")
                    ),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, key) in self.auth.keys.iter().enumerate() {
            let at = format!("auth.keys[{i}]");
            if key.name.trim().is_empty() || !names.insert(key.name.as_str()) {
                return Err(invalid(&format!("{at}.name"), "must be present and unique"));
            }
            match (&key.token, &key.token_sha256) {
                (Some(t), None) if t.len() >= 8 && !t.chars().any(char::is_whitespace) => {}
                (Some(_), None) => {
                    return Err(invalid(
                        &format!("{at}.token"),
                        "must be at least 8 characters, without spaces",
                    ))
                }
                (None, Some(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
                (None, Some(_)) => {
                    return Err(invalid(
                        &format!("{at}.token_sha256"),
                        "must be 64 hexadecimal digits",
                    ))
                }
                _ => return Err(invalid(&at, "needs exactly one of token and token_sha256")),
            }
            if key.requests_per_second == 0 {
                return Err(invalid(
                    &format!("{at}.requests_per_second"),
                    "must be greater than 0",
                ));
            }
        }
        if self.server.request_timeout_s == 0 || self.server.max_uri_bytes < 256 {
            return Err(invalid(
                "server.request_timeout_s",
                "must be greater than 0 (and server.max_uri_bytes at least 256)",
            ));
        }
        let side = self.geocoding.max_bbox_side_m;
        if !(side.is_finite() && side > 0.0) {
            return Err(invalid(
                "geocoding.max_bbox_side_m",
                "must be a positive number",
            ));
        }
        let share = self.jobs.batch_quota_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(invalid(
                "jobs.batch_quota_share",
                "must be greater than 0 and at most 1",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be \"text\" or \"json\""));
        }
        for proxy in &self.server.trusted_proxies {
            if crate::http::base_url::parse_proxy(proxy).is_none() {
                return Err(invalid(
                    "server.trusted_proxies",
                    format!("has {proxy:?}, which is neither an IP address nor a CIDR block"),
                ));
            }
        }
        for prefix in &self.mirror.prefixes {
            if prefix.is_empty()
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                || prefix.starts_with('.')
            {
                return Err(invalid(
                    "mirror.prefixes",
                    format!(
                        "has {prefix:?}, which is not one path segment (letters, digits, - _ .)"
                    ),
                ));
            }
        }
        for origin in &self.server.cors_origins {
            if origin != "*" && origin.parse::<axum::http::HeaderValue>().is_err() {
                return Err(invalid(
                    "server.cors_origins",
                    format!("has an invalid origin {origin:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The folder of the disk cache: `cache.dir`, else the user's cache folder.
    pub fn cache_dir(&self) -> PathBuf {
        if !self.cache.dir.is_empty() {
            return PathBuf::from(&self.cache.dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("geopf-gateway")
    }

    /// The effective configuration as pretty JSON, with secrets masked.
    pub fn to_masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn check_http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(invalid(
            key,
            format!("must be an http(s) URL, got {value:?}"),
        )),
        Err(e) => Err(invalid(key, format!("is not a URL ({e}): {value:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)] // figment's error type, in tests only
    fn load_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            result = Some(Config::load(&Overrides::default()));
            Ok(())
        });
        result.expect("the jail ran")
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::defaults();
        c.validate().unwrap();
        assert_eq!(c.upstream.base_url, "https://data.geopf.fr");
        assert_eq!(c.upstream.quotas["geocoding"], 50);
    }

    #[test]
    fn env_overrides_nested_keys() {
        let c = load_env(&[
            ("GEOPF_UPSTREAM__TIMEOUT_MS", "1234"),
            ("GEOPF_UPSTREAM__QUOTAS__GEOCODING", "7"),
            ("GEOPF_GATEWAY_URL", "http://ignored"),
        ])
        .unwrap();
        assert_eq!(c.upstream.timeout_ms, 1234);
        assert_eq!(c.upstream.quotas["geocoding"], 7);
    }

    #[test]
    fn invalid_values_name_their_key() {
        let e = load_env(&[("GEOPF_UPSTREAM__TIMEOUT_MS", "soon")]).unwrap_err();
        assert!(
            e.to_string().to_lowercase().contains("upstream.timeout_ms"),
            "{e}"
        );
        let e = load_env(&[("GEOPF_UPSTREAM__BASE_URL", "ftp://x")]).unwrap_err();
        assert!(e.to_string().contains("upstream.base_url"), "{e}");
        let e = load_env(&[("GEOPF_UPSTREAM__QUOTAS__NOPE", "3")]).unwrap_err();
        assert!(e.to_string().contains("upstream.quotas.nope"), "{e}");
        let e = load_env(&[("GEOPF_SERVER__NOPE", "3")]).unwrap_err();
        assert!(e.to_string().to_lowercase().contains("nope"), "{e}");
    }

    #[test]
    fn auth_keys_are_checked_and_masked() {
        let mut c = Config::defaults();
        c.auth.keys.push(AuthKey {
            name: "alice".into(),
            token: Some("correct-horse".into()),
            token_sha256: None,
            requests_per_second: 5,
            burst: None,
            admin: false,
        });
        c.validate().unwrap();
        assert!(!c.to_masked_json().contains("correct-horse"));
        c.auth.keys[0].token_sha256 = Some("ab".repeat(32));
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("auth.keys[0]"));
        c.auth.keys[0].token = None;
        c.validate().unwrap();
        c.auth.keys.push(c.auth.keys[0].clone());
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("auth.keys[1].name"));
    }

    #[test]
    fn api_key_is_masked() {
        let mut c = Config::defaults();
        c.upstream.api_key = "s3cr3t".into();
        let json = c.to_masked_json();
        assert!(!json.contains("s3cr3t"));
        assert!(json.contains("***"));
    }
}
