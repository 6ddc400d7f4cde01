//! The catalogue as an OGC API – Records collection (`/collections/catalog`): records of every layer
//! with typed service links (as QGIS's MetaSearch reads them), ranked search, filters, one record,
//! the MetaSearch connection file; the feature collections beside it are unchanged.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{assert_problem, link, TestApp};

/// A gateway whose catalogue has loaded (the capabilities arrive in the background).
async fn app() -> TestApp {
    let app = TestApp::start().await;
    // Loaded: the WMTS and WMS layers merged, the WFS types in.
    for _ in 0..300 {
        let (_, _, ortho) = app
            .get_json("/collections/catalog/items/ORTHOIMAGERY.ORTHOPHOTOS")
            .await;
        let (_, _, wfs) = app
            .get_json("/collections/catalog/items?type=wfs&limit=1")
            .await;
        let (_, _, tms) = app
            .get_json("/collections/catalog/items?type=tms&limit=1")
            .await;
        if ortho["properties"]["formats"] == serde_json::json!(["WMTS", "WMS"])
            && wfs["numberMatched"].as_u64().unwrap_or(0) > 0
            && tms["numberMatched"].as_u64().unwrap_or(0) > 0
        {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the catalogue never loaded");
}

fn ids(doc: &Value) -> Vec<&str> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_catalogue_is_a_records_collection_beside_the_feature_collections() {
    let app = app().await;
    let (_, _, list) = app.get_json("/collections").await;
    let catalog = list["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "catalog")
        .expect("catalog is listed");
    assert_eq!(catalog["itemType"], "record");
    // The feature collections keep their type.
    assert!(list["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] != "catalog")
        .all(|c| c["itemType"] == "feature"));
    let (_, _, conformance) = app.get_json("/conformance").await;
    let classes = conformance["conformsTo"].to_string();
    assert!(classes.contains("ogcapi-records-1/1.0/conf/record-core"));
    assert!(classes.contains("ogcapi-records-1/1.0/conf/searchable-catalog"));
    let (_, _, q) = app.get_json("/collections/catalog/queryables").await;
    assert_eq!(
        q["properties"]["type"]["enum"],
        serde_json::json!(["wmts", "wms", "wfs", "tms"])
    );
}

#[tokio::test]
async fn a_search_ranks_the_main_layer_first_with_links_a_client_can_add() {
    let app = app().await;
    let (status, _, page) = app.get_json("/collections/catalog/items?q=ortho").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page)[0], "ORTHOIMAGERY.ORTHOPHOTOS");
    let record = &page["features"][0];
    assert_eq!(record["properties"]["type"], "dataset");
    assert_eq!(record["properties"]["title"], "Photographies aériennes");
    assert_eq!(record["geometry"]["type"], "Polygon");
    let links = record["links"].as_array().unwrap();
    let typed = |t: &str| {
        links
            .iter()
            .find(|l| l["type"] == t)
            .map(|l| l["href"].as_str().unwrap().to_string())
    };
    assert!(typed("OGC:WMTS")
        .unwrap()
        .ends_with("/wmts/1.0.0/WMTSCapabilities.xml"));
    assert!(typed("OGC:WMS").unwrap().contains("/wms?SERVICE=WMS"));
    assert!(links.iter().any(|l| l["templated"] == true
        && l["href"]
            .as_str()
            .unwrap()
            .contains("/tiles/ORTHOIMAGERY.ORTHOPHOTOS/{z}/{x}/{y}")));
    assert!(typed("application/x-qgis-layer-definition")
        .unwrap()
        .ends_with("/catalog/ORTHOIMAGERY.ORTHOPHOTOS.qlr"));
    // The theme is searched too: the cadastral parcels answer "cadastre", the featured one first.
    let (_, _, page) = app.get_json("/collections/catalog/items?q=cadastre").await;
    assert_eq!(ids(&page)[0], "CADASTRALPARCELS.PARCELLAIRE_EXPRESS");
    // The raster Plan IGN and the vector one (TMS), with the vector tiles' TileJSON.
    let (_, _, page) = app.get_json("/collections/catalog/items?q=plan,ign").await;
    assert_eq!(
        ids(&page)[..2],
        ["GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", "PLAN.IGN"]
    );
    let vector = &page["features"][1];
    assert_eq!(vector["properties"]["formats"], serde_json::json!(["TMS"]));
    assert!(vector["links"].as_array().unwrap().iter().any(|l| l["href"]
        .as_str()
        .unwrap()
        .ends_with("/tiles/PLAN.IGN/tilejson.json")));
}

#[tokio::test]
async fn filters_paging_and_one_record() {
    let app = app().await;
    let (_, _, wfs) = app.get_json("/collections/catalog/items?type=wfs").await;
    assert!(!ids(&wfs).is_empty());
    for f in wfs["features"].as_array().unwrap() {
        assert!(
            f["properties"]["formats"].to_string().contains("WFS"),
            "{f}"
        );
        assert!(f["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["type"] == "OGC:WFS"));
    }
    // A box in the Indian Ocean: only the layers whose extent reaches it.
    let (_, _, all) = app.get_json("/collections/catalog/items?limit=100").await;
    let (_, _, boxed) = app
        .get_json("/collections/catalog/items?limit=100&bbox=70,-40,71,-39")
        .await;
    assert!(
        boxed["numberMatched"].as_u64() < all["numberMatched"].as_u64(),
        "{boxed}"
    );
    let (_, _, page) = app.get_json("/collections/catalog/items?limit=2").await;
    assert_eq!(page["numberReturned"], 2);
    let next = link(&page, "next").expect("a next page");
    let second = app.follow(&next).await;
    assert_ne!(ids(&second)[0], ids(&page)[0]);
    let (status, _, one) = app
        .get_json("/collections/catalog/items/GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2")
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2");
    assert!(one["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["type"] == "OGC:WMTS"));
    assert_problem(
        &app.get_json("/collections/catalog/items/NOPE").await,
        404,
        "NOPE",
    );
    assert_problem(
        &app.get_json("/collections/catalog/items?type=kml").await,
        400,
        "type",
    );
    assert_problem(
        &app.get_json("/collections/catalog/items?theme=sky").await,
        400,
        "theme",
    );
    assert_problem(
        &app.get_json("/collections/catalog/items?colour=red").await,
        400,
        "colour",
    );
}

#[tokio::test]
async fn a_metasearch_connection_file() {
    let app = app().await;
    let r = app.get("/catalog/metasearch-connections.xml").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/xml");
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<qgsCSWConnections version=\"1.0\">"), "{xml}");
    assert!(xml.contains("catalog-type=\"OGC API - Records\""));
    assert!(xml.contains(&format!("url=\"{}/collections/catalog\"", app.base)));
}

#[tokio::test]
async fn the_kiosk_search_folds_accents_and_endings_best_first() {
    let app = app().await;
    let first = |doc: &Value| {
        doc["layers"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (_, _, doc) = app
        .get_json("/catalog.json?q=photographies%20aeriennes")
        .await;
    assert_eq!(first(&doc), "ORTHOIMAGERY.ORTHOPHOTOS", "{doc}");
    let (_, _, doc) = app.get_json("/catalog.json?q=Cadastrales").await;
    assert_eq!(first(&doc), "CADASTRALPARCELS.PARCELLAIRE_EXPRESS", "{doc}");
    let (_, _, doc) = app.get_json("/catalog.json?q=ortho").await;
    assert_eq!(first(&doc), "ORTHOIMAGERY.ORTHOPHOTOS");
    // The records answer the same, in the same order.
    let (_, _, records) = app
        .get_json("/collections/catalog/items?q=photographies%20aeriennes")
        .await;
    assert_eq!(ids(&records)[0], "ORTHOIMAGERY.ORTHOPHOTOS");
}
