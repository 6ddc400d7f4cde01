//! The disk tile store: bounded in bytes, least recently used out first (an LRU list: O(1) per
//! read, write and eviction, whatever the number of files), atomic writes, keys hashed into file
//! names (nothing a request says can escape the folder), and it survives restarts (the index is
//! rebuilt from the folder at start, oldest write first). Its calls block on the file system:
//! async callers run them on tokio's blocking threads (`services::images`).

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use lru::LruCache;
use sha2::{Digest, Sha256};

/// One stored answer: its media type, validator, when it was fetched, and the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub content_type: String,
    pub etag: String,
    pub fetched: SystemTime,
    pub body: Bytes,
}

impl Stored {
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.fetched)
            .unwrap_or_default()
    }
}

/// A file's name: the SHA-256 of its key.
type Digest32 = [u8; 32];

/// The files held, least recently used first, with their sizes, and their total.
struct Index {
    files: LruCache<Digest32, u64>,
    total: u64,
}

pub struct DiskStore {
    dir: PathBuf,
    budget: u64,
    index: Mutex<Index>,
}

const MAGIC: &[u8] = b"geopf-tile 1\n";

fn digest_of(key: &str) -> Digest32 {
    Sha256::digest(key.as_bytes()).into()
}

/// The digest a stored file's path names, if it is one of the store's.
fn digest_in(shard: &str, name: &str) -> Option<Digest32> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(format!("{shard}{name}"), &mut digest).ok()?;
    Some(digest)
}

impl DiskStore {
    /// Opens (creating) the store in `dir`, indexing what a previous run left there.
    pub fn open(dir: PathBuf, budget: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut found = Vec::new();
        for shard in std::fs::read_dir(&dir)?.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else {
                continue;
            };
            let shard_name = shard.file_name().to_string_lossy().into_owned();
            for f in files.flatten() {
                let path = f.path();
                if path
                    .extension()
                    .is_some_and(|e| e.to_string_lossy().starts_with("tmp"))
                {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                let name = f.file_name().to_string_lossy().into_owned();
                let (Some(digest), Ok(meta)) = (digest_in(&shard_name, &name), f.metadata()) else {
                    continue;
                };
                let written = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((written, digest, meta.len()));
            }
        }
        // Oldest first: the least recently used end of the list.
        found.sort_by_key(|(written, _, _)| *written);
        let mut files = LruCache::unbounded();
        let mut total = 0;
        for (_, digest, size) in found {
            total += size;
            files.put(digest, size);
        }
        for shard in 0..=255u8 {
            std::fs::create_dir_all(dir.join(hex::encode([shard])))?;
        }
        let store = DiskStore {
            dir,
            budget,
            index: Mutex::new(Index { files, total }),
        };
        store.evict(&mut store.lock());
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path_of_digest(&self, digest: &Digest32) -> PathBuf {
        let hex = hex::encode(digest);
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// The file of a key: `<dir>/<2 hex>/<62 hex>`, from the key's SHA-256.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.path_of_digest(&digest_of(key))
    }

    /// The stored answer of `key`, read in one allocation (the body is a slice of it).
    pub fn get(&self, key: &str) -> Option<Stored> {
        let digest = digest_of(key);
        let bytes = std::fs::read(self.path_of_digest(&digest)).ok()?;
        let stored = decode(Bytes::from(bytes))?;
        self.lock().files.promote(&digest);
        Some(stored)
    }

    /// Writes atomically (a temporary file renamed over the old one), then evicts the least
    /// recently used files beyond the budget.
    pub fn put(&self, key: &str, stored: &Stored) -> std::io::Result<()> {
        let digest = digest_of(key);
        let path = self.path_of_digest(&digest);
        // One temporary name per process: a seeding run may write beside a serving gateway.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let header = header(stored);
        let mut bytes = Vec::with_capacity(MAGIC.len() + header.len() + stored.body.len());
        for part in [MAGIC, header.as_bytes(), &stored.body] {
            bytes.extend_from_slice(part);
        }
        // The shard folders are made at open; one removed since is made again.
        if let Err(e) = std::fs::write(&tmp, &bytes) {
            let parent = path
                .parent()
                .filter(|_| e.kind() == std::io::ErrorKind::NotFound);
            let Some(parent) = parent else {
                return Err(e);
            };
            std::fs::create_dir_all(parent)?;
            std::fs::write(&tmp, &bytes)?;
        }
        std::fs::rename(&tmp, &path)?;
        let size = bytes.len() as u64;
        let mut index = self.lock();
        let old = index.files.put(digest, size).unwrap_or(0);
        index.total = index.total + size - old;
        self.evict(&mut index);
        Ok(())
    }

    /// Files held.
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn size(&self) -> u64 {
        self.lock().total
    }

    /// Removes the least recently used files until the store is within its budget.
    fn evict(&self, index: &mut Index) {
        while index.total > self.budget {
            let Some((digest, size)) = index.files.pop_lru() else {
                break;
            };
            let _ = std::fs::remove_file(self.path_of_digest(&digest));
            index.total -= size;
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The header line of a stored file (after [`MAGIC`]), its newline included.
fn header(s: &Stored) -> String {
    let fetched = s
        .fetched
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut header =
        serde_json::json!({"content_type": s.content_type, "etag": s.etag, "fetched": fetched})
            .to_string();
    header.push('\n');
    header
}

fn decode(bytes: Bytes) -> Option<Stored> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let nl = rest.iter().position(|b| *b == b'\n')?;
    let header: serde_json::Value = serde_json::from_slice(&rest[..nl]).ok()?;
    let body_at = MAGIC.len() + nl + 1;
    Some(Stored {
        content_type: header["content_type"].as_str()?.to_string(),
        etag: header["etag"].as_str()?.to_string(),
        fetched: SystemTime::UNIX_EPOCH + Duration::from_secs(header["fetched"].as_u64()?),
        body: bytes.slice(body_at..),
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
            body: Bytes::from(vec![7; n]),
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
        assert_eq!(s.len(), 2);
        drop(s);
        let again = DiskStore::open(d, 3_000).unwrap();
        assert_eq!(
            again.get("c").unwrap().content_type,
            "image/png",
            "survives a restart"
        );
    }

    #[test]
    fn a_full_store_evicts_the_least_recently_used_and_accounts_every_byte() {
        let s = DiskStore::open(dir(), 50_000).unwrap();
        for i in 0..500 {
            s.put(&format!("k{i}"), &tile(1_000)).unwrap();
            assert!(s.size() <= 50_000);
        }
        let on_disk: u64 = walk(s.dir()).iter().map(|m| m.len()).sum();
        assert_eq!(on_disk, s.size(), "the index counts what the folder holds");
        assert_eq!(walk(s.dir()).len(), s.len());
        assert!(s.get("k499").is_some() && s.get("k0").is_none());
    }

    fn walk(d: &Path) -> Vec<std::fs::Metadata> {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .flat_map(|shard| std::fs::read_dir(shard.path()).unwrap().flatten())
            .map(|f| f.metadata().unwrap())
            .collect()
    }
}
