//! Declarative adapters end to end: the shipped ones (the Recherche API as a process and as a
//! collection) against the in-process fake, a user's adapter dropped into `adapters.dir` run sync
//! and as a job, a broken file reported in /ready while the rest is served, a SIGHUP that brings
//! in a new file, and the built-in `elevation` compared with its re-expression as an adapter.

mod support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{json, Value};
use support::{assert_problem, TestApp};

/// The example adapter that re-expresses the built-in `elevation`.
fn elevation_example() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/adapters/examples/elevation-points.toml"
    ))
    .unwrap()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("geopf-adapters-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn search_layers_asks_the_recherche_api_and_maps_the_layers() {
    let app = TestApp::start().await;
    let (status, ctype, fc) = app
        .get_json("/processes/search-layers/execution?text=bd%20topo&size=5")
        .await;
    assert_eq!(status, 200, "{fc}");
    assert!(ctype.starts_with("application/geo+json"));
    let first = &fc["features"][0];
    assert_eq!(first["id"], "4c2afe00-d2a4-4536-a254-e4025aa8daf7");
    assert_eq!(first["geometry"]["type"], "Polygon");
    let p = &first["properties"];
    assert_eq!(p["title"], "Routes de non communication 971");
    assert_eq!(p["type"], "WFS");
    assert_eq!(p["layer_name"], "bdtopo_971:non_communication");
    assert_eq!(p["theme"], "BD_topo");
    assert!(p["url"].as_str().unwrap().contains("typeNames=bdtopo_971"));
    let sent = app
        .fake
        .first_to("/recherche/api/indexes/geoplateforme/suggest");
    assert_eq!(sent.query["text"], "bd topo");
    assert_eq!(sent.query["size"], "5");
    assert_eq!(
        sent.query["fields"],
        "title,layer_name,description,keywords"
    );
    // The same question again is the cache's.
    let again = app
        .get("/processes/search-layers/execution?text=bd%20topo&size=5")
        .await;
    assert!(again.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("hit"));
    assert_eq!(app.fake.count("/recherche"), 1);
}

#[tokio::test]
async fn adapter_inputs_are_checked_before_any_upstream_call() {
    let app = TestApp::start().await;
    for (query, name) in [
        ("size=5", "text"),
        ("text=bd%20topo&size=500", "size"),
        ("text=bd%20topo&fields=everything", "fields"),
        ("text=bd%20topo&colour=red", "colour"),
    ] {
        let got = app
            .get_json(&format!("/processes/search-layers/execution?{query}"))
            .await;
        assert_problem(&got, 400, name);
        assert_eq!(got.2["parameter"], name, "{query}");
    }
    assert_eq!(app.fake.count("/recherche"), 0);
}

#[tokio::test]
async fn the_layers_collection_pages_and_filters_through_the_index() {
    let app = TestApp::start().await;
    let (status, _, list) = app.get_json("/collections").await;
    assert_eq!(status, 200);
    assert!(list["collections"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "geoplateforme-layers"));
    let (status, _, page) = app
        .get_json("/collections/geoplateforme-layers/items?limit=1&offset=3&bbox=1,43,2,44&q=routes&type=WFS")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["numberReturned"], 1);
    assert!(support::link(&page, "next").is_some());
    assert!(support::link(&page, "prev").is_some());
    let sent = app.fake.first_to("/recherche/api/indexes/geoplateforme");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.query["page"], "4");
    assert_eq!(sent.query["size"], "1");
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["title"], "routes");
    assert_eq!(body["type"], "WFS");
    assert_eq!(body["shape"]["coordinates"][0][2], json!([2.0, 44.0]));
    // An item listed is an item known.
    let id = page["features"][0]["id"].as_str().unwrap();
    let (status, _, item) = app
        .get_json(&format!("/collections/geoplateforme-layers/items/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(item["properties"]["producers"], json!(["IGN"]));
    let missing = app
        .get_json("/collections/geoplateforme-layers/items/not-listed")
        .await;
    assert_problem(&missing, 404, "not-listed");
    // Its own parameters are its queryables; anything else is refused by name.
    let (_, _, q) = app
        .get_json("/collections/geoplateforme-layers/queryables")
        .await;
    assert_eq!(
        q["properties"]["type"]["enum"],
        json!(["WMTS", "WMS", "WFS", "TMS"])
    );
    let bad = app
        .get_json("/collections/geoplateforme-layers/items?type=KML")
        .await;
    assert_problem(&bad, 400, "type");
    let bad = app
        .get_json("/collections/geoplateforme-layers/items?colour=red")
        .await;
    assert_problem(&bad, 400, "colour");
    let (_, _, api) = app.get_json("/api").await;
    assert!(api["paths"]["/collections/geoplateforme-layers/items"].is_object());
    assert!(api["paths"]["/processes/search-layers/execution"].is_object());
}

#[tokio::test]
async fn a_users_adapter_runs_sync_by_get_and_as_a_job_and_a_broken_file_is_reported() {
    let dir = temp_dir();
    std::fs::write(dir.join("elevation-points.toml"), elevation_example()).unwrap();
    std::fs::write(
        dir.join("broken.toml"),
        "id = \"half\"\nkind = \"process\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-api.toml"),
        elevation_example()
            .replace("id = \"elevation-points\"", "id = \"other\"")
            .replace("api = \"altimetry\"", "api = \"somewhere\""),
    )
    .unwrap();
    let d = dir.clone();
    let app = TestApp::start_with(move |c| c.adapters.dir = d.display().to_string()).await;
    let (_, _, processes) = app.get_json("/processes").await;
    let ids: Vec<&str> = processes["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"elevation-points")
            && ids.contains(&"elevation")
            && ids.contains(&"search-layers"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"half") && !ids.contains(&"other"));
    // Described from its file.
    let (_, _, desc) = app.get_json("/processes/elevation-points").await;
    assert_eq!(desc["inputs"]["points"]["minOccurs"], 1, "{desc}");
    // Sync, by GET with the input as a query parameter.
    let (status, _, fc) = app
        .get_json("/processes/elevation-points/execution?points=%5B%5B1.48%2C43.54%5D%5D")
        .await;
    assert_eq!(status, 200, "{fc}");
    assert_eq!(fc["features"][0]["geometry"]["coordinates"][0], 1.48);
    let sent = app
        .fake
        .first_to("/altimetrie/1.0/calcul/alti/rest/elevation.json");
    assert_eq!(sent.query["lon"], "1.48");
    assert_eq!(sent.query["resource"], "ign_rge_alti_wld");
    // As a job.
    let r = app
        .http
        .post(app.url("/processes/elevation-points/execution"))
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"points": [[1.49, 43.55], [1.5, 43.6]]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..500 {
        status = app.follow(&location).await;
        if status["status"] != "accepted" && status["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status["status"], "successful", "{status}");
    let results = app.follow(&format!("{location}/results")).await;
    assert_eq!(
        results["result"]["value"]["features"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{results}"
    );
    // A wrong input is a 400 naming it.
    let got = app
        .post_json(
            "/processes/elevation-points/execution",
            &json!({"inputs": {"points": [[1.48]]}}),
        )
        .await;
    assert_problem(&got, 400, "points");
    // The broken files are reported with their key and reason.
    let (_, _, ready) = app.get_json("/ready").await;
    let problems = ready["adapters"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{ready}");
    assert!(problems
        .iter()
        .any(|p| p["file"].as_str().unwrap().ends_with("bad-api.toml")
            && p["key"] == "api"
            && p["reason"].as_str().unwrap().contains("quota")));
    assert!(problems
        .iter()
        .any(|p| p["file"].as_str().unwrap().ends_with("broken.toml")
            && p["reason"].as_str().unwrap().contains("title")));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The built-in `elevation` and its adapter, on the same recorded answer: the same points, heights
/// and accuracy.
#[tokio::test]
async fn the_elevation_adapter_matches_the_built_in() {
    let dir = temp_dir();
    std::fs::write(dir.join("elevation-points.toml"), elevation_example()).unwrap();
    let recorded = include_bytes!("fixtures/altimetrie/elevation_2points.json").to_vec();
    let d = dir.clone();
    let app = TestApp::start_with_fake(
        |fake| {
            fake.set_body(
                "/altimetrie/1.0/calcul/alti/rest/elevation.json",
                200,
                "application/json",
                recorded,
            )
        },
        move |c| c.adapters.dir = d.display().to_string(),
    )
    .await;
    let inputs = json!({"inputs": {"points": [[1.48, 43.54], [1.49, 43.55]]}});
    let (s1, _, built_in) = app
        .post_json("/processes/elevation/execution", &inputs)
        .await;
    let (s2, _, adapter) = app
        .post_json("/processes/elevation-points/execution", &inputs)
        .await;
    assert_eq!((s1, s2), (200, 200), "{built_in} {adapter}");
    let essentials = |fc: &Value| -> Vec<Value> {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!([f["geometry"], f["properties"]["z"], f["properties"]["acc"]]))
            .collect()
    };
    assert_eq!(essentials(&built_in).len(), 2);
    assert_eq!(essentials(&built_in), essentials(&adapter));
    // Both asked the upstream the same question, parameter for parameter.
    let asked: Vec<_> = app
        .fake
        .log()
        .into_iter()
        .filter(|r| r.path.ends_with("elevation.json"))
        .map(|r| r.query)
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0], asked[1]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The real binary: files dropped into adapters.dir and a SIGHUP make a new process and a new
/// collection appear (the `/collections` list kept since the first request is made again).
#[tokio::test]
async fn a_sighup_brings_in_a_new_adapter_file() {
    let fake = support::FakeUpstream::start().await;
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_geopf-gateway"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--upstream",
            &fake.base_url(),
        ])
        .env("GEOPF_ADAPTERS__DIR", &dir)
        .env("GEOPF_CACHE__DIR", dir.join("cache"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the gateway started");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let has = |doc: &Value| {
        doc["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "elevation-points")
    };
    let before: Value = http
        .get(format!("{base}/processes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!has(&before));
    let collection_ids = |doc: Value| -> Vec<String> {
        doc["collections"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["id"].as_str().map(String::from))
            .collect()
    };
    let collections = || async {
        let doc: Value = http
            .get(format!("{base}/collections"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        collection_ids(doc)
    };
    assert!(!collections().await.contains(&"layers-again".to_string()));
    std::fs::write(dir.join("elevation-points.toml"), elevation_example()).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/geoplateforme-layers.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("layers-again.toml"),
        shipped.replacen("id = \"geoplateforme-layers\"", "id = \"layers-again\"", 1),
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut appeared = false;
    for _ in 0..100 {
        let doc: Value = http
            .get(format!("{base}/processes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if has(&doc) {
            appeared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = http
        .get(format!(
            "{base}/processes/elevation-points/execution?points=%5B%5B1.48%2C43.54%5D%5D"
        ))
        .send()
        .await
        .unwrap();
    let status = run.status().as_u16();
    let listed = collections().await;
    child.kill().unwrap();
    let _ = child.wait();
    std::fs::remove_dir_all(dir).unwrap();
    assert!(appeared, "the new adapter did not appear after SIGHUP");
    assert_eq!(status, 200);
    assert!(
        listed.contains(&"layers-again".to_string()),
        "the new collection is not listed: {listed:?}"
    );
}
