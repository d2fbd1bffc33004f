//! The system's trusted roots: read once per process, from one place, when a handshake needs
//! them.
//!
//! Go's `crypto/x509` (what containerd and Docker use on a node) reads the first CA bundle file
//! that exists from a fixed list (`root_linux.go`) and looks at the certificate directories only
//! when no bundle exists; `SSL_CERT_FILE` and `SSL_CERT_DIR` override both
//! (<https://pkg.go.dev/crypto/x509#SystemCertPool>). rustls-native-certs reads the bundle *and*
//! every file of `/etc/ssl/certs`, which on Debian parses the same roots twice; here the bundle
//! alone is read, and the directory only as Go falls back to it. The result is parsed into a
//! [`RootCertStore`] once, when an HTTPS probe starts ([`prefetch`], alongside the handshake)
//! or at the first handshake; a plain-HTTP probe never reads it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Where Linux distributions keep the system CA bundle, in Go's order (`crypto/x509`
/// `root_linux.go`): the first that exists is the trust, here and under a node's root.
pub const CA_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system roots, parsed once per process (an empty store when the system has none).
pub fn roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| Arc::new(load())).clone()
}

/// Starts reading the system roots on a thread of its own, for a TLS connection about to be
/// opened: the parse (about a millisecond for Debian's 140 roots) then runs while the
/// handshake waits for the server, not after it. The first handshake takes the same store.
pub fn prefetch() {
    let _ = std::thread::Builder::new()
        .name("system-roots".into())
        .spawn(|| {
            let _ = roots();
        });
}

fn load() -> RootCertStore {
    let started = Instant::now();
    let (certs, from) = read();
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    tracing::debug!(
        "trust: system roots loaded from {from}: {added} certificates ({ignored} unusable) in {} ms",
        started.elapsed().as_millis()
    );
    store
}

/// The certificates and where they came from: `SSL_CERT_FILE`, else the first bundle, else
/// the directories (`SSL_CERT_DIR` or the platform's, through rustls-native-certs).
fn read() -> (Vec<CertificateDer<'static>>, String) {
    let file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            CA_BUNDLES
                .iter()
                .map(Path::new)
                .find(|p| p.is_file())
                .map(Path::to_path_buf)
        });
    if let Some(path) = file
        && let Ok(bytes) = std::fs::read(&path)
    {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
            .filter_map(Result::ok)
            .collect();
        return (certs, path.display().to_string());
    }
    let found = rustls_native_certs::load_native_certs();
    (found.certs, "the certificate directories".into())
}
