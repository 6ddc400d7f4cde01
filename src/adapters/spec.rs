//! The adapter file format (DESIGN §7), as it is read from TOML: nothing here is checked beyond
//! its shape; [`super::compile`] checks the meaning.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// One adapter file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterFile {
    /// The process or collection id, unique across all providers.
    pub id: String,
    pub kind: Kind,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Extension: keywords of the process or collection.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The quota bucket and cache-TTL kind: a known API, or a new bucket with `quota`.
    pub api: String,
    /// Requests per second of a new bucket.
    pub quota: Option<u32>,
    /// How long an upstream answer is reused; the `api`'s TTL otherwise.
    pub cache_ttl_s: Option<u64>,
    pub request: RequestDecl,
    #[serde(default)]
    pub inputs: IndexMap<String, InputDecl>,
    pub response: ResponseDecl,
    /// `kind = "collection"` only.
    pub collection: Option<CollectionDecl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Process,
    Collection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Method {
    #[default]
    #[serde(alias = "get")]
    GET,
    #[serde(alias = "post")]
    POST,
}

/// The upstream request, as templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDecl {
    #[serde(default)]
    pub method: Method,
    /// Relative to `upstream.base_url`; never a full URL.
    pub path: String,
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// A POST body template.
    pub body: Option<String>,
    /// The media type of `body` (`application/json` if absent).
    pub content_type: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
}

/// One input: a JSON Schema, whether it is required, what it means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    pub schema: Value,
    #[serde(default)]
    pub required: bool,
    pub title: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// How the upstream answer becomes features (JSONPath, RFC 9535).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseDecl {
    /// The items; `$` (the answer itself, an array or one object) if absent.
    #[serde(default = "root")]
    pub features: String,
    pub geometry: Option<GeometryDecl>,
    pub id: Option<String>,
    /// `"*"` (every scalar field), a path to an object taken as it is, or a table of paths.
    pub properties: Option<PropertiesDecl>,
    /// The total number of matches (collections).
    pub number_matched: Option<String>,
}

fn root() -> String {
    "$".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum GeometryDecl {
    /// A point from two numbers (and a height, as an extension).
    LonLat {
        lon: String,
        lat: String,
        z: Option<String>,
    },
    GeoJson {
        geojson: String,
    },
    Wkt {
        wkt: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PropertiesDecl {
    /// `"*"` or a JSONPath to an object.
    Path(String),
    Fields(IndexMap<String, String>),
}

/// What only a collection declares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionDecl {
    /// The largest page asked upstream (a larger `limit` is clamped).
    pub max_limit: Option<usize>,
    /// west, south, east, north (WGS84).
    pub extent: Option<[f64; 4]>,
}
