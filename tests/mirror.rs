//! The guarded mirror `GET /geopf/{path}`: the upstream's answers through the gateway's cache,
//! quotas and key, for the listed API prefixes only — never an open proxy.

mod support;

use support::{assert_problem, TestApp};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const SEARCH: &str = "/geocodage/search?q=1%20rue%20Farges%20Montpellier&limit=3";

#[tokio::test]
async fn a_mirrored_search_is_the_upstreams_answer_cached() {
    let app = TestApp::start_with(|c| c.upstream.api_key = "private-layer-key".into()).await;
    let direct = reqwest::get(format!("{}{SEARCH}", app.fake.base_url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    app.fake.clear_log();
    let first = app.get(&format!("/geopf{SEARCH}")).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("miss"));
    assert!(first.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("json"));
    assert!(first.headers().get("set-cookie").is_none());
    assert_eq!(first.bytes().await.unwrap(), direct);
    let again = app.get(&format!("/geopf{SEARCH}")).await;
    assert_eq!(again.headers()["cache-status"], "geopf-gateway; hit");
    assert_eq!(app.fake.count("/geocodage/search"), 1);
    // The gateway's key went upstream; the client's answer never shows it.
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(sent.headers["x-key"], "private-layer-key");
    // Counted in the geocoding quota's metrics like any geocoding call.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("geopf_upstream_requests_total")
                && l.contains("api=\"geocoding\"")
                && l.contains("outcome=\"ok\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn mirrored_tiles_go_through_the_image_cache() {
    let app = TestApp::start().await;
    let tile = "/geopf/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM&TILEMATRIX=6&TILEROW=22&TILECOL=32&FORMAT=image/png";
    let r = app.get(tile).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert_eq!(
        app.get(tile).await.headers()["cache-status"],
        "geopf-gateway; hit"
    );
}

/// The raw answer to a request line sent as is (clients normalise `..` away before sending).
async fn raw_get(app: &TestApp, target: &str) -> String {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn the_mirror_is_never_an_open_proxy() {
    let app = TestApp::start().await;
    for target in [
        "/geopf/etc/passwd",
        "/geopf/http://evil/",
        "/geopf/../",
        "/geopf/geocodage/../../etc/passwd",
        "/geopf/%2e%2e/%2e%2e/etc/passwd",
        "/geopf/geocodage%2f..%2f..%2fetc",
        "/geopf//evil.example/x",
        "/geopf/",
    ] {
        let answer = raw_get(&app, target).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{target}: {answer}");
        assert!(answer.contains("application/problem+json"), "{target}");
    }
    let leaked: Vec<String> = app
        .fake
        .log()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p.contains("passwd") || p.contains("evil") || p.contains(".."))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    assert_problem(
        &app.get_json("/geopf/nowhere").await,
        404,
        "mirror.prefixes",
    );
}

#[tokio::test]
async fn a_team_mirror_needs_a_key() {
    let app = TestApp::start_with(|c| {
        c.auth
            .keys
            .push(support::key("alice", "alice-secret-token", 50, 50))
    })
    .await;
    assert_eq!(app.get(&format!("/geopf{SEARCH}")).await.status(), 401);
    let r = app
        .http
        .get(app.url(&format!("/geopf{SEARCH}")))
        .bearer_auth("alice-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_post_is_sent_on_with_its_body_and_never_cached() {
    let app = TestApp::start().await;
    // A client's form, as the geocoder's CSV endpoint takes it.
    let csv = "--b0\r\nContent-Disposition: form-data; name=\"data\"; filename=\"a.csv\"\r\n\r\nq\n1 rue Farges Montpellier\n8 bd du Port Cergy\n\r\n--b0\r\nContent-Disposition: form-data; name=\"columns\"\r\n\r\nq\r\n--b0--\r\n";
    let post = || {
        app.http
            .post(app.url("/geopf/geocodage/search/csv?columns=q"))
            .header("content-type", "multipart/form-data; boundary=b0")
            .body(csv)
            .send()
    };
    let r = post().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let answer = r.text().await.unwrap();
    assert_eq!(answer.lines().count(), 3, "{answer}");
    assert!(answer.starts_with("q,latitude,longitude"), "{answer}");
    let sent = app.fake.first_to("/geocodage/search/csv");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.body, csv.as_bytes());
    assert_eq!(
        sent.headers["content-type"],
        "multipart/form-data; boundary=b0"
    );
    assert_eq!(sent.query["columns"], "q");
    post().await.unwrap();
    assert_eq!(
        app.fake.count("/geocodage/search/csv"),
        2,
        "a POST was cached"
    );
}
