//! `serve --demo` (`server.demo`): the gateway in front of its in-process replay of recorded
//! Géoplateforme answers. Each family answers real recorded data through the gateway's own code
//! path, every answer says it is a demo, and not one request reaches the configured upstream.

mod support;

use std::process::Command;

use serde_json::json;
use support::TestApp;

async fn demo() -> TestApp {
    TestApp::start_with(|c| c.server.demo = true).await
}

fn says_demo(r: &reqwest::Response) -> bool {
    r.headers().get_all("warning").iter().any(|v| {
        v.to_str().unwrap_or_default().starts_with("199 ")
            && v.to_str().unwrap_or_default().contains("demo")
    })
}

#[tokio::test]
async fn geocoding_answers_the_recorded_addresses_of_montpellier() {
    let app = demo().await;
    let r = app
        .get("/collections/addresses/items?q=montpellier&limit=3")
        .await;
    assert_eq!(r.status(), 200);
    assert!(says_demo(&r), "{:?}", r.headers());
    let fc: serde_json::Value = r.json().await.unwrap();
    let labels: Vec<&str> = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["properties"]["label"].as_str())
        .collect();
    assert_eq!(labels.len(), 3, "{fc}");
    assert!(
        labels.iter().all(|l| l.contains("Montpellier")),
        "{labels:?}"
    );
    // A place the recordings do not know is found nowhere, not answered with Montpellier.
    let (status, _, other) = app
        .get_json("/collections/addresses/items?q=Strasbourg")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        other["features"].as_array().map(Vec::len),
        Some(0),
        "{other}"
    );
    // The locator's partial words find it.
    let (_, _, typed) = app
        .get_json("/collections/poi/items?q=mairie%20montp&limit=1")
        .await;
    assert_eq!(
        typed["features"].as_array().map(Vec::len),
        Some(1),
        "{typed}"
    );
    assert_eq!(
        app.fake.log().len(),
        0,
        "the configured upstream was called"
    );
}

#[tokio::test]
async fn routes_isochrones_and_elevations_are_the_recorded_ones_of_lozere() {
    let app = demo().await;
    let (status, _, route) = app
        .post_json(
            "/processes/route/execution",
            &json!({"inputs": {
                "start": {"type": "Point", "coordinates": [3.708864, 43.93584]},
                "end": {"type": "Point", "coordinates": [4.077405, 44.12519]}}}),
        )
        .await;
    assert_eq!(status, 200, "{route}");
    let line = &route["features"][0]["geometry"];
    assert_eq!(line["type"], "LineString");
    assert!(line["coordinates"].as_array().unwrap().len() > 100);
    let (status, _, iso) = app
        .post_json(
            "/processes/isochrone/execution",
            &json!({"inputs": {
                "point": {"type": "Point", "coordinates": [3.5960877, 44.3269017]},
                "costType": "time", "costValue": 30}}),
        )
        .await;
    assert_eq!(status, 200, "{iso}");
    assert_eq!(iso["features"][0]["geometry"]["type"], "Polygon");
    let (status, _, z) = app
        .post_json(
            "/processes/elevation/execution",
            &json!({"inputs": {"points": {"type": "MultiPoint", "coordinates": [[3.5960877, 44.3269017]]}}}),
        )
        .await;
    assert_eq!(status, 200, "{z}");
    assert_eq!(z["features"][0]["properties"]["z"], 547.42);
    assert_eq!(
        app.fake.log().len(),
        0,
        "the configured upstream was called"
    );
}

#[tokio::test]
async fn tiles_and_maps_are_drawn_in_the_format_asked_and_labelled() {
    let app = demo().await;
    let png = app
        .get("/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/12/2092/1495.png")
        .await;
    assert_eq!(png.status(), 200);
    assert!(says_demo(&png));
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let jpeg = app
        .get("/tiles/ORTHOIMAGERY.ORTHOPHOTOS/12/2092/1495.jpeg")
        .await;
    assert_eq!(jpeg.status(), 200);
    assert!(jpeg.bytes().await.unwrap().starts_with(b"\xff\xd8"));
    // The same tile twice: the second from the cache, still labelled (no fast path in a demo).
    let again = app
        .get("/tiles/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2/12/2092/1495.png")
        .await;
    assert!(again.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("hit"));
    assert!(says_demo(&again));
    let map = app
        .get("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ORTHOIMAGERY.ORTHOPHOTOS&STYLES=&CRS=EPSG:4326&BBOX=43,3,44,4&WIDTH=300&HEIGHT=200&FORMAT=image/png")
        .await;
    assert_eq!(map.status(), 200);
    assert!(says_demo(&map));
    assert_eq!(
        app.fake.log().len(),
        0,
        "the configured upstream was called"
    );
}

#[tokio::test]
async fn every_page_ready_and_error_says_it_is_a_demo() {
    let app = demo().await;
    let kiosk = app.get("/catalog").await;
    assert!(says_demo(&kiosk));
    let page = kiosk.text().await.unwrap();
    assert!(page.contains("<body><div role=\"note\""), "banner first");
    assert!(page.contains("Plan IGN"), "the kiosk lists the catalogue");
    let landing = app.html("/").await;
    assert!(landing.contains("DEMO —"), "{landing}");
    let (status, _, ready) = app.get_json("/ready").await;
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready["demo"].as_str().unwrap().contains("recordings"),
        "{ready}"
    );
    assert!(
        ready["upstream"]["navigation"]["last_error"].is_null(),
        "{ready}"
    );
    let missing = app.get("/collections/nothing-here").await;
    assert_eq!(missing.status(), 404);
    assert!(says_demo(&missing));
    // Recorded communes through the WFS collection, paged by the gateway.
    let (status, _, communes) = app
        .get_json("/collections/LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune/items?limit=5")
        .await;
    assert_eq!(status, 200, "{communes}");
    assert!(!communes["features"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_real_gateway_carries_no_demo_label() {
    let app = TestApp::start().await;
    let r = app.get("/conformance").await;
    assert_eq!(r.status(), 200);
    assert!(!says_demo(&r));
    let (_, _, ready) = app.get_json("/ready").await;
    assert!(ready["demo"].is_null(), "{ready}");
}

#[test]
fn demo_and_an_upstream_are_refused_together() {
    let out = Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
        .args(["serve", "--demo", "--upstream", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream"));
}
