//! Messages shared by several networking kinds: string matches, port selectors, percentages,
//! header manipulation, destinations and workload selectors.

use super::checks;
use crate::validate::common::{is_dns1123_label, validate_regex};
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Istio (like Envoy) refuses regexes longer than this.
pub const MAX_REGEX_LEN: usize = 1024;

/// Matches a string exactly, by prefix, or by an RE2 regular expression (exactly one of them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StringMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// Which kind of string match was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Regex(&'a str),
}

impl StringMatch {
    /// The match, when exactly one kind is set.
    pub fn kind(&self) -> Option<MatchKind<'_>> {
        match (&self.exact, &self.prefix, &self.regex) {
            (Some(e), None, None) => Some(MatchKind::Exact(e)),
            (None, Some(p), None) => Some(MatchKind::Prefix(p)),
            (None, None, Some(r)) => Some(MatchKind::Regex(r)),
            _ => None,
        }
    }

    fn set_count(&self) -> usize {
        [
            self.exact.is_some(),
            self.prefix.is_some(),
            self.regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }

    /// Only one of exact/prefix/regex; regexes must compile. `allow_empty_prefix` is true for
    /// URIs (an empty prefix matches everything there); elsewhere an empty prefix is refused.
    pub(crate) fn check(&self, allow_empty_prefix: bool, at: &FieldPath, out: &mut Findings) {
        if self.set_count() > 1 {
            out.error(
                at,
                "a string match takes only one of exact, prefix or regex",
            );
        }
        if let Some(p) = &self.prefix {
            if p.is_empty() && !allow_empty_prefix {
                out.error(&at.field("prefix"), "a prefix match must not be empty");
            }
        }
        if let Some(r) = &self.regex {
            check_regex(r, &at.field("regex"), out);
        }
    }
}

/// An RE2 regular expression of at most [`MAX_REGEX_LEN`] bytes.
pub(crate) fn check_regex(re: &str, at: &FieldPath, out: &mut Findings) {
    if re.is_empty() {
        out.error(at, "a regex must not be empty");
    } else if re.len() > MAX_REGEX_LEN {
        out.error(
            at,
            format!(
                "regex is {} bytes long; at most {MAX_REGEX_LEN} are allowed",
                re.len()
            ),
        );
    } else {
        out.check(at, validate_regex(re));
    }
}

/// Selects a port of a service by number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
}

impl PortSelector {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        checks::check_port(self.number.unwrap_or(0), &at.field("number"), out);
    }
}

/// A percentage as a double in 0..=100.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Percent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// Header manipulation for requests and responses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HeaderOperations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HeaderOperations>,
}

/// Headers to overwrite, append and remove.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderOperations {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A service (and optionally subset and port) that traffic is sent to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// Required: a service registry name, short or fully qualified.
    #[serde(default)]
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

impl Destination {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        let hp = at.field("host");
        if self.host.is_empty() {
            out.error(&hp, "destination host is required");
        } else if self.host == "*" {
            out.error(&hp, "destination host must name a service, not \"*\"");
        } else {
            out.check(&hp, checks::wildcard_host(&self.host));
        }
        if let Some(s) = &self.subset {
            check_subset_name(s, &at.field("subset"), out);
        }
        if let Some(p) = &self.port {
            p.check(&at.field("port"), out);
        }
    }
}

pub(crate) fn check_subset_name(name: &str, at: &FieldPath, out: &mut Findings) {
    if name.is_empty() {
        out.error(at, "subset name must not be empty");
    } else if !is_dns1123_label(name) {
        out.error(
            at,
            format!("subset name {name:?} is invalid: it must be a DNS-1123 label (letters, digits, '-')"),
        );
    }
}

/// Selects workloads by labels (`labels:`), as Sidecar and ServiceEntry do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Selects workloads by labels (`matchLabels:`), as DestinationRule and the security kinds do
/// (istio.type.v1beta1.WorkloadSelector).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchLabelsSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_match_oneof_and_regex() {
        let mut out = Findings::default();
        let at = FieldPath::parse("m");
        let sm = StringMatch {
            exact: Some("a".into()),
            prefix: Some("b".into()),
            regex: None,
        };
        sm.check(false, &at, &mut out);
        assert_eq!(out.items.len(), 1);
        assert!(sm.kind().is_none());

        let mut out = Findings::default();
        let sm = StringMatch {
            regex: Some("(".into()),
            ..Default::default()
        };
        sm.check(false, &at, &mut out);
        assert_eq!(out.items[0].path.to_string(), "m.regex");

        let mut out = Findings::default();
        let sm = StringMatch {
            prefix: Some(String::new()),
            ..Default::default()
        };
        sm.check(true, &at, &mut out);
        assert!(out.items.is_empty());
        sm.check(false, &at, &mut out);
        assert_eq!(out.items[0].path.to_string(), "m.prefix");
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        let mut out = Findings::default();
        check_regex(&long, &at, &mut out);
        assert!(out.has_errors());
    }
}
