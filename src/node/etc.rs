//! Name resolution on a node: `/etc/hosts` (applied like `--resolve`) and `/etc/resolv.conf`
//! (reported), as glibc and Go's resolver read them (hosts(5), resolv.conf(5)).
//!
//! `/etc/hosts`: an address then names, `#` starts a comment, the first line naming a host
//! wins. `/etc/resolv.conf`: `nameserver`, `search` and `options` lines.

use std::net::IpAddr;

use super::files::NodeFileError;
use super::model::HostsEntry;

pub const HOSTS: &str = "/etc/hosts";
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Parses `/etc/hosts`; a line whose address does not parse is an error naming its line.
pub fn parse_hosts(text: &str, path: &str) -> Result<Vec<HostsEntry>, NodeFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next() else { continue };
        let n = i as u32 + 1;
        let ip = addr
            .split('%')
            .next()
            .unwrap_or(addr)
            .parse::<IpAddr>()
            .map_err(|_| {
                NodeFileError::new(path, Some(n), format!("{addr:?} is not an IP address"))
            })?;
        for name in words {
            out.push(HostsEntry {
                name: name.to_ascii_lowercase(),
                address: ip.to_string(),
                line: n,
            });
        }
    }
    Ok(out)
}

/// The first entry for `host` (the one the resolver uses).
pub fn lookup<'a>(entries: &'a [HostsEntry], host: &str) -> Option<&'a HostsEntry> {
    let host = host.to_ascii_lowercase();
    entries.iter().find(|e| e.name == host)
}

/// `/etc/resolv.conf`: the nameservers, in order.
pub fn parse_resolv(text: &str, path: &str) -> Result<Vec<String>, NodeFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(['#', ';']).next().unwrap_or("");
        let mut w = line.split_whitespace();
        if w.next() == Some("nameserver") {
            let addr = w.next().ok_or_else(|| {
                NodeFileError::new(path, Some(i as u32 + 1), "nameserver without an address")
            })?;
            out.push(addr.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_first_line_wins_and_comments_go() {
        let text = "127.0.0.1 localhost\n# x\n10.0.0.5 registry.corp  reg # mirror\n10.0.0.6 registry.corp\nfe80::1%eth0 link\n";
        let e = parse_hosts(text, HOSTS).unwrap();
        let r = lookup(&e, "REGISTRY.corp").unwrap();
        assert_eq!((r.address.as_str(), r.line), ("10.0.0.5", 3));
        assert!(lookup(&e, "link").is_some());
        let bad = parse_hosts("1.2.3.4 a\nnot-an-ip b\n", HOSTS).unwrap_err();
        assert_eq!(bad.line, Some(2));
        let ns = parse_resolv(
            "search x\nnameserver 10.96.0.10\nnameserver 8.8.8.8 # g\n",
            RESOLV_CONF,
        )
        .unwrap();
        assert_eq!(ns, ["10.96.0.10", "8.8.8.8"]);
    }
}
