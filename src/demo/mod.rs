//! `serve --demo` (`server.demo`): the whole gateway in front of an in-process replay of real
//! recorded Géoplateforme answers instead of data.geopf.fr, for a course, a trial or a machine with
//! no network. Only the upstream is replaced: every request takes the gateway's real code path.
//! Everything says it is a demo: a `Warning` header on every answer, a banner on every page, a
//! field on every log line and `/ready`.

pub mod paint;
pub mod recordings;
pub mod replay;

use std::io::Write;

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};
use tokio::net::TcpListener;

use crate::config::Config;

/// The `Warning` (RFC 9111 §5.5, code 199: miscellaneous) every answer of a demo carries.
pub const WARNING: HeaderValue = HeaderValue::from_static(
    "199 geopf-gateway \"demo: replayed recordings of the Geoplateforme, not live data\"",
);

/// The banner at the top of every HTML page of a demo.
const BANNER: &str = concat!(
    r#"<div role="note" style="background:#b3261e;color:#fff;padding:.45rem 1.2rem;font:600 14px/1.4 system-ui,sans-serif">"#,
    "DEMO — answers replayed from recordings of the Géoplateforme (geocoding around Montpellier, ",
    "a route across the Cévennes and isochrones around Florac, a commune of Finistère, drawn tiles), not live data. ",
    "Start without <code>--demo</code> for the real service.</div>"
);

/// The largest page a banner is put on (pages are far smaller; a larger one goes out as it is).
const MAX_PAGE: usize = 16 * 1024 * 1024;

/// A running replay: the upstream of a demo gateway, on loopback, for as long as this lives.
pub struct Demo {
    url: String,
    recordings: usize,
    task: tokio::task::JoinHandle<()>,
}

impl Demo {
    /// Starts the replay on an ephemeral loopback port.
    pub async fn start() -> anyhow::Result<Demo> {
        let replay = replay::Replay::load().map_err(|e| anyhow::anyhow!("demo: {e}"))?;
        let recordings = replay.recordings();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = replay.router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the demo replay stopped");
            }
        });
        Ok(Demo {
            url,
            recordings,
            task,
        })
    }

    /// Points a configuration at the replay. Its disk cache goes to `<cache.dir>/demo`, so drawn
    /// tiles never mix with real ones; no access key is sent anywhere; the catalogue starts from
    /// the embedded snapshot (the documents the replay serves), complete at the first request.
    pub fn configure(&self, config: &mut Config) {
        config.upstream.base_url = self.url.clone();
        config.catalog.embedded = true;
        config.upstream.api_key.clear();
        config.cache.dir = config.cache_dir().join("demo").display().to_string();
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn recordings(&self) -> usize {
        self.recordings
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Adds the demo `Warning` to an answer.
pub async fn warn(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().append(header::WARNING, WARNING);
    response
}

/// Puts the demo banner at the top of an HTML page (before compression).
pub async fn banner(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(page) = axum::body::to_bytes(body, MAX_PAGE).await else {
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from("the page was too large to show"));
    };
    let page = match page.windows(6).position(|w| w == b"<body>") {
        Some(at) => [&page[..at + 6], BANNER.as_bytes(), &page[at + 6..]].concat(),
        None => page.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page))
}

/// A log writer that marks every line as the demo's: `[demo] ` before a text line, a
/// `"demo":true` member at the start of a JSON line.
#[derive(Clone)]
pub struct DemoLines<M>(pub M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for DemoLines<M>
{
    type Writer = MarkedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        MarkedLine {
            inner: self.0.make_writer(),
            started: false,
        }
    }
}

/// One log line being written (the formatter writes a line through one writer).
pub struct MarkedLine<W> {
    inner: W,
    started: bool,
}

impl<W: Write> Write for MarkedLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.started && !buf.is_empty() {
            self.started = true;
            // One write of the whole marked line: lines of other threads may come between two
            // writes to a non-blocking writer.
            let line = if buf[0] == b'{' {
                [b"{\"demo\":true,".as_slice(), &buf[1..]].concat()
            } else {
                [b"[demo] ".as_slice(), buf].concat()
            };
            self.inner.write_all(&line)?;
            return Ok(buf.len());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(line: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = MarkedLine {
            inner: &mut out,
            started: false,
        };
        w.write_all(line).expect("written");
        out
    }

    #[test]
    fn log_lines_say_demo_in_text_and_in_json() {
        assert_eq!(marked(b"INFO listening\n"), b"[demo] INFO listening\n");
        let json: serde_json::Value =
            serde_json::from_slice(&marked(br#"{"level":"INFO"}"#)).expect("still JSON");
        assert_eq!(json["demo"], true);
        assert_eq!(json["level"], "INFO");
    }
}
