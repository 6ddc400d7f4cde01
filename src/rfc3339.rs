//! Times as RFC 3339 text (UTC), the one format of every date the gateway writes: job status,
//! feature collection timestamps, capabilities and upstream health in `/ready`.

use std::time::SystemTime;

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// `t` as RFC 3339 text.
pub fn format(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// Now, as RFC 3339 text.
pub fn now() -> String {
    format(SystemTime::now())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_epoch_is_written_in_utc() {
        assert_eq!(super::format(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
