//! The CA as an in-process [`Signer`]: the control plane keeps its own serving certificate
//! fresh with the same rotation machinery workloads use.

use super::Ca;
use crate::rotate::{SignError, Signed, Signer};
use crate::spiffe::SpiffeId;
use std::sync::Arc;
use std::time::Duration;

/// Signs CSRs for one fixed identity (its owner's) with an in-process CA.
#[derive(Debug, Clone)]
pub struct LocalSigner {
    pub ca: Arc<Ca>,
    pub identity: SpiffeId,
    pub ttl: Option<Duration>,
}

impl Signer for LocalSigner {
    async fn sign(&self, csr_pem: String) -> Result<Signed, SignError> {
        let issued = self.ca.sign_csr(&csr_pem, &self.identity, self.ttl)?;
        Ok(Signed {
            chain: issued.chain,
            roots: issued.roots,
        })
    }
}
