//! The geocoding processes: `geocode`, `reverse-geocode` and `autocomplete`.

use serde_json::{json, Value};

use super::{
    features::prepare_completion,
    params::{address_type_schema, lon_lat, query_text, Filters},
    GeocodeService, Index, MAX_CANDIDATES,
};
use crate::{
    cache::{CacheKind, CacheStatus},
    services::{
        inputs::Inputs,
        process::{
            keywords, no_such_process, InputSpec, OutputSpec, ProcessOutput, ProcessProvider,
            ProcessSpec, Progress,
        },
        ServiceError,
    },
    upstream::{Api, UpstreamRequest},
};
use futures::future::BoxFuture;

fn output(features: Vec<Value>, cache_status: CacheStatus) -> ProcessOutput {
    let value = json!({
        "type": "FeatureCollection",
        "numberReturned": features.len(),
        "features": features,
    });
    ProcessOutput::geojson(value, cache_status)
}

fn common_filters() -> Vec<InputSpec> {
    vec![
        InputSpec::new(
            "index",
            "Index",
            "Where to search: address, poi, parcel, or several separated by commas.",
            json!({"type": "string", "default": "address", "pattern": "^(address|poi|parcel)(,(address|poi|parcel))*$"}),
        ),
        InputSpec::new(
            "limit",
            "Maximum number of results",
            "From 1 to 20.",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_CANDIDATES, "default": 10}),
        ),
        InputSpec::new(
            "postcode",
            "Postcode",
            "Only results with this postcode (5 digits).",
            json!({"type": "string", "pattern": "^[0-9]{5}$"}),
        ),
        InputSpec::new(
            "citycode",
            "INSEE code",
            "Only results in this commune.",
            json!({"type": "string", "pattern": "^([0-9]{5}|2[AB][0-9]{3})$"}),
        ),
        InputSpec::new(
            "type",
            "Address type",
            "Only addresses of this type (address index).",
            address_type_schema(),
        ),
        InputSpec::new(
            "category",
            "POI category",
            "Only places of this category (poi index), e.g. mairie.",
            json!({"type": "string"}),
        ),
    ]
}

pub fn process_specs() -> Vec<ProcessSpec> {
    let mut geocode = vec![InputSpec::new(
        "q",
        "Text to search",
        "An address, place name or cadastral reference; 3 to 200 characters.",
        json!({"type": "string", "minLength": 3, "maxLength": 200}),
    )
    .required()];
    geocode.extend(common_filters());
    geocode.push(InputSpec::new(
        "lon",
        "Longitude",
        "With lat: favour results near this point.",
        json!({"type": "number", "minimum": -180, "maximum": 180}),
    ));
    geocode.push(InputSpec::new(
        "lat",
        "Latitude",
        "With lon: favour results near this point.",
        json!({"type": "number", "minimum": -90, "maximum": 90}),
    ));

    let mut reverse = vec![
        InputSpec::new(
            "lon",
            "Longitude",
            "Longitude of the point (WGS84); give lon and lat, or point.",
            json!({"type": "number", "minimum": -180, "maximum": 180}),
        ),
        InputSpec::new(
            "lat",
            "Latitude",
            "Latitude of the point (WGS84).",
            json!({"type": "number", "minimum": -90, "maximum": 90}),
        ),
        InputSpec::new(
            "point",
            "Point",
            "The point as \"lon,lat\" or a GeoJSON Point, instead of lon and lat.",
            json!({"oneOf": [{"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}, {"type": "object", "format": "geojson-geometry"}]}),
        ),
    ];
    reverse.extend(common_filters());

    let autocomplete = vec![
        InputSpec::new(
            "text",
            "Text being typed",
            "3 to 200 characters.",
            json!({"type": "string", "minLength": 3, "maxLength": 200}),
        )
        .required(),
        InputSpec::new(
            "type",
            "Kinds of result",
            "PositionOfInterest, StreetAddress, or both separated by a comma.",
            json!({"type": "string", "default": "PositionOfInterest,StreetAddress", "pattern": "^(PositionOfInterest|StreetAddress)(,(PositionOfInterest|StreetAddress))?$"}),
        ),
        InputSpec::new(
            "maximumResponses",
            "Maximum number of suggestions",
            "From 1 to 15.",
            json!({"type": "integer", "minimum": 1, "maximum": 15, "default": 10}),
        ),
        InputSpec::new(
            "terr",
            "Territory",
            "METROPOLE, DOMTOM, or department/INSEE codes separated by commas.",
            json!({"type": "string"}),
        ),
        InputSpec::new(
            "lonlat",
            "Near",
            "\"lon,lat\": favour suggestions near this point.",
            json!({"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}),
        ),
        InputSpec::new(
            "bbox",
            "Within",
            "\"west,south,east,north\" in WGS84: only suggestions inside.",
            json!({"type": "string"}),
        ),
    ];

    vec![
        ProcessSpec {
            id: "geocode".into(),
            title: "Geocode".into(),
            description: "Finds addresses, places and parcels matching a text (Géoplateforme geocoder), as GeoJSON points.".into(),
            keywords: keywords(&["géocodage", "geocoding", "adresse"]),
            inputs: geocode,
            outputs: vec![OutputSpec::geojson("Candidates, best first")],
        },
        ProcessSpec {
            id: "reverse-geocode".into(),
            title: "Reverse geocode".into(),
            description: "Finds the addresses, places or parcels nearest to a point (Géoplateforme geocoder), as GeoJSON points.".into(),
            keywords: keywords(&["géocodage inverse", "reverse geocoding"]),
            inputs: reverse,
            outputs: vec![OutputSpec::geojson("Results, nearest first")],
        },
        ProcessSpec {
            id: "batch-geocode".into(),
            title: "Batch geocode".into(),
            description: "Geocodes every row of a CSV (best candidate per row): the same rows with result columns (lon, lat, label, score, type, id, status), as GeoJSON and CSV. Best run as a job (Prefer: respond-async); progress is reported.".into(),
            keywords: keywords(&["géocodage", "batch", "CSV"]),
            inputs: vec![
                InputSpec::new("data", "CSV", "The CSV text, with a header line; up to 200 000 rows.", json!({"type": "string", "contentMediaType": "text/csv"})).required(),
                InputSpec::new(
                    "columns",
                    "Columns",
                    "The columns whose values, joined by spaces, make the text to search (a list, or names separated by commas); all columns by default.",
                    json!({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}),
                ),
                InputSpec::new("index", "Index", "address, poi or parcel.", json!({"type": "string", "enum": ["address", "poi", "parcel"], "default": "address"})),
                InputSpec::new("delimiter", "Delimiter", "One character; sniffed from the header line when absent (, ; tab |).", json!({"type": "string", "maxLength": 2})),
            ],
            outputs: vec![OutputSpec::geojson("The rows as points"), super::csv_output_spec()],
        },
        ProcessSpec {
            id: "autocomplete".into(),
            title: "Autocomplete".into(),
            description: "Suggests addresses and places for a text being typed (Géoplateforme autocompletion), as GeoJSON points.".into(),
            keywords: keywords(&["autocomplétion", "autocomplete", "suggestions"]),
            inputs: autocomplete,
            outputs: vec![OutputSpec::geojson("Suggestions")],
        },
    ]
}

fn indexes(inputs: &Inputs) -> Result<Vec<Index>, ServiceError> {
    let Some(list) = inputs.string("index")? else {
        return Ok(vec![Index::Address]);
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let index = Index::from_upstream_name(name).ok_or_else(|| {
            ServiceError::invalid(
                "index",
                format!("{name:?} is not one of address, poi, parcel"),
            )
        })?;
        if !out.contains(&index) {
            out.push(index);
        }
    }
    Ok(out)
}

fn limit(inputs: &Inputs) -> Result<usize, ServiceError> {
    Ok(inputs
        .integer("limit", 1, MAX_CANDIDATES as i64)?
        .unwrap_or(10) as usize)
}

impl GeocodeService {
    pub async fn geocode_process(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let q = query_text("q", &inputs.required_string("q")?)?;
        let indexes = indexes(inputs)?;
        let filters = Filters::from_inputs(&indexes, inputs)?;
        let request = self.search_request(
            &indexes,
            Some(&q),
            limit(inputs)?,
            &filters,
            lon_lat(inputs)?,
            None,
        );
        let (features, status) = self.run(request).await?;
        Ok(output(features, status))
    }

    pub async fn reverse_process(&self, inputs: &Inputs) -> Result<ProcessOutput, ServiceError> {
        let point = match (inputs.point("point")?, lon_lat(inputs)?) {
            (Some(p), None) | (None, Some(p)) => p,
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    "point",
                    "give either point or lon/lat, not both",
                ))
            }
            (None, None) => {
                return Err(ServiceError::invalid(
                    "lon",
                    "is required (with lat), or give point",
                ))
            }
        };
        let indexes = indexes(inputs)?;
        let filters = Filters::from_inputs(&indexes, inputs)?;
        let names: Vec<_> = indexes.iter().map(|i| i.upstream_name()).collect();
        let request = filters.apply(
            UpstreamRequest::new(Api::Geocoding, "/geocodage/reverse")
                .param("lon", point.0)
                .param("lat", point.1)
                .param("index", names.join(","))
                .param("limit", limit(inputs)?),
        );
        let (features, status) = self.run(request).await?;
        Ok(output(features, status))
    }

    pub async fn autocomplete_process(
        &self,
        inputs: &Inputs,
    ) -> Result<ProcessOutput, ServiceError> {
        let text = query_text("text", &inputs.required_string("text")?)?;
        let kinds = inputs.string("type")?;
        if let Some(k) = &kinds {
            for part in k.split(',').map(str::trim) {
                if !matches!(part, "PositionOfInterest" | "StreetAddress") {
                    return Err(ServiceError::invalid(
                        "type",
                        format!("{part:?} is not one of PositionOfInterest, StreetAddress"),
                    ));
                }
            }
        }
        let lonlat = inputs.point("lonlat")?;
        let bbox = inputs.string("bbox")?;
        if let Some(b) = &bbox {
            let parts: Vec<f64> = b.split(',').filter_map(|p| p.trim().parse().ok()).collect();
            if parts.len() != 4 || parts[0] > parts[2] || parts[1] > parts[3] {
                return Err(ServiceError::invalid(
                    "bbox",
                    "expected \"west,south,east,north\" with west <= east and south <= north",
                ));
            }
        }
        let request = UpstreamRequest::new(Api::Completion, "/geocodage/completion")
            .param("text", &text)
            .param_opt("type", kinds)
            .param_opt(
                "maximumResponses",
                inputs.integer("maximumResponses", 1, 15)?,
            )
            .param_opt("terr", inputs.string("terr")?)
            .param_opt("lonlat", lonlat.map(|(x, y)| format!("{x},{y}")))
            .param_opt("bbox", bbox);
        let (answer, status) = self
            .fetcher
            .json(request, CacheKind::Completion, prepare_completion)
            .await?;
        Ok(output(
            answer.value.as_array().cloned().unwrap_or_default(),
            status,
        ))
    }
}

impl ProcessProvider for GeocodeService {
    fn processes(&self) -> Vec<ProcessSpec> {
        process_specs()
    }

    fn descriptions_source(&self) -> Option<std::sync::Arc<dyn std::any::Any + Send + Sync>> {
        Some(crate::services::process::fixed_descriptions())
    }

    fn execute<'a>(
        &'a self,
        id: &'a str,
        inputs: &'a Inputs,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<ProcessOutput, ServiceError>> {
        Box::pin(async move {
            match id {
                "batch-geocode" => self.batch_process(inputs, progress).await,
                "geocode" => self.geocode_process(inputs).await,
                "reverse-geocode" => self.reverse_process(inputs).await,
                "autocomplete" => self.autocomplete_process(inputs).await,
                other => Err(no_such_process(other)),
            }
        })
    }
}
