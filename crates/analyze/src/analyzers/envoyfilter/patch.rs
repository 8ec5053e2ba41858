//! `envoyfilter.EnvoyPatchAnalyzer`: patch operations that do not fit what they apply to, and
//! relative operations (insert before/after, replace, remove) whose outcome depends on the
//! order filters are applied in, which only a priority fixes.

use crate::analyzers::Analyzer;
use crate::messages::{self, MessageType};
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use verimesh_config::envoy_filter::{ApplyTo, EnvoyConfigObjectPatch, Operation};
use verimesh_config::{Kind, Resource};

pub struct EnvoyPatchAnalyzer;

/// What identifies the filter a patch is about: the `name` in its value, else the network filter
/// it matches. Names taken from values and from matches are never equal to each other.
fn instance_name(cp: &EnvoyConfigObjectPatch) -> String {
    let Some(serde_json::Value::Object(value)) = cp.patch.as_ref().and_then(|p| p.value.as_ref())
    else {
        return String::new();
    };
    if let Some(name) = value.get("name") {
        return format!("\u{0}value:{name}");
    }
    cp.match_
        .as_ref()
        .and_then(|m| m.listener.as_ref())
        .and_then(|l| l.filter_chain.as_ref())
        .map(|fc| fc.filter.as_ref().map_or(String::new(), |f| f.name.clone()))
        .unwrap_or_default()
}

/// One finding per code and filter, as each names the filter only.
struct Findings<'a> {
    seen: BTreeSet<(&'static str, usize)>,
    res: &'a Resource,
    index: usize,
}

impl Findings<'_> {
    fn add(&mut self, out: &mut Report, kind: MessageType, patch: usize, text: String) {
        if self.seen.insert((kind.code, self.index)) {
            out.add(
                kind,
                self.res,
                &format!("spec.configPatches[{patch}]"),
                text,
            );
        }
    }
}

impl Analyzer for EnvoyPatchAnalyzer {
    fn name(&self) -> &'static str {
        "envoyfilter.EnvoyPatchAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // Filters named by patches that also match on a proxy version, in the order seen.
        let mut versioned: Vec<String> = Vec::new();
        for (index, res) in snap.of_kind(Kind::EnvoyFilter).iter().enumerate() {
            let Some(ef) = res.as_envoy_filter() else {
                continue;
            };
            let mut found = Findings {
                seen: BTreeSet::new(),
                res,
                index,
            };
            for (i, cp) in ef.config_patches.iter().enumerate() {
                let Some(patch) = &cp.patch else {
                    break;
                };
                let name = instance_name(cp);
                let route_level = matches!(
                    cp.apply_to,
                    ApplyTo::RouteConfiguration | ApplyTo::HttpRoute
                );
                let relative = match patch.operation {
                    Operation::Add => {
                        if route_level {
                            found.add(
                                out,
                                messages::ENVOY_FILTER_USES_ADD_OPERATION_INCORRECTLY,
                                i,
                                format!("patch {i} adds to {:?}, where ADD is ignored: it only adds listeners, filter chains, filters, clusters and routes", cp.apply_to),
                            );
                        }
                        false
                    }
                    Operation::Remove => {
                        if route_level {
                            found.add(
                                out,
                                messages::ENVOY_FILTER_USES_REMOVE_OPERATION_INCORRECTLY,
                                i,
                                format!(
                                    "patch {i} removes from {:?}, where REMOVE is ignored",
                                    cp.apply_to
                                ),
                            );
                            false
                        } else {
                            true
                        }
                    }
                    Operation::Replace => {
                        if matches!(
                            cp.apply_to,
                            ApplyTo::NetworkFilter | ApplyTo::HttpFilter | ApplyTo::VirtualHost
                        ) {
                            true
                        } else {
                            found.add(
                                out,
                                messages::ENVOY_FILTER_USES_REPLACE_OPERATION_INCORRECTLY,
                                i,
                                format!("patch {i} replaces a {:?}; REPLACE only works on network filters, HTTP filters and virtual hosts", cp.apply_to),
                            );
                            false
                        }
                    }
                    Operation::InsertBefore | Operation::InsertAfter => true,
                    _ => false,
                };
                if relative && ef.priority == 0 {
                    if versioned.contains(&name) {
                        found.add(
                            out,
                            messages::ENVOY_FILTER_USES_RELATIVE_OPERATION_WITH_PROXY_VERSION,
                            i,
                            format!("patch {i} uses the relative operation {:?} without a priority on a filter that another patch targets by proxy version: during an upgrade, when both proxy versions run, it may not apply; set a priority, or use INSERT_FIRST or ADD", patch.operation),
                        );
                    } else {
                        found.add(
                            out,
                            messages::ENVOY_FILTER_USES_RELATIVE_OPERATION,
                            i,
                            format!("patch {i} uses the relative operation {:?} without a priority, so whether it applies depends on the order filters are applied in; set a priority, or use INSERT_FIRST or ADD", patch.operation),
                        );
                    }
                }
                let has_version = cp
                    .match_
                    .as_ref()
                    .and_then(|m| m.proxy.as_ref())
                    .is_some_and(|p| !p.proxy_version.is_empty());
                if has_version {
                    versioned.push(name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run;

    const EF: &str = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: f, namespace: ns}\nspec:\n";

    #[test]
    fn reports_misused_and_relative_operations() {
        let yaml = format!(
            "{EF}  configPatches:\n  - applyTo: ROUTE_CONFIGURATION\n    patch: {{operation: ADD, value: {{name: r}}}}\n  - applyTo: CLUSTER\n    patch: {{operation: REPLACE, value: {{name: c}}}}\n  - applyTo: HTTP_ROUTE\n    patch: {{operation: REMOVE}}\n  - applyTo: HTTP_FILTER\n    match: {{proxy: {{proxyVersion: '^1\\.2.*'}}}}\n    patch: {{operation: INSERT_BEFORE, value: {{name: lua}}}}\n  - applyTo: HTTP_FILTER\n    patch: {{operation: INSERT_AFTER, value: {{name: lua}}}}\n"
        );
        let codes = run(&super::EnvoyPatchAnalyzer, &yaml);
        assert_eq!(
            codes,
            [
                "IST0151 EnvoyFilter ns/f",
                "IST0152 EnvoyFilter ns/f",
                "IST0153 EnvoyFilter ns/f",
                "IST0154 EnvoyFilter ns/f",
                "IST0155 EnvoyFilter ns/f"
            ]
        );
    }

    #[test]
    fn silent_with_priority_or_absolute_operations() {
        let yaml = format!(
            "{EF}  priority: 10\n  configPatches:\n  - applyTo: HTTP_FILTER\n    patch: {{operation: INSERT_BEFORE, value: {{name: lua}}}}\n  - applyTo: CLUSTER\n    patch: {{operation: ADD, value: {{name: c}}}}\n  - applyTo: HTTP_FILTER\n    patch: {{operation: INSERT_FIRST, value: {{name: x}}}}\n"
        );
        assert!(run(&super::EnvoyPatchAnalyzer, &yaml).is_empty());
    }
}
