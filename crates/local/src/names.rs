//! Names of everything a run creates, all derived from its short run name, so two runs (say,
//! parallel tests) never collide and `down` can tell its resources from anyone else's.
//!
//! Interface names are limited to 15 bytes by Linux (IFNAMSIZ), which is why the run name is
//! at most 6 characters: `vm-<run>-<index>` then fits with five digits of index.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Prefix of every resource name, marking it as verimesh's.
const PREFIX: &str = "vm-";
const MAX_RUN: usize = 6;
/// Highest veth index that still fits an interface name.
pub(crate) const MAX_INDEX: u32 = 99_999;
/// Workload names are DNS-1123 names in Kubernetes; longer would not fit a file name anyway.
const MAX_WORKLOAD: usize = 200;

/// A validated run name: 1 to 6 characters of `a-z0-9`, starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunName(String);

impl RunName {
    pub fn new(name: &str) -> Result<RunName, Error> {
        let ok = !name.is_empty()
            && name.len() <= MAX_RUN
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(RunName(name.to_string()))
        } else {
            Err(Error::InvalidRunName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bridge in the root namespace.
    pub fn bridge(&self) -> String {
        format!("{PREFIX}{}", self.0)
    }

    /// The root-namespace end of workload `index`'s veth pair.
    pub fn host_veth(&self, index: u32) -> String {
        format!("{PREFIX}{}-{index}", self.0)
    }

    /// The network namespace of a workload; also names its `/etc/netns/<netns>` directory.
    pub fn netns(&self, workload: &str) -> String {
        format!("{PREFIX}{}-{workload}", self.0)
    }

    /// The comment tagging this run's netfilter rules in the root namespace.
    pub fn rule_comment(&self) -> String {
        format!("verimesh run {}", self.0)
    }
}

impl TryFrom<String> for RunName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        RunName::new(&s)
    }
}

impl From<RunName> for String {
    fn from(r: RunName) -> String {
        r.0
    }
}

impl fmt::Display for RunName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a Kubernetes-style name (workload, deployment, namespace, service): lower-case
/// alphanumerics, `-` and `.`, starting and ending alphanumeric. These end up in file names,
/// namespace names and hosts files, so anything else is refused rather than escaped.
pub fn check_name(what: &'static str, name: &str) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::InvalidName {
            what,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > MAX_WORKLOAD {
        return bad("must be 1 to 200 characters");
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !name.chars().all(|c| alnum(c) || c == '-' || c == '.') {
        return bad("only a-z, 0-9, '-' and '.' are allowed");
    }
    if !name.starts_with(alnum) || !name.ends_with(alnum) {
        return bad("must start and end with a letter or digit");
    }
    Ok(())
}

/// The name of replica `index` of a Deployment, as `up` names them: `<deployment>-<index>`.
pub fn replica_name(deployment: &str, index: u32) -> String {
    format!("{deployment}-{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names() {
        assert!(RunName::new("a").is_ok());
        assert!(RunName::new("t12345").is_ok());
        for bad in ["", "1abc", "abcdefg", "a-b", "A", "a_b"] {
            assert!(RunName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interface_names_fit() {
        let r = RunName::new("abcdef").expect("valid");
        assert!(r.bridge().len() <= 15);
        assert_eq!(r.host_veth(MAX_INDEX).len(), 15);
        assert_eq!(r.netns("reviews-v1-0"), "vm-abcdef-reviews-v1-0");
    }

    #[test]
    fn kubernetes_names() {
        assert!(check_name("workload", "reviews-v1-0").is_ok());
        assert!(check_name("workload", "a.b").is_ok());
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a/b",
            "a b",
            "a_b",
            "..",
            &"a".repeat(201),
        ] {
            assert!(check_name("workload", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_validates() {
        let ok: Result<RunName, _> = serde_json::from_str("\"abc\"");
        assert!(ok.is_ok());
        let bad: Result<RunName, _> = serde_json::from_str("\"ABC\"");
        assert!(bad.is_err());
    }
}
