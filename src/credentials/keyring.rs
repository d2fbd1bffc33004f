//! Kubelet's credential keyring: key normalisation, `URLsMatch`, ordering, Docker Hub fallback,
//! and, where nothing matched, which key came closest and what differs.
//!
//! Reproduces `BasicDockerKeyring.Add`/`Lookup`, `URLsMatch` and `isDefaultRegistryMatch` from
//! kubernetes `pkg/credentialprovider/keyring.go`
//! (<https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/keyring.go>):
//! a key gains `https://` unless it starts with `https://` or `http://`, is parsed, and keeps
//! its host (port as written) plus its path, less a leading `/v1` or `/v2` before a `/`; keys
//! are de-duplicated and tried in reverse byte order; a key matches an image when the ports are
//! equal strings, the hosts have as many labels and each label globs, and the key's path is a
//! string prefix of the image's. Only when no key matched a Docker Hub image are the
//! credentials under exactly `index.docker.io` used.

use super::findings::{FindingId, shorten, shown_key};
use super::goparse::{self, BadPattern};
use crate::reference::ImageRef;
use crate::registry::Puller;
use std::collections::BTreeMap;

/// The key kubelet uses for Docker Hub's fallback (`https://index.docker.io/v1/` normalises here).
pub const DEFAULT_REGISTRY_HOST: &str = "index.docker.io";

/// Normalises a docker config key as `BasicDockerKeyring.Add` does; `Err` means kubelet skips it.
pub fn normalise_key(raw: &str) -> Result<String, String> {
    let value = if raw.starts_with("https://") || raw.starts_with("http://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let parsed = goparse::parse_url(&value)?;
    let mut path = parsed.path.as_str();
    if path.starts_with("/v2/") || path.starts_with("/v1/") {
        path = &path[3..];
    }
    Ok(if path.is_empty() || path == "/" {
        parsed.host
    } else {
        format!("{}{path}", parsed.host)
    })
}

/// A schemeless URL split as `SplitURL` does: host labels, port (empty if none) and path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    labels: Vec<String>,
    port: String,
    path: String,
}

fn parts(schemeless: &str) -> Result<Parts, String> {
    let u = goparse::parse_url(&format!("https://{schemeless}"))?;
    let (host, port) = goparse::split_host_port(&u.host).unwrap_or((&u.host, ""));
    Ok(Parts {
        labels: host.split('.').map(str::to_string).collect(),
        port: port.to_string(),
        path: u.path,
    })
}

/// `URLsMatchStr(key, image)`: does a normalised key cover an image name (`host/repo`)?
pub fn urls_match(key: &str, image_name: &str) -> Result<bool, BadPattern> {
    let (Ok(glob), Ok(target)) = (parts(key), parts(image_name)) else {
        return Ok(false);
    };
    if glob.port != target.port
        || glob.labels.len() != target.labels.len()
        || !target.path.starts_with(&glob.path)
    {
        return Ok(false);
    }
    for (g, t) in glob.labels.iter().zip(&target.labels) {
        if !goparse::glob_match(g, t)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `isDefaultRegistryMatch`: is this image name on Docker Hub?
pub fn is_default_registry_match(image_name: &str) -> bool {
    let (first, rest) = match image_name.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (image_name, None),
    };
    if first.is_empty() {
        return false;
    }
    if rest.is_none() || first == "docker.io" || first == DEFAULT_REGISTRY_HOST {
        return true;
    }
    !first.contains(['.', ':'])
}

/// Credentials indexed by normalised key, in kubelet's order.
#[derive(Debug, Clone)]
pub struct Keyring<T> {
    creds: BTreeMap<String, Vec<T>>,
}

/// What a lookup found: the items in the order kubelet tries them, with the key each matched.
#[derive(Debug, Clone)]
pub struct Found<T> {
    /// `(normalised key, item)` in try order.
    pub items: Vec<(String, T)>,
    /// True when the items came from the `index.docker.io` fallback.
    pub docker_hub_fallback: bool,
}

impl<T: Clone> Default for Keyring<T> {
    fn default() -> Self {
        Keyring {
            creds: BTreeMap::new(),
        }
    }
}

impl<T: Clone> Keyring<T> {
    /// Adds one entry under its key; items under one key keep insertion (= pod secret) order.
    pub fn add(&mut self, raw_key: &str, item: T) -> Result<String, String> {
        let key = normalise_key(raw_key)?;
        self.creds.entry(key.clone()).or_default().push(item);
        Ok(key)
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.creds.is_empty()
    }

    /// `Lookup(image)`: every matching key in reverse-sorted order, else the Hub fallback.
    pub fn lookup(&self, image_name: &str) -> Found<T> {
        let mut items = Vec::new();
        for (key, creds) in self.creds.iter().rev() {
            if urls_match(key, image_name) == Ok(true) {
                items.extend(creds.iter().map(|c| (key.clone(), c.clone())));
            }
        }
        if items.is_empty()
            && is_default_registry_match(image_name)
            && let Some(creds) = self.creds.get(DEFAULT_REGISTRY_HOST)
        {
            let items = creds
                .iter()
                .map(|c| (DEFAULT_REGISTRY_HOST.to_string(), c.clone()))
                .collect();
            return Found {
                items,
                docker_hub_fallback: true,
            };
        }
        Found {
            items,
            docker_hub_fallback: false,
        }
    }
}

/// Does this raw key give credentials for the image, by a direct match or the Hub fallback?
pub fn key_covers(raw_key: &str, image: &ImageRef) -> bool {
    let mut ring = Keyring::default();
    ring.add(raw_key, ()).is_ok() && !ring.lookup(&image.name()).items.is_empty()
}

/// The key to write in a new secret so kubelet matches it to this image.
///
/// Docker Hub gets `https://index.docker.io/v1/`, the key `kubectl create secret
/// docker-registry` writes by default and the one docker's own config uses; any other registry
/// gets its host with the port exactly as the image names it.
pub fn key_for(image: &ImageRef) -> String {
    if image.is_docker_hub() {
        "https://index.docker.io/v1/".to_string()
    } else {
        image.registry.clone()
    }
}

/// Why a key does not cover an image, with a rank (lower = closer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The finding id naming what differs.
    pub id: FindingId,
    /// One line: the key, what it normalises to, and what differs.
    pub detail: String,
    /// 0 for "only this one thing is wrong", larger for more distant keys.
    pub rank: usize,
}

/// Host misses ranked at or below this are a typo or two away from the image's host.
pub const TYPO_RANK: usize = 12;

const HUB_API_HOSTS: [&str; 3] = [
    "registry-1.docker.io",
    "registry.hub.docker.com",
    "hub.docker.com",
];

/// Explains why `raw_key` misses `image`; `None` when it matches or kubelet cannot parse it.
pub fn explain_miss(raw_key: &str, image: &ImageRef) -> Option<Miss> {
    explain_miss_for(raw_key, image, Puller::Node)
}

/// Who applies the matching rules, as a miss names it: kubelet for a pod's secrets, "the key
/// lookup" for `pulldoctor image`'s authfile (the same rules, and no kubelet in CI).
pub(super) fn matcher(puller: Puller) -> &'static str {
    match puller {
        Puller::Node => "kubelet",
        Puller::Ci => "the key lookup",
    }
}

/// [`explain_miss`], worded for whose pull it is.
pub fn explain_miss_for(raw_key: &str, image: &ImageRef, puller: Puller) -> Option<Miss> {
    let who = matcher(puller);
    if key_covers(raw_key, image) {
        return None;
    }
    let norm = normalise_key(raw_key).ok()?;
    let shown = shown_key(raw_key);
    let name = image.name();
    let hub = is_default_registry_match(&name);
    // A scheme kubelet does not strip becomes part of the host.
    if let Some((scheme, rest)) = raw_key.split_once("://")
        && !raw_key.starts_with("https://")
        && !raw_key.starts_with("http://")
    {
        let close = key_covers(rest, image);
        let detail = format!(
            "key {shown:?} starts with {:?}, which {who} does not strip (only lower-case https:// and http://), so the host it matches is {:?}{}",
            format!("{}://", shorten(scheme)),
            shorten(&parts(&norm).map(|p| p.labels.join(".")).unwrap_or_default()),
            if close {
                let plain = normalise_key(rest).unwrap_or_else(|_| rest.to_string());
                format!("; written as {:?} it would match", shown_key(&plain))
            } else {
                String::new()
            }
        );
        let rank = if close { 0 } else { 5 };
        return Some(Miss {
            id: FindingId::KeySchemeUnsupported,
            detail,
            rank,
        });
    }
    let key = parts(&norm).ok()?;
    let target = parts(&name).ok()?;
    let key_host = key.labels.join(".");
    if hub && HUB_API_HOSTS.contains(&key_host.as_str()) {
        let detail = format!(
            "key {shown:?} names Docker Hub's API host, which {who} never matches to a Docker Hub image; use https://index.docker.io/v1/ (or docker.io)"
        );
        return Some(Miss {
            id: FindingId::KeyDockerHubApiHost,
            detail,
            rank: 0,
        });
    }
    if hub && key_host == DEFAULT_REGISTRY_HOST {
        let detail = format!(
            "key {shown:?} normalises to {:?}, but the Docker Hub fallback looks only for exactly {DEFAULT_REGISTRY_HOST:?}; use https://index.docker.io/v1/",
            shown_key(&norm)
        );
        return Some(Miss {
            id: FindingId::KeyPathMismatch,
            detail,
            rank: 1,
        });
    }
    let hosts_match = key.labels.len() == target.labels.len()
        && key
            .labels
            .iter()
            .zip(&target.labels)
            .all(|(g, t)| goparse::glob_match(g, t) == Ok(true));
    let port = |p: &str| {
        if p.is_empty() {
            "no port".to_string()
        } else {
            format!("port {p}")
        }
    };
    if hosts_match && key.port != target.port {
        let detail = format!(
            "key {shown:?} has {} but the image {:?} has {}; {who} compares ports as written, so {} and {} differ",
            port(&key.port),
            image.original,
            port(&target.port),
            if key.port.is_empty() {
                "none".into()
            } else {
                format!(":{}", key.port)
            },
            if target.port.is_empty() {
                "none".into()
            } else {
                format!(":{}", target.port)
            },
        );
        return Some(Miss {
            id: FindingId::KeyPortMismatch,
            detail,
            rank: 1,
        });
    }
    if hosts_match {
        let hint = if key.path == "/v1" || key.path == "/v2" {
            format!(" ({who} strips /v1/ and /v2/ only with the trailing slash)")
        } else {
            String::new()
        };
        let detail = format!(
            "key {shown:?} covers only paths starting {:?}, and the image's repository path is {:?}{hint}",
            shorten(&key.path),
            shorten(&target.path)
        );
        return Some(Miss {
            id: FindingId::KeyPathMismatch,
            detail,
            rank: 2,
        });
    }
    let image_host = target.labels.join(".");
    let mut detail = format!(
        "key {shown:?} is for host {:?}, the image is on {:?}",
        shorten(&key_host),
        image_host
    );
    if key_host.eq_ignore_ascii_case(&image_host) {
        detail.push_str(&format!(" ({who} compares host names case-sensitively)"));
    } else if key_host.contains('*') && key.labels.len() != target.labels.len() {
        detail.push_str(" (a * matches exactly one label)");
    }
    let rank = 10 + distance(&key_host, &image_host) + usize::from(key.port != target.port);
    Some(Miss {
        id: FindingId::KeyHostMismatch,
        detail,
        rank,
    })
}

/// Levenshtein distance on the first 256 bytes, to pick the closest key or name.
pub(super) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<u8> = a.bytes().take(256).collect();
    let b: Vec<u8> = b.bytes().take(256).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
#[path = "keyring_tests.rs"]
mod tests;
