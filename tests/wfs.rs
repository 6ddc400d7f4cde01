//! WFS feature types as OGC API Features collections: listing, items passed through, paging, CRS,
//! CQL2 filters translated to ECQL (latitude first, bbox folded in), queryables, errors.

mod support;

use serde_json::Value;
use support::{assert_problem, ids, link, TestApp};

const COMMUNE: &str = "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";

async fn app() -> TestApp {
    let app = TestApp::start().await;
    // The feature types load in the background at start.
    for _ in 0..200 {
        if app.get_json(&format!("/collections/{COMMUNE}")).await.0 == 200 {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the WFS feature types never loaded");
}

fn sent_filter(app: &TestApp) -> String {
    let r = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetFeature"))
        .unwrap();
    r.query.get("CQL_FILTER").cloned().unwrap_or_default()
}

#[tokio::test]
async fn feature_types_are_collections() {
    let app = app().await;
    let (_, _, doc) = app.get_json("/collections").await;
    let ids: Vec<&str> = doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "addresses",
            "poi",
            "parcels",
            COMMUNE,
            "BDTOPO_V3:batiment",
            "catalog",
            "geoplateforme-layers"
        ]
    );
    let (_, _, page) = app.get_json("/collections?limit=2&offset=2").await;
    assert_eq!(page["collections"].as_array().unwrap().len(), 2);
    assert!(link(&page, "next").is_some());
    let (status, _, c) = app.get_json("/collections/BDTOPO_V3:batiment").await;
    assert_eq!(status, 200);
    assert_eq!(c["description"], "Bâtiments & constructions");
    assert!(c["crs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "http://www.opengis.net/def/crs/EPSG/0/2154"));
    assert_eq!(c["extent"]["spatial"]["bbox"][0][3], 51.1);
    assert_problem(
        &app.get_json("/collections/NOPE:nope").await,
        404,
        "listed at /collections",
    );
}

#[tokio::test]
async fn items_are_passed_through_with_paging() {
    let app = app().await;
    let r = app
        .get(&format!("/collections/{COMMUNE}/items?limit=2"))
        .await;
    assert_eq!(
        r.headers()["content-crs"],
        "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    );
    let fc: Value = r.json().await.unwrap();
    assert_eq!(ids(&fc), ["commune.1", "commune.2"]);
    assert_eq!(fc["numberMatched"], 5);
    assert_eq!(fc["features"][0]["properties"]["population"], 5320);
    assert_eq!(
        fc["features"][0]["geometry_name"], "geometrie",
        "every member of a feature is kept"
    );
    let next = link(&fc, "next").unwrap();
    assert!(next.contains("offset=2"), "{next}");
    let r = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetFeature"))
        .unwrap();
    assert_eq!(r.query["COUNT"], "2");
    assert_eq!(r.query["STARTINDEX"], "0");
    assert_eq!(r.query["OUTPUTFORMAT"], "application/json");
    assert_eq!(r.query["SRSNAME"], "EPSG:4326");
    assert!(
        !r.query.contains_key("BBOX"),
        "never BBOX with a filter upstream"
    );
}

#[tokio::test]
async fn filters_reach_the_wfs_as_ecql() {
    let app = app().await;
    let (status, _, _) = app
        .get_json(&format!("/collections/{COMMUNE}/items?filter=((code_insee%20%3D%20%2729158%27)%20AND%20(population%20%3E%201000))&filter-lang=cql2-text"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        sent_filter(&app),
        "(code_insee = '29158') AND (population > 1000)"
    );
    // bbox folded into the filter, latitude first; a property parameter typed by the schema.
    app.get_json(&format!(
        "/collections/{COMMUNE}/items?bbox=-4.4,47.7,-4.2,47.9&population=5320"
    ))
    .await;
    assert_eq!(
        sent_filter(&app),
        "(INTERSECTS(geometrie, POLYGON((47.7 -4.4, 47.7 -4.2, 47.9 -4.2, 47.9 -4.4, 47.7 -4.4)))) AND (population = 5320)"
    );
    app.get_json(&format!(
        "/collections/{COMMUNE}/items?bbox=140000,6780000,150000,6790000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/2154"
    ))
    .await;
    assert_eq!(
        sent_filter(&app),
        "INTERSECTS(geometrie, SRID=2154;POLYGON((140000 6780000, 150000 6780000, 150000 6790000, 140000 6790000, 140000 6780000)))"
    );
    app.get_json(&format!("/collections/{COMMUNE}/items?code_insee=29158"))
        .await;
    assert_eq!(sent_filter(&app), "code_insee = '29158'");
    app.get_json(&format!(
        "/collections/{COMMUNE}/items?filter=S_INTERSECTS(geometry,%20POINT(-4.344%2047.813))"
    ))
    .await;
    assert_eq!(
        sent_filter(&app),
        "INTERSECTS(geometrie, POINT(47.813 -4.344))"
    );
}

#[tokio::test]
async fn bad_filters_and_parameters_are_400s() {
    let app = app().await;
    let cases = [
        ("filter=population%20%3E%3E%203", "filter", "at position 12"),
        (
            "filter=hauteur%20%3E%203",
            "filter",
            "\"hauteur\" is not a property of this collection",
        ),
        ("nom=x", "filter", "\"nom\" is not a property"),
        ("filter-lang=cql2-json&filter=x", "filter-lang", "cql2-text"),
        ("crs=EPSG:27572", "crs", "not offered"),
        (
            "bbox-crs=EPSG:27572&bbox=1,2,3,4",
            "bbox-crs",
            "not offered",
        ),
        ("bbox=1,2,3,95", "bbox", "outside -90..90"),
        ("bbox=1,2,3", "bbox", "4 or 6 numbers"),
        ("limit=-1", "limit", "at least 1"),
        ("offset=x", "offset", "0 or more"),
    ];
    for (query, param, needle) in cases {
        let got = app
            .get_json(&format!("/collections/{COMMUNE}/items?{query}"))
            .await;
        assert_problem(&got, 400, needle);
        assert_eq!(got.2["parameter"], param, "{query}");
    }
}

#[tokio::test]
async fn a_projected_crs_is_asked_upstream_and_announced() {
    let app = app().await;
    let r = app
        .get(&format!(
            "/collections/{COMMUNE}/items?crs=http://www.opengis.net/def/crs/EPSG/0/2154"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/2154>"
    );
    let sent = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.get("REQUEST").map(String::as_str) == Some("GetFeature"))
        .unwrap();
    assert_eq!(sent.query["SRSNAME"], "EPSG:2154");
}

#[tokio::test]
async fn queryables_come_from_the_schema() {
    let app = app().await;
    let r = app
        .http
        .get(app.url(&format!("/collections/{COMMUNE}/queryables")))
        .header("accept", "application/schema+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/schema+json");
    let q: Value = r.json().await.unwrap();
    assert_eq!(q["properties"]["population"]["type"], "integer");
    assert_eq!(q["properties"]["code_insee"]["type"], "string");
    assert_eq!(q["properties"]["date_du_recensement"]["format"], "date");
    assert_eq!(
        q["properties"]["geometrie"]["format"],
        "geometry-multipolygon"
    );
    // Fetched once, then cached.
    app.get_json(&format!("/collections/{COMMUNE}/queryables"))
        .await;
    let describes = app
        .fake
        .log()
        .iter()
        .filter(|r| r.query.get("REQUEST").map(String::as_str) == Some("DescribeFeatureType"))
        .count();
    assert_eq!(describes, 1);
}

#[tokio::test]
async fn one_item_and_upstream_exceptions() {
    let app = app().await;
    let (status, _, f) = app
        .get_json(&format!("/collections/{COMMUNE}/items/commune.2"))
        .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["properties"]["nom_officiel"], "Plomeur");
    let sent = app
        .fake
        .log()
        .into_iter()
        .rfind(|r| r.query.contains_key("RESOURCEID"))
        .unwrap();
    assert_eq!(sent.query["RESOURCEID"], "commune.2");
    assert_problem(
        &app.get_json(&format!("/collections/{COMMUNE}/items/commune.99"))
            .await,
        404,
        "commune.99",
    );
    // The fake knows no schema for batiment: its OWS exception comes back as a 400 with its text.
    let got = app
        .get_json("/collections/BDTOPO_V3:batiment/items?filter=hauteur%20%3E%203")
        .await;
    assert_problem(&got, 400, "Feature type BDTOPO_V3:batiment unknown");
}

/// The kiosk's page of a feature type lists its fields (from its schema), its CRS and extent.
#[tokio::test]
async fn a_feature_types_kiosk_page_lists_its_fields() {
    let app = app().await;
    let page = app.html(&format!("/catalog/{COMMUNE}?f=html")).await;
    assert!(page.contains("field(s)"), "{page}");
    for field in ["nom_officiel", "code_insee", "population", "geometrie"] {
        assert!(
            page.contains(&format!("<td>{field}</td>")),
            "{field} missing"
        );
    }
    assert!(page.contains("<td>CRS</td>"));
    // The JSON entry is unchanged: no schema fetched for it.
    app.fake.clear_log();
    let (status, _, _) = app.get_json(&format!("/catalog/{COMMUNE}")).await;
    assert_eq!(status, 200);
    assert_eq!(app.fake.count("/wfs"), 0);
}
