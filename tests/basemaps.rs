//! The basemap catalogue and XYZ tiles, over HTTP against the fake WMTS.

mod support;

use support::{assert_problem, Fault, TestApp};

const PLAN: &str = "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2";

async fn app() -> TestApp {
    app_with(|_| {}).await
}

async fn app_with(tweak: impl FnOnce(&mut geopf_gateway::config::Config)) -> TestApp {
    let dir = std::env::temp_dir().join(format!("geopf-tiles-{}", std::process::id()));
    let app = TestApp::start_with(move |c| {
        c.cache.dir = dir
            .join(format!("{:?}", std::time::SystemTime::now()))
            .display()
            .to_string();
        tweak(c);
    })
    .await;
    wait_for_layers(&app).await;
    app
}

async fn wait_for_layers(app: &TestApp) {
    for _ in 0..300 {
        if app.get_json(&format!("/catalog/{PLAN}")).await.0 == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the WMTS layers never loaded");
}

fn get_tiles(app: &TestApp) -> usize {
    app.fake
        .log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetTile"))
        .count()
}

#[tokio::test]
async fn tiles_survive_a_restart_on_disk() {
    let dir =
        std::env::temp_dir().join(format!("geopf-restart-{:?}", std::time::SystemTime::now()));
    let d1 = dir.display().to_string();
    let first = TestApp::start_with(move |c| c.cache.dir = d1).await;
    wait_for_layers(&first).await;
    assert_eq!(
        first
            .get(&format!("/tiles/{PLAN}/6/32/22.png"))
            .await
            .status(),
        200
    );
    // A new gateway on the same folder, its upstream failing on tiles: the tile comes from disk.
    let d2 = dir.display().to_string();
    let second = TestApp::start_with(move |c| c.cache.dir = d2).await;
    wait_for_layers(&second).await;
    second.fake.fault("/wmts", Fault::unavailable(), None);
    let r = second.get(&format!("/tiles/{PLAN}/6/32/22.png")).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().ends_with(b"6 22 32"));
    assert_eq!(
        get_tiles(&second),
        0,
        "no upstream call: the disk copy is fresh"
    );
    assert!(std::fs::read_dir(dir.join("tiles")).unwrap().count() > 0);
}

#[tokio::test]
async fn a_garbage_tile_is_a_502_and_never_cached() {
    let app = app_with(|c| c.upstream.retries = 0).await;
    let tile = format!("/tiles/{PLAN}/7/64/44.png");
    app.fake.fault("/wmts", Fault::GarbageImage, Some(1));
    assert_problem(&app.get_json(&tile).await, 502, "not an image");
    app.fake.clear_log();
    let r = app.get(&tile).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let body = r.bytes().await.unwrap();
    assert!(body.starts_with(b"\x89PNG"));
    assert_eq!(app.fake.count("/wmts"), 1, "the garbage was cached");
}

#[tokio::test]
async fn a_hanging_upstream_gets_the_stale_tile_without_waiting_for_its_timeout() {
    let app = app_with(|c| {
        c.cache.ttl.insert("tiles".into(), 1);
        c.upstream.retries = 0;
        c.upstream.timeout_ms = 60_000;
    })
    .await;
    let tile = format!("/tiles/{PLAN}/7/64/44.png");
    assert_eq!(app.get(&tile).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    app.fake.fault("/wmts", Fault::Hang, None);
    // Far sooner than the upstream's 60 s timeout (the client gives up after 20 s).
    let r = app
        .http
        .get(app.url(&tile))
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("the stale tile came before the client's timeout");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["warning"].to_str().unwrap().starts_with("110"));
}

#[tokio::test]
async fn a_stale_tile_beats_no_tile_when_the_upstream_fails() {
    let app = app_with(|c| {
        c.cache.ttl.insert("tiles".into(), 1);
        c.upstream.retries = 0;
    })
    .await;
    assert_eq!(
        app.get(&format!("/tiles/{PLAN}/7/64/44.png"))
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    app.fake.fault("/wmts", Fault::unavailable(), None);
    let r = app.get(&format!("/tiles/{PLAN}/7/64/44.png")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["warning"].to_str().unwrap().starts_with("110"));
    assert_eq!(
        r.headers()["cache-status"],
        "geopf-gateway; hit; detail=stale-if-error"
    );
    // Never fetched: no copy, a clear error.
    assert_problem(
        &app.get_json(&format!("/tiles/{PLAN}/7/65/44.png")).await,
        502,
        "WMTS",
    );
}

/// A gateway on a cache folder of its own, its layers loaded; the folder, for a second gateway.
async fn app_on_a_folder_of_its_own() -> (TestApp, String) {
    let folder = std::env::temp_dir()
        .join(format!("geopf-folder-{:?}", std::time::SystemTime::now()))
        .display()
        .to_string();
    let f = folder.clone();
    let app = TestApp::start_with(move |c| c.cache.dir = f).await;
    wait_for_layers(&app).await;
    (app, folder)
}

async fn ready_source(app: &TestApp, document: &str) -> String {
    let (_, _, ready) = app.get_json("/ready").await;
    ready["upstream"][document]["source"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn the_catalogue_starts_from_its_disk_snapshot_and_refreshes_conditionally() {
    let (first, folder) = app_on_a_folder_of_its_own().await;
    let (_, _, all) = first.get_json("/catalog.json?service=wmts").await;
    let layers = all["numberMatched"].as_u64().unwrap();
    assert!(layers > 0);
    assert_eq!(ready_source(&first, "wmts").await, "upstream");

    // The upstream's WMTS now fails: a gateway started on the same folder has the whole catalogue
    // at its first request, from the snapshot, and says so.
    let fake = first.fake.clone();
    fake.fault("/wmts", Fault::unavailable(), None);
    let second = TestApp::start_on(fake.clone(), {
        let f = folder.clone();
        move |c| c.cache.dir = f
    })
    .await;
    let (status, _, offline) = second.get_json("/catalog.json?service=wmts").await;
    assert_eq!(status, 200);
    assert_eq!(offline["numberMatched"].as_u64(), Some(layers));
    assert_eq!(second.get(&format!("/catalog/{PLAN}")).await.status(), 200);
    let (_, _, ready) = second.get_json("/ready").await;
    assert_eq!(ready["upstream"]["wmts"]["source"], "disk snapshot");
    assert!(ready["upstream"]["wmts"]["age_s"].as_u64().is_some());

    // The upstream is back: the next gateway asks whether the document changed (If-None-Match),
    // gets an empty 304 and keeps the snapshot's layers.
    fake.clear_faults();
    fake.clear_log();
    let third = TestApp::start_on(fake.clone(), move |c| c.cache.dir = folder).await;
    for _ in 0..300 {
        if ready_source(&third, "wmts").await == "upstream" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(ready_source(&third, "wmts").await, "upstream");
    let asked: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|r| {
            r.path == "/wmts"
                && r.query.get("REQUEST").map(String::as_str) == Some("GetCapabilities")
        })
        .collect();
    assert!(!asked.is_empty());
    assert!(
        asked
            .iter()
            .all(|r| r.headers.contains_key("if-none-match")),
        "every capabilities request is conditional"
    );
    let (_, _, ready) = third.get_json("/ready").await;
    assert_eq!(ready["upstream"]["wmts"]["last_refresh"], "unchanged (304)");
    let (_, _, after) = third.get_json("/catalog.json?service=wmts").await;
    assert_eq!(after["numberMatched"].as_u64(), Some(layers));
}

#[tokio::test]
async fn a_renamed_layer_is_reported_not_a_blank_map() {
    let (first, folder) = app_on_a_folder_of_its_own().await;
    // The upstream renames the Plan IGN v2 layer to v3.
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/wmts/capabilities.xml"
    ))
    .unwrap();
    let v3 = "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV3";
    let renamed = fixture.replace(&format!(">{PLAN}<"), &format!(">{v3}<"));
    assert_ne!(renamed, fixture);
    first
        .fake
        .set_body("/wmts", 200, "application/xml", renamed.into_bytes());
    // The next gateway starts from the snapshot, then reads the new document.
    let second = TestApp::start_on(first.fake.clone(), move |c| c.cache.dir = folder).await;
    let mut ready = serde_json::Value::Null;
    for _ in 0..300 {
        ready = second.get_json("/ready").await.2;
        if !ready["upstream"]["wmts"]["changes"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let changes = &ready["upstream"]["wmts"]["changes"];
    assert_eq!(changes["removed_ids"], serde_json::json!([PLAN]), "{ready}");
    assert_eq!(changes["added_ids"], serde_json::json!([v3]));
    assert_problem(
        &second.get_json(&format!("/tiles/{PLAN}/6/32/22.png")).await,
        404,
        PLAN,
    );
    assert_eq!(second.get(&format!("/catalog/{v3}")).await.status(), 200);
}

#[tokio::test]
async fn a_pan_storm_waits_behind_the_tile_fetch_cap() {
    let app = app_with(|c| c.upstream.max_tile_fetches = 2).await;
    app.fake.fault(
        "/wmts",
        Fault::Slow(std::time::Duration::from_millis(50)),
        None,
    );
    let urls: Vec<String> = (0..12)
        .map(|i| app.url(&format!("/tiles/{PLAN}/10/{}/360.png", 500 + i)))
        .collect();
    let requests = urls.iter().map(|u| app.http.get(u).send());
    for r in futures::future::join_all(requests).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(get_tiles(&app), 12);
    assert!(
        app.fake.peak_in_flight("/wmts") <= 2,
        "at most two tile requests upstream at once, saw {}",
        app.fake.peak_in_flight("/wmts")
    );
}

#[tokio::test]
async fn the_catalogue_lists_searches_and_describes_layers() {
    let app = app().await;
    let (status, _, all) = app.get_json("/catalog.json?service=wmts").await;
    assert_eq!(status, 200);
    assert_eq!(all["numberMatched"], 4);
    let plan = all["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == PLAN)
        .unwrap();
    for key in [
        "id",
        "title",
        "abstract",
        "keywords",
        "theme",
        "services",
        "formats",
        "styles",
        "bbox",
        "min_zoom",
        "max_zoom",
        "tile_matrix_set",
        "legend_url",
        "metadata_urls",
        "links",
    ] {
        assert!(plan.get(key).is_some(), "entry lacks {key}");
    }
    assert_eq!(plan["theme"], "maps");
    assert_eq!(
        (plan["min_zoom"].as_u64(), plan["max_zoom"].as_u64()),
        (Some(0), Some(19))
    );
    assert!(plan["links"]["tiles"]
        .as_str()
        .unwrap()
        .ends_with("/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/{z}/{x}/{y}.png"));
    let (_, _, found) = app.get_json("/catalog.json?q=ortho%202020").await;
    let ids: Vec<&str> = found["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ORTHOIMAGERY.ORTHOPHOTOS"]);
    let (_, _, cadastre) = app.get_json("/catalog.json?theme=cadastre").await;
    assert_eq!(
        cadastre["layers"][0]["id"],
        "CADASTRALPARCELS.PARCELLAIRE_EXPRESS"
    );
    let (_, _, paged) = app.get_json("/catalog.json?limit=1").await;
    assert_eq!(paged["layers"].as_array().unwrap().len(), 1);
    // The next page of a search is the next page of the same search.
    let (_, _, searched) = app.get_json("/catalog.json?service=wmts&limit=1").await;
    let next = support::link(&searched, "next").expect("a next link");
    assert!(
        next.contains("service=wmts") && next.contains("offset=1"),
        "{next}"
    );
    let second = app.follow(&next).await;
    assert_ne!(second["layers"][0]["id"], searched["layers"][0]["id"]);
    assert!(support::link(&second, "prev").is_some());
    assert_problem(&app.get_json("/catalog/NOPE").await, 404, "NOPE");
}

#[tokio::test]
async fn tiles_map_to_wmts_get_tile_and_are_cached() {
    let app = app().await;
    let r = app.get(&format!("/tiles/{PLAN}/6/32/22.png")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "public, max-age=86400");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let body = r.bytes().await.unwrap();
    assert!(
        body.ends_with(b"GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2 6 22 32"),
        "row = y, col = x"
    );
    let sent = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetTile"))
        .unwrap();
    assert_eq!(sent.query["TILEMATRIXSET"], "PM_0_19");
    assert_eq!(sent.query["STYLE"], "normal");
    assert_eq!(sent.query["FORMAT"], "image/png");
    let again = app.get(&format!("/tiles/{PLAN}/6/32/22.png")).await;
    assert_eq!(again.headers()["cache-status"], "geopf-gateway; hit");
    let r = app
        .http
        .get(app.url(&format!("/tiles/{PLAN}/6/32/22.png")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let gets = app
        .fake
        .log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetTile"))
        .count();
    assert_eq!(gets, 1);
    let jpeg = app
        .get("/tiles/ORTHOIMAGERY.ORTHOPHOTOS/10/520/360.jpeg")
        .await;
    assert_eq!(jpeg.headers()["content-type"], "image/jpeg");
}

#[tokio::test]
async fn tiles_outside_a_layer_are_404_problems() {
    let app = app().await;
    assert_problem(
        &app.get_json(&format!("/tiles/{PLAN}/20/0/0.png")).await,
        404,
        "zoom 0 to 19",
    );
    assert_problem(
        &app.get_json(&format!("/tiles/{PLAN}/2/9/0.png")).await,
        404,
        "outside",
    );
    // Whatever the extension asked, the layer's own format (as the upstream answers).
    let other_extension = app.get(&format!("/tiles/{PLAN}/6/32/22.jpeg")).await;
    assert_eq!(other_extension.status(), 200);
    assert_eq!(other_extension.headers()["content-type"], "image/png");
    assert_problem(
        &app.get_json("/tiles/ELEVATION.LAMB93/3/1/1.png").await,
        404,
        "WebMercator",
    );
    assert_problem(
        &app.get_json("/tiles/NOPE/3/1/1.png").await,
        404,
        "no basemap",
    );
    assert_problem(
        &app.get_json(&format!("/tiles/{PLAN}/3/1/x.png")).await,
        400,
        "y",
    );
}

#[tokio::test]
async fn a_qlr_adds_the_layer_through_the_gateway() {
    let app = app().await;
    let r = app.get(&format!("/catalog/{PLAN}.qlr")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/x-qgis-layer-definition"
    );
    let text = r.text().await.unwrap();
    assert!(text.starts_with("<!DOCTYPE qgis-layer-definition>"));
    assert!(text.contains("<provider>wms</provider>"));
    // Encoded as QGIS encodes it: the braces, not the scheme's `:` and `/` (QGIS 3.40 finds no
    // tile behind `http%3A%2F%2F…`).
    assert!(
        text.contains(&format!(
            "type=xyz&amp;url={}/tiles/{PLAN}/%7Bz%7D/%7Bx%7D/%7By%7D.png&amp;",
            app.base
        )),
        "{text}"
    );
    assert!(text.contains("zmax=19"));
}

#[tokio::test]
async fn the_kiosk_is_one_page_that_works_offline() {
    let app = app().await;
    let r = app.get("/catalog").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for id in [
        PLAN,
        "ORTHOIMAGERY.ORTHOPHOTOS",
        "CADASTRALPARCELS.PARCELLAIRE_EXPRESS",
    ] {
        assert!(html.contains(id), "{id} is on the page");
    }
    // A layer on another matrix set (Lambert-93) is a card too: its WMTS, and a .qlr in its CRS.
    let lamb93 = html
        .split("<section class=\"card\"")
        .find(|c| c.contains("<code>ELEVATION.LAMB93</code>"))
        .expect("a card for the Lambert-93 layer");
    assert!(
        lamb93.contains("Copy WMTS URL") && lamb93.contains("WMTS, LAMB93_5cm_EPSG"),
        "{lamb93}"
    );
    let qlr = app.html("/catalog/ELEVATION.LAMB93.qlr").await;
    assert!(
        qlr.contains("tileMatrixSet=LAMB93_5cm_EPSG")
            && qlr.contains("crs=EPSG:2154")
            && qlr.contains("<authid>EPSG:2154</authid><description>RGF93 v1 / Lambert-93"),
        "{qlr}"
    );
    assert!(html.contains("loading=\"lazy\""));
    // The tools: every process, the adapters' included, links to its page.
    for id in ["route", "elevation", "search-layers"] {
        assert!(
            html.contains(&format!("/processes/{id}?f=html")),
            "{id} is a tool"
        );
    }
    // Every URL on the page is the gateway's own: no CDN, nothing else to fetch.
    for src in html.split("src=\"").skip(1) {
        assert!(
            src.starts_with(&app.base),
            "external resource: {}",
            &src[..60.min(src.len())]
        );
    }
    // The legend through the gateway's mirror (its cache; offline once seen), not data.geopf.fr.
    let (_, _, detail) = app.get_json(&format!("/catalog/{PLAN}")).await;
    let legend = detail["legend_url"].as_str().unwrap().to_string();
    assert_eq!(
        legend,
        format!(
            "{}/geopf/annexes/ressources/legendes/{PLAN}-legend.png",
            app.base
        )
    );
    let path = format!("/annexes/ressources/legendes/{PLAN}-legend.png");
    app.fake
        .set_body(&path, 200, "image/png", b"\x89PNG\r\n\x1a\nlegend".to_vec());
    let r = app.http.get(&legend).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.fake.first_to(&path).path, path);
}

const COMMUNE: &str = "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";
const SCAN: &str = "SCAN25TOUR_PYR-JPEG_WLD_WM";

/// Waits until the WMS and WFS capabilities are in the catalogue too.
async fn wait_for_all(app: &TestApp) {
    for _ in 0..300 {
        let (_, _, wms) = app.get_json("/catalog.json?service=wms&limit=1").await;
        let (_, _, wfs) = app.get_json("/catalog.json?service=wfs&limit=1").await;
        if wms["numberMatched"].as_u64() > Some(0) && wfs["numberMatched"].as_u64() > Some(0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the WMS and WFS never reached the catalogue");
}

#[tokio::test]
async fn the_catalogue_joins_wmts_wms_and_wfs() {
    let app = app().await;
    wait_for_all(&app).await;
    let (_, _, ortho) = app.get_json("/catalog/ORTHOIMAGERY.ORTHOPHOTOS").await;
    assert_eq!(ortho["services"], serde_json::json!(["wmts", "wms"]));
    let (_, _, scan) = app.get_json(&format!("/catalog/{SCAN}")).await;
    assert_eq!(scan["services"], serde_json::json!(["wms"]));
    assert_eq!(scan["theme"], "maps");
    assert!(scan["links"]["preview"]
        .as_str()
        .unwrap()
        .contains("/wms?SERVICE=WMS"));
    let (_, _, parcels) = app
        .get_json("/catalog/CADASTRALPARCELS.PARCELLAIRE_EXPRESS")
        .await;
    assert_eq!(
        parcels["metadata_urls"][0],
        "https://geoservices.ign.fr/sites/default/files/parcellaire.xml"
    );
    let (_, _, commune) = app.get_json(&format!("/catalog/{COMMUNE}")).await;
    assert_eq!(commune["services"], serde_json::json!(["wfs"]));
    assert_eq!(commune["theme"], "administrative");
    assert_eq!(
        commune["links"]["collection"],
        format!("{}/collections/{COMMUNE}", app.base)
    );
    let (_, _, wfs) = app.get_json("/catalog.json?service=wfs&q=commune").await;
    assert!(wfs["layers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["id"] == COMMUNE));
    assert_problem(
        &app.get_json("/catalog.json?service=ftp").await,
        400,
        "service",
    );
    assert_problem(&app.get_json("/catalog.json?theme=sea").await, 400, "theme");

    // A .qlr for each kind: XYZ, WMS, OGC API features.
    let wms_qlr = app
        .get(&format!("/catalog/{SCAN}.qlr"))
        .await
        .text()
        .await
        .unwrap();
    assert!(wms_qlr.contains("providerKey=\"wms\""), "{wms_qlr}");
    assert!(
        wms_qlr.contains(&format!(
            "layers={SCAN}&amp;styles=&amp;url={}/wms",
            app.base
        )),
        "{wms_qlr}"
    );
    let wfs_qlr = app
        .get(&format!("/catalog/{COMMUNE}.qlr"))
        .await
        .text()
        .await
        .unwrap();
    assert!(wfs_qlr.contains("providerKey=\"OAPIF\""), "{wfs_qlr}");
    assert!(wfs_qlr.contains("<maplayer type=\"vector\""));
    assert!(
        wfs_qlr.contains(&format!("typename=&apos;{COMMUNE}&apos;")),
        "{wfs_qlr}"
    );
    // Only the visible extent is asked, and the CRS is one QGIS can rebuild (not an authid alone).
    assert!(
        wfs_qlr.contains("restrictToRequestBBOX=&apos;1&apos;"),
        "{wfs_qlr}"
    );
    assert!(wfs_qlr.contains("<proj4>+proj=longlat +datum=WGS84 +no_defs</proj4>"));
    assert!(
        wms_qlr.contains("<authid>EPSG:3857</authid>") && wms_qlr.contains("<proj4>+proj=merc")
    );

    // The kiosk has a card for each, and a filter by service.
    let html = app.get("/catalog").await.text().await.unwrap();
    for id in [PLAN, SCAN, COMMUNE] {
        assert!(
            html.contains(&format!("<code>{id}</code>")),
            "{id} has a card"
        );
    }
    assert!(html.contains("id=\"service\""));
    // The detail page shows the layer: nine tiles around the middle of its extent.
    let page = app
        .get(&format!("/catalog/{PLAN}?f=html"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches(&format!("src=\"{}/tiles/{PLAN}/", app.base))
            .count(),
        9
    );
}

#[test]
fn the_real_capabilities_are_read_whole() {
    // The real document, as embedded in the binary (assets/catalog/SOURCES.md).
    let xml = geopf_gateway::catalog::embedded::WMTS.text().unwrap();
    let layers = geopf_gateway::catalog::wmts::parse_capabilities(&xml).unwrap();
    assert_eq!(layers.len(), 543);
    assert_eq!(
        layers
            .iter()
            .filter(|l| l.tile_matrix_set.starts_with("PM"))
            .count(),
        537
    );
    let plan = layers.iter().find(|l| l.id == PLAN).unwrap();
    assert_eq!(plan.formats, ["image/png"]);
    assert!(plan.zoom_range().is_some());
    assert!(
        layers
            .iter()
            .any(|l| l.styles.iter().any(|s| s.id.contains(' '))),
        "style ids with spaces survive"
    );
}

#[tokio::test]
async fn qgis_connections_for_the_featured_basemaps() {
    let app = app().await;
    let r = app.get("/catalog/qgis-connections.xml").await;
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(xml.starts_with("<!DOCTYPE connections>"));
    assert_eq!(xml.matches("<xyztiles ").count(), 3, "{xml}");
    assert!(xml.contains(&format!(
        "url=\"{}/tiles/{PLAN}/{{z}}/{{x}}/{{y}}.png\"",
        app.base
    )));
    let wms = app
        .get("/catalog/qgis-connections.xml?type=wms")
        .await
        .text()
        .await
        .unwrap();
    assert!(wms.contains("<qgsWMSConnections version=\"1.0\">"));
    assert!(wms.contains(&format!(
        "url=\"{}/wmts?SERVICE=WMTS&amp;REQUEST=GetCapabilities\"",
        app.base
    )));
    assert!(wms.contains(&format!("url=\"{}/wms\"", app.base)));
    let wfs = app
        .get("/catalog/qgis-connections.xml?type=wfs")
        .await
        .text()
        .await
        .unwrap();
    assert!(wfs.contains("<qgsWFSConnections version=\"1.1\">"));
    assert!(wfs.contains(&format!(
        "url=\"{}/\" version=\"OGC_API_FEATURES\"",
        app.base
    )));
    assert_problem(
        &app.get_json("/catalog/qgis-connections.xml?type=postgis")
            .await,
        400,
        "type",
    );
}

#[tokio::test]
async fn the_wmts_is_republished_with_the_gateway_urls_kvp_and_rest() {
    let app = app().await;
    for path in [
        "/wmts?service=WMTS&request=GetCapabilities",
        "/wmts/1.0.0/WMTSCapabilities.xml",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/xml");
        let xml = r.text().await.unwrap();
        assert_eq!(
            xml.matches("<ResourceURL ").count(),
            4,
            "one per layer format"
        );
        assert!(xml.contains(&format!("template=\"{}/wmts/1.0.0/{PLAN}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.png\"", app.base)));
        assert!(
            !xml.contains(&app.fake.base_url()),
            "no upstream URL is left"
        );
    }
    // QGIS sends upper-case KVP keys, GDAL mixed case; GDAL also uses the REST template.
    let kvp = app.get(&format!("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={PLAN}&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM_0_19&TILEMATRIX=6&TILEROW=22&TILECOL=32")).await;
    assert_eq!(kvp.status(), 200);
    let mixed = app.get(&format!("/wmts?service=WMTS&request=GetTile&layer={PLAN}&style=normal&format=image%2Fpng&TileMatrixSet=PM_0_19&TileMatrix=6&TileRow=22&TileCol=32")).await;
    assert_eq!(mixed.headers()["cache-status"], "geopf-gateway; hit");
    let rest = app
        .get(&format!("/wmts/1.0.0/{PLAN}/normal/PM_0_19/6/22/32.png"))
        .await;
    assert_eq!(rest.status(), 200);
    assert!(rest.bytes().await.unwrap().ends_with(b"6 22 32"));
    // "PM", as maps and scripts send it to data.geopf.fr, is the layer's WebMercator set: the
    // same tile, from the cache.
    let pm = app.get(&format!("/wmts?REQUEST=GetTile&LAYER={PLAN}&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=6&TILEROW=22&TILECOL=32")).await;
    assert_eq!(pm.status(), 200);
    assert_eq!(pm.headers()["cache-status"], "geopf-gateway; hit");
    assert_problem(&app.get_json(&format!("/wmts?REQUEST=GetTile&LAYER={PLAN}&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=LAMB93&TILEMATRIX=6&TILEROW=22&TILECOL=32")).await, 400, "PM_0_19");
    // A layer on another matrix set (Lambert-93) is served on it, through the cache.
    let lamb93 = app
        .get("/wmts?REQUEST=GetTile&LAYER=ELEVATION.LAMB93&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=LAMB93_5cm_EPSG&TILEMATRIX=1&TILEROW=0&TILECOL=0")
        .await;
    assert_eq!(lamb93.status(), 200);
    let sent = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.get("LAYER").map(String::as_str) == Some("ELEVATION.LAMB93"))
        .unwrap();
    assert_eq!(sent.query["TILEMATRIXSET"], "LAMB93_5cm_EPSG");
    // A `.png` asked of a JPEG layer is its JPEG tile, as the upstream answers.
    let jpeg = app.get("/tiles/ORTHOIMAGERY.ORTHOPHOTOS/6/32/22.png").await;
    assert_eq!(jpeg.status(), 200);
    assert_eq!(jpeg.headers()["content-type"], "image/jpeg");
    assert_problem(
        &app.get_json("/wmts?REQUEST=GetFeatureInfo").await,
        400,
        "not supported",
    );
}

#[tokio::test]
async fn path_traversal_and_absurd_ids_are_plain_404s() {
    let app = app().await;
    let long = "A".repeat(5000);
    for path in [
        "/tiles/..%2F..%2F..%2Fetc%2Fpasswd/6/32/22.png".to_string(),
        "/tiles/%2Fetc%2Fpasswd/6/32/22.png".to_string(),
        "/catalog/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/catalog/..%2F..%2Fetc%2Fpasswd.qlr".to_string(),
        "/wmts/1.0.0/..%2F..%2Fetc/normal/PM_0_19/6/22/32.png".to_string(),
        format!("/tiles/{long}/6/32/22.png"),
        format!("/catalog/{long}"),
    ] {
        let got = app.get_json(&path).await;
        assert!(got.0 == 404 || got.0 == 400, "{path}: {} {}", got.0, got.2);
        assert_eq!(got.1, "application/problem+json", "{path}");
        assert!(!got.2.to_string().contains("root:"), "{path}");
    }
    assert_eq!(get_tiles(&app), 0, "nothing reached the upstream");
}

/// The cache folder of a gateway started again with another `--upstream` that does not answer
/// (a field laptop): the snapshots it holds still serve the whole catalogue, without validators
/// (another upstream never confirms them with a 304).
#[tokio::test]
async fn a_snapshot_serves_under_another_upstream() {
    let (first, folder) = app_on_a_folder_of_its_own().await;
    let written = |name: &str| {
        std::path::Path::new(&folder)
            .join(format!("catalog/{name}.snapshot"))
            .exists()
    };
    for _ in 0..500 {
        if ["wmts", "wms-r", "wfs"].iter().all(|n| written(n)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (_, _, all) = first.get_json("/catalog.json").await;
    let layers = all["numberMatched"].as_u64().unwrap();
    assert!(layers > 0);
    let second = TestApp::start_on(first.fake.clone(), move |c| {
        c.cache.dir = folder;
        c.upstream.base_url = "http://127.0.0.1:9".into();
        c.upstream.retries = 0;
    })
    .await;
    let (status, _, offline) = second.get_json("/catalog.json").await;
    assert_eq!(status, 200);
    assert_eq!(offline["numberMatched"].as_u64(), Some(layers));
    let (_, _, ready) = second.get_json("/ready").await;
    for doc in ["wmts", "wms", "wfs"] {
        assert_eq!(
            ready["upstream"][doc]["source"], "disk snapshot",
            "{doc}: {ready}"
        );
    }
}

/// A first start with no snapshot and no upstream: the catalogue embedded in the binary serves
/// at once, and says so.
#[tokio::test]
async fn offline_the_embedded_catalogue_is_complete_at_once() {
    let app = TestApp::start_with(|c| {
        c.catalog.embedded = true;
        c.upstream.base_url = "http://127.0.0.1:9".into();
        c.upstream.retries = 0;
    })
    .await;
    let (status, _, catalog) = app.get_json("/catalog.json").await;
    assert_eq!(status, 200);
    assert!(
        catalog["numberMatched"].as_u64().unwrap() > 1000,
        "{}",
        catalog["numberMatched"]
    );
    let (_, _, ortho) = app.get_json("/catalog/ORTHOIMAGERY.ORTHOPHOTOS").await;
    assert_eq!(ortho["id"], "ORTHOIMAGERY.ORTHOPHOTOS");
    let (_, _, ready) = app.get_json("/ready").await;
    for doc in ["wmts", "wms", "wfs"] {
        assert_eq!(
            ready["upstream"][doc]["source"], "embedded snapshot",
            "{doc}: {ready}"
        );
    }
    let html = app.get("/catalog").await.text().await.unwrap();
    assert!(
        html.contains("(built in), refreshing"),
        "the kiosk says where its layers come from"
    );
    // The republished WMTS links each WebMercator layer to the generic PM set too (the real
    // document defines it): projects saved with TILEMATRIXSET=PM find it.
    let caps = app
        .get("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
        .await
        .text()
        .await
        .unwrap();
    let pm_links = caps
        .matches("<TileMatrixSetLink><TileMatrixSet>PM</TileMatrixSet></TileMatrixSetLink>")
        .count();
    assert_eq!(pm_links, 537, "one per WebMercator layer");
}

/// A layer's page has a pannable map on the gateway's own tiles and its own copy of Leaflet (no
/// CDN), the tile mosaic kept for a browser without scripts; `tests/browser/detail_map.py` drags it.
#[tokio::test]
async fn a_layer_page_has_a_map_served_by_the_gateway() {
    let app = TestApp::start().await;
    wait_for_layers(&app).await;
    let page = app.html(&format!("/catalog/{PLAN}?f=html")).await;
    let tiles = format!("{}/tiles/{PLAN}/{{z}}/{{x}}/{{y}}.png", app.base);
    assert!(page.contains(&format!("L.tileLayer(\"{tiles}\"")), "{page}");
    assert!(page.contains(&format!("{}/assets/leaflet/leaflet.js", app.base)));
    assert!(page.contains("<noscript><div class=\"preview mosaic\">"));
    let js = app.get("/assets/leaflet/leaflet.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.text().await.unwrap().contains("Leaflet"));
    assert_eq!(app.get("/assets/leaflet/nope.js").await.status(), 404);
}
