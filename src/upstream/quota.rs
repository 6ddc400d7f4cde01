//! Per-API token buckets at the published quotas, and the pauses an upstream 429 imposes.
//!
//! The Géoplateforme counts requests per clock second; a token bucket refilling at the full rate
//! with a full-size burst can put up to twice the quota in one such second. The buckets therefore
//! keep a small burst (a tenth of the quota) and refill at 95 % of what remains, so that no window
//! of one second ever holds more than the quota.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{Quota, RateLimiter};

use super::{
    fair::{FairQueue, Permits},
    Api, RequestContext, UpstreamError,
};
use crate::cluster::{rate::Rate, Cluster};

pub struct Quotas {
    limiters: HashMap<Api, FairQueue>,
    paused_until: Mutex<HashMap<Api, Instant>>,
    queue_timeout: Duration,
    /// Cluster mode: the pauses are the replicas' (the buckets are, through their queues).
    shared: Option<Cluster>,
}

/// The shared bucket of the same shape as [`bucket_for`]'s.
fn shared_rate(quota: &Quota) -> Rate {
    Rate {
        interval: quota.replenish_interval(),
        burst: quota.burst_size().get(),
    }
}

/// The bucket for `per_second` requests per clock second, or None for "unlimited".
pub fn bucket_for(per_second: u32) -> Option<Quota> {
    let limit = NonZeroU32::new(per_second)?;
    // A tenth of the second's budget may go at once, at least one request.
    let burst = NonZeroU32::new(limit.get() / 10).unwrap_or(NonZeroU32::MIN);
    let refill_per_s = (f64::from(limit.get() - burst.get()).max(1.0)) * 0.95;
    Quota::with_period(Duration::from_secs_f64(1.0 / refill_per_s)).map(|q| q.allow_burst(burst))
}

impl Quotas {
    pub fn new(
        per_api: impl IntoIterator<Item = (Api, u32)>,
        queue_timeout: Duration,
        shared: Option<Cluster>,
    ) -> Self {
        let limiters = per_api
            .into_iter()
            .filter_map(|(api, rate)| {
                let quota = bucket_for(rate)?;
                let permits = Permits {
                    per_second: rate,
                    fallback: Mutex::new(None),
                    local: RateLimiter::direct(quota),
                    shared: shared
                        .clone()
                        .map(|c| (c, Quotas::bucket(api), shared_rate(&quota))),
                };
                Some((api, FairQueue::new(permits)))
            })
            .collect();
        Quotas {
            limiters,
            paused_until: Mutex::new(HashMap::new()),
            queue_timeout,
            shared,
        }
    }

    fn bucket(api: Api) -> String {
        format!("upstream:{}", api.config_name())
    }

    /// Waits for the API's turn (callers served in turn when several wait); fails at once while
    /// the API is paused after an upstream 429, or when the wait would exceed the queue timeout.
    pub async fn acquire(&self, api: Api) -> Result<(), UpstreamError> {
        if let Some(cluster) = &self.shared {
            // Another replica's 429 pauses this one too.
            if let Some(left) = cluster.pause_left(&Self::bucket(api)).await {
                self.pause_here(api, left);
            }
        }
        if let Some(left) = self.pause_left(api) {
            return Err(UpstreamError::RateLimited {
                api,
                retry_after_s: left.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        let Some(limiter) = self.limiters.get(&api) else {
            return Ok(());
        };
        let caller = RequestContext::current().caller;
        tokio::time::timeout(self.queue_timeout, limiter.acquire(caller))
            .await
            .map_err(|_| UpstreamError::QueueFull {
                api,
                retry_after_s: 1,
            })
    }

    /// Stops sending to `api` for `duration` (an upstream 429's Retry-After), on every replica
    /// in cluster mode.
    pub async fn pause(&self, api: Api, duration: Duration) {
        self.pause_here(api, duration);
        if let Some(cluster) = &self.shared {
            cluster.pause(&Self::bucket(api), duration).await;
        }
    }

    fn pause_here(&self, api: Api, duration: Duration) {
        let until = Instant::now() + duration;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        let entry = paused.entry(api).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    pub fn pause_left(&self, api: Api) -> Option<Duration> {
        let paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        paused
            .get(&api)
            .and_then(|until| until.checked_duration_since(Instant::now()))
            .filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unlimited() {
        assert!(bucket_for(0).is_none());
    }

    #[test]
    fn a_second_never_holds_more_than_the_quota() {
        for limit in [1u32, 5, 10, 30, 50, 400] {
            let q = bucket_for(limit).unwrap();
            // A full bucket at the start of a second, then one cell per interval.
            let refills = (1.0 / q.replenish_interval().as_secs_f64()).floor();
            let worst = f64::from(q.burst_size().get()) + refills;
            assert!(worst <= f64::from(limit), "limit {limit}: worst {worst}");
        }
    }

    #[tokio::test]
    async fn a_pause_answers_429_with_the_time_left() {
        let quotas = Quotas::new([(Api::Geocoding, 50)], Duration::from_secs(1), None);
        quotas.pause(Api::Geocoding, Duration::from_secs(5)).await;
        match quotas.acquire(Api::Geocoding).await {
            Err(UpstreamError::RateLimited { retry_after_s, .. }) => assert_eq!(retry_after_s, 5),
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert!(quotas.acquire(Api::Completion).await.is_ok());
    }
}
