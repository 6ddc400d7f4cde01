//! The three geocoding collections and what can be filtered in each (their queryables).

use serde_json::{json, Value};

use super::{params::address_type_schema, Index};

/// A property that can be filtered on, as a JSON Schema.
#[derive(Debug, Clone)]
pub struct Queryable {
    pub name: &'static str,
    pub title: &'static str,
    pub schema: Value,
}

#[derive(Debug, Clone)]
pub struct CollectionSpec {
    pub id: &'static str,
    pub index: Index,
    pub title: &'static str,
    pub description: &'static str,
    pub keywords: &'static [&'static str],
    pub queryables: Vec<Queryable>,
}

fn q(name: &'static str, title: &'static str, schema: Value) -> Queryable {
    Queryable {
        name,
        title,
        schema,
    }
}

fn text_query() -> Queryable {
    q(
        "q",
        "Text to search (3 to 200 characters, starting with a letter or a digit)",
        json!({"type": "string", "minLength": 3, "maxLength": 200}),
    )
}

fn postcode() -> Queryable {
    q(
        "postcode",
        "Postcode (5 digits)",
        json!({"type": "string", "pattern": "^[0-9]{5}$"}),
    )
}

fn citycode() -> Queryable {
    q(
        "citycode",
        "INSEE code of the commune",
        json!({"type": "string", "pattern": "^([0-9]{5}|2[AB][0-9]{3})$"}),
    )
}

fn city() -> Queryable {
    q(
        "city",
        "Name of the commune",
        json!({"type": "string", "maxLength": 50}),
    )
}

fn bias() -> [Queryable; 2] {
    [
        q(
            "lon",
            "Longitude of a point that favours nearby results",
            json!({"type": "number", "minimum": -180, "maximum": 180}),
        ),
        q(
            "lat",
            "Latitude of a point that favours nearby results",
            json!({"type": "number", "minimum": -90, "maximum": 90}),
        ),
    ]
}

fn autocomplete() -> Queryable {
    q(
        "autocomplete",
        "Treat q as the beginning of a text being typed",
        json!({"type": "boolean"}),
    )
}

/// The collections, in the order they are listed.
pub fn collection_specs() -> Vec<CollectionSpec> {
    let mut address = vec![
        text_query(),
        q("type", "Type of address", address_type_schema()),
        postcode(),
        citycode(),
        city(),
        autocomplete(),
    ];
    address.extend(bias());
    let mut poi = vec![
        text_query(),
        q(
            "category",
            "Category of the place (e.g. mairie, gare)",
            json!({"type": "string"}),
        ),
        postcode(),
        citycode(),
        city(),
        autocomplete(),
    ];
    poi.extend(bias());
    let mut parcel = vec![text_query()];
    parcel.extend(
        super::params::PARCEL_FIELDS
            .iter()
            .map(|(name, shape)| q(name, shape, json!({"type": "string"}))),
    );
    vec![
        CollectionSpec {
            id: "addresses",
            index: Index::Address,
            title: "Addresses (BAN)",
            description: "French addresses from the Base Adresse Nationale, through the Géoplateforme geocoder. \
                          Search with q=…, or list the addresses inside a bbox of at most 1 km a side.",
            keywords: &["adresse", "BAN", "géocodage", "address"],
            queryables: address,
        },
        CollectionSpec {
            id: "poi",
            index: Index::Poi,
            title: "Places of interest",
            description: "Named places (town halls, stations, summits, …) from the BD TOPO, through the Géoplateforme \
                          geocoder. Search with q=…, or list the places inside a bbox of at most 1 km a side.",
            keywords: &["toponyme", "POI", "géocodage", "place"],
            queryables: poi,
        },
        CollectionSpec {
            id: "parcels",
            index: Index::Parcel,
            title: "Cadastral parcels",
            description: "Cadastral parcels (PCI), through the Géoplateforme geocoder. Search by cadastral reference \
                          (departmentcode, municipalitycode, section, number…), or list the parcels inside a bbox \
                          of at most 1 km a side.",
            keywords: &["cadastre", "parcelle", "géocodage", "parcel"],
            queryables: parcel,
        },
    ]
}
