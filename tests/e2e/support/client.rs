//! Plain HTTP clients for tests that talk to the bench directly, and the walk that finds the
//! rustls error inside a reqwest error.
//!
//! reqwest 0.13 wraps a TLS failure twice (`io::Error(Other, io::Error(InvalidData,
//! rustls::Error))`) and `io::Error::source()` skips the wrapped error itself, so
//! `Error::source()` never reaches the rustls value: the walk must use `io::Error::get_ref()`
//! (<https://doc.rust-lang.org/std/io/struct.Error.html#method.get_ref>; the project's
//! `shared/reference/registry-protocol.md`, "TLS errors through reqwest").

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::pki::{CertPair, Pki};

/// What a test client trusts.
#[derive(Clone, Copy)]
pub enum Trust<'a> {
    /// The machine's roots (rustls-native-certs): what a node without the CA would use.
    System,
    /// Only the bench's CA.
    Ca(&'a Pki),
    /// The bench's CA, and present this client certificate (mutual TLS).
    CaWithClientCert(&'a Pki, &'a CertPair),
    /// Any certificate at all (signatures still checked): only for the bench's own seeding of
    /// the wrong-name and expired registries, never for an assertion.
    AnyCertificate,
}

/// A rustls client configuration with the ring provider, HTTP/1.1 only.
pub fn rustls_config(trust: Trust<'_>) -> rustls::ClientConfig {
    let roots = match trust {
        Trust::System => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                // A malformed system root is the machine's problem, not the test's.
                let _ = roots.add(cert);
            }
            roots
        }
        Trust::Ca(pki) | Trust::CaWithClientCert(pki, _) => pki.root_store(),
        Trust::AnyCertificate => rustls::RootCertStore::empty(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots);
    let mut config = match trust {
        Trust::CaWithClientCert(_, pair) => {
            let chain = vec![
                CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).expect("client cert PEM"),
            ];
            let key =
                PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("client key PEM");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client cert and key match")
        }
        _ => builder.with_no_client_auth(),
    };
    if let Trust::AnyCertificate = trust {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AcceptAnyCertificate(ring_provider())));
    }
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// A reqwest client with the given trust, no proxy from the environment, no redirects, and an
/// overall per-request timeout.
pub fn http_client(trust: Trust<'_>, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls_config(trust))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .expect("build reqwest client")
}

/// The rustls error behind a failed request, if the failure was a TLS one.
pub fn rustls_error(err: &reqwest::Error) -> Option<&rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => io.source(),
            },
            None => e.source(),
        };
    }
    None
}

/// The whole error chain as one line (`a: b: c`), walking through `io::Error` wrappers too.
pub fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        parts.push(e.to_string());
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => io.source(),
            },
            None => e.source(),
        };
    }
    parts.join(": ")
}

fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any server certificate; handshake signatures are still verified with ring.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
