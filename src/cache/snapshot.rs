//! The last good capabilities documents on disk (`<cache.dir>/catalog/`), so the catalogue is
//! there the moment the gateway starts and survives an upstream outage. One file per document: a
//! JSON header line (upstream, validators, fetch time) then the document, written atomically.

use std::{
    io::Write,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};

/// A stored document and what is needed to ask the upstream whether it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub text: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub fetched_at: SystemTime,
}

#[derive(Serialize, Deserialize)]
struct Header {
    upstream: String,
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at_unix_s: u64,
}

/// The snapshots of one upstream. A snapshot taken from another base URL (the same cache folder
/// started with another `--upstream`, a field laptop whose upstream is unreachable) is loaded too —
/// a catalogue beats none — but without its validators: the upstream in use never confirms with a
/// 304 a document another one wrote, its first answer replaces it.
#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    upstream: String,
    /// Cluster mode: the replicas share the documents (one refresh at a time).
    shared: Option<crate::cluster::Cluster>,
}

impl Snapshots {
    pub fn new(dir: PathBuf, upstream: &str) -> Self {
        Snapshots {
            dir,
            upstream: upstream.trim_end_matches('/').to_string(),
            shared: None,
        }
    }

    /// Shares the documents with the other replicas through `cluster`.
    pub fn with_cluster(mut self, cluster: Option<crate::cluster::Cluster>) -> Self {
        self.shared = cluster;
        self
    }

    /// The cluster and the key under which the replicas share the document `name` of this
    /// upstream, in cluster mode.
    pub fn shared(&self, name: &str) -> Option<(&crate::cluster::Cluster, String)> {
        let cluster = self.shared.as_ref()?;
        let key = cluster.value_key("capabilities", &format!("{} {name}", self.upstream));
        Some((cluster, key))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snapshot"))
    }

    /// The stored document `name`, if there is one from this upstream and it is readable.
    pub fn load(&self, name: &str) -> Option<Snapshot> {
        let bytes = std::fs::read(self.path(name)).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let header: Header = serde_json::from_slice(&bytes[..newline]).ok()?;
        let ours = header.upstream == self.upstream;
        if !ours {
            tracing::info!(
                document = name,
                from = %crate::config::masked_url(&header.upstream),
                "a snapshot of another upstream is used until this one answers"
            );
        }
        let text = String::from_utf8(bytes[newline + 1..].to_vec()).ok()?;
        Some(Snapshot {
            text,
            etag: header.etag.filter(|_| ours),
            last_modified: header.last_modified.filter(|_| ours),
            fetched_at: SystemTime::UNIX_EPOCH + Duration::from_secs(header.fetched_at_unix_s),
        })
    }

    /// Stores `snapshot` as `name`, replacing the previous one at once (temporary file, rename).
    pub fn save(&self, name: &str, snapshot: &Snapshot) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let header = Header {
            upstream: self.upstream.clone(),
            etag: snapshot.etag.clone(),
            last_modified: snapshot.last_modified.clone(),
            fetched_at_unix_s: snapshot
                .fetched_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        };
        let target = self.path(name);
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        serde_json::to_writer(&mut file, &header)?;
        file.write_all(b"\n")?;
        file.write_all(snapshot.text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            TempDir(std::env::temp_dir().join(format!("geopf-snap-{}", uuid::Uuid::new_v4())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            text: "<Capabilities>\nline two\n</Capabilities>".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
            fetched_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    #[test]
    fn a_saved_snapshot_loads_back_whole() {
        let dir = TempDir::new();
        let store = Snapshots::new(dir.0.join("catalog"), "https://data.geopf.fr/");
        assert_eq!(store.load("wmts"), None);
        store.save("wmts", &snapshot()).unwrap();
        assert_eq!(store.load("wmts"), Some(snapshot()));
        let leftovers = std::fs::read_dir(dir.0.join("catalog")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn another_upstreams_snapshot_loads_without_its_validators() {
        let dir = TempDir::new();
        Snapshots::new(dir.0.to_path_buf(), "http://127.0.0.1:9")
            .save("wmts", &snapshot())
            .unwrap();
        let real = Snapshots::new(dir.0.to_path_buf(), "https://data.geopf.fr");
        assert_eq!(
            real.load("wmts"),
            Some(Snapshot {
                etag: None,
                last_modified: None,
                ..snapshot()
            })
        );
    }

    #[test]
    fn a_damaged_snapshot_is_not_loaded() {
        let dir = TempDir::new();
        let real = Snapshots::new(dir.0.to_path_buf(), "https://data.geopf.fr");
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(dir.0.join("wfs.snapshot"), b"not a header\n<x/>").unwrap();
        assert_eq!(real.load("wfs"), None);
    }
}
