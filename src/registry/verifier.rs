//! The TLS side of the probe's client: our rustls config and a verifier that records what it
//! was shown.
//!
//! Verification is rustls's webpki verifier over the system roots plus the node's CAs (what
//! containerd's `hosts.toml` `ca` and Docker's certs.d do), built at the first handshake so the
//! system roots are read only when a connection needs them, and wrapped so the presented chain
//! is recorded for the report (and for the offline trust contrast). ALPN offers HTTP/2 first.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::client::{ClientError, Recorder};
use super::tls_error::{Failure, classify_dyn};
use crate::trust::Trust;

/// Delegates to webpki (or accepts, when told to skip) and records what it was shown.
///
/// The webpki verifier is built at the first handshake, so the system roots are parsed only
/// when a connection needs them (never for plain HTTP or a refused connection).
#[derive(Debug)]
struct RecordingVerifier {
    inner: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
    /// A verifier over `cas` alone, tried first when the system roots are also trusted.
    cas_only: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
    system_roots: bool,
    /// The node's CAs, already checked to be usable anchors.
    cas: Vec<CertificateDer<'static>>,
    skip: bool,
    recorder: Arc<Recorder>,
    provider: Arc<CryptoProvider>,
}

impl RecordingVerifier {
    fn webpki(&self) -> Option<&Arc<WebPkiServerVerifier>> {
        self.inner
            .get_or_init(|| webpki_verifier(self.system_roots, &self.cas, self.provider.clone()))
            .as_ref()
    }

    /// Verifies against the node's CAs alone, then against the system roots and those CAs.
    ///
    /// A chain that verifies to a subset of the anchors verifies to the whole set, so the
    /// verdict is the one the whole set gives; a registry behind the node's own CA (the usual
    /// reason to name one) is then verified without parsing 140 system roots. Any failure is
    /// answered by the whole set, so its error is the one the node would see.
    fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.system_roots && !self.cas.is_empty() {
            let narrow = self
                .cas_only
                .get_or_init(|| webpki_verifier(false, &self.cas, self.provider.clone()));
            if let Some(v) = narrow
                && let Ok(ok) =
                    v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            {
                return Ok(ok);
            }
        }
        match self.webpki() {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            // No roots at all: nothing can be trusted.
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }
}

/// A webpki verifier over the system roots (when asked) and `cas`; None with no roots at all.
fn webpki_verifier(
    system_roots: bool,
    cas: &[CertificateDer<'static>],
    provider: Arc<CryptoProvider>,
) -> Option<Arc<WebPkiServerVerifier>> {
    let mut roots = if system_roots {
        crate::trust::system::roots().as_ref().clone()
    } else {
        RootCertStore::empty()
    };
    roots.add_parsable_certificates(cas.iter().cloned());
    if roots.is_empty() {
        return None;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .ok()
}

/// Verifies a chain a server presented against the system roots alone, without a connection:
/// the same webpki check a second handshake with only those roots would make of that chain.
/// Err(None) when there is no chain to check.
pub fn verify_with_system_roots(
    host: &str,
    chain: &[CertificateDer<'static>],
) -> Result<(), Option<Failure>> {
    let (end_entity, intermediates) = chain.split_first().ok_or(None)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let name = ServerName::try_from(host.to_string()).map_err(|_| None)?;
    let Some(verifier) = webpki_verifier(true, &[], provider) else {
        return Err(Some(classify_dyn(
            &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            false,
            0,
        )));
    };
    verifier
        .verify_server_cert(end_entity, intermediates, &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| Some(classify_dyn(&e, false, 0)))
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.recorder.handshakes.fetch_add(1, Ordering::Relaxed);
        let name = server_name_text(server_name);
        if let Ok(mut c) = self.recorder.chains.lock() {
            let chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|d| d.clone().into_owned())
                .collect();
            c.insert(name.clone(), chain);
        }
        let verdict = self.verify(end_entity, intermediates, server_name, ocsp_response, now);
        match verdict {
            Err(e) if self.skip => {
                if let Ok(mut w) = self.recorder.would_fail.lock() {
                    w.insert(name, classify_dyn(&e, false, 0));
                }
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A server name as URLs write hosts (`reg.test`, `127.0.0.1`, `::1`).
fn server_name_text(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_ascii_lowercase(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// Builds the rustls config for a trust; Err only for unusable client keys.
pub(super) fn tls_config(
    trust: &Trust,
    skip_verify: bool,
    recorder: Arc<Recorder>,
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The node's CAs are checked now (a bad one is a setup error); the system roots join them
    // at the first handshake.
    let mut check = RootCertStore::empty();
    for ca in &trust.cas {
        check.add(ca.der.clone()).map_err(|e| ClientError::Ca {
            path: ca.source.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    let verifier = RecordingVerifier {
        inner: OnceLock::new(),
        cas_only: OnceLock::new(),
        system_roots: trust.system_roots,
        // A node's own bundle (`--node-root`) first, then its per-host CAs.
        cas: trust
            .base_roots
            .iter()
            .chain(&trust.cas)
            .map(|c| c.der.clone())
            .collect(),
        skip: skip_verify,
        recorder,
        provider: provider.clone(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match &trust.client {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| ClientError::ClientCert {
                path: id.cert_path.display().to_string(),
                reason: e.to_string(),
            }),
        None => Ok(builder.with_no_client_auth()),
    }?;
    // HTTP/2 where the registry offers it (ALPN), as Go HTTP clients ask by default: every request
    // of the run then shares one connection, concurrent ones included; HTTP/1.1 otherwise.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
