//! OGC API Features: `/collections`, `/collections/{id}`, `items`, `items/{featureId}` and
//! `queryables`, dispatched to the [`CollectionProvider`] that serves the collection. Each provider
//! knows its own collections (the geocoding indexes, the WFS feature types…); nothing else lists
//! them. Adding one is an implementation and one line in [`crate::AppState::new`].

use std::{any::Any, sync::Arc};

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use futures::future::BoxFuture;
use serde_json::{value::RawValue, Value};

use super::{
    features::{parse_limit, parse_offset},
    html::{respond, Cell, Page, Table},
    links::{self, query_pairs},
};
use crate::{
    cache::kept::KeptBySource,
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    AppState,
};

/// One collection as `/collections` lists it: its document, written out once (a list is kept
/// and served many times), and what its HTML row shows.
pub struct Listed {
    pub id: String,
    pub title: String,
    pub description: String,
    pub doc: Box<RawValue>,
}

impl Listed {
    pub fn new(id: &str, title: &str, description: &str, doc: &Value) -> Self {
        Listed {
            id: id.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            // A `Value` always serializes.
            doc: serde_json::value::to_raw_value(doc).unwrap_or_default(),
        }
    }
}

/// The `/collections` document.
#[derive(serde::Serialize)]
struct CollectionsDocument<'a> {
    collections: Vec<&'a RawValue>,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    links: &'a [links::Link],
}

/// A source of feature collections. Its answers are whole HTTP responses (JSON or HTML, with their
/// links), since each kind of collection has its own query parameters and documents.
pub trait CollectionProvider: Send + Sync {
    /// Its collections now, in a stable order.
    fn list(&self, state: &AppState, base: &BaseUrl, format: Format) -> Vec<Listed>;

    /// What its list is made from (a capabilities document, a set of files), compared by
    /// identity: while it is the same, the list built for a base URL and format is kept, not built
    /// again for each `/collections`. `None` (the default): the list is built every time.
    fn list_source(&self, _state: &AppState) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }

    /// Whether it serves collection `id`.
    fn has(&self, state: &AppState, id: &str) -> bool;

    /// How many collections it serves now (without building their documents).
    fn count(&self, state: &AppState) -> usize;

    /// The collection's document.
    fn collection(
        &self,
        state: &AppState,
        id: &str,
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError>;

    /// A page of items; `query` is the request's query string, as pairs.
    fn items<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>>;

    /// One item.
    fn item<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        feature_id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>>;

    /// The JSON Schema of the collection's filters.
    fn queryables<'a>(
        &'a self,
        state: &'a AppState,
        id: &'a str,
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>>;

    /// Its OpenAPI paths (`/collections/{id}/…`), where it describes them one by one.
    fn openapi_paths(&self, _state: &AppState) -> Vec<(String, Value)> {
        Vec::new()
    }
}

/// The registry of collection providers, and the lists of those that keep theirs.
#[derive(Clone)]
pub struct Collections(Vec<Arc<dyn CollectionProvider>>, Arc<KeptLists>);

/// Lists kept while their source is the one in use, by provider, base URL and format.
type KeptLists = KeptBySource<(usize, BaseUrl, Format), Arc<Vec<Listed>>>;

/// Lists kept at most (two formats of a few base URLs for the one or two providers that keep).
const KEPT_LISTS: usize = 8;

impl Collections {
    pub fn new(providers: Vec<Arc<dyn CollectionProvider>>) -> Self {
        Collections(providers, Arc::new(KeptBySource::new(KEPT_LISTS, |k| k.0)))
    }

    pub fn providers(&self) -> &[Arc<dyn CollectionProvider>] {
        &self.0
    }

    /// Every provider's list, kept while its source is unchanged.
    fn lists(&self, state: &AppState, base: &BaseUrl, format: Format) -> Vec<Arc<Vec<Listed>>> {
        self.0
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let build = || Arc::new(p.list(state, base, format));
                match p.list_source(state) {
                    Some(source) => self
                        .1
                        .get_or_build((i, base.clone(), format), source, build),
                    None => build(),
                }
            })
            .collect()
    }

    /// The provider of collection `id`, or a 404 saying where the collections are listed.
    fn provider_of(&self, state: &AppState, id: &str) -> Result<&dyn CollectionProvider, ApiError> {
        self.0
            .iter()
            .find(|p| p.has(state, id))
            .map(|p| p.as_ref())
            .ok_or_else(|| {
                let total: usize = self.0.iter().map(|p| p.count(state)).sum();
                ApiError::not_found(format!(
                    "there is no collection {id:?} ({total} collections are listed at /collections)"
                ))
            })
    }
}

pub async fn collections(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let mut limit = None;
    let mut offset = 0;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => limit = Some(parse_limit(v)?),
            "offset" => offset = parse_offset(v)?,
            _ => {}
        }
    }
    let lists = state.collections.lists(&state, &base, format);
    let listed: Vec<&Listed> = lists.iter().flat_map(|l| l.iter()).collect();
    let total = listed.len();
    let shown: Vec<&Listed> = listed
        .iter()
        .copied()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let mut l = links::self_and_alternate(&base, "/collections", format, links::JSON);
    if let Some(limit) = limit {
        l.extend(links::paging(
            &base,
            &links::Page {
                path: "/collections",
                query: &pairs,
                offset,
                limit,
                more: offset + shown.len() < total,
            },
            links::JSON,
        ));
    }
    let doc = CollectionsDocument {
        collections: shown.iter().map(|c| c.doc.as_ref()).collect(),
        number_matched: total,
        links: &l,
    };
    Ok(respond(format, &doc, links::JSON, || {
        let mut page = Page::new(
            &base,
            "Collections",
            "Feature collections served by this gateway.",
        );
        let mut t = Table::new("", &["Collection", "Title", "Description"]);
        for c in &listed {
            let href = base.join(&format!(
                "/collections/{}?f=html",
                super::features::urlencode(&c.id)
            ));
            t.rows.push(vec![
                Cell::link(c.id.clone(), href),
                Cell::text(c.title.clone()),
                Cell::text(c.description.clone()),
            ]);
        }
        page.tables.push(t);
        page.links = l.clone();
        page
    }))
}

pub async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    state
        .collections
        .provider_of(&state, &id)?
        .collection(&state, &id, &base, format)
}

pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let provider = state.collections.provider_of(&state, &id)?;
    provider.items(&state, &id, &pairs, &base, format).await
}

pub async fn item(
    State(state): State<AppState>,
    Path((id, feature_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let provider = state.collections.provider_of(&state, &id)?;
    provider
        .item(&state, &id, &feature_id, &pairs, &base, format)
        .await
}

pub async fn queryables(
    State(state): State<AppState>,
    Path(id): Path<String>,
    base: BaseUrl,
    format: Format,
) -> Result<Response, ApiError> {
    let provider = state.collections.provider_of(&state, &id)?;
    provider.queryables(&state, &id, &base, format).await
}
