//! The real recorded Géoplateforme answers (`../shared/upstream/geocodage`), served as they are by
//! the fake, must come out of the gateway without loss: same features, same properties, same
//! geometries, each with a unique id.

mod support;

use std::{collections::HashSet, path::PathBuf};

use serde_json::{json, Value};
use support::TestApp;

fn recordings() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream/geocodage");
    assert!(
        dir.is_dir(),
        "the real recordings are expected in {} (the shared/ folder beside the repository)",
        dir.display()
    );
    dir
}

/// The features of a recording (a FeatureCollection, or the bare array one client kept).
fn recorded_features(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(a) => a.clone(),
        other => other["features"].as_array().cloned().unwrap_or_default(),
    }
}

fn assert_lossless(name: &str, recorded: &[Value], served: &Value) {
    let got = served["features"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no features in {served}"));
    assert_eq!(got.len(), recorded.len(), "{name}: feature count");
    let mut seen = HashSet::new();
    for (r, g) in recorded.iter().zip(got) {
        assert_eq!(
            g["properties"], r["properties"],
            "{name}: properties changed"
        );
        assert_eq!(g["geometry"], r["geometry"], "{name}: geometry changed");
        let id = g["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: a feature without id"));
        assert!(!id.is_empty());
        assert!(seen.insert(id.to_string()), "{name}: duplicate id {id}");
    }
}

#[tokio::test]
async fn every_recorded_search_and_reverse_answer_maps_without_loss() {
    let mut checked = 0;
    for entry in std::fs::read_dir(recordings()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (upstream, process, inputs) = if name.starts_with("search_") {
            (
                "/geocodage/search",
                "geocode",
                json!({"q": "recorded query", "index": "address,poi,parcel", "limit": 20}),
            )
        } else if name.starts_with("reverse_") {
            (
                "/geocodage/reverse",
                "reverse-geocode",
                json!({"lon": 3.896549, "lat": 43.59884, "index": "address,poi,parcel", "limit": 20}),
            )
        } else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let recorded: Value = serde_json::from_slice(&bytes).unwrap();
        let app = TestApp::start().await;
        app.fake
            .set_body(upstream, 200, "application/json; charset=utf-8", bytes);
        let (status, _, served) = app
            .post_json(
                &format!("/processes/{process}/execution"),
                &json!({"inputs": inputs}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {served}");
        assert_lossless(&name, &recorded_features(&recorded), &served);
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} recordings found");
}

#[tokio::test]
async fn the_recorded_addresses_of_a_box_are_a_collection_page() {
    let app = TestApp::start().await;
    let bytes = std::fs::read(recordings().join("reverse_address_limit10.json")).unwrap();
    app.fake.set_body(
        "/geocodage/reverse",
        200,
        "application/json; charset=utf-8",
        bytes,
    );
    let (status, _, fc) = app
        .get_json("/collections/addresses/items?bbox=3.894,43.596,3.900,43.601")
        .await;
    assert_eq!(status, 200);
    let n = fc["numberReturned"].as_u64().unwrap();
    assert!(n >= 5, "only {n} of the recorded addresses lie in the box");
    for f in fc["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((3.894..=3.900).contains(&x) && (43.596..=43.601).contains(&y));
        assert_eq!(
            f["id"], f["properties"]["id"],
            "addresses keep their BAN key as id"
        );
    }
}

#[tokio::test]
async fn the_legacy_completion_recordings_become_points() {
    for file in [
        "LEGACY-wxs_completion_streetaddress.jsonp",
        "LEGACY-wxs_completion_poi.jsonp",
    ] {
        let text = std::fs::read_to_string(recordings().join(file)).unwrap();
        let json = text
            .trim()
            .trim_start_matches("callback(")
            .trim_end_matches(';')
            .trim_end_matches(')');
        let recorded: Value = serde_json::from_str(json).unwrap();
        let app = TestApp::start().await;
        app.fake.set_body(
            "/geocodage/completion",
            200,
            "application/json",
            json.as_bytes().to_vec(),
        );
        let (status, _, fc) = app
            .get_json("/processes/autocomplete/execution?text=saint%20mande")
            .await;
        assert_eq!(status, 200, "{file}: {fc}");
        let results = recorded["results"].as_array().unwrap();
        assert_eq!(
            fc["features"].as_array().unwrap().len(),
            results.len(),
            "{file}"
        );
        for (r, f) in results.iter().zip(fc["features"].as_array().unwrap()) {
            assert_eq!(f["properties"], *r, "{file}: every field kept");
            assert_eq!(f["geometry"]["coordinates"], json!([r["x"], r["y"]]));
        }
    }
}
