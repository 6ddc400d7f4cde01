//! The OGC API documents as served, frozen as snapshots (`tests/snapshots/`): the landing page,
//! conformance, a collection of each provider (geocoding, WFS, adapter), a process summary and
//! description, a job status. Each is also read back with georust/ogcapi's `ogcapi-types`, the
//! Rust reference types of these standards, and written again: what they keep must be unchanged.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::TestApp;

/// The document with the test's address, times and ids made stable.
fn stable(app: &TestApp, doc: &Value) -> Value {
    let text = doc.to_string().replace(&app.base, "http://gateway");
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    for key in ["created", "started", "finished", "updated"] {
        if doc.get(key).is_some() {
            doc[key] = json!("2026-01-01T00:00:00Z");
        }
    }
    if let Some(id) = doc["jobID"].as_str().map(str::to_string) {
        let text = doc.to_string().replace(&id, "JOB");
        doc = serde_json::from_str(&text).unwrap();
    }
    doc
}

/// A time with its fraction of a second without trailing zeros (`…:55.93583885Z` and
/// `…:55.935838850Z` are one instant); any other value as it is.
fn same_instant(v: &Value) -> Value {
    match v.as_str() {
        Some(t) if t.ends_with('Z') && t.contains('.') && t.contains('T') => {
            let (whole, fraction) = t.trim_end_matches('Z').split_once('.').unwrap();
            let fraction = fraction.trim_end_matches('0');
            let sep = if fraction.is_empty() { "" } else { "." };
            Value::String(format!("{whole}{sep}{fraction}Z"))
        }
        _ => v.clone(),
    }
}

/// `doc` read as `T` and written again keeps every field `T` knows, unchanged.
fn round_trips<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| {
        panic!(
            "{} does not read it: {e}\n{doc}",
            std::any::type_name::<T>()
        )
    });
    let again = serde_json::to_value(&typed).unwrap();
    for (key, value) in again.as_object().unwrap() {
        if !value.is_null() {
            assert_eq!(
                Some(same_instant(value)),
                doc.get(key).map(same_instant),
                "{key} changed in {}",
                std::any::type_name::<T>()
            );
        }
    }
}

#[tokio::test]
async fn landing_and_conformance() {
    let app = TestApp::start().await;
    let (_, _, landing) = app.get_json("/").await;
    insta::assert_json_snapshot!("landing", stable(&app, &landing));
    round_trips::<ogcapi_types::common::LandingPage>(&landing);
    let (_, _, conformance) = app.get_json("/conformance").await;
    insta::assert_json_snapshot!("conformance", conformance);
    round_trips::<ogcapi_types::common::Conformance>(&conformance);
}

#[tokio::test]
async fn a_collection_of_each_provider() {
    let app = TestApp::start().await;
    // The WFS feature types load in the background at start.
    for _ in 0..200 {
        let path = "/collections/LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";
        if app.get_json(path).await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for id in [
        "addresses",
        "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune",
        "geoplateforme-layers",
    ] {
        let (status, _, doc) = app.get_json(&format!("/collections/{id}")).await;
        assert_eq!(status, 200, "{doc}");
        insta::assert_json_snapshot!(
            format!("collection-{}", id.replace(':', "_")),
            stable(&app, &doc)
        );
        round_trips::<ogcapi_types::common::Collection>(&doc);
    }
}

#[tokio::test]
async fn process_summary_description_and_job_status() {
    let app = TestApp::start().await;
    let (_, _, list) = app.get_json("/processes").await;
    let summary = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "elevation")
        .unwrap()
        .clone();
    insta::assert_json_snapshot!("process-summary-elevation", stable(&app, &summary));
    round_trips::<ogcapi_types::processes::ProcessSummary>(&summary);
    let (_, _, description) = app.get_json("/processes/search-layers").await;
    insta::assert_json_snapshot!(
        "process-description-search-layers",
        stable(&app, &description)
    );
    let r = app
        .http
        .post(app.url("/processes/elevation/execution"))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"points": [[1.48, 43.54]]}}))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..500 {
        status = app.follow(&location).await;
        if status["status"] == "successful" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    insta::assert_json_snapshot!("job-status-successful", stable(&app, &status));
    round_trips::<ogcapi_types::processes::StatusInfo>(&status);
}
