//! Asynchronous execution: jobs from accepted to successful or failed, results, dismissal,
//! limits; and batch geocoding, which is what jobs are for.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{assert_problem, link, Fault, TestApp};

const CSV: &str = "name;street;city\nmairie;1 place Georges Freche;Montpellier\nvide;;\nfarges;1 rue Farges;Montpellier\n";

async fn start_job(app: &TestApp, process: &str, inputs: Value) -> (String, Value) {
    let r = app
        .http
        .post(app.url(&format!("/processes/{process}/execution")))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": inputs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["preference-applied"], "respond-async");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let doc: Value = r.json().await.unwrap();
    assert!(location.ends_with(&format!("/jobs/{}", doc["jobID"].as_str().unwrap())));
    (location, doc)
}

async fn wait_finished(app: &TestApp, location: &str) -> Value {
    for _ in 0..500 {
        let doc: Value = app.follow(location).await;
        if matches!(
            doc["status"].as_str(),
            Some("successful" | "failed" | "dismissed")
        ) {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {location} did not finish");
}

#[tokio::test]
async fn a_route_job_from_accepted_to_its_results() {
    let app = TestApp::start().await;
    let (location, doc) = start_job(
        &app,
        "route",
        json!({"start": "2.351389,48.856701", "end": "2.294481,48.85837"}),
    )
    .await;
    assert!(
        matches!(doc["status"].as_str(), Some("accepted" | "running")),
        "{doc}"
    );
    assert_eq!(doc["processID"], "route");
    let done = wait_finished(&app, &location).await;
    assert_eq!(done["status"], "successful", "{done}");
    assert_eq!(done["progress"], 100);
    for key in ["created", "started", "finished", "updated"] {
        assert!(done[key].as_str().unwrap().ends_with('Z'), "{key}: {done}");
    }
    let results = link(&done, "http://www.opengis.net/def/rel/ogc/1.0/results").unwrap();
    let r: Value = app.follow(&results).await;
    assert_eq!(r["result"]["mediaType"], "application/geo+json");
    assert_eq!(
        r["result"]["value"]["features"][0]["properties"]["role"],
        "route"
    );
    // One output raw.
    let raw = app
        .http
        .get(format!("{results}?output=result"))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"], "application/geo+json");
}

#[tokio::test]
async fn a_failed_job_says_why() {
    let app = TestApp::start().await;
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/navigation/no_route.json"
    ))
    .unwrap();
    app.fake
        .set_body("/navigation/itineraire", 404, "application/json", body);
    let (location, _) = start_job(
        &app,
        "route",
        json!({"start": "2.351389,48.856701", "end": "2.294481,48.85837"}),
    )
    .await;
    let done = wait_finished(&app, &location).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["exception"]["status"], 422);
    assert!(done["message"]
        .as_str()
        .unwrap()
        .contains("no route was found"));
    let got = app
        .get_json(&format!(
            "{}/results",
            location.trim_start_matches(&app.base)
        ))
        .await;
    assert_problem(&got, 422, "no route was found");
}

#[tokio::test]
async fn bad_inputs_are_refused_before_a_job_is_made() {
    let app = TestApp::start().await;
    let r = app
        .http
        .post(app.url("/processes/route/execution"))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"end": "2.29,48.85"}}))
        .send()
        .await
        .unwrap();
    assert_problem(&support::split(r).await, 400, "start: is required");
    let (_, _, jobs) = app.get_json("/jobs").await;
    assert_eq!(jobs["jobs"], json!([]));
}

#[tokio::test]
async fn a_running_job_is_cancelled_when_dismissed() {
    let app = TestApp::start().await;
    app.fake.fault("/navigation/isochrone", Fault::Hang, None);
    let (location, _) = start_job(
        &app,
        "isochrone",
        json!({"point": "2.35,48.85", "costValue": 10}),
    )
    .await;
    let r = app.http.delete(&location).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["status"], "dismissed");
    let got = app.get_json(location.trim_start_matches(&app.base)).await;
    assert_problem(&got, 404, "no job");
    let got = app.get_json("/jobs/not-a-job/results").await;
    assert_problem(&got, 404, "no job");
}

#[tokio::test]
async fn results_of_a_running_job_are_not_ready() {
    let app = TestApp::start().await;
    app.fake.fault(
        "/navigation/isochrone",
        Fault::Slow(Duration::from_millis(500)),
        None,
    );
    let (location, _) = start_job(
        &app,
        "isochrone",
        json!({"point": "2.35,48.85", "costValue": 10}),
    )
    .await;
    let got = app
        .get_json(&format!(
            "{}/results",
            location.trim_start_matches(&app.base)
        ))
        .await;
    assert_problem(&got, 404, "not ready");
    assert_eq!(got.2["type"], "urn:geopf-gateway:problem:result-not-ready");
}

#[tokio::test]
async fn jobs_are_listed_newest_first_and_bounded() {
    let app = TestApp::start_with(|c| c.jobs.max_jobs = 2).await;
    app.fake.fault("/navigation/isochrone", Fault::Hang, None);
    let (first, _) = start_job(
        &app,
        "isochrone",
        json!({"point": "2.35,48.85", "costValue": 10}),
    )
    .await;
    let (second, _) = start_job(
        &app,
        "isochrone",
        json!({"point": "2.36,48.85", "costValue": 10}),
    )
    .await;
    let (_, _, list) = app.get_json("/jobs?limit=1").await;
    assert_eq!(list["numberMatched"], 2);
    assert!(
        second.ends_with(list["jobs"][0]["jobID"].as_str().unwrap()),
        "newest first"
    );
    assert!(link(&list, "next").is_some());
    // Two running jobs fill the store: a third is refused until one ends.
    let r = app
        .http
        .post(app.url("/processes/isochrone/execution"))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"point": "2.37,48.85", "costValue": 10}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    app.http.delete(&first).send().await.unwrap();
    let (location, _) = start_job(
        &app,
        "isochrone",
        json!({"point": "2.38,48.85", "costValue": 10}),
    )
    .await;
    assert!(location.contains("/jobs/"));
}

#[tokio::test]
async fn batch_geocoding_a_csv_as_a_job() {
    let app = TestApp::start().await;
    let (location, _) = start_job(
        &app,
        "batch-geocode",
        json!({"data": CSV, "columns": ["street", "city"]}),
    )
    .await;
    let done = wait_finished(&app, &location).await;
    assert_eq!(done["status"], "successful", "{done}");
    let path = format!("{}/results", location.trim_start_matches(&app.base));
    let (_, _, doc) = app.get_json(&path).await;
    let fc = &doc["result"]["value"];
    let rows = fc["features"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["properties"]["name"], "mairie");
    assert_eq!(rows[0]["properties"]["result_status"], "ok");
    assert_eq!(rows[0]["properties"]["result_id"], "34172_2388_00001");
    assert!(rows[1]["geometry"].is_null());
    assert!(rows[1]["properties"]["result_status"]
        .as_str()
        .unwrap()
        .starts_with("skipped"));
    let csv = doc["csv"]["value"].as_str().unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "name;street;city;result_lon;result_lat;result_label;result_score;result_type;result_id;result_status");
    assert!(lines.next().unwrap().starts_with("mairie;1 place Georges Freche;Montpellier;3.896549;43.598842;1 Place Georges Frêche 34070 Montpellier;"));
    let sent: Vec<String> = app
        .fake
        .log()
        .into_iter()
        .filter(|r| r.path == "/geocodage/search")
        .map(|r| r.query["q"].clone())
        .collect();
    assert_eq!(sent.len(), 2, "the empty row is not sent: {sent:?}");
    assert!(sent.contains(&"1 place Georges Freche Montpellier".to_string()));
    // The CSV output alone, raw.
    let r = app.get(&format!("{path}?output=csv")).await;
    assert_eq!(r.headers()["content-type"], "text/csv");
    assert!(r
        .text()
        .await
        .unwrap()
        .starts_with("name;street;city;result_lon"));
}

#[tokio::test]
async fn batch_geocoding_synchronously_returns_both_outputs() {
    let app = TestApp::start().await;
    let (status, _, doc) = app
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": "q\n1 rue Farges Montpellier\n"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["csv"]["mediaType"], "text/csv");
    assert_eq!(
        doc["result"]["value"]["features"][0]["properties"]["result_status"],
        "ok"
    );
    let r = app
        .http
        .post(app.url("/processes/batch-geocode/execution"))
        .json(&json!({"inputs": {"data": "q\n1 rue Farges Montpellier\n"}, "outputs": {"csv": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv");
    let got = app
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": "a,b\n1,2\n", "columns": "c"}}),
        )
        .await;
    assert_problem(
        &got,
        400,
        "columns: \"c\" is not a column of the CSV (columns: a, b)",
    );
}

#[tokio::test]
async fn a_batch_reports_progress_and_leaves_room_for_interactive_searches() {
    // A geocoding quota of 10/s: the batch may use 6/s, so 30 rows take about 5 s.
    let app = TestApp::start_with(|c| {
        c.upstream.quotas.insert("geocoding".into(), 10);
    })
    .await;
    let csv: String = std::iter::once("q".to_string())
        .chain((0..30).map(|i| format!("{i} rue de la paix")))
        .collect::<Vec<_>>()
        .join("\n");
    let (location, _) = start_job(&app, "batch-geocode", json!({"data": csv})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The interactive search is answered while the batch still runs: it did not queue behind it.
    let (status, ..) = app
        .get_json("/collections/addresses/items?q=rue%20Farges")
        .await;
    assert_eq!(status, 200);
    let doc: Value = app.follow(&location).await;
    let progress = doc["progress"].as_u64().unwrap();
    assert_eq!(doc["status"], "running");
    assert!((1..100).contains(&progress), "progress {progress}");
    let done = wait_finished(&app, &location).await;
    assert_eq!(done["status"], "successful");
}

#[tokio::test]
async fn a_large_csv_is_uploaded_then_referred_to_by_its_url() {
    let app = TestApp::start().await;
    let r = app
        .http
        .post(app.url("/uploads"))
        .header("content-type", "text/csv")
        .body(CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let href = r.json::<Value>().await.unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(href.starts_with(&app.base));
    let (location, _) = start_job(
        &app,
        "batch-geocode",
        json!({"data": {"href": href}, "columns": "street,city"}),
    )
    .await;
    let done = wait_finished(&app, &location).await;
    assert_eq!(done["status"], "successful", "{done}");
    // Never a URL from elsewhere: the gateway fetches nothing a request names.
    let got = app
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": {"href": "https://example.org/addresses.csv"}}}),
        )
        .await;
    assert_problem(&got, 400, "only this gateway's own /uploads/{id} links");
    let got = app
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": {"href": format!("{}/uploads/0000-dead", app.base)}}}),
        )
        .await;
    assert_problem(&got, 400, "does not exist or has expired");
}

#[tokio::test]
async fn an_open_gateway_has_every_job_slot() {
    // Without access keys there is one user: the per-key share does not apply.
    let app = TestApp::start_with(|c| {
        c.jobs.max_jobs = 30;
        c.jobs.max_jobs_per_key = 5;
    })
    .await;
    app.fake.fault("/navigation/isochrone", Fault::Hang, None);
    for i in 0..25 {
        let r = app
            .http
            .post(app.url("/processes/isochrone/execution"))
            .header("prefer", "respond-async")
            .json(&json!({"inputs": {"point": format!("2.{i},48.85"), "costValue": 10}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "job {i}");
    }
    let (_, _, list) = app.get_json("/jobs").await;
    assert_eq!(list["numberMatched"], 25);
}

#[tokio::test]
async fn a_large_batch_is_one_upstream_csv_request_and_falls_back_row_by_row_without_it() {
    let csv: String = std::iter::once("name;street;city".to_string())
        .chain((0..60).map(|i| format!("n{i};{i} rue de la paix;Paris")))
        .chain(std::iter::once("vide;;".to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    let app = TestApp::start().await;
    let (status, _, doc) = app
        .post_json(
            "/processes/batch-geocode/execution",
            &json!({"inputs": {"data": csv, "columns": "street,city"}}),
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    let rows = doc["result"]["value"]["features"].as_array().unwrap();
    assert_eq!(rows.len(), 61);
    assert_eq!(rows[0]["properties"]["name"], "n0");
    assert_eq!(rows[0]["properties"]["result_status"], "ok");
    assert_eq!(rows[0]["geometry"]["coordinates"], json!([3.88, 43.6]));
    assert_eq!(
        rows[0]["properties"]["result_label"],
        "0 rue de la paix Paris"
    );
    assert!(rows[60]["properties"]["result_status"]
        .as_str()
        .unwrap()
        .starts_with("skipped"));
    assert_eq!(app.fake.count("/geocodage/search/csv"), 1);
    assert!(!app.fake.log().iter().any(|r| r.path == "/geocodage/search"));
    let sent = app.fake.first_to("/geocodage/search/csv");
    let body = String::from_utf8(sent.body).unwrap();
    assert!(
        body.contains("name=\"columns\"\r\n\r\nstreet\r\n"),
        "{body}"
    );
    assert!(body.contains("name=\"indexes\"\r\n\r\naddress\r\n"));
    assert!(sent.headers["content-type"].starts_with("multipart/form-data; boundary="));

    // Where the endpoint is missing, rows go one by one, and the endpoint is not asked again.
    let app = TestApp::start().await;
    app.fake.fault(
        "/geocodage/search/csv",
        Fault::Status {
            status: 404,
            retry_after: None,
            body: r#"{"code":404,"message":"Not Found"}"#.into(),
        },
        None,
    );
    for _ in 0..2 {
        let (status, _, doc) = app
            .post_json(
                "/processes/batch-geocode/execution",
                &json!({"inputs": {"data": csv, "columns": "street,city"}}),
            )
            .await;
        assert_eq!(status, 200, "{doc}");
        let rows = doc["result"]["value"]["features"].as_array().unwrap();
        assert_eq!(rows[0]["properties"]["result_status"], "ok");
    }
    assert_eq!(app.fake.count("/geocodage/search/csv"), 1);
    assert!(app.fake.log().iter().any(|r| r.path == "/geocodage/search"));
}

#[tokio::test]
async fn an_async_run_with_a_bad_value_is_refused_not_started() {
    let app = TestApp::start().await;
    let r = app
        .http
        .post(app.url("/processes/isochrone/execution"))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"point": {"lon": 2.35, "lat": 48.85}, "costValue": 10}}))
        .send()
        .await
        .unwrap();
    let got = support::split(r).await;
    assert_problem(&got, 400, "point");
    assert_eq!(
        app.get_json("/jobs").await.2["jobs"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}
