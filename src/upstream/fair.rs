//! A fair queue in front of one API's token bucket: when the quota is the bottleneck, permits go
//! round-robin to the callers (access keys) that are waiting, so one caller's burst cannot starve
//! the others; alone, a caller gets the whole quota.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use governor::DefaultDirectRateLimiter;
use indexmap::IndexMap;
use tokio::sync::oneshot;

#[derive(Default)]
struct Waiting {
    queues: IndexMap<Arc<str>, VecDeque<oneshot::Sender<()>>>,
    /// The position of the next caller to serve.
    next: usize,
    dispatching: bool,
}

pub struct FairQueue {
    limiter: Arc<DefaultDirectRateLimiter>,
    waiting: Arc<Mutex<Waiting>>,
}

impl FairQueue {
    pub fn new(limiter: DefaultDirectRateLimiter) -> Self {
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
async fn dispatch(limiter: Arc<DefaultDirectRateLimiter>, waiting: Arc<Mutex<Waiting>>) {
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
        let q = Arc::new(FairQueue::new(limiter));
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
