//! The caches. Memory: moka, bounded in bytes, a time to live per kind of answer, and one upstream
//! request for any number of concurrent identical misses. Errors are never cached.

use std::{collections::HashMap, fmt, future::Future, sync::Arc, time::Duration};

use moka::{future::Cache, Expiry};

pub mod disk;
pub mod kept;
pub mod snapshot;

use crate::config::CacheConfig;

/// What is cached, each kind with its own time to live (`cache.ttl.<kind>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKind {
    Geocoding,
    Completion,
    Navigation,
    Altimetry,
    Features,
    Tiles,
    Capabilities,
    /// An answer kept for its own time (an adapter's `cache_ttl_s`).
    Seconds(u32),
}

impl CacheKind {
    pub const ALL: [CacheKind; 7] = [
        CacheKind::Geocoding,
        CacheKind::Completion,
        CacheKind::Navigation,
        CacheKind::Altimetry,
        CacheKind::Features,
        CacheKind::Tiles,
        CacheKind::Capabilities,
    ];

    pub fn config_name(self) -> &'static str {
        match self {
            CacheKind::Geocoding => "geocoding",
            CacheKind::Completion => "completion",
            CacheKind::Navigation => "navigation",
            CacheKind::Altimetry => "altimetry",
            CacheKind::Features => "features",
            CacheKind::Tiles => "tiles",
            CacheKind::Capabilities => "capabilities",
            CacheKind::Seconds(_) => "seconds",
        }
    }

    pub fn from_config_name(name: &str) -> Option<CacheKind> {
        CacheKind::ALL.into_iter().find(|k| k.config_name() == name)
    }

    pub fn config_names() -> Vec<&'static str> {
        CacheKind::ALL.iter().map(|k| k.config_name()).collect()
    }
}

/// How an answer was obtained, reported in the `Cache-Status` header (RFC 9211).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from memory.
    Hit,
    /// This request went upstream.
    Miss,
    /// Another identical request was already upstream; this one waited for its answer.
    Collapsed,
    /// Another replica had it: served from the replicas' shared cache (cluster mode).
    Shared,
}

impl CacheStatus {
    /// The `Cache-Status` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "geopf-gateway; hit",
            CacheStatus::Miss => "geopf-gateway; fwd=miss; stored",
            CacheStatus::Collapsed => "geopf-gateway; fwd=miss; collapsed",
            CacheStatus::Shared => "geopf-gateway; hit; detail=shared",
        }
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an entry costs beyond its key and value: moka's entry and its bookkeeping, the `Arc`, the
/// key's `String` (measured with `benches/soak.sh`, see BENCHMARKS.md).
pub const ENTRY_OVERHEAD: u32 = 256;

/// The bytes a parsed JSON value takes in memory (its nodes, strings and maps), not its text.
/// The recursion is bounded by serde_json's own depth limit (128) on anything it parsed.
pub fn json_weight(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    const NODE: usize = std::mem::size_of::<Value>();
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => NODE,
        Value::String(s) => NODE + s.capacity(),
        Value::Array(items) => {
            NODE + (items.capacity() - items.len()) * NODE
                + items.iter().map(json_weight).sum::<usize>()
        }
        // An ordered map entry: the key's String, its hash and index slot, the value.
        Value::Object(map) => {
            NODE + map
                .iter()
                .map(|(k, v)| std::mem::size_of::<String>() + k.capacity() + 24 + json_weight(v))
                .sum::<usize>()
        }
    }
}

/// A cached answer: its kind (for its time to live), its weight in bytes and the value.
#[derive(Debug)]
pub struct Cached<V> {
    pub kind: CacheKind,
    pub weight: u32,
    pub value: V,
    /// Taken from the replicas' shared cache rather than the upstream (cluster mode).
    pub shared: bool,
}

struct PerKindExpiry(Arc<HashMap<CacheKind, Duration>>);

impl<V> Expiry<String, Arc<Cached<V>>> for PerKindExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Cached<V>>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        if let CacheKind::Seconds(secs) = value.kind {
            return Some(Duration::from_secs(u64::from(secs)));
        }
        self.0.get(&value.kind).copied()
    }
}

/// A byte-bounded memory cache of values of type `V`.
#[derive(Clone)]
pub struct MemoryCache<V> {
    /// Keys hashed with aHash (keyed at random per process, made to resist chosen keys): a
    /// third of SipHash's instructions on every cached tile's way.
    inner: Cache<String, Arc<Cached<V>>, ahash::RandomState>,
    ttls: Arc<HashMap<CacheKind, Duration>>,
    /// The `cache` label of its metrics (`answers`, `images`).
    name: &'static str,
    /// Its hit counter, looked up once (the recorder is installed before any cache is made:
    /// `AppState::new`).
    hits: metrics::Counter,
}

impl<V: Send + Sync + 'static> MemoryCache<V> {
    /// A cache of `config.memory_mb`, named `name` in the metrics.
    pub fn new(name: &'static str, config: &CacheConfig) -> Self {
        let ttls = CacheKind::ALL
            .into_iter()
            .map(|kind| {
                let secs = config.ttl.get(kind.config_name()).copied().unwrap_or(300);
                (kind, Duration::from_secs(secs))
            })
            .collect::<HashMap<_, _>>();
        let ttls = Arc::new(ttls);
        let inner = Cache::builder()
            .max_capacity(config.memory_mb.saturating_mul(1024 * 1024))
            .weigher(|key: &String, value: &Arc<Cached<V>>| {
                value
                    .weight
                    .saturating_add(u32::try_from(key.capacity()).unwrap_or(u32::MAX))
                    .saturating_add(ENTRY_OVERHEAD)
            })
            .expire_after(PerKindExpiry(ttls.clone()))
            .build_with_hasher(ahash::RandomState::new());
        let hits =
            metrics::counter!("geopf_cache_lookups_total", "cache" => name, "result" => "hit");
        MemoryCache {
            inner,
            ttls,
            name,
            hits,
        }
    }

    /// How long an answer of `kind` is kept.
    pub fn ttl(&self, kind: CacheKind) -> Duration {
        match kind {
            CacheKind::Seconds(secs) => Duration::from_secs(u64::from(secs)),
            kind => self
                .ttls
                .get(&kind)
                .copied()
                .unwrap_or(Duration::from_secs(300)),
        }
    }

    /// The cached value for `key`, if there is one (counted as a hit).
    pub async fn get(&self, key: &str) -> Option<Arc<Cached<V>>> {
        let hit = self.inner.get(key).await?;
        self.hits.increment(1);
        Some(hit)
    }

    /// The cached value for `key`, or the result of `fetch`, which runs once however many callers
    /// ask for the same missing key at the same time. A failed fetch is not cached.
    pub async fn get_or_fetch<F, E>(
        &self,
        key: String,
        fetch: F,
    ) -> Result<(Arc<Cached<V>>, CacheStatus), Arc<E>>
    where
        F: Future<Output = Result<Cached<V>, E>>,
        E: Send + Sync + 'static,
    {
        if let Some(hit) = self.inner.get(&key).await {
            self.hits.increment(1);
            return Ok((hit, CacheStatus::Hit));
        }
        let entry = self
            .inner
            .entry(key)
            .or_try_insert_with(async { fetch.await.map(Arc::new) })
            .await?;
        let status = if entry.is_fresh() && entry.value().shared {
            CacheStatus::Shared
        } else if entry.is_fresh() {
            CacheStatus::Miss
        } else {
            CacheStatus::Collapsed
        };
        let label = match status {
            CacheStatus::Miss => "miss",
            CacheStatus::Shared => "shared",
            _ => "collapsed",
        };
        metrics::counter!("geopf_cache_lookups_total", "cache" => self.name, "result" => label)
            .increment(1);
        Ok((entry.into_value(), status))
    }

    /// Bytes currently held (approximate until moka runs its pending tasks).
    pub fn weighted_size(&self) -> u64 {
        self.inner.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cache() -> MemoryCache<String> {
        MemoryCache::new("test", &crate::config::Config::defaults().cache)
    }

    fn value(s: &str) -> Cached<String> {
        Cached {
            kind: CacheKind::Geocoding,
            weight: s.len() as u32,
            value: s.to_string(),
            shared: false,
        }
    }

    #[tokio::test]
    async fn miss_then_hit() {
        let c = cache();
        let (v, s) = c
            .get_or_fetch("k".into(), async { Ok::<_, ()>(value("a")) })
            .await
            .unwrap();
        assert_eq!((v.value.as_str(), s), ("a", CacheStatus::Miss));
        let (v, s) = c
            .get_or_fetch("k".into(), async { Ok::<_, ()>(value("b")) })
            .await
            .unwrap();
        assert_eq!((v.value.as_str(), s), ("a", CacheStatus::Hit));
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let c = cache();
        assert!(c
            .get_or_fetch("k".into(), async { Err::<Cached<String>, _>("boom") })
            .await
            .is_err());
        let (v, s) = c
            .get_or_fetch("k".into(), async { Ok::<_, &str>(value("ok")) })
            .await
            .unwrap();
        assert_eq!((v.value.as_str(), s), ("ok", CacheStatus::Miss));
    }

    #[tokio::test]
    async fn concurrent_misses_fetch_once() {
        let c = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let c = c.clone();
                let calls = calls.clone();
                tokio::spawn(async move {
                    c.get_or_fetch("same".into(), async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>(value("v"))
                    })
                    .await
                    .unwrap()
                    .1
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            statuses.iter().filter(|s| **s == CacheStatus::Miss).count(),
            1
        );
    }
}
