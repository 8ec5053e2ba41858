//! Istio's DestinationRule analyzers: TLS origination that does not verify the server, and
//! subsets (or hosts) that match nothing.

mod ca_certificate;
mod pod_not_selected;

pub use ca_certificate::CaCertificateAnalyzer;
pub use pod_not_selected::PodNotSelectedAnalyzer;
