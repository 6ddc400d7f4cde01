//! The geocoder's search filters: read from process inputs or query parameters, validated with the
//! upstream's own rules (so a mistake is a clear 400 here, not an upstream error), and written
//! into upstream requests.

use serde_json::Value;

use super::Index;
use crate::{
    services::{
        inputs::{check_lon_lat, Inputs},
        ServiceError,
    },
    upstream::UpstreamRequest,
};

/// Address types the `type` filter takes.
pub const ADDRESS_TYPES: [&str; 4] = ["housenumber", "street", "locality", "municipality"];

/// The JSON Schema of the `type` filter.
pub fn address_type_schema() -> Value {
    serde_json::json!({"type": "string", "enum": ADDRESS_TYPES})
}

/// Cadastral fields of the structured parcel search, with their accepted shapes.
pub const PARCEL_FIELDS: [(&str, &str); 7] = [
    ("departmentcode", "2 or 3 characters, e.g. 34, 2A or 971"),
    ("municipalitycode", "2 or 3 digits, e.g. 172"),
    ("oldmunicipalitycode", "3 digits"),
    ("districtcode", "3 digits"),
    ("section", "1 or 2 letters or digits, e.g. AB"),
    ("number", "1 to 4 digits"),
    ("sheet", "1 or 2 digits"),
];

/// A free-text query: 3 to 200 characters, starting with a letter or a digit.
pub fn query_text(name: &str, text: &str) -> Result<String, ServiceError> {
    let text = text.trim();
    let len = text.chars().count();
    if len == 0 {
        return Err(ServiceError::invalid(name, "must not be empty"));
    }
    if !(3..=200).contains(&len) {
        return Err(ServiceError::invalid(
            name,
            format!("must be 3 to 200 characters long, got {len}"),
        ));
    }
    if !text.chars().next().is_some_and(char::is_alphanumeric) {
        return Err(ServiceError::invalid(
            name,
            "must start with a letter or a digit",
        ));
    }
    Ok(text.to_string())
}

/// The filters common to search and reverse, checked for the index they apply to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub postcode: Option<String>,
    pub citycode: Option<String>,
    pub city: Option<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub parcel: Vec<(&'static str, String)>,
}

fn all_digits(s: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_citycode(s: &str) -> bool {
    all_digits(s, 5..=5)
        || (s.len() == 5
            && (s.starts_with("2A") || s.starts_with("2B"))
            && all_digits(&s[2..], 3..=3))
}

impl Filters {
    pub fn from_inputs(indexes: &[Index], inputs: &Inputs) -> Result<Self, ServiceError> {
        let only = |name: &str, allowed: &[Index]| -> Result<(), ServiceError> {
            if indexes.iter().all(|i| !allowed.contains(i)) {
                let names: Vec<_> = allowed.iter().map(|i| i.upstream_name()).collect();
                return Err(ServiceError::invalid(
                    name,
                    format!("applies to the {} index only", names.join(" and ")),
                ));
            }
            Ok(())
        };
        let mut f = Filters::default();
        if let Some(p) = inputs.string("postcode")? {
            only("postcode", &[Index::Address, Index::Poi])?;
            if !all_digits(&p, 5..=5) {
                return Err(ServiceError::invalid(
                    "postcode",
                    format!("{p:?} is not a 5-digit postcode"),
                ));
            }
            f.postcode = Some(p);
        }
        if let Some(c) = inputs.string("citycode")? {
            only("citycode", &[Index::Address, Index::Poi])?;
            if !is_citycode(&c) {
                return Err(ServiceError::invalid(
                    "citycode",
                    format!("{c:?} is not an INSEE code (5 digits, or 2A/2B and 3 digits)"),
                ));
            }
            f.citycode = Some(c);
        }
        if let Some(c) = inputs.string("city")? {
            only("city", &[Index::Address, Index::Poi])?;
            if c.chars().count() > 50 {
                return Err(ServiceError::invalid(
                    "city",
                    "must be at most 50 characters",
                ));
            }
            if f.citycode.is_some() {
                return Err(ServiceError::invalid(
                    "city",
                    "cannot be combined with citycode",
                ));
            }
            f.city = Some(c);
        }
        if let Some(t) = inputs.choice("type", &ADDRESS_TYPES)? {
            only("type", &[Index::Address])?;
            f.kind = Some(t);
        }
        if let Some(c) = inputs.string("category")? {
            only("category", &[Index::Poi])?;
            f.category = Some(c);
        }
        for (name, shape) in PARCEL_FIELDS {
            if let Some(v) = inputs.string(name)? {
                only(name, &[Index::Parcel])?;
                if !parcel_field_ok(name, &v) {
                    return Err(ServiceError::invalid(name, format!("{v:?} is not {shape}")));
                }
                f.parcel.push((name, v));
            }
        }
        Ok(f)
    }

    /// Writes the filters as upstream query parameters.
    pub fn apply(&self, mut request: UpstreamRequest) -> UpstreamRequest {
        request = request
            .param_opt("postcode", self.postcode.as_ref())
            .param_opt("citycode", self.citycode.as_ref())
            .param_opt("city", self.city.as_ref())
            .param_opt("type", self.kind.as_ref())
            .param_opt("category", self.category.as_ref());
        for (name, value) in &self.parcel {
            request = request.param(name, value);
        }
        request
    }

    /// Whether an already fetched feature passes the filters (for the list of known features).
    pub fn matches(&self, feature: &Value) -> bool {
        let props = &feature["properties"];
        let has = |key: &str, want: &Option<String>| match want {
            None => true,
            Some(w) => match &props[key] {
                Value::String(s) => s.eq_ignore_ascii_case(w),
                Value::Array(items) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case(w))),
                _ => false,
            },
        };
        has("postcode", &self.postcode)
            && has("citycode", &self.citycode)
            && has("city", &self.city)
            && has("type", &self.kind)
            && has("category", &self.category)
            && self.parcel.iter().all(|(k, v)| has(k, &Some(v.clone())))
    }
}

fn parcel_field_ok(name: &str, v: &str) -> bool {
    match name {
        "departmentcode" => {
            all_digits(v, 2..=3) || v.eq_ignore_ascii_case("2A") || v.eq_ignore_ascii_case("2B")
        }
        "municipalitycode" => all_digits(v, 2..=3),
        "oldmunicipalitycode" | "districtcode" => all_digits(v, 3..=3),
        "section" => (1..=2).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()),
        "number" => all_digits(v, 1..=4),
        "sheet" => all_digits(v, 1..=2),
        _ => false,
    }
}

/// A `lon`/`lat` pair: both or neither.
pub fn lon_lat(inputs: &Inputs) -> Result<Option<(f64, f64)>, ServiceError> {
    match (inputs.number("lon")?, inputs.number("lat")?) {
        (None, None) => Ok(None),
        (Some(lon), Some(lat)) => {
            check_lon_lat("lon", lon, lat).map_err(|e| match lat.abs() > 90.0 {
                true => ServiceError::invalid("lat", format!("latitude {lat} is outside -90..90")),
                false => e,
            })?;
            Ok(Some((lon, lat)))
        }
        (Some(_), None) => Err(ServiceError::invalid(
            "lat",
            "is required when lon is given",
        )),
        (None, Some(_)) => Err(ServiceError::invalid(
            "lon",
            "is required when lat is given",
        )),
    }
}

/// The cadastral fields of a parcel id such as `44070000AR0238` (dept + commune, prefix,
/// section, number), for a structured search of that one parcel.
pub fn parcel_fields_of_id(id: &str) -> Option<Vec<(&'static str, String)>> {
    if id.len() != 14 || !id.is_ascii() {
        return None;
    }
    let (insee, rest) = id.split_at(5);
    let (dep, com) = if insee.starts_with("97") {
        insee.split_at(3)
    } else {
        insee.split_at(2)
    };
    let fields = vec![
        ("departmentcode", dep.to_string()),
        ("municipalitycode", com.to_string()),
        ("oldmunicipalitycode", rest[0..3].to_string()),
        ("section", rest[3..5].to_string()),
        ("number", rest[5..9].to_string()),
    ];
    fields
        .iter()
        .all(|(k, v)| parcel_field_ok(k, v))
        .then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        pairs.iter().copied().collect()
    }

    #[test]
    fn filters_apply_to_their_index_only() {
        let e = Filters::from_inputs(&[Index::Poi], &inputs(&[("type", "street")])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("type: applies to the address index only"),
            "{e}"
        );
        let e = Filters::from_inputs(&[Index::Address], &inputs(&[("type", "road")])).unwrap_err();
        assert!(e.to_string().contains("housenumber"), "{e}");
        let f = Filters::from_inputs(
            &[Index::Address],
            &inputs(&[("postcode", "34000"), ("citycode", "2A004")]),
        )
        .unwrap();
        assert_eq!(f.postcode.as_deref(), Some("34000"));
        assert!(Filters::from_inputs(&[Index::Address], &inputs(&[("postcode", "3400")])).is_err());
        assert!(Filters::from_inputs(
            &[Index::Address],
            &inputs(&[("citycode", "34172"), ("city", "x")])
        )
        .is_err());
    }

    #[test]
    fn parcel_ids_split_into_fields() {
        let f = parcel_fields_of_id("44070000AR0238").unwrap();
        assert_eq!(f[0].1, "44");
        assert_eq!(f[1].1, "070");
        assert_eq!(f[3].1, "AR");
        assert_eq!(f[4].1, "0238");
        assert_eq!(parcel_fields_of_id("97101000AB0001").unwrap()[0].1, "971");
        assert!(parcel_fields_of_id("short").is_none());
    }

    #[test]
    fn lon_and_lat_go_together() {
        assert!(lon_lat(&inputs(&[("lon", "3.8")]))
            .unwrap_err()
            .to_string()
            .starts_with("lat"));
        assert!(lon_lat(&inputs(&[("lon", "3.8"), ("lat", "91")]))
            .unwrap_err()
            .to_string()
            .contains("latitude"));
        assert_eq!(
            lon_lat(&inputs(&[("lon", "3.8"), ("lat", "43.6")])).unwrap(),
            Some((3.8, 43.6))
        );
    }

    proptest! {
        #[test]
        fn query_text_never_panics_and_accepts_only_valid_text(s in "\\PC{0,250}") {
            match query_text("q", &s) {
                Ok(t) => {
                    let n = t.chars().count();
                    prop_assert!((3..=200).contains(&n));
                    prop_assert!(t.chars().next().unwrap().is_alphanumeric());
                }
                Err(e) => prop_assert!(e.to_string().starts_with("q: ")),
            }
        }

        #[test]
        fn postcodes_are_five_digits(s in "[0-9A-Z]{0,7}") {
            let r = Filters::from_inputs(&[Index::Address], &inputs(&[("postcode", &s)]));
            let ok = s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(r.is_ok(), ok || s.is_empty());
        }
    }
}
