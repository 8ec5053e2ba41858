//! The async runtime the proxy is started on: single-threaded. It is worker 0; more
//! workers (`ProxyOptions::workers`) are threads with runtimes of their own
//! (`crate::workers`). A single-threaded scheduler never hands a connection's tasks to
//! another thread, so no request pays for cross-thread wake-ups (futex and eventfd system
//! calls) or work stealing.

use std::io;
use tokio::runtime::{Builder, Runtime};

/// The default number of workers: one suits most sidecars, which proxy one workload.
pub const DEFAULT_WORKERS: usize = 1;

/// The runtime to start a proxy on.
pub fn runtime() -> io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_tasks() {
        let rt = super::runtime().unwrap();
        let got = rt.block_on(async { tokio::spawn(async { 7 }).await.unwrap() });
        assert_eq!(got, 7);
    }
}
