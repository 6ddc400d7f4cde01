//! A fake Géoplateforme on loopback, answering GETs from `tests/fixtures` in the upstream's exact
//! format. Written on a raw socket so that faults (reset, truncated body, hang) are real ones.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// A POST's body (empty for a GET).
    pub body: Vec<u8>,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    /// Seconds since the epoch, with fractions.
    pub at: f64,
}

/// A failure to inject on requests whose path starts with `path_prefix`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status with a JSON body (and `Retry-After` if given).
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: String,
    },
    /// Close the connection with a TCP reset.
    Reset,
    /// Announce the full length, send half the body, close.
    Truncate,
    /// A 200 whose body is not JSON.
    Garbage,
    /// A 200 `image/png` whose body is an HTML error page.
    GarbageImage,
    /// Never answer.
    Hang,
    /// Answer normally after a delay.
    Slow(Duration),
}

impl Fault {
    /// The upstream is down: a 503 with an empty JSON body, no `Retry-After`.
    pub fn unavailable() -> Fault {
        Fault::Status {
            status: 503,
            retry_after: None,
            body: "{}".into(),
        }
    }
}

struct Rule {
    prefix: String,
    fault: Fault,
    times: Option<u32>,
}

#[derive(Default)]
struct State {
    log: Vec<Recorded>,
    rules: Vec<Rule>,
    bodies: HashMap<String, (u16, String, Vec<u8>)>,
    /// Requests being answered now, and the most there ever were at once, per path.
    in_flight: HashMap<String, usize>,
    peak_in_flight: HashMap<String, usize>,
    quotas: Vec<(String, u32)>,
    windows: HashMap<String, (u64, u32)>,
    blocked_until: HashMap<String, Instant>,
}

#[derive(Clone)]
pub struct FakeUpstream {
    port: u16,
    state: Arc<Mutex<State>>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let fake = FakeUpstream {
            port,
            state: Arc::new(Mutex::new(State::default())),
        };
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let f = f.clone();
                tokio::spawn(async move { f.serve_counted(socket).await });
            }
        });
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests received whose path starts with `prefix`.
    /// The first request the fake received for `path`.
    pub fn first_to(&self, path: &str) -> Recorded {
        self.log()
            .into_iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no request to {path}"))
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    pub fn fault(&self, prefix: &str, fault: Fault, times: Option<u32>) {
        self.state.lock().unwrap().rules.push(Rule {
            prefix: prefix.into(),
            fault,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Answers `path` with this status, content type and body instead of the fixtures.
    pub fn set_body(&self, path: &str, status: u16, content_type: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .bodies
            .insert(path.into(), (status, content_type.into(), body));
    }

    /// Enforces `limit` requests per clock second on paths starting with `prefix`, as the real
    /// service does: beyond it, 429 with Retry-After 5, and the API blocked for 5 s.
    pub fn enforce_quota(&self, prefix: &str, limit: u32) {
        self.state
            .lock()
            .unwrap()
            .quotas
            .push((prefix.into(), limit));
    }

    /// The most requests on `prefix` seen within one clock second.
    /// The most requests for `path` the fake was answering at the same time.
    pub fn peak_in_flight(&self, path: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.peak_in_flight.get(path).copied().unwrap_or(0)
    }

    pub fn max_per_second(&self, prefix: &str) -> usize {
        let mut per: HashMap<u64, usize> = HashMap::new();
        for r in self.log().iter().filter(|r| r.path.starts_with(prefix)) {
            *per.entry(r.at as u64).or_default() += 1;
        }
        per.values().copied().max().unwrap_or(0)
    }

    /// Serves one connection, counting it in flight (by path) while it is answered.
    async fn serve_counted(&self, socket: TcpStream) {
        let mut peek = [0u8; 2048];
        let n = socket.peek(&mut peek).await.unwrap_or(0);
        let path = String::from_utf8_lossy(&peek[..n])
            .split(' ')
            .nth(1)
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        {
            let mut st = self.state.lock().unwrap();
            let now = st.in_flight.entry(path.clone()).or_default();
            *now += 1;
            let now = *now;
            let peak = st.peak_in_flight.entry(path.clone()).or_default();
            *peak = (*peak).max(now);
        }
        self.serve(socket).await;
        let mut st = self.state.lock().unwrap();
        if let Some(now) = st.in_flight.get_mut(&path) {
            *now -= 1;
        }
    }

    async fn serve(&self, mut socket: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("").to_string();
        let method = request_line.split(' ').next().unwrap_or("GET").to_string();
        let target = request_line.split(' ').nth(1).unwrap_or("/").to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut request_body = buf[head_end..].to_vec();
        while request_body.len() < length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request_body.extend_from_slice(&chunk[..n]),
            }
        }
        let url = url::Url::parse(&format!("http://fake{target}")).unwrap();
        let path = url.path().to_string();
        let query: HashMap<String, String> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();

        let if_none_match = headers.get("if-none-match").cloned();
        let (fault, quota_hit) = {
            let mut st = self.state.lock().unwrap();
            st.log.push(Recorded {
                method: method.clone(),
                body: request_body.clone(),
                path: path.clone(),
                query: query.clone(),
                headers,
                at: now_s(),
            });
            let quota_hit = Self::quota_hit(&mut st, &path);
            let mut fault = None;
            if let Some(rule) = st
                .rules
                .iter_mut()
                .find(|r| path.starts_with(&r.prefix) && r.times != Some(0))
            {
                if let Some(t) = rule.times.as_mut() {
                    *t -= 1;
                }
                fault = Some(rule.fault.clone());
            }
            (fault, quota_hit)
        };
        if quota_hit {
            let _ = respond(
                &mut socket,
                429,
                "application/json",
                br#"{"message":"API rate limit exceeded"}"#,
                &[("Retry-After", "5")],
            )
            .await;
            return;
        }
        let (status, ctype, body) = if method == "POST" {
            post_route(&path, &request_body)
        } else {
            self.route(&path, &query)
        };
        match fault {
            // Capabilities carry an ETag, and a request naming it gets an empty 304, as GeoServer
            // and ROK4 behind Kong answer a conditional GET.
            None if is_capabilities(&query) && status == 200 => {
                let etag = format!(
                    "\"{:x}-{}\"",
                    body.len(),
                    body.iter().map(|b| u64::from(*b)).sum::<u64>()
                );
                if if_none_match.as_deref() == Some(etag.as_str()) {
                    let _ = respond(&mut socket, 304, &ctype, b"", &[("ETag", &etag)]).await;
                } else {
                    let _ = respond(&mut socket, status, &ctype, &body, &[("ETag", &etag)]).await;
                }
            }
            None => {
                let _ = respond(&mut socket, status, &ctype, &body, &[]).await;
            }
            Some(Fault::Status {
                status,
                retry_after,
                body,
            }) => {
                let ra = retry_after.map(|r| r.to_string());
                let extra: Vec<(&str, &str)> =
                    ra.iter().map(|r| ("Retry-After", r.as_str())).collect();
                let _ = respond(
                    &mut socket,
                    status,
                    "application/json",
                    body.as_bytes(),
                    &extra,
                )
                .await;
            }
            Some(Fault::Reset) => {
                // Linger 0 makes the close a TCP reset; nothing is left to flush, so it cannot block.
                #[allow(deprecated)]
                let _ = socket.set_linger(Some(Duration::ZERO));
                drop(socket);
            }
            Some(Fault::Truncate) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body[..body.len() / 2]).await;
                let _ = socket.shutdown().await;
            }
            Some(Fault::Garbage) => {
                let _ = respond(
                    &mut socket,
                    200,
                    "application/json",
                    b"{\"type\":\"Feat\x00\xff",
                    &[],
                )
                .await;
            }
            Some(Fault::GarbageImage) => {
                let _ = respond(
                    &mut socket,
                    200,
                    "image/png",
                    b"<html><body>Service temporarily unavailable</body></html>",
                    &[],
                )
                .await;
            }
            Some(Fault::Hang) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Some(Fault::Slow(d)) => {
                tokio::time::sleep(d).await;
                let _ = respond(&mut socket, status, &ctype, &body, &[]).await;
            }
        }
    }

    fn quota_hit(st: &mut State, path: &str) -> bool {
        let Some((prefix, limit)) = st
            .quotas
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()))
            .cloned()
        else {
            return false;
        };
        if st
            .blocked_until
            .get(&prefix)
            .is_some_and(|until| *until > Instant::now())
        {
            return true;
        }
        let second = now_s() as u64;
        let window = st.windows.entry(prefix.clone()).or_insert((second, 0));
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 += 1;
        if window.1 > limit {
            st.blocked_until
                .insert(prefix, Instant::now() + Duration::from_secs(5));
            return true;
        }
        false
    }

    /// The fixture answering a request, as the real service would pick its answer.
    fn route(&self, path: &str, query: &HashMap<String, String>) -> (u16, String, Vec<u8>) {
        if let Some((s, c, b)) = self.state.lock().unwrap().bodies.get(path).cloned() {
            return (s, c, b);
        }
        let json = "application/json; charset=utf-8".to_string();
        if path.starts_with("/wfs") {
            return wfs(query);
        }
        if path == "/tms/1.0.0" {
            let body = std::fs::read(fixtures().join("tms/capabilities.xml")).unwrap();
            return (200, "text/xml".into(), body);
        }
        if path == "/wmts" {
            return wmts(query);
        }
        if path.starts_with("/wms-r") {
            return wms(query);
        }
        let index = query.get("index").map(String::as_str).unwrap_or("address");
        let file = match path.trim_end_matches('/') {
            "/geocodage/search" => {
                if query.get("q").is_none() && index != "parcel" {
                    let body = br#"{"code":400,"message":"Failed parsing query","detail":["q: required param"]}"#;
                    return (400, json, body.to_vec());
                }
                match index {
                    "poi" => "search_poi.json",
                    "parcel" => "search_parcel.json",
                    _ if query
                        .get("q")
                        .is_some_and(|q| q.to_lowercase().contains("bodini")) =>
                    {
                        "search_address_2026.json"
                    }
                    _ => "search_address.json",
                }
            }
            "/geocodage/reverse" => match index {
                "poi" => "reverse_poi.json",
                _ => "reverse_address.json",
            },
            "/geocodage/completion" => "completion.json",
            "/geocodage/getCapabilities" => "getCapabilities.json",
            "/navigation/getcapabilities" => "../navigation/getcapabilities.json",
            "/navigation/itineraire" => "../navigation/itineraire.json",
            "/navigation/isochrone" => "../navigation/isochrone.json",
            "/altimetrie/1.0/calcul/alti/rest/elevation.json" => {
                return (200, json, elevations(query))
            }
            "/altimetrie/1.0/calcul/alti/rest/elevationLine.json" => {
                "../altimetrie/elevationLine.json"
            }
            // The Recherche index answers any text with its documented example.
            "/recherche/api/indexes/geoplateforme/suggest" => "../recherche/suggest_bd-topo.json",
            _ => return (404, json, br#"{"code":404,"message":"Not Found"}"#.to_vec()),
        };
        let body = std::fs::read(fixtures().join("geocodage").join(file)).unwrap();
        (200, json, body)
    }
}

/// POSTs: the CSV batch search answers each line of its input with coordinates and a score added,
/// as the address API's `/search/csv` does; the Recherche index search its documented example
/// (whatever the filters, if the body is JSON); any other POST is a 404.
fn post_route(path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    if path.starts_with("/altimetrie/") {
        // The same keys as the GET's, as JSON strings.
        let Ok(serde_json::Value::Object(keys)) = serde_json::from_slice(body) else {
            return (
                400,
                "application/json".into(),
                br#"{"error":"the body is not JSON"}"#.to_vec(),
            );
        };
        let query: HashMap<String, String> = keys
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
            .collect();
        return match path {
            "/altimetrie/1.0/calcul/alti/rest/elevation.json" => {
                (200, "application/json".into(), elevations(&query))
            }
            _ => (
                200,
                "application/json".into(),
                std::fs::read(fixtures().join("altimetrie/elevationLine.json")).unwrap(),
            ),
        };
    }
    if path == "/recherche/api/indexes/geoplateforme" {
        if serde_json::from_slice::<serde_json::Value>(body).is_err() {
            return (
                400,
                "application/json".into(),
                br#"{"error":"the body is not JSON"}"#.to_vec(),
            );
        }
        let body = std::fs::read(fixtures().join("recherche/search_geoplateforme.json")).unwrap();
        return (200, "application/json".into(), body);
    }
    if path != "/geocodage/search/csv" {
        return (
            404,
            "application/json".into(),
            br#"{"message":"no POST here"}"#.to_vec(),
        );
    }
    search_csv(body)
}

/// `POST /geocodage/search/csv` as the geocoder's OpenAPI describes it: a multipart form with the
/// file as `data` and the searched `columns`; the answer is the file with the result columns added
/// (every searched row found at one place, rows with nothing to search skipped).
fn search_csv(body: &[u8]) -> (u16, String, Vec<u8>) {
    let bad = |why: &str| {
        (
            400,
            "application/json".into(),
            format!(r#"{{"code":400,"message":"{why}"}}"#).into_bytes(),
        )
    };
    let text = String::from_utf8_lossy(body);
    let Some(boundary) = text.lines().next().filter(|l| l.starts_with("--")) else {
        return bad("not a multipart form");
    };
    let mut data = None;
    let mut columns = Vec::new();
    for part in text.split(boundary).skip(1) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value).to_string();
        if head.contains("name=\"data\"") {
            data = Some(value);
        } else if head.contains("name=\"columns\"") {
            columns.push(value);
        }
    }
    let Some(data) = data else {
        return bad("Impossible de lire le fichier CSV");
    };
    // The most frequent of the usual delimiters in the header, a comma when it has none.
    let first_line = data.lines().next().unwrap_or("");
    let delimiter = [',', ';', '\t', '|']
        .into_iter()
        .rev()
        .max_by_key(|d| first_line.matches(*d).count())
        .unwrap();
    let mut lines = data.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(delimiter).collect();
    let searched: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| columns.is_empty() || columns.iter().any(|c| c == *h))
        .map(|(i, _)| i)
        .collect();
    let d = delimiter.to_string();
    let mut out = format!("{}{d}latitude{d}longitude{d}result_label{d}result_score{d}result_type{d}result_id{d}result_status\n", header.join(&d));
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(delimiter).collect();
        let q: Vec<&str> = searched
            .iter()
            .filter_map(|i| fields.get(*i))
            .copied()
            .filter(|s| !s.trim().is_empty())
            .collect();
        if q.is_empty() {
            out.push_str(&format!("{line}{d}{d}{d}{d}{d}{d}{d}skipped\n"));
        } else {
            out.push_str(&format!(
                "{line}{d}43.6{d}3.88{d}{}{d}0.9{d}housenumber{d}bulk_{}{d}ok\n",
                q.join(" "),
                q.join("_").replace(' ', "_")
            ));
        }
    }
    (200, "text/csv; charset=utf-8".into(), out.into_bytes())
}

/// The WMTS: capabilities, and for GetTile a tiny PNG (or JPEG) naming the tile in its bytes, so
/// every tile differs; an OWS exception for anything else.
fn wmts(query: &HashMap<String, String>) -> (u16, String, Vec<u8>) {
    let get = |k: &str| param(query, k);
    match get("REQUEST") {
        "GetCapabilities" => (200, "application/xml".into(), std::fs::read(fixtures().join("wmts/capabilities.xml")).unwrap()),
        "GetTile" => {
            // The signature of the format asked for, as the real service's tiles start.
            let mut body = if get("FORMAT") == "image/jpeg" {
                b"\xff\xd8\xff\xe0".to_vec()
            } else {
                b"\x89PNG\r\n\x1a\n".to_vec()
            };
            body.extend(format!("{} {} {} {}", get("LAYER"), get("TILEMATRIX"), get("TILEROW"), get("TILECOL")).bytes());
            (200, get("FORMAT").to_string(), body)
        }
        _ => (400, "application/xml".into(), b"<ows:ExceptionReport><ows:Exception><ows:ExceptionText>unsupported</ows:ExceptionText></ows:Exception></ows:ExceptionReport>".to_vec()),
    }
}

/// A query parameter, its key in any case ("" when absent), as the OGC services read them.
fn param<'a>(query: &'a HashMap<String, String>, key: &str) -> &'a str {
    query
        .iter()
        .find(|(q, _)| q.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn is_capabilities(query: &HashMap<String, String>) -> bool {
    query.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("request") && v.eq_ignore_ascii_case("GetCapabilities")
    })
}

/// The WMS-R: capabilities; GetMap a tiny PNG naming the layers and bbox in its bytes;
/// GetFeatureInfo a line of text; an OWS exception (status 400, as ROK4) for anything else.
fn wms(query: &HashMap<String, String>) -> (u16, String, Vec<u8>) {
    let get = |k: &str| param(query, k);
    let exception = |text: &str| {
        let body = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><ServiceExceptionReport version="1.3.0" xmlns="http://www.opengis.net/ogc"><ServiceException code="InvalidParameterValue">{text}</ServiceException></ServiceExceptionReport>"#
        );
        (400, "text/xml".to_string(), body.into_bytes())
    };
    match get("REQUEST").to_ascii_lowercase().as_str() {
        "getcapabilities" => (
            200,
            "text/xml; charset=UTF-8".into(),
            std::fs::read(fixtures().join("wms-r/capabilities.xml")).unwrap(),
        ),
        "getmap"
            if get("LAYERS").starts_with("ORTHOIMAGERY")
                || get("LAYERS").starts_with("CADASTRAL") =>
        {
            let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
            body.extend(
                format!(
                    "{} {} {}x{}",
                    get("LAYERS"),
                    get("BBOX"),
                    get("WIDTH"),
                    get("HEIGHT")
                )
                .bytes(),
            );
            (200, get("FORMAT").to_string(), body)
        }
        "getmap" => exception("Layer unknown"),
        "getfeatureinfo" => (
            200,
            "text/plain".into(),
            format!("layer {} at {},{}", get("QUERY_LAYERS"), get("I"), get("J")).into_bytes(),
        ),
        _ => exception("Request unsupported"),
    }
}

/// The WFS: capabilities, the commune schema, its features (any other type: an OWS exception).
fn wfs(query: &HashMap<String, String>) -> (u16, String, Vec<u8>) {
    let get = |k: &str| param(query, k);
    let read = |f: &str| std::fs::read(fixtures().join("wfs").join(f)).unwrap();
    let xml = "application/xml".to_string();
    let commune = get("TYPENAMES") == "LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune";
    match get("REQUEST") {
        "GetCapabilities" => (200, xml, read("capabilities.xml")),
        "DescribeFeatureType" if commune => (200, xml, read("describe_commune.xsd")),
        "GetFeature" if commune => (
            200,
            "application/json;charset=UTF-8".into(),
            read("getfeature_commune.json"),
        ),
        _ => (400, xml, read("exception_unknown_type.xml")),
    }
}

/// The altimetry answer for the requested points, in the service's format: a made-up but
/// deterministic height per point, and its "no data" value (-99999) west of 20°W (the ocean).
fn elevations(query: &HashMap<String, String>) -> Vec<u8> {
    let delimiter = query.get("delimiter").map(String::as_str).unwrap_or("|");
    let split = |k: &str| -> Vec<f64> {
        query
            .get(k)
            .map(|v| v.split(delimiter).filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    };
    let (lons, lats) = (split("lon"), split("lat"));
    let items: Vec<String> = lons
        .iter()
        .zip(&lats)
        .map(|(lon, lat)| {
            let z = if *lon < -20.0 { -99999.0 } else { ((lat * 7.0 + lon * 3.0) * 100.0).round() / 100.0 };
            format!(r#"{{"lon": {lon}, "lat": {lat}, "z": {z}, "acc": "Variable suivant la source de mesure"}}"#)
        })
        .collect();
    format!(r#"{{"elevations": [{}]}}"#, items.join(", ")).into_bytes()
}

async fn respond(
    socket: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.shutdown().await
}
