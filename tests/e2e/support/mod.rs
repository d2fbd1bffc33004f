//! Real servers for the tests: a registry, a token server, a Kubernetes API server.
//!
//! # Registry bench (everything on 127.0.0.1, one instance per test, stopped on drop)
//!
//! ```ignore
//! use crate::support::{Registry, RegistryOptions, Tls, Auth, Fault, FaultProxy, Trust};
//!
//! // Debian's docker-registry 2.8 on 127.0.0.1:0; a fresh CA and certificates per instance.
//! let reg = Registry::start(RegistryOptions { tls: Tls::Valid, auth: Auth::htpasswd("alice", "s3cret") });
//! reg.host;            // "127.0.0.1:PORT"
//! reg.url();           // "https://127.0.0.1:PORT"
//! reg.ca_file;         // Some(PathBuf) for TLS modes: the CA a node would be given
//! reg.pki;             // Pki { ca_pem, ca_file, server, wrong_name, expired, client, dir }
//! reg.credentials();   // Some(("alice", "s3cret"))
//! let fx = reg.seed_fixtures(); // synchronous; fine inside #[tokio::test]
//! fx.get("multi:1.0").digest;   // "sha256:…"; .platforms lists linux/amd64 and linux/arm64/v8
//!
//! // Token auth: the bench starts a token server (HTTPS, same CA) and the registry names it.
//! let reg = Registry::start(RegistryOptions { tls: Tls::Valid, auth: Auth::token("bob", "pw") });
//! let token = reg.token.as_ref().unwrap();
//! token.realm;                   // "https://127.0.0.1:PORT/token"; token.service, token.issuer
//! token.refuse("app");           // valid users now get an empty access list for `app`
//! token.requests();              // [TokenRequest { method, path, query, authorization, status }]
//!
//! // Faults in front of a real registry (same scheme and certificate as the registry).
//! let proxy = FaultProxy::start(&reg, Fault::rate_limited());      // 429 on manifests
//! let proxy = FaultProxy::start(&reg, Fault::unavailable(Match::TagsList)); // 503
//! let proxy = FaultProxy::start(&reg, Fault::Stall { on: Match::Manifests });
//! let proxy = FaultProxy::start(&reg, Fault::SilentAccept);        // TCP open, then nothing
//! proxy.host(); proxy.requests(); proxy.connections();
//! let port = refused_port();     // 127.0.0.1:port refuses connections
//!
//! // Test-side HTTP clients and the rustls error inside a reqwest error.
//! let client = http_client(Trust::Ca(&reg.pki), Duration::from_secs(10));
//! rustls_error(&err);            // Option<&rustls::Error>
//! ```
//!
//! Modes: `Tls::{Plain, Valid, WrongName, Expired, Mutual}` × `Auth::{None, Htpasswd, Token}`.
//! The bench's pieces panic on setup failure (a broken bench must fail the test loudly).

// Each test module uses a different subset of the bench.
#![allow(dead_code, unused_imports)]

pub mod client;
pub mod layer;
pub mod pki;
pub mod proxy;
pub mod push;
pub mod registry;
pub mod serve;
pub mod token;

pub use client::{Trust, error_chain, http_client, rustls_config, rustls_error};
pub use pki::{CertPair, Pki};
pub use proxy::{Fault, FaultProxy, Match, ProxyRequest, refused_port};
pub use push::{Fixtures, PlatformManifest, Pushed, sha256_digest};
pub use registry::{Auth, BASIC_REALM, Registry, RegistryOptions, Tls};
pub use token::{TokenOptions, TokenReply, TokenRequest, TokenServer};
