//! Links of OGC API documents (`href`, `rel`, `type`, `title`) and the media types they name.

use serde::Serialize;
use serde_json::Value;

use crate::http::{base_url::BaseUrl, negotiate::Format};

pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";
pub const HTML: &str = "text/html";
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
pub const SCHEMA_JSON: &str = "application/schema+json";

pub const REL_CONFORMANCE: &str = "http://www.opengis.net/def/rel/ogc/1.0/conformance";
pub const REL_DATA: &str = "http://www.opengis.net/def/rel/ogc/1.0/data";
pub const REL_PROCESSES: &str = "http://www.opengis.net/def/rel/ogc/1.0/processes";
pub const REL_QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";
pub const REL_EXECUTE: &str = "http://www.opengis.net/def/rel/ogc/1.0/execute";

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
    #[serde(rename = "type")]
    pub media_type: String,
    pub title: String,
}

impl Link {
    pub fn new(href: String, rel: &str, media_type: &str, title: &str) -> Self {
        Link {
            href,
            rel: rel.to_string(),
            media_type: media_type.to_string(),
            title: title.to_string(),
        }
    }
}

/// `href` with `f=…` set (replacing any `f` already there).
pub fn with_format(href: &str, f: &str) -> String {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "f")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push(("f".into(), f.into()));
    format!("{path}?{}", encode_query(&pairs))
}

pub fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `self` and `alternate` links of a resource at `path`, for the format being served.
/// `json_type` is the resource's JSON media type (JSON, GeoJSON, OpenAPI…).
pub fn self_and_alternate(
    base: &BaseUrl,
    path_and_query: &str,
    format: Format,
    json_type: &str,
) -> Vec<Link> {
    let href = base.join(path_and_query);
    let json = Link::new(
        with_format(&href, "json"),
        "self",
        json_type,
        "This document as JSON",
    );
    let html = Link::new(
        with_format(&href, "html"),
        "alternate",
        HTML,
        "This document as HTML",
    );
    match format {
        Format::Json => vec![json, html],
        Format::Html => vec![
            Link {
                rel: "alternate".into(),
                ..json
            },
            Link {
                rel: "self".into(),
                ..html
            },
        ],
    }
}

/// The links of a collection document at `path`: self (and alternate on its own page), items as
/// GeoJSON and HTML, queryables.
pub fn collection_links(
    base: &BaseUrl,
    path: &str,
    title: &str,
    format: Format,
    top: bool,
) -> Vec<Link> {
    let mut l = if top {
        self_and_alternate(base, path, format, JSON)
    } else {
        vec![Link::new(base.join(path), "self", JSON, title)]
    };
    l.extend([
        Link::new(
            base.join(&format!("{path}/items")),
            "items",
            GEOJSON,
            "Items as GeoJSON",
        ),
        Link::new(
            base.join(&format!("{path}/items?f=html")),
            "items",
            HTML,
            "Items as HTML",
        ),
        Link::new(
            base.join(&format!("{path}/queryables")),
            REL_QUERYABLES,
            SCHEMA_JSON,
            "Queryables",
        ),
    ]);
    l
}

/// A query string as decoded pairs, in order.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Where a page of a list is: the request's own query, its `offset` and `limit`, and whether more
/// follows.
pub struct Page<'a> {
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub offset: usize,
    pub limit: usize,
    pub more: bool,
}

/// The `next` (when more follows) and `prev` (past the first page) links of a page: the same
/// query, the same `limit`, `offset` moved by it; `f` is left out (the link's media type says it).
pub fn paging(base: &BaseUrl, page: &Page<'_>, media_type: &str) -> Vec<Link> {
    let link = |offset: usize, rel: &str, title: &str| {
        let mut q: Vec<(String, String)> = page
            .query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "offset" | "limit" | "f"))
            .cloned()
            .collect();
        q.push(("limit".into(), page.limit.to_string()));
        q.push(("offset".into(), offset.to_string()));
        Link::new(
            base.join(&format!("{}?{}", page.path, encode_query(&q))),
            rel,
            media_type,
            title,
        )
    };
    let mut out = Vec::new();
    if page.more {
        out.push(link(page.offset + page.limit, "next", "Next page"));
    }
    if page.offset > 0 {
        out.push(link(
            page.offset.saturating_sub(page.limit),
            "prev",
            "Previous page",
        ));
    }
    out
}

/// The links of a page of items (`page.path` is `/collections/{id}/items`): `self` and
/// `alternate` with the request's query, `next`/`prev`, and the collection titled `title`.
pub fn items(base: &BaseUrl, page: &Page<'_>, title: &str, format: Format) -> Vec<Link> {
    let query = encode_query(page.query);
    let here = if query.is_empty() {
        page.path.to_string()
    } else {
        format!("{}?{query}", page.path)
    };
    let mut l = self_and_alternate(base, &here, format, GEOJSON);
    l.extend(paging(base, page, GEOJSON));
    let collection = page.path.trim_end_matches("/items");
    l.push(Link::new(base.join(collection), "collection", JSON, title));
    l
}

pub fn to_value(links: &[Link]) -> Value {
    serde_json::to_value(links).unwrap_or(Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_replaces_f() {
        assert_eq!(
            with_format("http://h/c?f=html&q=a b", "json"),
            "http://h/c?q=a+b&f=json"
        );
        assert_eq!(with_format("http://h/c", "html"), "http://h/c?f=html");
    }
}
