//! The catalogue: every layer the Géoplateforme offers through the gateway in one searchable
//! list — the WMTS basemaps (merged with the WMS-R layer of the same identifier), the WMS-R-only
//! layers, the WFS feature types, the TMS vector tile layers — rebuilt only when one of the
//! capabilities documents changes.

use std::sync::{Arc, RwLock};

use super::{basemaps::Basemaps, tms::TmsService, wfs::WfsService, wms::WmsService};
use crate::{
    catalog::{tms::TmsLayer, wfs::FeatureType, wms::WmsLayer, wmts::WmtsLayer},
    geo::Bbox,
};

/// One layer of the catalogue and the services offering it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub abstract_: String,
    pub keywords: Vec<String>,
    pub theme: &'static str,
    pub bbox: Option<Bbox>,
    pub wmts: Option<WmtsLayer>,
    pub wms: Option<WmsLayer>,
    pub wfs: Option<FeatureType>,
    pub tms: Option<TmsLayer>,
    /// Legends are served through the gateway's mirror (`/geopf/annexes/…`).
    legends_mirrored: bool,
    /// Id, title, abstract and keywords folded (see [`fold`]), for search.
    text: String,
}

impl Entry {
    fn new(
        id: &str,
        title: &str,
        abstract_: &str,
        keywords: &[String],
        bbox: Option<Bbox>,
    ) -> Self {
        let text = fold(&format!("{id} {title} {abstract_} {}", keywords.join(" ")));
        Entry {
            id: id.to_string(),
            title: title.to_string(),
            abstract_: abstract_.to_string(),
            keywords: keywords.to_vec(),
            theme: theme(id, keywords),
            bbox,
            wmts: None,
            wms: None,
            wfs: None,
            tms: None,
            legends_mirrored: false,
            text,
        }
    }

    /// `wmts`, `wms`, `wfs`, `tms`: the services offering this layer.
    pub fn services(&self) -> Vec<&'static str> {
        [
            (self.wmts.is_some(), "wmts"),
            (self.wms.is_some(), "wms"),
            (self.wfs.is_some(), "wfs"),
            (self.tms.is_some(), "tms"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// Served as XYZ tiles (a WMTS layer on a WebMercator matrix set).
    pub fn xyz(&self) -> Option<&WmtsLayer> {
        self.wmts.as_ref().filter(|l| l.is_xyz())
    }

    /// The default style's legend, from the WMTS or else the WMS.
    pub fn legend_url(&self) -> Option<String> {
        let styles = self
            .wmts
            .as_ref()
            .map(|l| &l.styles)
            .or(self.wms.as_ref().map(|l| &l.styles))?;
        styles
            .iter()
            .find(|s| s.is_default)
            .or(styles.first())
            .and_then(|s| s.legend_url.clone())
    }

    /// How well the layer answers `words` (lower case): a featured basemap first, then, word by
    /// word, a whole part of the identifier, the start of one, the theme's name, a word of the
    /// title, the title, the keywords, and last the abstract. Higher is better.
    pub fn score(&self, words: &[String]) -> u32 {
        let featured = if FEATURED.contains(&self.id.as_str()) {
            1000
        } else {
            0
        };
        let id = fold(&self.id);
        let parts: Vec<&str> = id.split(['.', '_', ':', '-', ' ']).collect();
        let title = fold(&self.title);
        let title_words: Vec<&str> = title.split(|c: char| !c.is_alphanumeric()).collect();
        words
            .iter()
            .map(|w| {
                let w = w.as_str();
                if parts.contains(&w) {
                    100
                } else if parts.iter().any(|p| p.starts_with(w)) {
                    60
                } else if self.theme.starts_with(w) {
                    50
                } else if title_words.iter().any(|t| t.starts_with(w)) {
                    40
                } else if title.contains(w) {
                    20
                } else if self.keywords.iter().any(|k| fold(k).contains(w)) {
                    10
                } else {
                    1
                }
            })
            .sum::<u32>()
            + featured
    }

    /// The legend's path through the gateway (its cache, available offline once seen), when the
    /// mirror leads to the Géoplateforme's annexes where legends are published.
    pub fn legend_gateway_path(&self) -> Option<String> {
        const PUBLISHED: &str = "https://data.geopf.fr/annexes/";
        let url = self.legend_url()?;
        let rest = url
            .strip_prefix(PUBLISHED)
            .filter(|_| self.legends_mirrored)?;
        Some(format!("/geopf/annexes/{rest}"))
    }

    /// Every word of `words` (lower case) in the text, and the theme and service asked for.
    pub fn matches(&self, words: &[String], theme: Option<&str>, service: Option<&str>) -> bool {
        theme.is_none_or(|t| self.theme == t)
            && service.is_none_or(|s| self.services().contains(&s))
            && words
                .iter()
                .all(|w| self.text.contains(w.as_str()) || self.theme.starts_with(w))
    }
}

/// `text` for search: lower case, French accents and ligatures taken off (`Aériennes` →
/// `aeriennes`, `œ` → `oe`).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' | 'ì' => out.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ÿ' | 'ý' => out.push('y'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            other => out.push(other),
        }
    }
    out
}

/// The search terms of a query: its words (spaces or commas between them) folded, and reduced
/// to a stem by a light French/English stemmer (plural and adjective endings), so that
/// "cadastre" finds "cadastrales" and "parcelles" "parcellaire". A term matches a layer whose
/// text holds it.
pub fn search_terms(query: &str) -> Vec<String> {
    const ENDINGS: [&str; 10] = [
        "ements", "ement", "ations", "ation", "ales", "aux", "ale", "es", "e", "s",
    ];
    fold(query)
        .split([' ', ',', '\t'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            ENDINGS
                .iter()
                .find_map(|end| w.strip_suffix(end).filter(|stem| stem.chars().count() >= 4))
                .unwrap_or(w)
                .to_string()
        })
        .collect()
}

/// The entries matching `words`, best first: by [`Entry::score`], then the shorter identifier
/// (the main layer before its variants: ORTHOIMAGERY.ORTHOPHOTOS before
/// ORTHOIMAGERY.ORTHOPHOTOS.BDORTHO), then the catalogue's order.
pub fn ranked<'a>(entries: impl Iterator<Item = &'a Entry>, words: &[String]) -> Vec<&'a Entry> {
    let mut found: Vec<(u32, &Entry)> = entries.map(|e| (e.score(words), e)).collect();
    if !words.is_empty() {
        found.sort_by(|(a, ea), (b, eb)| b.cmp(a).then(ea.id.len().cmp(&eb.id.len())));
    }
    found.into_iter().map(|(_, e)| e).collect()
}

/// The most used basemaps: offered as XYZ connections by default, and first in a search they
/// match.
pub const FEATURED: [&str; 3] = [
    "GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2",
    "ORTHOIMAGERY.ORTHOPHOTOS",
    "CADASTRALPARCELS.PARCELLAIRE_EXPRESS",
];

/// Every theme a layer can have.
pub const THEMES: [&str; 12] = [
    "ortho",
    "cadastre",
    "maps",
    "administrative",
    "elevation",
    "transport",
    "hydrography",
    "land cover",
    "topography",
    "environment",
    "energy",
    "other",
];

/// The theme of a layer, from its identifier's prefix, else its keywords.
pub fn theme(id: &str, keywords: &[String]) -> &'static str {
    const BY_PREFIX: [(&str, &[&str]); 11] = [
        (
            "ortho",
            &["ORTHOIMAGERY", "HR.ORTHOIMAGERY", "PVA", "RAPIDEYE"],
        ),
        (
            "cadastre",
            &["CADASTRALPARCELS", "CADASTRAL", "CADASTRE", "BDPARCELLAIRE"],
        ),
        ("maps", &["GEOGRAPHICALGRIDSYSTEMS", "SCAN", "PLAN"]),
        (
            "administrative",
            &[
                "ADMINEXPRESS",
                "LIMITES_ADMINISTRATIVES",
                "ADMINISTRATIVEUNITS",
                "COMMUNES",
            ],
        ),
        ("elevation", &["ELEVATION", "ALTI", "RGEALTI", "BDALTI"]),
        (
            "transport",
            &[
                "TRANSPORTNETWORK",
                "TRANSPORTS",
                "ROUTES",
                "SECUROUT",
                "LGV",
            ],
        ),
        (
            "hydrography",
            &["HYDROGRAPHY", "HYDRO", "VIGICRUES", "VIGINOND"],
        ),
        (
            "land cover",
            &["LANDCOVER", "OCSGE", "OCS-", "LANDUSE", "RPG"],
        ),
        ("topography", &["BDTOPO", "BDCARTO", "BUILDINGS"]),
        ("environment", &["PROTECTEDAREAS", "PATRINAT", "OFB"]),
        (
            "energy",
            &["ENR", "POTENTIEL", "PRODUCTIBLE", "GAZ", "PUISSANCE"],
        ),
    ];
    let upper = id.to_ascii_uppercase();
    if let Some((theme, _)) = BY_PREFIX
        .iter()
        .find(|(_, prefixes)| prefixes.iter().any(|p| upper.starts_with(p)))
    {
        return theme;
    }
    let words = keywords.join(" ").to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| words.contains(n));
    if has(&["ortho", "photograph"]) {
        "ortho"
    } else if has(&["cadastr", "parcel"]) {
        "cadastre"
    } else if has(&["altitude", "relief", "élévation"]) {
        "elevation"
    } else if has(&["administrati", "commune"]) {
        "administrative"
    } else {
        "other"
    }
}

/// The three lists an index was built from (held, so that their identity cannot be reused by a
/// later list).
type Sources = (
    Arc<Vec<WmtsLayer>>,
    Arc<Vec<WmsLayer>>,
    Arc<Vec<FeatureType>>,
    Arc<Vec<TmsLayer>>,
);

pub struct Catalogue {
    basemaps: Arc<Basemaps>,
    wms: Arc<WmsService>,
    wfs: Arc<WfsService>,
    tms: Arc<TmsService>,
    /// The mirror leads to `annexes` (where the legends are).
    legends_mirrored: bool,
    built: RwLock<Option<(Sources, Arc<Vec<Entry>>)>>,
}

impl Catalogue {
    pub fn new(
        basemaps: Arc<Basemaps>,
        wms: Arc<WmsService>,
        wfs: Arc<WfsService>,
        tms: Arc<TmsService>,
        legends_mirrored: bool,
    ) -> Self {
        Catalogue {
            basemaps,
            wms,
            wfs,
            tms,
            legends_mirrored,
            built: RwLock::new(None),
        }
    }

    /// Every entry: WMTS layers in document order, then WMS-only layers, WFS types, TMS layers.
    pub fn entries(&self) -> Arc<Vec<Entry>> {
        let sources = (
            self.basemaps.layers(),
            self.wms.layers(),
            self.wfs.types(),
            self.tms.layers(),
        );
        if let Some(((a, b, c, d), entries)) =
            &*self.built.read().unwrap_or_else(|e| e.into_inner())
        {
            if Arc::ptr_eq(a, &sources.0)
                && Arc::ptr_eq(b, &sources.1)
                && Arc::ptr_eq(c, &sources.2)
                && Arc::ptr_eq(d, &sources.3)
            {
                return entries.clone();
            }
        }
        let mut entries = build(&sources.0, &sources.1, &sources.2, &sources.3);
        for e in &mut entries {
            e.legends_mirrored = self.legends_mirrored;
        }
        let entries = Arc::new(entries);
        *self.built.write().unwrap_or_else(|e| e.into_inner()) = Some((sources, entries.clone()));
        entries
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        self.entries().iter().find(|e| e.id == id).cloned()
    }
}

fn build(
    wmts: &[WmtsLayer],
    wms: &[WmsLayer],
    wfs: &[FeatureType],
    tms: &[TmsLayer],
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = wmts
        .iter()
        .map(|l| {
            let mut e = Entry::new(&l.id, &l.title, &l.abstract_, &l.keywords, l.wgs84_bbox);
            e.wmts = Some(l.clone());
            e
        })
        .collect();
    let mut index: std::collections::HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    for l in wms {
        match index.get(&l.name) {
            Some(i) => entries[*i].wms = Some(l.clone()),
            None => {
                let mut e = Entry::new(&l.name, &l.title, &l.abstract_, &l.keywords, l.wgs84_bbox);
                e.wms = Some(l.clone());
                index.insert(l.name.clone(), entries.len());
                entries.push(e);
            }
        }
    }
    for t in wfs {
        let mut e = Entry::new(&t.name, &t.title, &t.abstract_, &t.keywords, t.wgs84_bbox);
        e.wfs = Some(t.clone());
        entries.push(e);
    }
    for l in tms {
        let kind = if l.is_vector() {
            "vector tiles"
        } else {
            "tiles"
        };
        let keywords = vec![kind.to_string(), "TMS".to_string()];
        let about = format!("{} ({kind}, TMS)", l.title);
        let mut e = Entry::new(&l.id, &l.title, &about, &keywords, None);
        e.tms = Some(l.clone());
        entries.push(e);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_fold_accents_and_endings() {
        assert_eq!(
            search_terms("Photographies Aériennes"),
            ["photographi", "aerienn"]
        );
        assert_eq!(search_terms("cadastre,parcelles"), ["cadastr", "parcell"]);
        assert_eq!(search_terms("plan ign"), ["plan", "ign"]);
        assert_eq!(fold("Œuvre Ça"), "oeuvre ca");
    }

    #[test]
    fn every_theme_given_is_listed() {
        for id in ["ORTHOIMAGERY.X", "BDTOPO_V3:x", "ENR.X", "NOTHING"] {
            assert!(THEMES.contains(&theme(id, &[])), "{id}");
        }
    }

    #[test]
    fn themes_from_identifiers_and_keywords() {
        assert_eq!(theme("ORTHOIMAGERY.ORTHOPHOTOS", &[]), "ortho");
        assert_eq!(
            theme("CADASTRALPARCELS.PARCELLAIRE_EXPRESS", &[]),
            "cadastre"
        );
        assert_eq!(theme("GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2", &[]), "maps");
        assert_eq!(theme("BDTOPO_V3:batiment", &[]), "topography");
        assert_eq!(
            theme("LIMITES_ADMINISTRATIVES_EXPRESS.LATEST:commune", &[]),
            "administrative"
        );
        assert_eq!(theme("xyz:vue", &["Orthophotographie".into()]), "ortho");
        assert_eq!(theme("ACCES.BIOMETHANE", &[]), "other");
    }

    #[test]
    fn a_wms_layer_joins_the_wmts_layer_of_the_same_id() {
        let wmts = vec![WmtsLayer {
            id: "ORTHOIMAGERY.ORTHOPHOTOS".into(),
            title: "Photographies aériennes".into(),
            tile_matrix_set: "PM_0_21".into(),
            ..WmtsLayer::default()
        }];
        let wms = vec![
            WmsLayer {
                name: "ORTHOIMAGERY.ORTHOPHOTOS".into(),
                ..WmsLayer::default()
            },
            WmsLayer {
                name: "SCAN25TOUR".into(),
                title: "Scan 25 touristique".into(),
                ..WmsLayer::default()
            },
        ];
        let wfs = vec![FeatureType {
            name: "BDTOPO_V3:batiment".into(),
            title: "Bâtiments".into(),
            abstract_: String::new(),
            keywords: vec![],
            default_crs: None,
            wgs84_bbox: None,
        }];
        let all = build(&wmts, &wms, &wfs, &[]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].services(), ["wmts", "wms"]);
        assert_eq!(all[1].services(), ["wms"]);
        assert_eq!(all[2].services(), ["wfs"]);
        let words = search_terms("Bâtiments");
        assert!(all[2].matches(&words, Some("topography"), Some("wfs")));
        assert!(!all[2].matches(&words, None, Some("wmts")));
    }
}
