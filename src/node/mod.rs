//! `--node-root DIR`: a node's runtime configuration, read from a copy of its files the way
//! its runtime reads them, offline.
//!
//! For the runtime the node reports (`containerRuntimeVersion`: `containerd://1.7.2`,
//! `docker://24.0.7`, `cri-o://1.29.1`), [`read`] gathers, per image: the endpoints in the
//! runtime's order (containerd `config.toml` + certs.d `hosts.toml`; Docker `daemon.json` +
//! certs.d; CRI-O `registries.conf` + drop-ins + certs.d), the proxy from the runtime's systemd
//! unit, kubelet's node-level docker config, `/etc/hosts` and `/etc/resolv.conf`, and the
//! node's CA bundle — each decision with the node file and line that makes it. The readers are
//! pure but for reading files under the root; [`NodeRead::trust`] turns the result into the
//! [`Trust`](crate::trust::Trust) the probe uses instead of this machine's roots.

pub mod certs_dir;
pub mod containerd;
pub mod detect;
pub mod docker;
pub mod docker_proxy;
pub mod etc;
pub mod files;
pub mod kubelet;
pub mod model;
pub mod proxy;
pub mod registries_conf;
pub mod route;
pub mod tomlspan;

use std::net::IpAddr;
use std::path::Path;

pub use files::{NodeFileError, NodeRoot};
pub use model::{Endpoint, Finding, HostsEntry, NodeConfig, NodeCredentials, Proxy, Role};

use crate::credentials::dockerconfig::Entry;
use crate::reference::ImageRef;
use crate::taxonomy::Runtime;
use crate::trust::Trust;

pub use crate::trust::system::CA_BUNDLES;

/// What reading the node gave for one image: the report's part, and what the probe needs.
#[derive(Debug, Clone)]
pub struct NodeRead {
    pub config: NodeConfig,
    /// kubelet's node-level credential for the image, if its keyring has one.
    pub credential: Option<Entry>,
    /// `/etc/hosts` addresses for the endpoint hosts (applied like `--resolve`).
    pub resolve: Vec<(String, IpAddr)>,
    /// The runtime's proxy, applied to every request the probe makes.
    pub route: crate::trust::Route,
    /// Proxy variables whose values do not parse: the cause for the URLs they would carry.
    pub bad_proxies: Vec<route::BadProxy>,
    root: NodeRoot,
}

/// The runtime named by `containerRuntimeVersion` or `--runtime`, and its major version.
pub fn runtime_of(version: &str) -> (Runtime, Option<u32>) {
    let runtime = Runtime::from_runtime_version(version);
    let major = version
        .split("://")
        .nth(1)
        .and_then(|v| v.trim_start_matches('v').split('.').next())
        .and_then(|m| m.parse().ok());
    (runtime, major)
}

/// Reads the node's configuration for `image` (`raw`: as written in the pod spec, which
/// decides CRI-O's short-name resolution).
pub fn read(
    root: &Path,
    runtime: Runtime,
    major: Option<u32>,
    raw: &str,
    image: &ImageRef,
) -> NodeRead {
    let root = NodeRoot::new(root);
    let mut findings = Vec::new();
    let hosts = match root.read(etc::HOSTS) {
        Ok(Some(t)) => etc::parse_hosts(&t, etc::HOSTS).unwrap_or_else(|e| {
            findings.push(e.into());
            Vec::new()
        }),
        Ok(None) => Vec::new(),
        Err(e) => {
            findings.push(e.into());
            Vec::new()
        }
    };
    let nameservers = match root.read(etc::RESOLV_CONF) {
        Ok(Some(t)) => etc::parse_resolv(&t, etc::RESOLV_CONF).unwrap_or_else(|e| {
            findings.push(e.into());
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let mut resolved_ref = None;
    let mut blocked = false;
    let host_ips = |h: &str| -> Vec<IpAddr> {
        etc::lookup(&hosts, h)
            .and_then(|e| e.address.parse().ok())
            .into_iter()
            .collect()
    };
    let mut endpoints = match runtime {
        Runtime::Containerd => containerd::resolve(&root, &image.registry, major, &mut findings),
        Runtime::Docker => docker::resolve(
            &root,
            &image.registry,
            &host_ips(image.host()),
            &mut findings,
        ),
        Runtime::CriO => {
            let conf = registries_conf::load(&root, &mut findings);
            let cands = registries_conf::candidates(&conf, raw, &mut findings);
            let Some(first) = cands.first() else {
                return finish(
                    root,
                    image,
                    raw,
                    Vec::new(),
                    hosts,
                    nameservers,
                    findings,
                    None,
                    false,
                    runtime,
                );
            };
            let reference = match ImageRef::parse(first) {
                Ok(r) => r.canonical(),
                Err(_) => first.clone(),
            };
            if reference != image.canonical() {
                resolved_ref = Some(reference.clone());
            }
            let (mut eps, b) = registries_conf::endpoints(
                &conf,
                &reference,
                image.digest.is_some(),
                &mut findings,
            );
            blocked = b;
            for e in &mut eps {
                if let Ok(u) = url::Url::parse(&e.url) {
                    let host = match u.port() {
                        Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                        None => u.host_str().unwrap_or("").to_string(),
                    };
                    registries_conf::apply_certs_d(&root, &host, e);
                }
            }
            eps
        }
        Runtime::Unknown => {
            findings.push(Finding::new(
                "--runtime",
                None,
                "the node's runtime is unknown: pass --runtime containerd|docker|cri-o to read its files",
            ));
            Vec::new()
        }
    };
    // Client keys alone, and CA files named but missing, are the node's problems too.
    for e in &endpoints {
        for ca in &e.ca {
            if !root.is_file(ca) {
                findings.push(Finding::new(
                    ca,
                    None,
                    format!("CA file for {} does not exist on the node", e.url),
                ));
            }
        }
    }
    let mut env = proxy::environment(&root, proxy::unit_name(runtime), &mut findings);
    if runtime == Runtime::Docker {
        env = docker_proxy::apply(&root, env, &mut findings);
    }
    let proxy = endpoints
        .iter()
        .find(|e| e.pulls())
        .and_then(|e| url::Url::parse(&e.url).ok())
        .and_then(|u| proxy::for_endpoint(&env, &u, &mut findings));
    let mut cfg = finish(
        root,
        image,
        raw,
        std::mem::take(&mut endpoints),
        hosts,
        nameservers,
        findings,
        proxy,
        blocked,
        runtime,
    );
    cfg.config.resolved = resolved_ref;
    (cfg.route, cfg.bad_proxies) = route::route(&env);
    cfg
}

#[allow(clippy::too_many_arguments)]
fn finish(
    root: NodeRoot,
    image: &ImageRef,
    raw: &str,
    endpoints: Vec<Endpoint>,
    all_hosts: Vec<HostsEntry>,
    nameservers: Vec<String>,
    mut findings: Vec<Finding>,
    proxy: Option<Proxy>,
    blocked: bool,
    runtime: Runtime,
) -> NodeRead {
    let (mut credentials, credential) = kubelet::credentials(&root, image, &mut findings);
    if let Some(p) = kubelet::provider(&root, image, &mut findings) {
        credentials
            .get_or_insert(NodeCredentials {
                file: None,
                entry: None,
                provider: None,
            })
            .provider = Some(p);
    }
    let mut hosts = Vec::new();
    let mut resolve = Vec::new();
    for e in &endpoints {
        let Some(h) = url::Url::parse(&e.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        else {
            continue;
        };
        if let Some(entry) = etc::lookup(&all_hosts, &h)
            && !hosts.contains(entry)
        {
            findings.push(Finding::new(
                etc::HOSTS,
                Some(entry.line),
                format!("{h} resolves to {} on the node", entry.address),
            ));
            if let Ok(ip) = entry.address.parse() {
                resolve.push((h.clone(), ip));
            }
            hosts.push(entry.clone());
        }
    }
    let ca_bundle = CA_BUNDLES
        .iter()
        .find(|b| root.is_file(b))
        .map(|b| b.to_string());
    if ca_bundle.is_none() {
        findings.push(Finding::new(
            CA_BUNDLES[0],
            None,
            "no system CA bundle in the node copy: only the per-registry CAs are trusted",
        ));
    }
    NodeRead {
        config: NodeConfig {
            image: raw.to_string(),
            runtime: runtime.id().to_string(),
            resolved: None,
            endpoints,
            ca_bundle,
            proxy,
            credentials,
            hosts,
            nameservers,
            blocked,
            findings,
        },
        credential,
        resolve,
        route: crate::trust::Route::default(),
        bad_proxies: Vec::new(),
        root,
    }
}

impl NodeRead {
    /// The endpoints the runtime pulls from, in its order, each URL once (containerd may list
    /// the server twice: as a `[host]` and as `server`).
    pub fn pulling(&self) -> Vec<&Endpoint> {
        let mut out: Vec<&Endpoint> = Vec::new();
        for e in self.config.endpoints.iter().filter(|e| e.pulls()) {
            if !out
                .iter()
                .any(|x| x.url == e.url && x.repository == e.repository)
            {
                out.push(e);
            }
        }
        out
    }

    /// The reference the runtime asks endpoint `i` for, when its config rewrites it (CRI-O
    /// short names, `location`, mirrors): `host/repository[:tag|@digest]`.
    pub fn probe_image(&self, i: usize) -> Option<ImageRef> {
        let e = *self.pulling().get(i)?;
        let repo = e.repository.as_ref()?;
        let u = url::Url::parse(&e.url).ok()?;
        let host = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str()?),
            None => u.host_str()?.to_string(),
        };
        ImageRef::parse(&format!("{host}/{repo}")).ok()
    }

    /// The trust the node has for pulling endpoint `i`: its CA bundle in place of this
    /// machine's roots, plus the endpoint's CAs and client certificate; unreadable files
    /// become findings.
    pub fn trust(&mut self, i: usize) -> Trust {
        let mut trust = Trust::system();
        trust.system_roots = false;
        trust.sources = Vec::new();
        if let Some(b) = &self.config.ca_bundle {
            match crate::trust::read_certs(&self.root.host_path(b)) {
                Ok(certs) => {
                    trust
                        .sources
                        .push(format!("node CA bundle {b} ({} certificates)", certs.len()));
                    trust.base_roots = certs
                        .into_iter()
                        .map(|der| crate::trust::CaCert {
                            der,
                            source: b.into(),
                        })
                        .collect();
                }
                Err(e) => self.note(Finding::new(b, None, e.to_string())),
            }
        }
        let all: Vec<Endpoint> = self.pulling().into_iter().cloned().collect();
        let Some(e) = all.get(i).cloned() else {
            return trust;
        };
        for ca in &e.ca {
            let host = self.root.host_path(ca);
            if host.is_file()
                && let Err(err) = trust.add_ca_file(&host)
            {
                self.note(Finding::new(ca, None, err.to_string()));
            }
        }
        if let Some(cert) = &e.client_cert {
            let key = e.client_key.as_ref().map(|k| self.root.host_path(k));
            if let Err(err) = trust.set_client_pair(&self.root.host_path(cert), key.as_deref()) {
                self.note(Finding::new(cert, None, err.to_string()));
            }
        }
        trust.skip_verify = e.skip_verify;
        if let Ok(u) = url::Url::parse(&e.url) {
            trust.plain_http = u.scheme() == "http" || e.insecure;
            trust.endpoint = Some(u);
        }
        trust.override_path = e.override_path;
        trust.fallbacks = all.iter().skip(i + 1).map(|x| x.url.clone()).collect();
        trust
            .sources
            .push(format!("node endpoint {} ({})", e.url, e.source));
        trust
    }

    fn note(&mut self, f: Finding) {
        if !self.config.findings.contains(&f) {
            self.config.findings.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_versions() {
        assert_eq!(
            runtime_of("containerd://1.7.2"),
            (Runtime::Containerd, Some(1))
        );
        assert_eq!(
            runtime_of("containerd://v2.0.0"),
            (Runtime::Containerd, Some(2))
        );
        assert_eq!(runtime_of("cri-o://1.29.1").0, Runtime::CriO);
        assert_eq!(runtime_of("docker").0, Runtime::Docker);
    }
}
