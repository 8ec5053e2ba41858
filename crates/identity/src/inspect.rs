//! Human-readable summaries of certificates: what `verimesh ca inspect` prints.

use crate::pem::{self, PemError};
use std::fmt::Write;
use x509_parser::extensions::GeneralName;

/// One certificate, summarized.
#[derive(Debug, Clone)]
pub struct Summary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub uris: Vec<String>,
    pub dns: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub ekus: Vec<&'static str>,
    pub is_ca: bool,
    /// The SPIFFE ID, or why the certificate has none.
    pub spiffe_id: Result<String, String>,
}

/// A certificate in a file could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("certificate {index}: cannot parse: {reason}")]
    Parse { index: usize, reason: String },
}

/// Summaries of every certificate in `pem_text`, in order.
pub fn summarize_pem(pem_text: &str) -> Result<Vec<Summary>, InspectError> {
    let certs = pem::certs(pem_text, "input")?;
    certs
        .iter()
        .enumerate()
        .map(|(index, der)| {
            let (_, c) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| {
                InspectError::Parse {
                    index,
                    reason: e.to_string(),
                }
            })?;
            let mut uris = Vec::new();
            let mut dns = Vec::new();
            if let Ok(Some(san)) = c.subject_alternative_name() {
                for n in &san.value.general_names {
                    match n {
                        GeneralName::URI(u) => uris.push(u.escape_debug().to_string()),
                        GeneralName::DNSName(d) => dns.push(d.escape_debug().to_string()),
                        _ => {}
                    }
                }
            }
            let mut ekus = Vec::new();
            if let Ok(Some(e)) = c.extended_key_usage() {
                if e.value.server_auth {
                    ekus.push("serverAuth");
                }
                if e.value.client_auth {
                    ekus.push("clientAuth");
                }
                if e.value.any {
                    ekus.push("any");
                }
            }
            Ok(Summary {
                subject: c.subject().to_string(),
                issuer: c.issuer().to_string(),
                serial: c.raw_serial_as_string(),
                uris,
                dns,
                not_before: c.validity().not_before.to_string(),
                not_after: c.validity().not_after.to_string(),
                ekus,
                is_ca: c.is_ca(),
                spiffe_id: crate::verify::spiffe_id_of(der)
                    .map(|id| id.to_string())
                    .map_err(|e| e.to_string()),
            })
        })
        .collect()
}

/// The text `verimesh ca inspect` prints for a file's certificates.
pub fn render(summaries: &[Summary]) -> String {
    let mut out = String::new();
    for (i, s) in summaries.iter().enumerate() {
        let role = if i == 0 && !s.is_ca {
            "leaf"
        } else if s.subject == s.issuer {
            "root"
        } else if s.is_ca {
            "CA"
        } else {
            "certificate"
        };
        let _ = writeln!(out, "Certificate {i} ({role})");
        let subject = if s.subject.is_empty() {
            "(empty)"
        } else {
            &s.subject
        };
        let _ = writeln!(out, "  Subject:    {subject}");
        let _ = writeln!(out, "  Issuer:     {}", s.issuer);
        let _ = writeln!(out, "  Serial:     {}", s.serial);
        match &s.spiffe_id {
            Ok(id) => {
                let _ = writeln!(out, "  SPIFFE ID:  {id}");
            }
            Err(why) if !s.is_ca => {
                let _ = writeln!(out, "  SPIFFE ID:  none ({why})");
            }
            Err(_) => {}
        }
        for d in &s.dns {
            let _ = writeln!(out, "  DNS SAN:    {d}");
        }
        let _ = writeln!(out, "  Not before: {}", s.not_before);
        let _ = writeln!(out, "  Not after:  {}", s.not_after);
        let ekus = if s.ekus.is_empty() {
            "(none)".to_string()
        } else {
            s.ekus.join(", ")
        };
        let _ = writeln!(out, "  EKUs:       {ekus}");
        let _ = writeln!(out, "  CA:         {}", if s.is_ca { "yes" } else { "no" });
    }
    if summaries.len() > 1 {
        let _ = writeln!(out, "Chain:");
        for (i, pair) in summaries.windows(2).enumerate() {
            let linked = pair[0].issuer == pair[1].subject;
            let _ = writeln!(
                out,
                "  {i} -> {}: {}",
                i + 1,
                if linked {
                    "issued by the next certificate"
                } else {
                    "NOT issued by the next certificate"
                }
            );
        }
    }
    out
}
