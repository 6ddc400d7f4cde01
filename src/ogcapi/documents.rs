//! The OGC API documents the gateway serves, as types: the landing page, conformance, a
//! collection, a process summary and description, a job status. Each is serialized as the
//! standards spell it (`tests/snapshots` holds what they look like, and the tests prove they
//! parse as georust/ogcapi's `ogcapi-types`). Their own types rather than `ogcapi-types`'s: that
//! crate mis-serializes processes (inputs as one description, `valuePassing`, integers as floats)
//! and rejects IGNF CRSs (STACK.md).

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use super::links::Link;
use crate::services::PageFeatures;

/// `/`: what the service is and where everything is.
#[derive(Debug, Serialize)]
pub struct Landing<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub links: Vec<Link>,
}

/// `/conformance`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conformance<'a> {
    pub conforms_to: &'a [&'a str],
}

/// One feature collection (`/collections/{id}`, and each item of `/collections`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub keywords: Vec<&'a str>,
    /// `feature`, or `record` for a catalogue.
    pub item_type: &'static str,
    pub crs: Vec<&'a str>,
    pub storage_crs: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extent: Option<Extent<'a>>,
    pub links: Vec<Link>,
}

impl<'a> Collection<'a> {
    /// A collection of features (`itemType` "feature").
    pub fn features(id: &'a str, title: &'a str, description: &'a str) -> Self {
        Collection {
            id,
            title,
            description,
            keywords: Vec::new(),
            item_type: "feature",
            crs: vec![super::features::CRS84],
            storage_crs: super::features::CRS84,
            extent: None,
            links: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Extent<'a> {
    pub spatial: SpatialExtent<'a>,
}

#[derive(Debug, Serialize)]
pub struct SpatialExtent<'a> {
    pub bbox: Vec<[f64; 4]>,
    pub crs: &'a str,
}

impl<'a> Extent<'a> {
    /// One WGS84 box: west, south, east, north.
    pub fn wgs84(bbox: [f64; 4]) -> Self {
        Extent {
            spatial: SpatialExtent {
                bbox: vec![bbox],
                crs: super::features::CRS84,
            },
        }
    }
}

/// A process as `/processes` lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessSummary<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub version: &'static str,
    pub keywords: Vec<&'a str>,
    pub job_control_options: &'static [&'static str],
    pub output_transmission: &'static [&'static str],
    pub links: Vec<Link>,
}

/// `/processes/{id}`: the summary, with every input and output.
#[derive(Debug, Serialize)]
pub struct ProcessDescription<'a> {
    #[serde(flatten)]
    pub summary: ProcessSummary<'a>,
    pub inputs: IndexMap<&'a str, InputDescription<'a>>,
    pub outputs: IndexMap<&'a str, OutputDescription<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputDescription<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub schema: &'a Value,
    pub min_occurs: u8,
    pub max_occurs: u8,
}

#[derive(Debug, Serialize)]
pub struct OutputDescription<'a> {
    pub title: &'a str,
    pub schema: &'a Value,
}

/// A job's status (`/jobs/{id}`, and each item of `/jobs`).
#[derive(Debug, Serialize)]
pub struct StatusInfo<'a> {
    #[serde(rename = "jobID")]
    pub job_id: &'a str,
    #[serde(rename = "processID")]
    pub process_id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    pub message: &'a str,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    pub updated: String,
    pub progress: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<Value>,
    pub links: Vec<Link>,
}

/// A page of items (`…/items`) as a GeoJSON FeatureCollection with the OGC API members:
/// `timeStamp`, `numberMatched` (when known), `numberReturned`, a `note` when the page is not what
/// one might expect, the features and the links. Written out as it is: features that are a view
/// into a cached answer are serialized from there, never copied.
#[derive(Serialize)]
pub struct ItemsPage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "numberMatched", skip_serializing_if = "Option::is_none")]
    pub number_matched: Option<usize>,
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    pub features: PageFeatures,
    pub links: &'a [Link],
}

pub fn items_page<'a>(
    features: impl Into<PageFeatures>,
    number_matched: Option<usize>,
    note: Option<&'a str>,
    links: &'a [Link],
) -> ItemsPage<'a> {
    let features = features.into();
    ItemsPage {
        kind: "FeatureCollection",
        time_stamp: crate::rfc3339::now(),
        number_matched,
        number_returned: features.len(),
        note,
        features,
        links,
    }
}

/// A document as JSON (serializing these types cannot fail: their keys are strings).
pub fn to_json(doc: &impl Serialize) -> Value {
    serde_json::to_value(doc).unwrap_or_default()
}
