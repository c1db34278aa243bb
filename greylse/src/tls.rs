//! TLS to PostgreSQL (rustls). Used when the conninfo says `sslmode=require`:
//! the server's certificate chain and host name are always verified (what
//! libpq calls verify-full; tokio-postgres knows no verify-* modes). Other
//! modes connect in clear, which [`cleartext_warning`] reports for a
//! non-local server.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("database.ca_file {0}: {1}")]
    CaFile(String, String),
    #[error("no usable CA certificates (database.ca_file or the system's)")]
    NoRoots,
    #[error("TLS setup: {0}")]
    Setup(String),
}

/// The connector, with the CAs of `ca_file` or else the system's.
pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(p) => {
            let shown = p.display().to_string();
            for c in CertificateDer::pem_file_iter(p)
                .map_err(|e| TlsError::CaFile(shown.clone(), e.to_string()))?
            {
                let c = c.map_err(|e| TlsError::CaFile(shown.clone(), e.to_string()))?;
                roots
                    .add(c)
                    .map_err(|e| TlsError::CaFile(shown.clone(), e.to_string()))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A warning when `conninfo` reaches a server over the network in clear.
pub fn cleartext_warning(cfg: &tokio_postgres::Config) -> Option<String> {
    if cfg.get_ssl_mode() == SslMode::Require {
        return None;
    }
    let remote: Vec<String> = cfg
        .get_hosts()
        .iter()
        .filter_map(|h| match h {
            Host::Tcp(name)
                if !matches!(name.as_str(), "localhost" | "::1") && !name.starts_with("127.") =>
            {
                Some(name.clone())
            }
            _ => None,
        })
        .collect();
    (!remote.is_empty()).then(|| {
        format!(
            "warning: the database connection to {} is not encrypted: add sslmode=require (the certificate is then verified)",
            remote.join(",")
        )
    })
}
