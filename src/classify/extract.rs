//! Facts a pull-failure message reveals: image, URL, HTTP status, registry error code,
//! certificate host and names, platform, and whose wording it is.
//!
//! The shapes come from the runtimes' own error formatting: kubelet's `Failed to pull image %q:
//! %v` (`pkg/kubelet/images/image_manager.go`), containerd's resolver (`remotes/docker/
//! resolver.go`: `failed to do request: Head "URL"`, `unexpected status from HEAD request to URL:
//! 403 Forbidden`), CRI-O's containers/image (`reading manifest TAG in REPO`, `pinging container
//! registry HOST`), Docker's distribution client (`manifest for REF not found`), and Go's
//! crypto/x509 (`certificate is valid for a, b, not c`).

pub use super::http::{
    failed_url, host_of_image, http_status, registry_of_url, url_authority, url_host, urls,
};
use super::text::{F, Scan, find_ci, starts_with_ci};
use crate::taxonomy::Runtime;

/// The runtime whose wording the message uses. Docker's daemon prefix wins: Docker with the
/// containerd image store quotes containerd's resolver inside its own message.
pub fn runtime(scan: &Scan) -> Runtime {
    if scan.has(F::Docker) {
        Runtime::Docker
    } else if scan.has(F::Crio) {
        Runtime::CriO
    } else if scan.has(F::Containerd) {
        Runtime::Containerd
    } else {
        Runtime::Unknown
    }
}

/// The image as the message names it, preferring kubelet's own wording (the pod spec's string)
/// over the runtime's normalised one.
pub fn image(text: &str, scan: &Scan) -> Option<String> {
    let value_at = |f: F| scan.after(f).and_then(|at| value(text, at));
    // Quoted attributes whose opening quote is part of the phrase.
    let attr_at = |f: F| scan.after(f).and_then(|at| until(text, at, |c| c == '"'));
    // Kubelet's own phrases first (the pod spec's string), then the runtimes'.
    const ORDER: [(F, bool); 13] = [
        (F::ImgFailedToPull, false),
        (F::ImgBackOff, false),
        (F::ImgFailedPulling, false),
        (F::ImgContainer, true),
        (F::ImgDefaultTag, false),
        (F::ImgSandbox, false),
        (F::ImgInspectSandbox, false),
        (F::ImgAttr, true),
        (F::ImgErrorPulling, true),
        (F::ImgUnpack, false),
        (F::ImgResolve, false),
        (F::ImgResolveRef, false),
        (F::ImgPulling, false),
    ];
    for (f, attr) in ORDER {
        if !scan.has(f) {
            continue;
        }
        let found = if attr { attr_at(f) } else { value_at(f) };
        if found.is_some() {
            return found;
        }
    }
    // `pull access denied for NAME, repository does not exist …`
    if let Some(v) = scan
        .after(F::ImgAccessDenied)
        .and_then(|at| until(text, at, |c| c == ',' || c.is_whitespace()))
    {
        return Some(v);
    }
    // `manifest for REF not found`
    if let Some(v) = scan.after(F::ImgManifestFor).and_then(|at| token(text, at)) {
        return Some(v);
    }
    // `reading manifest TAG in REPO: …` (containers/image)
    if let Some(at) = scan.after(F::ImgReadingManifest) {
        let rest = &text[at..];
        let mut words = rest.split(' ');
        if let (Some(tag), Some("in"), Some(repo)) = (words.next(), words.next(), words.next()) {
            let repo = repo.trim_end_matches([':', ',']);
            let sep = if tag.contains(':') { '@' } else { ':' };
            return Some(format!("{repo}{sep}{tag}"));
        }
    }
    if let Some(v) = scan.after(F::ImgSource).and_then(|at| token(text, at)) {
        return Some(v);
    }
    if let Some(v) = scan
        .after(F::ImgPullFailedFor)
        .and_then(|at| until(text, at, |c| c == ',' || c.is_whitespace()))
    {
        return Some(v);
    }
    // `Error pulling image (TAG) from REPO, …` (old Docker)
    if let Some(at) = scan.after(F::ImgPullingFrom) {
        let rest = &text[at..];
        if let Some((tag, tail)) = rest.split_once(')')
            && let Some(repo) = tail.strip_prefix(" from ")
        {
            let repo = repo.split([',', ' ']).next().unwrap_or("");
            if !repo.is_empty() && !tag.is_empty() {
                return Some(format!("{repo}:{tag}"));
            }
        }
    }
    None
}

/// A quoted value (`"x"`) or a bare token starting at `at`.
fn value(text: &str, at: usize) -> Option<String> {
    let rest = text.get(at..)?;
    if let Some(q) = rest.strip_prefix('"') {
        let v = &q[..q.find('"')?];
        return (!v.trim().is_empty()).then(|| v.to_string());
    }
    // Unquoted, only a token that reads as a reference (`host/repo:tag`), not the next word.
    token(text, at).filter(|t| t.contains(['/', ':', '@']))
}

/// A bare token: up to whitespace, a comma or a quote, without trailing `:` or `.`.
fn token(text: &str, at: usize) -> Option<String> {
    let rest = text.get(at..)?;
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .unwrap_or(rest.len());
    let v = rest[..end].trim_end_matches([':', '.']);
    (!v.is_empty()).then(|| v.to_string())
}

fn until(text: &str, at: usize, stop: impl Fn(char) -> bool) -> Option<String> {
    let rest = text.get(at..)?;
    let v = &rest[..rest.find(stop).unwrap_or(rest.len())];
    (!v.is_empty()).then(|| v.to_string())
}

/// The registry error code nearest the end of the chain (`MANIFEST_UNKNOWN`, `DENIED`, …).
pub fn error_code(scan: &Scan) -> Option<&'static str> {
    [
        (F::ManifestUnknown, "MANIFEST_UNKNOWN"),
        (F::NameUnknown, "NAME_UNKNOWN"),
        (F::CodeBlobUnknown, "BLOB_UNKNOWN"),
        (F::RateLimit, "TOOMANYREQUESTS"),
        (F::CodeDenied, "DENIED"),
        (F::CodeUnauthorized, "UNAUTHORIZED"),
        (F::CodeNameInvalid, "NAME_INVALID"),
    ]
    .into_iter()
    .filter_map(|(f, code)| scan.last(f).map(|at| (at, code)))
    .max_by_key(|(at, _)| *at)
    .map(|(_, code)| code)
}

/// The host whose certificate failed and the names it is valid for, from Go's x509 wording, or
/// else the host of the last URL before the TLS error (which may be a token server).
pub fn certificate(
    text: &str,
    scan: &Scan,
    spans: &[(usize, usize)],
) -> (Option<String>, Vec<String>) {
    if let Some(at) = scan.first(F::TlsName) {
        let rest = &text[at..];
        if let Some(list) = rest.strip_prefix_ci("certificate is valid for ")
            && let Some(split) = find_ci(list, ", not ")
        {
            let names = list[..split].split(", ").map(str::to_string).collect();
            let host = token(list, split + 6);
            return (host, names);
        }
        if let Some(i) = find_ci(rest, "wanted to match ") {
            return (token(rest, i + 16), Vec::new());
        }
    }
    let Some(tls_at) = scan.first(F::Tls).or(scan.first(F::TlsExpired)) else {
        return (None, Vec::new());
    };
    let host = spans
        .iter()
        .rev()
        .find(|(s, _)| *s < tls_at)
        .and_then(|&(s, e)| url_host(&text[s..e]));
    (host, Vec::new())
}

/// The platform a runtime asked for when the index had no match.
pub fn platform(text: &str, scan: &Scan) -> Option<String> {
    let at = scan.first(F::Platform)?;
    let rest = &text[at..];
    for lead in [
        "no matching manifest for ",
        "no match for current platform ",
    ] {
        if let Some(p) = rest.strip_prefix_ci(lead) {
            let p = p.split(' ').next().unwrap_or("");
            if p.contains('/') {
                return Some(p.to_string());
            }
        }
    }
    // containers/image: `… for architecture arm64, variant "v8", OS linux` (values quoted or
    // not, the variant absent or empty, the list or the index named).
    let fields = &rest[find_ci(rest, " for architecture ")? + 5..];
    platform_fields(fields)
}

/// `os/arch[/variant]` from `architecture A, variant V, OS O` in any order, up to the first
/// clause that is none of them.
fn platform_fields(fields: &str) -> Option<String> {
    let (mut os, mut arch, mut variant) = (None, None, None);
    for part in fields.split(',') {
        let part = part.trim();
        let (key, value) = part.split_once(' ').unwrap_or((part, ""));
        let value = value
            .split([' ', ':', ')'])
            .next()
            .unwrap_or("")
            .trim_matches(|c| c == '"' || c == '\'');
        let slot = match key.to_ascii_lowercase().as_str() {
            "architecture" => &mut arch,
            "variant" => &mut variant,
            "os" => &mut os,
            _ => break,
        };
        if !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            *slot = Some(value);
        }
    }
    let mut p = format!("{}/{}", os?, arch?);
    if let Some(v) = variant {
        p.push('/');
        p.push_str(v);
    }
    Some(p)
}

/// The proxy the runtime tried to use: the address Go dialled under `proxyconnect tcp:` (or the
/// host it looked up), or the URL of old Go's `error connecting to proxy URL:`.
pub fn proxy(text: &str, scan: &Scan) -> Option<String> {
    let at = scan.first(F::Proxy)?;
    let rest = &text[at..];
    if let Some(url) = rest.strip_prefix_ci("error connecting to proxy ") {
        return token(url, 0).filter(|u| u.contains("://"));
    }
    let rest = rest.strip_prefix_ci("proxyconnect tcp: ")?;
    if starts_with_ci(rest, "dial tcp: lookup ") {
        return lookup_host(rest);
    }
    dial_target(rest)
}

/// How a connection failed, from the innermost network error: `timeout`, `refused`,
/// `no_route`, `reset`, or `dns` (the name looked up, e.g. the proxy's, does not resolve).
pub fn connection(scan: &Scan) -> Option<&'static str> {
    [
        (F::Dns, "dns"),
        (F::NetTimeout, "timeout"),
        (F::NetRefused, "refused"),
        (F::NetNoRoute, "no_route"),
        (F::NetReset, "reset"),
    ]
    .into_iter()
    .filter_map(|(f, kind)| scan.last(f).map(|at| (at, kind)))
    .max_by_key(|(at, _)| *at)
    .map(|(_, kind)| kind)
}

/// Where Docker's `repository NAME not found` starts (the registry answered that the
/// repository itself is missing), unless the same clause hedges with `no pull access`.
pub fn repository_not_found(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(rel) = find_ci(&text[from..], "repository ") {
        let at = from + rel;
        let name_at = at + "repository ".len();
        from = name_at;
        let Some(name) = token(text, name_at) else {
            continue;
        };
        let after = &text[name_at + name.len()..];
        if starts_with_ci(after, " not found") && find_ci(after, "no pull access").is_none() {
            return Some(at);
        }
    }
    None
}

/// The host a DNS lookup failed for (`dial tcp: lookup HOST on …` / `lookup HOST: no such host`).
pub fn lookup_host(text: &str) -> Option<String> {
    let at = find_ci(text, "lookup ")?;
    let host = token(text, at + 7)?;
    Some(host.trim_end_matches(':').to_string())
}

/// The address a connection was attempted to (`dial tcp 127.0.0.1:443: connect: …`).
pub fn dial_target(text: &str) -> Option<String> {
    let at = find_ci(text, "dial tcp ")?;
    let t = token(text, at + 9)?;
    (t != "lookup").then_some(t)
}

/// The pull secrets kubelet could not read (`… pull secrets (a, b); …` or `pull secret ns/name`).
pub fn secret_names(text: &str) -> Vec<String> {
    if let Some(at) = find_ci(text, "image pull secrets (") {
        let rest = &text[at + 20..];
        if let Some(end) = rest.find(')') {
            return rest[..end]
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
        }
    }
    if let Some(at) = find_ci(text, "pull secret ")
        && let Some(t) = token(text, at + 12)
    {
        return vec![t];
    }
    Vec::new()
}

trait StripCi {
    fn strip_prefix_ci(&self, prefix: &str) -> Option<&str>;
}

impl StripCi for str {
    fn strip_prefix_ci(&self, prefix: &str) -> Option<&str> {
        starts_with_ci(self, prefix).then(|| &self[prefix.len()..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(t: &str) -> Option<String> {
        image(t, &Scan::of(t))
    }

    #[test]
    fn image_prefers_kubelet_spec_string() {
        let t = r#"Failed to pull image "busybox": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/busybox:latest": x"#;
        assert_eq!(img(t).as_deref(), Some("busybox"));
        let t = "Error reading manifest latest-armh in docker.io/haugene/transmission-openvpn: manifest unknown";
        assert_eq!(
            img(t).as_deref(),
            Some("docker.io/haugene/transmission-openvpn:latest-armh")
        );
        let t = "pull access denied for rmeuser-auth, repository does not exist";
        assert_eq!(img(t).as_deref(), Some("rmeuser-auth"));
        let t = "failed to pull image k8s.gcr.io/kube-apiserver:v1.13.3: output: x";
        assert_eq!(img(t).as_deref(), Some("k8s.gcr.io/kube-apiserver:v1.13.3"));
        assert_eq!(img(r#"Failed to pull image "": x"#), None);
    }

    #[test]
    fn certificate_names_and_token_host() {
        let t = "Get https://registry-1.docker.io/v2/: x509: certificate is valid for GATEWAY.EXAMPLE.COM, b.test, not registry-1.docker.io";
        let (h, n) = certificate(t, &Scan::of(t), &urls(t));
        assert_eq!(h.as_deref(), Some("registry-1.docker.io"));
        assert_eq!(n, ["GATEWAY.EXAMPLE.COM", "b.test"]);
        let t = r#"failed to do request: Head "https://r.test/v2/x": failed to fetch anonymous token: Get "https://auth.test/token?scope=x": x509: certificate signed by unknown authority"#;
        let (h, n) = certificate(t, &Scan::of(t), &urls(t));
        assert_eq!(h.as_deref(), Some("auth.test"));
        assert!(n.is_empty());
    }

    #[test]
    fn containers_image_platform_wordings() {
        let p = |t: &str| platform(t, &Scan::of(t));
        let t = "Error choosing image instance: no image found in manifest list for architecture arm, variant v8, OS linux";
        assert_eq!(p(t).as_deref(), Some("linux/arm/v8"));
        let t = r#"choosing image instance: no image found in image index for architecture "arm64", variant "v8", OS "linux""#;
        assert_eq!(p(t).as_deref(), Some("linux/arm64/v8"));
        let t = r#"no image found in manifest list for architecture amd64, variant "", OS linux"#;
        assert_eq!(p(t).as_deref(), Some("linux/amd64"));
        let t = "no image found in manifest list for architecture s390x, OS linux: x";
        assert_eq!(p(t).as_deref(), Some("linux/s390x"));
        let t = "no image found in manifest list for architecture";
        assert_eq!(p(t), None);
    }

    #[test]
    fn proxy_address_and_connection_kind() {
        let px = |t: &str| proxy(t, &Scan::of(t));
        let t = "Get https://r.test/v2/: proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused";
        assert_eq!(px(t).as_deref(), Some("127.0.0.1:3128"));
        assert_eq!(connection(&Scan::of(t)), Some("refused"));
        let t = "proxyconnect tcp: dial tcp: lookup proxy.test on 127.0.0.53:53: no such host";
        assert_eq!(px(t).as_deref(), Some("proxy.test"));
        let t = "Get https://r.test/v2/: http: error connecting to proxy http://127.0.0.1:53847: dial tcp 127.0.0.1:53847: getsockopt: connection refused";
        assert_eq!(px(t).as_deref(), Some("http://127.0.0.1:53847"));
        let t = "Get https://r.test/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)";
        assert_eq!(connection(&Scan::of(t)), Some("timeout"));
        assert_eq!(
            connection(&Scan::of(
                "dial tcp 127.0.0.1:5000: connect: no route to host"
            )),
            Some("no_route")
        );
    }

    #[test]
    fn platform_and_hosts() {
        let t = "no matching manifest for linux/arm64/v8 in the manifest list entries";
        assert_eq!(platform(t, &Scan::of(t)).as_deref(), Some("linux/arm64/v8"));
        assert_eq!(
            lookup_host("dial tcp: lookup gcr.io: no such host").as_deref(),
            Some("gcr.io")
        );
        assert_eq!(
            dial_target("dial tcp 127.0.0.1:443: i/o timeout").as_deref(),
            Some("127.0.0.1:443")
        );
        assert_eq!(
            secret_names("some image pull secrets (a, b); x"),
            ["a", "b"]
        );
    }
}
