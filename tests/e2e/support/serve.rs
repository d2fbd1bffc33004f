//! A small HTTP/1.1 server (hyper), plain or TLS, on 127.0.0.1 with its own runtime: the base
//! of the token server and the fault proxy.
//!
//! Each server runs on a private tokio runtime so that it keeps answering whatever the test's
//! own runtime is doing (a `#[tokio::test]` is single-threaded, and a synchronous call there
//! would otherwise starve it). Dropping the server shuts that runtime down, which closes every
//! connection, so a stalled request can never outlive its test. Connections are served with
//! hyper's HTTP/1.1 server (<https://docs.rs/hyper/1/hyper/server/conn/http1/>), keep-alive on,
//! as registries and their load balancers serve them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

use super::pki::CertPair;

/// The response type every handler returns.
pub type Reply = Response<Full<Bytes>>;
/// A request handler: async, shared between connections.
pub type Handler =
    Arc<dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// What the server does with an accepted connection.
#[derive(Clone)]
pub enum Mode {
    /// Speak HTTP/1.1 and hand each request to the handler.
    Http(Handler),
    /// Accept the TCP connection and never read or write: a peer that hangs before TLS/HTTP.
    Silent,
}

/// A running server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    runtime: Option<Runtime>,
}

impl Server {
    /// Binds 127.0.0.1:0 and serves `mode`, over TLS with `tls` when given.
    pub fn start(tls: Option<&CertPair>, mode: Mode) -> Server {
        Server::start_on("127.0.0.1:0", tls, mode)
    }

    /// Binds `bind` (a loopback `ADDR:PORT`) and serves `mode`, over TLS with `tls` when given.
    pub fn start_on(bind: &str, tls: Option<&CertPair>, mode: Mode) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build server runtime");
        let std_listener = std::net::TcpListener::bind(bind)
            .unwrap_or_else(|e| panic!("bind {bind}: {e} (port 443 needs root)"));
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let acceptor = tls.map(tls_acceptor);
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        runtime.spawn(async move {
            let listener = TcpListener::from_std(std_listener).expect("tokio listener");
            let mut silent = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let handler = match &mode {
                    // Held (not dropped) so the peer sees an open, mute connection.
                    Mode::Silent => {
                        silent.push(stream);
                        continue;
                    }
                    Mode::Http(handler) => handler.clone(),
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        Server {
            addr,
            connections,
            runtime: Some(runtime),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Not `drop(runtime)`: that panics when the test itself runs inside a runtime.
            runtime.shutdown_background();
        }
    }
}

/// Builds a response with a status, headers and body.
pub fn reply(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(body.into()))
        .expect("valid response")
}

fn tls_acceptor(pair: &CertPair) -> TlsAcceptor {
    let chain = vec![CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).expect("cert PEM")];
    let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key PEM");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("default versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server cert and key match");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}
