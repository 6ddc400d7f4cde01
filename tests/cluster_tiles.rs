//! Tiles shared by replicas through S3-compatible object storage (`cluster.tiles_url`), against a
//! real local S3-compatible server: moto's (`moto_server`, from PyPI; `.ci/run` installs it and
//! names it in `GEOPF_TEST_MOTO_SERVER`). Without one the test says so and passes, except under CI.
//! One test in its own binary: it sets the process's `AWS_*` variables, which nothing else may be
//! reading at the time.

mod support;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use support::{FakeUpstream, TestApp};

const PLAN: &str = "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2";

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_server() -> Option<String> {
    if let Some(path) = std::env::var_os("GEOPF_TEST_MOTO_SERVER") {
        return Some(path.to_string_lossy().into_owned());
    }
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        .then(|| "moto_server".to_string())
}

async fn wait_for_layers(app: &TestApp) {
    for _ in 0..300 {
        if app.get_json(&format!("/catalog/{PLAN}")).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the WMTS layers never loaded");
}

#[tokio::test]
async fn a_tile_fetched_by_one_replica_comes_from_object_storage_on_another() {
    let Some(binary) = moto_server() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install moto[server] (GEOPF_TEST_MOTO_SERVER)"
        );
        eprintln!("no moto_server: object-storage test skipped");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts"),
    );
    let http = reqwest::Client::new();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut created = false;
    for _ in 0..200 {
        if let Ok(r) = http.put(format!("{endpoint}/team-tiles")).send().await {
            created = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(created, "the bucket could not be created");
    // SAFETY: the only test of this binary, set before any gateway (or other thread) starts.
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        std::env::set_var(k, v);
    }
    let fake = FakeUpstream::start().await;
    let replica = || {
        TestApp::start_on(fake.clone(), |c| {
            c.cluster.tiles_url = "s3://team-tiles/geopf".into();
        })
    };
    let (a, b) = (replica().await, replica().await);
    wait_for_layers(&a).await;
    wait_for_layers(&b).await;
    let path = format!("/tiles/{PLAN}/6/32/22.png");
    let first = a.get(&path).await;
    assert_eq!(first.status(), 200);
    let body = first.bytes().await.unwrap();
    let second = b.get(&path).await;
    assert_eq!(second.status(), 200);
    assert_eq!(
        second.headers()["cache-status"],
        "geopf-gateway; hit; detail=shared"
    );
    assert_eq!(second.bytes().await.unwrap(), body);
    let upstream_tiles = fake
        .log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetTile"))
        .count();
    assert_eq!(
        upstream_tiles, 1,
        "B called the upstream for a tile A had shared"
    );
    // The object is in the bucket, under the prefix.
    let listing = http
        .get(format!(
            "{endpoint}/team-tiles?list-type=2&prefix=geopf/tiles/"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("<Key>geopf/tiles/"), "{listing}");
}
