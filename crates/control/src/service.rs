//! The gRPC certificate signing service: authenticate the caller, then sign its CSR only for
//! its own identity. Refusals are logged with who asked for what.

use crate::auth::{Authenticators, Caller};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tonic::{Request, Response, Status};
use verimesh_api::ca::v1::certificate_service_server::CertificateService;
use verimesh_api::ca::v1::{CertificateRequest, CertificateResponse};
use verimesh_identity::ca::{Ca, CaError};
use verimesh_identity::{pem, SpiffeId};

/// Connection facts the server attaches to every request on that connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    /// The verified SPIFFE ID of the client certificate, if one was presented.
    pub peer: Option<SpiffeId>,
    /// When the client certificate expires (for `verimesh status`).
    pub peer_not_after: Option<std::time::SystemTime>,
}

/// `verimesh.ca.v1.CertificateService` over a CA.
#[derive(Debug, Clone)]
pub struct CaService {
    pub ca: Arc<Ca>,
    pub auth: Arc<Authenticators>,
}

fn bearer(req: &Request<CertificateRequest>) -> Option<String> {
    let v = req.metadata().get("authorization")?.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(|t| t.trim().to_string())
}

#[tonic::async_trait]
impl CertificateService for CaService {
    async fn create_certificate(
        &self,
        req: Request<CertificateRequest>,
    ) -> Result<Response<CertificateResponse>, Status> {
        let conn = req.extensions().get::<ConnInfo>().cloned();
        let caller = Caller {
            peer: conn.as_ref().and_then(|c| c.peer.clone()),
            bearer: bearer(&req),
            remote: conn.as_ref().map(|c| c.remote),
        };
        let remote = caller
            .remote
            .map(|r| r.to_string())
            .unwrap_or_else(|| "unknown".to_string());
        let id = self.auth.authenticate(&caller).map_err(|e| {
            tracing::warn!(%remote, error = %e, "certificate request refused: not authenticated");
            Status::unauthenticated(e.to_string())
        })?;
        let body = req.into_inner();
        let ttl = match u64::try_from(body.validity_duration) {
            Ok(0) => None,
            Ok(secs) => Some(Duration::from_secs(secs)),
            Err(_) => return Err(Status::invalid_argument("validity_duration is negative")),
        };
        let issued = self.ca.sign_csr(&body.csr, &id, ttl).map_err(|e| match e {
            CaError::IdentityMismatch { .. } => {
                tracing::warn!(%remote, caller = %id, error = %e, "certificate request refused: CSR for another identity");
                Status::permission_denied(e.to_string())
            }
            CaError::BadCsr(_) | CaError::TtlTooLong { .. } | CaError::WrongTrustDomain { .. } => {
                tracing::warn!(%remote, caller = %id, error = %e, "certificate request refused");
                Status::invalid_argument(e.to_string())
            }
            other => {
                tracing::error!(%remote, caller = %id, error = %other, "signing failed");
                Status::internal("signing failed")
            }
        })?;
        tracing::info!(%remote, caller = %id, "certificate issued");
        Ok(Response::new(CertificateResponse {
            cert_chain: issued
                .chain
                .iter()
                .map(|c| pem::encode_certs([c]))
                .collect(),
            trust_bundle: issued
                .roots
                .roots()
                .iter()
                .map(|c| pem::encode_certs([c]))
                .collect(),
        }))
    }
}
