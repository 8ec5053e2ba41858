//! How many worker threads a replica's proxy runs, as Istio decides it: the pod's
//! `proxy.istio.io/config` annotation (`concurrency: N`), else the mesh's
//! `defaultConfig.concurrency`; 0 means one per core. Neither set leaves the proxy's own
//! default (one worker; bench/README.md has the measurements behind it), where Istio's
//! sidecar would take two.

use verimesh_config::Resource;

pub const PROXY_CONFIG_ANNOTATION: &str = "proxy.istio.io/config";

/// The concurrency for a replica of `deployment`, or why its annotation cannot be used.
pub fn for_replica(
    deployment: &Resource,
    mesh_default: Option<u32>,
) -> Result<Option<u32>, String> {
    let annotation = deployment.as_deployment().and_then(|d| {
        d.spec
            .template
            .metadata
            .annotations
            .get(PROXY_CONFIG_ANNOTATION)
    });
    let Some(text) = annotation else {
        return Ok(mesh_default);
    };
    let at = deployment.origin_of("spec.template.metadata.annotations");
    let bad = |why: String| {
        format!(
            "{at}: {}/{}: spec.template.metadata.annotations.\"{PROXY_CONFIG_ANNOTATION}\": {why}",
            deployment.namespace(),
            deployment.name()
        )
    };
    let docs =
        verimesh_config::yaml::parse_documents(text).map_err(|e| bad(format!("not YAML: {e}")))?;
    let Some(Some(config)) = docs.first() else {
        return Ok(mesh_default);
    };
    match config.to_json().get("concurrency") {
        None => Ok(mesh_default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                bad(format!(
                    "concurrency must be a whole number of threads, not {v}"
                ))
            }),
    }
}
