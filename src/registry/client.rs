//! The HTTP client of one probe: our own rustls config, our resolver, our redirect rules.
//!
//! One client per (registry, trust), so one connection and one TLS handshake serve the whole
//! conversation, as a runtime's resolver does. Verification is rustls's webpki verifier over the
//! system roots plus the node's CAs (what containerd's `hosts.toml` `ca` and Docker's certs.d
//! do), wrapped so the presented chain is recorded for the report. Redirects are followed by
//! hand and bounded: `Authorization` never follows to another origin and HTTPS never downgrades
//! to HTTP (distribution serves blobs through redirects; see
//! <https://github.com/distribution/distribution/blob/main/docs/content/spec/api.md>).
//! Bodies are read up to a cap, and every request has a timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, LOCATION};
use reqwest::{Method, Url};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::dns::SafeResolver;
use super::insecure::NamedHost;
use super::tls_error::{Failure, classify, classify_dyn};
use crate::redacted::Redacted;
use crate::trust::Trust;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: u32 = 5;
/// Cap for manifests, indexes and tag lists.
pub const CAP_DOCUMENT: usize = 4 * 1024 * 1024;
/// Cap for error bodies, token replies and `/v2/`.
pub const CAP_SMALL: usize = 64 * 1024;

/// What the verifier saw during handshakes, per server name (the registry and its token
/// realm may be different servers with different chains).
#[derive(Debug, Default)]
pub struct Recorder {
    chains: Mutex<BTreeMap<String, Vec<CertificateDer<'static>>>>,
    would_fail: Mutex<BTreeMap<String, Failure>>,
    handshakes: AtomicU32,
}

impl Recorder {
    /// The chain `host` presented at its last full handshake (empty: none was seen).
    pub fn chain(&self, host: &str) -> Vec<CertificateDer<'static>> {
        self.chains
            .lock()
            .ok()
            .and_then(|c| c.get(host).cloned())
            .unwrap_or_default()
    }

    /// With verification off: the failure verification would have reported for `host`.
    pub fn would_fail(&self, host: &str) -> Option<Failure> {
        self.would_fail
            .lock()
            .ok()
            .and_then(|f| f.get(host).cloned())
    }

    /// Full handshakes so far (resumed sessions do not verify again).
    pub fn handshakes(&self) -> u32 {
        self.handshakes.load(Ordering::Relaxed)
    }
}

/// Why the probe's client could not be built: a node CA or client certificate rustls refuses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// A CA certificate that is not a usable trust anchor.
    #[error("CA from {path} is unusable: {reason}")]
    Ca { path: String, reason: String },
    /// The client certificate and key do not form a usable pair.
    #[error("client certificate {path}: {reason}")]
    ClientCert { path: String, reason: String },
    /// rustls or reqwest refused the configuration.
    #[error("TLS client setup: {0}")]
    Setup(String),
}

/// Delegates to webpki (or accepts, when told to skip) and records what it was shown.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    skip: bool,
    recorder: Arc<Recorder>,
    provider: Arc<CryptoProvider>,
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
        let verdict = match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            // No roots at all: nothing can be trusted.
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        };
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

/// The system's roots, loaded once per process (rustls-native-certs reads the OS store).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Builds the rustls config for a trust; Err only for unusable client keys.
fn tls_config(
    trust: &Trust,
    skip_verify: bool,
    recorder: Arc<Recorder>,
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if trust.system_roots {
        roots.add_parsable_certificates(system_roots().iter().cloned());
    }
    for ca in &trust.cas {
        roots.add(ca.der.clone()).map_err(|e| ClientError::Ca {
            path: ca.source.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    let inner = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ClientError::Setup(e.to_string()))?,
        )
    };
    let verifier = RecordingVerifier {
        inner,
        skip: skip_verify,
        recorder,
        provider: provider.clone(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    match &trust.client {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| ClientError::ClientCert {
                path: id.cert_path.display().to_string(),
                reason: e.to_string(),
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Credentials bound to the one origin they may be sent to.
#[derive(Debug, Clone)]
pub struct Authorization {
    kind: AuthKind,
    origin: String,
    allow_http: bool,
}

#[derive(Debug, Clone)]
enum AuthKind {
    Basic {
        username: String,
        password: Redacted,
    },
    Bearer(Redacted),
}

impl Authorization {
    /// Basic credentials for `origin_url`'s origin only.
    pub fn basic(username: &str, password: &Redacted, origin_url: &Url, allow_http: bool) -> Self {
        // The header is base64 of `user:password`; a registry that echoes it must not show it.
        crate::scrub::remember_pair(username, password.expose());
        Authorization {
            kind: AuthKind::Basic {
                username: username.to_string(),
                password: password.clone(),
            },
            origin: origin_of(origin_url),
            allow_http,
        }
    }

    /// A bearer token for `origin_url`'s origin only.
    pub fn bearer(token: Redacted, origin_url: &Url, allow_http: bool) -> Self {
        Authorization {
            kind: AuthKind::Bearer(token),
            origin: origin_of(origin_url),
            allow_http,
        }
    }

    /// Why the credentials may not go to `url`, if they may not.
    pub fn refusal(&self, url: &Url) -> Option<String> {
        if origin_of(url) != self.origin {
            return Some(format!(
                "credentials for {} withheld from {}",
                self.origin,
                origin_of(url)
            ));
        }
        if url.scheme() != "https" && !self.allow_http {
            return Some(format!(
                "credentials withheld from plain-HTTP {} (to send them, name its host with --plain-http)",
                origin_of(url)
            ));
        }
        None
    }

    fn header(&self) -> String {
        use base64::Engine;
        match &self.kind {
            AuthKind::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            AuthKind::Bearer(t) => format!("Bearer {}", t.expose()),
        }
    }
}

/// `scheme://host:port` with the default port made explicit.
pub fn origin_of(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// A response read up to its cap.
#[derive(Debug)]
pub struct Exchange {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub truncated: bool,
    /// Where the answer finally came from (after redirects).
    pub url: Url,
    /// Why credentials were not sent, when they were withheld.
    pub withheld: Option<String>,
}

/// One probe's client.
pub struct RegistryClient {
    http: reqwest::Client,
    /// The client that accepts any certificate, for the hosts in `skip` only.
    unverified: Option<reqwest::Client>,
    skip: Vec<NamedHost>,
    pub recorder: Arc<Recorder>,
    requests: AtomicU32,
}

/// A reqwest client over one rustls config, with our resolver and no automatic redirects.
fn http_client(
    tls: rustls::ClientConfig,
    connect: Duration,
    pins: &[crate::trust::Pin],
) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(SafeResolver::pinned(pins))
        .no_proxy()
        .connect_timeout(connect)
        .pool_max_idle_per_host(2)
        .user_agent(concat!("pulldoctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Setup(e.to_string()))
}

impl RegistryClient {
    /// A client for one trust; `skip_verify` accepts any certificate from any host (and
    /// records why it would have failed).
    pub fn new(
        trust: &Trust,
        skip_verify: bool,
        connect_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let recorder = Arc::new(Recorder::default());
        let tls = tls_config(trust, skip_verify, recorder.clone())?;
        Ok(RegistryClient {
            http: http_client(tls, connect_timeout, &trust.pins)?,
            unverified: None,
            skip: Vec::new(),
            recorder,
            requests: AtomicU32::new(0),
        })
    }

    /// A client that verifies every host except those in `skip` (host and port), whose
    /// certificates it accepts and records: `--insecure-skip-tls-verify HOST` reaches that
    /// host only, never a token realm or a redirect target elsewhere.
    pub fn skipping(
        trust: &Trust,
        skip: Vec<NamedHost>,
        connect_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut client = RegistryClient::new(trust, false, connect_timeout)?;
        if !skip.is_empty() {
            let tls = tls_config(trust, true, client.recorder.clone())?;
            client.unverified = Some(http_client(tls, connect_timeout, &trust.pins)?);
            client.skip = skip;
        }
        Ok(client)
    }

    /// The client for `url`: the unverified one only for a host named in `skip`.
    fn for_url(&self, url: &Url) -> &reqwest::Client {
        match &self.unverified {
            Some(u) if self.skip.iter().any(|h| h.matches(url)) => u,
            _ => &self.http,
        }
    }

    /// HTTP requests sent so far (redirect hops included).
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends one request, following redirects by hand, and reads the body up to `cap`.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        accept: Option<&str>,
        auth: Option<&Authorization>,
        cap: usize,
        timeout: Duration,
    ) -> Result<Exchange, Failure> {
        let started = Instant::now();
        let ms = timeout.as_millis() as u64;
        match tokio::time::timeout(
            timeout,
            self.send_inner(method, url, accept, auth, cap, started, timeout),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout { after_ms: ms }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_inner(
        &self,
        method: Method,
        mut url: Url,
        accept: Option<&str>,
        auth: Option<&Authorization>,
        cap: usize,
        started: Instant,
        timeout: Duration,
    ) -> Result<Exchange, Failure> {
        let ms = timeout.as_millis() as u64;
        let mut withheld = None;
        for _hop in 0..=MAX_REDIRECTS {
            let left = timeout.saturating_sub(started.elapsed());
            let mut rb = self
                .for_url(&url)
                .request(method.clone(), url.clone())
                .timeout(left);
            if let Some(a) = accept {
                rb = rb.header(ACCEPT, a);
            }
            if let Some(a) = auth {
                match a.refusal(&url) {
                    None => rb = rb.header(AUTHORIZATION, a.header()),
                    Some(why) => withheld = Some(why),
                }
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut resp = rb.send().await.map_err(|e| classify(&e, ms))?;
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308)
                && let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok())
            {
                let next = url.join(loc).map_err(|e| Failure::Other {
                    detail: format!("bad redirect location {loc:?}: {e}"),
                })?;
                if url.scheme() == "https" && next.scheme() != "https" {
                    return Err(Failure::Downgrade {
                        location: next.to_string(),
                    });
                }
                url = next;
                continue;
            }
            let headers = resp.headers().clone();
            let mut body = Vec::new();
            let mut truncated = false;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        let room = cap.saturating_sub(body.len());
                        if chunk.len() > room {
                            body.extend_from_slice(&chunk[..room]);
                            truncated = true;
                            break;
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(match classify(&e, ms) {
                            // The head came and the body broke off: a truncated response.
                            Failure::Other { detail } => Failure::Truncated { detail },
                            f => f,
                        });
                    }
                }
            }
            return Ok(Exchange {
                status,
                headers,
                body,
                truncated,
                url,
                withheld,
            });
        }
        Err(Failure::TooManyRedirects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let pw = Redacted::new("pw");
        let a = Authorization::basic("u", &pw, &url("https://reg.test/v2/"), false);
        assert_eq!(
            a.refusal(&url("https://reg.test:443/v2/app/tags/list")),
            None
        );
        assert!(a.refusal(&url("https://reg.test:5000/v2/")).is_some());
        assert!(a.refusal(&url("https://cdn.test/blob")).is_some());
        assert!(a.refusal(&url("http://reg.test/v2/")).is_some());
        let plain = Authorization::basic("u", &pw, &url("http://reg.test:5000/v2/"), true);
        assert_eq!(plain.refusal(&url("http://reg.test:5000/v2/x")), None);
        let refused = Authorization::basic("u", &pw, &url("http://reg.test:5000/v2/"), false);
        assert!(
            refused
                .refusal(&url("http://reg.test:5000/v2/x"))
                .unwrap()
                .contains("plain-HTTP")
        );
    }

    #[test]
    fn the_header_is_built_but_never_printed() {
        let a = Authorization::bearer(Redacted::new("tok-123"), &url("https://r.test/"), false);
        assert_eq!(a.header(), "Bearer tok-123");
        assert!(!format!("{a:?}").contains("tok-123"));
        let b = Authorization::basic("u", &Redacted::new("p"), &url("https://r.test/"), false);
        assert_eq!(b.header(), "Basic dTpw");
    }
}
