//! The processes the gateway runs (OGC API – Processes): their descriptions as data, the
//! [`ProcessProvider`] trait the services implement, and the registry that dispatches a process id
//! to its provider.

use std::{
    any::Any,
    borrow::Cow,
    sync::{Arc, OnceLock},
};

use serde_json::{json, Value};

use futures::future::BoxFuture;

use super::{inputs::Inputs, ServiceError};
use crate::cache::{kept::KeptBySource, CacheStatus};

/// How far a running process is, in percent; shared between the work and whoever follows it.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<std::sync::atomic::AtomicU8>);

impl Progress {
    pub fn set(&self, done: usize, total: usize) {
        let pct = (done * 100).checked_div(total).unwrap_or(100).min(100);
        self.0
            .store(pct as u8, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn get(&self) -> u8 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One output value of a run: its id, media type and value (JSON, or a string for text types).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutputValue {
    pub id: String,
    pub media_type: String,
    pub value: Value,
}

/// The result of a process run, its first output being the main one, and whether it came from
/// the cache.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub outputs: Vec<OutputValue>,
    pub cache_status: Option<CacheStatus>,
}

impl ProcessOutput {
    /// A single GeoJSON `result`.
    pub fn geojson(value: Value, cache_status: CacheStatus) -> Self {
        ProcessOutput {
            outputs: vec![OutputValue {
                id: OUTPUT_ID.into(),
                media_type: GEOJSON.into(),
                value,
            }],
            cache_status: Some(cache_status),
        }
    }

    /// The output `id`, or the main one when `id` is None.
    pub fn output(&self, id: Option<&str>) -> Option<&OutputValue> {
        match id {
            None => self.outputs.first(),
            Some(id) => self.outputs.iter().find(|o| o.id == id),
        }
    }

    /// Approximate size in bytes (for the job store's memory budget).
    pub fn weight(&self) -> usize {
        self.outputs
            .iter()
            .map(|o| match &o.value {
                Value::String(s) => s.len(),
                v => v.to_string().len(),
            })
            .sum()
    }
}

pub const GEOJSON: &str = "application/geo+json";

/// A text of a description: a literal for the built-in processes, owned for an adapter's.
pub type Text = Cow<'static, str>;

/// Keywords given as literals.
pub fn keywords(words: &[&'static str]) -> Vec<Text> {
    words.iter().map(|w| Text::Borrowed(w)).collect()
}

/// One output of a process: id, title, media type and JSON Schema.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub id: Text,
    pub title: Text,
    pub media_type: Text,
    pub schema: Value,
}

impl OutputSpec {
    /// The `result` output, a GeoJSON FeatureCollection.
    pub fn geojson(title: impl Into<Text>) -> Self {
        OutputSpec {
            id: OUTPUT_ID.into(),
            title: title.into(),
            media_type: GEOJSON.into(),
            schema: feature_collection_schema(),
        }
    }
}

/// One input of a process: its JSON Schema and how many values it takes.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: Text,
    pub title: Text,
    pub description: Text,
    pub schema: Value,
    pub required: bool,
}

/// What a process is: id, texts, inputs and outputs.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub id: Text,
    pub title: Text,
    pub description: Text,
    pub keywords: Vec<Text>,
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
}

impl InputSpec {
    pub fn new(
        name: impl Into<Text>,
        title: impl Into<Text>,
        description: impl Into<Text>,
        schema: Value,
    ) -> Self {
        InputSpec {
            name: name.into(),
            title: title.into(),
            description: description.into(),
            schema,
            required: false,
        }
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// The id of the main output of every process.
pub const OUTPUT_ID: &str = "result";

/// The JSON Schema of a GeoJSON FeatureCollection output.
pub fn feature_collection_schema() -> Value {
    json!({
        "type": "object",
        "contentMediaType": "application/geo+json",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object"}}
        }
    })
}

/// A service that runs processes: it describes them and runs them by id. Each provider knows its
/// own process ids; nothing else in the gateway lists them.
pub trait ProcessProvider: Send + Sync {
    /// The processes it runs, as described now (they may follow the upstream's capabilities).
    fn processes(&self) -> Vec<ProcessSpec>;

    /// What its descriptions are made from (capabilities, adapter files), compared by identity:
    /// while it is the same, the registry keeps the descriptions it built from it
    /// ([`fixed_descriptions`] for descriptions that never change). `None` (the default): they are
    /// built for every request.
    fn descriptions_source(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }

    /// Runs its process `id` on inputs already checked against the description, reporting how
    /// far it is through `progress`.
    fn execute<'a>(
        &'a self,
        id: &'a str,
        inputs: &'a Inputs,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<ProcessOutput, ServiceError>>;

    /// Checks `inputs` of process `id` as far as can be done without running it (the values, not
    /// only the names), so that a job is refused with a 400 rather than started to fail. By
    /// default only the description's checks apply.
    fn check(&self, _id: &str, _inputs: &Inputs) -> Result<(), ServiceError> {
        Ok(())
    }
}

/// The source of descriptions that never change: always the same, so they are built once.
pub fn fixed_descriptions() -> Arc<dyn Any + Send + Sync> {
    static FIXED: OnceLock<Arc<dyn Any + Send + Sync>> = OnceLock::new();
    FIXED.get_or_init(|| Arc::new(())).clone()
}

/// The error of a provider asked for a process it does not run.
pub fn no_such_process(id: &str) -> ServiceError {
    ServiceError::NotFound(format!("there is no process {id:?}"))
}

/// The registry of process providers: every process, in registration order.
#[derive(Clone)]
pub struct Processes {
    providers: Vec<Arc<dyn ProcessProvider>>,
    /// Per provider, the descriptions built from the source in use.
    kept: Arc<KeptBySource<usize, Descriptions>>,
}

type Descriptions = Arc<[Arc<ProcessSpec>]>;

impl Processes {
    /// The registry of `providers` (one line each where the app state is built).
    pub fn new(providers: Vec<Arc<dyn ProcessProvider>>) -> Self {
        let kept = Arc::new(KeptBySource::new(providers.len(), |i| *i));
        Processes { providers, kept }
    }

    /// The descriptions of provider `i`, kept while their source is the same.
    fn descriptions(&self, i: usize) -> Descriptions {
        let provider = &self.providers[i];
        let build = || provider.processes().into_iter().map(Arc::new).collect();
        match provider.descriptions_source() {
            Some(source) => self.kept.get_or_build(i, source, build),
            None => build(),
        }
    }

    /// The processes as described now.
    pub fn list(&self) -> Vec<Arc<ProcessSpec>> {
        (0..self.providers.len())
            .flat_map(|i| self.descriptions(i).to_vec())
            .collect()
    }

    /// The description of `id` and the provider that runs it.
    fn find(&self, id: &str) -> Option<(Arc<ProcessSpec>, &Arc<dyn ProcessProvider>)> {
        self.providers.iter().enumerate().find_map(|(i, provider)| {
            self.descriptions(i)
                .iter()
                .find(|p| p.id == id)
                .map(|spec| (spec.clone(), provider))
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<ProcessSpec>> {
        self.find(id).map(|(spec, _)| spec)
    }

    /// Checks what can be checked before a run: the process exists, every input is one of its
    /// own, every required input is there.
    pub fn validate(&self, id: &str, inputs: &Inputs) -> Result<Arc<ProcessSpec>, ServiceError> {
        let (spec, provider) = self.find(id).ok_or_else(|| no_such_process(id))?;
        check_inputs(&spec, inputs)?;
        provider.check(id, inputs)?;
        Ok(spec)
    }

    /// Runs process `id` on `inputs`.
    pub async fn execute(&self, id: &str, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        self.execute_with_progress(id, inputs, &Progress::default())
            .await
    }

    /// Runs process `id` on `inputs`, reporting how far it is through `progress`.
    pub async fn execute_with_progress(
        &self,
        id: &str,
        inputs: &Inputs,
        progress: &Progress,
    ) -> Result<ProcessOutput, ServiceError> {
        let (spec, provider) = self.find(id).ok_or_else(|| no_such_process(id))?;
        check_inputs(&spec, inputs)?;
        provider.execute(id, inputs, progress).await
    }
}

/// Every input is one of the process's own, every required input is there.
fn check_inputs(spec: &ProcessSpec, inputs: &Inputs) -> Result<(), ServiceError> {
    for name in inputs.names() {
        if !spec.inputs.iter().any(|i| i.name == name) {
            let known: Vec<_> = spec.inputs.iter().map(|i| i.name.as_ref()).collect();
            return Err(ServiceError::invalid(
                name,
                format!(
                    "is not an input of {} (inputs: {})",
                    spec.id,
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(missing) = spec
        .inputs
        .iter()
        .find(|i| i.required && inputs.raw(&i.name).is_none())
    {
        return Err(ServiceError::invalid(&missing.name, "is required"));
    }
    Ok(())
}
