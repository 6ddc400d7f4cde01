//! The Géoplateforme's vector tiles through the gateway: `/tiles/{id}/{z}/{x}/{y}.pbf` through
//! the tile caches (an error page is never a tile), and `/styles/{id}/{style}.json` with its tiles,
//! sprite and glyphs pointed at the gateway, the glyphs' font stacks (with spaces) through the
//! mirror.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::TestApp;

const TILE: &str = "/tms/1.0.0/PLAN.IGN/12/2092/1495.pbf";
/// A Mapbox Vector Tile: one layer ("a") of version 2 and extent 4096, no feature.
const MVT: &[u8] = &[
    0x1a, 0x09, 0x0a, 0x01, b'a', 0x28, 0x80, 0x20, 0x78, 0x02, 0x00,
];

/// Waits for the TMS layer list (fetched at start) and answers `path` once it is there.
async fn once_listed(app: &TestApp, path: &str) -> reqwest::Response {
    for _ in 0..200 {
        let r = app.get(path).await;
        if r.status() != 404 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.get(path).await
}

#[tokio::test]
async fn vector_tiles_go_through_the_tile_caches() {
    let app = TestApp::start_with_fake(
        |fake| fake.set_body(TILE, 200, "application/x-protobuf", MVT.to_vec()),
        |_| {},
    )
    .await;
    let first = once_listed(&app, "/tiles/PLAN.IGN/12/2092/1495.pbf").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "application/x-protobuf");
    assert_eq!(first.bytes().await.unwrap().as_ref(), MVT);
    let again = app.get("/tiles/PLAN.IGN/12/2092/1495.pbf").await;
    assert!(again.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("hit"));
    assert_eq!(app.fake.count(TILE), 1, "fetched once");
    // Not a vector layer of the TMS: a 404 naming those there are.
    let (status, _, problem) = app.get_json("/tiles/NOPE/1/0/0.pbf").await;
    assert_eq!(status, 404);
    assert!(
        problem["detail"].as_str().unwrap().contains("PLAN.IGN"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_error_page_is_never_a_vector_tile() {
    let path = "/tms/1.0.0/PLAN.IGN/5/16/11.pbf";
    let app = TestApp::start_with_fake(
        |fake| {
            fake.set_body(
                path,
                200,
                "application/x-protobuf",
                b"<html><body>502 Bad Gateway</body></html>".to_vec(),
            )
        },
        |_| {},
    )
    .await;
    let r = once_listed(&app, "/tiles/PLAN.IGN/5/16/11.pbf").await;
    assert_eq!(r.status(), 502);
    let _ = app.get("/tiles/PLAN.IGN/5/16/11.pbf").await;
    assert_eq!(app.fake.count(path), 2, "a bad body is not cached");
}

#[tokio::test]
async fn a_style_points_at_the_gateway() {
    // The shape of the real PLAN.IGN styles (../shared/upstream/annexes), trimmed.
    let style = json!({
        "version": 8,
        "glyphs": "https://data.geopf.fr/annexes/ressources/vectorTiles/fonts/{fontstack}/{range}.pbf",
        "sprite": "https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn",
        "sources": {"plan_ign": {"type": "vector", "tiles": ["https://data.geopf.fr/tms/1.0.0/PLAN.IGN/{z}/{x}/{y}.pbf"]}},
        "layers": [{"id": "fond", "type": "background", "paint": {"background-color": "#fff"}}]
    });
    // As the upstream receives it (the fake compares paths as sent).
    let font = "/annexes/ressources/vectorTiles/fonts/Source%20Sans%20Pro%20Regular/0-255.pbf";
    let app = TestApp::start_with_fake(
        |fake| {
            fake.set_body(
                "/annexes/ressources/vectorTiles/styles/PLAN.IGN/standard.json",
                200,
                "application/json",
                style.to_string().into_bytes(),
            );
            fake.set_body(font, 200, "application/x-protobuf", vec![0x0a, 0x00]);
        },
        |_| {},
    )
    .await;
    let r = once_listed(&app, "/styles/PLAN.IGN/standard.json").await;
    assert_eq!(r.status(), 200);
    let got: Value = r.json().await.unwrap();
    let base = &app.base;
    assert_eq!(
        got["sources"]["plan_ign"]["tiles"][0],
        format!("{base}/tiles/PLAN.IGN/{{z}}/{{x}}/{{y}}.pbf")
    );
    assert_eq!(
        got["sprite"],
        format!("{base}/geopf/annexes/ressources/vectorTiles/styles/PLAN.IGN/sprite/PlanIgn")
    );
    assert_eq!(got["layers"], style["layers"], "the rest as published");
    // The glyphs URL as MapLibre fills it in: a font stack with spaces, through the mirror.
    let glyphs = got["glyphs"]
        .as_str()
        .unwrap()
        .replace("{fontstack}", "Source%20Sans%20Pro%20Regular")
        .replace("{range}", "0-255");
    let r = app.http.get(&glyphs).send().await.unwrap();
    assert_eq!(r.status(), 200, "{glyphs}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[0x0a, 0x00]);
    // A style the upstream does not have is a 404, a malformed name a 400.
    let (status, _, _) = app.get_json("/styles/PLAN.IGN/nope.json").await;
    assert_eq!(status, 404);
    let (status, _, problem) = app.get_json("/styles/PLAN.IGN/..%2Fx.json").await;
    assert_eq!(status, 400, "{problem}");
}

#[tokio::test]
async fn the_default_style_is_the_first_its_tile_map_lists_wherever_it_is() {
    // A layer whose styles sit in another layer's folder, as the OCSGE millésimes' do upstream.
    let tile_map = r#"<?xml version="1.0" encoding="utf-8"?>
<TileMap version="1.0.0"><Title>BDTOPO</Title><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr/annexes/ressources/vectorTiles/styles/ELSEWHERE/classique.json"/><SRS>EPSG:3857</SRS></TileMap>"#;
    let app = TestApp::start_with_fake(
        |fake| {
            fake.set_body(
                "/tms/1.0.0/BDTOPO",
                200,
                "text/xml",
                tile_map.as_bytes().to_vec(),
            );
            fake.set_body(
                "/annexes/ressources/vectorTiles/styles/ELSEWHERE/classique.json",
                200,
                "application/json",
                br#"{"version":8,"sources":{},"layers":[]}"#.to_vec(),
            );
        },
        |_| {},
    )
    .await;
    let r = once_listed(&app, "/styles/BDTOPO/default.json").await;
    assert_eq!(r.status(), 200);
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["version"], 8);
    // The connections file names every vector layer with its default style.
    let xml = app
        .get("/catalog/qgis-connections.xml?type=vectortile")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        xml.starts_with("<!DOCTYPE connections>\n<qgsVectorTileConnections"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "url=\"{}/tiles/BDTOPO/{{z}}/{{x}}/{{y}}.pbf\"",
            app.base
        )) && xml.contains(&format!(
            "styleUrl=\"{}/styles/BDTOPO/default.json\"",
            app.base
        )),
        "{xml}"
    );
    // And the kiosk's layer definition adds it as a vector tile layer.
    let qlr = app.get("/catalog/BDTOPO.qlr").await.text().await.unwrap();
    assert!(qlr.contains("<maplayer type=\"vector-tile\""), "{qlr}");
    assert!(qlr.contains("<authid>EPSG:3857</authid>"), "{qlr}");
    // With the style's symbology written as QGIS reads it (QGIS applies no style URL from a .qlr).
    assert!(qlr.contains("<renderer type=\"basic\"><styles>"), "{qlr}");
}

/// A vector layer in the kiosk: a card with a style picker (every style its TileMap lists) among
/// as many cards as `/catalog.json` lists layers, and a page whose map is MapLibre's (the gateway's
/// own copy) on the style picked; `tests/browser/detail_map.py` drags it in Chromium.
#[tokio::test]
async fn a_vector_layer_has_a_card_with_its_styles_and_a_maplibre_page() {
    let tile_map = r#"<?xml version="1.0" encoding="utf-8"?>
<TileMap version="1.0.0"><Title>Plan IGN</Title><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/standard.json"/><Metadata type="Other" mime-type="application/json" href="https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/gris.json"/><SRS>EPSG:3857</SRS></TileMap>"#;
    let app = TestApp::start_with_fake(
        |fake| {
            fake.set_body(
                "/tms/1.0.0/PLAN.IGN",
                200,
                "text/xml",
                tile_map.as_bytes().to_vec(),
            )
        },
        |_| {},
    )
    .await;
    let _ = once_listed(&app, "/styles/PLAN.IGN/default.json").await;
    let kiosk = app.html("/catalog").await;
    let gris = format!("{}/styles/PLAN.IGN/gris.json", app.base);
    let card = kiosk
        .split("<section class=\"card\"")
        .find(|c| c.contains("<code>PLAN.IGN</code>"))
        .expect("a card for the vector Plan IGN");
    assert!(
        card.contains("<select class=\"style\"")
            && card.contains(&format!("<option value=\"{gris}\">gris</option>")),
        "{card}"
    );
    assert!(card.contains("vector tiles"), "{card}");
    // As many cards as the JSON lists layers.
    let (_, _, all) = app.get_json("/catalog.json?limit=1").await;
    let cards = kiosk.matches("<section class=\"card\"").count() as u64;
    assert_eq!(Some(cards), all["numberMatched"].as_u64());
    assert!(kiosk.contains(&format!("<span id=\"count\">{cards} layers</span>")));

    let page = app.html("/catalog/PLAN.IGN?f=html").await;
    assert!(
        page.contains(&format!("{}/assets/maplibre/maplibre-gl.js", app.base)),
        "{page}"
    );
    assert!(page.contains("new maplibregl.Map"));
    assert!(page.contains(&format!("<option value=\"{gris}\">gris</option>")));
    let js = app.get("/assets/maplibre/maplibre-gl.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("MapLibre GL JS"));
    assert_eq!(app.get("/assets/maplibre/nope.js").await.status(), 404);
}
