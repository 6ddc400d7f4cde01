//! The real recorded Géoplateforme answers the demo replays (`assets/recordings/`, with their
//! provenance in its SOURCES.md), embedded in the binary, and how a request picks one: the
//! recording of the same path whose query parameters agree best (the rule of the project's
//! fake upstream, so the demo answers as the CI's checks expect).

use std::collections::HashMap;

use serde::Deserialize;

macro_rules! recording {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../assets/recordings/", $name)).as_slice(),
        )
    };
}

/// Every recorded answer, by its file name under `assets/recordings/`.
const FILES: &[(&str, &[u8])] = &[
    recording!("altimetrie/elevationLine_DOCS-EXAMPLE_accurate_sampling4.json"),
    recording!("altimetrie/elevationLine_DOCS-EXAMPLE_simple_sampling4.json"),
    recording!("altimetrie/elevation_1point.json"),
    recording!("altimetrie/elevation_DOCS-EXAMPLE_2points.json"),
    recording!("altimetrie/elevation_DOCS-EXAMPLE_2points.xml"),
    recording!("altimetrie/elevation_DOCS-EXAMPLE_lidarhd-test_measures.json"),
    recording!("altimetrie/elevation_DOCS-EXAMPLE_measures.json"),
    recording!("altimetrie/elevation_DOCS-EXAMPLE_zonly.json"),
    recording!("geocodage/LEGACY-wxs_completion_poi.jsonp"),
    recording!("geocodage/LEGACY-wxs_completion_streetaddress.jsonp"),
    recording!("geocodage/getCapabilities.json"),
    recording!("geocodage/getCapabilities_2026-08-11.json"),
    recording!("geocodage/reverse_address_limit10.json"),
    recording!("geocodage/reverse_address_limit5.json"),
    recording!("geocodage/reverse_address_type-city-filter.json"),
    recording!("geocodage/reverse_index-parcel-address_FEATURES-ONLY_envergo.json"),
    recording!("geocodage/reverse_poi_category-city-filter.json"),
    recording!("geocodage/reverse_poi_limit10.json"),
    recording!("geocodage/reverse_poi_postcode-filter.json"),
    recording!("geocodage/search_address_autocomplete_q-8-La-Bodini_histologe.json"),
    recording!("geocodage/search_address_housenumber_city-filter.json"),
    recording!("geocodage/search_address_montpellier_limit10.json"),
    recording!("geocodage/search_address_montpellier_limit5.json"),
    recording!("geocodage/search_poi_category-city-filter.json"),
    recording!("geocodage/search_poi_category-city-lonlat.json"),
    recording!("geocodage/search_poi_city-filter.json"),
    recording!("geocodage/search_poi_mairie_montpellier.json"),
    recording!("geocodage/search_poi_postcode-filter.json"),
    recording!("navigation/isochrone_car_1h_departure.json"),
    recording!("navigation/isochrone_car_30min_departure.json"),
    recording!("navigation/isochrone_pedestrian_1h_arrival.json"),
    recording!("navigation/isochrone_pedestrian_1h_departure.json"),
    recording!("navigation/isodistance_car_10000m_departure.json"),
    recording!("navigation/isodistance_car_10km_departure.json"),
    recording!("navigation/isodistance_pedestrian_10km_departure.json"),
    recording!("navigation/itineraire_car_fastest_hour_km.json"),
    recording!("navigation/itineraire_car_fastest_minute_km.json"),
    recording!("navigation/itineraire_car_fastest_minute_meter.json"),
    recording!("navigation/itineraire_car_shortest_minute_km.json"),
    recording!("navigation/itineraire_pedestrian_empty-optimization.json"),
    recording!("wfs/describefeaturetype_ELEVATION.CONTOUR.LINE_courbe.xsd"),
    recording!("wfs/describefeaturetype_LIMITES_ADMINISTRATIVES_EXPRESS.LATEST_commune.xsd"),
    recording!("wfs/error_400_describefeaturetype_unknown-type.xml"),
    recording!("wfs/getfeature_json_commune_ecql-filter_2025.json"),
    recording!("wfs/getfeature_json_empty_2025.json"),
];

/// What was asked for each recording (`assets/recordings/REQUESTS.json`).
const REQUESTS: &str = include_str!("../../assets/recordings/REQUESTS.json");

#[derive(Deserialize)]
struct Request {
    url: String,
    #[serde(default = "ok")]
    status: u16,
    content_type: Option<String>,
}

fn ok() -> u16 {
    200
}

/// One recorded answer and the request it answered.
pub struct Recording {
    pub name: &'static str,
    /// The upstream path, percent-decoded, without a trailing slash.
    pub path: String,
    /// The query parameters, keys in lower case.
    pub params: HashMap<String, String>,
    pub status: u16,
    pub content_type: String,
    pub body: &'static [u8],
}

impl Recording {
    /// The body as the upstream sends it today: a legacy JSONP recording is unwrapped, a recording
    /// that kept only the features array is put back in its FeatureCollection.
    pub fn answer(&self) -> Vec<u8> {
        let body = self.body.trim_ascii();
        if self.name.ends_with(".jsonp") {
            if let (Some(open), Some(close)) = (
                body.iter().position(|b| *b == b'('),
                body.iter().rposition(|b| *b == b')'),
            ) {
                return body[open + 1..close].to_vec();
            }
        }
        if body.first() == Some(&b'[') && self.name.starts_with("geocodage/") {
            return [br#"{"type":"FeatureCollection","features":"#, body, b"}"].concat();
        }
        self.body.to_vec()
    }
}

/// The recordings, indexed.
pub struct Recordings(Vec<Recording>);

impl Recordings {
    /// Reads the embedded index; a recording it does not describe is left out.
    pub fn load() -> Result<Recordings, String> {
        let index: HashMap<String, Request> = serde_json::from_str(REQUESTS)
            .map_err(|e| format!("assets/recordings/REQUESTS.json: {e}"))?;
        let mut all = Vec::with_capacity(FILES.len());
        for (name, body) in FILES {
            let Some(request) = index.get(*name) else {
                continue;
            };
            let (path, params) = parse_url(name, &request.url)?;
            all.push(Recording {
                name,
                path,
                params,
                status: request.status,
                content_type: request
                    .content_type
                    .clone()
                    .unwrap_or_else(|| content_type(name).to_string()),
                body,
            });
        }
        Ok(Recordings(all))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn named(&self, name: &str) -> Option<&Recording> {
        self.0.iter().find(|r| r.name == name)
    }

    /// The recording of `path` whose parameters agree best with `params`: +3 for a parameter
    /// recorded with the same value, −1 for one the request lacks or contradicts (blank recorded
    /// values do not count). The `fuzzy` parameter (a search text) scores ten per shared word
    /// instead. Returns the recording and, for `fuzzy`, how many words it shared.
    pub fn best(
        &self,
        path: &str,
        params: &HashMap<String, String>,
        fuzzy: Option<&str>,
    ) -> Option<(&Recording, usize)> {
        let mut best: Option<(&Recording, i64, usize)> = None;
        for r in self.0.iter().filter(|r| r.path == path) {
            let (mut score, mut shared) = (0i64, 0usize);
            for (key, value) in &r.params {
                if Some(key.as_str()) == fuzzy {
                    shared = words_shared(params.get(key).map_or("", String::as_str), value);
                    score += 10 * shared as i64;
                } else if !value.is_empty() {
                    // Agreeing counts, and so does lacking or contradicting a recorded value.
                    score += match params.get(key) {
                        Some(asked) if asked == value => 3,
                        _ => -1,
                    };
                }
            }
            if best.as_ref().is_none_or(|(_, s, _)| score > *s) {
                best = Some((r, score, shared));
            }
        }
        best.map(|(r, _, shared)| (r, shared))
    }
}

/// The path and parameters of a recorded URL ("https://…?a=b (note)"); the legacy completion
/// recordings stand for today's `/geocodage/completion` of their type.
fn parse_url(name: &str, url: &str) -> Result<(String, HashMap<String, String>), String> {
    let url = url.split(' ').next().unwrap_or_default();
    let url = if name.contains("LEGACY-wxs_completion") {
        let kind = if name.contains("poi") {
            "PositionOfInterest"
        } else {
            "StreetAddress"
        };
        format!("https://data.geopf.fr/geocodage/completion?type={kind}")
    } else {
        url.to_string()
    };
    let parsed = url::Url::parse(&url).map_err(|e| format!("{name}: {url}: {e}"))?;
    let path = percent_encoding::percent_decode_str(parsed.path())
        .decode_utf8_lossy()
        .trim_end_matches('/')
        .to_string();
    let params = parsed
        .query_pairs()
        .map(|(k, v)| (k.to_lowercase(), v.into_owned()))
        .collect();
    Ok((path, params))
}

/// The Content-Type of a recording whose headers were not recorded, by its extension.
fn content_type(name: &str) -> &'static str {
    if name.ends_with(".xml") || name.ends_with(".xsd") {
        "application/xml"
    } else {
        "application/json; charset=utf-8"
    }
}

/// How many words of `asked` begin a word of `recorded` (case and accents aside): "montp" counts
/// for "Montpellier", as an autocompletion types it. Words shorter than three letters ("de", "la",
/// a house number) count for nothing: "10 rue de la paix" shares nothing with "Mairie de
/// Montpellier".
pub fn words_shared(asked: &str, recorded: &str) -> usize {
    let recorded = words(recorded);
    words(asked)
        .iter()
        .filter(|w| w.chars().count() >= 3)
        .filter(|w| recorded.iter().any(|r| r.starts_with(w.as_str())))
        .count()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().map(fold).collect())
        .collect()
}

/// Lower case without the accents of French.
fn fold(c: char) -> char {
    match c.to_lowercase().next().unwrap_or(c) {
        'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' => 'i',
        'ô' | 'ö' => 'o',
        'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_recording_is_indexed() {
        let all = Recordings::load().expect("the index reads");
        assert_eq!(all.len(), FILES.len(), "REQUESTS.json describes every file");
    }

    #[test]
    fn the_recording_of_the_same_parameters_wins() {
        let all = Recordings::load().expect("the index reads");
        let asked: HashMap<String, String> = [("index", "poi"), ("limit", "10")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let (hit, _) = all.best("/geocodage/reverse", &asked, None).expect("a hit");
        assert!(
            hit.name.starts_with("geocodage/reverse_poi"),
            "{}",
            hit.name
        );
    }

    #[test]
    fn search_words_match_by_prefix_case_and_accents_aside() {
        assert_eq!(words_shared("montp", "Mairie de Montpellier"), 1);
        assert_eq!(
            words_shared(
                "Frêche MONTPELLIER",
                "1 Place Georges Freche 34000 Montpellier"
            ),
            2
        );
        assert_eq!(words_shared("Paris", "Mairie de Montpellier"), 0);
        assert_eq!(
            words_shared("10 rue de la paix", "Mairie de Montpellier"),
            0
        );
    }

    #[test]
    fn legacy_jsonp_is_served_as_json() {
        let all = Recordings::load().expect("the index reads");
        let jsonp = all
            .named("geocodage/LEGACY-wxs_completion_poi.jsonp")
            .expect("recorded");
        let body: serde_json::Value =
            serde_json::from_slice(&jsonp.answer()).expect("JSON once unwrapped");
        assert!(body.is_object());
    }
}
