//! OGC API Common over HTTP: landing page, conformance, OpenAPI, HTML, negotiation, links behind a
//! proxy, health, readiness, unknown paths.

mod support;

use serde_json::Value;
use support::{assert_problem, link, Fault, TestApp};

#[tokio::test]
async fn landing_page_links_what_qgis_and_gdal_follow() {
    let app = TestApp::start().await;
    let (status, ctype, doc) = app.get_json("/").await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/json");
    for rel in [
        "self",
        "alternate",
        "service-desc",
        "service-doc",
        "conformance",
        "data",
        "http://www.opengis.net/def/rel/ogc/1.0/processes",
    ] {
        let href = link(&doc, rel).unwrap_or_else(|| panic!("no {rel} link in {doc}"));
        assert!(
            href.starts_with(&app.base),
            "{rel} link {href} is not absolute"
        );
    }
    // The service-desc must resolve: QGIS silently drops the layer otherwise.
    let api = app
        .get(&link(&doc, "service-desc").unwrap().replace(&app.base, ""))
        .await;
    assert_eq!(api.status(), 200);
}

#[tokio::test]
async fn conformance_lists_features_and_processes() {
    let app = TestApp::start().await;
    let (status, _, doc) = app.get_json("/conformance").await;
    assert_eq!(status, 200);
    let classes: Vec<&str> = doc["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core"));
    // The four classes QGIS needs before it pushes filters (to the WFS collections).
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    ] {
        assert!(classes.contains(&class), "{class}");
    }
}

#[tokio::test]
async fn openapi_is_3_0_with_the_limit_qgis_reads() {
    let app = TestApp::start().await;
    let r = app.get("/api").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."));
    let limit = &doc["components"]["parameters"]["limit"]["schema"];
    assert_eq!(limit["default"], 10);
    assert_eq!(limit["maximum"], 1000);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/collections/addresses/items",
        "/collections/poi/items/{featureId}",
        "/collections/parcels/queryables",
        "/processes/geocode/execution",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    assert!(doc["paths"]["/processes/geocode/execution"]["post"].is_object());
    // Every $ref resolves inside the document.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/").skip(1) {
        let pointer = format!("/{}", piece.split('"').next().unwrap());
        assert!(doc.pointer(&pointer).is_some(), "dangling $ref {pointer}");
    }
}

#[tokio::test]
async fn api_html_lists_every_path() {
    let app = TestApp::start().await;
    let r = app.get("/api.html").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/collections/addresses/items"));
    assert!(html.contains("/processes/geocode/execution"));
    assert!(!html.contains("<script"), "pages work offline: no scripts");
    // The landing page says what the registries hold.
    let landing = app.get("/?f=html").await.text().await.unwrap();
    assert!(landing.contains("Processes (geocode, "), "{landing}");
    assert!(landing.contains("batch-geocode"));
    assert!(landing.contains("Feature collections ("));
}

#[tokio::test]
async fn every_resource_answers_html_and_json() {
    let app = TestApp::start().await;
    for path in [
        "/",
        "/conformance",
        "/collections",
        "/collections/addresses",
        "/collections/addresses/items",
        "/collections/addresses/queryables",
        "/processes",
        "/processes/geocode",
    ] {
        let html = app
            .http
            .get(app.url(path))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        assert_eq!(html.status(), 200, "{path}");
        assert!(
            html.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let body = html.text().await.unwrap();
        assert!(
            body.starts_with("<!DOCTYPE html>") && body.contains("</html>"),
            "{path}"
        );

        // f= wins over Accept; */* (OWSLib) gets JSON.
        let json = app
            .http
            .get(app.url(&format!("{path}?f=json")))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(
            !json.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        let any = app
            .http
            .get(app.url(path))
            .header("accept", "*/*")
            .send()
            .await
            .unwrap();
        assert!(
            any.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("json"),
            "{path}"
        );
    }
    let (status, ..) = app.get_json("/collections/addresses/items?f=geojson").await;
    assert_eq!(status, 200);
    assert_problem(&app.get_json("/?f=xml").await, 400, "f");
}

#[tokio::test]
async fn html_escapes_what_it_shows() {
    let app = TestApp::start().await;
    let r = app
        .get("/collections/addresses/items?f=html&q=a%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("a&#60;script&#62;alert(1)") || html.contains("a&lt;script&gt;alert(1)"),
        "the query is shown back"
    );
    assert!(
        !html.contains("<script>alert(1)"),
        "user input must be escaped"
    );
}

#[tokio::test]
async fn links_follow_the_reverse_proxy() {
    // The proxy is a trusted one (a peer on loopback, as the tests are).
    let app = TestApp::start_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let r = app
        .http
        .get(app.url("/collections/addresses?f=json"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "gis.example.org")
        .header("x-forwarded-prefix", "/geopf")
        .send()
        .await
        .unwrap();
    let doc: Value = r.json().await.unwrap();
    for l in doc["links"].as_array().unwrap() {
        let href = l["href"].as_str().unwrap();
        assert!(href.starts_with("https://gis.example.org/geopf/"), "{href}");
    }
}

#[tokio::test]
async fn a_configured_public_url_wins() {
    let app =
        TestApp::start_with(|c| c.server.public_url = "https://maps.example.org/gw/".into()).await;
    let (_, _, doc) = app.get_json("/").await;
    assert_eq!(
        link(&doc, "service-desc").unwrap(),
        "https://maps.example.org/gw/api"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    let (status, _, doc) = app.get_json("/health").await;
    assert_eq!((status, doc["status"].as_str()), (200, Some("ok")));
    let (status, _, doc) = app.get_json("/ready").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["upstream"]["geocoding"]["reachable"], true);
}

#[tokio::test]
async fn readiness_says_when_the_upstream_is_down() {
    let app = TestApp::start_with(|c| c.upstream.retries = 0).await;
    app.fake.fault("/geocodage", Fault::unavailable(), None);
    let (status, _, doc) = app.get_json("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(doc["status"], "degraded");
    assert!(doc["upstream"]["geocoding"]["error"]
        .as_str()
        .unwrap()
        .contains("503"));
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = TestApp::start().await;
    assert_problem(&app.get_json("/nowhere").await, 404, "no such path");
    let r = app
        .http
        .delete(app.url("/collections"))
        .send()
        .await
        .unwrap();
    assert_problem(&support::split(r).await, 405, "method");
}

#[tokio::test]
async fn options_on_items_answers_allow() {
    let app = TestApp::start().await;
    let r = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            app.url("/collections/addresses/items"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    // Each path's Allow is the router's own: what it really takes.
    for (path, allow) in [
        ("/jobs", "GET,HEAD,OPTIONS"),
        ("/jobs/some-job", "GET,HEAD,DELETE,OPTIONS"),
        ("/uploads", "POST,OPTIONS"),
        ("/processes/geocode/execution", "GET,HEAD,POST,OPTIONS"),
    ] {
        let r = app
            .http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(r.headers()["allow"], allow, "{path}");
    }
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/no/such/path"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_server_starts_without_the_upstream() {
    // Nothing listens on port 9 of loopback: the gateway must start and answer all the same.
    let app = TestApp::start_with(|c| {
        c.upstream.base_url = "http://127.0.0.1:9".into();
        c.upstream.retries = 0;
    })
    .await;
    let (status, ..) = app.get_json("/").await;
    assert_eq!(status, 200);
    assert_problem(
        &app.get_json("/collections/addresses/items?q=rue%20de%20la%20paix")
            .await,
        502,
        "geocoding",
    );
}
