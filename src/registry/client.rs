//! The HTTP client of one probe: our own rustls config, our resolver, our redirect rules.
//!
//! One client per (registry, trust), so one connection and one TLS handshake per origin serve
//! the whole conversation, as a runtime's resolver does; HTTP/2 when the server offers it.
//! The TLS config and its recording verifier are in `verifier.rs`. Redirects are followed by
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
use rustls_pki_types::CertificateDer;

use super::dns::SafeResolver;
use super::insecure::NamedHost;
use super::tls_error::{Failure, classify};
use super::verifier::tls_config;
pub use super::verifier::verify_with_system_roots;
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
    pub(super) chains: Mutex<BTreeMap<String, Vec<CertificateDer<'static>>>>,
    pub(super) would_fail: Mutex<BTreeMap<String, Failure>>,
    pub(super) handshakes: AtomicU32,
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
    /// The TLS configs behind `http` and `unverified`, for an HTTP/1.1-only retry.
    tls: (rustls::ClientConfig, Option<rustls::ClientConfig>),
    connect: Duration,
    /// `--resolve` pins, for the HTTP/1.1 twins built later.
    pins: Vec<crate::trust::Pin>,
    /// The node runtime's proxy, for the HTTP/1.1 twins built later.
    route: Option<crate::trust::Route>,
    /// HTTP/1.1-only clients, built on first need (see [`RegistryClient::send`]).
    http1: (
        OnceLock<Option<reqwest::Client>>,
        OnceLock<Option<reqwest::Client>>,
    ),
}

/// A reqwest client over one rustls config, with our resolver and no automatic redirects.
fn http_client(
    tls: rustls::ClientConfig,
    connect: Duration,
    pins: &[crate::trust::Pin],
    route: Option<&crate::trust::Route>,
) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder();
    // Never this machine's proxy variables; the node's proxy when its files set one.
    let builder = match route.filter(|r| !r.is_direct()).cloned() {
        Some(r) => builder.proxy(reqwest::Proxy::custom(move |u| r.dial_for(u))),
        None => builder.no_proxy(),
    };
    builder
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(SafeResolver::pinned(pins))
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
            http: http_client(
                tls.clone(),
                connect_timeout,
                &trust.pins,
                trust.route.as_ref(),
            )?,
            unverified: None,
            skip: Vec::new(),
            recorder,
            requests: AtomicU32::new(0),
            tls: (tls, None),
            connect: connect_timeout,
            pins: trust.pins.clone(),
            route: trust.route.clone(),
            http1: (OnceLock::new(), OnceLock::new()),
        })
    }

    /// A client that verifies every host except those in `skip` (host and port), whose
    /// certificates it accepts and records: `--registry-insecure-skip-verify HOST` reaches that
    /// host only, never a token realm or a redirect target elsewhere.
    pub fn skipping(
        trust: &Trust,
        skip: Vec<NamedHost>,
        connect_timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut client = RegistryClient::new(trust, false, connect_timeout)?;
        if !skip.is_empty() {
            let tls = tls_config(trust, true, client.recorder.clone())?;
            client.unverified = Some(http_client(
                tls.clone(),
                connect_timeout,
                &trust.pins,
                trust.route.as_ref(),
            )?);
            client.tls.1 = Some(tls);
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

    /// The HTTP/1.1-only twin of [`Self::for_url`]'s client, built once on first need.
    fn http1_for(&self, url: &Url) -> Option<&reqwest::Client> {
        let unverified = self.unverified.is_some() && self.skip.iter().any(|h| h.matches(url));
        let (cell, tls) = if unverified {
            (&self.http1.1, self.tls.1.as_ref())
        } else {
            (&self.http1.0, Some(&self.tls.0))
        };
        cell.get_or_init(|| {
            let mut tls = tls?.clone();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            http_client(tls, self.connect, &self.pins, self.route.as_ref()).ok()
        })
        .as_ref()
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
            let build = |client: &reqwest::Client, withheld: &mut Option<String>| {
                let left = timeout.saturating_sub(started.elapsed());
                let mut rb = client.request(method.clone(), url.clone()).timeout(left);
                if let Some(a) = accept {
                    rb = rb.header(ACCEPT, a);
                }
                if let Some(a) = auth {
                    match a.refusal(&url) {
                        None => rb = rb.header(AUTHORIZATION, a.header()),
                        Some(why) => *withheld = Some(why),
                    }
                }
                rb
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut resp = match build(self.for_url(&url), &mut withheld).send().await {
                Ok(r) => r,
                // Over HTTP/2 a TLS alert that ends the connection (TLS 1.3 refusing the client
                // certificate after the handshake) reaches the request only as "canceled": ask
                // once more over HTTP/1.1, which reads the alert and names it.
                Err(e) if matches!(classify(&e, ms), Failure::Other { .. }) => {
                    let Some(h1) = self.http1_for(&url) else {
                        return Err(classify(&e, ms));
                    };
                    tracing::debug!(
                        "no answer over the first connection ({e}); retrying over HTTP/1.1"
                    );
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    build(h1, &mut withheld)
                        .send()
                        .await
                        .map_err(|e| classify(&e, ms))?
                }
                Err(e) => return Err(classify(&e, ms)),
            };
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
