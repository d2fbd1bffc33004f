//! dockerd's own proxy settings: the `proxies` object of `/etc/docker/daemon.json` (Docker
//! Engine 23.0 and later), which outranks the proxy variables of the unit's environment.
//!
//! Docker's documentation ("Daemon proxy configuration",
//! <https://docs.docker.com/engine/daemon/proxy/>): `http-proxy`, `https-proxy` and `no-proxy`
//! may be set in `daemon.json`, and "configuring the daemon directly takes precedence over
//! environment variables". dockerd applies each key it finds by overriding both spellings of
//! the variable in its own environment, so a key left out keeps the unit's value. The values
//! then follow the same Go rules as the variables (`proxy.rs`, `route.rs`).

use super::docker::DAEMON_JSON;
use super::files::{NodeRoot, line_at};
use super::model::Finding;
use super::proxy::{Var, mask};

/// The `daemon.json` keys and the variables each overrides.
const KEYS: [(&str, &str); 3] = [
    ("http-proxy", "HTTP_PROXY"),
    ("https-proxy", "HTTPS_PROXY"),
    ("no-proxy", "NO_PROXY"),
];

/// The proxy settings of a `daemon.json` text as variables, each with its line; none when the
/// file is not JSON (the registry reader reports that) or has no `proxies` object.
pub fn daemon_proxies(text: &str) -> Vec<Var> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let Some(proxies) = v.get("proxies").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    let block = text.find("\"proxies\"").unwrap_or(0);
    KEYS.iter()
        .filter_map(|(key, name)| {
            let value = proxies.get(*key)?.as_str()?.trim();
            if value.is_empty() {
                return None;
            }
            let at = text[block..].find(&format!("\"{key}\"")).map(|i| block + i);
            Some(Var {
                name: name.to_string(),
                value: value.to_string(),
                file: DAEMON_JSON.to_string(),
                line: at.map_or(1, |i| line_at(text, i)),
            })
        })
        .collect()
}

/// `env` (the unit's environment) with `daemon.json`'s proxy keys applied over it, as dockerd
/// applies them; a variable they replace is named in a finding.
pub fn apply(root: &NodeRoot, mut env: Vec<Var>, findings: &mut Vec<Finding>) -> Vec<Var> {
    let Ok(Some(text)) = root.read(DAEMON_JSON) else {
        return env;
    };
    for var in daemon_proxies(&text) {
        let lower = var.name.to_ascii_lowercase();
        let key = KEYS
            .iter()
            .find(|(_, n)| *n == var.name)
            .map_or("", |(k, _)| k);
        if let Some(old) = env.iter().find(|e| e.name == var.name || e.name == lower) {
            findings.push(Finding::new(
                DAEMON_JSON,
                Some(var.line),
                format!(
                    "proxies.{key} = {} replaces {}={} ({} line {}): dockerd's own configuration outranks its environment",
                    mask(&var.value),
                    old.name,
                    mask(&old.value),
                    old.file,
                    old.line
                ),
            ));
        }
        env.retain(|e| e.name != var.name && e.name != lower);
        env.push(var);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_become_variables_with_their_lines() {
        let text = "{\n  \"insecure-registries\": [\"a:5000\"],\n  \"proxies\": {\n    \"https-proxy\": \"http://proxy.corp.test:3128\",\n    \"no-proxy\": \"*.corp.test,10.0.0.0/8\",\n    \"http-proxy\": \"\"\n  }\n}\n";
        let vars = daemon_proxies(text);
        let got: Vec<(&str, &str, u32)> = vars
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str(), v.line))
            .collect();
        assert_eq!(
            got,
            [
                ("HTTPS_PROXY", "http://proxy.corp.test:3128", 4),
                ("NO_PROXY", "*.corp.test,10.0.0.0/8", 5),
            ]
        );
        assert!(daemon_proxies("{\"proxies\": \"http://x\"}").is_empty());
        assert!(daemon_proxies("not json").is_empty());
        assert!(daemon_proxies("{}").is_empty());
    }
}
