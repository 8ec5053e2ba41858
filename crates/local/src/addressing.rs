//! Address plan of a run: the subnet is split in two halves, workload addresses in the first
//! (the bridge holds its first host address, the gateway) and service virtual IPs in the
//! second. VIPs are on no interface: a workload's default route lets the kernel route a
//! connection to one, and the sidecar's `REDIRECT` catches it before it leaves the namespace.
//!
//! The default, 198.18.0.0/15, is reserved for benchmarking (RFC 2544) and routed nowhere,
//! so it cannot shadow a real network.

use crate::Error;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const DEFAULT_SUBNET: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 15) {
    Ok(n) => n,
    Err(_) => panic!("constant subnet"),
};

/// The two halves of a run's subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addressing {
    subnet: Ipv4Net,
    workloads: Ipv4Net,
    services: Ipv4Net,
}

impl Addressing {
    /// Splits `subnet` (at most a /28, so each half has room for a few addresses).
    pub fn new(subnet: Ipv4Net) -> Result<Addressing, Error> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > 28 {
            return Err(Error::InvalidSubnet {
                subnet,
                reason: "too small: use a /28 or larger",
            });
        }
        let mut halves =
            subnet
                .subnets(subnet.prefix_len() + 1)
                .map_err(|_| Error::InvalidSubnet {
                    subnet,
                    reason: "cannot be split",
                })?;
        match (halves.next(), halves.next()) {
            (Some(workloads), Some(services)) => Ok(Addressing {
                subnet,
                workloads,
                services,
            }),
            _ => Err(Error::InvalidSubnet {
                subnet,
                reason: "cannot be split",
            }),
        }
    }

    pub fn subnet(&self) -> Ipv4Net {
        self.subnet
    }

    /// The workload half; its prefix length is the one on every workload interface.
    pub fn workload_net(&self) -> Ipv4Net {
        self.workloads
    }

    pub fn service_net(&self) -> Ipv4Net {
        self.services
    }

    /// The bridge's address and every workload's default gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        offset(self.workloads.network(), 1)
    }

    /// Whether `addr` may be given to a workload: in the workload half, neither the network,
    /// broadcast nor gateway address.
    pub fn is_workload_address(&self, addr: Ipv4Addr) -> bool {
        self.workloads.contains(&addr)
            && addr != self.workloads.network()
            && addr != self.workloads.broadcast()
            && addr != self.gateway()
    }

    /// Workload addresses in order, after the gateway.
    pub fn workload_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        let net = self.workloads;
        net.hosts().skip(1).filter(move |a| *a != net.broadcast())
    }

    /// Service VIPs in order (the half's network and broadcast addresses excluded).
    pub fn service_addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        self.services.hosts()
    }

    /// Workload addresses for `names`, assigned in sorted order, so the same names always get
    /// the same addresses whatever order they were listed in.
    pub fn assign_workloads<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<BTreeMap<String, Ipv4Addr>, Error> {
        assign(names, self.workload_addresses(), "workload")
    }

    /// Service VIPs for `names` (e.g. `reviews.default`), assigned in sorted order.
    pub fn assign_services<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<BTreeMap<String, Ipv4Addr>, Error> {
        assign(names, self.service_addresses(), "service")
    }
}

fn offset(a: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a).wrapping_add(n))
}

fn assign<S: AsRef<str>>(
    names: &[S],
    mut pool: impl Iterator<Item = Ipv4Addr>,
    what: &'static str,
) -> Result<BTreeMap<String, Ipv4Addr>, Error> {
    let mut sorted: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = BTreeMap::new();
    for name in sorted {
        let addr = pool.next().ok_or(Error::Exhausted(what))?;
        out.insert(name.to_string(), addr);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test subnet")
    }

    #[test]
    fn default_split() {
        let a = Addressing::new(DEFAULT_SUBNET).expect("split");
        assert_eq!(a.workload_net(), net("198.18.0.0/16"));
        assert_eq!(a.service_net(), net("198.19.0.0/16"));
        assert_eq!(a.gateway(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(
            a.workload_addresses().next(),
            Some(Ipv4Addr::new(198, 18, 0, 2))
        );
        assert_eq!(
            a.service_addresses().next(),
            Some(Ipv4Addr::new(198, 19, 0, 1))
        );
    }

    #[test]
    fn usable_addresses() {
        let a = Addressing::new(net("198.18.7.0/24")).expect("split");
        assert!(a.is_workload_address(Ipv4Addr::new(198, 18, 7, 2)));
        assert!(a.is_workload_address(Ipv4Addr::new(198, 18, 7, 126)));
        for bad in [
            [198, 18, 7, 0],
            [198, 18, 7, 1],
            [198, 18, 7, 127],
            [198, 18, 7, 129],
        ] {
            assert!(!a.is_workload_address(Ipv4Addr::from(bad)), "{bad:?}");
        }
        assert_eq!(a.workload_addresses().count(), 125);
        assert_eq!(a.service_addresses().count(), 126);
    }

    #[test]
    fn deterministic_by_sorted_name() {
        let a = Addressing::new(net("198.18.7.0/24")).expect("split");
        let one = a.assign_services(&["reviews.default", "details.default"]);
        let two = a.assign_services(&["details.default", "reviews.default", "details.default"]);
        let (one, two) = (one.expect("assign"), two.expect("assign"));
        assert_eq!(one, two);
        assert_eq!(one["details.default"], Ipv4Addr::new(198, 18, 7, 129));
        assert_eq!(one["reviews.default"], Ipv4Addr::new(198, 18, 7, 130));
    }

    #[test]
    fn exhaustion_and_small_subnets() {
        let a = Addressing::new(net("198.18.7.0/28")).expect("split");
        let names: Vec<String> = (0..6).map(|i| format!("w{i}")).collect();
        assert!(matches!(
            a.assign_workloads(&names),
            Err(Error::Exhausted("workload"))
        ));
        assert!(Addressing::new(net("198.18.7.0/29")).is_err());
    }
}
