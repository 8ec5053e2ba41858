//! The async runtime a proxy runs on. One thread by default: a sidecar proxies one
//! workload, and a single-threaded scheduler never hands a connection's tasks to another
//! thread, so no request pays for cross-thread wake-ups (futex and eventfd system calls) or
//! work stealing, and the process keeps one stack and one allocator arena. More threads (a
//! work-stealing scheduler) for workloads that need more than a core of proxying.

use std::io;
use tokio::runtime::{Builder, Runtime};

/// The default number of threads serving connections.
pub const DEFAULT_THREADS: usize = 1;

/// A runtime with `threads` threads serving connections (0 counts as 1).
pub fn runtime(threads: usize) -> io::Result<Runtime> {
    if threads <= 1 {
        Builder::new_current_thread().enable_all().build()
    } else {
        Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_flavours_run_tasks() {
        for threads in [0, 1, 2] {
            let rt = super::runtime(threads).unwrap();
            let got = rt.block_on(async { tokio::spawn(async { 7 }).await.unwrap() });
            assert_eq!(got, 7);
        }
    }
}
