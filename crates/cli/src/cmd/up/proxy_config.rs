//! The proxy settings `up` takes from Istio's ProxyConfig, resolved as Istio resolves them:
//! the pod template's `proxy.istio.io/config` annotation field by field, else the mesh
//! config's `defaultConfig`.
//! - `concurrency`: the proxy's worker threads; 0 means one per core. Neither set leaves
//!   the proxy's own default (one worker; bench/README.md has the measurements behind it),
//!   where Istio's sidecar would take two.
//! - `holdApplicationUntilProxyStarts`: the application starts only once its proxy is
//!   running with its config, so its first connections are not refused (default false:
//!   both start together).

use verimesh_config::mesh::ProxyConfig;
use verimesh_config::Resource;

pub const PROXY_CONFIG_ANNOTATION: &str = "proxy.istio.io/config";

/// What a replica's proxy and application are started with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxySettings {
    pub concurrency: Option<u32>,
    pub hold_application: bool,
}

impl ProxySettings {
    /// The mesh-wide defaults (`meshConfig.defaultConfig`).
    pub fn mesh_default(default_config: Option<&ProxyConfig>) -> ProxySettings {
        ProxySettings {
            concurrency: default_config.and_then(|c| c.concurrency),
            hold_application: default_config
                .is_some_and(ProxyConfig::hold_application_until_proxy_starts),
        }
    }

    /// The settings for a replica of `deployment`, or why its annotation cannot be used
    /// (file, line, resource and field).
    pub fn for_replica(self, deployment: &Resource) -> Result<ProxySettings, String> {
        let annotation = deployment.as_deployment().and_then(|d| {
            d.spec
                .template
                .metadata
                .annotations
                .get(PROXY_CONFIG_ANNOTATION)
        });
        let Some(text) = annotation else {
            return Ok(self);
        };
        let at = deployment.origin_of("spec.template.metadata.annotations");
        let bad = |why: String| {
            format!(
                "{at}: {}/{}: spec.template.metadata.annotations.\"{PROXY_CONFIG_ANNOTATION}\": {why}",
                deployment.namespace(),
                deployment.name()
            )
        };
        let docs = verimesh_config::yaml::parse_documents(text)
            .map_err(|e| bad(format!("not YAML: {e}")))?;
        let Some(Some(config)) = docs.first() else {
            return Ok(self);
        };
        let config = config.to_json();
        let concurrency =
            match config.get("concurrency") {
                None => self.concurrency,
                Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || {
                        bad(format!(
                            "concurrency must be a whole number of threads, not {v}"
                        ))
                    },
                )?),
            };
        let hold_application = match config.get("holdApplicationUntilProxyStarts") {
            None => self.hold_application,
            Some(v) => v.as_bool().ok_or_else(|| {
                bad(format!(
                    "holdApplicationUntilProxyStarts must be true or false, not {v}"
                ))
            })?,
        };
        Ok(ProxySettings {
            concurrency,
            hold_application,
        })
    }
}
