//! What the proxy says of a config before the client ACKs it. The client's own checks cover
//! the model (every route names a cluster, every name is unique, …); the proxy compiles more
//! (route regexes, gateway certificates), and a config it cannot run must be NACKed with its
//! reason, or the control plane would report the proxy in sync while it runs the old config.

use std::fmt;
use std::sync::Arc;
use verimesh_model::ProxyConfig;

type CheckFn = dyn Fn(&ProxyConfig) -> Result<(), String> + Send + Sync;

/// Runs on every config that passes the client's checks, on the stream's task, before the
/// config is put in force and ACKed; an error NACKs it with that text. It may apply the
/// config itself (a running proxy does: compiling it once, not twice).
#[derive(Clone)]
pub struct ConfigCheck(Arc<CheckFn>);

impl ConfigCheck {
    pub fn new(check: impl Fn(&ProxyConfig) -> Result<(), String> + Send + Sync + 'static) -> Self {
        ConfigCheck(Arc::new(check))
    }

    pub(super) fn run(&self, config: &ProxyConfig) -> Result<(), String> {
        (self.0)(config)
    }
}

impl fmt::Debug for ConfigCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfigCheck(..)")
    }
}
