//! A certs.d directory as containerd reads it: `hosts.toml` (mirrors in file order, then
//! `server`, each with `capabilities`, `ca`, `client`, `skip_verify`, `override_path`), or,
//! without one, Docker-style `*.crt` CAs and a `*.cert` + `*.key` pair.
//!
//! Reproduces containerd's `docs/hosts.md`
//! (<https://github.com/containerd/containerd/blob/main/docs/hosts.md>); Docker's and CRI-O's
//! readers share the Docker-style half. Each endpoint keeps the file and line that put it there.

use std::path::Path;

use super::files::{NodeRoot, join};
use super::model::{Endpoint, Finding, Role};
use super::tomlspan::TVal;
use crate::trust::certsd::{self, HostEntry};

/// The upstream endpoint containerd uses for `registry` when nothing overrides it.
pub fn default_server(registry: &str) -> String {
    if registry == crate::reference::DOCKER_HUB {
        format!("https://{}", crate::reference::DOCKER_HUB_API)
    } else {
        format!("https://{registry}")
    }
}

/// The line of a hosts.toml most worth citing (`skip_verify`, `ca`, `client`, `server`), and
/// what it says.
pub(super) fn deciding_line(text: &str) -> (Option<u32>, String) {
    let Ok(doc) = TVal::parse(text, "hosts.toml") else {
        return (None, "this hosts.toml".into());
    };
    let mut tables: Vec<&TVal> = vec![&doc];
    tables.extend(
        doc.get("host")
            .map(|h| h.entries().iter().map(|(_, _, v)| v))
            .into_iter()
            .flatten(),
    );
    for key in ["skip_verify", "ca", "client", "server"] {
        for t in &tables {
            if let Some((l, v)) = t.entry(key) {
                let shown = match &v.v {
                    super::tomlspan::TKind::Str(s) => format!("{s:?}"),
                    super::tomlspan::TKind::Bool(b) => b.to_string(),
                    _ => "…".into(),
                };
                return (Some(l), format!("`{key} = {shown}`"));
            }
        }
    }
    (None, "this hosts.toml".into())
}

/// The endpoints from one certs.d directory: its hosts.toml, or Docker-style files.
pub(super) fn from_host_dir(
    root: &NodeRoot,
    registry: &str,
    dir: &str,
    findings: &mut Vec<Finding>,
) -> Vec<Endpoint> {
    let hosts = join(dir, "hosts.toml");
    match root.read(&hosts) {
        Ok(Some(text)) => match certsd::parse_hosts_toml(&text, Path::new(dir), registry) {
            Ok(cfg) => {
                let doc = TVal::parse(&text, &hosts).ok();
                let line_of = |url: &str| -> Option<u32> {
                    let d = doc.as_ref()?;
                    let hosts_t = d.get("host")?;
                    hosts_t
                        .entries()
                        .iter()
                        .find(|(k, _, _)| with_scheme(k) == url)
                        .map(|(_, l, _)| *l)
                };
                let server_line = doc.as_ref().and_then(|d| d.entry("server")).map(|(l, _)| l);
                let mut out: Vec<Endpoint> = cfg
                    .hosts
                    .iter()
                    .map(|h| endpoint(h, Role::Mirror, source(&hosts, line_of(&h.url))))
                    .collect();
                out.push(endpoint(
                    &cfg.server,
                    Role::Upstream,
                    source(&hosts, server_line),
                ));
                for (h, l) in cfg.hosts.iter().map(|h| (h, line_of(&h.url))) {
                    if !endpoint(h, Role::Mirror, String::new()).pulls() {
                        findings.push(Finding::new(
                            &hosts,
                            l,
                            format!("{} lacks the pull and resolve capabilities: containerd skips it for pulls", h.url),
                        ));
                    }
                }
                out
            }
            Err(e) => {
                findings.push(Finding::new(
                    &hosts,
                    None,
                    format!("{e}; containerd then reads {dir} Docker-style"),
                ));
                docker_style(root, registry, dir)
            }
        },
        Ok(None) => docker_style(root, registry, dir),
        Err(e) => {
            findings.push(e.into());
            docker_style(root, registry, dir)
        }
    }
}

fn source(file: &str, line: Option<u32>) -> String {
    match line {
        Some(l) => format!("{file} line {l}"),
        None => file.to_string(),
    }
}

pub(super) fn with_scheme(u: &str) -> String {
    if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    }
}

fn endpoint(h: &HostEntry, role: Role, source: String) -> Endpoint {
    let mut e = Endpoint::new(&h.url, role, source);
    e.capabilities = h.capabilities.clone();
    e.ca =
        h.ca.iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
    if let Some((cert, key)) = h.client.first() {
        e.client_cert = Some(cert.to_string_lossy().into_owned());
        e.client_key = key.as_ref().map(|k| k.to_string_lossy().into_owned());
    }
    e.skip_verify = h.skip_verify.unwrap_or(false);
    e.override_path = h.override_path;
    e
}

/// A certs.d directory without hosts.toml: `*.crt` CAs and a `*.cert` + `*.key` pair.
pub fn docker_style(root: &NodeRoot, registry: &str, dir: &str) -> Vec<Endpoint> {
    let mut e = Endpoint::new(&default_server(registry), Role::Upstream, dir.to_string());
    apply_docker_dir(root, dir, &mut e);
    vec![e]
}

/// Adds a Docker-style directory's CAs and client pair to an endpoint.
pub fn apply_docker_dir(root: &NodeRoot, dir: &str, e: &mut Endpoint) {
    let names = root.list(dir);
    for n in &names {
        if n.ends_with(".crt") {
            e.ca.push(join(dir, n));
        }
    }
    if let Some(cert) = names.iter().find(|n| n.ends_with(".cert")) {
        let key = format!("{}.key", cert.trim_end_matches(".cert"));
        if names.contains(&key) {
            e.client_cert = Some(join(dir, cert));
            e.client_key = Some(join(dir, &key));
        }
    }
}

/// containerd's `IsLocalhost`: the name `localhost` or a loopback address, never a name that
/// merely resolves to one.
pub(super) fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// containerd's default for a loopback registry (`localhost`, `127.0.0.0/8`, `::1`) that no
/// `server` names: `ConfigureHosts` (`core/remotes/docker/config/hosts.go`) makes the default
/// host HTTPS only on port 443 (or none), plain HTTP only on port 80, and otherwise HTTP "with
/// a TLS configuration", which its `NewHTTPFallback` turns into HTTPS first and plain HTTP
/// after a TLS error; TLS verification is skipped except on port 80.
pub(super) fn localhost_default(
    registry: &str,
    config: &str,
    eps: &mut [Endpoint],
    findings: &mut Vec<Finding>,
) {
    let default = default_server(registry);
    let Some(e) = eps
        .iter_mut()
        .find(|e| e.role == Role::Upstream && e.url == default && !e.source.contains(" line "))
    else {
        return;
    };
    let Ok(u) = url::Url::parse(&e.url) else {
        return;
    };
    if !is_loopback(&u) {
        return;
    }
    let what = match u.port() {
        Some(80) => {
            e.url = format!("http://{registry}");
            e.insecure = true;
            "plain HTTP only (port 80)".to_string()
        }
        None | Some(443) => {
            e.skip_verify = true;
            "HTTPS without verifying the certificate".to_string()
        }
        Some(_) => {
            e.skip_verify = true;
            e.insecure = true;
            format!(
                "https://{registry} without verifying the certificate, then plain HTTP after a TLS error"
            )
        }
    };
    let file = e
        .source
        .split_whitespace()
        .next()
        .filter(|w| w.starts_with('/'))
        .unwrap_or(config)
        .trim_end_matches([';', ':'])
        .to_string();
    e.source = format!("{}; containerd's loopback default", e.source);
    findings.push(Finding::new(
        &file,
        None,
        format!("no `server` names {registry}, a loopback registry: containerd's default for it is {what}"),
    ));
}
