//! Istio's ServiceEntry analyzers: TCP entries that need addresses, and entries that give one
//! host and port different protocols.

mod conflicting_protocol;
mod protocol_addresses;

pub use conflicting_protocol::ConflictingServiceEntryProtocolAnalyzer;
pub use protocol_addresses::ProtocolAddressesAnalyzer;
