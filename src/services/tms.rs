//! The TMS vector tile layers (`/tms/1.0.0`): their list kept current like the other capabilities
//! (snapshot on disk, conditional refresh), for the catalogue.

use std::{sync::Arc, time::Duration};

use super::{
    capabilities::{Capabilities, Current},
    ServiceError,
};
use crate::{
    cache::snapshot::Snapshots,
    catalog::tms::{parse_service, TmsLayer},
    upstream::{Api, SharedUpstream, UpstreamRequest},
};

/// The TMS service document's path.
pub const PATH: &str = "/tms/1.0.0";

pub struct TmsService {
    caps: Arc<Capabilities<TmsLayer>>,
}

impl TmsService {
    pub fn new(client: SharedUpstream, snapshots: Option<Snapshots>) -> Self {
        // TMS, like WMTS, is not rate limited upstream: the WMTS bucket (unlimited by default).
        let caps = Capabilities::new(
            "tms",
            client,
            UpstreamRequest::new(Api::Wmts, PATH),
            (parse_service, |l: &TmsLayer| l.id.as_str()),
            snapshots,
        );
        TmsService {
            caps: Arc::new(caps),
        }
    }

    pub fn state(&self) -> Current<TmsLayer> {
        self.caps.current()
    }

    /// The document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<TmsLayer> {
        &self.caps
    }

    pub fn layers(&self) -> Arc<Vec<TmsLayer>> {
        self.caps.items()
    }

    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        self.caps.refresh().await
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.caps.clone().spawn_refresh(every)
    }
}
