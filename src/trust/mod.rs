//! What a node trusts for a registry: CA files, a client certificate, certs.d and hosts.toml.
//!
//! A node adds per-registry CAs to the system pool (containerd `hosts.toml` `ca`, Docker's
//! `/etc/docker/certs.d/<host:port>/*.crt`), may present a client certificate, may skip
//! verification, and may speak plain HTTP to a registry its config names with `http://`
//! (<https://github.com/containerd/containerd/blob/main/docs/hosts.md>,
//! <https://docs.docker.com/engine/security/certificates/>). [`Trust`] holds the result for one
//! registry, with a line per source so the report can say where each piece came from. PEM is
//! read with rustls-pki-types (rustls-pemfile is unmaintained).

pub mod certsd;
pub mod describe;
pub mod pin;
pub mod route;
pub mod system;

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

pub use certsd::{HostEntry, HostsConfig, HostsTomlError};
pub use describe::{CertInfo, describe_chain};
pub use pin::{Pin, PinError};
pub use route::Route;

/// Why a trust input given on the command line is unusable.
#[derive(Debug, Error)]
pub enum TrustError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that should hold PEM certificates holds none.
    #[error("{path}: no PEM certificate found")]
    NoCertificates { path: PathBuf },
    /// A PEM block could not be decoded.
    #[error("{path}: bad PEM: {reason}")]
    BadPem { path: PathBuf, reason: String },
    /// A PEM file over its size cap.
    #[error("{path}: {reason}")]
    TooLarge { path: PathBuf, reason: String },
    /// A client key file holds no usable private key.
    #[error("{path}: no PEM private key found")]
    NoKey { path: PathBuf },
}

/// The trust inputs as given on the command line, resolved per registry by [`Trust::resolve`].
#[derive(Debug, Clone, Default)]
pub struct TrustSpec {
    /// `--ca-file` (repeatable).
    pub ca_files: Vec<PathBuf>,
    /// `--cert-dir`: one Docker-style directory used for every registry.
    pub cert_dir: Option<PathBuf>,
    /// `--certs-dir`: certs.d roots, searched in order; the first with a directory for the
    /// registry wins (containerd's `config_path` list; CRI-O's containers-then-docker order).
    pub certs_roots: Vec<PathBuf>,
    /// `--resolve HOST:PORT:ADDR` (repeatable): addresses for host names, curl's way.
    pub pins: Vec<Pin>,
}

/// One CA certificate and the file it came from.
#[derive(Debug, Clone)]
pub struct CaCert {
    pub der: CertificateDer<'static>,
    pub source: PathBuf,
}

/// A client certificate chain and its key (mTLS).
#[derive(Debug)]
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
        }
    }
}

/// What the node trusts for one registry.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Start from the system roots (as every runtime does) before adding `cas`.
    pub system_roots: bool,
    /// The node's own CA bundle (`--node-root`), trusted in place of this machine's roots when
    /// `system_roots` is false; kept by [`Trust::system_only`].
    pub base_roots: Vec<CaCert>,
    /// CAs the node adds for this registry.
    pub cas: Vec<CaCert>,
    /// The client certificate the node presents, if any.
    pub client: Option<ClientIdentity>,
    /// The node's config turns verification off for this registry (`skip_verify`).
    pub skip_verify: bool,
    /// The node's config names this registry with `http://`.
    pub plain_http: bool,
    /// The endpoint the runtime contacts first when its config names one (hosts.toml), as a
    /// base URL; None = `https://<registry>`.
    pub endpoint: Option<url::Url>,
    /// hosts.toml `override_path`: the endpoint's path is the API root (no `/v2` appended).
    pub override_path: bool,
    /// Endpoints the runtime would fall back to, in order, after `endpoint` (recorded only).
    pub fallbacks: Vec<String>,
    /// Where each piece came from, one human line each.
    pub sources: Vec<String>,
    /// Things wrong with the node's config that the runtime ignores or stumbles on.
    pub problems: Vec<String>,
    /// Addresses for host names (`--resolve`): the registry, a realm, a redirect target.
    pub pins: Vec<Pin>,
    /// The node runtime's proxy (`--node-root`); None = every request goes direct.
    pub route: Option<Route>,
}

impl Default for Trust {
    fn default() -> Self {
        Trust::system()
    }
}

impl Trust {
    /// The system roots only: what a node with no per-registry config trusts.
    pub fn system() -> Trust {
        Trust {
            system_roots: true,
            base_roots: Vec::new(),
            cas: Vec::new(),
            client: None,
            skip_verify: false,
            plain_http: false,
            endpoint: None,
            override_path: false,
            fallbacks: Vec::new(),
            sources: vec!["system roots".into()],
            problems: Vec::new(),
            pins: Vec::new(),
            route: None,
        }
    }

    /// The system roots plus the CAs in each PEM bundle (`--ca-file`, repeatable).
    pub fn from_ca_files<P: AsRef<Path>>(paths: &[P]) -> Result<Trust, TrustError> {
        let mut trust = Trust::system();
        for p in paths {
            trust.add_ca_file(p.as_ref())?;
        }
        Ok(trust)
    }

    /// Adds every certificate in a PEM bundle as a CA.
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), TrustError> {
        let certs = read_certs(path)?;
        self.sources.push(format!(
            "CA file {} ({} certificate{})",
            path.display(),
            certs.len(),
            if certs.len() == 1 { "" } else { "s" }
        ));
        self.cas.extend(certs.into_iter().map(|der| CaCert {
            der,
            source: path.to_path_buf(),
        }));
        Ok(())
    }

    /// A Docker-style directory (`--cert-dir`): `*.crt` CAs, `*.cert` + `*.key` client pair.
    pub fn from_cert_dir(dir: &Path) -> Result<Trust, TrustError> {
        let mut trust = Trust::system();
        certsd::load_docker_dir(&mut trust, dir)?;
        Ok(trust)
    }

    /// A copy of a node's certs.d tree (`--certs-dir`), looked up for `registry` (`host[:port]`
    /// as written in the image reference) the way `runtime` does it.
    pub fn from_certs_root(
        root: &Path,
        registry: &str,
        runtime: crate::taxonomy::Runtime,
    ) -> Result<Trust, TrustError> {
        let mut trust = Trust::system();
        certsd::load_certs_root(&mut trust, root, registry, runtime)?;
        Ok(trust)
    }

    /// What the node trusts for `registry` given everything on the command line: the system
    /// roots, then `--ca-file`s, then `--cert-dir`, then the first certs.d root with a directory
    /// for the registry, looked up as `runtime` does.
    pub fn resolve(
        spec: &TrustSpec,
        registry: &str,
        runtime: crate::taxonomy::Runtime,
    ) -> Result<Trust, TrustError> {
        let mut trust = Trust::system();
        for f in &spec.ca_files {
            trust.add_ca_file(f)?;
        }
        if let Some(dir) = &spec.cert_dir {
            certsd::load_docker_dir(&mut trust, dir)?;
        }
        for root in &spec.certs_roots {
            if certsd::load_certs_root(&mut trust, root, registry, runtime)? {
                break;
            }
        }
        trust.pins = spec.pins.clone();
        for p in &spec.pins {
            trust.sources.push(format!("--resolve {p}"));
        }
        Ok(trust)
    }

    /// Uses a client certificate and key (PEM files; the key may sit in the certificate file).
    pub fn set_client_pair(&mut self, cert: &Path, key: Option<&Path>) -> Result<(), TrustError> {
        let chain = read_certs(cert)?;
        let key_path = key.unwrap_or(cert);
        let key_der = read_key(key_path)?;
        self.sources.push(format!(
            "client certificate {} with key {}",
            cert.display(),
            key_path.display()
        ));
        self.client = Some(ClientIdentity {
            chain,
            key: key_der,
            cert_path: cert.to_path_buf(),
            key_path: key_path.to_path_buf(),
        });
        Ok(())
    }

    /// The same trust without the node's CAs: the contrast "what the system roots alone say".
    pub fn system_only(&self) -> Trust {
        Trust {
            cas: Vec::new(),
            sources: vec!["system roots".into()],
            ..self.clone()
        }
    }

    /// True when the node adds anything to the system roots.
    pub fn has_node_cas(&self) -> bool {
        !self.cas.is_empty()
    }
}

/// Every certificate in a PEM file; an error when there is none.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let bytes = read_pem(path)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(c) => certs.push(c),
            Err(e) => {
                return Err(TrustError::BadPem {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(TrustError::NoCertificates {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TrustError> {
    let bytes = read_pem(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TrustError::NoKey {
        path: path.to_path_buf(),
    })
}

/// A PEM file's bytes, at most [`crate::limits::MAX_PEM`] of them.
fn read_pem(path: &Path) -> Result<Vec<u8>, TrustError> {
    use crate::limits::{CapError, MAX_PEM, read_capped};
    tracing::debug!("trust: reading {}", path.display());
    read_capped(path, MAX_PEM, "a PEM file").map_err(|e| match e {
        CapError::Read { path, source } => TrustError::Read { path, source },
        other => TrustError::TooLarge {
            path: other.path().to_path_buf(),
            reason: other.reason(),
        },
    })
}
