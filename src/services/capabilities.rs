//! Capabilities documents kept current: the last good copy loaded from disk at start (so the
//! catalogue is there at once and survives an upstream outage), refreshed with conditional
//! requests (`If-None-Match` / `If-Modified-Since`), parsed once per change, and described for
//! `/ready` (where the copy in use came from, its age, the last error).

use std::{
    collections::HashMap,
    ops::Deref,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use serde_json::{json, Value};

use super::ServiceError;
use crate::{
    cache::snapshot::{Snapshot, Snapshots},
    upstream::{SharedUpstream, UpstreamError, UpstreamRequest, Validators},
};

/// Where the document in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Nothing yet: the upstream has not answered and there was no snapshot.
    #[default]
    None,
    /// The snapshot on disk a previous run kept.
    Snapshot,
    /// The snapshot embedded in the binary (no snapshot on disk, the upstream not answered yet).
    Embedded,
    /// The upstream, during this run.
    Upstream,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::None => "none",
            Source::Snapshot => "disk snapshot",
            Source::Embedded => "embedded snapshot",
            Source::Upstream => "upstream",
        }
    }
}

/// The document in use and what was parsed from it.
#[derive(Debug)]
pub struct Current<T> {
    pub items: Arc<Vec<T>>,
    /// Where each item is in `items`, by its identifier.
    index: Arc<HashMap<String, usize>>,
    /// The document as the upstream wrote it.
    pub text: Arc<String>,
    pub validators: Validators,
    /// When the upstream produced (or last confirmed) this document.
    pub fetched_at: Option<SystemTime>,
    pub source: Source,
    /// The last refresh was answered 304: the upstream confirmed the copy in use.
    pub confirmed: bool,
    /// What the last new document added and removed (a renamed layer is one of each).
    pub changes: Option<Changes>,
    pub last_error: Option<String>,
}

/// The identifiers a new document added and removed, against the one it replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

impl Changes {
    fn between(old: &HashMap<String, usize>, new: &HashMap<String, usize>) -> Self {
        let mut added: Vec<String> = new
            .keys()
            .filter(|k| !old.contains_key(*k))
            .cloned()
            .collect();
        let mut removed: Vec<String> = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        added.sort();
        removed.sort();
        Changes { added, removed }
    }
}

impl<T> Clone for Current<T> {
    fn clone(&self) -> Self {
        Current {
            items: self.items.clone(),
            index: self.index.clone(),
            text: self.text.clone(),
            validators: self.validators.clone(),
            fetched_at: self.fetched_at,
            source: self.source,
            confirmed: self.confirmed,
            changes: self.changes.clone(),
            last_error: self.last_error.clone(),
        }
    }
}

impl<T> Default for Current<T> {
    fn default() -> Self {
        Current {
            items: Arc::new(Vec::new()),
            index: Arc::default(),
            text: Arc::new(String::new()),
            validators: Validators::default(),
            fetched_at: None,
            source: Source::None,
            confirmed: false,
            changes: None,
            last_error: None,
        }
    }
}

/// The parser of one kind of capabilities document.
pub type Parser<T> = fn(&str) -> Result<Vec<T>, String>;

/// The identifier of an item (a layer's id, a feature type's name).
pub type Identifier<T> = fn(&T) -> &str;

/// One item of the document in use, shared rather than copied (a tile request looks its layer up).
pub struct Item<T> {
    items: Arc<Vec<T>>,
    at: usize,
}

impl<T> Deref for Item<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.items[self.at]
    }
}

fn index_of<T>(items: &[T], id: Identifier<T>) -> Arc<HashMap<String, usize>> {
    let mut index = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        index.entry(id(item).to_string()).or_insert(i);
    }
    Arc::new(index)
}

/// How long a refreshed document stays shared with the replicas (cluster mode): replicas that
/// refresh at about the same time (they start together) read it instead of asking the upstream.
const SHARED_REFRESH: Duration = Duration::from_secs(600);

/// A capabilities document as the replicas share it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedDocument {
    text: String,
    validators: Validators,
}

/// One capabilities document of the upstream, kept current.
pub struct Capabilities<T> {
    /// The snapshot's file name and the name in logs and `/ready` (`wmts`, `wms-r`, `wfs`).
    pub name: &'static str,
    client: SharedUpstream,
    request: UpstreamRequest,
    parse: Parser<T>,
    id: Identifier<T>,
    snapshots: Option<Snapshots>,
    state: RwLock<Current<T>>,
    /// The last republished document: for which document (its address) and public URL.
    /// The document it was made from (held, so its identity cannot be reused), the public URL,
    /// the republished bytes.
    republished: Mutex<Option<(Arc<String>, String, Bytes)>>,
}

impl<T> Capabilities<T> {
    /// Starts from the snapshot on disk when there is a readable one.
    pub fn new(
        name: &'static str,
        client: SharedUpstream,
        request: UpstreamRequest,
        (parse, id): (Parser<T>, Identifier<T>),
        snapshots: Option<Snapshots>,
    ) -> Self {
        let mut current = Current::default();
        if let Some(snapshot) = snapshots.as_ref().and_then(|s| s.load(name)) {
            match parse(&snapshot.text) {
                Ok(items) => {
                    tracing::info!(
                        document = name,
                        items = items.len(),
                        "capabilities loaded from the disk snapshot"
                    );
                    current = Current {
                        index: index_of(&items, id),
                        items: Arc::new(items),
                        text: Arc::new(snapshot.text),
                        validators: Validators {
                            etag: snapshot.etag,
                            last_modified: snapshot.last_modified,
                        },
                        fetched_at: Some(snapshot.fetched_at),
                        source: Source::Snapshot,
                        confirmed: false,
                        changes: None,
                        last_error: None,
                    };
                }
                Err(e) => {
                    tracing::warn!(document = name, error = %e, "the disk snapshot is unreadable")
                }
            }
        }
        Capabilities {
            name,
            client,
            request,
            parse,
            id,
            snapshots,
            state: RwLock::new(current),
            republished: Mutex::new(None),
        }
    }

    /// Starts from the snapshot embedded in the binary, when nothing better is in use (no disk
    /// snapshot, no upstream answer yet).
    pub fn start_from_embedded(&self, embedded: &crate::catalog::embedded::Embedded) {
        if self.current().source != Source::None {
            return;
        }
        let parsed = embedded
            .text()
            .and_then(|text| Ok(((self.parse)(&text)?, text)));
        match parsed {
            Ok((items, text)) => {
                tracing::info!(
                    document = self.name,
                    items = items.len(),
                    recorded = embedded.recorded,
                    "capabilities taken from the embedded snapshot until the upstream answers"
                );
                let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
                if state.source == Source::None {
                    *state = Current {
                        index: index_of(&items, self.id),
                        items: Arc::new(items),
                        text: Arc::new(text),
                        validators: Validators::default(),
                        fetched_at: embedded.recorded_at(),
                        source: Source::Embedded,
                        confirmed: false,
                        changes: None,
                        last_error: None,
                    };
                }
            }
            Err(e) => {
                tracing::warn!(document = self.name, error = %e, "embedded snapshot unusable")
            }
        }
    }

    /// Whether the copy in use is not one the upstream gave (none, or the embedded one): worth
    /// asking the upstream now.
    pub fn wants_upstream(&self) -> bool {
        matches!(self.current().source, Source::None | Source::Embedded)
    }

    pub fn current(&self) -> Current<T> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The items in use.
    pub fn items(&self) -> Arc<Vec<T>> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .items
            .clone()
    }

    /// The document in use republished at `public` by `rewrite` (the gateway's URLs in it), kept
    /// until the document or the public URL changes: clients ask for capabilities often, and a
    /// rewrite of the 2 MB WMTS document is not free. None before any document is loaded.
    pub fn republished(
        &self,
        public: &str,
        rewrite: impl FnOnce(&Current<T>) -> String,
    ) -> Option<Bytes> {
        let current = self.current();
        if current.text.is_empty() {
            return None;
        }
        let mut kept = self.republished.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((d, p, bytes)) = kept.as_ref() {
            if Arc::ptr_eq(d, &current.text) && p == public {
                return Some(bytes.clone());
            }
        }
        let bytes = Bytes::from(rewrite(&current));
        *kept = Some((current.text.clone(), public.to_string(), bytes.clone()));
        Some(bytes)
    }

    /// `f` of the item whose identifier is `id`, under the read lock: no reference counted
    /// (the cached tiles' way, where every request would count on the same one).
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&T) -> R) -> Option<R> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let at = *state.index.get(id)?;
        state.items.get(at).map(f)
    }

    /// The item whose identifier is `id`.
    pub fn get(&self, id: &str) -> Option<Item<T>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let at = *state.index.get(id)?;
        Some(Item {
            items: state.items.clone(),
            at,
        })
    }

    /// The document if it changed since `held` (`None`: unchanged). In cluster mode one replica
    /// at a time asks the upstream and the others read its copy (shared for
    /// [`SHARED_REFRESH`]).
    async fn fetch(&self, held: &Current<T>) -> Result<Option<(String, Validators)>, ServiceError> {
        let Some((cluster, key)) = self.snapshots.as_ref().and_then(|s| s.shared(self.name)) else {
            return self.fetch_upstream(held).await;
        };
        let decode = |bytes: &[u8]| serde_json::from_slice::<SharedDocument>(bytes).ok();
        let (document, _) = cluster
            .fetch_once(&key, SHARED_REFRESH, decode, || async {
                let document = match self.fetch_upstream(held).await? {
                    Some((text, validators)) => SharedDocument { text, validators },
                    None => SharedDocument {
                        text: held.text.to_string(),
                        validators: held.validators.clone(),
                    },
                };
                let bytes = serde_json::to_vec(&document).ok();
                Ok::<_, ServiceError>((document, bytes))
            })
            .await?;
        if document.text == *held.text {
            return Ok(None);
        }
        Ok(Some((document.text, document.validators)))
    }

    /// The document from the upstream, conditionally on the copy in use (`None`: a 304).
    async fn fetch_upstream(
        &self,
        held: &Current<T>,
    ) -> Result<Option<(String, Validators)>, ServiceError> {
        let request = self.request.clone().if_changed(held.validators.clone());
        let r = self.client.get(&request).await?;
        if r.not_modified() {
            return Ok(None);
        }
        Ok(Some((
            String::from_utf8_lossy(&r.body).into_owned(),
            r.validators,
        )))
    }

    /// Writes the document in use as the snapshot on disk (on a blocking thread: the write is
    /// synced).
    async fn keep(&self, text: &str, validators: &Validators, fetched_at: SystemTime) {
        let Some(snapshots) = self.snapshots.clone() else {
            return;
        };
        let snapshot = Snapshot {
            text: text.to_string(),
            etag: validators.etag.clone(),
            last_modified: validators.last_modified.clone(),
            fetched_at,
        };
        let name = self.name;
        let saved = tokio::task::spawn_blocking(move || snapshots.save(name, &snapshot)).await;
        if let Ok(Err(e)) = saved {
            tracing::warn!(document = name, error = %e, "the capabilities snapshot could not be written");
        }
    }

    /// What `/ready` says of this document.
    pub fn status(&self) -> Value {
        let c = self.current();
        let age = c
            .fetched_at
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d: Duration| d.as_secs());
        json!({
            "items": c.items.len(),
            "source": c.source.name(),
            "fetched_at": c.fetched_at.map(crate::rfc3339::format),
            "age_s": age,
            "last_refresh": if c.confirmed { "unchanged (304)" } else if c.source == Source::Upstream { "new document" } else { "none yet" },
            // What the last new document changed: a layer gone is named, not a silent blank map.
            "changes": c.changes.as_ref().map(|ch| json!({
                "added": ch.added.len(),
                "added_ids": ch.added.iter().take(50).collect::<Vec<_>>(),
                "removed": ch.removed.len(),
                "removed_ids": ch.removed.iter().take(50).collect::<Vec<_>>(),
            })),
            "last_error": c.last_error,
        })
    }
}

impl<T: Send + Sync + 'static> Capabilities<T> {
    /// Asks the upstream for the document, conditionally on the copy in use; a new document
    /// replaces it (and the snapshot) only once parsed. On failure the copy in use stays.
    /// Returns the number of items in use.
    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        let held = self.current();
        let result = match self.fetch(&held).await {
            Ok(None) => Ok(None),
            Ok(Some((text, validators))) => {
                // A capabilities document is megabytes of XML: parsed on a blocking thread.
                let parse = self.parse;
                let parsed = tokio::task::spawn_blocking(move || (parse(&text), text)).await;
                let (items, text) = parsed.map_err(|e| UpstreamError::BadBody {
                    api: self.request.api,
                    reason: format!("the parser stopped: {e}"),
                })?;
                items
                    .map(|items| Some((items, text, validators)))
                    .map_err(|reason| {
                        ServiceError::Upstream(UpstreamError::BadBody {
                            api: self.request.api,
                            reason,
                        })
                    })
            }
            Err(e) => Err(e),
        };
        let now = SystemTime::now();
        // The snapshot is written before the state is locked (readers never wait on the disk). On
        // a 304 its date follows, so a restart reports the age since the last check.
        match &result {
            Ok(None) => self.keep(&held.text, &held.validators, now).await,
            Ok(Some((_, text, validators))) => self.keep(text, validators, now).await,
            Err(_) => {}
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(None) => {
                tracing::debug!(document = self.name, "capabilities unchanged (304)");
                state.fetched_at = Some(now);
                state.source = Source::Upstream;
                state.confirmed = true;
                state.last_error = None;
                Ok(state.items.len())
            }
            Ok(Some((items, text, validators))) => {
                let n = items.len();
                let index = index_of(&items, self.id);
                // The first document of a run has nothing to compare with, unless a snapshot
                // stood in for it.
                let changes =
                    (state.source != Source::None).then(|| Changes::between(&state.index, &index));
                if let Some(c) = changes.as_ref().filter(|c| !c.removed.is_empty()) {
                    tracing::warn!(document = self.name, removed = ?c.removed, "layers gone from the capabilities: requests for them now answer 404");
                }
                if let Some(c) = changes.as_ref().filter(|c| !c.added.is_empty()) {
                    tracing::info!(
                        document = self.name,
                        added = c.added.len(),
                        "new layers in the capabilities"
                    );
                }
                *state = Current {
                    index,
                    items: Arc::new(items),
                    text: Arc::new(text),
                    validators,
                    fetched_at: Some(now),
                    source: Source::Upstream,
                    confirmed: false,
                    changes,
                    last_error: None,
                };
                Ok(n)
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(self: Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let what = self.name;
        super::spawn_refresh(self, what, every, |s| async move { s.refresh().await })
    }
}

/// Every link (`xlink:href`) inside the document's `section` (its opening and closing tags: the
/// operations metadata) set to `public`: the document may name another host than the configured
/// upstream (a mirror, a recording).
pub fn point_operations_at(xml: &str, section: (&str, &str), public: &str) -> String {
    let Some(start) = xml.find(section.0) else {
        return xml.to_string();
    };
    // The closing tag after the opening one (a malformed document may have one before).
    let Some(end) = xml[start..].find(section.1).map(|e| start + e) else {
        return xml.to_string();
    };
    let mut section = String::with_capacity(end - start);
    let mut rest = &xml[start..end];
    while let Some(i) = rest.find("xlink:href=\"") {
        let value_start = i + "xlink:href=\"".len();
        section.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        let Some(close) = rest.find('"') else { break };
        let value = &rest[..close];
        section.push_str(public);
        if value.ends_with('?') {
            section.push('?');
        }
        rest = &rest[close..];
    }
    section.push_str(rest);
    format!("{}{}{}", &xml[..start], section, &xml[end..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_urls_point_at_the_gateway() {
        let xml = r#"<a><ows:OperationsMetadata><ows:Get xlink:href="https://data.geopf.fr/wmts"/><ows:Get xlink:href="https://mirror/wmts?"/></ows:OperationsMetadata><LegendURL xlink:href="https://data.geopf.fr/legend.png"/></a>"#;
        let section = ("<ows:OperationsMetadata", "</ows:OperationsMetadata>");
        let out = super::point_operations_at(xml, section, "http://gw/wmts");
        assert_eq!(out.matches("http://gw/wmts").count(), 2);
        assert!(out.contains("http://gw/wmts?\""));
        assert!(
            out.contains("https://data.geopf.fr/legend.png"),
            "legends are not WMTS operations"
        );
        // A closing tag before the opening one: left as it is, no panic.
        let odd = "</ows:OperationsMetadata><ows:OperationsMetadata><ows:Get xlink:href=\"x\"/>";
        assert_eq!(super::point_operations_at(odd, section, "http://gw"), odd);
    }
}
