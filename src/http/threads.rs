//! Connection threads: a few threads (one per CPU by default), each running a single-threaded
//! runtime of its own that accepts connections on its copy of the listener and serves them from
//! their first request to their close — nginx's worker per CPU. A request's tasks (hyper's
//! connection, the handler, their wake-ups) stay on the thread that serves it: no run queue, I/O
//! driver or timer is shared between threads, and no task moves between CPUs. The process's main
//! runtime keeps the rest (the idle sweep, the background refreshes, the drain).
//!
//! The thread that accepts a connection serves it unless another thread serves clearly fewer: then
//! the connection is handed over (a burst of new connections, all accepted by whichever thread
//! woke first, is spread evenly; in steady traffic a connection stays where it was accepted).
//!
//! What a handler spawns (an upstream fetch shared by coalesced requests, an async job) runs on its
//! connection's thread, and what it blocks on goes to that runtime's blocking pool, as before.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use tokio::{
    net::TcpStream,
    sync::{mpsc, oneshot},
};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The threads of one listener. Dropping it ends them, each runtime dropped with whatever still
/// runs on it.
pub struct ConnectionThreads {
    /// One per thread: dropped, the thread ends.
    _keep: Vec<oneshot::Sender<()>>,
    /// One per thread: resolves when its accept loop has returned.
    accepting: Vec<oneshot::Receiver<()>>,
}

/// What the threads share: each one's queue of handed-over connections and its count of
/// connections served. The queues hold admitted connections only, so `server.max_connections`
/// bounds them.
struct Threads {
    queues: Vec<mpsc::UnboundedSender<Task>>,
    served: Vec<AtomicUsize>,
}

/// A thread's handle on the others, given to its accept loop to place what it accepts.
#[derive(Clone)]
pub struct Placer {
    threads: Arc<Threads>,
    me: usize,
}

impl ConnectionThreads {
    /// Starts `count` threads (at least one), thread `i` running `accept_loop(placer)` and then
    /// the connections placed on it until dropped. For a thread that cannot start, the loop and
    /// its queue run on the caller's runtime instead.
    pub fn start<L, F>(count: usize, mut accept_loop: L) -> Self
    where
        L: FnMut(Placer) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let count = count.max(1);
        let (queues, received): (Vec<_>, Vec<_>) = (0..count)
            .map(|_| mpsc::unbounded_channel::<Task>())
            .unzip();
        let threads = Arc::new(Threads {
            queues,
            served: (0..count).map(|_| AtomicUsize::new(0)).collect(),
        });
        let mut started = ConnectionThreads {
            _keep: Vec::new(),
            accepting: Vec::new(),
        };
        for (me, received) in received.into_iter().enumerate() {
            let placer = Placer {
                threads: threads.clone(),
                me,
            };
            let (keep, task, accepting) = lifetime(accept_loop(placer), received);
            if let Err((e, task)) = start_thread(me, task) {
                tracing::warn!(error = %e, "cannot start a connection thread: serving on the main runtime");
                tokio::spawn(task);
            }
            started._keep.push(keep);
            started.accepting.push(accepting);
        }
        started
    }

    /// Resolves once every accept loop has returned (the connections they accepted may still be
    /// open).
    pub async fn stopped_accepting(&mut self) {
        for accepting in &mut self.accepting {
            let _ = accepting.await;
        }
    }
}

impl Placer {
    /// Serves `stream` with `serve`, on this thread unless another serves clearly fewer
    /// connections. `serve` is given the error if the hand-over failed, so that it can account
    /// for the connection.
    pub fn place<S, F>(&self, stream: TcpStream, serve: S)
    where
        S: FnOnce(std::io::Result<TcpStream>) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let target = self.lightest();
        let served = Served::count(self.threads.clone(), target);
        if target == self.me {
            tokio::spawn(async move {
                serve(Ok(stream)).await;
                drop(served);
            });
            return;
        }
        // Registered again by the runtime that serves it.
        let stream = stream.into_std();
        let task: Task = Box::pin(async move {
            serve(stream.and_then(TcpStream::from_std)).await;
            drop(served);
        });
        if let Err(mpsc::error::SendError(task)) = self.threads.queues[target].send(task) {
            tokio::spawn(task);
        }
    }

    /// This thread, unless another serves clearly fewer connections (by more than an eighth, and
    /// at least two).
    fn lightest(&self) -> usize {
        let served = |i: usize| self.threads.served[i].load(Ordering::Relaxed);
        let mine = served(self.me);
        let (other, fewest) = (0..self.threads.served.len())
            .map(|i| (i, served(i)))
            .min_by_key(|&(_, n)| n)
            .unwrap_or((self.me, mine));
        if mine > fewest + (fewest / 8).max(1) {
            other
        } else {
            self.me
        }
    }
}

/// One connection counted on the thread serving it, for as long as it is served.
struct Served {
    threads: Arc<Threads>,
    on: usize,
}

impl Served {
    fn count(threads: Arc<Threads>, on: usize) -> Self {
        threads.served[on].fetch_add(1, Ordering::Relaxed);
        Served { threads, on }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.threads.served[self.on].fetch_sub(1, Ordering::Relaxed);
    }
}

/// A thread's whole work: its accept loop and the connections handed to it, until the returned
/// sender is dropped; the receiver resolves when the accept loop returns.
fn lifetime(
    accept: impl Future<Output = ()> + Send + 'static,
    mut handed: mpsc::UnboundedReceiver<Task>,
) -> (oneshot::Sender<()>, Task, oneshot::Receiver<()>) {
    let (keep, kept) = oneshot::channel::<()>();
    let (accepted, accepting) = oneshot::channel::<()>();
    let task = Box::pin(async move {
        let accept = async move {
            accept.await;
            let _ = accepted.send(());
            std::future::pending::<()>().await
        };
        let take_over = async move {
            while let Some(task) = handed.recv().await {
                tokio::spawn(task);
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = accept => {}
            _ = take_over => {}
            _ = kept => {}
        }
    });
    (keep, task, accepting)
}

/// Runs `task` on a new thread with a single-threaded runtime of its own (or gives it back).
fn start_thread(i: usize, task: Task) -> Result<(), (std::io::Error, Task)> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Err((e, task)),
    };
    // The task goes over once the thread runs, so that it is still ours if the thread cannot start.
    let (give, take) = std::sync::mpsc::channel::<Task>();
    let thread = std::thread::Builder::new()
        .name(format!("geopf-conn-{i}"))
        .spawn(move || {
            if let Ok(task) = take.recv() {
                runtime.block_on(task);
            }
        });
    match thread {
        Ok(_) => give.send(task).map_err(|std::sync::mpsc::SendError(task)| {
            (
                std::io::Error::other("the connection thread ended at once"),
                task,
            )
        }),
        Err(e) => Err((e, task)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placer(served: &[usize], me: usize) -> Placer {
        let threads = Threads {
            queues: served.iter().map(|_| mpsc::unbounded_channel().0).collect(),
            served: served.iter().map(|&n| AtomicUsize::new(n)).collect(),
        };
        Placer {
            threads: Arc::new(threads),
            me,
        }
    }

    #[test]
    fn a_connection_stays_where_accepted_unless_another_thread_serves_clearly_fewer() {
        assert_eq!(placer(&[0, 0], 0).lightest(), 0);
        assert_eq!(placer(&[1, 0], 0).lightest(), 0);
        assert_eq!(placer(&[2, 0], 0).lightest(), 1);
        assert_eq!(placer(&[40, 36], 0).lightest(), 0);
        assert_eq!(placer(&[40, 30], 0).lightest(), 1);
        assert_eq!(placer(&[9, 9, 3], 1).lightest(), 2);
    }

    #[tokio::test]
    async fn a_burst_of_connections_accepted_by_one_thread_is_spread_over_all() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<String>();
        let mut listener = Some(listener);
        // Only thread 0 accepts; it keeps each connection open (served) for the whole test.
        let _threads = ConnectionThreads::start(2, move |placer| {
            let listener = listener.take();
            let seen_tx = seen_tx.clone();
            async move {
                let Some(listener) = listener else { return };
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((stream, _)) = listener.accept().await {
                    let seen_tx = seen_tx.clone();
                    placer.place(stream, move |stream| async move {
                        let name = std::thread::current().name().unwrap_or("").to_string();
                        seen_tx.send(name).unwrap();
                        let _open = stream.unwrap();
                        std::future::pending::<()>().await
                    });
                }
            }
        });
        let mut clients = Vec::new();
        for _ in 0..16 {
            clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let mut on = std::collections::HashMap::<String, usize>::new();
        for _ in 0..16 {
            *on.entry(seen.recv().await.unwrap()).or_default() += 1;
        }
        assert_eq!(on.len(), 2, "{on:?}");
        assert!(on.values().all(|&n| n >= 6), "{on:?}");
    }
}
