//! Docker's registry configuration on a node: `/etc/docker/daemon.json` and certs.d.
//!
//! Reproduces dockerd (<https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file>,
//! <https://docs.docker.com/engine/security/certificates/>): `insecure-registries` lists
//! `host[:port]` names or CIDRs (and `127.0.0.0/8` is always insecure) — such a registry is
//! reached over HTTPS without verification, else over plain HTTP; `registry-mirrors` apply to
//! Docker Hub images only, tried before it; `/etc/docker/certs.d/<host:port>/` holds `*.crt`
//! CAs and a `client.cert` + `client.key` pair, under the exact name of the reference.

use std::net::IpAddr;

use super::containerd::{apply_docker_dir, default_server};
use super::files::{NodeFileError, NodeRoot, join, line_at};
use super::model::{Endpoint, Finding, Role};

/// The node path of the daemon's configuration.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// The registry settings of a `daemon.json`, each with its line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonJson {
    pub insecure_registries: Vec<(String, u32)>,
    pub registry_mirrors: Vec<(String, u32)>,
}

/// Parses a `daemon.json`; errors name `path` and the line.
pub fn parse_daemon_json(text: &str, path: &str) -> Result<DaemonJson, NodeFileError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| NodeFileError::new(path, Some(e.line() as u32), format!("not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| NodeFileError::new(path, Some(1), "must be a JSON object"))?;
    let list = |key: &str| -> Result<Vec<(String, u32)>, NodeFileError> {
        let Some(val) = obj.get(key) else {
            return Ok(Vec::new());
        };
        let line = key_line(text, key);
        let arr = val.as_array().ok_or_else(|| {
            NodeFileError::new(path, line, format!("`{key}` must be a list of strings"))
        })?;
        arr.iter()
            .map(|s| {
                let s = s.as_str().ok_or_else(|| {
                    NodeFileError::new(path, line, format!("`{key}` entries must be strings"))
                })?;
                Ok((
                    s.to_string(),
                    value_line(text, key, s).or(line).unwrap_or(1),
                ))
            })
            .collect()
    };
    Ok(DaemonJson {
        insecure_registries: list("insecure-registries")?,
        registry_mirrors: list("registry-mirrors")?,
    })
}

/// The line of `"key":` in a JSON text (outside string values).
fn key_line(text: &str, key: &str) -> Option<u32> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let rest = text[at + needle.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(line_at(text, at));
        }
        from = at + needle.len();
    }
    None
}

/// The line of the string `value` inside the list under `key`.
fn value_line(text: &str, key: &str, value: &str) -> Option<u32> {
    let start = text.find(&format!("\"{key}\""))?;
    let quoted = serde_json::to_string(value).ok()?;
    let end = text[start..].find(']').map_or(text.len(), |e| start + e);
    text[start..end]
        .find(&quoted)
        .map(|i| line_at(text, start + i))
}

/// Whether dockerd treats `registry` as insecure, and the entry that makes it so.
pub fn insecure_entry(
    cfg: &DaemonJson,
    registry: &str,
    resolved: &[IpAddr],
) -> Option<(String, u32)> {
    let (host, _) = crate::reference::split_port(registry);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ips: Vec<IpAddr> = host
        .parse::<IpAddr>()
        .ok()
        .into_iter()
        .chain(resolved.iter().copied())
        .collect();
    for (entry, line) in &cfg.insecure_registries {
        if entry.contains('/') {
            if let Some((net, bits)) = parse_cidr(entry)
                && ips.iter().any(|ip| cidr_contains(net, bits, *ip))
            {
                return Some((entry.clone(), *line));
            }
        } else if entry
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            == registry
        {
            return Some((entry.clone(), *line));
        }
    }
    if ips
        .iter()
        .any(|ip| cidr_contains("127.0.0.0".parse().unwrap(), 8, *ip))
    {
        return Some(("127.0.0.0/8".into(), 0));
    }
    None
}

/// `10.0.0.0/8` → network and prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

/// Whether `ip` lies in `net/bits`.
pub fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// dockerd's endpoints for `registry`. `resolved`: addresses `/etc/hosts` gives its name.
pub fn resolve(
    root: &NodeRoot,
    registry: &str,
    resolved: &[IpAddr],
    findings: &mut Vec<Finding>,
) -> Vec<Endpoint> {
    let cfg = match root.read(DAEMON_JSON) {
        Ok(Some(text)) => match parse_daemon_json(&text, DAEMON_JSON) {
            Ok(c) => c,
            Err(e) => {
                findings.push(Finding::new(
                    &e.path,
                    e.line,
                    format!("{}; dockerd does not start with this file", e.reason),
                ));
                DaemonJson::default()
            }
        },
        Ok(None) => DaemonJson::default(),
        Err(e) => {
            findings.push(e.into());
            DaemonJson::default()
        }
    };
    let mut out = Vec::new();
    if registry == crate::reference::DOCKER_HUB {
        for (m, line) in &cfg.registry_mirrors {
            let mut e = Endpoint::new(m, Role::Mirror, format!("{DAEMON_JSON} line {line}"));
            e.capabilities = vec!["pull".into()];
            out.push(e);
        }
    } else if let Some((m, line)) = cfg.registry_mirrors.first() {
        findings.push(Finding::new(
            DAEMON_JSON,
            Some(*line),
            format!("registry-mirrors ({m}) apply to Docker Hub images only, not to {registry}"),
        ));
    }
    let mut up = Endpoint::new(
        &default_server(registry),
        Role::Upstream,
        "dockerd's default".into(),
    );
    let dir = join("/etc/docker/certs.d", registry);
    if root.is_dir(&dir) {
        apply_docker_dir(root, &dir, &mut up);
        up.source = dir.clone();
    }
    if let Some((entry, line)) = insecure_entry(&cfg, registry, resolved) {
        up.insecure = true;
        up.skip_verify = true;
        let (file, l, why) = if line == 0 {
            (
                "dockerd".to_string(),
                None,
                "127.0.0.0/8 is insecure by default".to_string(),
            )
        } else {
            (
                DAEMON_JSON.to_string(),
                Some(line),
                format!("insecure-registries lists {entry}"),
            )
        };
        findings.push(Finding::new(
            &file,
            l,
            format!("{why}: dockerd reaches {registry} over HTTPS without verifying the certificate, else over plain HTTP"),
        ));
        up.source = match l {
            Some(l) => format!("{}; {file} line {l}", up.source),
            None => format!("{}; {why}", up.source),
        };
    }
    out.push(up);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_json_lists_with_lines() {
        let text = "{\n  \"registry-mirrors\": [\"https://mirror.gcr.io\"],\n  \"insecure-registries\": [\n    \"myregistry.example.com:5000\",\n    \"10.20.0.0/16\"\n  ]\n}\n";
        let c = parse_daemon_json(text, DAEMON_JSON).unwrap();
        assert_eq!(
            c.registry_mirrors,
            [("https://mirror.gcr.io".to_string(), 2)]
        );
        assert_eq!(c.insecure_registries[1], ("10.20.0.0/16".to_string(), 5));
        let ip: IpAddr = "10.20.3.4".parse().unwrap();
        assert_eq!(insecure_entry(&c, "reg.example.com", &[ip]).unwrap().1, 5);
        assert_eq!(
            insecure_entry(&c, "myregistry.example.com:5000", &[])
                .unwrap()
                .1,
            4
        );
        assert!(insecure_entry(&c, "other.example.com", &[]).is_none());
        assert_eq!(
            insecure_entry(&c, "127.0.0.1:5000", &[]).unwrap().0,
            "127.0.0.0/8"
        );
    }

    #[test]
    fn bad_daemon_json_names_the_line() {
        for (bad, line) in [
            ("{\n\"insecure-registries\": 5\n}", 2),
            ("{\n\n  \"a\": ,\n}", 3),
            ("[]", 1),
            ("{\"registry-mirrors\": [1]}", 1),
        ] {
            let e = parse_daemon_json(bad, DAEMON_JSON).unwrap_err();
            assert_eq!(e.line, Some(line), "{bad}: {e}");
        }
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(cidr_contains(
            "::1".parse().unwrap(),
            128,
            "::1".parse().unwrap()
        ));
    }
}
