//! Rates shared by the replicas: one GCRA (generic cell rate algorithm) per bucket in Redis, made
//! atomic by a Lua script on Redis's own clock, so that N replicas together stay under one limit.
//!
//! Two uses: [`Cluster::reserve`] books the next slot of an upstream API's quota (the caller
//! sleeps until it, then sends: requests queue instead of being refused), and checks the shared
//! pause an upstream 429 imposed; [`Cluster::allow`] answers at once whether a client key's
//! budget has room (refused requests get `Retry-After`).

use std::time::Duration;

use super::{millis, Cluster};

/// A bucket: one cell every `interval`, up to `burst` cells at once.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

impl Rate {
    /// The tolerance of the GCRA: how far ahead of time the burst lets a cell go.
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.max(1) - 1)
    }
}

/// What [`Cluster::reserve`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is booked: send after this wait.
    At(Duration),
    /// The next slot is further than the caller may wait.
    TooFar(Duration),
    /// The API is paused (an upstream 429) for this long.
    Paused(Duration),
}

/// KEYS: the bucket's theoretical arrival time, the pause. ARGV: interval, tolerance, the longest
/// wait (µs). Answers {1, wait µs} booked, {0, wait µs} too far, {-1, pause ms} paused.
const RESERVE: &str = r"
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {-1, paused} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait < 0 then wait = 0 end
if wait > tonumber(ARGV[3]) then return {0, wait} end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return {1, wait}
";

/// KEYS: the bucket. ARGV: interval, tolerance (µs). Answers {1, 0} allowed, {0, wait µs} not.
const ALLOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[2]) - now
if wait > 0 then return {0, wait} end
local next_tat = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return {1, 0}
";

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Cluster {
    /// Books the next slot of `bucket` (an upstream API) for this replica, unless the API is
    /// paused or the slot is more than `max_wait` away. `None`: Redis unavailable.
    pub async fn reserve(
        &self,
        bucket: &str,
        rate: Rate,
        max_wait: Duration,
    ) -> Option<Reservation> {
        let (tat, pause) = (
            self.key(format_args!("rate:{bucket}")),
            self.pause_key(bucket),
        );
        let (kind, amount) = self
            .call("reserve", |mut c| async move {
                redis::Script::new(RESERVE)
                    .key(&tat)
                    .key(&pause)
                    .arg(micros(rate.interval))
                    .arg(micros(rate.tolerance()))
                    .arg(micros(max_wait))
                    .invoke_async::<(i64, i64)>(&mut c)
                    .await
            })
            .await?;
        let amount = u64::try_from(amount).unwrap_or(0);
        Some(match kind {
            1 => Reservation::At(Duration::from_micros(amount)),
            0 => Reservation::TooFar(Duration::from_micros(amount)),
            _ => Reservation::Paused(Duration::from_millis(amount)),
        })
    }

    /// Whether `bucket` (a client key's budget) has room now: `Ok`, or `Err` with the wait.
    /// `None`: Redis unavailable.
    pub async fn allow(&self, bucket: &str, rate: Rate) -> Option<Result<(), Duration>> {
        let key = self.key(format_args!("budget:{bucket}"));
        let (allowed, wait) = self
            .call("allow", |mut c| async move {
                redis::Script::new(ALLOW)
                    .key(&key)
                    .arg(micros(rate.interval))
                    .arg(micros(rate.tolerance()))
                    .invoke_async::<(i64, i64)>(&mut c)
                    .await
            })
            .await?;
        Some(if allowed == 1 {
            Ok(())
        } else {
            Err(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
        })
    }

    fn pause_key(&self, bucket: &str) -> String {
        self.key(format_args!("pause:{bucket}"))
    }

    /// Pauses `bucket` for every replica (an upstream 429's `Retry-After`); a longer pause in
    /// force stays.
    pub async fn pause(&self, bucket: &str, duration: Duration) {
        let key = self.pause_key(bucket);
        self.call("pause", |mut c| async move {
            let ms = millis(duration);
            redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("PX")
                .arg(ms)
                .arg("NX")
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(ms)
                .arg("GT")
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// What is left of the shared pause of `bucket`, if any.
    pub async fn pause_left(&self, bucket: &str) -> Option<Duration> {
        let key = self.pause_key(bucket);
        let left = self
            .call("pause_left", |mut c| async move {
                redis::cmd("PTTL")
                    .arg(&key)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await?;
        (left > 0).then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }
}
