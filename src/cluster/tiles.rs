//! Tiles shared by the replicas, behind each one's memory and disk: in Redis with the tiles' time
//! to live (`cluster.tiles`), or in S3-compatible object storage (`cluster.tiles_url`, through
//! `object_store`), where a big tile cache costs far less than in memory. Object storage keeps no
//! time to live: a copy older than `cache.ttl.tiles` is ignored (and replaced when fetched again);
//! a bucket lifecycle rule deletes the old ones. Every call is bounded; a failing store is left
//! alone for a second, and the replica goes on with its own caches.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use object_store::{aws::AmazonS3Builder, path::Path, ObjectStore, ObjectStoreExt};

use super::Cluster;
use crate::config::{masked_url, ClusterConfig};

/// Where the replicas share tiles.
pub enum SharedTiles {
    Redis(Cluster),
    Objects(ObjectTiles),
}

/// Tiles in an S3-compatible bucket.
pub struct ObjectTiles {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    timeout: Duration,
    retry_at: Mutex<Option<Instant>>,
}

impl SharedTiles {
    /// Object storage when `cluster.tiles_url` is set; else Redis when there is a cluster and
    /// `cluster.tiles`; else none.
    pub fn from_config(
        config: &ClusterConfig,
        cluster: Option<&Cluster>,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let url = config.tiles_url.trim();
        if !url.is_empty() {
            return Ok(Some(Arc::new(SharedTiles::Objects(ObjectTiles::new(
                url,
                Duration::from_millis(config.tiles_timeout_ms.max(1)),
            )?))));
        }
        Ok(cluster
            .filter(|_| config.tiles)
            .map(|c| Arc::new(SharedTiles::Redis(c.clone()))))
    }

    /// The shared copy of the tile `key`, if there is a fresh one.
    pub async fn get(&self, key: &str, fresh_for: Duration) -> Option<Vec<u8>> {
        let found = match self {
            SharedTiles::Redis(c) => c.get_value(&c.value_key("tile", key)).await,
            SharedTiles::Objects(o) => o.get(key, fresh_for).await,
        };
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("geopf_cluster_tiles_total", "result" => result).increment(1);
        found
    }

    /// Shares the tile `key` for `ttl`.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, ttl: Duration) {
        match self {
            SharedTiles::Redis(c) => c.put_value(&c.value_key("tile", key), &bytes, ttl).await,
            SharedTiles::Objects(o) => o.put(key, bytes).await,
        }
    }
}

impl ObjectTiles {
    /// The bucket of `url` (`s3://bucket/prefix`), credentials, region and endpoint from the
    /// usual `AWS_*` variables (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a local
    /// S3-compatible server).
    fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("cluster.tiles_url {}: {e}", masked_url(url)))?;
        let store = AmazonS3Builder::from_env()
            .with_url(url)
            .build()
            .map_err(|e| anyhow::anyhow!("cluster.tiles_url {}: {e}", masked_url(url)))?;
        let prefix = Path::from(parsed.path().trim_matches('/'));
        Ok(ObjectTiles {
            store: Arc::new(store),
            prefix,
            url: masked_url(url),
            timeout,
            retry_at: Mutex::new(None),
        })
    }

    fn path(&self, key: &str) -> Path {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(key.as_bytes()));
        self.prefix.clone().join("tiles").join(digest)
    }

    fn resting(&self) -> bool {
        let retry_at = self.retry_at.lock().unwrap_or_else(|e| e.into_inner());
        retry_at.is_some_and(|at| Instant::now() < at)
    }

    fn failed(&self, op: &'static str, error: String) {
        metrics::counter!("geopf_cluster_errors_total", "op" => op).increment(1);
        let mut retry_at = self.retry_at.lock().unwrap_or_else(|e| e.into_inner());
        if retry_at.is_none() {
            tracing::warn!(store = %self.url, op, %error, "shared tile store unavailable: tiles stay local, retried each second");
        }
        *retry_at = Some(Instant::now() + super::RETRY_AFTER_FAILURE);
    }

    fn succeeded(&self) {
        *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    async fn get(&self, key: &str, fresh_for: Duration) -> Option<Vec<u8>> {
        if self.resting() {
            return None;
        }
        let path = self.path(key);
        let read = async {
            let got = self.store.get(&path).await?;
            let fetched = SystemTime::from(got.meta.last_modified);
            let bytes = got.bytes().await?;
            Ok::<_, object_store::Error>((fetched, bytes))
        };
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok((fetched, bytes))) => {
                self.succeeded();
                let age = SystemTime::now()
                    .duration_since(fetched)
                    .unwrap_or_default();
                (age < fresh_for).then(|| bytes.to_vec())
            }
            Ok(Err(object_store::Error::NotFound { .. })) => {
                self.succeeded();
                None
            }
            Ok(Err(e)) => {
                self.failed("tiles_get", e.to_string());
                None
            }
            Err(_) => {
                self.failed("tiles_get", format!("no answer within {:?}", self.timeout));
                None
            }
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) {
        if self.resting() {
            return;
        }
        let path = self.path(key);
        match tokio::time::timeout(self.timeout, self.store.put(&path, bytes.into())).await {
            Ok(Ok(_)) => self.succeeded(),
            Ok(Err(e)) => self.failed("tiles_put", e.to_string()),
            Err(_) => self.failed("tiles_put", format!("no answer within {:?}", self.timeout)),
        }
    }
}
