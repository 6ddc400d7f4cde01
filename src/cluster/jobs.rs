//! Jobs as the replicas share them: each job's record (JSON, written by the replica running it at
//! every change), its results, a lease the running replica renews, and a cancel flag any replica
//! may raise. The job store (`crate::jobs`) decides what the records say; this only keeps them.

use std::time::Duration;

use super::{millis, Cluster};

/// The most jobs the shared index lists (the newest).
pub const MAX_LISTED: isize = 2000;

/// A job's record as kept in Redis, and whether the lease of the replica running it holds.
pub struct Record {
    pub json: Vec<u8>,
    pub leased: bool,
}

impl Cluster {
    fn job_key(&self, id: &str, part: &str) -> String {
        self.key(format_args!("job:{id}{part}"))
    }

    /// How long the replica running a job may stay silent.
    pub fn job_lease(&self) -> Duration {
        self.inner.job_lease
    }

    /// Writes a job's record (kept for `keep`), and lists it among the jobs.
    pub async fn put_job(&self, id: &str, created_ms: u64, json: &[u8], keep: Duration) {
        let (record, index) = (self.job_key(id, ""), self.key("jobs"));
        self.call("put_job", |mut c| async move {
            redis::pipe()
                .cmd("SET")
                .arg(&record)
                .arg(json)
                .arg("PX")
                .arg(millis(keep))
                .ignore()
                .cmd("ZADD")
                .arg(&index)
                .arg(created_ms)
                .arg(id)
                .ignore()
                .cmd("ZREMRANGEBYRANK")
                .arg(&index)
                .arg(0)
                .arg(-MAX_LISTED - 1)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// A job's record, if Redis has it.
    pub async fn job(&self, id: &str) -> Option<Record> {
        let (record, lease) = (self.job_key(id, ""), self.job_key(id, ":lease"));
        let (json, leased) = self
            .call("job", |mut c| async move {
                redis::pipe()
                    .cmd("GET")
                    .arg(&record)
                    .cmd("EXISTS")
                    .arg(&lease)
                    .query_async::<(Option<Vec<u8>>, bool)>(&mut c)
                    .await
            })
            .await?;
        json.map(|json| Record { json, leased })
    }

    /// The records of the newest jobs (up to [`MAX_LISTED`]), newest first.
    pub async fn jobs(&self) -> Option<Vec<Vec<u8>>> {
        let index = self.key("jobs");
        let ids = self
            .call("jobs", |mut c| async move {
                redis::cmd("ZREVRANGE")
                    .arg(&index)
                    .arg(0)
                    .arg(MAX_LISTED - 1)
                    .query_async::<Vec<String>>(&mut c)
                    .await
            })
            .await?;
        if ids.is_empty() {
            return Some(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.job_key(id, "")).collect();
        let records = self
            .call("jobs", |mut c| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                    .await
            })
            .await?;
        Some(records.into_iter().flatten().collect())
    }

    /// Keeps a job's results (JSON) for `keep`; false when they could not be shared.
    pub async fn put_job_results(&self, id: &str, json: &[u8], keep: Duration) -> bool {
        if json.len() > self.max_value_bytes() {
            return false;
        }
        let key = self.job_key(id, ":results");
        self.call("put_job_results", |mut c| async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(json)
                .arg("PX")
                .arg(millis(keep))
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .is_some()
    }

    /// A job's results, if Redis has them.
    pub async fn job_results(&self, id: &str) -> Option<Vec<u8>> {
        let key = self.job_key(id, ":results");
        self.call("job_results", |mut c| async move {
            redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut c)
                .await
        })
        .await
        .flatten()
    }

    /// Renews the lease of a job this replica runs; true when another replica asked to cancel it.
    pub async fn renew_job(&self, id: &str) -> bool {
        let (lease, cancel) = (self.job_key(id, ":lease"), self.job_key(id, ":cancel"));
        let replica = self.replica().to_string();
        let ms = millis(self.job_lease());
        self.call("renew_job", |mut c| async move {
            redis::pipe()
                .cmd("SET")
                .arg(&lease)
                .arg(&replica)
                .arg("PX")
                .arg(ms)
                .ignore()
                .cmd("EXISTS")
                .arg(&cancel)
                .query_async::<(bool,)>(&mut c)
                .await
        })
        .await
        .is_some_and(|(cancelled,)| cancelled)
    }

    /// Ends the lease of a job that finished here.
    pub async fn release_job(&self, id: &str) {
        let lease = self.job_key(id, ":lease");
        self.call("release_job", |mut c| async move {
            redis::cmd("DEL")
                .arg(&lease)
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// Whether the job was dismissed through any replica (kept as long as jobs are). `None`:
    /// Redis unavailable.
    pub async fn job_dismissed(&self, id: &str) -> Option<bool> {
        let cancel = self.job_key(id, ":cancel");
        self.call("job_dismissed", |mut c| async move {
            redis::cmd("EXISTS")
                .arg(&cancel)
                .query_async::<bool>(&mut c)
                .await
        })
        .await
    }

    /// Forgets a job everywhere and tells the replica running or holding it (if any), which
    /// cancels it or drops it; the word is kept for `keep`. False when Redis could not be reached.
    pub async fn dismiss_job(&self, id: &str, keep: Duration) -> bool {
        let keys = [
            self.job_key(id, ""),
            self.job_key(id, ":results"),
            self.job_key(id, ":lease"),
        ];
        let (cancel, index) = (self.job_key(id, ":cancel"), self.key("jobs"));
        let ms = millis(keep);
        self.call("dismiss_job", |mut c| async move {
            redis::pipe()
                .cmd("SET")
                .arg(&cancel)
                .arg(1)
                .arg("PX")
                .arg(ms)
                .ignore()
                .cmd("DEL")
                .arg(&keys)
                .ignore()
                .cmd("ZREM")
                .arg(&index)
                .arg(id)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .is_some()
    }
}
