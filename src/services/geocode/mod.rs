//! Geocoding (the Géoplateforme's `/geocodage`): the `addresses`, `poi` and `parcels` feature
//! collections, and the `geocode`, `reverse-geocode` and `autocomplete` processes.

mod batch;
mod bulk;
mod collections;
mod features;
mod known;
mod params;
mod processes;

use std::sync::Arc;

use serde_json::Value;

pub use batch::csv_output_spec;
pub use collections::{collection_specs, CollectionSpec, Queryable};
pub use processes::process_specs;

use self::{
    features::prepare_features,
    known::KnownFeatures,
    params::{lon_lat, query_text, Filters},
};
use super::{
    fetch::{CachedJson, Fetcher},
    inputs::Inputs,
    PageFeatures, ServiceError,
};
use crate::{
    cache::{CacheKind, CacheStatus},
    config::GeocodingConfig,
    geo::{point_of, Bbox},
    upstream::{Api, UpstreamRequest},
};

/// The most candidates the geocoder returns for one search.
pub const MAX_CANDIDATES: usize = 20;

/// One of the geocoder's three indexes, each served as a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Address,
    Poi,
    Parcel,
}

impl Index {
    pub const ALL: [Index; 3] = [Index::Address, Index::Poi, Index::Parcel];

    pub fn upstream_name(self) -> &'static str {
        match self {
            Index::Address => "address",
            Index::Poi => "poi",
            Index::Parcel => "parcel",
        }
    }

    pub fn from_upstream_name(name: &str) -> Option<Index> {
        Index::ALL.into_iter().find(|i| i.upstream_name() == name)
    }

    fn position(self) -> usize {
        self as usize
    }
}

/// A request for a page of a collection's items.
#[derive(Debug, Clone)]
pub struct ItemsQuery {
    pub bbox: Option<Bbox>,
    pub limit: usize,
    pub offset: usize,
    /// The collection's own parameters (`q`, `postcode`, …), unvalidated.
    pub params: Inputs,
}

/// The features of a prepared geocoding answer (an array).
fn features_of(answer: &CachedJson) -> &[Value] {
    answer.value.as_array().map_or(&[], Vec::as_slice)
}

/// A page of features, with what is known of the whole result.
#[derive(Debug, Clone)]
pub struct ItemsPage {
    pub features: PageFeatures,
    pub number_matched: usize,
    /// Why the page is smaller than one might expect (a box too large to search, say).
    pub note: Option<String>,
    pub cache_status: Option<CacheStatus>,
}

/// One index's known features of one key.
struct KnownOf(Arc<[KnownFeatures; 3]>, usize);

impl std::ops::Deref for KnownOf {
    type Target = KnownFeatures;

    fn deref(&self) -> &KnownFeatures {
        &self.0[self.1]
    }
}

pub struct GeocodeService {
    fetcher: Fetcher,
    config: GeocodingConfig,
    /// The features each access key has looked up (keys are configured, so bounded in number):
    /// one key's lookups never show in another's item lists.
    known: std::sync::Mutex<std::collections::HashMap<Arc<str>, Arc<[KnownFeatures; 3]>>>,
    /// The share of the geocoding quota batch jobs may use (None: no limit of their own).
    batch_quota: Option<governor::DefaultDirectRateLimiter>,
    /// The upstream has no CSV endpoint (it answered 404): batches go row by row.
    bulk_unavailable: std::sync::atomic::AtomicBool,
}

impl GeocodeService {
    /// `batch_per_second`: the requests per second batch jobs may send (0: no limit of their own).
    pub fn new(fetcher: Fetcher, config: GeocodingConfig, batch_per_second: u32) -> Self {
        let known = Default::default();
        let batch_quota = std::num::NonZeroU32::new(batch_per_second).map(|r| {
            governor::RateLimiter::direct(
                governor::Quota::per_second(r).allow_burst(std::num::NonZeroU32::MIN),
            )
        });
        GeocodeService {
            fetcher,
            config,
            known,
            batch_quota,
            bulk_unavailable: Default::default(),
        }
    }

    /// The features the calling key has looked up, per index.
    fn known_of_caller(&self) -> Arc<[KnownFeatures; 3]> {
        let caller = crate::upstream::RequestContext::current().caller;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .entry(caller)
            .or_insert_with(|| {
                Arc::new(std::array::from_fn(|_| {
                    KnownFeatures::new(self.config.known_features)
                }))
            })
            .clone()
    }

    fn known(&self, index: Index) -> KnownOf {
        KnownOf(self.known_of_caller(), index.position())
    }

    /// Remembers fetched features in the collection of their own index.
    fn remember(&self, features: &[Value]) {
        for index in Index::ALL {
            let own: Vec<Value> = features
                .iter()
                .filter(|f| f["properties"]["_type"].as_str() == Some(index.upstream_name()))
                .cloned()
                .collect();
            if !own.is_empty() {
                self.known(index).remember(&own);
            }
        }
    }

    /// Sends a search or reverse request and reads its features.
    async fn run(
        &self,
        request: UpstreamRequest,
    ) -> Result<(Vec<Value>, CacheStatus), ServiceError> {
        let (answer, status) = self.run_shared(request).await?;
        Ok((features_of(&answer).to_vec(), status))
    }

    /// Like [`GeocodeService::run`], the features left in the shared cached answer: a hit copies
    /// nothing until the caller picks its page.
    async fn run_shared(
        &self,
        request: UpstreamRequest,
    ) -> Result<(CachedJson, CacheStatus), ServiceError> {
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Geocoding, prepare_features)
            .await?;
        if status == CacheStatus::Miss {
            self.remember(features_of(&answer));
        }
        Ok((answer, status))
    }

    /// The items of a collection: a forward search with `q` (or the cadastral fields for
    /// parcels), a search inside `bbox`, or else the features already known to the gateway.
    pub async fn items(&self, index: Index, query: ItemsQuery) -> Result<ItemsPage, ServiceError> {
        let params = &query.params;
        let filters = Filters::from_inputs(&[index], params)?;
        let q = match params.string("q")? {
            Some(q) => Some(query_text("q", &q)?),
            None if params.present("q") => {
                return Err(ServiceError::invalid("q", "must not be empty"))
            }
            None => None,
        };
        let bias = lon_lat(params)?;
        let autocomplete = params.boolean("autocomplete")?;
        let in_bbox = |f: &Value| match (&query.bbox, point_of(&f["geometry"])) {
            (None, _) => true,
            (Some(b), Some((x, y))) => b.contains(x, y),
            (Some(_), None) => false,
        };

        let known_page = |note: Option<String>| {
            let (features, number_matched) = self.known(index).page(
                |f| filters.matches(f) && in_bbox(f),
                query.offset,
                query.limit,
            );
            ItemsPage {
                features: features.into(),
                number_matched,
                note,
                cache_status: None,
            }
        };
        let request = if q.is_some() || !filters.parcel.is_empty() {
            let bias = bias.or(query.bbox.map(|b| b.center()));
            self.search_request(
                &[index],
                q.as_deref(),
                MAX_CANDIDATES,
                &filters,
                bias,
                autocomplete,
            )
        } else if let Some(bbox) = query.bbox {
            let (w, h) = bbox.size_m();
            let max = self.config.max_bbox_side_m;
            if w > max || h > max {
                return Ok(known_page(Some(format!(
                    "The box is {w:.0} m × {h:.0} m; the geocoder searches boxes of at most {max:.0} m a side. \
                     Listed: the features of this box already fetched by the gateway. Zoom in to search it."
                ))));
            }
            filters.apply(
                UpstreamRequest::new(Api::Geocoding, "/geocodage/reverse")
                    .param("searchgeom", bbox.to_polygon())
                    .param("index", index.upstream_name())
                    .param("limit", MAX_CANDIDATES),
            )
        } else {
            let page = known_page(None);
            // Nothing looked up yet: a first page of real features, so that a client learning the
            // collection's fields from its first items (QGIS reads `items?limit=10`) sees them all.
            if page.features.is_empty() && query.offset == 0 && params.names().next().is_none() {
                return self.sample(index, query.limit).await;
            }
            return Ok(page);
        };
        let (answer, status) = self.run_shared(request).await?;
        let matched = || {
            features_of(&answer)
                .iter()
                .enumerate()
                .filter(|(_, f)| in_bbox(f))
                .map(|(i, _)| i)
        };
        let number_matched = matched().count();
        // No feature is copied: the page is a view into the cached answer.
        let at: Vec<usize> = matched().skip(query.offset).take(query.limit).collect();
        Ok(ItemsPage {
            number_matched,
            features: PageFeatures::shared(answer, None, at),
            note: None,
            cache_status: Some(status),
        })
    }

    /// The features of `index` nearest to Paris's Hôtel de Ville (at most `limit`, 10 at most):
    /// examples of the collection before anything has been looked up.
    async fn sample(&self, index: Index, limit: usize) -> Result<ItemsPage, ServiceError> {
        const HOTEL_DE_VILLE: (f64, f64) = (2.352_2, 48.856_6);
        let request = UpstreamRequest::new(Api::Geocoding, "/geocodage/reverse")
            .param("lon", HOTEL_DE_VILLE.0)
            .param("lat", HOTEL_DE_VILLE.1)
            .param("index", index.upstream_name())
            .param("limit", limit.min(10));
        let (features, status) = self.run(request).await?;
        Ok(ItemsPage {
            number_matched: features.len(),
            features: features.into(),
            note: Some(
                "Nothing has been looked up yet: these are the features nearest to the Hôtel de Ville \
                 of Paris, as examples. Search with q=… or bbox=…"
                    .into(),
            ),
            cache_status: Some(status),
        })
    }

    /// One feature by id: from the features already fetched, or for a parcel from its cadastral
    /// reference.
    pub async fn item(
        &self,
        index: Index,
        id: &str,
    ) -> Result<(Value, Option<CacheStatus>), ServiceError> {
        if let Some(f) = self.known(index).get(id) {
            return Ok((f, None));
        }
        let not_found = || {
            ServiceError::NotFound(format!(
                "no {} with id {id:?} is known to the gateway; search for it first (items?q=… or items?bbox=…)",
                index.upstream_name()
            ))
        };
        if index == Index::Parcel {
            let fields = params::parcel_fields_of_id(id).ok_or_else(not_found)?;
            let filters = Filters {
                parcel: fields,
                ..Filters::default()
            };
            let request =
                self.search_request(&[Index::Parcel], None, MAX_CANDIDATES, &filters, None, None);
            let (features, status) = self.run(request).await?;
            if let Some(f) = features.into_iter().find(|f| f["id"] == id) {
                return Ok((f, Some(status)));
            }
        }
        Err(not_found())
    }

    /// The bounding box of the features already known in a collection.
    pub fn known_extent(&self, index: Index) -> Option<Bbox> {
        self.known(index).extent()
    }

    fn search_request(
        &self,
        indexes: &[Index],
        q: Option<&str>,
        limit: usize,
        filters: &Filters,
        bias: Option<(f64, f64)>,
        autocomplete: Option<bool>,
    ) -> UpstreamRequest {
        let index: Vec<_> = indexes.iter().map(|i| i.upstream_name()).collect();
        let request = UpstreamRequest::new(Api::Geocoding, "/geocodage/search")
            .param_opt("q", q)
            .param("index", index.join(","))
            .param("limit", limit);
        filters
            .apply(request)
            .param_opt("lon", bias.map(|b| b.0))
            .param_opt("lat", bias.map(|b| b.1))
            .param_opt(
                "autocomplete",
                autocomplete.map(|a| if a { "1" } else { "0" }),
            )
    }
}

/// The geocoding service shared by the handlers.
pub type SharedGeocode = Arc<GeocodeService>;
