//! Uploaded inputs (a large CSV for batch geocoding, say): stored in memory for a while, bounded in
//! bytes, and referred to by the gateway's own `/uploads/{id}` URL in an execute request.
//! Each access key has its own store and budget: its uploads are invisible to other keys (but an
//! admin's), and no key's uploads can push out another's. In cluster mode an upload is also kept
//! in Redis, so that an execute request reaching another replica finds it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use moka::sync::Cache;

use super::Viewer;
use crate::cluster::Cluster;

pub struct Uploads {
    per_key: Mutex<HashMap<Arc<str>, Cache<String, Bytes>>>,
    budget_bytes: u64,
    ttl: Duration,
    shared: Option<Cluster>,
}

impl Uploads {
    /// `budget_bytes` for each key (keys are configured, so their number is bounded).
    pub fn new(budget_bytes: u64, ttl: Duration) -> Self {
        Uploads {
            per_key: Mutex::new(HashMap::new()),
            budget_bytes,
            ttl,
            shared: None,
        }
    }

    /// Shares the uploads with the other replicas through `cluster`.
    pub fn with_cluster(mut self, cluster: Option<Cluster>) -> Self {
        self.shared = cluster;
        self
    }

    fn store_of(&self, owner: &Arc<str>) -> Cache<String, Bytes> {
        let mut stores = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
        stores
            .entry(owner.clone())
            .or_insert_with(|| {
                Cache::builder()
                    .max_capacity(self.budget_bytes)
                    .weigher(|k: &String, v: &Bytes| {
                        u32::try_from(v.len() + k.len()).unwrap_or(u32::MAX)
                    })
                    .time_to_live(self.ttl)
                    .build()
            })
            .clone()
    }

    /// Keeps `data` for `owner`; returns its id.
    pub async fn put(&self, owner: &Arc<str>, data: Bytes) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(cluster) = &self.shared {
            // The owner on the first line: another replica checks it as this one does.
            let mut shared = Vec::with_capacity(owner.len() + 1 + data.len());
            shared.extend_from_slice(owner.as_bytes());
            shared.push(b'\n');
            shared.extend_from_slice(&data);
            let key = cluster.key(format_args!("upload:{id}"));
            cluster.put_bytes(&key, &shared, self.ttl).await;
        }
        self.store_of(owner).insert(id.clone(), data);
        id
    }

    /// The upload `id`, if `viewer` may read it: kept here, or (cluster mode) by another replica.
    pub async fn get(&self, id: &str, viewer: &Viewer) -> Option<Bytes> {
        if let Some(data) = self.local(id, viewer) {
            return Some(data);
        }
        let cluster = self.shared.as_ref()?;
        let key = cluster.key(format_args!("upload:{id}"));
        let shared = cluster.get_value(&key).await?;
        let at = shared.iter().position(|b| *b == b'\n')?;
        let owner = std::str::from_utf8(&shared[..at]).ok()?;
        (viewer.admin || *viewer.name == *owner).then(|| Bytes::copy_from_slice(&shared[at + 1..]))
    }

    fn local(&self, id: &str, viewer: &Viewer) -> Option<Bytes> {
        let stores = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
        if viewer.admin {
            return stores.values().find_map(|s| s.get(id));
        }
        stores.get(&viewer.name)?.get(id)
    }

    /// The id in an `href` that points at this gateway's `/uploads/{id}`, whatever host it names.
    pub fn id_of(href: &str) -> Option<&str> {
        let (_, id) = href.rsplit_once("/uploads/")?;
        (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_is_its_owners_alone_and_an_admins() {
        let u = Uploads::new(1 << 20, Duration::from_secs(60));
        let alice = Viewer {
            name: Arc::from("alice"),
            admin: false,
        };
        let id = u.put(&alice.name, Bytes::from_static(b"a,b\n")).await;
        assert!(u.get(&id, &alice).await.is_some());
        let bob = Viewer {
            name: Arc::from("bob"),
            admin: false,
        };
        assert!(u.get(&id, &bob).await.is_none());
        let admin = Viewer {
            name: Arc::from("root"),
            admin: true,
        };
        assert!(u.get(&id, &admin).await.is_some());
    }

    #[test]
    fn only_upload_ids_are_taken_from_hrefs() {
        assert_eq!(Uploads::id_of("http://h/uploads/0a-1b"), Some("0a-1b"));
        assert_eq!(Uploads::id_of("http://h/uploads/../../etc/passwd"), None);
        assert_eq!(Uploads::id_of("https://evil.example/data.csv"), None);
    }
}
