//! Adapters of `kind = "process"` as a [`ProcessProvider`]: described from their file, run by
//! rendering the request, calling the upstream through the cache, and mapping the answer to a
//! GeoJSON FeatureCollection.

use futures::future::BoxFuture;
use serde_json::json;

use super::{spec::Kind, Adapter, AdapterSet};
use crate::services::{
    inputs::Inputs,
    process::{
        no_such_process, OutputSpec, ProcessOutput, ProcessProvider, ProcessSpec, Progress, Text,
    },
    ServiceError,
};

impl Adapter {
    /// The process description.
    pub fn process_spec(&self) -> ProcessSpec {
        ProcessSpec {
            id: self.file.id.clone().into(),
            title: self.file.title.clone().into(),
            description: self.file.description.clone().into(),
            keywords: self.file.keywords.iter().cloned().map(Text::from).collect(),
            inputs: self.inputs.iter().map(|i| i.spec()).collect(),
            outputs: vec![OutputSpec::geojson(format!(
                "{} (GeoJSON)",
                self.file.title
            ))],
        }
    }
}

impl ProcessProvider for AdapterSet {
    fn processes(&self) -> Vec<ProcessSpec> {
        self.of_kind(Kind::Process)
            .iter()
            .map(|a| a.process_spec())
            .collect()
    }

    fn descriptions_source(&self) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        Some(self.current())
    }

    fn execute<'a>(
        &'a self,
        id: &'a str,
        inputs: &'a Inputs,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<ProcessOutput, ServiceError>> {
        Box::pin(async move {
            let adapter = self
                .find(Kind::Process, id)
                .ok_or_else(|| no_such_process(id))?;
            let vars = adapter.variables(inputs)?;
            let (mapped, status) = adapter
                .call(&self.fetcher, &vars, self.queue_timeout)
                .await?;
            progress.set(1, 1);
            let collection = json!({
                "type": "FeatureCollection",
                "numberReturned": mapped.features.len(),
                "features": mapped.features,
            });
            Ok(ProcessOutput::geojson(collection, status))
        })
    }
}
