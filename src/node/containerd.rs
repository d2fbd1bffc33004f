//! containerd's registry configuration on a node: `config.toml` and the certs.d tree.
//!
//! Reproduces the CRI plugin (<https://github.com/containerd/containerd/blob/main/docs/cri/config.md>,
//! `docs/hosts.md`): the registry table lives at `[plugins.cri.registry]` (config version 1),
//! `[plugins."io.containerd.grpc.v1.cri".registry]` (version 2, containerd 1.x) or
//! `[plugins."io.containerd.cri.v1.images".registry]` (version 3, containerd 2.x). With
//! `config_path` set, each of its roots is searched for `<host>_<port>_`, `<host:port>`, then
//! `_default`, and the first `hosts.toml` found lists mirrors (file order) before `server`.
//! Without it, certs.d is never read and the deprecated `mirrors` / `configs` tables apply:
//! mirror endpoints in order, then the registry itself. containerd refuses to start when
//! `mirrors` (or `configs.*.tls`) are set together with `config_path`.

pub use super::certs_dir::{apply_docker_dir, default_server, docker_style};
use super::certs_dir::{deciding_line, from_host_dir, is_loopback, localhost_default, with_scheme};
use super::files::{NodeFileError, NodeRoot, join};
use super::model::{Endpoint, Finding, Role};
use super::tomlspan::TVal;
use crate::trust::certsd;

/// The node path of containerd's main configuration.
pub const CONFIG: &str = "/etc/containerd/config.toml";

/// The registry settings of a containerd `config.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerdConfig {
    /// `version` (1 when absent).
    pub version: u32,
    /// The table the registry settings were read from, e.g. `plugins."io.containerd.grpc.v1.cri".registry`.
    pub table: String,
    /// `config_path` and its line.
    pub config_path: Option<(String, u32)>,
    /// `mirrors."host".endpoint`: host, line, endpoints.
    pub mirrors: Vec<(String, u32, Vec<String>)>,
    /// `configs."host"`: host, line, TLS settings.
    pub configs: Vec<(String, u32, LegacyTls)>,
    /// Registry tables of another config version, ignored by this one (table, line).
    pub ignored_tables: Vec<(String, u32)>,
}

/// `configs."host".tls` (and whether `auth` is set; its values are never kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub insecure_skip_verify: bool,
    pub tls_line: Option<u32>,
    pub auth_line: Option<u32>,
}

const TABLES: [(u32, &str, &str); 3] = [
    (1, "cri", "plugins.cri.registry"),
    (
        2,
        "io.containerd.grpc.v1.cri",
        "plugins.\"io.containerd.grpc.v1.cri\".registry",
    ),
    (
        3,
        "io.containerd.cri.v1.images",
        "plugins.\"io.containerd.cri.v1.images\".registry",
    ),
];

/// Parses a `config.toml`'s registry settings; `path` names the file in errors.
pub fn parse_config(text: &str, path: &str) -> Result<ContainerdConfig, NodeFileError> {
    let doc = TVal::parse(text, path)?;
    let version = match doc.get("version").map(|v| &v.v) {
        None => 1,
        Some(super::tomlspan::TKind::Other(n)) => match n.parse::<u32>() {
            Ok(v @ 1..=3) => v,
            _ => {
                let line = doc.entry("version").map(|(l, _)| l);
                return Err(NodeFileError::new(
                    path,
                    line,
                    format!("version = {n}: containerd reads versions 1, 2 and 3"),
                ));
            }
        },
        Some(_) => {
            let line = doc.entry("version").map(|(l, _)| l);
            return Err(NodeFileError::new(path, line, "`version` must be a number"));
        }
    };
    let mut cfg = ContainerdConfig {
        version,
        ..Default::default()
    };
    for (v, plugin, name) in TABLES {
        let Some((line, reg)) = doc
            .path(&["plugins", plugin])
            .and_then(|p| p.entry("registry"))
        else {
            continue;
        };
        if v != version {
            cfg.ignored_tables.push((name.to_string(), line));
            continue;
        }
        cfg.table = name.to_string();
        if let Some((l, cp)) = reg.entry("config_path") {
            let s = cp.as_str().ok_or_else(|| {
                NodeFileError::new(path, Some(l), "`config_path` must be a string")
            })?;
            cfg.config_path = Some((s.to_string(), l));
        }
        for (host, l, m) in reg.get("mirrors").map(TVal::entries).unwrap_or_default() {
            let eps = m
                .get("endpoint")
                .map(|e| {
                    e.strings().ok_or_else(|| {
                        NodeFileError::new(path, Some(e.line), "`endpoint` must be a list of URLs")
                    })
                })
                .transpose()?
                .unwrap_or_default();
            cfg.mirrors.push((host.clone(), *l, eps));
        }
        for (host, l, c) in reg.get("configs").map(TVal::entries).unwrap_or_default() {
            let mut tls = LegacyTls {
                auth_line: c.entry("auth").map(|(l, _)| l),
                ..Default::default()
            };
            if let Some((tl, t)) = c.entry("tls") {
                tls.tls_line = Some(tl);
                let s = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
                tls.ca_file = s("ca_file");
                tls.cert_file = s("cert_file");
                tls.key_file = s("key_file");
                tls.insecure_skip_verify = t
                    .get("insecure_skip_verify")
                    .and_then(TVal::as_bool)
                    .unwrap_or(false);
            }
            cfg.configs.push((host.clone(), *l, tls));
        }
    }
    Ok(cfg)
}

/// containerd's default `config_path` when `config.toml` sets none: 2.x reads both certs.d
/// trees, 1.x reads none.
fn default_config_path(major: Option<u32>, cfg: Option<&ContainerdConfig>) -> &'static str {
    let v2 = match major {
        Some(m) => m >= 2,
        None => cfg.is_some_and(|c| c.version == 3),
    };
    if v2 {
        "/etc/containerd/certs.d:/etc/docker/certs.d"
    } else {
        ""
    }
}

/// containerd's endpoints for `registry`, with the findings that decide them. `major`: the
/// containerd major version the node reports, when known.
pub fn resolve(
    root: &NodeRoot,
    registry: &str,
    major: Option<u32>,
    findings: &mut Vec<Finding>,
) -> Vec<Endpoint> {
    let mut endpoints = configured(root, registry, major, findings);
    localhost_default(registry, CONFIG, &mut endpoints, findings);
    endpoints
}

/// The endpoints the configuration names, before containerd's loopback default.
fn configured(
    root: &NodeRoot,
    registry: &str,
    major: Option<u32>,
    findings: &mut Vec<Finding>,
) -> Vec<Endpoint> {
    let cfg = match root.read(CONFIG) {
        Ok(Some(text)) => match parse_config(&text, CONFIG) {
            Ok(c) => Some(c),
            Err(e) => {
                findings.push(Finding::new(
                    &e.path,
                    e.line,
                    format!("{}; containerd does not start with this file", e.reason),
                ));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            findings.push(e.into());
            None
        }
    };
    if let Some(c) = &cfg {
        for (table, line) in &c.ignored_tables {
            findings.push(Finding::new(
                CONFIG,
                Some(*line),
                format!(
                    "[{table}] is ignored: this file is config version {}, which reads [{}]",
                    c.version,
                    c.table_for_version()
                ),
            ));
        }
    }
    let (config_path, cp_line) = match cfg.as_ref().and_then(|c| c.config_path.clone()) {
        Some((p, l)) => (p, Some(l)),
        None => (default_config_path(major, cfg.as_ref()).to_string(), None),
    };
    if config_path.is_empty() {
        note_ignored_certs_d(root, registry, cfg.as_ref(), cp_line, findings);
        return legacy(registry, cfg.as_ref(), findings);
    }
    if let Some(c) = &cfg {
        if let Some((_, l, _)) = c.mirrors.first() {
            findings.push(Finding::new(
                CONFIG,
                Some(*l),
                format!(
                    "`mirrors` cannot be set when `config_path` is provided (line {}): containerd's CRI plugin refuses this config",
                    cp_line.unwrap_or(0)
                ),
            ));
        }
        if let Some((_, _, t)) = c.configs.iter().find(|(_, _, t)| t.tls_line.is_some()) {
            findings.push(Finding::new(
                CONFIG,
                t.tls_line,
                "`configs.*.tls` cannot be set when `config_path` is provided: containerd's CRI plugin refuses this config",
            ));
        }
    }
    for dir_root in config_path.split(':').filter(|s| !s.is_empty()) {
        for name in certsd::lookup_names(registry, crate::taxonomy::Runtime::Containerd) {
            let dir = join(dir_root, &name);
            if root.is_dir(&dir) {
                return from_host_dir(root, registry, &dir, findings);
            }
        }
    }
    vec![Endpoint::new(
        &default_server(registry),
        Role::Upstream,
        format!(
            "no directory for {registry} under config_path {config_path:?}: containerd's default"
        ),
    )]
}

impl ContainerdConfig {
    fn table_for_version(&self) -> &'static str {
        TABLES
            .iter()
            .find(|(v, _, _)| *v == self.version)
            .map_or("", |t| t.2)
    }
}

/// certs.d directories containerd would use if `config_path` were set, each named as ignored.
fn note_ignored_certs_d(
    root: &NodeRoot,
    registry: &str,
    cfg: Option<&ContainerdConfig>,
    cp_line: Option<u32>,
    findings: &mut Vec<Finding>,
) {
    let why = match (cfg, cp_line) {
        (Some(_), Some(l)) => format!("config_path is empty in {CONFIG} line {l}"),
        (Some(c), None) if !c.table.is_empty() => {
            format!("{CONFIG} sets no config_path under [{}]", c.table)
        }
        (Some(_), None) => format!("{CONFIG} sets no config_path"),
        (None, _) => format!("there is no {CONFIG}"),
    };
    for base in ["/etc/containerd/certs.d", "/etc/docker/certs.d"] {
        for name in certsd::lookup_names(registry, crate::taxonomy::Runtime::Containerd) {
            let dir = join(base, &name);
            if !root.is_dir(&dir) {
                continue;
            }
            let hosts = join(&dir, "hosts.toml");
            let (file, line, what) = match root.read(&hosts).ok().flatten() {
                Some(text) => {
                    let (line, what) = deciding_line(&text);
                    (hosts, line, what)
                }
                None => (dir.clone(), None, "its certificates".to_string()),
            };
            findings.push(Finding::new(
                &file,
                line,
                format!("{what} — but containerd ignores certs.d unless config_path is set: {why}"),
            ));
            return;
        }
    }
}

/// Without `config_path`: the deprecated `mirrors` (the host's, else `*`), then the registry,
/// with `configs.<endpoint host>.tls` applied to each.
///
/// An address written without a scheme, and the registry itself, get the CRI plugin's
/// `defaultScheme` (`registryEndpoints` in its image service): plain HTTP for a loopback
/// host, HTTPS otherwise. Unlike `ConfigureHosts` there is no HTTPS attempt first.
fn legacy(
    registry: &str,
    cfg: Option<&ContainerdConfig>,
    findings: &mut Vec<Finding>,
) -> Vec<Endpoint> {
    let scheme_for = |u: &str| {
        if u.contains("://") {
            return u.to_string();
        }
        match url::Url::parse(&format!("https://{u}")) {
            Ok(parsed) if is_loopback(&parsed) => format!("http://{u}"),
            _ => with_scheme(u),
        }
    };
    let upstream = match default_server(registry).strip_prefix("https://") {
        Some(host) => scheme_for(host),
        None => default_server(registry),
    };
    let mut out = Vec::new();
    if let Some(c) = cfg {
        let m = c
            .mirrors
            .iter()
            .find(|(h, _, _)| h == registry)
            .or_else(|| c.mirrors.iter().find(|(h, _, _)| h == "*"));
        if let Some((host, line, eps)) = m {
            for u in eps {
                let role = if *u == upstream {
                    Role::Upstream
                } else {
                    Role::Mirror
                };
                out.push(Endpoint::new(
                    &scheme_for(u),
                    role,
                    format!("{CONFIG} line {line} (mirrors.\"{host}\")"),
                ));
            }
        }
    }
    if !out.iter().any(|e| e.url == upstream) {
        let mut e = Endpoint::new(&upstream, Role::Upstream, "containerd's default".into());
        if upstream.starts_with("http://") {
            e.insecure = true;
            findings.push(Finding::new(
                CONFIG,
                None,
                format!(
                    "without config_path containerd uses its deprecated CRI registry settings, whose default for {registry}, a loopback registry, is plain HTTP ({upstream}) with no HTTPS attempt"
                ),
            ));
        }
        out.push(e);
    }
    if let Some(c) = cfg {
        for e in &mut out {
            let host = url::Url::parse(&e.url)
                .ok()
                .map(|u| match u.port() {
                    Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                    None => u.host_str().unwrap_or("").to_string(),
                })
                .unwrap_or_default();
            if let Some((_, line, t)) = c.configs.iter().find(|(h, _, _)| *h == host) {
                let abs = |p: &Option<String>| p.clone().filter(|s| !s.is_empty());
                e.ca.extend(abs(&t.ca_file));
                e.client_cert = abs(&t.cert_file);
                e.client_key = abs(&t.key_file);
                e.skip_verify = t.insecure_skip_verify;
                e.source = format!("{}; {CONFIG} line {line} (configs.\"{host}\")", e.source);
                if t.insecure_skip_verify {
                    findings.push(Finding::new(
                        CONFIG,
                        t.tls_line.or(Some(*line)),
                        format!("insecure_skip_verify = true for {host}: the certificate is not verified"),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_tables() {
        let v2 = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/x\"\n";
        let c = parse_config(v2, CONFIG).unwrap();
        assert_eq!(c.version, 2);
        assert_eq!(c.config_path, Some(("/etc/containerd/certs.d".into(), 3)));
        assert_eq!(c.ignored_tables.len(), 1);
        let v1 = "[plugins.cri.registry.mirrors.\"docker.io\"]\n  endpoint = [\"https://m.example.com\", \"https://registry-1.docker.io\"]\n[plugins.cri.registry.configs.\"m.example.com\".tls]\n  ca_file = \"/etc/m.crt\"\n  insecure_skip_verify = true\n[plugins.cri.registry.configs.\"m.example.com\".auth]\n  username = \"u\"\n";
        let c = parse_config(v1, CONFIG).unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(c.mirrors[0].0, "docker.io");
        assert_eq!(c.mirrors[0].2.len(), 2);
        assert_eq!(c.configs[0].2.ca_file.as_deref(), Some("/etc/m.crt"));
        assert!(c.configs[0].2.insecure_skip_verify);
        assert_eq!(c.configs[0].2.auth_line, Some(6));
        let v3 = "version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '/etc/containerd/certs.d'\n";
        assert_eq!(parse_config(v3, CONFIG).unwrap().config_path.unwrap().1, 3);
    }

    #[test]
    fn bad_configs_name_the_line() {
        for (bad, line) in [
            ("version = 9", Some(1)),
            ("version = \"2\"", Some(1)),
            (
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\nconfig_path = 3",
                Some(3),
            ),
            (
                "[plugins.cri.registry.mirrors.\"x\"]\nendpoint = 5",
                Some(2),
            ),
            ("a = \n", Some(1)),
        ] {
            let e = parse_config(bad, CONFIG).unwrap_err();
            assert_eq!((e.path.as_str(), e.line), (CONFIG, line), "{bad}: {e}");
        }
    }

    #[test]
    fn default_config_path_by_version() {
        assert_eq!(default_config_path(Some(1), None), "");
        assert!(default_config_path(Some(2), None).contains("/etc/docker/certs.d"));
        assert_eq!(default_server("docker.io"), "https://registry-1.docker.io");
    }
}
