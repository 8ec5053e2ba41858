//! The analyzers. Each has Istio's analyzer name when Istio has the same check, so a
//! conformance run can select it; verimesh's own are named `verimesh.*`.

use crate::report::Report;
use crate::snapshot::Snapshot;

pub trait Analyzer: Sync {
    fn name(&self) -> &'static str;
    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report);
}

/// Every analyzer, in the order their messages are printed.
pub fn all() -> Vec<&'static dyn Analyzer> {
    vec![]
}

pub fn by_name(name: &str) -> Option<&'static dyn Analyzer> {
    all().into_iter().find(|a| a.name() == name)
}
