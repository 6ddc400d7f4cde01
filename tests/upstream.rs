//! The upstream edge: caching, coalescing, quotas, retries, faults, the API key; and panics.

mod support;

use std::time::{Duration, Instant};

use futures::future::join_all;
use support::{assert_problem, Fault, TestApp};

const SEARCH: &str = "/collections/addresses/items?q=1%20place%20Georges%20Freche";

#[tokio::test]
async fn a_second_identical_request_is_a_cache_hit() {
    let app = TestApp::start().await;
    let first = app.get(SEARCH).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("fwd=miss"));
    let second = app.get(&format!("{SEARCH}&limit=1")).await;
    assert_eq!(second.headers()["cache-status"], "geopf-gateway; hit");
    assert_eq!(
        app.fake.count("/geocodage/search"),
        1,
        "paging and limits share one upstream answer"
    );
}

#[tokio::test]
async fn concurrent_identical_misses_make_one_upstream_call() {
    let app = TestApp::start().await;
    app.fake.fault(
        "/geocodage/search",
        Fault::Slow(Duration::from_millis(200)),
        None,
    );
    let requests = (0..20).map(|_| app.get_json(SEARCH));
    let answers = join_all(requests).await;
    assert!(answers
        .iter()
        .all(|(s, _, fc)| *s == 200 && fc["numberReturned"] == 3));
    assert_eq!(app.fake.count("/geocodage/search"), 1);
}

#[tokio::test]
async fn a_burst_queues_under_the_quota_instead_of_provoking_429s() {
    let app = TestApp::start().await;
    app.fake.enforce_quota("/geocodage", 50);
    // 200 different searches at once: each is a miss.
    let requests = (0..200).map(|i| {
        app.get_json(Box::leak(
            format!("/collections/addresses/items?q=rue%20{i}").into_boxed_str(),
        ))
    });
    let answers = join_all(requests).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
    assert_eq!(app.fake.count("/geocodage"), 200);
    assert!(
        app.fake.max_per_second("/geocodage") <= 50,
        "max per second: {}",
        app.fake.max_per_second("/geocodage")
    );
}

#[tokio::test]
async fn a_slow_upstream_within_the_timeout_is_fine() {
    let app = TestApp::start().await;
    app.fake
        .fault("/geocodage", Fault::Slow(Duration::from_millis(300)), None);
    let (status, ..) = app.get_json(SEARCH).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_hanging_upstream_is_a_504_within_the_timeout() {
    let app = TestApp::start().await;
    app.fake.fault("/geocodage", Fault::Hang, None);
    let started = Instant::now();
    let got = app.get_json(SEARCH).await;
    assert_problem(&got, 504, "did not answer within 800 ms");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn upstream_500_is_a_502_naming_the_api() {
    let app = TestApp::start().await;
    app.fake.fault(
        "/geocodage",
        Fault::Status {
            status: 500,
            retry_after: None,
            body: r#"{"code":500,"message":"An unexpected error has occurred"}"#.into(),
        },
        None,
    );
    let got = app.get_json(SEARCH).await;
    assert_problem(
        &got,
        502,
        "geocoding API answered HTTP 500: An unexpected error has occurred",
    );
    assert_eq!(app.fake.count("/geocodage"), 1, "a 500 is not retried");
    // Errors are not cached: once the upstream heals, the same request succeeds.
    app.fake.clear_faults();
    let (status, ..) = app.get_json(SEARCH).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_503_once_is_retried_transparently() {
    let app = TestApp::start().await;
    app.fake.fault("/geocodage", Fault::unavailable(), Some(1));
    let (status, _, fc) = app.get_json(SEARCH).await;
    assert_eq!(status, 200, "{fc}");
    assert_eq!(app.fake.count("/geocodage/search"), 2);
}

#[tokio::test]
async fn a_reset_connection_is_retried_then_a_502() {
    let app = TestApp::start().await;
    app.fake.fault("/geocodage", Fault::Reset, Some(1));
    let (status, ..) = app.get_json(SEARCH).await;
    assert_eq!(status, 200, "one reset is retried");
    app.fake.fault("/geocodage", Fault::Reset, None);
    let got = app
        .get_json("/collections/addresses/items?q=rue%20farges")
        .await;
    assert_problem(&got, 502, "could not be reached");
}

#[tokio::test]
async fn a_truncated_body_is_a_502_and_is_not_cached() {
    let app = TestApp::start().await;
    app.fake.fault("/geocodage", Fault::Truncate, Some(3));
    let got = app.get_json(SEARCH).await;
    assert_problem(&got, 502, "cut short");
    let (status, ..) = app.get_json(SEARCH).await;
    assert_eq!(status, 200, "the next try goes upstream again");
}

#[tokio::test]
async fn garbage_is_a_502_and_is_not_cached() {
    let app = TestApp::start().await;
    app.fake.fault("/geocodage", Fault::Garbage, Some(1));
    let got = app.get_json(SEARCH).await;
    assert_problem(&got, 502, "not JSON");
    let (status, ..) = app.get_json(SEARCH).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_upstream_429_pauses_the_api_and_says_when_to_retry() {
    let app = TestApp::start().await;
    app.fake.fault(
        "/geocodage",
        Fault::Status {
            status: 429,
            retry_after: Some(7),
            body: r#"{"message":"API rate limit exceeded"}"#.into(),
        },
        Some(1),
    );
    let r = app.get(SEARCH).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // During the pause nothing is sent upstream; other APIs are unaffected.
    let r = app.get("/collections/addresses/items?q=rue%20farges").await;
    assert_eq!(r.status(), 429);
    let left: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((6..=7).contains(&left), "retry-after {left}");
    assert_eq!(app.fake.count("/geocodage"), 1);
    let (status, ..) = app
        .get_json("/processes/autocomplete/execution?text=rue%20farges")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_day_long_retry_after_pauses_at_most_max_pause_s() {
    let app = TestApp::start_with(|c| c.upstream.max_pause_s = 3).await;
    app.fake.fault(
        "/geocodage",
        Fault::Status {
            status: 429,
            retry_after: Some(86400),
            body: r#"{"message":"API rate limit exceeded"}"#.into(),
        },
        Some(1),
    );
    let r = app.get(SEARCH).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    let (_, _, ready) = app.get_json("/ready").await;
    let paused = ready["upstream"]["apis"]["geocoding"]["paused_for_s"]
        .as_u64()
        .unwrap();
    assert!((1..=3).contains(&paused), "{ready}");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(app.get(SEARCH).await.status(), 200);
}

#[tokio::test]
async fn an_input_too_long_for_the_upstream_is_a_414_never_sent() {
    let app = TestApp::start_with(|c| c.server.max_uri_bytes = 200_000).await;
    let commune = "/collections/LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";
    for _ in 0..200 {
        if app.get_json(commune).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A 40 000-character filter: within what this gateway takes, beyond what it sends upstream.
    let long = "a".repeat(40_000);
    app.fake.clear_log();
    let got = app
        .get_json(&format!(
            "{commune}/items?filter=nom_officiel%20%3D%20%27{long}%27"
        ))
        .await;
    support::assert_problem(&got, 414, "shorten");
    let sent = app
        .fake
        .log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetFeature"))
        .count();
    assert_eq!(sent, 0, "the request was sent");
}

#[tokio::test]
async fn the_api_key_goes_upstream_and_nowhere_else() {
    let app = TestApp::start_with(|c| c.upstream.api_key = "s3cr3t-key".into()).await;
    app.fake.fault("/geocodage", Fault::unavailable(), None);
    let (_, _, problem) = app.get_json(SEARCH).await;
    assert!(!problem.to_string().contains("s3cr3t"));
    let sent = &app.fake.log()[0];
    assert_eq!(sent.headers["x-key"], "s3cr3t-key");
    assert!(sent.headers["user-agent"].starts_with("geopf-gateway/"));
    assert!(
        !sent.query.values().any(|v| v.contains("s3cr3t")),
        "the key is never in a URL"
    );
}

#[tokio::test]
async fn without_a_key_none_is_sent() {
    let app = TestApp::start().await;
    app.get_json(SEARCH).await;
    assert!(!app.fake.log()[0].headers.contains_key("x-key"));
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_and_the_server_keeps_serving() {
    use axum::{routing::get, Router};
    let server = geopf_gateway::config::Config::defaults().server;
    let routes: Router = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let app = geopf_gateway::http::with_layers(
        routes,
        &server,
        geopf_gateway::http::access_log::AccessLog::off(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let r = reqwest::get(format!("{base}/boom")).await.unwrap();
    let got = support::split(r).await;
    assert_problem(&got, 500, "internal error");
    assert!(
        !got.2.to_string().contains("kaboom"),
        "panic messages stay in the log"
    );
    assert_eq!(
        reqwest::get(format!("{base}/fine"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "fine"
    );
}

async fn boom() -> &'static str {
    panic!("kaboom")
}
