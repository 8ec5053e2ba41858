//! A suite file made appliable here, as `kubectl apply -n NS` and the task's set-up would
//! make it: a namespace for resources that name none, and the JWKS that Istio's files fetch
//! from raw.githubusercontent.com over https (proxies fetch `jwksUri` over http only, and
//! tests must not depend on the internet) served locally or given inline.

use super::scenarios::Apply;

/// The prefix Istio's task files use for the sample JWKS.
const GITHUB_JWKS: &str = "https://raw.githubusercontent.com/";

/// How the sample JWKS reaches the proxies.
pub enum Jwks {
    /// `jwksUri` pointed at this URL (a local HTTP server).
    Served(String),
    /// `jwks` inline, with this document.
    Inline(String),
}

pub fn prepare(text: &str, apply: &Apply, jwks: &Jwks) -> String {
    let mut text = match (apply.docs, apply.doc) {
        (_, Some(k)) => nth_document(text, k),
        (Some(n), None) => first_documents(text, n),
        (None, None) => text.to_string(),
    };
    if let Some((from, to)) = apply.replace {
        text = text.replace(from, to);
    }
    if let Some(ns) = apply.namespace {
        text = default_namespace(&text, ns);
    }
    rewrite_jwks(&text, jwks)
}

/// The first `n` documents of a YAML stream (separated by `---` lines).
fn first_documents(text: &str, n: usize) -> String {
    let mut out = String::new();
    let mut seen = 0;
    for line in text.lines() {
        if line.trim_end() == "---" {
            seen += 1;
            if seen >= n {
                break;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The K-th document (from 0) of a YAML stream; comment lines before it are kept out.
fn nth_document(text: &str, k: usize) -> String {
    let mut out = String::new();
    let mut seen = 0;
    for line in text.lines() {
        if line.trim_end() == "---" {
            seen += 1;
            continue;
        }
        if seen == k {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Adds `namespace: NS` to every top-level `metadata:` that has none.
fn default_namespace(text: &str, ns: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        out.push('\n');
        if *line == "metadata:" {
            let named = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with("  ") || l.is_empty())
                .any(|l| l.starts_with("  namespace:"));
            if !named {
                out.push_str(&format!("  namespace: {ns}\n"));
            }
        }
    }
    out
}

fn rewrite_jwks(text: &str, jwks: &Jwks) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("jwksUri:") && trimmed.contains(GITHUB_JWKS) {
            match jwks {
                Jwks::Served(url) => out.push_str(&format!("{indent}jwksUri: \"{url}\"")),
                // JSON is YAML; single-quoted so the document needs no escaping.
                Jwks::Inline(doc) => {
                    let flat: String = doc.lines().map(str::trim).collect();
                    out.push_str(&format!("{indent}jwks: '{}'", flat.replace('\'', "''")))
                }
            }
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PA: &str = "# c\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n\
                      metadata:\n  name: default\nspec:\n  mtls:\n    mode: STRICT\n";

    fn apply(ns: Option<&'static str>) -> Apply {
        Apply {
            file: "x.yaml",
            namespace: ns,
            replace: None,
            docs: None,
            doc: None,
        }
    }

    #[test]
    fn one_document_only() {
        let text = "# c
a: 1
---
b: 2
---
c: 3
";
        let a = Apply {
            doc: Some(1),
            ..apply(None)
        };
        let out = prepare(text, &a, &Jwks::Inline(String::new()));
        assert_eq!(out, "b: 2\n");
    }

    #[test]
    fn the_first_documents_only() {
        let text = "# c\na: 1\n---\nb: 2\n---\nc: 3\n";
        let a = Apply {
            docs: Some(2),
            ..apply(None)
        };
        let out = prepare(text, &a, &Jwks::Served(String::new()));
        assert_eq!(out, "# c\na: 1\n---\nb: 2\n");
    }

    #[test]
    fn a_namespace_is_added_only_where_none_is_named() {
        let out = prepare(PA, &apply(Some("foo")), &Jwks::Served(String::new()));
        assert!(
            out.contains("metadata:\n  namespace: foo\n  name: default\n"),
            "{out}"
        );
        let named = PA.replace("  name: default\n", "  name: default\n  namespace: bar\n");
        let out = prepare(&named, &apply(Some("foo")), &Jwks::Served(String::new()));
        assert!(!out.contains("foo"), "{out}");
    }

    #[test]
    fn the_github_jwks_is_replaced() {
        let ra = "  jwtRules:\n  - issuer: \"x\"\n    jwksUri: \"https://raw.githubusercontent.com/istio/istio/master/j.json\"\n";
        let out = prepare(
            ra,
            &apply(None),
            &Jwks::Served("http://10.0.0.1:80/j".into()),
        );
        assert!(
            out.contains("    jwksUri: \"http://10.0.0.1:80/j\"\n"),
            "{out}"
        );
        let out = prepare(ra, &apply(None), &Jwks::Inline("{\"keys\":\n []}".into()));
        assert!(out.contains("    jwks: '{\"keys\":[]}'\n"), "{out}");
    }
}
