//! A page of features as services hand it to the OGC API layer: either features of its own, or a
//! view — positions in an array — into a shared cached answer, so that a cache hit copies no
//! feature: the page is written out straight from the cached data.

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::CachedJson;

#[derive(Debug, Clone)]
pub enum PageFeatures {
    Owned(Vec<Value>),
    /// These positions of the array at `member` of a cached answer (its root when `None`).
    Shared {
        answer: CachedJson,
        member: Option<&'static str>,
        at: Vec<u32>,
    },
}

impl PageFeatures {
    /// A view of positions `at` of the array `member` of `answer` (the root: `None`).
    pub fn shared(
        answer: CachedJson,
        member: Option<&'static str>,
        at: impl IntoIterator<Item = usize>,
    ) -> Self {
        let at = at
            .into_iter()
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        PageFeatures::Shared { answer, member, at }
    }

    pub fn len(&self) -> usize {
        match self {
            PageFeatures::Owned(features) => features.len(),
            PageFeatures::Shared { at, .. } => at.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = &Value> + Send + '_> {
        match self {
            PageFeatures::Owned(features) => Box::new(features.iter()),
            PageFeatures::Shared { answer, member, at } => {
                let array = match member {
                    Some(m) => &answer.value[*m],
                    None => &answer.value,
                };
                let all = array.as_array().map_or(&[][..], Vec::as_slice);
                Box::new(at.iter().filter_map(|i| all.get(*i as usize)))
            }
        }
    }
}

impl From<Vec<Value>> for PageFeatures {
    fn from(features: Vec<Value>) -> Self {
        PageFeatures::Owned(features)
    }
}

impl Serialize for PageFeatures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}
