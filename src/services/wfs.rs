//! WFS feature types (the Géoplateforme's `/wfs/ows`, GeoServer WFS 2.0) as feature collections:
//! pages of GeoJSON passed through whole, filtered upstream with ECQL translated from CQL2.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Map, Value};

use super::{
    capabilities::{Capabilities, Current},
    fetch::Fetcher,
    ServiceError,
};
use crate::{
    cache::{snapshot::Snapshots, CacheKind, CacheStatus},
    catalog::wfs::{parse_capabilities, parse_schema, FeatureType, Property, PropertyType},
    cql2::{self, Expr},
    geo::Bbox,
    upstream::{Api, UpstreamError, UpstreamRequest},
};

const PATH: &str = "/wfs/ows";

/// The output CRS of a page: CRS84 (lon, lat) or a projected EPSG code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputCrs {
    pub uri: &'static str,
    /// `SRSNAME` sent upstream.
    pub srs_name: &'static str,
}

pub const CRS_LIST: [OutputCrs; 4] = [
    OutputCrs {
        uri: "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        srs_name: "EPSG:4326",
    },
    OutputCrs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/4326",
        srs_name: "EPSG:4326",
    },
    OutputCrs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/2154",
        srs_name: "EPSG:2154",
    },
    OutputCrs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/3857",
        srs_name: "EPSG:3857",
    },
];

/// A request for a page of a WFS collection.
#[derive(Debug, Clone)]
pub struct WfsQuery {
    pub bbox: Option<Bbox>,
    /// The EPSG code of a projected `bbox-crs` (None: CRS84).
    pub bbox_srid: Option<u32>,
    pub limit: usize,
    pub offset: usize,
    pub filter: Option<Expr>,
    /// `property=value` query parameters.
    pub equals: Vec<(String, String)>,
    pub crs: OutputCrs,
}

pub struct WfsPage {
    pub features: super::PageFeatures,
    pub number_matched: Option<u64>,
    pub cache_status: CacheStatus,
}

pub struct WfsService {
    fetcher: Fetcher,
    caps: Arc<Capabilities<FeatureType>>,
    schemas: moka::future::Cache<String, Arc<Vec<Property>>>,
}

fn bad_body(reason: String) -> ServiceError {
    ServiceError::Upstream(UpstreamError::BadBody {
        api: Api::Wfs,
        reason,
    })
}

/// A GeoJSON GetFeature of the type `name` in `crs`.
fn get_feature(name: &str, crs: &OutputCrs) -> UpstreamRequest {
    UpstreamRequest::new(Api::Wfs, PATH)
        .param("SERVICE", "WFS")
        .param("VERSION", "2.0.0")
        .param("REQUEST", "GetFeature")
        .param("TYPENAMES", name)
        .param("OUTPUTFORMAT", "application/json")
        .param("SRSNAME", crs.srs_name)
}

/// The GetCapabilities request (the feature type list only).
fn capabilities_request() -> UpstreamRequest {
    UpstreamRequest::new(Api::Wfs, PATH)
        .param("SERVICE", "WFS")
        .param("VERSION", "2.0.0")
        .param("REQUEST", "GetCapabilities")
        .param("SECTIONS", "FeatureTypeList")
}

impl WfsService {
    pub fn new(fetcher: Fetcher, snapshots: Option<Snapshots>) -> Self {
        let caps = Capabilities::new(
            "wfs",
            fetcher.client().clone(),
            capabilities_request(),
            (parse_capabilities, |t: &FeatureType| t.name.as_str()),
            snapshots,
        );
        WfsService {
            fetcher,
            caps: Arc::new(caps),
            schemas: moka::future::Cache::builder()
                .max_capacity(2000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    /// The feature types in use and the document they come from.
    pub fn state(&self) -> Current<FeatureType> {
        self.caps.current()
    }

    /// The capabilities document, for `/ready`.
    pub fn capabilities(&self) -> &Capabilities<FeatureType> {
        &self.caps
    }

    pub fn feature_type(&self, name: &str) -> Option<FeatureType> {
        self.caps.get(name).map(|t| (*t).clone())
    }

    /// The feature types in use.
    pub fn types(&self) -> Arc<Vec<FeatureType>> {
        self.caps.items()
    }

    /// Fetches the feature type list (conditionally); on failure the list in use stays.
    pub async fn refresh(&self) -> Result<usize, ServiceError> {
        self.caps.refresh().await
    }

    /// Refreshes now and then every `every` (every minute while the upstream fails).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        self.caps.clone().spawn_refresh(every)
    }

    /// The properties of a feature type (DescribeFeatureType), fetched once and kept a day.
    pub async fn schema(&self, name: &str) -> Result<Arc<Vec<Property>>, ServiceError> {
        let fetcher = self.fetcher.clone();
        let type_name = name.to_string();
        self.schemas
            .try_get_with(name.to_string(), async move {
                let request = UpstreamRequest::new(Api::Wfs, PATH)
                    .param("SERVICE", "WFS")
                    .param("VERSION", "2.0.0")
                    .param("REQUEST", "DescribeFeatureType")
                    .param("TYPENAMES", &type_name);
                let body = fetcher.raw(&request).await?;
                parse_schema(&String::from_utf8_lossy(&body))
                    .map(Arc::new)
                    .map_err(bad_body)
            })
            .await
            .map_err(|e: Arc<ServiceError>| (*e).clone())
    }

    /// The ECQL filter of a query: its CQL2 filter, `property=value` parameters and bbox, with
    /// the property names checked against the schema. The bbox is folded into the filter: GeoServer
    /// fails on `BBOX` together with `CQL_FILTER`.
    pub async fn ecql(&self, name: &str, query: &WfsQuery) -> Result<Option<String>, ServiceError> {
        if query.filter.is_none() && query.equals.is_empty() && query.bbox.is_none() {
            return Ok(None);
        }
        let schema = self.schema(name).await?;
        let geometry = schema
            .iter()
            .find(|p| p.kind == PropertyType::Geometry)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "the_geom".into());
        let mut parts = Vec::new();
        if let Some(b) = query.bbox {
            let polygon = cql2::bbox_polygon(
                [b.min_lon, b.min_lat, b.max_lon, b.max_lat],
                query.bbox_srid,
            );
            parts.push(format!("INTERSECTS({geometry}, {polygon})"));
        }
        for (property, value) in &query.equals {
            let p = schema
                .iter()
                .find(|p| &p.name == property)
                .ok_or_else(|| unknown(property, &schema))?;
            let literal = match p.kind {
                PropertyType::Integer | PropertyType::Number if value.parse::<f64>().is_ok() => {
                    cql2::Literal::Num(value.clone())
                }
                PropertyType::Boolean => cql2::Literal::Bool(value == "true"),
                _ => cql2::Literal::Str(value.clone()),
            };
            let e = Expr::Compare {
                property: property.clone(),
                op: cql2::CmpOp::Eq,
                value: literal,
            };
            parts.push(cql2::to_ecql(&e, &geometry));
        }
        if let Some(filter) = &query.filter {
            for property in filter.properties() {
                let spatial = schema.iter().any(|p| p.kind == PropertyType::Geometry);
                let known = schema.iter().any(|p| p.name == property)
                    || (spatial && matches!(property, "geometry" | "geom" | "the_geom"));
                if !known {
                    return Err(unknown(property, &schema));
                }
            }
            parts.push(cql2::to_ecql(filter, &geometry));
        }
        Ok(Some(if parts.len() == 1 {
            parts.remove(0)
        } else {
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        }))
    }

    pub async fn items(&self, name: &str, query: &WfsQuery) -> Result<WfsPage, ServiceError> {
        let ecql = self.ecql(name, query).await?;
        let request = get_feature(name, &query.crs)
            .param("COUNT", query.limit)
            .param("STARTINDEX", query.offset)
            .param_opt("CQL_FILTER", ecql);
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Features, prepare_page)
            .await?;
        let matched = answer.value["numberMatched"]
            .as_u64()
            .or(answer.value["totalFeatures"].as_u64());
        let count = answer.value["features"].as_array().map_or(0, Vec::len);
        Ok(WfsPage {
            // The whole cached page, not copied.
            features: super::PageFeatures::shared(answer, Some("features"), 0..count),
            number_matched: matched,
            cache_status: status,
        })
    }

    /// One feature by its id (`commune.2726`).
    pub async fn item(
        &self,
        name: &str,
        id: &str,
        crs: &OutputCrs,
    ) -> Result<(Value, CacheStatus), ServiceError> {
        let request = get_feature(name, crs).param("RESOURCEID", id);
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Features, prepare_page)
            .await?;
        answer.value["features"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["id"] == id))
            .cloned()
            .map(|f| (f, status))
            .ok_or_else(|| ServiceError::NotFound(format!("{name} has no feature {id:?}")))
    }
}

fn unknown(property: &str, schema: &[Property]) -> ServiceError {
    let names: Vec<&str> = schema.iter().map(|p| p.name.as_str()).collect();
    ServiceError::invalid(
        "filter",
        format!(
            "{property:?} is not a property of this collection (properties: {})",
            names.join(", ")
        ),
    )
}

/// A GetFeature answer as cached: its features (each with a string `id`) and counts.
fn prepare_page(value: Value) -> Result<Value, String> {
    let features = value
        .get("features")
        .and_then(Value::as_array)
        .ok_or("no `features` array in the WFS answer")?;
    let features: Vec<Value> = features
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let mut f: Map<String, Value> = f.as_object()?.clone();
            if !f.get("id").is_some_and(Value::is_string) {
                let id = f
                    .get("id")
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| format!("f{i}"));
                f.insert("id".into(), Value::String(id));
            }
            Some(Value::Object(f))
        })
        .collect();
    Ok(json!({
        "features": features,
        "numberMatched": value.get("numberMatched").cloned().unwrap_or(Value::Null),
        "totalFeatures": value.get("totalFeatures").cloned().unwrap_or(Value::Null),
    }))
}
