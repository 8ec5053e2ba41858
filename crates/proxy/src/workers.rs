//! Worker threads, as Envoy has them: each worker is a thread with a single-threaded
//! runtime of its own, and a connection lives on one worker from accept to close — its
//! tasks, its upstream connections (pools are per worker) and the recording of its
//! requests. No request's wake-up crosses threads, which a work-stealing scheduler cannot
//! promise. The listeners run on worker 0 (the thread that started the proxy) and hand each
//! accepted connection to the worker with the fewest open connections, so a few long-lived
//! connections (HTTP/2 between proxies) spread over the workers instead of landing where a
//! hash of their addresses puts them.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The worker running on this thread; 0 on any thread that is not a worker.
pub fn current() -> usize {
    CURRENT.with(Cell::get)
}

/// One `T` per worker, each on cache lines of its own (workers write theirs without
/// touching the others'); `mine` is the running worker's.
pub struct PerWorker<T>(Box<[Padded<T>]>);

#[repr(align(128))]
struct Padded<T>(T);

impl<T> PerWorker<T> {
    pub fn new(workers: usize, make: impl Fn() -> T) -> Self {
        PerWorker((0..workers.max(1)).map(|_| Padded(make())).collect())
    }

    /// The running worker's (the first one's on a thread that is not a worker).
    pub fn mine(&self) -> &T {
        let all = &self.0;
        &all.get(current()).unwrap_or(&all[0]).0
    }

    pub fn get(&self, worker: usize) -> Option<&T> {
        self.0.get(worker).map(|p| &p.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|p| &p.0)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.0.iter_mut().map(|p| &mut p.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

pub struct Workers {
    /// Runtimes of workers 1..n; worker 0 is the runtime the proxy was started on.
    others: Vec<Handle>,
    /// Open connections per worker.
    load: PerWorker<AtomicUsize>,
    /// Dropping these ends the other workers' runtimes.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// `count` workers (at least one): the calling thread's runtime and `count - 1` threads.
    pub fn start(count: usize) -> io::Result<Workers> {
        let count = count.max(1);
        let mut others = Vec::with_capacity(count - 1);
        let mut stop = Vec::with_capacity(count - 1);
        for index in 1..count {
            let (tx, rx) = oneshot::channel::<()>();
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            // The runtime is built, run and dropped on its own thread: a runtime may not be
            // dropped from within another one.
            std::thread::Builder::new()
                .name(format!("verimesh-worker-{index}"))
                .spawn(move || {
                    CURRENT.with(|c| c.set(index));
                    let rt = match Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => return drop(handle_tx.send(Err(e))),
                    };
                    if handle_tx.send(Ok(rt.handle().clone())).is_err() {
                        return;
                    }
                    // Runs until the proxy drops its sender; dropping the runtime then
                    // cancels the worker's connections.
                    let _ = rt.block_on(rx);
                })?;
            let handle = handle_rx.recv().map_err(|_| {
                io::Error::other("worker thread ended before its runtime started")
            })??;
            others.push(handle);
            stop.push(tx);
        }
        Ok(Workers {
            others,
            load: PerWorker::new(count, AtomicUsize::default),
            _stop: stop,
        })
    }

    pub fn count(&self) -> usize {
        self.load.len()
    }

    /// Open connections per worker.
    pub fn loads(&self) -> Vec<usize> {
        self.load
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect()
    }

    /// Runs `task(worker)` on every worker: what each needs once (recording its requests).
    pub fn spawn_each<F, Fut>(&self, task: F) -> Vec<JoinHandle<()>>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut spawned = vec![tokio::spawn(task(0))];
        for (i, handle) in self.others.iter().enumerate() {
            spawned.push(handle.spawn(task(i + 1)));
        }
        spawned
    }

    /// Serves an accepted connection on the worker with the fewest open connections (the
    /// lowest-numbered among equals).
    pub fn dispatch<F, Fut>(self: &Arc<Self>, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let worker = self.least_loaded();
        let open = Open::new(self.clone(), worker);
        let Some(handle) = worker.checked_sub(1).and_then(|i| self.others.get(i)) else {
            tokio::spawn(async move {
                serve(stream).await;
                drop(open);
            });
            return;
        };
        // A socket is registered with one runtime's poller; it moves as a plain socket and
        // registers again on the worker that serves it.
        let plain = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return tracing::warn!(worker, "handing a connection over: {e}"),
        };
        handle.spawn(async move {
            match TcpStream::from_std(plain) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::warn!(worker, "taking a connection over: {e}"),
            }
            drop(open);
        });
    }

    fn least_loaded(&self) -> usize {
        let mut best = (0, usize::MAX);
        for (i, l) in self.load.iter().enumerate() {
            let n = l.load(Ordering::Relaxed);
            if n < best.1 {
                best = (i, n);
            }
        }
        best.0
    }
}

/// One open connection counted against its worker until dropped.
struct Open {
    workers: Arc<Workers>,
    worker: usize,
}

impl Open {
    fn new(workers: Arc<Workers>, worker: usize) -> Open {
        if let Some(n) = workers.load.get(worker) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Open { workers, worker }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(n) = self.workers.load.get(self.worker) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Each connection is served on its own worker while both are open, and the worker
    /// that serves it is a different thread from the one that accepted it.
    #[tokio::test]
    async fn connections_spread_over_workers_and_run_there() {
        let workers = Arc::new(Workers::start(2).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut served_on = Vec::new();
        for _ in 0..2 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let (tx, rx) = oneshot::channel();
            workers.dispatch(stream, move |mut s| async move {
                let _ = tx.send((current(), std::thread::current().id()));
                let mut b = [0u8; 1];
                // Echo one byte, then hold the connection until the client closes it.
                if s.read_exact(&mut b).await.is_ok() {
                    let _ = s.write_all(&b).await;
                }
                let _ = s.read(&mut b).await;
            });
            served_on.push(rx.await.unwrap());
            clients.push(client);
        }
        assert_eq!(served_on[0].0, 0);
        assert_eq!(served_on[1].0, 1);
        assert_eq!(served_on[0].1, std::thread::current().id());
        assert_ne!(served_on[1].1, std::thread::current().id());
        assert_eq!(workers.loads(), vec![1, 1]);
        for c in &mut clients {
            c.write_all(b"x").await.unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"x");
        }
        drop(clients);
        for _ in 0..200 {
            if workers.loads() == vec![0, 0] {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("connections still counted: {:?}", workers.loads());
    }
}
