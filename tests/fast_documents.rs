//! Rendered answers served again before the router (`src/http/fast_documents.rs`): the same
//! request gets the same bytes and headers as the full path gives, for `cache.documents_s`; a
//! request that differs in what its answer depends on — `Accept`, `Accept-Encoding`, `Origin`,
//! `Host` — gets its own answer; credentials are never skipped.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{key, stable_headers, TestApp};

const SEARCH: &str = "/collections/addresses/items?q=8%20bd%20du%20port&limit=3";

/// A client that asks for uncompressed answers (reqwest's default asks for gzip and brotli).
fn identity_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Answers served on the fast path so far, in this test process (other tests add to it too).
async fn fast_documents(app: &TestApp) -> u64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("geopf_http_fast_answers_total{kind=\"document\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// A page without its render time.
fn page(body: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v.as_object_mut().unwrap().remove("timeStamp");
    v
}

#[tokio::test]
async fn a_kept_answer_is_the_full_paths_answer() {
    let app = TestApp::start().await;
    let http = identity_client();
    let first = http.get(app.url(SEARCH)).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first_stamp = page_stamp(&first.bytes().await.unwrap());
    let before = fast_documents(&app).await;
    let fast = http.get(app.url(SEARCH)).send().await.unwrap();
    assert!(fast_documents(&app).await > before, "not the fast path");
    // A cookie sends the same request the full way (the answer comes from the answer cache).
    let full = http
        .get(app.url(SEARCH))
        .header("cookie", "x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(fast.status(), 200);
    assert_eq!(fast.headers()["cache-status"], "geopf-gateway; hit");
    // (Not the length: the render time's digits vary.)
    let other_than_length = ["content-length"];
    assert_eq!(
        stable_headers(&fast, &other_than_length),
        stable_headers(&full, &other_than_length)
    );
    assert!(fast.headers().contains_key("x-request-id"));
    let fast = fast.bytes().await.unwrap();
    // The very bytes of the first answer: its render time too.
    assert_eq!(page_stamp(&fast), first_stamp);
    assert_eq!(page(&fast), page(&full.bytes().await.unwrap()));
    // One upstream call for the three.
    assert_eq!(app.fake.count("/geocodage/search"), 1);
    // Counted under the route, as the full path counts it.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("geopf_http_requests_total")
                && l.contains("route=\"/collections/{collection_id}/items\"")
                && l.contains("status=\"200\"")),
        "{metrics}"
    );
    // A client's own request id is kept.
    let mine = http
        .get(app.url(SEARCH))
        .header("x-request-id", "my-id-7")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "my-id-7");
}

fn page_stamp(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["timeStamp"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_variant_of_an_answer_is_its_own() {
    let app =
        TestApp::start_with(|c| c.server.cors_origins = vec!["https://app.example".into()]).await;
    let http = identity_client();
    let get = |accept: &'static str, origin: Option<&'static str>| {
        let mut r = http.get(app.url(SEARCH)).header("accept", accept);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // Kept as JSON for the allowed origin, twice.
    for _ in 0..2 {
        let r = get("application/geo+json", Some("https://app.example"))
            .await
            .unwrap();
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://app.example"
        );
    }
    // Another origin: no CORS grant, whatever was kept for the first.
    for _ in 0..2 {
        let r = get("application/geo+json", Some("https://evil.example"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(!r.headers().contains_key("access-control-allow-origin"));
    }
    // HTML for a browser, JSON for the others.
    for _ in 0..2 {
        let r = get("text/html", None).await.unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("<html"));
    }
    // Compressed for a client that asks so, and the same features once inflated.
    for _ in 0..2 {
        let r = app.http.get(app.url(SEARCH)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["features"].as_array().unwrap().len(), 3);
    }
    let raw = http
        .get(app.url(SEARCH))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    // Another name of this host: links name it, not the host of the kept answer.
    let other = http
        .get(app.url(SEARCH).replace("127.0.0.1", "localhost"))
        .send()
        .await
        .unwrap();
    let links = other.json::<Value>().await.unwrap()["links"].to_string();
    assert!(links.contains("http://localhost:"), "{links}");
    assert_eq!(app.fake.count("/geocodage/search"), 1);
}

#[tokio::test]
async fn a_kept_answer_lasts_documents_s() {
    let app = TestApp::start_with(|c| c.cache.documents_s = 1).await;
    let http = identity_client();
    let stamp = |r: reqwest::Response| async { page_stamp(&r.bytes().await.unwrap()) };
    let first = stamp(http.get(app.url(SEARCH)).send().await.unwrap()).await;
    let again = stamp(http.get(app.url(SEARCH)).send().await.unwrap()).await;
    assert_eq!(first, again);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = stamp(http.get(app.url(SEARCH)).send().await.unwrap()).await;
    assert_ne!(first, later, "served past documents_s");
}

#[tokio::test]
async fn credentials_are_never_skipped() {
    let app =
        TestApp::start_with(|c| c.auth.keys = vec![key("alice", "alice-token", 100, 100)]).await;
    let http = identity_client();
    for _ in 0..2 {
        let r = http
            .get(app.url(SEARCH))
            .bearer_auth("alice-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let anonymous = http.get(app.url(SEARCH)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn failures_and_other_hosts_are_not_kept() {
    let app = TestApp::start().await;
    let http = identity_client();
    app.fake
        .fault("/geocodage/search", support::Fault::unavailable(), None);
    for _ in 0..2 {
        let failed = http.get(app.url(SEARCH)).send().await.unwrap();
        assert_eq!(failed.status(), 502);
    }
    app.fake.clear_faults();
    let after = http.get(app.url(SEARCH)).send().await.unwrap();
    assert_eq!(after.status(), 200, "a failure was kept");
    // A name this gateway does not answer to is refused, kept answer or not.
    let rebound = http
        .get(app.url(SEARCH))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
}
