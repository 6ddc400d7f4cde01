//! Declarative adapters (DESIGN §7): a Géoplateforme REST service declared in a TOML file becomes
//! a process or a collection, with no Rust change. This module owns the files' life: reading them
//! (the ones shipped in `adapters/`, embedded at build time, and those of `adapters.dir`), checking
//! them ([`compile`]: every problem names its file, key and reason), reloading them on SIGHUP, and
//! the [`AdapterSet`] that serves them as a process provider and a collection provider.

mod collection;
mod inputs;
mod mapping;
mod process;
pub mod spec;
mod template;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use serde_json::Value;

use self::{
    inputs::Input,
    mapping::{Mapped, Mapping},
    spec::{AdapterFile, Kind, Method},
    template::Templates,
};
use crate::{
    cache::{CacheKind, CacheStatus},
    services::{Fetcher, ServiceError},
    upstream::{Api, UpstreamError, UpstreamRequest},
};

/// The adapter files shipped with the gateway (`adapters/*.toml`), by path.
pub const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_adapters.rs"));

/// The largest adapter file read, and the most files read from one folder.
const MAX_FILE_BYTES: u64 = 256 * 1024;
const MAX_FILES: usize = 500;

/// Parameter names a collection's own inputs may not take (the items request's standard ones).
const COLLECTION_PARAMS: [&str; 7] = ["f", "limit", "offset", "bbox", "bbox-crs", "crs", "q"];

/// The variables a request template sees, by name.
pub type Variables = Vec<(String, minijinja::Value)>;

/// A file's name and its text, or why it could not be read.
type FileText = (String, Result<String, String>);

/// A file that could not be used: which, where in it, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

/// One adapter, checked and compiled: ready to build upstream requests and map their answers.
pub struct Adapter {
    pub file: AdapterFile,
    /// Where it was read from (`adapters/x.toml`, or a path under `adapters.dir`).
    pub source: String,
    api: Api,
    /// The bucket of an API the gateway does not know, declared with `quota`.
    bucket: Option<Arc<DefaultDirectRateLimiter>>,
    cache: CacheKind,
    templates: Templates,
    inputs: Vec<Input>,
    mapping: Mapping,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("id", &self.file.id)
            .field("source", &self.source)
            .finish()
    }
}

/// What is known when a file is checked: the ids already taken and the quota buckets already made.
pub struct Checks<'a> {
    pub taken: &'a HashSet<String>,
    pub buckets: &'a Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
}

/// Checks and compiles one adapter file's text.
pub fn compile(source: &str, text: &str, checks: &Checks<'_>) -> Result<Adapter, Problem> {
    let problem = |key: &str, reason: String| Problem {
        file: source.to_string(),
        key: key.to_string(),
        reason,
    };
    let file: AdapterFile = toml::from_str(text).map_err(|e| {
        let key = e.span().map_or(String::new(), |span| {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.lines().count().max(1);
            format!("line {line}")
        });
        problem(&key, e.message().to_string())
    })?;
    let id_ok = !file.id.is_empty()
        && file.id.len() <= 64
        && file
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && file.id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !id_ok {
        return Err(problem(
            "id",
            format!(
                "{:?} must be 1 to 64 lowercase letters, digits, '-' or '_'",
                file.id
            ),
        ));
    }
    if checks.taken.contains(&file.id) {
        return Err(problem(
            "id",
            format!(
                "{:?} is already taken by another process or collection",
                file.id
            ),
        ));
    }
    if file.title.trim().is_empty() {
        return Err(problem("title", "must not be empty".into()));
    }
    let (api, bucket) = match (Api::from_config_name(&file.api), file.quota) {
        (Some(api), None) if api != Api::Adapter => (api, None),
        (_, Some(rate)) => {
            let bucket = crate::upstream::bucket_for(rate).map(|quota| {
                let mut buckets = checks.buckets.lock().unwrap_or_else(|e| e.into_inner());
                buckets
                    .entry(format!("{}/{rate}", file.api))
                    .or_insert_with(|| Arc::new(RateLimiter::direct(quota)))
                    .clone()
            });
            let api = Api::from_config_name(&file.api).unwrap_or(Api::Adapter);
            (api, if api == Api::Adapter { bucket } else { None })
        }
        (_, None) => {
            return Err(problem(
                "api",
                format!(
                    "{:?} is not an API the gateway knows ({}); declare `quota` (requests per second) to make it a new bucket",
                    file.api,
                    Api::config_names()
                        .into_iter()
                        .filter(|n| *n != Api::Adapter.config_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    let cache = match file.cache_ttl_s {
        Some(secs) => CacheKind::Seconds(u32::try_from(secs).unwrap_or(u32::MAX)),
        None => cache_kind_of(api),
    };
    check_path_template(&file.request.path).map_err(|reason| problem("request.path", reason))?;
    if file.request.body.is_some() && file.request.method != Method::POST {
        return Err(problem(
            "request.body",
            "a body needs method = \"POST\"".into(),
        ));
    }
    let mut templates = Templates::new();
    templates
        .add("path", &file.request.path)
        .map_err(|r| problem("request.path", r))?;
    for (name, source) in &file.request.query {
        templates
            .add(&format!("query.{name}"), source)
            .map_err(|r| problem(&format!("request.query.{name}"), r))?;
    }
    for (name, source) in &file.request.headers {
        check_header(name).map_err(|r| problem(&format!("request.headers.{name}"), r))?;
        templates
            .add(&format!("header.{name}"), source)
            .map_err(|r| problem(&format!("request.headers.{name}"), r))?;
    }
    if let Some(body) = &file.request.body {
        templates
            .add("body", body)
            .map_err(|r| problem("request.body", r))?;
    }
    let mut inputs = Vec::new();
    for (name, decl) in &file.inputs {
        let key = format!("inputs.{name}");
        let name_ok = name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(problem(
                &key,
                "an input name is letters, digits and '_' (templates use it as a variable)".into(),
            ));
        }
        if file.kind == Kind::Collection && COLLECTION_PARAMS.contains(&name.as_str()) {
            return Err(problem(
                &key,
                format!("{name:?} is a standard items parameter; the template sees it already"),
            ));
        }
        inputs.push(Input::compile(name, decl).map_err(|r| problem(&key, r))?);
    }
    let mapping =
        Mapping::compile(&file.response).map_err(|(key, reason)| problem(&key, reason))?;
    match (file.kind, &file.collection) {
        (Kind::Process, Some(_)) => {
            return Err(problem(
                "collection",
                "only a kind = \"collection\" has a [collection] table".into(),
            ))
        }
        (Kind::Collection, Some(c)) if c.max_limit == Some(0) => {
            return Err(problem("collection.max_limit", "must be at least 1".into()))
        }
        (Kind::Collection, Some(c)) => {
            if let Some([w, s, e, n]) = c.extent {
                if !(w <= e
                    && s <= n
                    && (-180.0..=180.0).contains(&w)
                    && (-180.0..=180.0).contains(&e)
                    && (-90.0..=90.0).contains(&s)
                    && (-90.0..=90.0).contains(&n))
                {
                    return Err(problem(
                        "collection.extent",
                        "must be west, south, east, north in WGS84 degrees".into(),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(Adapter {
        source: source.to_string(),
        api,
        bucket,
        cache,
        templates,
        inputs,
        mapping,
        file,
    })
}

/// How long an answer of `api` is kept, when the file does not say.
fn cache_kind_of(api: Api) -> CacheKind {
    match api {
        Api::Geocoding => CacheKind::Geocoding,
        Api::Completion => CacheKind::Completion,
        Api::Route | Api::Isochrone => CacheKind::Navigation,
        Api::Altimetry => CacheKind::Altimetry,
        Api::WmsRaster | Api::WmsVector | Api::Wmts => CacheKind::Tiles,
        Api::Wfs | Api::Recherche | Api::Other | Api::Adapter => CacheKind::Features,
    }
}

/// The path template stays below the upstream's base URL: relative, no scheme, no `..`, no query.
fn check_path_template(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(format!(
            "{path:?} must start with one '/' (it is relative to upstream.base_url)"
        ));
    }
    if path.contains("://") || path.contains('\\') || path.contains('?') || path.contains('#') {
        return Err(format!("{path:?} must be a path only: no scheme, host, query or fragment (query parameters go in request.query)"));
    }
    if path.split('/').any(|s| s == "..") {
        return Err(format!("{path:?} must not climb with '..'"));
    }
    Ok(())
}

/// Headers an adapter may not set: the key and identity the gateway owns, and framing.
fn check_header(name: &str) -> Result<(), String> {
    const OWNED: [&str; 9] = [
        "authorization",
        "x-key",
        "apikey",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "x-request-id",
    ];
    let lower = name.to_ascii_lowercase();
    if OWNED.contains(&lower.as_str()) {
        return Err(format!("{name} is set by the gateway, not by an adapter"));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok(())
}

/// The characters of a rendered path segment sent as they are; the rest are percent-encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'%');

impl Adapter {
    pub fn id(&self) -> &str {
        &self.file.id
    }

    pub fn kind(&self) -> Kind {
        self.file.kind
    }

    /// The template variables of `inputs`: each declared input's checked value or default.
    fn variables(
        &self,
        inputs: &crate::services::inputs::Inputs,
    ) -> Result<Variables, ServiceError> {
        let mut vars = Vec::new();
        for input in &self.inputs {
            if let Some(value) = input.value(inputs)? {
                vars.push((input.name.clone(), value));
            }
        }
        Ok(vars)
    }

    fn failed(&self, reason: impl Into<String>) -> ServiceError {
        ServiceError::Adapter {
            id: self.file.id.clone(),
            reason: reason.into(),
        }
    }

    /// The upstream request for template variables `vars`.
    fn request(
        &self,
        vars: &[(String, minijinja::Value)],
    ) -> Result<UpstreamRequest, ServiceError> {
        let context = minijinja::Value::from_pairs(vars.iter().cloned());
        let render = |name: &str| {
            self.templates
                .render(name, &context)
                .map_err(|e| self.failed(format!("{name}: {e}")))
        };
        let rendered = render("path")?;
        if rendered.split('/').any(|s| s == ".." || s == ".")
            || !rendered.starts_with('/')
            || rendered.starts_with("//")
        {
            return Err(ServiceError::invalid(
                "path",
                format!("the inputs make the upstream path {rendered:?}, which leaves the API"),
            ));
        }
        let path: String = rendered
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/");
        let mut request = UpstreamRequest::new(self.api, path);
        for name in self.file.request.query.keys() {
            let value = render(&format!("query.{name}"))?;
            // An optional input left out leaves its parameter out.
            if !value.is_empty() {
                request = request.param(name, value);
            }
        }
        for name in self.file.request.headers.keys() {
            let value = render(&format!("header.{name}"))?;
            if !value.is_empty() {
                request.headers.push((name.clone(), value));
            }
        }
        if self.file.request.method == Method::POST {
            let body = if self.templates.has("body") {
                render("body")?
            } else {
                String::new()
            };
            let content_type = self
                .file
                .request
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".into());
            request = request.post(content_type, Bytes::from(body));
        }
        Ok(request)
    }

    /// Calls the upstream for `vars` (through the cache) and maps its answer.
    async fn call(
        &self,
        fetcher: &Fetcher,
        vars: &[(String, minijinja::Value)],
        queue_timeout: Duration,
    ) -> Result<(Mapped, CacheStatus), ServiceError> {
        let request = self.request(vars)?;
        if let Some(bucket) = &self.bucket {
            tokio::time::timeout(queue_timeout, bucket.until_ready())
                .await
                .map_err(|_| {
                    ServiceError::Upstream(UpstreamError::QueueFull {
                        api: self.api,
                        retry_after_s: 1,
                    })
                })?;
        }
        let (answer, status) = fetcher.raw_json(request, self.cache).await?;
        Ok((self.mapping.map(&answer.value), status))
    }
}

/// The adapters in force and the files that could not be used.
#[derive(Debug, Default)]
pub struct Loaded {
    pub adapters: Vec<Arc<Adapter>>,
    pub problems: Vec<Problem>,
}

/// Where adapter files come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Load the files shipped in the binary.
    pub shipped: bool,
    /// A folder of `*.toml` files (`adapters.dir`).
    pub dir: Option<PathBuf>,
}

/// Reads the files of `sources` and compiles them: the usable ones, and a problem per other file.
/// Ids must be unique: among files, and against `reserved` (the built-in processes and
/// collections).
pub fn load(
    sources: &Sources,
    reserved: &HashSet<String>,
    buckets: &Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
) -> Loaded {
    let mut texts: Vec<FileText> = Vec::new();
    if sources.shipped {
        texts.extend(
            SHIPPED
                .iter()
                .map(|(name, text)| (name.to_string(), Ok(text.to_string()))),
        );
    }
    let mut loaded = Loaded::default();
    if let Some(dir) = &sources.dir {
        match read_dir(dir) {
            Ok(files) => texts.extend(files),
            Err(reason) => loaded.problems.push(Problem {
                file: dir.display().to_string(),
                key: String::new(),
                reason,
            }),
        }
    }
    let mut taken = reserved.clone();
    for (source, text) in texts {
        let compiled = text
            .map_err(|reason| Problem {
                file: source.clone(),
                key: String::new(),
                reason,
            })
            .and_then(|text| {
                compile(
                    &source,
                    &text,
                    &Checks {
                        taken: &taken,
                        buckets,
                    },
                )
            });
        match compiled {
            Ok(adapter) => {
                taken.insert(adapter.file.id.clone());
                loaded.adapters.push(Arc::new(adapter));
            }
            Err(problem) => loaded.problems.push(problem),
        }
    }
    loaded
}

/// The `*.toml` files of `dir`, in name order, each read or refused (too large, unreadable).
fn read_dir(dir: &Path) -> Result<Vec<FileText>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder ({e})"))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    if paths.len() > MAX_FILES {
        return Err(format!(
            "{} adapter files; at most {MAX_FILES} are read",
            paths.len()
        ));
    }
    Ok(paths
        .into_iter()
        .map(|path| {
            let text = match std::fs::metadata(&path) {
                Ok(m) if m.len() > MAX_FILE_BYTES => Err(format!(
                    "{} bytes; an adapter file is at most {MAX_FILE_BYTES}",
                    m.len()
                )),
                Ok(_) => {
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read it ({e})"))
                }
                Err(e) => Err(format!("cannot read it ({e})")),
            };
            (path.display().to_string(), text)
        })
        .collect())
}

/// The adapters the gateway serves now, swapped whole on reload; a process provider and a
/// collection provider in the registries.
pub struct AdapterSet {
    current: RwLock<Arc<Loaded>>,
    sources: Sources,
    reserved: HashSet<String>,
    buckets: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    fetcher: Fetcher,
    queue_timeout: Duration,
    /// Collection items served lately, by caller, collection and feature id (they back
    /// `items/{featureId}`).
    known: moka::sync::Cache<(String, String, String), Arc<Value>>,
}

impl AdapterSet {
    /// Loads the adapters of `sources`, logging each file that cannot be used.
    pub fn new(
        sources: Sources,
        reserved: HashSet<String>,
        fetcher: Fetcher,
        queue_timeout: Duration,
        known_features: u64,
    ) -> Self {
        let set = AdapterSet {
            current: RwLock::new(Arc::default()),
            sources,
            reserved,
            buckets: Mutex::default(),
            fetcher,
            queue_timeout,
            known: moka::sync::Cache::builder()
                .max_capacity(known_features)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        };
        set.reload();
        set
    }

    /// Reads the files again and puts the result in force (what was in force stays for the
    /// requests already running). Returns the new set.
    pub fn reload(&self) -> Arc<Loaded> {
        let loaded = Arc::new(load(&self.sources, &self.reserved, &self.buckets));
        for p in &loaded.problems {
            tracing::warn!(file = %p.file, key = %p.key, reason = %p.reason, "adapter skipped");
        }
        tracing::info!(
            adapters = loaded.adapters.len(),
            skipped = loaded.problems.len(),
            "adapters loaded"
        );
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded.clone();
        loaded
    }

    /// What `/ready` says of the adapters: those in force (id, kind, file) and the files skipped
    /// with their key and reason.
    pub fn report(&self) -> Value {
        let loaded = self.current();
        serde_json::json!({
            "loaded": loaded.adapters.iter().map(|a| serde_json::json!({
                "id": a.id(),
                "kind": match a.kind() { Kind::Process => "process", Kind::Collection => "collection" },
                "file": a.source,
            })).collect::<Vec<_>>(),
            "problems": loaded.problems,
        })
    }

    /// The adapters in force.
    pub fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn find(&self, kind: Kind, id: &str) -> Option<Arc<Adapter>> {
        self.current()
            .adapters
            .iter()
            .find(|a| a.kind() == kind && a.id() == id)
            .cloned()
    }

    /// The adapters of `kind` in force.
    fn of_kind(&self, kind: Kind) -> Vec<Arc<Adapter>> {
        self.current()
            .adapters
            .iter()
            .filter(|a| a.kind() == kind)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests;
