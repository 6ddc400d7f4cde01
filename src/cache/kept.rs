//! Values built from a source — a capabilities document in use, a set of adapter files — and kept
//! while that source is the one in use. Sources are compared by identity (`Arc::ptr_eq`) and held,
//! so that a dropped source's address cannot be taken by a new one while compared.

use std::{
    any::Any,
    sync::{Arc, Mutex},
};

/// What a value was built from.
pub type Source = Arc<dyn Any + Send + Sync>;

/// At most `bound` values, each under a key; keys sharing a `group` (the same provider, say) drop
/// what an older source built when a newer one arrives.
pub struct KeptBySource<K, V> {
    entries: Mutex<Vec<(K, Source, V)>>,
    bound: usize,
    group: fn(&K) -> usize,
}

impl<K: PartialEq, V: Clone> KeptBySource<K, V> {
    pub fn new(bound: usize, group: fn(&K) -> usize) -> Self {
        KeptBySource {
            entries: Mutex::new(Vec::new()),
            bound: bound.max(1),
            group,
        }
    }

    /// The value kept for `key` if it was built from `source`, else `build()`'s, then kept.
    pub fn get_or_build(&self, key: K, source: Source, build: impl FnOnce() -> V) -> V {
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, v)) = entries
                .iter()
                .find(|(k, s, _)| *k == key && Arc::ptr_eq(s, &source))
            {
                return v.clone();
            }
        }
        let value = build();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let group = (self.group)(&key);
        entries
            .retain(|(k, s, _)| *k != key && ((self.group)(k) != group || Arc::ptr_eq(s, &source)));
        if entries.len() >= self.bound {
            entries.remove(0);
        }
        entries.push((key, source, value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_while_the_source_is_the_same() {
        let kept: KeptBySource<(usize, u8), u32> = KeptBySource::new(8, |k| k.0);
        let first: Source = Arc::new(1u8);
        let mut builds = 0;
        for _ in 0..3 {
            kept.get_or_build((0, 0), first.clone(), || {
                builds += 1;
                7
            });
        }
        assert_eq!(builds, 1);
        assert_eq!(kept.get_or_build((0, 1), first.clone(), || 8), 8);
        // A new source of group 0: built again, and what the old one built is dropped.
        let second: Source = Arc::new(2u8);
        assert_eq!(kept.get_or_build((0, 0), second.clone(), || 9), 9);
        assert_eq!(kept.entries.lock().unwrap().len(), 1);
        assert_eq!(kept.get_or_build((0, 0), second, || 10), 9);
    }

    #[test]
    fn bounded() {
        let kept: KeptBySource<usize, usize> = KeptBySource::new(2, |k| *k);
        let source: Source = Arc::new(());
        for k in 0..5 {
            kept.get_or_build(k, source.clone(), || k);
        }
        assert_eq!(kept.entries.lock().unwrap().len(), 2);
    }
}
