//! Uploaded inputs (a large CSV for batch geocoding, say): stored in memory for a while, bounded in
//! bytes, and referred to by the gateway's own `/uploads/{id}` URL in an execute request.

use std::time::Duration;

use bytes::Bytes;
use moka::sync::Cache;

pub struct Uploads {
    store: Cache<String, Bytes>,
}

impl Uploads {
    pub fn new(budget_bytes: u64, ttl: Duration) -> Self {
        Uploads {
            store: Cache::builder()
                .max_capacity(budget_bytes)
                .weigher(|_: &String, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Keeps `data`; returns its id.
    pub fn put(&self, data: Bytes) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.store.insert(id.clone(), data);
        id
    }

    pub fn get(&self, id: &str) -> Option<Bytes> {
        self.store.get(id)
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

    #[test]
    fn only_upload_ids_are_taken_from_hrefs() {
        assert_eq!(Uploads::id_of("http://h/uploads/0a-1b"), Some("0a-1b"));
        assert_eq!(Uploads::id_of("http://h/uploads/../../etc/passwd"), None);
        assert_eq!(Uploads::id_of("https://evil.example/data.csv"), None);
    }
}
