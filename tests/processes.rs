//! OGC API Processes for geocoding: list, descriptions, POST and GET execution, bad inputs.

mod support;

use serde_json::{json, Value};
use support::{assert_problem, ids, link, TestApp};

#[tokio::test]
async fn the_process_list() {
    let app = TestApp::start().await;
    let (status, _, doc) = app.get_json("/processes").await;
    assert_eq!(status, 200);
    let got: Vec<&str> = doc["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "geocode",
            "reverse-geocode",
            "batch-geocode",
            "autocomplete",
            "route",
            "isochrone",
            "elevation",
            "elevation-profile",
            "search-layers"
        ]
    );
    for p in doc["processes"].as_array().unwrap() {
        assert_eq!(
            p["jobControlOptions"],
            json!(["sync-execute", "async-execute", "dismiss"])
        );
        assert!(link(p, "self").is_some());
    }
}

#[tokio::test]
async fn a_description_has_the_schema_of_every_input_and_output() {
    let app = TestApp::start().await;
    let (status, _, d) = app.get_json("/processes/geocode").await;
    assert_eq!(status, 200);
    assert_eq!(d["id"], "geocode");
    let inputs = d["inputs"].as_object().unwrap();
    for name in [
        "q", "index", "limit", "postcode", "citycode", "type", "category", "lon", "lat",
    ] {
        let input = &inputs[name];
        assert!(input["schema"].is_object(), "{name} has no schema");
        assert!(input["title"].is_string() && input["description"].is_string());
    }
    assert_eq!(inputs["q"]["minOccurs"], 1);
    assert_eq!(inputs["limit"]["minOccurs"], 0);
    assert_eq!(inputs["limit"]["schema"]["maximum"], 20);
    assert_eq!(
        d["outputs"]["result"]["schema"]["contentMediaType"],
        "application/geo+json"
    );
    assert!(link(&d, "http://www.opengis.net/def/rel/ogc/1.0/execute").is_some());
    let (_, _, a) = app.get_json("/processes/autocomplete").await;
    assert!(a["inputs"]["maximumResponses"].is_object());
    assert_problem(&app.get_json("/processes/teleport").await, 404, "teleport");
}

#[tokio::test]
async fn geocode_by_post_returns_geojson() {
    let app = TestApp::start().await;
    let (status, ctype, fc) = app
        .post_json(
            "/processes/geocode/execution",
            &json!({"inputs": {"q": "1 place Georges Freche", "limit": 5, "index": "address"}}),
        )
        .await;
    assert_eq!((status, ctype.as_str()), (200, "application/geo+json"));
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(ids(&fc)[0], "34172_2388_00001");
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(sent.query["limit"], "5");
    // The document form, as OWSLib asks for it.
    let (status, _, doc) = app
        .post_json(
            "/processes/geocode/execution",
            &json!({"inputs": {"q": {"value": "1 place Georges Freche"}}, "response": "document"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["result"]["mediaType"], "application/geo+json");
    assert_eq!(doc["result"]["value"]["type"], "FeatureCollection");
}

#[tokio::test]
async fn geocode_by_get_for_qgis_and_curl() {
    let app = TestApp::start().await;
    let r = app
        .get("/processes/geocode/execution?q=Mairie%20de%20Montpellier&index=poi&limit=3")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let fc: Value = r.json().await.unwrap();
    assert_eq!(ids(&fc)[0], "SURFACTI0000000044349527");
    // Results of the process are known to the matching collection afterwards.
    let (status, _, f) = app
        .get_json("/collections/poi/items/SURFACTI0000000044349527")
        .await;
    assert_eq!(status, 200, "{f}");
}

#[tokio::test]
async fn reverse_geocode_takes_lon_lat_or_a_point() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json("/processes/reverse-geocode/execution?lon=3.896549&lat=43.59884")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&fc)[0], "34172_2388_00001");
    let (status, _, fc) = app
        .post_json(
            "/processes/reverse-geocode/execution",
            &json!({"inputs": {"point": {"type": "Point", "coordinates": [3.896549, 43.59884]}, "index": "poi"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&fc), ["SURFACTI0000000044349527"]);
    let sent = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.path == "/geocodage/reverse")
        .unwrap();
    assert_eq!(
        (
            sent.query["lon"].as_str(),
            sent.query["lat"].as_str(),
            sent.query["index"].as_str()
        ),
        ("3.896549", "43.59884", "poi")
    );
}

#[tokio::test]
async fn autocomplete_returns_points() {
    let app = TestApp::start().await;
    let (status, _, fc) = app.get_json("/processes/autocomplete/execution?text=1%20place%20georges&maximumResponses=5&type=StreetAddress,PositionOfInterest").await;
    assert_eq!(status, 200, "{fc}");
    let f = &fc["features"][0];
    assert_eq!(
        f["geometry"],
        json!({"type": "Point", "coordinates": [3.896549, 43.598842]})
    );
    assert_eq!(
        f["properties"]["fulltext"],
        "1 Place Georges Frêche, 34070 Montpellier"
    );
    assert_eq!(
        fc["features"][1]["properties"]["poiType"],
        json!(["mairie"])
    );
    let sent = app.fake.first_to("/geocodage/completion");
    assert_eq!(sent.query["maximumResponses"], "5");
}

#[tokio::test]
async fn an_autocompletion_error_inside_a_200_is_a_502() {
    let app = TestApp::start().await;
    app.fake.set_body(
        "/geocodage/completion",
        200,
        "application/json",
        br#"{"status":"Error","error":"index unavailable"}"#.to_vec(),
    );
    let got = app
        .get_json("/processes/autocomplete/execution?text=rue%20de%20la%20paix")
        .await;
    assert_problem(&got, 502, "index unavailable");
}

#[tokio::test]
async fn bad_inputs_are_400_naming_the_input() {
    let app = TestApp::start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("geocode", json!({}), "q: is required"),
        ("geocode", json!({"q": "ab"}), "q: must be 3 to 200"),
        ("geocode", json!({"q": 42}), "q: must be 3 to 200"),
        (
            "geocode",
            json!({"q": "rue", "limit": 50}),
            "limit: expected a whole number from 1 to 20",
        ),
        ("geocode", json!({"q": "rue", "limit": "many"}), "limit"),
        (
            "geocode",
            json!({"q": "rue", "index": "roads"}),
            "index: \"roads\" is not one of",
        ),
        (
            "geocode",
            json!({"q": "rue", "lat": 43.6}),
            "lon: is required when lat",
        ),
        (
            "geocode",
            json!({"q": "rue", "color": "red"}),
            "color: is not an input of geocode",
        ),
        (
            "geocode",
            json!({"q": {"deep": true}}),
            "q: expected a string",
        ),
        ("reverse-geocode", json!({}), "lon: is required"),
        (
            "reverse-geocode",
            json!({"lon": 3.8, "lat": -95}),
            "latitude -95",
        ),
        (
            "reverse-geocode",
            json!({"point": "3.8"}),
            "point: expected",
        ),
        (
            "autocomplete",
            json!({"text": "rue", "maximumResponses": 16}),
            "maximumResponses",
        ),
        (
            "autocomplete",
            json!({"text": "rue", "type": "Everything"}),
            "type: \"Everything\"",
        ),
        (
            "autocomplete",
            json!({"text": "rue", "bbox": "4,3,2,1"}),
            "bbox",
        ),
    ];
    for (process, inputs, needle) in cases {
        let got = app
            .post_json(
                &format!("/processes/{process}/execution"),
                &json!({"inputs": inputs}),
            )
            .await;
        assert_problem(&got, 400, needle);
    }
    assert_eq!(
        app.fake.count("/geocodage"),
        0,
        "bad input never reaches the upstream"
    );
}

#[tokio::test]
async fn malformed_execute_requests() {
    let app = TestApp::start().await;
    let post = |body: &'static str| {
        app.http
            .post(app.url("/processes/geocode/execution"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let got = support::split(post("{\"inputs\": {\"q\": ").await.unwrap()).await;
    assert_problem(&got, 400, "not valid JSON");
    let got = support::split(post("[1, 2]").await.unwrap()).await;
    assert_problem(&got, 400, "JSON object");
    let got = support::split(post("{\"inputs\": [\"q\"]}").await.unwrap()).await;
    assert_problem(&got, 400, "\"inputs\" must be an object");
    let got = support::split(
        post("{\"inputs\": {\"q\": \"rue\"}, \"response\": \"pdf\"}")
            .await
            .unwrap(),
    )
    .await;
    assert_problem(&got, 400, "raw or document");
    let got = app
        .post_json("/processes/teleport/execution", &json!({"inputs": {}}))
        .await;
    assert_problem(&got, 404, "teleport");
}

#[tokio::test]
async fn a_synchronous_run_longer_than_the_request_timeout_is_a_408_problem() {
    let app = TestApp::start_with(|c| {
        c.server.request_timeout_s = 1;
        c.upstream.timeout_ms = 5000;
    })
    .await;
    app.fake.fault(
        "/navigation/itineraire",
        support::Fault::Slow(std::time::Duration::from_secs(3)),
        None,
    );
    let got = app
        .get_json("/processes/route/execution?start=3.708864,43.93584&end=4.077405,44.12519")
        .await;
    assert_problem(&got, 408, "Prefer: respond-async");
}
