//! The processes the gateway runs (OGC API – Processes): their descriptions as data, and the
//! dispatch from a process id to the service that executes it.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{geocode::GeocodeService, inputs::Inputs, ServiceError};
use crate::cache::CacheStatus;

/// The result of a process run: a GeoJSON FeatureCollection, and whether it came from the cache.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub value: Value,
    pub cache_status: CacheStatus,
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

/// What a process is: id, texts, inputs; every process here returns one GeoJSON output `result`.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub keywords: &'static [&'static str],
    pub inputs: Vec<InputSpec>,
    pub output_title: &'static str,
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

/// The id of the single output of every process.
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
    specs: Arc<Vec<ProcessSpec>>,
}

impl Processes {
    pub fn new(geocode: Arc<GeocodeService>) -> Self {
        let specs = Arc::new(super::geocode::process_specs());
        Processes { geocode, specs }
    }

    pub fn list(&self) -> &[ProcessSpec] {
        &self.specs
    }

    pub fn get(&self, id: &str) -> Option<&ProcessSpec> {
        self.specs.iter().find(|p| p.id == id)
    }

    /// Runs process `id` on `inputs`; the result is a GeoJSON FeatureCollection.
    pub async fn execute(&self, id: &str, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
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
        match id {
            "geocode" => self.geocode.geocode_process(inputs).await,
            "reverse-geocode" => self.geocode.reverse_process(inputs).await,
            "autocomplete" => self.geocode.autocomplete_process(inputs).await,
            other => Err(ServiceError::NotFound(format!(
                "there is no process {other:?}"
            ))),
        }
    }
}
