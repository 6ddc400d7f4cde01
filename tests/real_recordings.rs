//! The real recorded Géoplateforme answers (`assets/recordings/`, copied from
//! `../shared/upstream` with their provenance), served as they are by
//! the fake, must come out of the gateway without loss: same features, same properties, same
//! geometries, each with a unique id.

mod support;

use std::{collections::HashSet, path::PathBuf};

use serde_json::{json, Value};
use support::TestApp;

fn recordings() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/recordings/geocodage")
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

fn navigation_recordings() -> Vec<(String, Value)> {
    let dir = recordings().join("../navigation");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (
                name,
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn factor(unit: &str) -> f64 {
    match unit {
        "kilometer" => 1000.0,
        "meter" | "second" => 1.0,
        "minute" => 60.0,
        "hour" => 3600.0,
        other => panic!("unit {other}"),
    }
}

#[tokio::test]
async fn every_recorded_route_maps_without_loss_in_metres_and_seconds() {
    let mut checked = 0;
    for (name, recorded) in navigation_recordings()
        .into_iter()
        .filter(|(n, _)| n.starts_with("itineraire"))
    {
        let app = TestApp::start().await;
        app.fake.set_body(
            "/navigation/itineraire",
            200,
            "application/json",
            recorded.to_string().into_bytes(),
        );
        let (status, _, fc) = app
            .get_json("/processes/route/execution?start=3.708864,43.93584&end=4.077405,44.12519")
            .await;
        assert_eq!(status, 200, "{name}: {fc}");
        let route = &fc["features"][0];
        assert_eq!(route["geometry"], recorded["geometry"], "{name}");
        let p = &route["properties"];
        let d = recorded["distance"].as_f64().unwrap()
            * factor(recorded["distanceUnit"].as_str().unwrap());
        let t =
            recorded["duration"].as_f64().unwrap() * factor(recorded["timeUnit"].as_str().unwrap());
        assert!(
            (p["distance"].as_f64().unwrap() - d).abs() < 0.01,
            "{name}: distance {} vs {d}",
            p["distance"]
        );
        assert!(
            (p["duration"].as_f64().unwrap() - t).abs() < 0.01,
            "{name}: duration {} vs {t}",
            p["duration"]
        );
        for key in [
            "profile",
            "optimization",
            "resource",
            "resourceVersion",
            "start",
            "end",
        ] {
            assert_eq!(p[key], recorded[key], "{name}: {key}");
        }
        let steps: usize = recorded["portions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["steps"].as_array().unwrap().len())
            .sum();
        assert_eq!(
            fc["features"].as_array().unwrap().len(),
            steps + 1,
            "{name}: one feature per step"
        );
        let first_step = &recorded["portions"][0]["steps"][0];
        assert_eq!(
            fc["features"][1]["geometry"], first_step["geometry"],
            "{name}"
        );
        assert_eq!(
            fc["features"][1]["properties"]["instruction"], first_step["instruction"]["type"],
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[tokio::test]
async fn every_recorded_isochrone_and_isodistance_maps_without_loss() {
    let mut checked = 0;
    for (name, recorded) in navigation_recordings()
        .into_iter()
        .filter(|(n, _)| n.starts_with("iso"))
    {
        let app = TestApp::start().await;
        app.fake.set_body(
            "/navigation/isochrone",
            200,
            "application/json",
            recorded.to_string().into_bytes(),
        );
        let (status, _, fc) = app
            .get_json("/processes/isochrone/execution?point=3.5960877,44.3269017&costValue=1")
            .await;
        assert_eq!(status, 200, "{name}: {fc}");
        let f = &fc["features"][0];
        assert_eq!(f["geometry"], recorded["geometry"], "{name}");
        for (k, v) in recorded.as_object().unwrap() {
            if k != "geometry" {
                assert_eq!(&f["properties"][k], v, "{name}: {k}");
            }
        }
        let cost = recorded["costValue"].as_f64().unwrap();
        match recorded["costType"].as_str().unwrap() {
            "time" => assert_eq!(
                f["properties"]["costSeconds"].as_f64().unwrap(),
                cost * factor(recorded["timeUnit"].as_str().unwrap()),
                "{name}"
            ),
            _ => assert_eq!(
                f["properties"]["costMetres"].as_f64().unwrap(),
                cost * factor(recorded["distanceUnit"].as_str().unwrap()),
                "{name}"
            ),
        }
        checked += 1;
    }
    assert_eq!(checked, 7, "both directions, both costs, all units");
}

#[tokio::test]
async fn every_recorded_elevation_answer_is_read() {
    let dir = recordings().join("../altimetrie");
    for name in [
        "elevation_1point.json",
        "elevation_DOCS-EXAMPLE_2points.json",
        "elevation_DOCS-EXAMPLE_measures.json",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let recorded: Value = serde_json::from_slice(&bytes).unwrap();
        let n = recorded["elevations"].as_array().unwrap().len();
        let app = TestApp::start().await;
        app.fake.set_body(
            "/altimetrie/1.0/calcul/alti/rest/elevation.json",
            200,
            "application/json",
            bytes,
        );
        let points: Vec<Value> = (0..n)
            .map(|i| json!([1.48 + 0.01 * i as f64, 43.54]))
            .collect();
        let (status, _, fc) = app
            .post_json(
                "/processes/elevation/execution",
                &json!({"inputs": {"points": points}}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {fc}");
        for (f, e) in fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .zip(recorded["elevations"].as_array().unwrap())
        {
            assert_eq!(
                f["geometry"]["coordinates"],
                json!([e["lon"], e["lat"], e["z"]]),
                "{name}"
            );
            assert_eq!(f["properties"]["acc"], e["acc"], "{name}");
        }
    }
    for name in [
        "elevationLine_DOCS-EXAMPLE_simple_sampling4.json",
        "elevationLine_DOCS-EXAMPLE_accurate_sampling4.json",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let recorded: Value = serde_json::from_slice(&bytes).unwrap();
        let app = TestApp::start().await;
        app.fake.set_body(
            "/altimetrie/1.0/calcul/alti/rest/elevationLine.json",
            200,
            "application/json",
            bytes,
        );
        let (status, _, fc) = app
            .get_json(
                "/processes/elevation-profile/execution?line=1.48,43.54|1.49,43.55&sampling=4",
            )
            .await;
        assert_eq!(status, 200, "{name}: {fc}");
        let p = &fc["features"][0]["properties"];
        assert_eq!(
            p["ascent"].as_f64().unwrap(),
            (recorded["height_differences"]["positive"].as_f64().unwrap() * 100.0).round() / 100.0
        );
        assert_eq!(
            p["descent"].as_f64().unwrap(),
            (recorded["height_differences"]["negative"].as_f64().unwrap() * 100.0).round() / 100.0
        );
        assert_eq!(
            fc["features"][0]["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .len(),
            recorded["elevations"].as_array().unwrap().len()
        );
    }
}

#[test]
fn the_recorded_wfs_capabilities_and_schemas_are_read_whole() {
    let dir = recordings().join("../wfs");
    // The recorded capabilities, as embedded in the binary (assets/catalog/SOURCES.md).
    let caps = geopf_gateway::catalog::embedded::WFS.text().unwrap();
    let types = geopf_gateway::catalog::wfs::parse_capabilities(&caps).unwrap();
    assert_eq!(types.len(), 726, "every feature type");
    let commune = types
        .iter()
        .find(|t| t.name == "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune")
        .unwrap();
    assert!(commune.wgs84_bbox.is_some() && !commune.title.is_empty());
    assert!(types
        .iter()
        .all(|t| !t.name.is_empty() && t.name.contains(':')));
    for (file, geometry) in [
        (
            "describefeaturetype_LIMITES_ADMINISTRATIVES_EXPRESS.LATEST_commune.xsd",
            "geometrie",
        ),
        ("describefeaturetype_ELEVATION.CONTOUR.LINE_courbe.xsd", ""),
    ] {
        let xsd = std::fs::read_to_string(dir.join(file)).unwrap();
        let props = geopf_gateway::catalog::wfs::parse_schema(&xsd).unwrap();
        let geom: Vec<_> = props
            .iter()
            .filter(|p| p.kind == geopf_gateway::catalog::wfs::PropertyType::Geometry)
            .collect();
        assert_eq!(geom.len(), 1, "{file}: one geometry");
        if !geometry.is_empty() {
            assert_eq!(geom[0].name, geometry);
            assert!(props.iter().any(|p| p.name == "population"
                && p.kind == geopf_gateway::catalog::wfs::PropertyType::Integer));
        }
    }
}

#[tokio::test]
async fn the_recorded_wfs_pages_map_without_loss() {
    let dir = recordings().join("../wfs");
    for file in [
        "getfeature_json_commune_ecql-filter_2025.json",
        "getfeature_json_empty_2025.json",
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let recorded: Value = serde_json::from_slice(&bytes).unwrap();
        let app = TestApp::start().await;
        // The feature types load from the fixtures first (capabilities share the path).
        let mut loaded = false;
        for _ in 0..300 {
            if app
                .get_json("/collections/LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune")
                .await
                .0
                == 200
            {
                loaded = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(loaded, "the feature types never loaded");
        app.fake
            .set_body("/wfs/ows", 200, "application/json;charset=UTF-8", bytes);
        let (status, _, fc) = app
            .get_json(
                "/collections/LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune/items?limit=1000",
            )
            .await;
        assert_eq!(status, 200, "{file}: {fc}");
        let want = recorded["features"].as_array().unwrap();
        assert_eq!(
            fc["features"].as_array().unwrap(),
            want,
            "{file}: features passed through whole"
        );
        assert_eq!(fc["numberMatched"], recorded["numberMatched"], "{file}");
    }
}
