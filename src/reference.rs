//! Image references parsed the way the runtimes parse them.
//!
//! Reproduces the distribution `reference` grammar as used by Docker, containerd and kubelet
//! (`github.com/distribution/reference`, `normalize.go`): the first path component is a
//! registry only if it contains `.` or `:` or is `localhost`; otherwise the image is on Docker
//! Hub (`docker.io`), and a one-component name gains `library/`. `index.docker.io` is the same
//! registry as `docker.io`. Repository components are lower case; a tag is `[\w][\w.-]{0,127}`;
//! a digest is `algorithm:hex`.

use serde::Serialize;
use thiserror::Error;

/// Docker Hub's canonical registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API actually answers on.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// The reference as written in the pod spec or on the command line.
    pub original: String,
    /// Registry host with its port as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path, `library/` added for Docker Hub official images.
    pub repository: String,
    /// The tag, `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// The digest (`sha256:…`) when given.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferenceError {
    /// Nothing was given.
    #[error("the image reference is empty")]
    Empty,
    /// Contains upper-case letters in the repository, which no runtime accepts.
    #[error("repository name must be lowercase: {0}")]
    Uppercase(String),
    /// A path component breaks the grammar.
    #[error("invalid repository name component {component:?} in {reference:?}")]
    BadComponent {
        reference: String,
        component: String,
    },
    /// The tag breaks the grammar.
    #[error("invalid tag {0:?}")]
    BadTag(String),
    /// The digest is not `algorithm:hex`.
    #[error("invalid digest {0:?}")]
    BadDigest(String),
    /// The registry part is not a host with an optional port.
    #[error("invalid registry host {0:?}")]
    BadHost(String),
    /// A bracketed IPv6 registry host that is not `[address]` with an optional `:port`.
    #[error("invalid registry host {host:?}: {why}")]
    BadIpv6Host { host: String, why: &'static str },
    /// Longer than the 255 characters the grammar allows for a name.
    #[error("repository name is longer than 255 characters")]
    TooLong,
}

impl ImageRef {
    /// Parses and normalises a reference (`nginx` → `docker.io/library/nginx:latest`).
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        let original = input.trim();
        if original.is_empty() {
            return Err(ReferenceError::Empty);
        }
        // `user:password@host/app` is no reference, but it is pasted; its password is not shown.
        crate::scrub::remember_reference_userinfo(original);
        let (name_and_tag, digest) = match original.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (original, None),
        };
        if let Some(d) = digest {
            check_digest(d)?;
        }
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = name_and_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name_and_tag[..at], Some(&name_and_tag[at + 1..]))
            }
            None => (name_and_tag, None),
        };
        if let Some(t) = tag {
            check_tag(t)?;
        }
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if name.len() > 255 {
            return Err(ReferenceError::TooLong);
        }
        let (registry, remainder) = split_registry(name);
        if let Some(host) = &registry {
            check_host(host)?;
        }
        let mut registry = registry.unwrap_or_else(|| DOCKER_HUB.to_string());
        if registry == "index.docker.io" {
            registry = DOCKER_HUB.to_string();
        }
        let mut repository = remainder.to_string();
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        for component in repository.split('/') {
            check_component(original, component)?;
        }
        let tag = match (tag, digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageRef {
            original: original.to_string(),
            registry,
            repository,
            tag,
            digest: digest.map(str::to_string),
        })
    }

    /// The host and port to open a connection to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// True when the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// The tag or digest to ask the manifests endpoint for (the digest wins when both exist,
    /// as in the runtimes).
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository` without tag or digest: the form kubelet's keyring matches on.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The fully qualified reference (`docker.io/library/nginx:latest`).
    pub fn canonical(&self) -> String {
        let mut s = self.name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The registry's host without the port.
    pub fn host(&self) -> &str {
        split_port(&self.registry).0
    }

    /// The registry's port as written, if any.
    pub fn port(&self) -> Option<&str> {
        split_port(&self.registry).1
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

/// Splits `host:port` (and `[v6]:port`) into host and port.
pub fn split_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(rest) = hostport.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let host = &hostport[..end + 2];
            let port = rest[end + 1..].strip_prefix(':');
            return (host, port);
        }
        return (hostport, None);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (hostport, None),
    }
}

/// The registry part, when the first component looks like a host (`.`, `:` or `localhost`).
fn split_registry(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.starts_with('[') =>
        {
            (Some(first.to_string()), rest)
        }
        _ => (None, name),
    }
}

fn check_host(host: &str) -> Result<(), ReferenceError> {
    if host.starts_with('[') {
        return check_ipv6_host(host);
    }
    let (h, port) = split_port(host);
    let bad = || ReferenceError::BadHost(host.to_string());
    if h.is_empty() {
        return Err(bad());
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(bad());
    }
    if host.contains(':') && port.is_none() {
        return Err(bad());
    }
    let ok = h.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if ok { Ok(()) } else { Err(bad()) }
}

/// `[v6]` or `[v6]:port`, the address made of hex digits and colons only: the grammar's
/// `ipv6address` (`\[(?:[a-fA-F0-9:]+)\]`), so a zone (`%eth0`) or a missing `]` is refused
/// as the runtimes refuse it.
fn check_ipv6_host(host: &str) -> Result<(), ReferenceError> {
    let bad = |why| ReferenceError::BadIpv6Host {
        host: host.to_string(),
        why,
    };
    let inner = &host[1..];
    let Some(close) = inner.find(']') else {
        return Err(bad("an IPv6 address opened with '[' must close with ']'"));
    };
    let (address, after) = (&inner[..close], &inner[close + 1..]);
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
        return Err(bad(
            "between '[' and ']' only an IPv6 address (hex digits and ':') may stand",
        ));
    }
    if after.is_empty() {
        return Ok(());
    }
    match after.strip_prefix(':') {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            if port.parse::<u16>().is_ok() {
                Ok(())
            } else {
                Err(bad("the port is not a number from 0 to 65535"))
            }
        }
        _ => Err(bad("after ']' only ':port' may follow")),
    }
}

fn check_component(reference: &str, component: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::BadComponent {
        reference: reference.to_string(),
        component: component.to_string(),
    };
    if component.is_empty() {
        return Err(bad());
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase(reference.to_string()));
    }
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(bad());
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let valid = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !valid {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ReferenceError::BadTag(tag.to_string()))
    }
}

fn check_digest(digest: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::BadDigest(digest.to_string());
    let (algo, hex) = digest.split_once(':').ok_or_else(bad)?;
    let algo_ok = !algo.is_empty()
        && algo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if algo_ok && hex_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_defaults() {
        let r = parse("nginx");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/nginx");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.canonical(), "docker.io/library/nginx:latest");
        let r = parse("bitnami/redis:7.2");
        assert_eq!(r.repository, "bitnami/redis");
        assert_eq!(r.tag.as_deref(), Some("7.2"));
        let r = parse("index.docker.io/library/busybox");
        assert_eq!(r.registry, "docker.io");
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        let r = parse("myregistry.local:8000/team/app:1.4");
        assert_eq!(r.registry, "myregistry.local:8000");
        assert_eq!(r.host(), "myregistry.local");
        assert_eq!(r.port(), Some("8000"));
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("1.4"));
        let r = parse("localhost/app");
        assert_eq!(r.registry, "localhost");
        let r = parse("localhost:5000/app");
        assert_eq!(r.registry, "localhost:5000");
        let r = parse("127.0.0.1:5000/app:v1");
        assert_eq!(r.registry, "127.0.0.1:5000");
        // A first component without '.', ':' or localhost is a Docker Hub namespace.
        let r = parse("myteam/app");
        assert_eq!(r.registry, "docker.io");
    }

    #[test]
    fn digests() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let r = parse(&format!("quay.io/org/app@{d}"));
        assert_eq!(r.digest.as_deref(), Some(d));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        let r = parse(&format!("quay.io/org/app:1.0@{d}"));
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.manifest_reference(), d);
    }

    #[test]
    fn rejects_what_runtimes_reject() {
        assert_eq!(ImageRef::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            ImageRef::parse("Nginx"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            ImageRef::parse("nginx:"),
            Err(ReferenceError::BadTag(_))
        ));
        assert!(matches!(
            ImageRef::parse("nginx:-x"),
            Err(ReferenceError::BadTag(_))
        ));
        assert!(matches!(
            ImageRef::parse("nginx@sha256:xyz"),
            Err(ReferenceError::BadDigest(_))
        ));
        assert!(ImageRef::parse("a//b").is_err());
        assert!(ImageRef::parse("reg.example.com:99999/app").is_err());
        assert!(ImageRef::parse("app_-x").is_err());
        assert!(ImageRef::parse(&"a".repeat(300)).is_err());
    }

    #[test]
    fn bracketed_ipv6_hosts_follow_the_grammar() {
        let r = parse("[::1]:5000/app:1");
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.host(), "[::1]");
        assert_eq!(parse("[fd00::1]/a").registry, "[fd00::1]");
        for bad in [
            "[::1/a",
            "[::1]x/a",
            "[]/a",
            "[fe80::1%eth0]:5000/a",
            "[::1]:/a",
            "[::1]:99999/a",
            "[::g]/a",
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(
                matches!(e, ReferenceError::BadIpv6Host { .. }),
                "{bad}: {e:?}"
            );
        }
        let e = ImageRef::parse("[::1/a").unwrap_err().to_string();
        assert!(e.contains("must close with ']'"), "{e}");
    }

    #[test]
    fn split_port_forms() {
        assert_eq!(split_port("host:8000"), ("host", Some("8000")));
        assert_eq!(split_port("host"), ("host", None));
        assert_eq!(split_port("[::1]:5000"), ("[::1]", Some("5000")));
    }
}
