//! The disk tile store: bounded in bytes, least recently used out first, atomic writes, keys
//! hashed into file names (nothing a request says can escape the folder), and it survives
//! restarts (the index is rebuilt from the folder at start, oldest access first).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, SystemTime},
};

use sha2::{Digest, Sha256};

/// One stored answer: its media type, validator, when it was fetched, and the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub content_type: String,
    pub etag: String,
    pub fetched: SystemTime,
    pub body: Vec<u8>,
}

impl Stored {
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetched)
            .unwrap_or_default()
    }
}

struct Entry {
    size: u64,
    used: SystemTime,
}

pub struct DiskStore {
    dir: PathBuf,
    budget: u64,
    index: Mutex<(HashMap<PathBuf, Entry>, u64)>,
}

const MAGIC: &[u8] = b"geopf-tile 1\n";

impl DiskStore {
    /// Opens (creating) the store in `dir`, indexing what a previous run left there.
    pub fn open(dir: PathBuf, budget: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut map = HashMap::new();
        let mut total = 0;
        for shard in std::fs::read_dir(&dir)?.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            for f in files.flatten() {
                let path = f.path();
                if path
                    .extension()
                    .is_some_and(|e| e.to_string_lossy().starts_with("tmp"))
                {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                if let Ok(meta) = f.metadata() {
                    let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    total += meta.len();
                    map.insert(
                        path,
                        Entry {
                            size: meta.len(),
                            used,
                        },
                    );
                }
            }
        }
        let store = DiskStore {
            dir,
            budget,
            index: Mutex::new((map, total)),
        };
        store.evict();
        Ok(store)
    }

    /// The file of a key: `<dir>/<2 hex>/<62 hex>`, from the key's SHA-256.
    pub fn path_of(&self, key: &str) -> PathBuf {
        let hex = hex::encode(Sha256::digest(key.as_bytes()));
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    pub fn get(&self, key: &str) -> Option<Stored> {
        let path = self.path_of(key);
        let bytes = std::fs::read(&path).ok()?;
        let stored = decode(&bytes)?;
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = index.0.get_mut(&path) {
            e.used = SystemTime::now();
        }
        Some(stored)
    }

    /// Writes atomically (a temporary file renamed over the old one), then evicts beyond the budget.
    pub fn put(&self, key: &str, stored: &Stored) -> std::io::Result<()> {
        let path = self.path_of(key);
        let bytes = encode(stored);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // One temporary name per process: a seeding run may write beside a serving gateway.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path)?;
        {
            let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            let size = bytes.len() as u64;
            let old = index
                .0
                .insert(
                    path,
                    Entry {
                        size,
                        used: SystemTime::now(),
                    },
                )
                .map_or(0, |e| e.size);
            index.1 = index.1 + size - old;
        }
        self.evict();
        Ok(())
    }

    /// Files held.
    pub fn len(&self) -> usize {
        self.index.lock().unwrap_or_else(|e| e.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn size(&self) -> u64 {
        self.index.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn evict(&self) {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        if index.1 <= self.budget {
            return;
        }
        let mut by_use: Vec<(PathBuf, SystemTime, u64)> = index
            .0
            .iter()
            .map(|(p, e)| (p.clone(), e.used, e.size))
            .collect();
        by_use.sort_by_key(|(_, used, _)| *used);
        for (path, _, size) in by_use {
            if index.1 <= self.budget {
                break;
            }
            let _ = std::fs::remove_file(&path);
            index.0.remove(&path);
            index.1 -= size;
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn encode(s: &Stored) -> Vec<u8> {
    let fetched = s
        .fetched
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let header =
        serde_json::json!({"content_type": s.content_type, "etag": s.etag, "fetched": fetched})
            .to_string();
    let mut out = Vec::with_capacity(MAGIC.len() + header.len() + 1 + s.body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(header.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&s.body);
    out
}

fn decode(bytes: &[u8]) -> Option<Stored> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let nl = rest.iter().position(|b| *b == b'\n')?;
    let header: serde_json::Value = serde_json::from_slice(&rest[..nl]).ok()?;
    Some(Stored {
        content_type: header["content_type"].as_str()?.to_string(),
        etag: header["etag"].as_str()?.to_string(),
        fetched: SystemTime::UNIX_EPOCH + Duration::from_secs(header["fetched"].as_u64()?),
        body: rest[nl + 1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(n: usize) -> Stored {
        Stored {
            content_type: "image/png".into(),
            etag: "\"e\"".into(),
            fetched: SystemTime::now(),
            body: vec![7; n],
        }
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("geopf-disk-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn keys_cannot_escape_the_folder() {
        let d = dir();
        let s = DiskStore::open(d.clone(), 1 << 20).unwrap();
        for key in [
            "../../etc/passwd",
            "/absolute",
            "a%2F..%2Fb",
            &"x".repeat(10_000),
        ] {
            let p = s.path_of(key);
            assert!(
                p.starts_with(&d) && p.components().count() == d.components().count() + 2,
                "{key}"
            );
        }
    }

    #[test]
    fn round_trip_eviction_and_restart() {
        let d = dir();
        let s = DiskStore::open(d.clone(), 3_000).unwrap();
        s.put("a", &tile(1000)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        s.put("b", &tile(1000)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            s.get("a").unwrap().body.len(),
            1000,
            "a is now the most recently used"
        );
        std::thread::sleep(Duration::from_millis(20));
        s.put("c", &tile(1000)).unwrap();
        assert!(s.get("b").is_none(), "the least recently used went");
        assert!(s.get("a").is_some() && s.get("c").is_some());
        assert!(s.size() <= 3_000);
        drop(s);
        let again = DiskStore::open(d, 3_000).unwrap();
        assert_eq!(
            again.get("c").unwrap().content_type,
            "image/png",
            "survives a restart"
        );
    }
}
