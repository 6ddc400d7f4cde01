//! Times as RFC 3339 text (UTC), the one format of every date the gateway writes: job status,
//! feature collection timestamps, capabilities and upstream health in `/ready`.

use std::time::SystemTime;

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// `t` as RFC 3339 text.
pub fn format(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// The start (UTC) of a `YYYY-MM-DD` day.
pub fn parse_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(date.midnight().assume_utc().into())
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

    #[test]
    fn days_are_read() {
        let t = super::parse_date("2024-06-06").unwrap();
        assert_eq!(super::format(t), "2024-06-06T00:00:00Z");
        assert!(super::parse_date("2024-13-01").is_none());
        assert!(super::parse_date("June").is_none());
    }
}
