//! Test support: an in-process fake Géoplateforme (answers from `tests/fixtures`, request log,
//! fault injection, per-second quotas like the real one) and the real gateway started on an
//! ephemeral port against it.
#![allow(dead_code)]

pub mod fake;

use std::{net::SocketAddr, time::Duration};

use geopf_gateway::config::Config;
use serde_json::Value;
use tokio::net::TcpListener;

#[allow(unused_imports)]
pub use fake::{FakeUpstream, Fault};

/// A running gateway and the fake upstream behind it.
pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub fake: FakeUpstream,
    pub http: reqwest::Client,
}

/// An access key given by its token, with its request budget.
pub fn key(name: &str, token: &str, rps: u32, burst: u32) -> geopf_gateway::config::AuthKey {
    geopf_gateway::config::AuthKey {
        name: name.into(),
        token: Some(token.into()),
        token_sha256: None,
        requests_per_second: rps,
        burst: Some(burst),
        admin: false,
    }
}

/// The configuration tests start from: the defaults, pointed at the fake, with short timeouts.
pub fn test_config(fake: &FakeUpstream) -> Config {
    let mut c = Config::defaults();
    c.upstream.base_url = fake.base_url();
    c.upstream.timeout_ms = 800;
    c.upstream.connect_timeout_ms = 500;
    c.upstream.retry_backoff_ms = 10;
    c.upstream.queue_timeout_ms = 10_000;
    c.server.shutdown_grace_s = 1;
    // The catalogue is the fake's: tests start from nothing, not from the embedded snapshot.
    c.catalog.embedded = false;
    // Each gateway its own cache folder: nothing lands in the user's, no test sees another's.
    c.cache.dir = std::env::temp_dir()
        .join(format!("geopf-test-{}", uuid::Uuid::new_v4()))
        .display()
        .to_string();
    c
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    /// Starts a fake and a gateway whose configuration `tweak` may change.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::start_with_fake(|_| {}, tweak).await
    }

    /// Like [`TestApp::start_with`], with the fake prepared by `setup` before the gateway starts.
    pub async fn start_with_fake(
        setup: impl FnOnce(&FakeUpstream),
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let fake = FakeUpstream::start().await;
        setup(&fake);
        Self::start_on(fake, tweak).await
    }

    /// A gateway in front of an already running fake (a second gateway, a restart).
    pub async fn start_on(fake: FakeUpstream, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config(&fake);
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.server.listen = addr;
        tokio::spawn(async move {
            geopf_gateway::serve_on(listener, config).await.unwrap();
        });
        TestApp {
            base: format!("http://{addr}"),
            addr,
            fake,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// The HTML page at `path` (asked as a browser does), as text.
    pub async fn html(&self, path: &str) -> String {
        let r = self
            .http
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    /// GET with JSON wanted; returns the status, the content type and the parsed body.
    /// The JSON document at an absolute URL (a link the gateway gave).
    pub async fn follow(&self, url: &str) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, String, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        split(r).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, String, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        split(r).await
    }
}

pub async fn split(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ctype, body)
}

/// Asserts an RFC 7807 problem with `status`, whose detail contains `needle`.
pub fn assert_problem(got: &(u16, String, Value), status: u16, needle: &str) {
    let (s, ctype, body) = got;
    assert_eq!(*s, status, "status of {body}");
    assert_eq!(ctype, "application/problem+json", "content type of {body}");
    for key in ["type", "title", "status", "detail"] {
        assert!(body.get(key).is_some(), "problem lacks {key}: {body}");
    }
    assert_eq!(body["status"], status);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "detail {detail:?} lacks {needle:?}"
    );
}

/// The ids of a FeatureCollection's features.
pub fn ids(fc: &Value) -> Vec<String> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The `href` of the first link with `rel`.
pub fn link(doc: &Value, rel: &str) -> Option<String> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(str::to_string)
}

/// The headers of an answer, sorted, but `date`, `x-request-id` and those named in `also`: what
/// two answers to the same request must share.
pub fn stable_headers(r: &reqwest::Response, also: &[&str]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = r
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "date" | "x-request-id") && !also.contains(&k.as_str())
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    h.sort();
    h
}
