//! Large batches as one upstream request: the geocoder's own CSV endpoint (`POST
//! /geocodage/search/csv`, multipart, described in its OpenAPI) takes the whole file and answers
//! it with result columns added, one request of the quota instead of one per row. The endpoint's
//! exact path is documented but not seen answering yet, so any failure falls back to one search
//! per row, and an endpoint that is not there is not asked again.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{batch::Found, GeocodeService, Index};
use crate::upstream::{Api, UpstreamError, UpstreamRequest};

/// Rows from which a batch goes upstream as one CSV rather than one search per row.
pub const BULK_MIN_ROWS: usize = 50;
const BULK_PATH: &str = "/geocodage/search/csv";
const BOUNDARY: &str = "geopf-gateway-7c1e9b2d4f8a6035";

/// A batch's rows as the upstream's CSV endpoint takes them.
pub struct BulkInput<'a> {
    pub headers: &'a [String],
    pub rows: &'a [Vec<String>],
    /// The columns whose text is searched.
    pub columns: &'a [usize],
    pub delimiter: u8,
    pub index: Index,
}

impl GeocodeService {
    /// The best candidate of each row from one upstream request, or None when the endpoint
    /// cannot be used for this batch (the caller then searches row by row).
    pub(super) async fn bulk(&self, input: &BulkInput<'_>) -> Option<Vec<Found>> {
        if self.bulk_unavailable.load(Ordering::Relaxed) {
            return None;
        }
        let body = multipart(input)?;
        let request = UpstreamRequest::new(Api::Geocoding, BULK_PATH).post(
            format!("multipart/form-data; boundary={BOUNDARY}"),
            Bytes::from(body),
        );
        let answer = match self.fetcher.raw(&request).await {
            Ok(answer) => answer,
            Err(crate::services::ServiceError::Upstream(UpstreamError::Status {
                status: 404 | 405 | 501,
                ..
            })) => {
                tracing::info!("the geocoder has no CSV endpoint: batches go row by row");
                self.bulk_unavailable.store(true, Ordering::Relaxed);
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the geocoder's CSV endpoint failed: this batch goes row by row");
                return None;
            }
        };
        let found = read_answer(&answer, input.delimiter, input.rows.len());
        if found.is_none() {
            tracing::warn!(
                "the geocoder's CSV answer does not match the batch: it goes row by row"
            );
        }
        found
    }
}

/// The multipart body: the CSV as `data`, the searched `columns`, the `indexes`. None if a name
/// or the data could not be framed safely.
fn multipart(input: &BulkInput<'_>) -> Option<Vec<u8>> {
    let mut csv_out = csv::WriterBuilder::new()
        .delimiter(input.delimiter)
        .from_writer(Vec::new());
    csv_out.write_record(input.headers).ok()?;
    for row in input.rows {
        csv_out.write_record(row).ok()?;
    }
    let data = csv_out.into_inner().ok()?;
    if data
        .windows(BOUNDARY.len())
        .any(|w| w == BOUNDARY.as_bytes())
    {
        return None;
    }
    let mut body = Vec::with_capacity(data.len() + 512);
    let field = |body: &mut Vec<u8>, name: &str, value: &str| {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    };
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"input.csv\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n");
    for &c in input.columns {
        let name = input.headers.get(c)?;
        if name.contains(['\r', '\n']) {
            return None;
        }
        field(&mut body, "columns", name);
    }
    field(&mut body, "indexes", input.index.upstream_name());
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Some(body)
}

/// The result columns of the upstream's CSV, row by row; None unless it has one line per row.
fn read_answer(answer: &[u8], delimiter: u8, rows: usize) -> Option<Vec<Found>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(answer);
    let headers = reader.headers().ok()?.clone();
    let at = |name: &str| headers.iter().position(|h| h == name);
    let (lon, lat, status) = (at("longitude")?, at("latitude")?, at("result_status")?);
    let (label, score, kind, id) = (
        at("result_label"),
        at("result_score"),
        at("result_type"),
        at("result_id"),
    );
    let mut found = Vec::with_capacity(rows);
    for record in reader.records() {
        let record = record.ok()?;
        let text = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_string();
        let number = |i: usize| record.get(i).and_then(|v| v.trim().parse::<f64>().ok());
        let status = match record.get(status).unwrap_or("") {
            "ok" => "ok".to_string(),
            "not-found" => "not found".to_string(),
            "skipped" => "skipped: the geocoder ignored the row".to_string(),
            other => format!("error: the geocoder answered {other:?} for the row"),
        };
        let ok = status == "ok";
        found.push(Found {
            lon: number(lon).filter(|_| ok),
            lat: number(lat).filter(|_| ok),
            label: text(label),
            score: score.and_then(number),
            kind: text(kind),
            id: text(id),
            status,
        });
    }
    (found.len() == rows).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_a_multipart_form_with_the_file_columns_and_index() {
        let headers = vec!["name".to_string(), "street".into(), "city".into()];
        let rows = vec![vec!["a".to_string(), "1 rue X".into(), "Lyon".into()]];
        let body = multipart(&BulkInput {
            headers: &headers,
            rows: &rows,
            columns: &[1, 2],
            delimiter: b';',
            index: Index::Address,
        })
        .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("name=\"data\"; filename=\"input.csv\"\r\nContent-Type: text/csv\r\n\r\nname;street;city\na;1 rue X;Lyon\n\r\n"));
        assert!(text.contains("name=\"columns\"\r\n\r\nstreet\r\n"));
        assert!(text.contains("name=\"columns\"\r\n\r\ncity\r\n"));
        assert!(text.contains("name=\"indexes\"\r\n\r\naddress\r\n"));
        assert!(text.ends_with(&format!("--{BOUNDARY}--\r\n")));
    }

    #[test]
    fn the_answer_is_read_by_column_name_and_must_match_the_rows() {
        let answer = b"q;latitude;longitude;result_label;result_score;result_type;result_id;result_status\nx;43.6;3.88;L;0.9;housenumber;i1;ok\ny;;;;;;;not-found\n";
        let found = read_answer(answer, b';', 2).unwrap();
        assert_eq!((found[0].lon, found[0].lat), (Some(3.88), Some(43.6)));
        assert_eq!(found[0].status, "ok");
        assert_eq!(found[1].status, "not found");
        assert!(found[1].lon.is_none());
        assert!(read_answer(answer, b';', 3).is_none());
        assert!(read_answer(b"q;x\n1;2\n", b';', 1).is_none());
    }
}
