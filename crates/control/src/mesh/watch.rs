//! Change detection for a config directory by polling: the YAML files' paths, sizes and
//! modification times. Polling (not inotify) keeps it working on every filesystem, for
//! editors that replace files by rename, and for directories that are themselves replaced.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

pub fn fingerprint(dir: &Path) -> Fingerprint {
    let mut files = Vec::new();
    collect(dir, &mut files, 0);
    files.sort();
    Fingerprint(files)
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>, depth: usize) {
    // Bounded depth: a symlink loop must not hang the control plane.
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect(&path, out, depth + 1);
        } else if path
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push((path, meta.len(), meta.modified().ok()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_in_content_and_new_files_change_the_fingerprint() {
        let d = tempfile::tempdir().unwrap();
        let a = fingerprint(d.path());
        std::fs::write(d.path().join("vs.yaml"), "a: 1\n").unwrap();
        let b = fingerprint(d.path());
        assert_ne!(a, b);
        std::fs::write(d.path().join("vs.yaml"), "a: 12\n").unwrap();
        assert_ne!(b, fingerprint(d.path()));
        std::fs::write(d.path().join("notes.txt"), "ignored").unwrap();
        let c = fingerprint(d.path());
        assert_eq!(c, fingerprint(d.path()));
    }
}
