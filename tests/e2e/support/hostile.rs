//! A hostile registry on 127.0.0.1: a raw HTTP/1.1 server (plain or TLS) whose script decides,
//! per request, to answer, stay silent, trickle, reset mid-body, stream without end, or present
//! a garbage certificate chain; it records what each request carried.
//!
//! The bench's hyper server (`serve.rs`) always speaks well-formed HTTP; a registry that is down
//! half-way, a load balancer that resets, or a server that streams forever does not. Those are
//! the peers pulldoctor meets during an incident, and the distribution spec
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>) says nothing about
//! them, so this server writes bytes by hand. Everything is bounded: the accept loop stops after
//! [`MAX_CONNECTIONS`] or [`LIFETIME`], each connection after [`LIFETIME`], each body after
//! [`MAX_STREAM`] bytes, and dropping the server drops its runtime, which closes every socket.
//!
//! ```text
//! let other = Hostile::start(TlsMode::Plain, |_req| Action::reply(200, &[], "{}"));
//! let h = Hostile::start(TlsMode::Plain, move |req| match req.path.as_str() {
//!     "/v2/" => Action::Silent,
//!     _ => Action::reply(404, &[], ""),
//! });
//! h.host();   // "127.0.0.1:PORT"
//! h.seen();   // [Seen { port, method, path, authorization, bearer }]
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::crypto::ring::default_provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

use super::pki::CertPair;

/// Most connections one server accepts before it stops listening.
pub const MAX_CONNECTIONS: usize = 200;
/// Longest a server (and any one of its connections) lives.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// Most body bytes any streaming action writes.
pub const MAX_STREAM: u64 = 256 * 1024 * 1024;

/// One request the server read: which port it came to, and what it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub port: u16,
    pub method: String,
    pub path: String,
    pub authorization: bool,
    /// The authorization is a bearer token (`Authorization: Bearer …`).
    pub bearer: bool,
}

/// A status line, headers and a body, written with `Content-Length` and `Connection: close`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer in full (HEAD gets the head only).
    Reply(Reply),
    /// Read the request and never write a byte.
    Silent,
    /// Send the head, then one body byte per `every`.
    Trickle { reply: Reply, every: Duration },
    /// Send the head and `after` body bytes, then reset the connection (RST, not FIN).
    ResetMidBody { reply: Reply, after: usize },
    /// Announce `length` bytes of `content_type` and write them (up to [`MAX_STREAM`]).
    Huge { content_type: String, length: u64 },
    /// A chunked body that never ends (until the client leaves or [`MAX_STREAM`]).
    Endless { content_type: String },
}

impl Action {
    /// A full reply.
    pub fn reply(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Action {
        Action::Reply(Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_ref().to_vec(),
        })
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Action {
        Action::reply(status, &[("Location", location)], "")
    }
}

/// How the server speaks: plain HTTP, TLS with a real certificate, or TLS with garbage.
#[derive(Clone)]
pub enum TlsMode {
    Plain,
    Cert(CertPair),
    /// These DER "certificates", signed for with `key`'s private key.
    Garbage {
        chain: Vec<Vec<u8>>,
        key: CertPair,
    },
}

type Script = Arc<dyn Fn(&Seen) -> Action + Send + Sync>;

/// A running hostile server; stops (closing every connection) when dropped.
pub struct Hostile {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    runtime: Option<Runtime>,
}

impl Hostile {
    /// Binds 127.0.0.1:0 and serves `script`.
    pub fn start(tls: TlsMode, script: impl Fn(&Seen) -> Action + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("hostile server runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let acceptor = tls_acceptor(&tls);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(script);
        let log = seen.clone();
        runtime.spawn(async move {
            let deadline = Instant::now() + LIFETIME;
            for _ in 0..MAX_CONNECTIONS {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok(Ok((sock, _))) = tokio::time::timeout(left, listener.accept()).await else {
                    return;
                };
                let (log, script, acceptor) = (log.clone(), script.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        LIFETIME,
                        serve(sock, port, acceptor, script.as_ref(), &log),
                    )
                    .await;
                });
            }
        });
        Hostile {
            port,
            seen,
            runtime: Some(runtime),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request read so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Always the same (possibly garbage) chain, whatever the client asks for.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn tls_acceptor(tls: &TlsMode) -> Option<TlsAcceptor> {
    let provider = Arc::new(default_provider());
    let (chain, key_pem) = match tls {
        TlsMode::Plain => return None,
        TlsMode::Cert(pair) => (
            vec![
                CertificateDer::from_pem_slice(pair.cert_pem.as_bytes())
                    .expect("server cert")
                    .to_vec(),
            ],
            &pair.key_pem,
        ),
        TlsMode::Garbage { chain, key } => (chain.clone(), &key.key_pem),
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("server key");
    let signing = provider
        .key_provider
        .load_private_key(key)
        .expect("usable key");
    let certs = chain.into_iter().map(CertificateDer::from).collect();
    let resolver = Fixed(Arc::new(CertifiedKey::new(certs, signing)));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Some(TlsAcceptor::from(Arc::new(config)))
}

/// Reads one request head (bounded) and carries out the script's action for it.
async fn serve(
    sock: TcpStream,
    port: u16,
    acceptor: Option<TlsAcceptor>,
    script: &(dyn Fn(&Seen) -> Action + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) {
    // The RST of `ResetMidBody` needs the socket itself; keep a handle to set linger on.
    let std_sock = match sock.into_std() {
        Ok(s) => s,
        Err(_) => return,
    };
    let Ok(clone) = std_sock.try_clone() else {
        return;
    };
    let Ok(sock) = TcpStream::from_std(std_sock) else {
        return;
    };
    let Ok(raw) = TcpStream::from_std(clone) else {
        return;
    };
    match acceptor {
        None => exchange(sock, &raw, port, script, log).await,
        Some(a) => {
            if let Ok(tls) = a.accept(sock).await {
                exchange(tls, &raw, port, script, log).await;
            }
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    raw: &TcpStream,
    port: u16,
    script: &(dyn Fn(&Seen) -> Action + Send + Sync),
    log: &Mutex<Vec<Seen>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let req = Seen {
        port,
        method: first.next().unwrap_or("").to_string(),
        path: first.next().unwrap_or("").to_string(),
        authorization: head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("authorization:")),
        bearer: head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("authorization:")
                && l["authorization:".len()..].trim().starts_with("bearer ")
        }),
    };
    log.lock().unwrap().push(req.clone());
    let head_only = req.method == "HEAD";
    match script(&req) {
        Action::Reply(r) => {
            let _ = s.write_all(&head_bytes(&r, r.body.len() as u64)).await;
            if !head_only {
                let _ = s.write_all(&r.body).await;
            }
            let _ = s.shutdown().await;
        }
        Action::Silent => {
            // Hold the socket open, reading nothing more, until the client gives up.
            let _ = s.read(&mut chunk).await;
        }
        Action::Trickle { reply, every } => {
            if s.write_all(&head_bytes(&reply, 1 << 20)).await.is_err() || head_only {
                return;
            }
            for _ in 0..(LIFETIME.as_secs() * 10) {
                if s.write_all(b" ").await.is_err() || s.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Action::ResetMidBody { reply, after } => {
            let _ = s
                .write_all(&head_bytes(&reply, reply.body.len() as u64))
                .await;
            if !head_only {
                let _ = s
                    .write_all(&reply.body[..after.min(reply.body.len())])
                    .await;
            }
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            // SO_LINGER 0: closing sends RST instead of FIN (and, at zero, cannot block).
            #[allow(deprecated)]
            let _ = raw.set_linger(Some(Duration::ZERO));
            drop(s);
        }
        Action::Huge {
            content_type,
            length,
        } => {
            let r = Reply {
                status: 200,
                headers: vec![("Content-Type".into(), content_type)],
                body: Vec::new(),
            };
            if s.write_all(&head_bytes(&r, length)).await.is_err() || head_only {
                return;
            }
            let block = vec![b' '; 64 * 1024];
            let mut sent = 0u64;
            while sent < length.min(MAX_STREAM) {
                let n = (length - sent).min(block.len() as u64) as usize;
                if s.write_all(&block[..n]).await.is_err() {
                    return;
                }
                sent += n as u64;
            }
            let _ = s.shutdown().await;
        }
        Action::Endless { content_type } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).await.is_err() || head_only {
                return;
            }
            let mut block = format!("{:x}\r\n", 64 * 1024).into_bytes();
            block.extend(std::iter::repeat_n(b' ', 64 * 1024));
            block.extend_from_slice(b"\r\n");
            let mut sent = 0u64;
            while sent < MAX_STREAM {
                if s.write_all(&block).await.is_err() {
                    return;
                }
                sent += 64 * 1024;
            }
        }
    }
}

/// The status line and headers, with `Content-Length: length` and `Connection: close`.
fn head_bytes(r: &Reply, length: u64) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Length: {length}\r\n",
        r.status,
        reason(r.status)
    );
    for (k, v) in &r.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Whatever",
    }
}
