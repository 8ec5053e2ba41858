//! Service names inside workload namespaces, through the files `ip netns exec` bind-mounts:
//! `/etc/netns/<netns>/hosts` over `/etc/hosts` and `/etc/netns/<netns>/resolv.conf` over
//! `/etc/resolv.conf`, for the processes it starts (and their children).
//!
//! Because a bind mount pins the file's inode, an update must rewrite the file *in place*:
//! a new file renamed over it would never be seen by processes already running. glibc reads
//! the hosts file afresh on every lookup, so running processes see an update at once.
//!
//! A process that enters the namespace any other way (`setns()`, `nsenter`) keeps the host's
//! `/etc/hosts` and does not see these names.

use crate::state::ServiceEntry;
use crate::Error;
use std::fmt::Write as _;
use std::io::{Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::path::Path;

pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// The names a service answers to from a workload in Kubernetes namespace `from`: the short
/// name only from its own namespace, then `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>`
/// (what Kubernetes' DNS search path makes of them).
pub fn service_names(service: &ServiceEntry, from: &str, domain: &str) -> Vec<String> {
    let (name, ns) = (&service.name, &service.namespace);
    let mut names = Vec::with_capacity(4);
    if ns == from {
        names.push(name.clone());
    }
    names.push(format!("{name}.{ns}"));
    names.push(format!("{name}.{ns}.svc"));
    names.push(format!("{name}.{ns}.svc.{domain}"));
    names
}

/// The hosts file of one workload.
pub fn render_hosts(
    workload: &str,
    address: Ipv4Addr,
    namespace: &str,
    services: &[ServiceEntry],
    domain: &str,
) -> String {
    let mut s = String::from(
        "# Written by verimesh for this workload's network namespace; rewritten in place.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    let _ = writeln!(s, "{address}\t{workload}");
    let mut sorted: Vec<&ServiceEntry> = services.iter().collect();
    sorted.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    for svc in sorted {
        let _ = writeln!(
            s,
            "{}\t{}",
            svc.vip,
            service_names(svc, namespace, domain).join(" ")
        );
    }
    s
}

/// The resolv.conf of one workload: Kubernetes' search path, and a nameserver on the
/// namespace's own loopback where nothing listens, so a name not in the hosts file fails at
/// once instead of waiting for a DNS server the namespace cannot reach.
pub fn render_resolv(namespace: &str, domain: &str) -> String {
    format!(
        "# Written by verimesh: names come from the hosts file.\n\
         nameserver 127.0.0.1\n\
         search {namespace}.svc.{domain} svc.{domain} {domain}\n\
         options ndots:5 timeout:1 attempts:1\n"
    )
}

/// Writes `content` to `path` in place (same inode): written from offset 0, then cut to
/// length, so a reader never sees an empty file, only at worst a mix for an instant.
pub fn write_in_place(path: &Path, content: &str) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(Error::io(path))?;
    file.seek(SeekFrom::Start(0)).map_err(Error::io(path))?;
    file.write_all(content.as_bytes())
        .map_err(Error::io(path))?;
    file.set_len(content.len() as u64)
        .map_err(Error::io(path))?;
    Ok(())
}

/// Removes a workload's `/etc/netns/<netns>` files, and the directory if then empty (anything
/// else in it is not ours).
pub fn remove_etc_dir(dir: &Path) -> Result<(), Error> {
    for file in ["hosts", "resolv.conf"] {
        let path = dir.join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, ns: &str, last: u8) -> ServiceEntry {
        ServiceEntry {
            name: name.into(),
            namespace: ns.into(),
            vip: Ipv4Addr::new(198, 19, 0, last),
        }
    }

    #[test]
    fn short_names_only_in_own_namespace() {
        let s = svc("reviews", "default", 1);
        assert_eq!(
            service_names(&s, "default", "cluster.local"),
            [
                "reviews",
                "reviews.default",
                "reviews.default.svc",
                "reviews.default.svc.cluster.local"
            ]
        );
        assert_eq!(
            service_names(&s, "other", "cluster.local")[0],
            "reviews.default"
        );
    }

    #[test]
    fn hosts_file() {
        let text = render_hosts(
            "productpage-0",
            Ipv4Addr::new(198, 18, 0, 2),
            "default",
            &[svc("reviews", "default", 2), svc("db", "data", 1)],
            "cluster.local",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3], "198.18.0.2\tproductpage-0");
        assert_eq!(
            lines[4],
            "198.19.0.1\tdb.data db.data.svc db.data.svc.cluster.local"
        );
        assert!(lines[5].starts_with("198.19.0.2\treviews reviews.default "));
    }

    #[test]
    fn rewrite_keeps_the_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("vm-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("hosts");
        write_in_place(&path, "a much longer first version\n").expect("write");
        let inode = std::fs::metadata(&path).expect("meta").ino();
        write_in_place(&path, "short\n").expect("rewrite");
        assert_eq!(std::fs::metadata(&path).expect("meta").ino(), inode);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "short\n");
        remove_etc_dir(&dir).expect("remove");
        assert!(!dir.exists());
    }
}
