//! The WMS-Raster republished at `/wms`, over HTTP against the fake WMS-R.

mod support;

use support::{assert_problem, split, TestApp};

const ORTHO: &str = "ORTHOIMAGERY.ORTHOPHOTOS";

async fn app() -> TestApp {
    let app = TestApp::start().await;
    wait_for_wms(&app).await;
    app
}

async fn wait_for_wms(app: &TestApp) {
    for _ in 0..300 {
        if app
            .get("/wms?SERVICE=WMS&REQUEST=GetCapabilities")
            .await
            .status()
            == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the WMS capabilities never loaded");
}

fn get_maps(app: &TestApp) -> usize {
    app.fake
        .log()
        .iter()
        .filter(|r| {
            r.path == "/wms-r/wms" && r.query.get("REQUEST").map(String::as_str) == Some("GetMap")
        })
        .count()
}

fn map_query(layer: &str) -> String {
    format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:3857&BBOX=260000,6250000,270000,6260000&WIDTH=256&HEIGHT=256&FORMAT=image/png")
}

#[tokio::test]
async fn the_capabilities_name_only_the_gateway_for_operations() {
    // Its peer (loopback) is a trusted proxy, whose forwarded host counts below.
    let app = TestApp::start_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    wait_for_wms(&app).await;
    let r = app.get("/wms?service=wms&request=GetCapabilities").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("xml"));
    let xml = r.text().await.unwrap();
    let own = format!("{}/wms", app.base);
    assert!(
        !xml.contains("data.geopf.fr/wms-r"),
        "no operation or service link leads upstream"
    );
    assert_eq!(
        xml.matches(&format!("xlink:href=\"{own}\"")).count(),
        4,
        "the service and its three operations point at the gateway"
    );
    assert!(xml.contains(&format!("<Name>{ORTHO}</Name>")));
    assert!(
        xml.contains("https://data.geopf.fr/annexes/ressources/legendes/LEGEND.jpg"),
        "legends are static files, left where they are"
    );
    let layers = geopf_gateway::catalog::wms::parse_capabilities(&xml).unwrap();
    assert_eq!(layers.len(), 3);
    // Behind a proxy the same document names the proxy (the republished copy is kept per URL).
    let proxied = app
        .http
        .get(app.url("/wms?service=wms&request=GetCapabilities"))
        .header("X-Forwarded-Host", "maps.example.org")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(proxied.contains("xlink:href=\"http://maps.example.org/wms\""));
    assert!(!proxied.contains(&own));
    let again = app.get("/wms?service=wms&request=GetCapabilities").await;
    assert_eq!(again.text().await.unwrap(), xml);
}

#[tokio::test]
async fn get_map_is_cached_by_its_normalised_query() {
    let app = app().await;
    let first = app.get(&format!("/wms?{}", map_query(ORTHO))).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "image/png");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let body = first.bytes().await.unwrap();
    assert!(body.starts_with(b"\x89PNG"));
    assert!(String::from_utf8_lossy(&body).contains("260000,6250000,270000,6260000"));

    // The same map, keys in another case and order: served from the cache.
    let shuffled = format!("/wms?format=image/png&height=256&width=256&bbox=260000,6250000,270000,6260000&crs=EPSG:3857&styles=&layers={ORTHO}&request=GetMap&version=1.3.0&service=WMS");
    let again = app.get(&shuffled).await;
    assert_eq!(again.status(), 200);
    assert!(again.headers()["cache-status"]
        .to_str()
        .unwrap()
        .contains("hit"));
    assert_eq!(again.bytes().await.unwrap(), body);
    assert_eq!(get_maps(&app), 1, "one upstream GetMap for both");

    let revalidated = app
        .http
        .get(app.url(&format!("/wms?{}", map_query(ORTHO))))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn concurrent_identical_maps_make_one_upstream_request() {
    let app = app().await;
    let url = app.url(&format!("/wms?{}", map_query(ORTHO)));
    let requests = (0..8).map(|_| app.http.get(&url).send());
    for r in futures::future::join_all(requests).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(get_maps(&app), 1);
}

#[tokio::test]
async fn bad_get_maps_are_400s_naming_the_parameter() {
    let app = app().await;
    let cases = [
        (map_query("NOT.A.LAYER"), "LAYERS"),
        (map_query(ORTHO).replace("WIDTH=256", "WIDTH=0"), "WIDTH"),
        (
            map_query(ORTHO).replace("HEIGHT=256", "HEIGHT=99999"),
            "HEIGHT",
        ),
        (
            map_query(ORTHO).replace("BBOX=260000,6250000,270000,6260000", "BBOX=1,2,x,4"),
            "BBOX",
        ),
        (map_query(ORTHO).replace("&CRS=EPSG:3857", ""), "CRS"),
        (map_query(ORTHO).replace("image/png", "text/html"), "FORMAT"),
        (
            map_query(ORTHO).replace("GetMap", "DescribeLayer"),
            "REQUEST",
        ),
        (
            map_query(ORTHO).replace("SERVICE=WMS", "SERVICE=WFS"),
            "SERVICE",
        ),
    ];
    for (query, parameter) in cases {
        let got = split(app.get(&format!("/wms?{query}")).await).await;
        assert_problem(&got, 400, parameter);
    }
    assert_eq!(get_maps(&app), 0, "nothing invalid reaches the upstream");
}

#[tokio::test]
async fn an_upstream_exception_is_a_problem_with_its_message() {
    let app = app().await;
    // In the capabilities, but the fake WMS refuses it with a WMS exception report.
    let got = split(
        app.get(&format!("/wms?{}", map_query("SCAN25TOUR_PYR-JPEG_WLD_WM")))
            .await,
    )
    .await;
    assert_problem(&got, 400, "Layer unknown");
}

#[tokio::test]
async fn get_feature_info_is_passed_through_without_the_access_key() {
    let app = TestApp::start_with(|c| {
        c.auth.keys = vec![support::key("team", "s3cret-token", 50, 50)];
    })
    .await;
    let query = format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS={ORTHO}&QUERY_LAYERS={ORTHO}&STYLES=&CRS=EPSG:3857&BBOX=260000,6250000,270000,6260000&WIDTH=256&HEIGHT=256&I=10&J=20&INFO_FORMAT=text/plain&token=s3cret-token");
    let mut answer = None;
    for _ in 0..300 {
        let r = app.get(&format!("/wms?{query}")).await;
        if r.status() == 200 {
            answer = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let r = answer.expect("GetFeatureInfo answered");
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().await.unwrap(), format!("layer {ORTHO} at 10,20"));
    let sent: Vec<_> = app
        .fake
        .log()
        .into_iter()
        .filter(|r| r.path == "/wms-r/wms")
        .collect();
    assert!(!sent.is_empty());
    for r in sent {
        assert!(
            r.query.keys().all(|k| !k.eq_ignore_ascii_case("token")),
            "the gateway's access key never goes upstream: {:?}",
            r.query
        );
    }
}

#[test]
fn the_real_wms_r_capabilities_are_read_whole() {
    // The real document, as embedded in the binary (assets/catalog/SOURCES.md).
    let xml = geopf_gateway::catalog::embedded::WMS_RASTER.text().unwrap();
    let layers = geopf_gateway::catalog::wms::parse_capabilities(&xml).unwrap();
    // 309 Layer elements: the unnamed root and 308 named ones.
    let elements = xml.matches("<Layer>").count() + xml.matches("<Layer ").count();
    assert_eq!(elements, 309);
    assert_eq!(layers.len(), 308);
    let parcels = layers
        .iter()
        .find(|l| l.name == "CADASTRALPARCELS.PARCELLAIRE_EXPRESS")
        .unwrap();
    assert_eq!(parcels.title, "Parcellaire cadastral");
    assert!(parcels.queryable);
    assert!(parcels.styles.iter().any(|s| s.id == "PCI vecteur"));
    assert!(parcels.wgs84_bbox.is_some());
    assert!(layers.iter().all(|l| !l.title.is_empty()));
}

#[tokio::test]
async fn a_stale_map_beats_no_map_when_the_upstream_fails() {
    let app = TestApp::start_with(|c| {
        c.cache.ttl.insert("tiles".into(), 1);
        c.upstream.retries = 0;
    })
    .await;
    wait_for_wms(&app).await;
    let url = format!("/wms?{}", map_query(ORTHO));
    assert_eq!(app.get(&url).await.status(), 200);
    // Past its time to live (memory and disk), with the WMS down: the disk copy, marked stale.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    app.fake
        .fault("/wms-r", support::Fault::unavailable(), None);
    let r = app.get(&url).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["warning"].to_str().unwrap().starts_with("110"));
    assert_eq!(
        r.headers()["cache-status"],
        "geopf-gateway; hit; detail=stale-if-error"
    );
    // A map never fetched: a clear error.
    let other = map_query(ORTHO).replace("WIDTH=256", "WIDTH=300");
    assert_problem(
        &split(app.get(&format!("/wms?{other}")).await).await,
        502,
        "WMS",
    );
}
