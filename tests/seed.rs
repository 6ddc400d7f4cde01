//! The commands for offline work, run as the real binary against the in-process fake:
//! `geopf-gateway seed` fills the disk tile store, resumes without refetching, counts in a dry run,
//! and a gateway on that folder then serves the tiles with its upstream down — vector tiles with
//! their styles, sprites and glyphs, and the whole catalogue (`/ready` ready, offline);
//! `geopf-gateway catalog` prints the catalogue, from the upstream then from the snapshot alone.

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
    seed_layer(fake, dir, PLAN, extra).await
}

async fn seed_layer(fake: &FakeUpstream, dir: &str, layer: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "seed".to_string(),
        "--layer".into(),
        layer.into(),
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

/// The number of layers `/catalog.json` lists.
async fn catalogue_size(app: &TestApp) -> u64 {
    let (status, _, doc) = app.get_json("/catalog.json?limit=1").await;
    assert_eq!(status, 200, "{doc}");
    doc["numberMatched"].as_u64().unwrap()
}

#[tokio::test]
async fn a_seeded_vector_layer_and_the_catalogue_serve_offline() {
    const STYLES: &str = "/annexes/ressources/vectorTiles/styles/PLAN.IGN";
    const FONT: &str = "/annexes/ressources/vectorTiles/fonts/Source%20Sans%20Pro%20Regular";
    // The shape of the real PLAN.IGN TileMap and style (../shared/upstream), trimmed.
    let tile_map = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<TileMap version="1.0.0"><Title>PLAN.IGN</Title><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr{STYLES}/standard.json"/><SRS>EPSG:3857</SRS></TileMap>"#
    );
    let style = serde_json::json!({
        "version": 8,
        "glyphs": "https://data.geopf.fr/annexes/ressources/vectorTiles/fonts/{fontstack}/{range}.pbf",
        "sprite": format!("https://data.geopf.fr{STYLES}/sprite/PlanIgn"),
        "sources": {"plan_ign": {"type": "vector", "tiles": ["https://data.geopf.fr/tms/1.0.0/PLAN.IGN/{z}/{x}/{y}.pbf"]}},
        "layers": [{"id": "toponyme", "type": "symbol", "source": "plan_ign", "source-layer": "toponyme",
                    "layout": {"text-field": "{texte}", "text-font": ["Source Sans Pro Regular"]}}]
    });
    let fake = FakeUpstream::start().await;
    fake.set_body(
        "/tms/1.0.0/PLAN.IGN",
        200,
        "text/xml",
        tile_map.into_bytes(),
    );
    fake.set_body(
        &format!("{STYLES}/standard.json"),
        200,
        "application/json",
        style.to_string().into_bytes(),
    );
    let tilejson = serde_json::json!({"name": "PLAN.IGN", "minzoom": 0, "maxzoom": 18, "format": "pbf",
        "tiles": ["https://data.geopf.fr/tms/1.0.0/PLAN.IGN/{z}/{x}/{y}.pbf"],
        "vector_layers": [{"id": "toponyme", "fields": {"texte": "String"}}]});
    fake.set_body(
        "/tms/1.0.0/PLAN.IGN/metadata.json",
        200,
        "application/json",
        tilejson.to_string().into_bytes(),
    );
    let sprite_index = br#"{"poi":{"x":0,"y":0,"width":1,"height":1,"pixelRatio":1}}"#;
    fake.set_body(
        &format!("{STYLES}/sprite/PlanIgn.json"),
        200,
        "application/json",
        sprite_index.to_vec(),
    );
    let png = b"\x89PNG\r\n\x1a\n(a sprite sheet)".to_vec();
    fake.set_body(
        &format!("{STYLES}/sprite/PlanIgn.png"),
        200,
        "image/png",
        png,
    );
    // Two of the three ranges seeded are published (the third is a 404, as a range is upstream
    // for a font that lacks it).
    for range in ["0-255", "256-511"] {
        let glyphs = vec![0x0a, 0x00];
        fake.set_body(
            &format!("{FONT}/{range}.pbf"),
            200,
            "application/x-protobuf",
            glyphs,
        );
    }
    let mvt = vec![
        0x1a, 0x09, 0x0a, 0x01, b'a', 0x28, 0x80, 0x20, 0x78, 0x02, 0x00,
    ];
    let area = geopf_gateway::seed::SeedArea {
        bbox: geopf_gateway::seed::parse_bbox(BBOX).unwrap(),
        zooms: 12..=12,
    };
    let tiles: Vec<_> = geopf_gateway::seed::area_tiles(&area).collect();
    for (z, x, y) in &tiles {
        let path = format!("/tms/1.0.0/PLAN.IGN/{z}/{x}/{y}.pbf");
        fake.set_body(&path, 200, "application/x-protobuf", mvt.clone());
    }
    let dir = std::env::temp_dir()
        .join(format!(
            "geopf-seed-vector-{:?}",
            std::time::SystemTime::now()
        ))
        .display()
        .to_string();

    let out = seed_layer(&fake, &dir, "PLAN.IGN", &["--zoom", "12"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "PLAN.IGN: {} tiles: {} fetched",
            tiles.len(),
            tiles.len()
        )),
        "{text}"
    );
    assert!(
        text.contains("PLAN.IGN: 1 styles, 5 TileJSON, sprite sheets and glyph ranges kept (1 not published upstream), 0 failed"),
        "{text}"
    );

    // The catalogue as a gateway with its upstream up lists it.
    let online = TestApp::start_on(fake.clone(), |_| {}).await;
    for _ in 0..500 {
        let (_, _, ready) = online.get_json("/ready").await;
        let upstream = &ready["upstream"];
        if ["wmts", "wms", "wfs", "tms"]
            .iter()
            .all(|d| upstream[d]["source"] == "upstream")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let listed = catalogue_size(&online).await;

    // On the seeded folder with no upstream to reach (a field laptop): ready, the whole
    // catalogue, the map.
    let offline = TestApp::start_on(fake.clone(), {
        let dir = dir.clone();
        move |c| {
            c.cache.dir = dir;
            c.upstream.retries = 0;
            c.upstream.base_url = "http://127.0.0.1:9".into();
        }
    })
    .await;
    let (status, _, ready) = offline.get_json("/ready").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["offline"].is_string(), "{ready}");
    assert_eq!(catalogue_size(&offline).await, listed);
    let (status, _, style) = offline.get_json("/styles/PLAN.IGN/default.json").await;
    assert_eq!(status, 200, "{style}");
    let sprite = style["sprite"].as_str().unwrap().to_string();
    assert!(sprite.starts_with(&offline.base), "{sprite}");
    for url in [
        format!("{sprite}.json"),
        format!("{sprite}.png"),
        style["glyphs"]
            .as_str()
            .unwrap()
            .replace("{fontstack}", "Source%20Sans%20Pro%20Regular")
            .replace("{range}", "0-255"),
    ] {
        let r = offline.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url} offline");
    }
    let (z, x, y) = tiles[0];
    let r = offline
        .get(&format!("/tiles/PLAN.IGN/{z}/{x}/{y}.pbf"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &mvt[..]);
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
