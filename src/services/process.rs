//! The processes the gateway runs (OGC API – Processes): their descriptions as data, and the
//! dispatch from a process id to the service that executes it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{
    altimetry::AltimetryService, geocode::GeocodeService, inputs::Inputs,
    navigation::NavigationService, ServiceError,
};
use crate::cache::CacheStatus;

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

/// One output of a process: id, title, media type and JSON Schema.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub media_type: &'static str,
    pub schema: Value,
}

impl OutputSpec {
    /// The `result` output, a GeoJSON FeatureCollection.
    pub fn geojson(title: &'static str) -> Self {
        OutputSpec {
            id: OUTPUT_ID,
            title,
            media_type: GEOJSON,
            schema: feature_collection_schema(),
        }
    }
}

/// One input of a process: its JSON Schema and how many values it takes.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub schema: Value,
    pub required: bool,
}

/// What a process is: id, texts, inputs and outputs.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub keywords: &'static [&'static str],
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
}

impl InputSpec {
    pub fn new(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        schema: Value,
    ) -> Self {
        InputSpec {
            name,
            title,
            description,
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

/// Every process, in a stable order, and the service behind each.
#[derive(Clone)]
pub struct Processes {
    geocode: Arc<GeocodeService>,
    navigation: Arc<NavigationService>,
    altimetry: Arc<AltimetryService>,
}

impl Processes {
    pub fn new(
        geocode: Arc<GeocodeService>,
        navigation: Arc<NavigationService>,
        altimetry: Arc<AltimetryService>,
    ) -> Self {
        Processes {
            geocode,
            navigation,
            altimetry,
        }
    }

    /// The processes as described now (navigation ones follow the upstream's capabilities).
    pub fn list(&self) -> Vec<ProcessSpec> {
        let mut all = super::geocode::process_specs();
        all.extend(super::navigation::process_specs(
            &self.navigation.capabilities().caps,
        ));
        all.extend(super::altimetry::process_specs());
        all
    }

    pub fn get(&self, id: &str) -> Option<ProcessSpec> {
        self.list().into_iter().find(|p| p.id == id)
    }

    /// Checks what can be checked before a run: the process exists, every input is one of its
    /// own, every required input is there.
    pub fn validate(&self, id: &str, inputs: &Inputs) -> Result<ProcessSpec, ServiceError> {
        let spec = self
            .get(id)
            .ok_or_else(|| ServiceError::NotFound(format!("there is no process {id:?}")))?;
        for name in inputs.names() {
            if !spec.inputs.iter().any(|i| i.name == name) {
                let known: Vec<_> = spec.inputs.iter().map(|i| i.name).collect();
                return Err(ServiceError::invalid(
                    name,
                    format!("is not an input of {id} (inputs: {})", known.join(", ")),
                ));
            }
        }
        if let Some(missing) = spec
            .inputs
            .iter()
            .find(|i| i.required && inputs.raw(i.name).is_none())
        {
            return Err(ServiceError::invalid(missing.name, "is required"));
        }
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
        self.validate(id, inputs)?;
        match id {
            "batch-geocode" => self.geocode.batch_process(inputs, progress).await,
            "geocode" => self.geocode.geocode_process(inputs).await,
            "reverse-geocode" => self.geocode.reverse_process(inputs).await,
            "autocomplete" => self.geocode.autocomplete_process(inputs).await,
            "route" => self.navigation.route(inputs).await,
            "isochrone" => self.navigation.isochrone(inputs).await,
            "elevation" => self.altimetry.elevation(inputs).await,
            "elevation-profile" => self.altimetry.profile(inputs).await,
            other => Err(ServiceError::NotFound(format!(
                "there is no process {other:?}"
            ))),
        }
    }
}
