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

use base64::Engine;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

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
        "trust: system roots loaded from {from}: {added} certificates ({ignored} unusable) in {} µs",
        started.elapsed().as_micros()
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
        return (certificates_in(&bytes), path.display().to_string());
    }
    let found = rustls_native_certs::load_native_certs();
    (found.certs, "the certificate directories".into())
}

/// The `CERTIFICATE` blocks of a PEM bundle, decoded; a block that is not base64 is skipped.
///
/// A bundle holds only public certificates, so its base64 needs no constant-time decoder: the
/// one rustls-pki-types uses (made for private keys) took half a millisecond over Debian's
/// 220 KB bundle, and this reading stands between a probe's last answer and its report.
fn certificates_in(bundle: &[u8]) -> Vec<CertificateDer<'static>> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = bundle;
    let mut body = Vec::with_capacity(4096);
    while let Some(start) = find(rest, BEGIN) {
        rest = &rest[start + BEGIN.len()..];
        let Some(end) = find(rest, END) else { break };
        body.clear();
        body.extend(
            rest[..end]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace()),
        );
        rest = &rest[end + END.len()..];
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&body) {
            certs.push(CertificateDer::from(der));
        }
    }
    certs
}

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    /// The fast reading finds what rustls-pki-types' reader finds, block for block, in the
    /// system bundle and in a bundle with other blocks, comments and CRLF line ends.
    #[test]
    fn reads_certificates_as_the_pem_reader_does() {
        let cert = "MIIBszCCAVmgAwIBAgIUJ0lBGg3qv3ImPDEAUQNdhtOHbZcwCgYIKoZIzj0EAwIw\n";
        let bundle = format!(
            "# a comment\r\n-----BEGIN CERTIFICATE-----\r\n{cert}QUJD\r\n-----END CERTIFICATE-----\r\n\
             -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
             -----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\n{cert}-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nQUJD"
        );
        let ours = certificates_in(bundle.as_bytes());
        assert_eq!(ours.len(), 2, "two decodable CERTIFICATE blocks");
        let theirs: Vec<_> = CertificateDer::pem_slice_iter(bundle.as_bytes())
            .filter_map(Result::ok)
            .collect();
        assert_eq!(ours, theirs);
        for path in CA_BUNDLES.iter().map(Path::new).filter(|p| p.is_file()) {
            let bytes = std::fs::read(path).expect("read bundle");
            let theirs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
                .filter_map(Result::ok)
                .collect();
            assert_eq!(certificates_in(&bytes), theirs, "{}", path.display());
        }
    }
}
