//! Batch geocoding: a CSV in, the same rows with their best candidate out (CSV and GeoJSON).
//! Rows go through the cached geocoder under its quota, and under a share of it of their own so
//! that interactive searches stay fast while a batch runs.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{stream, StreamExt};
use serde_json::{json, Map, Value};

use super::{
    bulk::{BulkInput, BULK_MIN_ROWS},
    params::Filters,
    GeocodeService, Index,
};
use crate::{
    services::{
        inputs::Inputs,
        process::{OutputSpec, OutputValue, ProcessOutput, Progress, OUTPUT_ID},
        ServiceError,
    },
    upstream::UpstreamError,
};

/// Most rows one batch takes (the upstream's own limit for a synchronous CSV).
pub const MAX_ROWS: usize = 200_000;
/// Rows geocoded at once.
const PARALLEL: usize = 4;
/// The columns added to every row.
const RESULT_COLUMNS: [&str; 7] = [
    "result_lon",
    "result_lat",
    "result_label",
    "result_score",
    "result_type",
    "result_id",
    "result_status",
];

/// The `csv` output of batch-geocode.
pub fn csv_output_spec() -> OutputSpec {
    OutputSpec {
        id: "csv".into(),
        title: "The rows with their result columns, as CSV".into(),
        media_type: "text/csv".into(),
        schema: json!({"type": "string", "contentMediaType": "text/csv"}),
    }
}

/// The delimiter of a CSV: the most frequent of `,` `;` tab `|` on its first line.
pub fn sniff_delimiter(data: &str) -> u8 {
    let first = data.lines().next().unwrap_or("");
    let count = |d: u8| first.bytes().filter(|b| *b == d).count();
    [b';', b'\t', b'|'].into_iter().fold(
        b',',
        |best, d| if count(d) > count(best) { d } else { best },
    )
}

struct Row {
    fields: Vec<String>,
    query: String,
}

#[derive(Default)]
pub(super) struct Found {
    pub(super) lon: Option<f64>,
    pub(super) lat: Option<f64>,
    pub(super) label: String,
    pub(super) score: Option<f64>,
    pub(super) kind: String,
    pub(super) id: String,
    pub(super) status: String,
}

impl GeocodeService {
    pub async fn batch_process(
        &self,
        inputs: &Inputs,
        progress: &Progress,
    ) -> Result<ProcessOutput, ServiceError> {
        let data = inputs.required_string("data")?;
        let delimiter = match inputs.string("delimiter")? {
            None => sniff_delimiter(&data),
            Some(d) if d == "\\t" || d == "tab" => b'\t',
            Some(d) if d.len() == 1 && d != "\"" => d.as_bytes()[0],
            Some(d) => {
                return Err(ServiceError::invalid(
                    "delimiter",
                    format!("{d:?} is not one character"),
                ))
            }
        };
        let index = match inputs.string("index")? {
            None => Index::Address,
            Some(i) => Index::from_upstream_name(&i).ok_or_else(|| {
                ServiceError::invalid("index", format!("{i:?} is not one of address, poi, parcel"))
            })?,
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(data.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| {
                ServiceError::invalid("data", format!("the CSV header cannot be read: {e}"))
            })?
            .iter()
            .map(str::to_string)
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(ServiceError::invalid("data", "the CSV has no header line"));
        }
        let columns: Vec<usize> = match inputs.raw("columns") {
            None => (0..headers.len()).collect(),
            Some(_) => {
                let wanted = inputs.string("columns")?.unwrap_or_default();
                wanted
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        headers.iter().position(|h| h == c).ok_or_else(|| {
                            ServiceError::invalid(
                                "columns",
                                format!(
                                    "{c:?} is not a column of the CSV (columns: {})",
                                    headers.join(", ")
                                ),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let mut rows = Vec::new();
        for (n, record) in reader.records().enumerate() {
            let record = record
                .map_err(|e| ServiceError::invalid("data", format!("line {}: {e}", n + 2)))?;
            if rows.len() == MAX_ROWS {
                return Err(ServiceError::invalid(
                    "data",
                    format!("more than {MAX_ROWS} rows"),
                ));
            }
            let fields: Vec<String> = record.iter().map(str::to_string).collect();
            let query = columns
                .iter()
                .filter_map(|i| fields.get(*i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            rows.push(Row { fields, query });
        }
        let total = rows.len();
        if total >= BULK_MIN_ROWS {
            let fields: Vec<Vec<String>> = rows.iter().map(|r| r.fields.clone()).collect();
            let bulk = BulkInput {
                headers: &headers,
                rows: &fields,
                columns: &columns,
                delimiter,
                index,
            };
            if let Some(found) = self.bulk(&bulk).await {
                progress.set(total, total);
                return Ok(batch_output(&headers, &rows, &found, delimiter));
            }
        }
        let done = AtomicUsize::new(0);
        progress.set(0, total);
        let done = &done;
        let queries: Vec<String> = rows.iter().map(|r| r.query.clone()).collect();
        let found: Vec<Found> = stream::iter(queries)
            .map(|query| async move {
                let f = self.geocode_row(index, &query).await;
                progress.set(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                f
            })
            .buffered(PARALLEL)
            .collect()
            .await;
        Ok(batch_output(&headers, &rows, &found, delimiter))
    }

    /// The best candidate for one row; a failure is the row's status, not the batch's.
    async fn geocode_row(&self, index: Index, query: &str) -> Found {
        if query.chars().count() < 3 || !query.chars().next().is_some_and(char::is_alphanumeric) {
            return Found {
                status: "skipped: the text is shorter than 3 characters or does not start with a letter or digit".into(),
                ..Found::default()
            };
        }
        let query: String = query.chars().take(200).collect();
        let mut attempts = 0;
        loop {
            if let Some(limiter) = &self.batch_quota {
                limiter.until_ready().await;
            }
            let request = self.search_request(
                &[index],
                Some(&query),
                1,
                &Filters::default(),
                None,
                Some(false),
            );
            match self.run(request).await {
                Ok((features, _)) => {
                    let Some(f) = features.first() else {
                        return Found {
                            status: "not found".into(),
                            ..Found::default()
                        };
                    };
                    let p = &f["properties"];
                    let coords = &f["geometry"]["coordinates"];
                    let text = |keys: &[&str]| {
                        keys.iter()
                            .find_map(|k| p[*k].as_str())
                            .unwrap_or("")
                            .to_string()
                    };
                    return Found {
                        lon: coords[0].as_f64(),
                        lat: coords[1].as_f64(),
                        label: text(&["label", "toponym", "id"]),
                        score: p["score"].as_f64(),
                        kind: text(&["type", "_type"]),
                        id: f["id"].as_str().unwrap_or("").to_string(),
                        status: "ok".into(),
                    };
                }
                Err(ServiceError::Upstream(
                    UpstreamError::RateLimited { retry_after_s, .. }
                    | UpstreamError::QueueFull { retry_after_s, .. },
                )) if attempts < 5 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(retry_after_s)).await;
                }
                Err(e) => {
                    return Found {
                        status: format!("error: {e}"),
                        ..Found::default()
                    }
                }
            }
        }
    }
}

fn batch_output(headers: &[String], rows: &[Row], found: &[Found], delimiter: u8) -> ProcessOutput {
    let mut csv_out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    let mut header_line: Vec<&str> = headers.iter().map(String::as_str).collect();
    header_line.extend(RESULT_COLUMNS);
    let _ = csv_out.write_record(&header_line);
    let mut features = Vec::with_capacity(rows.len());
    for (n, (row, f)) in rows.iter().zip(found).enumerate() {
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let results = [
            num(f.lon),
            num(f.lat),
            f.label.clone(),
            num(f.score),
            f.kind.clone(),
            f.id.clone(),
            f.status.clone(),
        ];
        let mut record: Vec<&str> = (0..headers.len())
            .map(|i| row.fields.get(i).map_or("", String::as_str))
            .collect();
        record.extend(results.iter().map(String::as_str));
        let _ = csv_out.write_record(&record);
        let mut props = Map::new();
        for (i, h) in headers.iter().enumerate() {
            props.insert(
                h.clone(),
                json!(row.fields.get(i).cloned().unwrap_or_default()),
            );
        }
        props.insert("result_label".into(), json!(f.label));
        props.insert("result_score".into(), json!(f.score));
        props.insert("result_type".into(), json!(f.kind));
        props.insert("result_id".into(), json!(f.id));
        props.insert("result_status".into(), json!(f.status));
        let geometry = match (f.lon, f.lat) {
            (Some(x), Some(y)) => json!({"type": "Point", "coordinates": [x, y]}),
            _ => Value::Null,
        };
        features.push(
            json!({"type": "Feature", "id": n + 1, "geometry": geometry, "properties": props}),
        );
    }
    let csv_text = csv_out
        .into_inner()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    ProcessOutput {
        outputs: vec![
            OutputValue {
                id: OUTPUT_ID.into(),
                media_type: "application/geo+json".into(),
                value: json!({"type": "FeatureCollection", "features": features}),
            },
            OutputValue {
                id: "csv".into(),
                media_type: "text/csv".into(),
                value: Value::String(csv_text),
            },
        ],
        cache_status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3"), b';');
        assert_eq!(sniff_delimiter("a,b\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("single"), b',');
    }
}
