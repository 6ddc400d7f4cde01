//! OGC API Features over the geocoding collections, over HTTP against the fake upstream.

mod support;

use serde_json::{json, Value};
use support::{assert_problem, ids, link, TestApp};

const MONTPELLIER: &str = "3.894,43.596,3.900,43.601";
const GEOJSON: &str = "application/geo+json";

#[tokio::test]
async fn collections_and_one_collection() {
    let app = TestApp::start().await;
    let (status, _, doc) = app.get_json("/collections").await;
    assert_eq!(status, 200);
    let got: Vec<&str> = doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "addresses",
            "poi",
            "parcels",
            "catalog",
            "geoplateforme-layers"
        ]
    );
    let (status, _, c) = app.get_json("/collections/poi").await;
    assert_eq!(status, 200);
    assert_eq!(c["id"], "poi");
    assert_eq!(c["itemType"], "feature");
    assert_eq!(
        c["extent"]["spatial"]["bbox"][0].as_array().unwrap().len(),
        4
    );
    assert!(link(&c, "items")
        .unwrap()
        .ends_with("/collections/poi/items"));
    assert!(link(&c, "http://www.opengis.net/def/rel/ogc/1.0/queryables").is_some());
    assert_problem(&app.get_json("/collections/roads").await, 404, "roads");
}

#[tokio::test]
async fn search_by_text_keeps_every_upstream_property() {
    let app = TestApp::start().await;
    let r = app
        .get("/collections/addresses/items?q=1%20place%20Georges%20Freche&postcode=34070&limit=2")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], GEOJSON);
    let fc: Value = r.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["numberReturned"], 2);
    assert_eq!(fc["numberMatched"], 3);
    assert!(fc["timeStamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ids(&fc), ["34172_2388_00001", "34172_2130_00001"]);
    let first = &fc["features"][0]["properties"];
    for key in [
        "label",
        "score",
        "housenumber",
        "id",
        "name",
        "postcode",
        "citycode",
        "x",
        "y",
        "city",
        "context",
        "type",
        "importance",
        "street",
        "_type",
    ] {
        assert!(first.get(key).is_some(), "property {key} lost");
    }
    // What was sent upstream: the search, with the filter, at the upstream's largest page.
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(sent.query["q"], "1 place Georges Freche");
    assert_eq!(sent.query["index"], "address");
    assert_eq!(sent.query["postcode"], "34070");
    assert_eq!(sent.query["limit"], "20");
    // Paging within the candidates.
    let next = link(&fc, "next").expect("a next link");
    assert!(
        next.contains("offset=2") && next.contains("limit=2") && next.contains("postcode=34070"),
        "{next}"
    );
    let fc2: Value = app.follow(&next).await;
    assert_eq!(ids(&fc2), ["34172_2580_00001"]);
    assert!(link(&fc2, "next").is_none());
    assert!(link(&fc2, "prev").is_some());
}

#[tokio::test]
async fn the_2026_answer_shape_is_read_too() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json("/collections/addresses/items?q=8%20La%20Bodini")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&fc), ["85197_ipz92q_00008"]);
    assert_eq!(
        fc["features"][0]["properties"]["banId"],
        "cb810140-ff7c-4ab7-9de6-b20d24024bff"
    );
}

#[tokio::test]
async fn poi_ids_are_their_bd_topo_keys_and_arrays_stay_arrays() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json("/collections/poi/items?q=Mairie%20de%20Montpellier&category=mairie")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&fc)[0], "SURFACTI0000000044349527");
    assert_eq!(
        fc["features"][0]["properties"]["postcode"],
        json!(["34000", "34070", "34080", "34090"])
    );
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(
        (
            sent.query["index"].as_str(),
            sent.query["category"].as_str()
        ),
        ("poi", "mairie")
    );
}

#[tokio::test]
async fn a_small_bbox_lists_what_the_geocoder_finds_inside_it() {
    let app = TestApp::start().await;
    let r = app
        .get(&format!("/collections/addresses/items?bbox={MONTPELLIER}"))
        .await;
    assert_eq!(r.status(), 200);
    let fc: Value = r.json().await.unwrap();
    // The fixture has a third address ~1 km east, outside the box: it is left out.
    assert_eq!(ids(&fc), ["34172_2388_00001", "34172_2388_00033"]);
    assert_eq!(fc["numberMatched"], 2);
    let sent = app.fake.first_to("/geocodage/reverse");
    let geom: Value = serde_json::from_str(&sent.query["searchgeom"]).unwrap();
    assert_eq!(geom["type"], "Polygon");
    assert_eq!(geom["coordinates"][0][0], json!([3.894, 43.596]));
    assert_eq!(geom["coordinates"][0][2], json!([3.9, 43.601]));
    assert!(!sent.query.contains_key("lon"));
}

#[tokio::test]
async fn a_large_bbox_is_not_an_error_but_a_note() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json("/collections/addresses/items?bbox=2,43,4,44")
        .await;
    assert_eq!(status, 200);
    assert_eq!(fc["numberReturned"], 0);
    assert!(fc["note"].as_str().unwrap().contains("1000 m"), "{fc}");
    assert_eq!(
        app.fake.count("/geocodage"),
        0,
        "no upstream call for a box it would refuse"
    );
    // Once addresses of the area are known, the large box shows them.
    app.get_json(&format!("/collections/addresses/items?bbox={MONTPELLIER}"))
        .await;
    let (_, _, fc) = app
        .get_json("/collections/addresses/items?bbox=2,43,4,44")
        .await;
    assert_eq!(
        fc["numberReturned"], 3,
        "all three fetched addresses lie in the large box"
    );
}

#[tokio::test]
async fn a_fresh_gateway_answers_the_first_page_with_examples_and_their_fields() {
    let app = TestApp::start().await;
    // QGIS's first probe learns the columns from it: real features, not an empty page.
    let (status, ctype, fc) = app.get_json("/collections/addresses/items?limit=10").await;
    assert_eq!((status, ctype.as_str()), (200, GEOJSON));
    let features = fc["features"].as_array().unwrap();
    assert!(!features.is_empty(), "{fc}");
    assert!(features[0]["properties"]["label"].is_string(), "{fc}");
    assert!(fc["note"].as_str().unwrap().contains("Hôtel de Ville"));
    let sent = app.fake.first_to("/geocodage/reverse");
    assert_eq!(sent.query["index"], "address");
    assert_eq!(sent.query["lon"], "2.3522");
    // Asked again, they are the known features: no second upstream call.
    let (_, _, again) = app.get_json("/collections/addresses/items?limit=10").await;
    assert_eq!(again["numberReturned"], fc["numberReturned"]);
    assert_eq!(app.fake.count("/geocodage/reverse"), 1);
}

#[tokio::test]
async fn without_q_or_bbox_the_known_features_are_listed() {
    let app = TestApp::start().await;
    app.get_json("/collections/addresses/items?q=1%20place%20Georges%20Freche")
        .await;
    app.get_json(&format!("/collections/addresses/items?bbox={MONTPELLIER}"))
        .await;
    let (_, _, fc) = app.get_json("/collections/addresses/items?limit=2").await;
    assert_eq!(
        fc["numberMatched"], 5,
        "3 found by text + 2 more from the reverse search, each once"
    );
    assert_eq!(ids(&fc), ["34172_2388_00001", "34172_2130_00001"]);
    let (_, _, fc) = app
        .get_json("/collections/addresses/items?postcode=34000")
        .await;
    assert_eq!(
        ids(&fc),
        ["34172_2130_00001", "34172_2580_00001", "34172_9999_00002"],
        "filters apply to the known features too"
    );
    // Other collections are separate: the places list places (here, examples), not addresses.
    let (_, _, poi) = app.get_json("/collections/poi/items").await;
    let known_addresses = ids(&fc);
    assert!(
        ids(&poi).iter().all(|id| !known_addresses.contains(id)),
        "{poi}"
    );
    // The extent of the collection follows what is known.
    let (_, _, c) = app.get_json("/collections/addresses").await;
    let bbox = &c["extent"]["spatial"]["bbox"][0];
    assert_eq!(bbox[0], json!(3.87456));
}

#[tokio::test]
async fn one_item_by_id() {
    let app = TestApp::start().await;
    app.get_json("/collections/addresses/items?q=1%20place%20Georges%20Freche")
        .await;
    let r = app
        .get("/collections/addresses/items/34172_2130_00001")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], GEOJSON);
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["id"], "34172_2130_00001");
    assert!(link(&f, "collection").is_some());
    assert_problem(
        &app.get_json("/collections/addresses/items/34172_0000_00000")
            .await,
        404,
        "search for it first",
    );
    assert_problem(
        &app.get_json("/collections/nope/items/1").await,
        404,
        "nope",
    );
}

#[tokio::test]
async fn a_parcel_is_found_by_its_cadastral_reference() {
    let app = TestApp::start().await;
    let (status, _, f) = app
        .get_json("/collections/parcels/items/44070000AR0238")
        .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["properties"]["section"], "AR");
    let sent = app.fake.first_to("/geocodage/search");
    assert_eq!(sent.query["index"], "parcel");
    assert_eq!(sent.query["departmentcode"], "44");
    assert_eq!(sent.query["municipalitycode"], "070");
    assert_eq!(sent.query["section"], "AR");
    assert_eq!(sent.query["number"], "0238");
    assert!(!sent.query.contains_key("q"));
    // A structured search as items, too.
    let (status, _, fc) = app.get_json("/collections/parcels/items?departmentcode=44&municipalitycode=070&section=AR&number=0238").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&fc), ["44070000AR0238"]);
}

#[tokio::test]
async fn queryables_are_a_json_schema() {
    let app = TestApp::start().await;
    let r = app
        .http
        .get(app.url("/collections/addresses/queryables"))
        .header("accept", "application/schema+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/schema+json");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["type"], "object");
    assert!(doc["$id"]
        .as_str()
        .unwrap()
        .ends_with("/collections/addresses/queryables"));
    assert_eq!(
        doc["properties"]["type"]["enum"],
        json!(["housenumber", "street", "locality", "municipality"])
    );
    assert!(doc["properties"]["postcode"]["pattern"].is_string());
    let (_, _, parcels) = app.get_json("/collections/parcels/queryables").await;
    assert!(parcels["properties"]["section"].is_object());
}

#[tokio::test]
async fn limit_above_the_maximum_is_clamped() {
    let app = TestApp::start().await;
    let (status, _, fc) = app
        .get_json("/collections/addresses/items?q=rue%20farges&limit=100000")
        .await;
    assert_eq!(status, 200);
    assert_eq!(fc["numberReturned"], 3);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = TestApp::start().await;
    let cases: &[(&str, &str, &str)] = &[
        ("bbox=1,2,3", "bbox", "4 or 6 numbers"),
        (
            "bbox=3.9,43.6,3.8,43.7",
            "bbox",
            "west 3.9 is greater than east",
        ),
        (
            "bbox=3.8,43.7,3.9,43.6",
            "bbox",
            "south 43.7 is greater than north",
        ),
        ("bbox=3.8,43.6,3.9,95", "bbox", "outside -90..90"),
        ("bbox=a,b,c,d", "bbox", "not a list of numbers"),
        ("limit=abc", "limit", "not a whole number"),
        ("limit=0", "limit", "at least 1"),
        ("limit=-3", "limit", "at least 1"),
        ("offset=-1", "offset", "0 or more"),
        ("q=", "q", "must not be empty"),
        ("q=%20%20", "q", "must not be empty"),
        ("q=ab", "q", "3 to 200"),
        ("q=-rue", "q", "letter or a digit"),
        ("q=rue&postcode=3400", "postcode", "5-digit"),
        ("q=rue&citycode=ABCDE", "citycode", "INSEE"),
        ("q=rue&type=road", "type", "housenumber"),
        ("q=rue&lon=3.8", "lat", "required when lon"),
        ("q=rue&lon=3.8&lat=91", "lat", "latitude 91"),
        (
            "q=rue&category=mairie",
            "category",
            "not a parameter of addresses",
        ),
        ("q=rue&postcod=34000", "postcod", "not a parameter"),
        (
            "bbox-crs=EPSG:2154&bbox=1,2,3,4",
            "bbox-crs",
            "not supported",
        ),
    ];
    for (query, param, needle) in cases {
        let got = app
            .get_json(&format!("/collections/addresses/items?{query}"))
            .await;
        assert_problem(&got, 400, needle);
        assert_eq!(got.2["parameter"], *param, "for {query}");
    }
    assert_eq!(
        app.fake.count("/geocodage"),
        0,
        "bad input never reaches the upstream"
    );
}

#[tokio::test]
async fn the_upstream_400_is_passed_on_with_its_message() {
    let app = TestApp::start().await;
    app.fake.set_body(
        "/geocodage/search",
        400,
        "application/json",
        br#"{"code":400,"message":"Failed parsing query","detail":["city and citycode params cannot be used together"]}"#.to_vec(),
    );
    let got = app
        .get_json("/collections/addresses/items?q=rue%20de%20la%20paix")
        .await;
    assert_problem(
        &got,
        400,
        "city and citycode params cannot be used together",
    );
}
