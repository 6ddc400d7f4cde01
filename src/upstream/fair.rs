//! A fair queue in front of one API's token bucket: when the quota is the bottleneck, permits go
//! round-robin to the callers (access keys) that are waiting, so one caller's burst cannot starve
//! the others; alone, a caller gets the whole quota. In cluster mode the tokens come from the
//! replicas' shared bucket in Redis (one quota for all of them), and from the local bucket while
//! Redis is unavailable.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use std::{num::NonZeroU32, time::Duration};

use governor::DefaultDirectRateLimiter;
use indexmap::IndexMap;
use tokio::sync::oneshot;

use crate::cluster::{
    rate::{Rate, Reservation},
    Cluster,
};

/// The longest a shared reservation may be booked ahead (one dispatcher per replica holds at most
/// one at a time, so a slot is rarely further than a few intervals).
const MAX_BOOKED_AHEAD: Duration = Duration::from_secs(2);

/// Where one API's tokens come from: the local bucket, or the replicas' shared one.
pub struct Permits {
    pub local: DefaultDirectRateLimiter,
    /// Cluster mode: the shared bucket's name and rate.
    pub shared: Option<(Cluster, String, Rate)>,
    /// The API's quota, requests per second (for the fallback share).
    pub per_second: u32,
    /// Cluster mode with Redis away: this replica's share of the quota (the quota divided by the
    /// replicas last seen), rebuilt when their number changes.
    pub fallback: Mutex<Option<(u32, Arc<DefaultDirectRateLimiter>)>>,
}

impl Permits {
    /// Waits for the next token.
    async fn until_ready(&self) {
        if let Some((cluster, bucket, rate)) = &self.shared {
            loop {
                match cluster.reserve(bucket, *rate, MAX_BOOKED_AHEAD).await {
                    Some(Reservation::At(wait)) => {
                        tokio::time::sleep(wait).await;
                        return;
                    }
                    Some(Reservation::TooFar(wait)) => {
                        tokio::time::sleep(wait.min(Duration::from_millis(100))).await
                    }
                    Some(Reservation::Paused(left)) => {
                        tokio::time::sleep(left.min(Duration::from_secs(1))).await
                    }
                    // Redis unavailable: this replica's share.
                    None => return self.share_of(cluster.replicas()).until_ready().await,
                }
            }
        }
        self.local.until_ready().await;
    }

    /// The local bucket of a `1 / replicas` share of the quota.
    fn share_of(&self, replicas: u32) -> Arc<DefaultDirectRateLimiter> {
        let mut fallback = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, limiter)) = fallback.as_ref().filter(|(n, _)| *n == replicas) {
            return limiter.clone();
        }
        let share = (self.per_second / replicas).max(1);
        let quota =
            super::bucket_for(share).unwrap_or(governor::Quota::per_second(NonZeroU32::MIN));
        let limiter = Arc::new(governor::RateLimiter::direct(quota));
        *fallback = Some((replicas, limiter.clone()));
        limiter
    }
}

#[derive(Default)]
struct Waiting {
    queues: IndexMap<Arc<str>, VecDeque<oneshot::Sender<()>>>,
    /// The position of the next caller to serve.
    next: usize,
    dispatching: bool,
}

pub struct FairQueue {
    limiter: Arc<Permits>,
    waiting: Arc<Mutex<Waiting>>,
}

impl FairQueue {
    pub fn new(limiter: Permits) -> Self {
        FairQueue {
            limiter: Arc::new(limiter),
            waiting: Arc::new(Mutex::new(Waiting::default())),
        }
    }

    /// Waits for a permit for `caller`. Dropping the future gives the place up.
    pub async fn acquire(&self, caller: Arc<str>) {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            w.queues.entry(caller).or_default().push_back(tx);
            !std::mem::replace(&mut w.dispatching, true)
        };
        if start {
            tokio::spawn(dispatch(self.limiter.clone(), self.waiting.clone()));
        }
        let _ = rx.await;
    }
}

/// Hands out one permit per token, round-robin over the callers with someone waiting; ends when
/// nobody waits.
async fn dispatch(limiter: Arc<Permits>, waiting: Arc<Mutex<Waiting>>) {
    loop {
        limiter.until_ready().await;
        let mut w = waiting.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            w.queues.retain(|_, q| !q.is_empty());
            if w.queues.is_empty() {
                w.dispatching = false;
                return;
            }
            let i = w.next % w.queues.len();
            w.next = i + 1;
            let sender = w.queues.get_index_mut(i).and_then(|(_, q)| q.pop_front());
            // A waiter that gave up does not use the token: the next one gets it.
            if sender.is_some_and(|tx| tx.send(()).is_ok()) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::{Quota, RateLimiter};
    use std::{num::NonZeroU32, time::Duration};

    #[tokio::test]
    async fn waiting_callers_are_served_in_turn() {
        let limiter = RateLimiter::direct(
            Quota::per_second(NonZeroU32::new(50).unwrap()).allow_burst(NonZeroU32::MIN),
        );
        let q = Arc::new(FairQueue::new(Permits {
            local: limiter,
            shared: None,
            per_second: 50,
            fallback: Mutex::new(None),
        }));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Alice queues 10 requests first, then Bob 10.
        for who in ["alice", "bob"] {
            for _ in 0..10 {
                let (q, order) = (q.clone(), order.clone());
                tasks.push(tokio::spawn(async move {
                    q.acquire(Arc::from(who)).await;
                    order.lock().unwrap().push(who);
                }));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        let first_ten = &order[..10];
        let bobs = first_ten.iter().filter(|w| **w == "bob").count();
        assert!(bobs >= 3, "bob waited behind alice's burst: {order:?}");
    }
}
