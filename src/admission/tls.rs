//! The serving certificate, swapped in place when the Secret changes: new TLS handshakes
//! use the new certificate, connections already open keep theirs.

use std::sync::{Arc, RwLock};

use tokio_rustls::rustls::crypto::ring::sign::any_supported_type;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};

use super::certs::Material;

/// Holds the certificate in force.
#[derive(Debug, Default)]
pub struct Reloading {
    current: RwLock<Option<(String, Arc<CertifiedKey>)>>,
}

impl Reloading {
    /// Installs `m`'s serving certificate unless it is the one in force; `Ok(true)` when it
    /// changed.
    pub fn install(&self, m: &Material) -> Result<bool, String> {
        if self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|(pem, _)| *pem == m.cert)
        {
            return Ok(false);
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(m.cert.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.crt: {e}"))?;
        let key =
            PrivateKeyDer::from_pem_slice(m.key.as_bytes()).map_err(|e| format!("tls.key: {e}"))?;
        let signer = any_supported_type(&key).map_err(|e| format!("tls.key: {e}"))?;
        let ck = Arc::new(CertifiedKey::new(chain, signer));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some((m.cert.clone(), ck));
        Ok(true)
    }

    /// Whether a certificate is loaded.
    pub fn loaded(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, ck)| ck.clone())
    }
}

/// A TLS server configuration serving whatever `certs` holds.
pub fn server_config(certs: Arc<Reloading>) -> Result<ServerConfig, rustls::Error> {
    let mut c =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certs);
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}
