//! Adapters of `kind = "collection"` as a [`CollectionProvider`]: the collection document from the
//! file, items by rendering the request with `bbox`, `limit`, `offset`, `q` and the declared
//! inputs (the collection's queryables), and one item from the pages served lately.

use std::sync::Arc;

use axum::response::Response;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{spec::Kind, template::Coords, Adapter, AdapterSet, Variables};
use crate::{
    error::ApiError,
    http::{base_url::BaseUrl, negotiate::Format},
    ogcapi::{
        collections::{CollectionProvider, Listed},
        documents,
        features::{
            check_crs, feature_response, parse_bbox, parse_limit, parse_offset,
            queryables_response, text_and_box_form, urlencode, FRANCE, LIMIT_DEFAULT,
            STANDARD_PARAMS,
        },
        html::{cell_text, respond, with_cache_status, Cell, Form, Page, Table},
        links::{self, Link},
    },
    services::inputs::Inputs,
    upstream::RequestContext,
    AppState,
};

impl Adapter {
    fn extent(&self) -> [f64; 4] {
        self.file
            .collection
            .as_ref()
            .and_then(|c| c.extent)
            .unwrap_or(FRANCE)
    }

    fn max_limit(&self) -> usize {
        self.file
            .collection
            .as_ref()
            .and_then(|c| c.max_limit)
            .unwrap_or(crate::ogcapi::features::LIMIT_MAX)
    }

    /// The collection's filters: `q`, then its declared inputs (name, title, schema).
    fn queryables(&self) -> Vec<(String, String, Value)> {
        let mut q = vec![(
            "q".to_string(),
            "Text searched (as the upstream reads it)".to_string(),
            json!({"type": "string"}),
        )];
        q.extend(self.inputs.iter().map(|i| {
            let spec = i.spec();
            let title = if spec.description.is_empty() {
                spec.title.to_string()
            } else {
                spec.description.to_string()
            };
            (i.name.clone(), title, spec.schema)
        }));
        q
    }

    fn document(&self, base: &BaseUrl, format: Format, top: bool) -> (Value, Vec<Link>) {
        let path = format!("/collections/{}", self.file.id);
        let l = links::collection_links(base, &path, &self.file.title, format, top);
        let doc = documents::to_json(&documents::Collection {
            keywords: self.file.keywords.iter().map(String::as_str).collect(),
            extent: Some(documents::Extent::wgs84(self.extent())),
            links: l.clone(),
            ..documents::Collection::features(
                &self.file.id,
                &self.file.title,
                &self.file.description,
            )
        });
        (doc, l)
    }

    fn queryables_table(&self) -> Table {
        let mut t = Table::new(
            "Filters (query parameters of items)",
            &["Parameter", "Meaning", "Schema"],
        );
        for (name, title, schema) in self.queryables() {
            t.rows.push(vec![
                Cell::text(name),
                Cell::text(title),
                Cell::text(schema.to_string()),
            ]);
        }
        t
    }

    fn search_form(&self, base: &BaseUrl, pairs: &[(String, String)]) -> Form {
        let [w, s, e, n] = self.extent();
        text_and_box_form(
            base,
            &self.file.id,
            pairs,
            ("", "Box (west,south,east,north)"),
            &format!("{w},{s},{e},{n}"),
        )
    }

    /// The template variables of an items request, and its paging; unknown parameters are a 400.
    fn items_variables(
        &self,
        pairs: &[(String, String)],
    ) -> Result<(Variables, usize, usize), ApiError> {
        let mut limit = LIMIT_DEFAULT.min(self.max_limit());
        let mut offset = 0;
        let mut vars = Vec::new();
        let mut own = Vec::new();
        for (k, v) in pairs {
            match k.as_str() {
                "f" => {}
                "limit" => limit = parse_limit(v)?.min(self.max_limit()),
                "offset" => offset = parse_offset(v)?,
                "bbox" => {
                    let b = parse_bbox(v)?;
                    vars.push((
                        "bbox".to_string(),
                        Coords::bbox(b.min_lon, b.min_lat, b.max_lon, b.max_lat),
                    ));
                }
                "bbox-crs" | "crs" => check_crs(k, v)?,
                "q" => vars.push(("q".to_string(), minijinja::Value::from(v.as_str()))),
                name if self.inputs.iter().any(|i| i.name == name) => {
                    own.push((k.as_str(), v.as_str()))
                }
                other => {
                    let mut known: Vec<&str> = STANDARD_PARAMS.to_vec();
                    known.push("q");
                    known.extend(self.inputs.iter().map(|i| i.name.as_str()));
                    return Err(ApiError::bad_parameter(
                        other,
                        format!(
                            "is not a parameter of {} items (parameters: {})",
                            self.file.id,
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        vars.extend(self.variables(&own.into_iter().collect::<Inputs>())?);
        vars.push(("limit".to_string(), minijinja::Value::from(limit)));
        vars.push(("offset".to_string(), minijinja::Value::from(offset)));
        Ok((vars, limit, offset))
    }
}

impl AdapterSet {
    fn collection_adapter(&self, id: &str) -> Result<Arc<Adapter>, ApiError> {
        self.find(Kind::Collection, id)
            .ok_or_else(|| ApiError::not_found(format!("there is no collection {id:?}")))
    }

    fn known_key(&self, collection: &str, fid: &str) -> (String, String, String) {
        (
            RequestContext::current().caller.to_string(),
            collection.to_string(),
            fid.to_string(),
        )
    }

    async fn items_page(
        &self,
        a: &Adapter,
        pairs: &[(String, String)],
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError> {
        let (vars, limit, offset) = a.items_variables(pairs)?;
        let (mapped, status) = a.call(&self.fetcher, &vars, self.queue_timeout).await?;
        let mut features = mapped.features;
        features.truncate(limit);
        for f in &features {
            let fid = cell_text(&f["id"]);
            self.known
                .insert(self.known_key(a.id(), &fid), Arc::new(f.clone()));
        }
        let path = format!("/collections/{}/items", a.id());
        let more = match mapped.number_matched {
            Some(total) => offset + features.len() < total,
            None => features.len() == limit,
        };
        let l = links::items(
            base,
            &links::Page {
                path: &path,
                query: pairs,
                offset,
                limit,
                more,
            },
            &a.file.title,
            format,
        );
        let doc = documents::items_page(features, mapped.number_matched, None, &l);
        let response = respond(format, &doc, links::GEOJSON, || {
            let mut p = Page::new(
                base,
                format!("{} — items", a.file.title),
                &a.file.description,
            );
            p.form = Some(a.search_form(base, pairs));
            let features: Vec<&Value> = doc.features.iter().collect();
            // The first properties of the first feature make the columns.
            let columns: Vec<String> = features
                .first()
                .and_then(|f| f["properties"].as_object())
                .map(|o| o.keys().take(4).cloned().collect())
                .unwrap_or_default();
            let mut headers = vec!["id"];
            headers.extend(columns.iter().map(String::as_str));
            let mut t = Table::new(&format!("{} feature(s)", features.len()), &headers);
            for f in &features {
                let fid = cell_text(&f["id"]);
                let href = base.join(&format!("{path}/{}?f=html", urlencode(&fid)));
                let mut row = vec![Cell::link(fid, href)];
                row.extend(
                    columns
                        .iter()
                        .map(|c| Cell::text(cell_text(&f["properties"][c]))),
                );
                t.rows.push(row);
            }
            p.tables.push(t);
            p.links = l.clone();
            p
        });
        Ok(with_cache_status(response, Some(status)))
    }
}

impl CollectionProvider for AdapterSet {
    fn list(&self, _state: &AppState, base: &BaseUrl, format: Format) -> Vec<Listed> {
        self.of_kind(Kind::Collection)
            .iter()
            .map(|a| {
                let (doc, _) = a.document(base, format, false);
                Listed::new(&a.file.id, &a.file.title, &a.file.description, &doc)
            })
            .collect()
    }

    fn list_source(&self, _state: &AppState) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        Some(self.current())
    }

    fn has(&self, _state: &AppState, id: &str) -> bool {
        self.find(Kind::Collection, id).is_some()
    }

    fn count(&self, _state: &AppState) -> usize {
        self.of_kind(Kind::Collection).len()
    }

    fn collection(
        &self,
        _state: &AppState,
        id: &str,
        base: &BaseUrl,
        format: Format,
    ) -> Result<Response, ApiError> {
        let a = self.collection_adapter(id)?;
        let (doc, l) = a.document(base, format, true);
        Ok(respond(format, &doc, links::JSON, || {
            let mut page = Page::new(base, &a.file.title, &a.file.description);
            page.form = Some(a.search_form(base, &[]));
            page.tables.push(a.queryables_table());
            page.links = l;
            page
        }))
    }

    fn items<'a>(
        &'a self,
        _state: &'a AppState,
        id: &'a str,
        query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move {
            let a = self.collection_adapter(id)?;
            self.items_page(&a, query, base, format).await
        })
    }

    fn item<'a>(
        &'a self,
        _state: &'a AppState,
        id: &'a str,
        feature_id: &'a str,
        _query: &'a [(String, String)],
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move {
            let a = self.collection_adapter(id)?;
            let feature = self.known.get(&self.known_key(id, feature_id)).ok_or_else(|| {
                ApiError::not_found(format!(
                    "feature {feature_id:?} of {id} is not known: the upstream has no lookup by id, so items are known once a page of items has listed them"
                ))
            })?;
            Ok(feature_response(
                base,
                format,
                (*feature).clone(),
                id,
                &a.file.title,
                feature_id,
            ))
        })
    }

    fn queryables<'a>(
        &'a self,
        _state: &'a AppState,
        id: &'a str,
        base: &'a BaseUrl,
        format: Format,
    ) -> BoxFuture<'a, Result<Response, ApiError>> {
        Box::pin(async move {
            let a = self.collection_adapter(id)?;
            let properties: Map<String, Value> = a
                .queryables()
                .into_iter()
                .map(|(name, title, mut schema)| {
                    schema["title"] = json!(title);
                    (name, schema)
                })
                .collect();
            Ok(queryables_response(
                base,
                id,
                &a.file.title,
                properties,
                format,
                || a.queryables_table(),
            ))
        })
    }

    fn openapi_paths(&self, _state: &AppState) -> Vec<(String, Value)> {
        self.of_kind(Kind::Collection)
            .iter()
            .flat_map(|a| {
                let q = a.queryables();
                let q: Vec<(&str, &str, &Value)> = q
                    .iter()
                    .map(|(n, t, s)| (n.as_str(), t.as_str(), s))
                    .collect();
                crate::ogcapi::openapi::collection_paths(&a.file.id, &a.file.title, &q)
            })
            .collect()
    }
}
