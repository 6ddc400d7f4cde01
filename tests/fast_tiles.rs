//! The cached-tile fast path (`src/http/fast_tiles.rs`): a tile hit answered before the router
//! must be the full path's answer — same status and headers, `304` to `If-None-Match` — and keep
//! the `Host` check, the metrics and the access log; a gateway with access keys never takes it.

mod support;

use std::{
    io::Read,
    process::{Command, Stdio},
    time::Duration,
};

use support::{key, stable_headers, FakeUpstream, TestApp};

const TILE: &str = "/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/6/32/22.png";

async fn cached(app: &TestApp) -> reqwest::Response {
    for _ in 0..300 {
        let r = app.get(TILE).await;
        if r.status() == 200 {
            return app.get(TILE).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the tile never loaded");
}

#[tokio::test]
async fn a_tile_hit_is_the_full_paths_answer() {
    let app = TestApp::start().await;
    let fast = cached(&app).await;
    // A query string sends the same tile the full way.
    let full = app.get(&format!("{TILE}?v=1")).await;
    assert_eq!(fast.status(), 200);
    assert_eq!(full.status(), 200);
    assert_eq!(stable_headers(&fast, &[]), stable_headers(&full, &[]));
    assert!(fast.headers().contains_key("x-request-id"));
    let etag = fast.headers()["etag"].clone();
    let body = fast.bytes().await.unwrap();
    assert_eq!(body, full.bytes().await.unwrap());
    // A client's own request id is kept.
    let mine = app
        .http
        .get(app.url(TILE))
        .header("x-request-id", "my-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "my-id-42");
    // Revalidation: 304 on both paths, same headers.
    let revalidate = |path: String| {
        app.http
            .get(app.url(&path))
            .header("if-none-match", etag.clone())
            .send()
    };
    let fast = revalidate(TILE.to_string()).await.unwrap();
    let full = revalidate(format!("{TILE}?v=1")).await.unwrap();
    assert_eq!(fast.status(), 304);
    assert_eq!(stable_headers(&fast, &[]), stable_headers(&full, &[]));
    assert!(fast.bytes().await.unwrap().is_empty());
    // Counted under the full path's route label.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("geopf_http_requests_total")
                && l.contains("route=\"/tiles/{layer_id}/{z}/{x}/{file}\"")
                && l.contains("status=\"304\"")
        })
        .unwrap_or_else(|| panic!("no 304 tile count in {metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
    // And the fast path did answer them (the full one counts nothing there).
    let fast_answers = metrics
        .lines()
        .find(|l| l.starts_with("geopf_http_fast_answers_total{kind=\"tile\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(fast_answers >= 3, "{fast_answers} fast answers");
}

#[tokio::test]
async fn the_host_check_holds_for_cached_tiles() {
    let app = TestApp::start().await;
    cached(&app).await;
    let rebound = app
        .http
        .get(app.url(TILE))
        .header("host", "evil.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
}

#[tokio::test]
async fn a_gateway_with_keys_checks_them_for_cached_tiles() {
    let app =
        TestApp::start_with(|c| c.auth.keys = vec![key("alice", "alice-token", 100, 100)]).await;
    for _ in 0..300 {
        let r = app
            .http
            .get(app.url(TILE))
            .bearer_auth("alice-token")
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.get(TILE).await.status(),
        401,
        "a cached tile without a key"
    );
    let with_key = app
        .http
        .get(app.url(TILE))
        .bearer_auth("alice-token")
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 200);
    assert_eq!(with_key.headers()["cache-status"], "geopf-gateway; hit");
}

#[tokio::test]
async fn cached_tiles_are_in_the_access_log() {
    let fake = FakeUpstream::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = std::env::temp_dir().join(format!("geopf-fast-{}", uuid::Uuid::new_v4()));
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", &fake.base_url()])
        .args(["--cache-dir", &cache.display().to_string()])
        .env("GEOPF_CATALOG__EMBEDDED", "false")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}{TILE}");
    let mut hits = 0;
    for _ in 0..300 {
        if let Ok(r) = http.get(&url).send().await {
            if r.headers().get("cache-status").map(|v| v.as_bytes()) == Some(b"geopf-gateway; hit")
            {
                hits += 1;
                if hits == 3 {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hits, 3, "no cached tile");
    // SIGTERM: the log writer's queue is flushed as the gateway exits.
    let _ = Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status();
    let _ = gateway.wait();
    let mut log = String::new();
    gateway
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let lines = log
        .lines()
        .filter(|l| {
            l.contains(" INFO access: GET ") && l.contains(TILE) && l.contains("status=200")
        })
        .count();
    assert!(lines >= 3, "{lines} access lines for the tile in:\n{log}");
}

#[tokio::test]
async fn a_wmts_kvp_tile_hit_is_the_full_paths_answer() {
    const KVP: &str = "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=6&TILEROW=22&TILECOL=32";
    // The full path: a gateway with a key (the fast path is off there) in front of the same fake.
    let open = TestApp::start().await;
    let keyed = TestApp::start_on(open.fake.clone(), |c| {
        c.auth.keys = vec![key("alice", "alice-token", 1000, 1000)]
    })
    .await;
    cached(&open).await;
    let get = |app: &TestApp| app.http.get(app.url(KVP)).bearer_auth("alice-token").send();
    for _ in 0..300 {
        if get(&keyed).await.unwrap().status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = fast_answers(&open).await;
    let (fast, full) = (get(&open).await.unwrap(), get(&keyed).await.unwrap());
    assert_eq!(fast.status(), 200);
    assert_eq!(fast.headers()["cache-status"], "geopf-gateway; hit");
    assert_eq!(stable_headers(&fast, &[]), stable_headers(&full, &[]));
    // (The counter is the test process's: other tests may add to it, never take from it.)
    assert!(fast_answers(&open).await > before, "not the fast path");
    // A GetTile the full path refuses is refused the same way (never a fast 200).
    let bad_style = open.get(&KVP.replace("STYLE=normal", "STYLE=nope")).await;
    assert_eq!(bad_style.status(), 400);
}

async fn fast_answers(app: &TestApp) -> u64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("geopf_http_fast_answers_total{kind=\"tile\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0)
}
