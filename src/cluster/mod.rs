//! Cluster mode (DESIGN §8): what gateway replicas share through Valkey/Redis — the answer cache's
//! second level and its cross-replica lock ([`shared`]), the upstream quotas, 429 pauses and
//! per-key budgets ([`rate`]), jobs ([`jobs`]).
//!
//! Redis is an aid, never a dependency: every call is bounded by `cluster.timeout_ms`, and after a
//! failure the replica goes on alone (its local caches and buckets) for a second before trying
//! again, so a dead or slow Redis costs at most one bounded wait per second, never a 500. `/ready`
//! and `/metrics` (`geopf_cluster_attached`) say which mode is in force.

pub mod jobs;
pub mod rate;
pub mod shared;
pub mod tiles;

use std::{
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{json, Value};

use crate::config::{masked_url, ClusterConfig};

/// How long a replica goes on alone after a Redis failure before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The replicas' shared state in Redis, as one replica reaches it. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    url: String,
    prefix: String,
    timeout: Duration,
    /// This process among the replicas (jobs name the replica running them).
    replica: String,
    max_value_bytes: usize,
    lock_wait: Duration,
    job_lease: Duration,
    attached: AtomicBool,
    /// Replicas seen alive at the last heartbeat (this one included): while Redis is away, each
    /// takes this share of the upstream quotas.
    replicas: AtomicU32,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    /// No call is tried before this instant (after a failure).
    retry_at: Option<Instant>,
    last_error: Option<String>,
    failures: u64,
    since: Option<String>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("redis", &self.inner.url)
            .field("replica", &self.inner.replica)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// The cluster of `config`, or `None` without a Redis URL. Does not connect yet: the first
    /// call does, and a Redis that is down at start is only a replica alone until it comes.
    pub fn from_config(config: &ClusterConfig) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        let url = masked_url(config.redis_url.trim());
        let client = redis::Client::open(config.redis_url.trim())
            .map_err(|e| anyhow::anyhow!("cluster.redis_url {url}: {e}"))?;
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| anyhow::anyhow!("cluster.redis_url {url}: {e}"))?;
        metrics::gauge!("geopf_cluster_attached").set(0.0);
        Ok(Some(Cluster {
            inner: Arc::new(Inner {
                connection,
                url,
                prefix: config.key_prefix.clone(),
                timeout,
                replica: uuid::Uuid::new_v4().to_string(),
                max_value_bytes: usize::try_from(config.max_value_kb.saturating_mul(1024))
                    .unwrap_or(usize::MAX),
                lock_wait: Duration::from_millis(config.lock_wait_ms),
                job_lease: Duration::from_secs(config.job_lease_s.max(1)),
                attached: AtomicBool::new(false),
                replicas: AtomicU32::new(1),
                health: Mutex::new(Health::default()),
            }),
        }))
    }

    /// The key `name` under the configured prefix.
    pub fn key(&self, name: impl std::fmt::Display) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    /// This replica's id among the replicas.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// The largest value written to Redis.
    pub fn max_value_bytes(&self) -> usize {
        self.inner.max_value_bytes
    }

    /// Whether the last Redis call succeeded.
    pub fn attached(&self) -> bool {
        self.inner.attached.load(Ordering::Relaxed)
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.inner.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one Redis call (`op`, named in logs and metrics) within the timeout; `None` when
    /// Redis failed, is slow, or failed less than a second ago: the caller goes on alone.
    pub async fn call<T, F, Fut>(&self, op: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.health().retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let outcome =
            tokio::time::timeout(self.inner.timeout, call(self.inner.connection.clone())).await;
        match outcome {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(e)) => {
                self.failed(op, e.to_string());
                None
            }
            Err(_) => {
                self.failed(
                    op,
                    format!("no answer within {} ms", self.inner.timeout.as_millis()),
                );
                None
            }
        }
    }

    fn succeeded(&self) {
        if !self.inner.attached.swap(true, Ordering::Relaxed) {
            let mut health = self.health();
            health.retry_at = None;
            health.since = Some(crate::rfc3339::now());
            tracing::info!(redis = %self.inner.url, "cluster: Redis reached, state shared with the other replicas");
            metrics::gauge!("geopf_cluster_attached").set(1.0);
        }
    }

    fn failed(&self, op: &'static str, error: String) {
        metrics::counter!("geopf_cluster_errors_total", "op" => op).increment(1);
        let was_attached = self.inner.attached.swap(false, Ordering::Relaxed);
        let mut health = self.health();
        health.retry_at = Some(Instant::now() + RETRY_AFTER_FAILURE);
        health.failures += 1;
        if was_attached || health.last_error.is_none() {
            health.since = Some(crate::rfc3339::now());
            tracing::warn!(redis = %self.inner.url, op, %error, "cluster: Redis unavailable, this replica goes on alone (local cache and quota share) and retries each second");
        }
        health.last_error = Some(error);
        metrics::gauge!("geopf_cluster_attached").set(0.0);
    }

    /// Checks Redis now (for `/ready`): a PING within the timeout.
    pub async fn ping(&self) -> bool {
        // A check from /ready may try even within the second after a failure.
        self.health().retry_at = None;
        self.call("ping", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .is_some()
    }

    /// What `/ready` says of the cluster.
    pub fn status(&self) -> Value {
        let health = self.health();
        json!({
            "redis": self.inner.url,
            "attached": self.attached(),
            "mode": if self.attached() { "shared" } else { "local only (Redis unavailable)" },
            "replica": self.inner.replica,
            "replicas_seen": self.replicas(),
            "since": health.since,
            "failures": health.failures,
            "last_error": health.last_error,
        })
    }
}

/// KEYS: the replicas (a sorted set by last heartbeat). ARGV: this replica, how long one stays
/// listed without a heartbeat (ms). Answers how many are listed.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
";

/// How often a replica says it is alive (and, while Redis is away, tries to reach it again).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

impl Cluster {
    /// Replicas seen alive at the last heartbeat, this one included.
    pub fn replicas(&self) -> u32 {
        self.inner.replicas.load(Ordering::Relaxed).max(1)
    }

    /// Says every second that this replica is alive, and counts the replicas; also brings the
    /// replica back to shared mode soon after Redis returns, with or without traffic.
    pub fn spawn_heartbeat(&self) {
        let cluster = self.clone();
        tokio::spawn(async move {
            let key = cluster.key("replicas");
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let seen = cluster
                    .call("heartbeat", |mut c| {
                        let (key, replica) = (key.clone(), cluster.replica().to_string());
                        async move {
                            redis::Script::new(HEARTBEAT)
                                .key(&key)
                                .arg(&replica)
                                .arg(millis(HEARTBEAT_EVERY * 5))
                                .invoke_async::<u32>(&mut c)
                                .await
                        }
                    })
                    .await;
                if let Some(n) = seen {
                    cluster.inner.replicas.store(n.max(1), Ordering::Relaxed);
                    metrics::gauge!("geopf_cluster_replicas").set(f64::from(n));
                }
            }
        });
    }
}

/// Milliseconds of a duration, as Redis takes them (at least 1).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
