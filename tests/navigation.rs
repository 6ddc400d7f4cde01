//! Route, isochrone, elevation and elevation-profile processes over HTTP, against the fake.

mod support;

use serde_json::{json, Value};
use support::{assert_problem, Fault, TestApp};

const HOTEL_DE_VILLE: &str = "2.351389,48.856701";
const TOUR_EIFFEL: &str = "2.294481,48.85837";

#[tokio::test]
async fn a_route_is_a_line_with_its_steps_in_metres_and_seconds() {
    let app = TestApp::start().await;
    let (status, ctype, fc) = app
        .post_json(
            "/processes/route/execution",
            &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": {"type": "Point", "coordinates": [2.294481, 48.85837]},
                               "intermediates": ["2.333,48.8605"], "profile": "car", "optimization": "shortest"}}),
        )
        .await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/geo+json"),
        "{fc}"
    );
    let route = &fc["features"][0];
    assert_eq!(route["geometry"]["type"], "LineString");
    let p = &route["properties"];
    assert_eq!(p["role"], "route");
    assert_eq!(p["distance"], 4812.3, "4.8123 km in metres");
    assert_eq!(p["duration"], 750.0, "12.5 min in seconds");
    assert_eq!(p["resource"], "bdtopo-osrm");
    assert_eq!(p["portions"], 2);
    let steps: Vec<&Value> = fc["features"].as_array().unwrap().iter().skip(1).collect();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["properties"]["instruction"], "depart");
    assert_eq!(steps[0]["properties"]["modifier"], "left");
    assert_eq!(steps[0]["properties"]["name"], "QUAI DE L HOTEL DE VILLE");
    assert_eq!(steps[1]["properties"]["name"], "Voie Georges Pompidou");
    assert_eq!(steps[2]["properties"]["portion"], 2);
    let sent = app.fake.first_to("/navigation/itineraire");
    assert_eq!(sent.query["start"], HOTEL_DE_VILLE);
    assert_eq!(sent.query["end"], "2.294481,48.85837");
    assert_eq!(sent.query["intermediates"], "2.333,48.8605");
    assert_eq!(sent.query["optimization"], "shortest");
    assert_eq!(sent.query["resource"], "bdtopo-osrm");
    assert_eq!(sent.query["geometryFormat"], "geojson");
}

#[tokio::test]
async fn a_route_by_get_for_qgis_and_curl() {
    let app = TestApp::start().await;
    let r = app
        .get(&format!(
            "/processes/route/execution?start={HOTEL_DE_VILLE}&end={TOUR_EIFFEL}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let again = app
        .get(&format!(
            "/processes/route/execution?start={HOTEL_DE_VILLE}&end={TOUR_EIFFEL}"
        ))
        .await;
    assert_eq!(again.headers()["cache-status"], "geopf-gateway; hit");
    assert_eq!(app.fake.count("/navigation/itineraire"), 1);
}

#[tokio::test]
async fn constraints_are_checked_against_the_resource() {
    let app = TestApp::start().await;
    let banned = json!({"constraintType": "banned", "key": "waytype", "operator": "=", "value": "autoroute"});
    let (status, _, fc) = app
        .post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "resource": "bdtopo-valhalla", "constraints": banned}}))
        .await;
    assert_eq!(status, 200, "{fc}");
    let sent = app.fake.first_to("/navigation/itineraire");
    let sent_constraint: Value = serde_json::from_str(&sent.query["constraints"]).unwrap();
    assert_eq!(sent_constraint["value"], "autoroute");
    let bad =
        json!({"constraintType": "banned", "key": "waytype", "operator": "=", "value": "ferry"});
    let got = app
        .post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "resource": "bdtopo-valhalla", "constraints": [bad]}}))
        .await;
    assert_problem(
        &got,
        400,
        "value \"ferry\" is not allowed for waytype; allowed: autoroute, tunnel, pont",
    );
    let got = app
        .post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "constraints": banned}}))
        .await;
    assert_problem(&got, 400, "key \"waytype\" is not allowed here");
}

/// The constraints a checkbox can say come as boolean inputs generated from the capabilities
/// (QGIS draws them as checkboxes), added to the listed ones.
#[tokio::test]
async fn avoid_checkboxes_are_generated_from_the_capabilities() {
    let app = TestApp::start().await;
    let (_, _, route) = app.get_json("/processes/route").await;
    let avoid = &route["inputs"]["avoid_waytype_autoroute"];
    assert_eq!(avoid["schema"]["type"], "boolean", "{route}");
    assert_eq!(avoid["title"], "Avoid autoroute (waytype)");
    assert!(route["inputs"]["avoid_waytype_pont"].is_object());
    // Numbers (importance 1–6) and long lists (nature) stay in the constraints input.
    assert!(route["inputs"]["avoid_importance_1"].is_null());
    let banned =
        json!({"constraintType": "banned", "key": "waytype", "operator": "=", "value": "tunnel"});
    let (status, _, fc) = app
        .post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "resource": "bdtopo-valhalla", "constraints": banned, "avoid_waytype_autoroute": true, "avoid_waytype_pont": false}}))
        .await;
    assert_eq!(status, 200, "{fc}");
    let sent = app.fake.first_to("/navigation/itineraire");
    let sent: Vec<Value> = sent.query["constraints"]
        .split('|')
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    assert_eq!(
        sent,
        [
            banned,
            json!({"constraintType": "avoid", "key": "waytype", "operator": "=", "value": "autoroute"})
        ]
    );
    // A graph without constraints: the checkbox is refused, named.
    let got = app
        .post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "avoid_waytype_autoroute": true}}))
        .await;
    assert_problem(&got, 400, "avoid_waytype_autoroute");
}

#[tokio::test]
async fn route_inputs_are_checked() {
    let app = TestApp::start().await;
    let cases = [
        (json!({"end": TOUR_EIFFEL}), "start: is required"),
        (json!({"start": HOTEL_DE_VILLE, "end": "2.29"}), "end: expected"),
        (
            json!({"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "profile": "bicycle", "resource": "bdtopo-valhalla"}),
            "profile: \"bicycle\" is not allowed; allowed values: car, pedestrian",
        ),
        (json!({"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "resource": "osm"}), "resource: \"osm\" does not offer route; allowed: bdtopo-osrm, bdtopo-valhalla, bdtopo-pgr"),
        (json!({"start": "-120,45", "end": TOUR_EIFFEL}), "outside the area the resource covers"),
        (json!({"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "intermediates": ["x"]}), "intermediates[0]"),
        (json!({"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "constraints": "{not json"}), "constraints: is not JSON"),
    ];
    for (inputs, needle) in cases {
        let got = app
            .post_json("/processes/route/execution", &json!({"inputs": inputs}))
            .await;
        assert_problem(&got, 400, needle);
    }
    assert_eq!(app.fake.count("/navigation/itineraire"), 0);
}

#[tokio::test]
async fn no_route_found_is_a_422_not_a_502() {
    let app = TestApp::start().await;
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/navigation/no_route.json"
    ))
    .unwrap();
    app.fake
        .set_body("/navigation/itineraire", 404, "application/json", body);
    let got = app
        .get_json(&format!(
            "/processes/route/execution?start={HOTEL_DE_VILLE}&end={TOUR_EIFFEL}"
        ))
        .await;
    assert_problem(
        &got,
        422,
        "no route was found between these points (the routing engine said: No path found)",
    );
}

#[tokio::test]
async fn an_isochrone_is_a_polygon_with_its_parameters() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json(&format!("/processes/isochrone/execution?point={HOTEL_DE_VILLE}&costValue=15&timeUnit=minute&profile=pedestrian"))
        .await;
    assert_eq!(status, 200, "{fc}");
    let f = &fc["features"][0];
    assert_eq!(f["geometry"]["type"], "Polygon");
    assert_eq!(f["properties"]["costSeconds"], 900.0);
    assert_eq!(f["properties"]["profile"], "pedestrian");
    let sent = app.fake.first_to("/navigation/isochrone");
    assert_eq!(sent.query["resource"], "bdtopo-valhalla");
    assert_eq!(sent.query["costType"], "time");
    assert_eq!(sent.query["timeUnit"], "minute");
    assert!(!sent.query.contains_key("distanceUnit"));
    for (query, needle) in [
        ("costValue=-5", "costValue: must be greater than 0"),
        (
            "costValue=10&costType=money",
            "costType: \"money\" is not allowed; allowed values: time, distance",
        ),
        ("costValue=10&direction=sideways", "direction"),
        (
            "costValue=10&resource=bdtopo-osrm",
            "does not offer isochrone",
        ),
    ] {
        let got = app
            .get_json(&format!(
                "/processes/isochrone/execution?point={HOTEL_DE_VILLE}&{query}"
            ))
            .await;
        assert_problem(&got, 400, needle);
    }
}

#[tokio::test]
async fn descriptions_follow_the_upstream_capabilities() {
    let app = TestApp::start().await;
    // The gateway fetches them at start; the fixture adds a resource the built-in list lacks.
    let mut tries = 0;
    loop {
        let (_, _, d) = app.get_json("/processes/route").await;
        if d["inputs"]["resource"]["schema"]["enum"]
            .as_array()
            .unwrap()
            .len()
            == 4
        {
            break;
        }
        tries += 1;
        assert!(tries < 100, "capabilities never refreshed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, _, ready) = app.get_json("/ready").await;
    assert_eq!(ready["upstream"]["navigation"]["capabilities"], "upstream");
    assert_eq!(app.fake.count("/navigation/getcapabilities"), 1);
    let got = app.post_json("/processes/route/execution", &json!({"inputs": {"start": HOTEL_DE_VILLE, "end": TOUR_EIFFEL, "profile": "pedestrian"}})).await;
    assert_problem(&got, 400, "allowed values: car");
}

#[tokio::test]
async fn without_the_upstream_capabilities_the_built_in_ones_serve() {
    let app = TestApp::start_with_fake(
        |fake| {
            let body = br#"{"error":{"errorType":"internal","message":"Internal Server Error"}}"#;
            fake.set_body(
                "/navigation/getcapabilities",
                500,
                "application/json",
                body.to_vec(),
            );
        },
        |c| c.upstream.retries = 0,
    )
    .await;
    let mut ready = Value::Null;
    for _ in 0..200 {
        ready = app.get_json("/ready").await.2;
        if ready["upstream"]["navigation"]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        ready["upstream"]["navigation"]["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{ready}"
    );
    assert_eq!(ready["upstream"]["navigation"]["capabilities"], "built-in");
    let (status, _, d) = app.get_json("/processes/route").await;
    assert_eq!(status, 200);
    assert_eq!(
        d["inputs"]["resource"]["schema"]["enum"],
        json!(["bdtopo-osrm", "bdtopo-valhalla", "bdtopo-pgr"])
    );
}

#[tokio::test]
async fn elevations_with_no_data_as_null() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .post_json(
            "/processes/elevation/execution",
            &json!({"inputs": {"points": [[2.351389, 48.856701], [-30.0, 45.0]]}}),
        )
        .await;
    assert_eq!(status, 200, "{fc}");
    let f = fc["features"].as_array().unwrap();
    assert_eq!(
        f[0]["geometry"]["coordinates"].as_array().unwrap().len(),
        3,
        "3D point"
    );
    assert_eq!(f[0]["properties"]["noData"], false);
    assert!(f[1]["properties"]["z"].is_null());
    assert_eq!(f[1]["properties"]["noData"], true);
    assert_eq!(f[1]["geometry"]["coordinates"], json!([-30.0, 45.0]));
    let sent = app
        .fake
        .log()
        .into_iter()
        .find(|r| r.path.ends_with("/elevation.json"))
        .unwrap();
    assert_eq!(sent.query["lon"], "2.351389|-30");
    assert_eq!(sent.query["resource"], "ign_rge_alti_wld");
}

#[tokio::test]
async fn many_points_go_in_one_post_and_come_back_in_order() {
    let app = TestApp::start().await;
    let points: Vec<Value> = (0..250)
        .map(|i| json!([2.0 + f64::from(i) * 0.001, 48.0]))
        .collect();
    let (status, _, fc) = app
        .post_json(
            "/processes/elevation/execution",
            &json!({"inputs": {"points": points}}),
        )
        .await;
    assert_eq!(status, 200);
    let f = fc["features"].as_array().unwrap();
    assert_eq!(f.len(), 250);
    assert_eq!(f[249]["geometry"]["coordinates"][0], json!(2.249));
    // Beyond what a URL holds, the points go in one POST with the GET's keys.
    let sent: Vec<_> = app
        .fake
        .log()
        .into_iter()
        .filter(|r| r.path.starts_with("/altimetrie"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["lon"].as_str().unwrap().split('|').count(), 250);
    assert_eq!(body["resource"], "ign_rge_alti_wld");
    assert_eq!(body["zonly"], "false");
    let got = app
        .post_json(
            "/processes/elevation/execution",
            &json!({"inputs": {"points": "2,48|3"}}),
        )
        .await;
    assert_problem(&got, 400, "points[1]");
}

#[tokio::test]
async fn an_elevation_profile_is_a_3d_line_with_its_summary() {
    let app = TestApp::start().await;
    let line = json!({"type": "LineString", "coordinates": [[1.48, 43.54], [1.49, 43.55]]});
    let (status, _, fc) = app
        .post_json(
            "/processes/elevation-profile/execution",
            &json!({"inputs": {"line": line, "sampling": 4}}),
        )
        .await;
    assert_eq!(status, 200, "{fc}");
    let f = &fc["features"][0];
    assert_eq!(f["geometry"]["coordinates"].as_array().unwrap().len(), 4);
    assert_eq!(
        f["geometry"]["coordinates"][0],
        json!([1.48, 43.54, 164.34])
    );
    let p = &f["properties"];
    assert_eq!(
        (p["min"].as_f64(), p["max"].as_f64()),
        (Some(141.33), Some(164.34))
    );
    assert_eq!(
        (p["ascent"].as_f64(), p["descent"].as_f64()),
        (Some(5.48), Some(28.49))
    );
    let length = p["length"].as_f64().unwrap();
    assert!((1300.0..1450.0).contains(&length), "{length}");
    let sent = app
        .fake
        .log()
        .into_iter()
        .find(|r| r.path.ends_with("/elevationLine.json"))
        .unwrap();
    assert_eq!(sent.query["sampling"], "4");
    assert_eq!(sent.query["profile_mode"], "simple");
    let got = app
        .post_json(
            "/processes/elevation-profile/execution",
            &json!({"inputs": {"line": [[1.48, 43.54]]}}),
        )
        .await;
    assert_problem(&got, 400, "line: must have 2 to 5000 vertices");
    // A line longer than a URL holds goes as a POST.
    let long: Vec<Value> = (0..400)
        .map(|i| json!([1.48 + f64::from(i) * 0.0001, 43.54]))
        .collect();
    app.fake.clear_log();
    let (status, _, _) = app
        .post_json(
            "/processes/elevation-profile/execution",
            &json!({"inputs": {"line": long, "sampling": 10}}),
        )
        .await;
    assert_eq!(status, 200);
    let sent = app
        .fake
        .first_to("/altimetrie/1.0/calcul/alti/rest/elevationLine.json");
    assert_eq!(sent.method, "POST");
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["sampling"], "10");
    assert_eq!(body["lat"].as_str().unwrap().split('|').count(), 400);
}

#[tokio::test]
async fn navigation_faults_are_502_and_504() {
    let app = TestApp::start_with(|c| c.upstream.retries = 0).await;
    app.fake.fault(
        "/navigation/itineraire",
        Fault::Status {
            status: 500,
            retry_after: None,
            body: r#"{"error":{"errorType":"internal","message":"Internal Server Error"}}"#.into(),
        },
        Some(1),
    );
    let got = app
        .get_json(&format!(
            "/processes/route/execution?start={HOTEL_DE_VILLE}&end={TOUR_EIFFEL}"
        ))
        .await;
    assert_problem(
        &got,
        502,
        "routing API answered HTTP 500: Internal Server Error",
    );
    app.fake.fault("/altimetrie", Fault::Hang, None);
    let got = app
        .get_json("/processes/elevation/execution?points=2,48")
        .await;
    assert_problem(&got, 504, "altimetry");
}
