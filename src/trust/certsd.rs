//! A node's certs.d trees: Docker's, containerd's (with `hosts.toml`) and CRI-O's.
//!
//! Looked up exactly as each runtime does. containerd (`remotes/docker/config/hosts.go`,
//! <https://github.com/containerd/containerd/blob/main/docs/hosts.md>) tries `<host>_<port>_`,
//! then `<host:port>`, then `_default` under a root; the directory's `hosts.toml` lists
//! `[host."URL"]` entries tried in file order before `server`, each with `ca`, `client`,
//! `skip_verify`, `capabilities` and `override_path`, relative paths resolved against the
//! directory; without a `hosts.toml` (or with an unparsable one) the directory is read
//! Docker-style. Docker (`/etc/docker/certs.d/<host:port>/`) and CRI-O
//! (`/etc/containers/certs.d/<host:port>/`) use only the exact name: `*.crt` are CAs and
//! `*.cert` + `*.key` a client pair.

use std::path::{Path, PathBuf};

use super::{Trust, TrustError};
use crate::taxonomy::Runtime;

/// One `[host."URL"]` entry of a hosts.toml (or the top-level `server` settings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostEntry {
    /// The endpoint URL as written (scheme added when missing).
    pub url: String,
    pub capabilities: Vec<String>,
    pub ca: Vec<PathBuf>,
    /// Client pairs: certificate and key (None = the key is in the certificate file).
    pub client: Vec<(PathBuf, Option<PathBuf>)>,
    pub skip_verify: Option<bool>,
    pub override_path: bool,
}

/// Why a hosts.toml is unusable (containerd then reads the directory Docker-style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostsTomlError(pub String);

/// A parsed hosts.toml: the `[host]` entries in file order, then the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsConfig {
    pub hosts: Vec<HostEntry>,
    pub server: HostEntry,
}

impl HostsConfig {
    /// The endpoints in the order containerd tries them: `[host]` entries, then `server`.
    pub fn endpoints(&self) -> impl Iterator<Item = &HostEntry> {
        self.hosts.iter().chain(std::iter::once(&self.server))
    }
}

/// containerd's `hostDirectory`: `host:port` → `host_port_`.
pub fn host_directory(registry: &str) -> String {
    match registry.rfind(':') {
        Some(i) if i > 0 => format!("{}_{}_", &registry[..i], &registry[i + 1..]),
        _ => registry.to_string(),
    }
}

/// The directory names a runtime looks for under a certs.d root, in order.
pub fn lookup_names(registry: &str, runtime: Runtime) -> Vec<String> {
    match runtime {
        Runtime::Docker | Runtime::CriO => vec![registry.to_string()],
        Runtime::Containerd | Runtime::Unknown => {
            let mut names = Vec::new();
            let hd = host_directory(registry);
            if hd != registry {
                names.push(hd);
            }
            names.push(registry.to_string());
            names.push("_default".to_string());
            names
        }
    }
}

/// Finds the registry's directory under `root` and loads it into `trust`; false when the root
/// has no directory for the registry.
pub fn load_certs_root(
    trust: &mut Trust,
    root: &Path,
    registry: &str,
    runtime: Runtime,
) -> Result<bool, TrustError> {
    if let Err(source) = std::fs::metadata(root) {
        return Err(TrustError::Read {
            path: root.to_path_buf(),
            source,
        });
    }
    let names = lookup_names(registry, runtime);
    tracing::debug!(
        "trust: looking under {} for {}",
        root.display(),
        names.join(", ")
    );
    let Some(dir) = names.iter().map(|n| root.join(n)).find(|p| p.is_dir()) else {
        trust.sources.push(format!(
            "no directory for {registry} under {} (looked for {}): system roots only",
            root.display(),
            names.join(", ")
        ));
        return Ok(false);
    };
    trust.sources.push(format!(
        "certs.d directory {} (the {} lookup order: {})",
        dir.display(),
        runtime.id(),
        names.join(", ")
    ));
    let hosts_toml = dir.join("hosts.toml");
    let uses_hosts_toml = matches!(runtime, Runtime::Containerd | Runtime::Unknown);
    let read = uses_hosts_toml
        .then(|| crate::limits::read_capped(&hosts_toml, crate::limits::MAX_PEM, "a hosts.toml"));
    if let Some(Err(e @ crate::limits::CapError::TooLarge { .. })) = &read {
        trust.problems.push(format!("{e} (not read)"));
    }
    if let Some(Ok(bytes)) = read
        && let Ok(text) = String::from_utf8(bytes)
        && !text.trim().is_empty()
    {
        match parse_hosts_toml(&text, &dir, registry) {
            Ok(cfg) => return apply_hosts(trust, &cfg, &hosts_toml).map(|()| true),
            Err(reason) => trust.problems.push(format!(
                "{}: cannot be parsed ({reason}); containerd falls back to the directory's \
                 certificate files",
                hosts_toml.display()
            )),
        }
    }
    load_docker_dir(trust, &dir).map(|()| true)
}

/// Reads a Docker-style directory: `*.crt` CAs, `*.cert` with its `*.key` as the client pair.
pub fn load_docker_dir(trust: &mut Trust, dir: &Path) -> Result<(), TrustError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TrustError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for f in &files {
        match f.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                if let Err(e) = trust.add_ca_file(f) {
                    trust.problems.push(e.to_string());
                }
            }
            Some("cert") => {
                let key = f.with_extension("key");
                if !key.is_file() {
                    trust.problems.push(format!(
                        "client certificate {} has no key {}: the runtime refuses the directory",
                        f.display(),
                        key.display()
                    ));
                } else if trust.client.is_none()
                    && let Err(e) = trust.set_client_pair(f, Some(&key))
                {
                    trust.problems.push(e.to_string());
                }
            }
            Some("key") if !f.with_extension("cert").is_file() => {
                trust.problems.push(format!(
                    "client key {} has no certificate {}",
                    f.display(),
                    f.with_extension("cert").display()
                ));
            }
            _ => {}
        }
    }
    if files.is_empty() {
        trust
            .sources
            .push(format!("{} is empty", dir.as_os_str().to_string_lossy()));
    }
    Ok(())
}

/// Applies the endpoint containerd would try first (for pulling) to `trust`.
fn apply_hosts(trust: &mut Trust, cfg: &HostsConfig, path: &Path) -> Result<(), TrustError> {
    // Resolving a tag needs `resolve`; fetching needs `pull` (containerd skips hosts without).
    let usable = |h: &&HostEntry| {
        let has = |cap: &str| h.capabilities.iter().any(|c| c == cap);
        has("pull") && has("resolve")
    };
    let mut endpoints = cfg.endpoints().filter(usable);
    let Some(first) = endpoints.next() else {
        trust.problems.push(format!(
            "{}: no endpoint has the pull and resolve capabilities",
            path.display()
        ));
        return Ok(());
    };
    trust.fallbacks = endpoints.map(|h| h.url.clone()).collect();
    trust.sources.push(format!(
        "{}: endpoint {} (first with pull and resolve capabilities)",
        path.display(),
        first.url
    ));
    match url::Url::parse(&first.url) {
        Ok(u) => {
            trust.plain_http = u.scheme() == "http";
            trust.endpoint = Some(u);
        }
        Err(e) => trust
            .problems
            .push(format!("{}: bad URL {:?}: {e}", path.display(), first.url)),
    }
    trust.override_path = first.override_path;
    if let Some(sv) = first.skip_verify {
        trust.skip_verify = sv;
        if sv {
            trust
                .sources
                .push(format!("{}: skip_verify = true", path.display()));
        }
    }
    for ca in &first.ca {
        if let Err(e) = trust.add_ca_file(ca) {
            trust.problems.push(e.to_string());
        }
    }
    if let Some((cert, key)) = first.client.first()
        && let Err(e) = trust.set_client_pair(cert, key.as_deref())
    {
        trust.problems.push(e.to_string());
    }
    Ok(())
}

/// Parses a hosts.toml; `dir` resolves relative paths, `registry` gives the default server.
pub fn parse_hosts_toml(
    text: &str,
    dir: &Path,
    registry: &str,
) -> Result<HostsConfig, HostsTomlError> {
    parse_hosts(text, dir, registry).map_err(HostsTomlError)
}

fn parse_hosts(text: &str, dir: &Path, registry: &str) -> Result<HostsConfig, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        e.message().to_string()
            + &e.span()
                .map(|s| format!(" at byte {}", s.start))
                .unwrap_or_default()
    })?;
    let default_server = if registry == crate::reference::DOCKER_HUB {
        format!("https://{}", crate::reference::DOCKER_HUB_API)
    } else {
        format!("https://{registry}")
    };
    let server_url = match table.get("server") {
        Some(toml::Value::String(s)) => with_scheme(s),
        Some(_) => return Err("`server` must be a string".into()),
        None => default_server,
    };
    let mut server = entry(&table, server_url, dir)?;
    if server.capabilities.is_empty() {
        server.capabilities = all_capabilities();
    }
    let mut hosts = Vec::new();
    if let Some(h) = table.get("host") {
        let toml::Value::Table(h) = h else {
            return Err("`host` must be a table of [host.\"URL\"] entries".into());
        };
        for (url, v) in h {
            let toml::Value::Table(t) = v else {
                return Err(format!("[host.{url:?}] must be a table"));
            };
            let mut e = entry(t, with_scheme(url), dir)?;
            if e.capabilities.is_empty() && !t.contains_key("capabilities") {
                e.capabilities = all_capabilities();
            }
            hosts.push(e);
        }
    }
    Ok(HostsConfig { hosts, server })
}

fn all_capabilities() -> Vec<String> {
    vec!["pull".into(), "resolve".into(), "push".into()]
}

fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    }
}

/// One endpoint's settings from a table (`[host."URL"]` or the top level).
fn entry(t: &toml::Table, url: String, dir: &Path) -> Result<HostEntry, String> {
    let path = |s: &str| {
        let p = PathBuf::from(s);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match t.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{key}` entries must be strings"))
                })
                .collect(),
            Some(_) => Err(format!("`{key}` must be a string or an array of strings")),
        }
    };
    let capabilities = strings("capabilities")?;
    let ca = strings("ca")?.iter().map(|s| path(s)).collect();
    let mut client = Vec::new();
    match t.get("client") {
        None => {}
        Some(toml::Value::String(s)) => client.push((path(s), None)),
        Some(toml::Value::Array(a)) => {
            for item in a {
                match item {
                    toml::Value::String(s) => client.push((path(s), None)),
                    toml::Value::Array(pair) if !pair.is_empty() && pair.len() <= 2 => {
                        let cert = pair[0].as_str().ok_or("`client` pair must be strings")?;
                        let key = pair.get(1).and_then(|k| k.as_str()).map(path);
                        client.push((path(cert), key));
                    }
                    _ => return Err("`client` entries must be strings or [cert, key]".into()),
                }
            }
        }
        Some(_) => return Err("`client` must be a string or an array".into()),
    }
    let skip_verify = match t.get("skip_verify") {
        None => None,
        Some(toml::Value::Boolean(b)) => Some(*b),
        Some(_) => return Err("`skip_verify` must be true or false".into()),
    };
    let override_path = matches!(t.get("override_path"), Some(toml::Value::Boolean(true)));
    Ok(HostEntry {
        url,
        capabilities,
        ca,
        client,
        skip_verify,
        override_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_order_per_runtime() {
        assert_eq!(
            lookup_names("reg.test:5000", Runtime::Containerd),
            ["reg.test_5000_", "reg.test:5000", "_default"]
        );
        assert_eq!(
            lookup_names("reg.test", Runtime::Containerd),
            ["reg.test", "_default"]
        );
        assert_eq!(
            lookup_names("reg.test:5000", Runtime::Docker),
            ["reg.test:5000"]
        );
    }

    #[test]
    fn hosts_toml_entries_in_file_order_with_relative_paths() {
        let text = r#"
server = "https://reg.test:5000"
ca = "top.crt"

[host."https://mirror-b.test"]
  capabilities = ["pull", "resolve"]
  ca = ["b1.crt", "/abs/b2.crt"]
  client = [["c.cert", "c.key"], "both.pem"]

[host."mirror-a.test:8443"]
  capabilities = ["pull"]
  skip_verify = true
  override_path = true
"#;
        let cfg = parse_hosts_toml(text, Path::new("/d"), "reg.test:5000").unwrap();
        assert_eq!(cfg.hosts.len(), 2);
        assert_eq!(cfg.hosts[0].url, "https://mirror-b.test");
        assert_eq!(
            cfg.hosts[0].ca,
            [PathBuf::from("/d/b1.crt"), PathBuf::from("/abs/b2.crt")]
        );
        assert_eq!(
            cfg.hosts[0].client,
            [
                (PathBuf::from("/d/c.cert"), Some(PathBuf::from("/d/c.key"))),
                (PathBuf::from("/d/both.pem"), None)
            ]
        );
        assert_eq!(cfg.hosts[1].url, "https://mirror-a.test:8443");
        assert_eq!(cfg.hosts[1].skip_verify, Some(true));
        assert!(cfg.hosts[1].override_path);
        assert_eq!(cfg.server.url, "https://reg.test:5000");
        assert_eq!(cfg.server.ca, [PathBuf::from("/d/top.crt")]);
        let order: Vec<_> = cfg.endpoints().map(|e| e.url.as_str()).collect();
        assert_eq!(
            order,
            [
                "https://mirror-b.test",
                "https://mirror-a.test:8443",
                "https://reg.test:5000"
            ]
        );
    }

    #[test]
    fn default_server_and_docker_hub() {
        let cfg = parse_hosts_toml("", Path::new("/d"), "docker.io").unwrap();
        assert_eq!(cfg.server.url, "https://registry-1.docker.io");
        let cfg = parse_hosts_toml("", Path::new("/d"), "reg.test:5000").unwrap();
        assert_eq!(cfg.server.url, "https://reg.test:5000");
        assert!(cfg.server.capabilities.contains(&"pull".to_string()));
    }

    #[test]
    fn bad_hosts_toml_is_an_error_not_a_panic() {
        for bad in [
            "server = 5",
            "[host.\"x\"]\nca = 3",
            "[host.\"x\"]\nclient = [[1]]",
            "this is not toml",
            "host = 1",
        ] {
            assert!(
                parse_hosts_toml(bad, Path::new("/d"), "r").is_err(),
                "{bad}"
            );
        }
    }
}
