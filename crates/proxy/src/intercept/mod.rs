//! Transparent interception: the iptables rules that send a workload's TCP to the proxy, and
//! recovering the address the application meant to reach.

mod iptables;
mod original_dst;

pub use iptables::{apply, cleanup, InterceptConfig, InterceptError, IpFamily, Plan};
pub use original_dst::original_destination;
