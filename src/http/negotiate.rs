//! Content negotiation: `?f=json|html` wins, else the `Accept` header; `*/*` gets JSON.

use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    pub fn from_request(query: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
        let f = query.and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "f")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(f) = f {
            return match f.to_ascii_lowercase().as_str() {
                "json" | "geojson" | "application/json" | "application/geo+json" => {
                    Ok(Format::Json)
                }
                "html" | "text/html" => Ok(Format::Html),
                other => Err(ApiError::bad_parameter(
                    "f",
                    format!("{other:?} is not a format of this resource (json, html)"),
                )),
            };
        }
        let accept = headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(from_accept(accept))
    }
}

/// HTML only when the client prefers it to every JSON type it accepts.
fn from_accept(accept: &str) -> Format {
    let mut html_q: f32 = 0.0;
    let mut json_q: f32 = 0.0;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.parse::<f32>().ok())
            .unwrap_or(1.0);
        if media == "text/html" || media == "application/xhtml+xml" {
            html_q = html_q.max(q);
        } else if media.ends_with("json") || media == "*/*" || media == "application/*" {
            json_q = json_q.max(q);
        }
    }
    if html_q > json_q {
        Format::Html
    } else {
        Format::Json
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Format::from_request(parts.uri.query(), &parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_tools_get_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(from_accept(browser), Format::Html);
        assert_eq!(from_accept("*/*"), Format::Json);
        assert_eq!(from_accept(""), Format::Json);
        assert_eq!(
            from_accept("application/geo+json, application/json"),
            Format::Json
        );
        assert_eq!(
            from_accept("application/json;q=0.5, text/html"),
            Format::Html
        );
        assert_eq!(
            from_accept("text/html;q=0.5, application/json"),
            Format::Json
        );
    }

    #[test]
    fn f_wins_over_accept() {
        let mut h = HeaderMap::new();
        h.insert("accept", "text/html".parse().unwrap());
        assert_eq!(
            Format::from_request(Some("f=json"), &h).unwrap(),
            Format::Json
        );
        assert!(Format::from_request(Some("f=xml"), &h).is_err());
    }
}
