//! The features the gateway has already fetched, per collection, bounded, in the order they were
//! first seen (so that paging through them stays stable while new ones arrive at the end).
//! They answer `items/{id}` and the item list when no search is given.

use std::sync::Mutex;

use indexmap::IndexMap;
use serde_json::Value;

use crate::geo::{point_of, Bbox};

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

    /// One page of the features that pass `keep`, oldest first, and how many pass in all.
    pub fn page(
        &self,
        keep: impl Fn(&Value) -> bool,
        offset: usize,
        limit: usize,
    ) -> (Vec<Value>, usize) {
        let map = self.features.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = 0;
        let mut page = Vec::new();
        for f in map.values().filter(|f| keep(f)) {
            if total >= offset && page.len() < limit {
                page.push(f.clone());
            }
            total += 1;
        }
        (page, total)
    }

    /// The box around every known point feature.
    pub fn extent(&self) -> Option<Bbox> {
        let map = self.features.lock().unwrap_or_else(|e| e.into_inner());
        Bbox::around(map.values().filter_map(|f| point_of(&f["geometry"])))
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
        let (page, total) = k.page(|_| true, 0, 10);
        let ids: Vec<_> = page.iter().map(|f| f["id"].clone()).collect();
        assert_eq!((ids, total), (vec![json!("b"), json!("c")], 2));
        let (page, total) = k.page(|f| f["id"] != "b", 0, 10);
        assert_eq!((page.len(), total), (1, 1));
        assert_eq!(k.page(|_| true, 1, 1).0[0]["id"], "c");
        assert!(k.get("a").is_none());
        assert_eq!(k.get("b").unwrap()["v"], 2);
    }
}
