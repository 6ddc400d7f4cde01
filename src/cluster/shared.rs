//! Values shared by the replicas: the second level of the answer cache, tiles and capabilities
//! documents, each under a hashed key with the time to live of its kind, and a short lock
//! (`SET NX PX`) so that concurrent identical misses across the replicas make one upstream call.

use std::{future::Future, time::Duration};

use sha2::Digest;

use super::{millis, Cluster};

/// Where a shared value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// This replica fetched it (and shared it).
    Fetched,
    /// Another replica had: it came from Redis.
    Shared,
}

/// Deletes the lock only if it is still ours (it may have expired and been taken by another).
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// KEYS: the value, its lock. ARGV: a token, the lock's time (ms). Answers {1, value} when the
/// value is there, else {2, ''} when the lock was free (now ours), {0, ''} when another holds it:
/// one atomic step, so that a value shared just before the lock is freed is never fetched again.
const GET_OR_LOCK: &str = r"
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
return {0, ''}
";

/// How often a replica waiting for another's fetch looks for its answer.
const POLL: Duration = Duration::from_millis(20);

impl Cluster {
    /// The key of a shared value: `what` (`answer`, `tile`, …) and a digest of the local key, so
    /// that keys stay short whatever the request.
    pub fn value_key(&self, what: &str, local_key: &str) -> String {
        let digest = hex::encode(sha2::Sha256::digest(local_key.as_bytes()));
        self.key(format_args!("{what}:{digest}"))
    }

    /// The value under `key`, if Redis has it and answers.
    pub async fn get_value(&self, key: &str) -> Option<Vec<u8>> {
        let value = self
            .call("get", |mut c| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await
            .flatten();
        metrics::counter!("geopf_cluster_lookups_total", "result" => if value.is_some() { "hit" } else { "miss" })
            .increment(1);
        value
    }

    /// Keeps `bytes` under `key` for `ttl`; values over `cluster.max_value_kb` stay local.
    pub async fn put_value(&self, key: &str, bytes: &[u8], ttl: Duration) {
        if bytes.len() <= self.max_value_bytes() {
            self.put_bytes(key, bytes, ttl).await;
        }
    }

    /// Keeps `bytes` under `key` for `ttl`, whatever their size (the caller bounds it: an upload
    /// is bounded by the request body limit).
    pub async fn put_bytes(&self, key: &str, bytes: &[u8], ttl: Duration) {
        self.call("set", |mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(bytes)
                .arg("PX")
                .arg(millis(ttl))
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// The value under `key`, or what `fetch` makes of the upstream, fetched by one replica at a
    /// time: a replica that finds another fetching the same key waits (up to
    /// `cluster.lock_wait_ms`) for its answer, then fetches itself. `decode` reads a shared copy
    /// (`None`: unusable, fetched again); `fetch` answers the value and the bytes to share (`None`:
    /// not shared). Errors are never shared. Without Redis, `fetch` simply runs.
    pub async fn fetch_once<T, E, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        decode: impl Fn(&[u8]) -> Option<T>,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<(T, Sharing), E>
    where
        Fut: Future<Output = Result<(T, Option<Vec<u8>>), E>>,
    {
        let lock = format!("{key}:lock");
        let token = uuid::Uuid::new_v4().to_string();
        let hold = self.inner.lock_wait.max(Duration::from_millis(100));
        let found = self
            .call("get_or_lock", |mut c| {
                let (lock, token) = (lock.clone(), token.clone());
                async move {
                    redis::Script::new(GET_OR_LOCK)
                        .key(key)
                        .key(&lock)
                        .arg(&token)
                        .arg(millis(hold))
                        .invoke_async::<(i64, Vec<u8>)>(&mut c)
                        .await
                }
            })
            .await;
        let result = match &found {
            Some((1, _)) => "hit",
            Some(_) => "miss",
            None => "unavailable",
        };
        metrics::counter!("geopf_cluster_lookups_total", "result" => result).increment(1);
        match found {
            Some((1, bytes)) => match decode(&bytes) {
                Some(value) => Ok((value, Sharing::Shared)),
                // Unreadable (another version's?): fetched, not shared over.
                None => fetch().await.map(|(value, _)| (value, Sharing::Fetched)),
            },
            // Another replica is fetching it: wait for its answer.
            Some((0, _)) => {
                if let Some(value) = self.wait_for(key, &lock, &decode).await {
                    metrics::counter!("geopf_cluster_collapsed_total").increment(1);
                    return Ok((value, Sharing::Shared));
                }
                let (value, _) = fetch().await?;
                Ok((value, Sharing::Fetched))
            }
            // Ours: fetch, share, unlock (also when the fetch failed: the others fetch then).
            Some(_) => {
                let outcome = fetch().await;
                if let Ok((_, Some(bytes))) = &outcome {
                    self.put_value(key, bytes, ttl).await;
                }
                self.call("unlock", |mut c| {
                    let (lock, token) = (lock.clone(), token.clone());
                    async move {
                        redis::Script::new(UNLOCK)
                            .key(&lock)
                            .arg(&token)
                            .invoke_async::<i64>(&mut c)
                            .await
                    }
                })
                .await;
                outcome.map(|(value, _)| (value, Sharing::Fetched))
            }
            // Redis unavailable: alone.
            None => fetch().await.map(|(value, _)| (value, Sharing::Fetched)),
        }
    }

    /// The value another replica is fetching under `key`, once it is shared; `None` when its lock
    /// went without a value (its fetch failed), Redis failed, or the wait ran out.
    async fn wait_for<T>(
        &self,
        key: &str,
        lock: &str,
        decode: &impl Fn(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + self.inner.lock_wait;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            let (value, locked) = self
                .call("wait", |mut c| async move {
                    redis::pipe()
                        .cmd("GET")
                        .arg(key)
                        .cmd("EXISTS")
                        .arg(lock)
                        .query_async::<(Option<Vec<u8>>, bool)>(&mut c)
                        .await
                })
                .await?;
            if let Some(bytes) = value {
                return decode(&bytes);
            }
            if !locked {
                return None;
            }
        }
        None
    }
}
