//! Real servers for the tests: a registry, a token server, a Kubernetes API server.
//!
//! The registry side runs the real CNCF distribution server
//! (<https://distribution.github.io/distribution/>) as Debian packages it; only what a
//! registry operator would provide (certificates, htpasswd, a token server) is made here.
//!
//! # Registry bench (everything on 127.0.0.1, one instance per test, stopped on drop)
//!
//! ```text
//! use crate::support::*;
//!
//! // Debian's docker-registry 2.8 on 127.0.0.1:0 (port read from its log), storage in a temp
//! // dir, a fresh CA and certificates per instance. Synchronous; panics if it cannot start.
//! let reg = Registry::start(RegistryOptions { tls: Tls::Valid, auth: Auth::htpasswd("alice", "s3cret") });
//! reg.host;              // "127.0.0.1:PORT"
//! reg.url();             // "https://127.0.0.1:PORT" ("http://…" for Tls::Plain)
//! reg.port();            // PORT
//! reg.ca_file;           // Some(PathBuf) in TLS modes: the CA a node would be given (None: plain)
//! reg.pki;               // Pki { dir, ca_pem, ca_file, server, wrong_name, expired, client }
//!                        //   each CertPair { cert_pem, key_pem, cert_file, key_file }
//! reg.client_cert();     // &CertPair accepted by a Tls::Mutual registry
//! reg.credentials();     // Some(("alice", "s3cret")); None for Auth::None
//! reg.log();             // Vec<String>: the registry's own log lines so far
//!
//! // The fixture images (CONTRACTS.md), pushed through the push API; blocking, fine inside
//! // #[tokio::test]; works in every mode (refused token scopes and bad certificates included).
//! let fx: Fixtures = reg.seed_fixtures();
//! fx.get("app:1.0").digest;     // "sha256:…" (app:1.0 Docker v2, app:1.1 OCI, app:2.0 Docker v2)
//! fx.get("multi:1.0").platforms; // [PlatformManifest { os, architecture, variant, digest }, …]
//! // multi:1.0 OCI index amd64 + arm64/v8; dockerlist:1.0 Docker list, same; armonly:1.0 arm64/v8.
//! // Media types: push::{DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX, …}.
//!
//! // Token auth: the bench starts an HTTPS token server (same CA) that the registry names.
//! let reg = Registry::start(RegistryOptions { tls: Tls::Valid, auth: Auth::token("bob", "pw") });
//! let token: &TokenServer = reg.token.as_ref().unwrap();
//! token.realm;            // "https://127.0.0.1:PORT/token"; token.service; token.issuer
//! token.refuse("app");    // valid users now get an empty access list for `app` → the registry
//!                         // answers 401 with error="insufficient_scope" (2.8 never says 403)
//! token.requests();       // [TokenRequest { method, path, query, authorization: bool, status }]
//! token.connections();    // TCP connections accepted
//! // Anonymous callers get a token with no access (Docker Hub style); a wrong password gets 401.
//! // Auth::Token(TokenOptions { user, password, refused, reply: TokenReply::AccessTokenOnly,
//! //     plain_http: true })   // the realm on plain HTTP: a misconfigured token service
//!
//! // Faults in front of a real registry (same scheme and certificate as the registry).
//! let p = FaultProxy::start(&reg, Fault::rate_limited());               // 429 on manifests
//! let p = FaultProxy::start(&reg, Fault::unavailable(Match::TagsList)); // 503 (HTML body)
//! let p = FaultProxy::start(&reg, Fault::Stall { on: Match::Manifests }); // never answers
//! let p = FaultProxy::start(&reg, Fault::SilentAccept);  // TCP accepted, then silence
//! let p = FaultProxy::start(&reg, Fault::PassThrough);   // count requests and connections
//! p.host(); p.requests(); p.connections();
//! let port = refused_port();   // connecting to 127.0.0.1:port is refused
//!
//! // A CONNECT forward proxy for a node's HTTPS_PROXY: names resolve from its own table only.
//! let p = ConnectProxy::start(&[("registry.wrong.test:5000", &reg.host)]);
//! p.url(); p.connects(); p.targets(); p.refuse_all();   // refused: 403 to every CONNECT
//!
//! // A SOCKS5 server for a node's HTTPS_PROXY=socks5://…: no-auth or RFC 1929 login.
//! let s = SocksProxy::with_login(&[("registry.wrong.test:5000", &reg.host)], Some(("u", "p")));
//! s.url("socks5", Some(("u", "p"))); s.connections(); s.targets(); s.refuse_all(0x02);
//!
//! // Counting (and delaying) at the TCP level; requests from the registry's access log.
//! let r = Relay::start(&reg.host, Duration::ZERO);  // or Duration::from_millis(50) each way
//! r.host(); r.connections(); r.tls_handshakes();
//! access_log(&reg.log());  // [Logged { method, path, protocol, status }]
//!
//! // Test-side clients and the rustls error inside a reqwest error.
//! let client = http_client(Trust::Ca(&reg.pki), Duration::from_secs(10)); // also Trust::System,
//! //   Trust::CaWithClientCert(&reg.pki, reg.client_cert()); rustls_config(trust) for your own
//! rustls_error(&err);          // Option<&rustls::Error>, walking io::Error::get_ref()
//! error_chain(&err);           // "a: b: c", for messages
//! ```
//!
//! # Nodes (`pod --from-node`)
//!
//! ```text
//! let kubelet = Kubelet::start(&api, "node-1", root.path()); // runs the pods the API server
//! //   creates on node-1 as local processes: hostPath mounts under `root`, secret volumes from the
//! //   server's Secrets, the binary under test for the image, inside its own network namespace
//! kubelet.net.forward(reg.port(), reg_addr);   // the node reaches the registry (else it cannot)
//! kubelet.refuse_image(IMAGE, MESSAGE);        // the probe image cannot be pulled there
//! kubelet.hold();                              // pods stay Pending
//! kubelet.ran();                               // [Ran { pod, args, env, exit }]
//! api.created_pods(); api.deleted_pods();      // what pulldoctor created and deleted
//! ```
//!
//! Modes: `Tls::{Plain, Valid, WrongName, Expired, Mutual}` × `Auth::{None, Htpasswd, Token}`.
//! The bench panics on setup failure: a broken bench must fail the test loudly.

// Each test module uses a different subset of the bench.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod connect;
pub mod hostile;
pub mod kube_api;
pub mod kubelet;
pub mod layer;
pub mod netns;
pub mod pki;
pub mod proxy;
pub mod push;
pub mod registry;
pub mod relay;
pub mod replay;
pub mod serve;
pub mod socks;
pub mod token;

pub use client::{Trust, error_chain, http_client, rustls_config, rustls_error};
pub use connect::ConnectProxy;
pub use pki::{CertPair, Pki};
pub use proxy::{Fault, FaultProxy, Match, ProxyRequest, refused_port};
pub use push::{Fixtures, PlatformManifest, Pushed, sha256_digest};
pub use registry::{Auth, BASIC_REALM, Registry, RegistryOptions, Tls};
pub use relay::{Logged, Relay, access_log};
pub use socks::SocksProxy;
pub use token::{TokenOptions, TokenReply, TokenRequest, TokenServer};
