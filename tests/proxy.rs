//! The gateway as a team proxy: access keys, per-key budgets, metrics, CORS, limits, secrets.

mod support;

use geopf_gateway::config::Config;
use support::{assert_problem, key, link, TestApp};

fn two_keys(c: &mut Config) {
    c.auth.keys.push(key("alice", "alice-secret-token", 50, 50));
    // bob's key is given as the SHA-256 of "bob-secret-token".
    let mut bob = key("bob", "unused", 2, 2);
    bob.token = None;
    bob.token_sha256 = Some(sha256_hex("bob-secret-token"));
    c.auth.keys.push(bob);
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[tokio::test]
async fn without_a_key_only_health_and_ready_answer() {
    let app = TestApp::start_with(two_keys).await;
    assert_eq!(app.get("/health").await.status(), 200);
    assert_eq!(app.get("/ready").await.status(), 200);
    for path in [
        "/",
        "/collections/addresses/items?q=rue%20farges",
        "/metrics",
        "/api",
    ] {
        let r = app.get(path).await;
        assert_eq!(
            r.headers()["www-authenticate"],
            "Bearer realm=\"geopf-gateway\"",
            "{path}"
        );
        assert_problem(&support::split(r).await, 401, "access key");
    }
    let r = app
        .http
        .get(app.url("/"))
        .bearer_auth("wrong-token-value")
        .send()
        .await
        .unwrap();
    assert_problem(&support::split(r).await, 401, "not valid");
    assert_eq!(app.fake.count("/geocodage/search"), 0);
}

/// The team's plugin repository needs no key (QGIS's plugin manager sends none, the plugin holds
/// none): the plugin it serves is connected to this gateway.
#[tokio::test]
async fn the_plugin_repository_is_open_and_its_plugin_knows_this_gateway() {
    let app = TestApp::start_with(two_keys).await;
    let xml = app.get("/qgis/plugins.xml").await;
    assert_eq!(xml.status(), 200);
    let xml = xml.text().await.unwrap();
    let zip_url = format!("{}/qgis/geopf_gateway.zip", app.base);
    assert!(
        xml.contains(&format!("<download_url>{zip_url}</download_url>"))
            && xml.contains(&format!("<version>{}</version>", env!("CARGO_PKG_VERSION"))),
        "{xml}"
    );
    let zip = app.http.get(&zip_url).send().await.unwrap();
    assert_eq!(zip.status(), 200);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert!(archive.by_name("geopf_gateway/metadata.txt").is_ok());
    let mut said = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("geopf_gateway/gateway.json").unwrap(),
        &mut said,
    )
    .unwrap();
    let said: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(said["url"], app.base.as_str());
    assert_eq!(app.get("/qgis/icon.png").await.status(), 200);
}

#[tokio::test]
async fn a_bearer_token_or_a_query_token_opens_the_door() {
    let app = TestApp::start_with(two_keys).await;
    let r = app
        .http
        .get(app.url("/collections/addresses/items?q=rue%20farges"))
        .bearer_auth("alice-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // ?token= (for clients that cannot set headers): not an unknown parameter, and links carry it.
    let (status, _, doc) = app.get_json("/?token=alice-secret-token").await;
    assert_eq!(status, 200, "{doc}");
    let desc = link(&doc, "service-desc").unwrap();
    assert!(desc.ends_with("/api?token=alice-secret-token"), "{desc}");
    let (status, _, fc) = app
        .get_json("/collections/addresses/items?q=rue%20farges&limit=1&token=alice-secret-token")
        .await;
    assert_eq!(status, 200, "{fc}");
    let next = link(&fc, "next").unwrap();
    assert!(
        next.contains("token=alice-secret-token") && next.contains("offset=1"),
        "{next}"
    );
    assert_eq!(app.http.get(&next).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_hashed_token_in_the_config_works() {
    let hash = sha256_hex("bob-secret-token");
    let app = TestApp::start_with(move |c| {
        let mut bob = key("bob", "x", 5, 5);
        bob.token = None;
        bob.token_sha256 = Some(hash);
        c.auth.keys.push(bob);
    })
    .await;
    let r = app
        .http
        .get(app.url("/conformance"))
        .bearer_auth("bob-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn each_key_has_its_own_budget() {
    let hash = sha256_hex("bob-secret-token");
    let app = TestApp::start_with(move |c| {
        c.auth.keys.push(key("alice", "alice-secret-token", 50, 50));
        let mut bob = key("bob", "x", 1, 2);
        bob.token = None;
        bob.token_sha256 = Some(hash);
        c.auth.keys.push(bob);
    })
    .await;
    let bob = |path: &str| {
        app.http
            .get(app.url(path))
            .bearer_auth("bob-secret-token")
            .send()
    };
    assert_eq!(bob("/conformance").await.unwrap().status(), 200);
    assert_eq!(bob("/conformance").await.unwrap().status(), 200);
    let r = bob("/conformance").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_problem(&support::split(r).await, 429, "key \"bob\"");
    // Alice is not affected by Bob's spent budget.
    for _ in 0..10 {
        let r = app
            .http
            .get(app.url("/conformance"))
            .bearer_auth("alice-secret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn metrics_are_exposed_and_move() {
    let app = TestApp::start().await;
    app.get("/collections/addresses/items?q=rue%20farges").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for series in [
        "geopf_http_requests_total",
        "geopf_http_request_duration_seconds_bucket",
        "geopf_upstream_requests_total",
        "geopf_upstream_quota_wait_seconds",
        "geopf_cache_lookups_total",
        "geopf_cache_memory_bytes{cache=\"answers\"}",
        "geopf_cache_memory_bytes{cache=\"images\"}",
        "geopf_cache_disk_bytes",
        "geopf_jobs",
    ] {
        assert!(text.contains(series), "/metrics lacks {series}");
    }
    let count = |text: &str| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with("geopf_http_requests_total{")
                    && l.contains("route=\"/conformance\"")
                    && l.contains("status=\"200\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = count(&text);
    app.get("/conformance").await;
    app.get("/conformance").await;
    let after = count(&app.get("/metrics").await.text().await.unwrap());
    assert!(after >= before + 2.0, "{before} -> {after}");
}

#[tokio::test]
async fn cors_preflights_are_answered_even_with_keys() {
    let app = TestApp::start_with(|c| {
        two_keys(c);
        c.server.cors_origins = vec!["https://maps.example.org".into()];
    })
    .await;
    let r = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            app.url("/processes/geocode/execution"),
        )
        .header("origin", "https://maps.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://maps.example.org"
    );
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
}

/// The `Access-Control-Allow-Origin` a page of `origin` gets for `path`.
async fn allowed_origin(app: &TestApp, path: &str, origin: &str) -> Option<String> {
    let r = app
        .http
        .get(app.url(path))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn a_personal_gateway_is_not_readable_by_other_sites_but_its_map_data_is() {
    let app = TestApp::start().await;
    let evil = "https://evil.example";
    for path in [
        "/collections/addresses/items",
        "/jobs",
        "/processes",
        "/metrics",
    ] {
        assert_eq!(allowed_origin(&app, path, evil).await, None, "{path}");
    }
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/jobs"))
        .header("origin", evil)
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Web maps keep their tiles, capabilities and catalogue.
    for path in [
        "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/6/32/22.png",
        "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
        "/catalog.json",
    ] {
        assert_eq!(
            allowed_origin(&app, path, evil).await.as_deref(),
            Some("*"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_loopback_gateway_refuses_foreign_host_names() {
    let app = TestApp::start().await;
    let r = app
        .http
        .get(app.url("/collections"))
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_problem(&support::split(r).await, 403, "DNS rebinding");
    let r = app
        .http
        .get(app.url("/health"))
        .header("host", format!("localhost:{}", app.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Every `Vary` header of a response, joined.
fn vary_of(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let forwarded = |app: &TestApp| {
        app.http
            .get(app.url("/"))
            .header("x-forwarded-host", "attacker.example")
            .header("x-forwarded-proto", "https")
            .send()
    };
    let app = TestApp::start().await;
    let r = forwarded(&app).await.unwrap();
    let vary = vary_of(&r);
    assert!(vary.contains("accept"), "{vary}");
    let doc: serde_json::Value = r.json().await.unwrap();
    let me = link(&doc, "self").unwrap();
    assert!(me.starts_with(&app.base), "{me}");
    let app = TestApp::start_with(|c| c.server.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let r = forwarded(&app).await.unwrap();
    let vary = vary_of(&r);
    assert!(vary.contains("x-forwarded-host"), "{vary}");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(link(&doc, "self")
        .unwrap()
        .starts_with("https://attacker.example"));
}

#[tokio::test]
async fn oversized_bodies_and_uris_are_problems() {
    let app = TestApp::start_with(|c| c.server.body_limit_mb = 1).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let r = app
        .http
        .post(app.url("/processes/geocode/execution"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(&support::split(r).await, 413, "server.body_limit_mb");
    let long = format!("/collections/addresses/items?q={}", "a".repeat(9000));
    assert_problem(&app.get_json(&long).await, 414, "server.max_uri_bytes");
}

#[tokio::test]
async fn no_secret_in_any_answer() {
    let app = TestApp::start_with(|c| {
        two_keys(c);
        c.upstream.api_key = "upstream-private-key".into();
    })
    .await;
    app.fake
        .fault("/geocodage", support::Fault::unavailable(), None);
    let mut seen = String::new();
    for path in [
        "/",
        "/api",
        "/collections/addresses/items?q=rue%20farges",
        "/metrics",
        "/ready",
        "/processes/geocode",
    ] {
        let r = app
            .http
            .get(app.url(path))
            .bearer_auth("alice-secret-token")
            .send()
            .await
            .unwrap();
        seen.push_str(&format!("{:?}", r.headers()));
        seen.push_str(&r.text().await.unwrap());
    }
    assert!(!seen.contains("upstream-private-key"));
    assert!(!seen.contains("alice-secret-token"));
    assert_eq!(app.fake.log()[0].headers["x-key"], "upstream-private-key");
}

#[tokio::test]
async fn two_keys_share_an_upstream_quota_fairly() {
    // Geocoding limited to 5/s upstream; alice fires 15 searches, then bob 5: bob's are not served
    // after all of alice's, but in turn with hers.
    let app = TestApp::start_with(|c| {
        c.upstream.quotas.insert("geocoding".into(), 5);
        two_keys(c);
        c.auth.keys[1].requests_per_second = 50;
        c.auth.keys[1].burst = Some(50);
    })
    .await;
    let search = |token: &'static str, q: String| {
        let req = app
            .http
            .get(app.url(&format!("/collections/addresses/items?q={q}")))
            .bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let mut all = Vec::new();
    for i in 0..15 {
        all.push(tokio::spawn(search(
            "alice-secret-token",
            format!("alice%20{i}"),
        )));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for i in 0..5 {
        all.push(tokio::spawn(search(
            "bob-secret-token",
            format!("bob%20{i}"),
        )));
    }
    for t in all {
        assert_eq!(t.await.unwrap(), 200);
    }
    let order: Vec<String> = app
        .fake
        .log()
        .into_iter()
        .filter(|r| r.path == "/geocodage/search")
        .map(|r| r.query["q"].split(' ').next().unwrap().to_string())
        .collect();
    let last_bob = order.iter().rposition(|w| w == "bob").unwrap();
    assert!(
        last_bob < order.len() - 3,
        "bob was served after alice's burst: {order:?}"
    );
}

#[tokio::test]
async fn the_request_id_goes_upstream_and_ready_reports_each_api() {
    let app = TestApp::start().await;
    let r = app
        .http
        .get(app.url("/collections/addresses/items?q=rue%20farges"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(
        sent.headers.get("x-request-id").map(String::as_str),
        Some("trace-me-42")
    );
    let (_, _, ready) = app.get_json("/ready").await;
    let geocoding = &ready["upstream"]["apis"]["geocoding"];
    assert!(geocoding["calls"].as_u64().unwrap() >= 1, "{ready}");
    assert!(geocoding["last_success"].is_string());
}

/// A request as one of two keys.
async fn as_key(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> (u16, String, serde_json::Value) {
    let r = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    support::split(r).await
}

#[tokio::test]
async fn two_keys_neither_see_read_delete_nor_starve_each_other() {
    let app = TestApp::start_with(|c| {
        c.auth
            .keys
            .push(key("alice", "alice-secret-token", 500, 500));
        c.auth.keys.push(key("bob", "bob-secret-token", 500, 500));
        let mut admin = key("ops", "ops-secret-token", 500, 500);
        admin.admin = true;
        c.auth.keys.push(admin);
        c.jobs.max_jobs_per_key = 3;
    })
    .await;
    let (alice, bob) = ("alice-secret-token", "bob-secret-token");
    // Alice uploads a CSV and starts a batch job over it.
    let upload = app
        .http
        .post(app.url("/uploads"))
        .bearer_auth(alice)
        .body("q\n8 bd du port 95000 cergy\n")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let href = support::split(upload).await.2["href"]
        .as_str()
        .unwrap()
        .to_string();
    let start = |token: &'static str, inputs: serde_json::Value| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/processes/batch-geocode/execution"))
                .bearer_auth(token)
                .header("prefer", "respond-async")
                .json(&serde_json::json!({ "inputs": inputs }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = start(alice, serde_json::json!({ "data": { "href": href } })).await;
    assert_eq!(r.status(), 201);
    let job = support::split(r).await.2["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    // Bob can use neither her upload nor her job.
    let r = start(bob, serde_json::json!({ "data": { "href": href } })).await;
    assert_problem(&support::split(r).await, 400, "does not exist");
    let job_path = format!("/jobs/{job}");
    for (method, path) in [
        (reqwest::Method::GET, job_path.clone()),
        (reqwest::Method::GET, format!("{job_path}/results")),
        (reqwest::Method::DELETE, job_path.clone()),
    ] {
        let got = as_key(&app, bob, method.clone(), &path).await;
        assert_eq!(got.0, 404, "{method} {path} as bob: {}", got.2);
    }
    let listed = as_key(&app, bob, reqwest::Method::GET, "/jobs").await.2;
    assert_eq!(listed["numberMatched"], 0, "{listed}");
    assert_eq!(
        as_key(&app, alice, reqwest::Method::GET, &job_path).await.0,
        200
    );
    // The admin key sees every job.
    let listed = as_key(&app, "ops-secret-token", reqwest::Method::GET, "/jobs")
        .await
        .2;
    assert_eq!(listed["numberMatched"], 1, "{listed}");
    // Alice fills her own slots with long jobs; bob still starts his.
    app.fake
        .fault("/geocodage/search", support::Fault::Hang, None);
    let mut refused = None;
    for _ in 0..4 {
        let r = start(alice, serde_json::json!({ "data": "q\nparis\n" })).await;
        if r.status() != 201 {
            refused = Some(support::split(r).await);
            break;
        }
    }
    let refused = refused.expect("alice was never refused a job");
    assert_problem(&refused, 429, "jobs.max_jobs_per_key");
    let r = start(bob, serde_json::json!({ "data": "q\nparis\n" })).await;
    assert_eq!(r.status(), 201, "bob was starved by alice's jobs");
}

#[tokio::test]
async fn one_keys_lookups_do_not_show_in_anothers_items() {
    let app = TestApp::start_with(two_keys).await;
    let got = as_key(
        &app,
        "alice-secret-token",
        reqwest::Method::GET,
        "/collections/addresses/items?q=8%20bd%20du%20port",
    )
    .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert!(!got.2["features"].as_array().unwrap().is_empty());
    let mine = as_key(
        &app,
        "alice-secret-token",
        reqwest::Method::GET,
        "/collections/addresses/items",
    )
    .await;
    assert!(
        !mine.2["features"].as_array().unwrap().is_empty(),
        "{}",
        mine.2
    );
    let theirs = as_key(
        &app,
        "bob-secret-token",
        reqwest::Method::GET,
        "/collections/addresses/items",
    )
    .await;
    // Bob has looked nothing up: his list is not Alice's lookups but the examples a fresh list
    // shows (the fake answers them from the same recording, so the note tells them apart).
    assert!(mine.2["note"].is_null(), "{}", mine.2);
    assert!(
        theirs.2["note"]
            .as_str()
            .unwrap_or_default()
            .contains("examples"),
        "{}",
        theirs.2
    );
}

#[tokio::test]
async fn ready_shows_upstream_details_only_to_key_holders() {
    let app = TestApp::start_with(two_keys).await;
    app.fake
        .fault("/geocodage", support::Fault::unavailable(), None);
    let (status, _, open) = app.get_json("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(open["status"], "degraded");
    assert!(open.get("upstream").is_none(), "{open}");
    let r = app
        .http
        .get(app.url("/ready"))
        .bearer_auth("alice-secret-token")
        .send()
        .await
        .unwrap();
    let detailed = support::split(r).await.2;
    assert_eq!(detailed["upstream"]["geocoding"]["reachable"], false);
}
