//! The features the gateway has already fetched, per collection, bounded, in the order they were
//! first seen (so that paging through them stays stable while new ones arrive at the end).
//! They answer `items/{id}` and the item list when no search is given.

use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::Value;

pub struct KnownFeatures {
    capacity: usize,
    features: Mutex<IndexMap<String, Value>>,
}

impl KnownFeatures {
    pub fn new(capacity: usize) -> Self {
        KnownFeatures {
            capacity,
            features: Mutex::new(IndexMap::new()),
        }
    }

    /// Remembers features (each must have a string `id`); a known id keeps its place.
    pub fn remember(&self, features: &[Value]) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.features.lock().unwrap_or_else(|e| e.into_inner());
        for f in features {
            if let Some(id) = f.get("id").and_then(Value::as_str) {
                map.insert(id.to_string(), f.clone());
            }
        }
        let excess = map.len().saturating_sub(self.capacity);
        if excess > 0 {
            map.drain(..excess);
        }
    }

    pub fn get(&self, id: &str) -> Option<Value> {
        let map = self.features.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).cloned()
    }

    /// A snapshot of the features that pass `keep`, oldest first.
    pub fn list(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        let map = self.features.lock().unwrap_or_else(|e| e.into_inner());
        map.values().filter(|f| keep(f)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounded_in_first_seen_order() {
        let k = KnownFeatures::new(2);
        k.remember(&[json!({"id": "a"}), json!({"id": "b"})]);
        k.remember(&[json!({"id": "b", "v": 2}), json!({"id": "c"})]);
        let ids: Vec<_> = k.list(|_| true).iter().map(|f| f["id"].clone()).collect();
        assert_eq!(ids, vec![json!("b"), json!("c")]);
        assert!(k.get("a").is_none());
        assert_eq!(k.get("b").unwrap()["v"], 2);
    }
}
