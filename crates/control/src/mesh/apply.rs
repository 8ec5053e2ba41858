//! A directory as desired state, `kubectl apply`-style: when the same resource (kind,
//! namespace, name) is defined in more than one place, the definition in the most recently
//! changed file wins — as if that file had been applied last — and each override is reported
//! (never dropped silently).

use std::collections::HashMap;
use std::time::SystemTime;
use verimesh_config::Resource;

/// A directory loaded as desired state: every problem refuses it (`Err` lists them, with file,
/// line and field); otherwise the resources, one definition each, and the overrides made.
pub fn load_dir(
    dir: &std::path::Path,
) -> Result<(verimesh_config::Loaded, Vec<String>), Vec<String>> {
    let mut loaded = verimesh_config::load_paths(&[dir]);
    let overridden = latest_wins(&mut loaded.resources);
    let mut problems: Vec<String> = loaded.unusable.clone();
    problems.extend(
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.level == verimesh_config::Level::Error)
            .map(ToString::to_string),
    );
    if problems.is_empty() {
        Ok((loaded, overridden))
    } else {
        Err(problems)
    }
}

/// Keeps one definition per resource; returns a warning per dropped one.
pub fn latest_wins(resources: &mut Vec<Resource>) -> Vec<String> {
    let mtime = |r: &Resource| {
        std::fs::metadata(&*r.origin.file)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    // The winner per key: newest file, then the later definition within it.
    let mut winner: HashMap<(String, String, String), usize> = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        let key = (
            r.kind.name().to_string(),
            r.namespace().to_string(),
            r.name().to_string(),
        );
        match winner.get(&key) {
            Some(&w) if resources.get(w).map(mtime) > Some(mtime(r)) => {}
            _ => {
                winner.insert(key, i);
            }
        }
    }
    let mut warnings = Vec::new();
    let mut index = 0;
    let keep: Vec<bool> = resources
        .iter()
        .map(|r| {
            let key = (
                r.kind.name().to_string(),
                r.namespace().to_string(),
                r.name().to_string(),
            );
            let i = index;
            index += 1;
            winner.get(&key) == Some(&i)
        })
        .collect();
    for (r, kept) in resources.iter().zip(&keep) {
        if !kept {
            let key = (
                r.kind.name().to_string(),
                r.namespace().to_string(),
                r.name().to_string(),
            );
            let by = winner
                .get(&key)
                .and_then(|&w| resources.get(w))
                .map(|w| w.origin.to_string())
                .unwrap_or_default();
            warnings.push(format!(
                "{} {}/{} at {} is overridden by the definition at {by} (the most recently \
                 changed file wins, as a later `kubectl apply` would)",
                key.0, key.1, key.2, r.origin
            ));
        }
    }
    let mut flags = keep.into_iter();
    resources.retain(|_| flags.next().unwrap_or(true));
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const VS: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: SUBSET
";

    #[test]
    fn the_most_recently_changed_definition_wins_and_the_override_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let newer = d.path().join("a-newer.yaml");
        let older = d.path().join("z-older.yaml");
        std::fs::write(&newer, VS.replace("SUBSET", "v3")).unwrap();
        std::fs::write(&older, VS.replace("SUBSET", "v1")).unwrap();
        let past = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&older)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let mut loaded = verimesh_config::load_paths(&[d.path()]);
        assert_eq!(loaded.resources.len(), 2);
        let warnings = latest_wins(&mut loaded.resources);
        assert_eq!(loaded.resources.len(), 1);
        assert!(loaded.resources[0].origin.file.ends_with("a-newer.yaml"));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("z-older.yaml") && warnings[0].contains("a-newer.yaml"));
    }
}
