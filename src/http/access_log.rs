//! The access log: one line per answered request, on the full path and the tile fast path alike.
//!
//! A line is formatted here, in a buffer of the thread's, and handed to the process's log writer
//! ([`crate::log_writer`]) in one piece — no tracing span opened, no field visitor, no filter walked
//! per request: at a hundred thousand cached tiles a second, the tracing machinery cost a third of
//! the gateway's time (BENCHMARKS.md §9c). Its shape follows the other lines of the log: text
//!
//! `2026-11-30T08:45:09.601964Z  INFO access: GET /tiles/PLAN/6/32/22.png status=200 latency_ms=0.081 id=8e31…`
//!
//! or, with `log.format = "json"`, one object per line (`timestamp`, `level`, `target`, `method`,
//! `uri`, `status`, `latency_ms`, `id`). It honours the log filter (`log.level`, `RUST_LOG`) as
//! the target `access`: `log.requests = false` writes its lines at `debug`. Without a log writer
//! installed (a library user, the tests) the lines are tracing events of that target instead.

use std::{cell::RefCell, fmt::Write as _, sync::OnceLock, time::Duration};

use axum::http::{Method, StatusCode};
use tracing::Level;

use crate::config::LogConfig;

/// The log target of the access lines (for filters: `RUST_LOG=warn,access=info`).
pub const TARGET: &str = "access";

/// Where access lines go once the process has a log writer: a function taking a whole line.
type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends the access lines of this process to `writer` (the server's log writer, marked as the
/// demo's on a demo) rather than through tracing. Once per process; later calls are ignored.
pub fn install(writer: impl Fn(&[u8]) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(writer));
}

/// The access log of a router.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    /// `None`: filtered out.
    level: Option<Level>,
    json: bool,
}

impl AccessLog {
    /// The access log `log` asks for, as the log filter in force lets it through.
    pub fn new(log: &LogConfig) -> Self {
        let level = if log.requests {
            tracing::enabled!(target: TARGET, Level::INFO).then_some(Level::INFO)
        } else {
            tracing::enabled!(target: TARGET, Level::DEBUG).then_some(Level::DEBUG)
        };
        AccessLog {
            level,
            json: log.format == "json",
        }
    }

    /// Whether lines are written at all.
    pub fn is_on(&self) -> bool {
        self.level.is_some()
    }

    /// No lines at all.
    pub const fn off() -> Self {
        AccessLog {
            level: None,
            json: false,
        }
    }

    /// Writes the line of a request answered `status` after `latency`. `uri` must be loggable
    /// (no secret in it: [`crate::http::observe::loggable_uri`]).
    pub fn write(
        &self,
        method: &Method,
        uri: &str,
        id: &str,
        status: StatusCode,
        latency: Duration,
    ) {
        let Some(level) = self.level else { return };
        let Some(sink) = SINK.get() else {
            let latency_ms = latency.as_secs_f64() * 1000.0;
            let status = status.as_u16();
            if level == Level::INFO {
                tracing::info!(target: TARGET, %method, %uri, status, latency_ms, id);
            } else {
                tracing::debug!(target: TARGET, %method, %uri, status, latency_ms, id);
            }
            return;
        };
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.format(line, level, method, uri, id, status, latency);
            sink(line.as_bytes());
            // A request line of hundreds of kilobytes leaves no such buffer behind.
            if line.capacity() > 64 << 10 {
                *line = String::new();
            }
        });
    }

    /// Appends the line to `line`: pieces pushed one after the other, no `fmt` machinery (a
    /// third of the line's cost when it had it).
    #[allow(clippy::too_many_arguments)]
    fn format(
        &self,
        line: &mut String,
        level: Level,
        method: &Method,
        uri: &str,
        id: &str,
        status: StatusCode,
        latency: Duration,
    ) {
        let info = level == Level::INFO;
        // The text around the fields, per format: before the timestamp; after it (the level and
        // target, up to the method); before the URI, the status, the latency, the id; the end.
        let (start, after_time, [to_uri, to_status, to_latency, to_id], end) = if self.json {
            (
                "{\"timestamp\":\"",
                if info {
                    "\",\"level\":\"INFO\",\"target\":\"access\",\"method\":\""
                } else {
                    "\",\"level\":\"DEBUG\",\"target\":\"access\",\"method\":\""
                },
                [
                    "\",\"uri\":\"",
                    "\",\"status\":",
                    ",\"latency_ms\":",
                    ",\"id\":\"",
                ],
                "\"}\n",
            )
        } else {
            (
                "",
                if info {
                    "  INFO access: "
                } else {
                    " DEBUG access: "
                },
                [" ", " status=", " latency_ms=", " id="],
                "\n",
            )
        };
        // The URI and the id are the client's: escaped inside a JSON string.
        let json = self.json;
        let text = |line: &mut String, s: &str| match json {
            true => {
                let _ = JsonEscaped(line).write_str(s);
            }
            false => line.push_str(s),
        };
        line.push_str(start);
        timestamp(line);
        line.push_str(after_time);
        line.push_str(method.as_str());
        line.push_str(to_uri);
        text(line, uri);
        line.push_str(to_status);
        line.push_str(status.as_str());
        line.push_str(to_latency);
        milliseconds(line, latency);
        line.push_str(to_id);
        text(line, id);
        line.push_str(end);
    }
}

/// Appends `latency` in milliseconds to the microsecond (`12.034`), without float formatting.
fn milliseconds(out: &mut String, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    out.push_str(itoa::Buffer::new().format(micros / 1000));
    out.push('.');
    zero_padded(out, micros % 1000, 3);
}

/// Appends `n` (below 10^`width`) in `width` digits, zeros in front.
fn zero_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// Appends now as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), the date part formatted once a second
/// per thread.
fn timestamp(out: &mut String) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != now.as_secs() {
            *second = now.as_secs();
            *text = crate::rfc3339::format(std::time::UNIX_EPOCH + Duration::from_secs(*second))
                .trim_end_matches('Z')
                .to_string();
        }
        out.push_str(text);
    });
    out.push('.');
    zero_padded(out, u64::from(now.subsec_micros()), 6);
    out.push('Z');
}

/// Writes into a JSON string's inside: quotes, backslashes and control characters escaped.
struct JsonEscaped<'a>(&'a mut String);

impl std::fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if u32::from(c) < 0x20 => write!(self.0, "\\u{:04x}", u32::from(c))?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        let mut t = String::new();
        timestamp(&mut t);
        let b = t.as_bytes();
        assert_eq!(t.len(), "2026-11-30T08:45:09.601964Z".len(), "{t}");
        assert_eq!(
            (b[4], b[10], b[13], b[19], b[26]),
            (b'-', b'T', b':', b'.', b'Z'),
            "{t}"
        );
        assert!(t.starts_with(&crate::rfc3339::now()[..10]), "{t}");
    }

    fn line(json: bool) -> String {
        let log = AccessLog {
            level: Some(Level::INFO),
            json,
        };
        let mut line = String::new();
        log.format(
            &mut line,
            Level::INFO,
            &Method::GET,
            "/collections/x/items?q=\"quoted\"",
            "id-1",
            StatusCode::NOT_MODIFIED,
            Duration::from_micros(1_234_567),
        );
        line
    }

    #[test]
    fn a_text_line_reads_like_the_rest_of_the_log() {
        let line = line(false);
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(stamp.len(), 27, "{line}");
        assert_eq!(
            rest,
            " INFO access: GET /collections/x/items?q=\"quoted\" status=304 latency_ms=1234.567 id=id-1\n"
        );
    }

    #[test]
    fn a_json_line_is_one_object() {
        let line = line(true);
        assert!(
            line.ends_with("}\n") && line.matches('\n').count() == 1,
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["uri"], "/collections/x/items?q=\"quoted\"");
        assert_eq!(v["status"], 304);
        assert_eq!(v["latency_ms"], 1234.567);
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "access");
        assert_eq!(v["id"], "id-1");
        assert_eq!(v["timestamp"].as_str().unwrap().len(), 27);
    }

    #[test]
    fn latencies_are_milliseconds_to_the_microsecond() {
        for (micros, text) in [
            (0, "0.000"),
            (7, "0.007"),
            (1_234_567, "1234.567"),
            (50_000, "50.000"),
        ] {
            let mut s = String::new();
            milliseconds(&mut s, Duration::from_micros(micros));
            assert_eq!(s, text);
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        write!(JsonEscaped(&mut s), "a\"b\\c\u{1}é").unwrap();
        let parsed: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(parsed, "a\"b\\c\u{1}é");
    }
}
