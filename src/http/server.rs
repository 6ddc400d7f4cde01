//! The listener: accepts connections and serves them with hyper (HTTP/1.1 and HTTP/2), bounded.
//!
//! - A connection with no request in flight for `server.idle_timeout_s` is closed, whether it never
//!   sent a byte, is trickling its request header, or sits idle between keep-alive requests.
//! - At most `server.max_connections` are open: beyond it the longest-idle connection is closed to
//!   make room, and when every connection is busy the newcomer gets an immediate 503 (never a hang).
//! - The soft limit on open files is raised to the hard one, and the cap kept below it.
//! - On shutdown, idle connections close at once and busy ones finish (see [`crate::serve_on`]).
//! - Connections are accepted and served by `server.connection_threads` threads, each with a
//!   runtime of its own ([`super::threads`]); the sweep and the drain run on the main runtime.
//!
//! Per request the listener itself touches only its connection's own state — no process-wide
//! counter, lock or clock read: idle times are dated by the sweep's clock (read once a tick), and
//! a connection is told to close through its own slot rather than by polling shared signals each
//! time it wakes.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    extract::ConnectInfo,
    Router,
};
use futures::task::AtomicWaker;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::{fast_path::Outcome, threads::Placer};
use crate::config::ServerConfig;

/// Descriptors kept free for the upstream connections, the disk caches and the logs.
const RESERVED_FILES: u64 = 256;

/// The connection bounds of a listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    /// Threads serving the connections (see [`super::threads`]).
    pub threads: usize,
}

impl ConnectionLimits {
    /// The configured bounds, the cap lowered to what the open-file limit allows.
    pub fn from_config(server: &ServerConfig) -> Self {
        let files = raise_open_file_limit();
        let mut max = server.max_connections.max(1);
        if let Some(files) = files {
            let allowed =
                usize::try_from(files.saturating_sub(RESERVED_FILES).max(16)).unwrap_or(usize::MAX);
            if allowed < max {
                tracing::warn!(
                    configured = max,
                    allowed,
                    "server.max_connections lowered to the open-file limit"
                );
                max = allowed;
            }
        }
        ConnectionLimits {
            max_connections: max,
            idle_timeout: Duration::from_secs(server.idle_timeout_s.max(1)),
            threads: match server.connection_threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
        }
    }
}

/// Raises the soft limit on open files to the hard one; returns the limit in force.
fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open-file limit");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What a connection is asked to do, in increasing order of urgency.
const KEEP: u8 = 0;
/// Finish the request in flight, then close (shutdown).
const DRAIN: u8 = 1;
/// Close now.
const CLOSE: u8 = 2;

/// One open connection, as the cap and the idle sweep see it.
struct Slot {
    in_flight: AtomicUsize,
    /// The registry's clock when the last request ended (or the connection was accepted).
    last_active_ms: AtomicU64,
    /// [`KEEP`], [`DRAIN`] or [`CLOSE`]; only ever raised.
    ask: std::sync::atomic::AtomicU8,
    /// The connection's task, woken when `ask` is raised.
    task: AtomicWaker,
}

impl Slot {
    fn ask(&self, what: u8) {
        self.ask.fetch_max(what, Ordering::AcqRel);
        self.task.wake();
    }
}

/// The open connections.
struct Registry {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    next_id: AtomicU64,
    started: Instant,
    /// Milliseconds since `started`, as of the sweep's last tick: the idle times need no finer
    /// clock, and a request's end reads this rather than the system's clock.
    clock_ms: AtomicU64,
}

impl Registry {
    fn new() -> Self {
        Registry {
            slots: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            started: Instant::now(),
            clock_ms: AtomicU64::new(0),
        }
    }

    /// Reads the clock and keeps it for [`Registry::clock_ms`].
    fn now_ms(&self) -> u64 {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.clock_ms.store(now, Ordering::Relaxed);
        now
    }

    /// The clock as of its last reading (at most a sweep's tick old).
    fn clock_ms(&self) -> u64 {
        self.clock_ms.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection if there is room, closing the longest-idle one when full.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Slot>)> {
        let mut slots = self.lock();
        if slots.len() >= max {
            let idlest = slots
                .iter()
                .filter(|(_, s)| s.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, s)| s.last_active_ms.load(Ordering::Relaxed))
                .map(|(id, _)| *id)?;
            if let Some(slot) = slots.remove(&idlest) {
                slot.ask(CLOSE);
                metrics::counter!("geopf_connections_closed_total", "why" => "evicted")
                    .increment(1);
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(self.now_ms()),
            ask: std::sync::atomic::AtomicU8::new(KEEP),
            task: AtomicWaker::new(),
        });
        slots.insert(id, slot.clone());
        Some((id, slot))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Closes the connections with nothing in flight for longer than `idle`.
    fn sweep(&self, idle: Duration) {
        let cutoff = self
            .now_ms()
            .saturating_sub(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
        let mut slots = self.lock();
        slots.retain(|_, s| {
            let idle = s.in_flight.load(Ordering::Acquire) == 0
                && s.last_active_ms.load(Ordering::Relaxed) < cutoff;
            if idle {
                s.ask(CLOSE);
                metrics::counter!("geopf_connections_closed_total", "why" => "idle").increment(1);
            }
            !idle
        });
    }

    /// Shutdown: every connection with nothing in flight closes, the others once their request
    /// is answered.
    fn shut_down(&self) {
        for s in self.lock().values() {
            let busy = s.in_flight.load(Ordering::Acquire) > 0;
            s.ask(if busy { DRAIN } else { CLOSE });
        }
    }
}

/// What the requests of one connection share: one reference counted per request, the
/// connection's own rather than the process's.
struct Connection {
    router: Router,
    fast_path: Option<Arc<super::fast_path::FastPath>>,
    registry: Arc<Registry>,
    slot: Arc<Slot>,
    peer: SocketAddr,
}

impl Connection {
    async fn answer(
        self: Arc<Self>,
        mut request: hyper::Request<Incoming>,
    ) -> hyper::Response<CountedBody> {
        let active = Active::new(self.clone());
        let outcome = match &self.fast_path {
            Some(f) => f.answer(&request).await,
            None => Outcome::Full(None),
        };
        let response = match outcome {
            Outcome::Answered(r) => r,
            Outcome::Full(key) => {
                request.extensions_mut().insert(ConnectInfo(self.peer));
                let router = self.router.clone();
                let response = match router.oneshot(request.map(Body::new)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                match (key, &self.fast_path) {
                    (Some(key), Some(f)) => f.keep(key, response).await,
                    _ => response,
                }
            }
        };
        response.map(|inner| CountedBody {
            inner,
            _active: active,
        })
    }
}

/// A request in flight on a connection: counted from the request head until the response body
/// is sent or dropped.
struct Active(Arc<Connection>);

impl Active {
    fn new(connection: Arc<Connection>) -> Self {
        connection.slot.in_flight.fetch_add(1, Ordering::AcqRel);
        Active(connection)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let Connection { slot, registry, .. } = &*self.0;
        slot.last_active_ms
            .store(registry.clock_ms(), Ordering::Relaxed);
        slot.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is sent.
struct CountedBody {
    inner: Body,
    _active: Active,
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a connection beyond the cap when none can be closed: written without waiting.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 161\r\n\r\n{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\"detail\":\"every connection of this gateway is busy (server.max_connections); retry in a second\"}";

/// Serves `router` on `listener` until `shutdown` turns true, then lets busy connections finish.
///
/// Each connection thread accepts on its own copy of the listener and serves what it accepted
/// ([`super::threads`]); the idle sweep and the drain at shutdown run here.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    fast_path: Option<Arc<super::fast_path::FastPath>>,
    limits: ConnectionLimits,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry::new());
    let sweeper = {
        let registry = registry.clone();
        let every =
            (limits.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // A request's end is dated by the clock of the last tick, up to a tick early:
                // a connection is closed after `idle_timeout`, within two ticks of it.
                registry.sweep(limits.idle_timeout + every);
                metrics::gauge!("geopf_connections_open").set(registry.len() as f64);
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No timer on HTTP/1: hyper would arm one per request for its header read timeout, which the
    // sweep above already enforces (a trickled request header is an idle connection).
    builder.http2().timer(TokioTimer::new());
    let acceptor = Arc::new(Acceptor {
        router,
        fast_path,
        registry: registry.clone(),
        builder,
        max_connections: limits.max_connections,
    });
    let listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot hand the listener to the connection threads");
            return;
        }
    };
    let mut threads = super::threads::ConnectionThreads::start(limits.threads, |placer| {
        let acceptor = acceptor.clone();
        let listener = listener.try_clone();
        let shutdown = shutdown.clone();
        async move {
            match listener.and_then(TcpListener::from_std) {
                Ok(listener) => acceptor.accept(listener, placer, shutdown).await,
                Err(e) => tracing::error!(error = %e, "a connection thread cannot listen"),
            }
        }
    });
    threads.stopped_accepting().await;
    sweeper.abort();
    registry.shut_down();
    while registry.len() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What every accept loop shares.
struct Acceptor {
    router: Router,
    fast_path: Option<Arc<super::fast_path::FastPath>>,
    registry: Arc<Registry>,
    builder: auto::Builder<TokioExecutor>,
    max_connections: usize,
}

impl Acceptor {
    /// Accepts connections until `shutdown`, each placed on a connection thread by `placer`.
    async fn accept(
        self: Arc<Self>,
        listener: TcpListener,
        placer: Placer,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopped(&mut shutdown) => return,
            };
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer, &placer),
                Err(e) => {
                    // Out of descriptors, say: close what is idle and breathe rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    self.registry.sweep(Duration::ZERO);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Serves `stream` if there is room for it, else refuses it at once.
    fn admit(self: &Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr, placer: &Placer) {
        let Some((id, slot)) = self.registry.admit(self.max_connections) else {
            metrics::counter!("geopf_connections_closed_total", "why" => "refused").increment(1);
            let _ = stream.try_write(REFUSED);
            return;
        };
        // Answers go out in one segment rather than waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let connection = Arc::new(Connection {
            router: self.router.clone(),
            fast_path: self.fast_path.clone(),
            registry: self.registry.clone(),
            slot: slot.clone(),
            peer,
        });
        let acceptor = self.clone();
        placer.place(stream, move |stream| async move {
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "a connection could not be handed to another thread");
                    acceptor.registry.remove(id);
                    return;
                }
            };
            let service = hyper::service::service_fn(move |request| {
                let answer = connection.clone().answer(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let serving = acceptor
                .builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(serving);
            let mut draining = false;
            std::future::poll_fn(|cx| {
                slot.task.register(cx.waker());
                match slot.ask.load(Ordering::Acquire) {
                    // Dropping the connection closes the socket.
                    CLOSE => return Poll::Ready(()),
                    DRAIN if !draining => {
                        draining = true;
                        serving.as_mut().graceful_shutdown();
                    }
                    _ => {}
                }
                serving.as_mut().poll(cx).map(|_| ())
            })
            .await;
            acceptor.registry.remove(id);
        });
    }
}

/// Resolves once shutdown is asked for (or its sender is gone).
async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The peer address of a request (set for every connection this listener serves).
pub fn peer(request: &axum::http::request::Parts) -> Option<SocketAddr> {
    request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_problem_answer() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
    }
}
