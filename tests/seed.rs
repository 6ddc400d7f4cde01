//! The commands for offline work, run as the real binary against the in-process fake:
//! `geopf-gateway seed` fills the disk tile store, resumes without refetching, counts in a dry run,
//! and a gateway on that folder then serves the tiles with its upstream down; `geopf-gateway catalog`
//! prints the catalogue, from the upstream then from the snapshot alone.

mod support;

use std::process::{Command, Output};

use support::{FakeUpstream, Fault, TestApp};

const PLAN: &str = "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2";
/// Montpellier.
const BBOX: &str = "3.85,43.58,3.92,43.63";

fn get_tiles(fake: &FakeUpstream) -> usize {
    fake.log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetTile"))
        .count()
}

async fn seed(fake: &FakeUpstream, dir: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "seed".to_string(),
        "--layer".into(),
        PLAN.into(),
        "--bbox".into(),
        BBOX.into(),
        "--upstream".into(),
        fake.base_url(),
        "--cache-dir".into(),
        dir.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn seeding_fills_the_disk_resumes_and_serves_offline() {
    let fake = FakeUpstream::start().await;
    let dir = std::env::temp_dir()
        .join(format!("geopf-seed-{:?}", std::time::SystemTime::now()))
        .display()
        .to_string();

    // Dry run: a count and an estimate, nothing fetched.
    let dry = seed(&fake, &dir, &["--zoom", "10-12", "--dry-run"]).await;
    assert!(dry.status.success(), "{dry:?}");
    assert!(
        stdout(&dry).contains(&format!("{PLAN}: 12 tiles at zoom 10-12")),
        "{}",
        stdout(&dry)
    );
    assert_eq!(get_tiles(&fake), 0);

    let first = seed(&fake, &dir, &["--zoom", "10-12"]).await;
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).contains("12 tiles: 12 fetched"),
        "{}",
        stdout(&first)
    );
    assert_eq!(get_tiles(&fake), 12);

    // Again, one level deeper: what is on disk is not fetched again.
    let second = seed(&fake, &dir, &["--zoom", "10-13"]).await;
    assert!(second.status.success());
    let text = stdout(&second);
    assert!(text.contains("12 already on disk"), "{text}");
    let added: usize = text
        .split(" fetched")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(added > 0);
    assert_eq!(get_tiles(&fake), 12 + added);

    // A gateway on the seeded folder, its WMTS down for tiles: Montpellier's tiles are there.
    let gateway = TestApp::start_on(fake.clone(), {
        let dir = dir.clone();
        move |c| {
            c.cache.dir = dir;
            c.upstream.retries = 0;
        }
    })
    .await;
    for _ in 0..300 {
        if gateway.get(&format!("/catalog/{PLAN}")).await.status() == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    fake.fault("/wmts", Fault::unavailable(), None);
    let (x, y) = geopf_gateway::geo::tile_of(3.88, 43.61, 12);
    let r = gateway.get(&format!("/tiles/{PLAN}/12/{x}/{y}.png")).await;
    assert_eq!(
        r.status(),
        200,
        "a seeded tile is served with the upstream down"
    );
}

#[tokio::test]
async fn bad_seeding_arguments_are_named() {
    let fake = FakeUpstream::start().await;
    let dir = std::env::temp_dir()
        .join(format!("geopf-seed-bad-{:?}", std::time::SystemTime::now()))
        .display()
        .to_string();
    for (extra, needle) in [
        (vec!["--zoom", "12-3"], "--zoom"),
        (vec!["--zoom", "12", "--format", "webp"], "--format"),
    ] {
        let out = seed(&fake, &dir, &extra).await;
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
            .args([
                "seed",
                "--layer",
                "NOT.A.LAYER",
                "--bbox",
                BBOX,
                "--zoom",
                "5",
            ])
            .args(["--upstream", &fake.base_url(), "--cache-dir", &dir])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT.A.LAYER"));
}

fn catalog(fake: &FakeUpstream, dir: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
        .args([
            "catalog",
            "--upstream",
            &fake.base_url(),
            "--cache-dir",
            dir,
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_catalog_command_prints_the_catalogue_even_offline() {
    let fake = FakeUpstream::start().await;
    let dir = std::env::temp_dir()
        .join(format!("geopf-catalog-{:?}", std::time::SystemTime::now()))
        .display()
        .to_string();
    let f = fake.clone();
    let d = dir.clone();
    let out = tokio::task::spawn_blocking(move || catalog(&f, &d, &["--q", "plan ign"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("{PLAN}\twmts"))),
        "{text}"
    );
    // The upstream down: the snapshot the first run kept answers, as JSON.
    fake.fault("/", Fault::unavailable(), None);
    let f = fake.clone();
    let out =
        tokio::task::spawn_blocking(move || catalog(&f, &dir, &["--service", "wfs", "--json"]))
            .await
            .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = doc["layers"].as_array().unwrap();
    assert!(!layers.is_empty());
    assert!(layers
        .iter()
        .all(|l| l["services"] == serde_json::json!(["wfs"])));
    let bad =
        tokio::task::spawn_blocking(move || catalog(&fake, "/nonexistent", &["--service", "ftp"]))
            .await
            .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--service"));
}
