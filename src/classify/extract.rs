//! Facts a pull-failure message reveals: image, URL, HTTP status, registry error code,
//! certificate host and names, platform, and whose wording it is.
//!
//! The shapes come from the runtimes' own error formatting: kubelet's `Failed to pull image %q:
//! %v` (`pkg/kubelet/images/image_manager.go`), containerd's resolver (`remotes/docker/
//! resolver.go`: `failed to do request: Head "URL"`, `unexpected status from HEAD request to URL:
//! 403 Forbidden`), CRI-O's containers/image (`reading manifest TAG in REPO`, `pinging container
//! registry HOST`), Docker's distribution client (`manifest for REF not found`), and Go's
//! crypto/x509 (`certificate is valid for a, b, not c`).

use super::text::{F, Scan, ends_with_ci, find_ci, starts_with_ci};
use crate::registry::reference::split_port;
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

/// Every `http://` / `https://` URL in the text, as byte ranges.
pub fn urls(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find("://") {
        let colon = from + rel;
        from = colon + 3;
        let start = if ends_with_ci(&text[..colon], "https") {
            colon - 5
        } else if ends_with_ci(&text[..colon], "http") {
            colon - 4
        } else {
            continue;
        };
        let rest = &text[start..];
        let mut end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ']' || c == ',')
            .unwrap_or(rest.len());
        // `…/1.10.1-alpine:x509: …` (no space after the colon in old ctr output)
        if let Some(x) = find_ci(&rest[..end], ":x509") {
            end = x;
        }
        let url = rest[..end].trim_end_matches([':', '.', ')']);
        if url.len() > "https://".len() {
            out.push((start, start + url.len()));
        }
        from = from.max(start + end);
    }
    out
}

/// The registry endpoint that failed: the last URL before `before` that addresses a registry API
/// (`/v2/`, `/v1/`, a token endpoint), skipping documentation links the registry appends.
pub fn failed_url(text: &str, spans: &[(usize, usize)], before: Option<usize>) -> Option<String> {
    let limit = before.unwrap_or(text.len());
    let api = |u: &str| {
        let path = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
        let path = path.find('/').map(|i| &path[i..]).unwrap_or("");
        path.starts_with("/v2")
            || path.starts_with("/v1")
            || path.contains("scope=")
            || path.contains("service=")
            || path.contains("/token")
            || path.contains("/auth?")
    };
    let pick = |bound: usize| {
        spans
            .iter()
            .rev()
            .filter(|(s, _)| *s < bound)
            .map(|&(s, e)| &text[s..e])
            .find(|u| api(u))
    };
    pick(limit).or_else(|| pick(text.len())).map(str::to_string)
}

/// The registry part of an image string that did not parse (`host.test/Team/app:1`), when its
/// first component reads as a host.
pub fn host_of_image(image: &str) -> Option<String> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then(|| first.to_string())
}

/// The registry a URL addresses, when it is a registry API URL (`/v2/…`, `/v1/…`).
pub fn registry_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let slash = rest.find('/')?;
    let path = &rest[slash..];
    (path.starts_with("/v2/") || path.starts_with("/v1/") || path == "/v2" || path == "/v1")
        .then(|| rest[..slash].to_string())
}

/// The host and port of a URL, as written.
pub fn url_authority(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| authority.to_string())
}

/// The host part of a URL, without the port.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = split_port(authority).0;
    (!host.is_empty()).then(|| host.to_string())
}

/// The HTTP status the registry answered with: the innermost number that reads as a status
/// (`received unexpected HTTP status: 503`, `unexpected status from HEAD request to URL: 403`,
/// `429 Too Many Requests`). Docker's API wrappers (`API error (500)`, `(HTTP code 500)`) are the
/// daemon's own status, not the registry's, and are skipped.
pub fn http_status(text: &str, scan: &Scan) -> Option<u16> {
    const REASONS: [&str; 12] = [
        "unauthorized",
        "forbidden",
        "not found",
        "too many requests",
        "internal server error",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
        "bad request",
        "method not allowed",
        "conflict",
        "request timeout",
    ];
    let b = text.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < b.len() {
        // Jump to the next run of digits and measure it: only runs of exactly three count.
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start != 3 {
            continue;
        }
        let left_ok = start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'.');
        let right_ok = i == b.len() || !(b[i].is_ascii_alphanumeric() || b[i] == b'.');
        let port_like = start > 0 && b[start - 1] == b':';
        if !(left_ok && right_ok) || port_like {
            continue;
        }
        let n: u16 = text[start..i].parse().unwrap_or(0);
        if !(100..600).contains(&n) {
            continue;
        }
        let after = text[i..].trim_start_matches([' ', '(']);
        let before = text[..start].trim_end_matches([' ', ':']);
        let wrapper = ends_with_ci(before, "http code") || ends_with_ci(before, "error (");
        let reason = REASONS.iter().any(|r| starts_with_ci(after, r));
        let lead = |s: &str| {
            ends_with_ci(s, "status") || ends_with_ci(s, "code") || ends_with_ci(s, "registry")
        };
        let via_url = before.rfind(' ').is_some_and(|sp| {
            starts_with_ci(&before[sp + 1..], "http") && {
                let pre = before[..sp].trim_end();
                lead(pre) || ends_with_ci(pre, " to")
            }
        });
        if !wrapper && (reason || lead(before) || via_url) {
            found = Some(n);
        }
    }
    // Only the reason phrase, no number: the scan says whether any is present at all.
    let phrased = scan.has(F::ServerError) || scan.has(F::RateLimit) || scan.has(F::Forbidden);
    found.or_else(|| {
        if !phrased {
            return None;
        }
        [
            ("too many requests", 429),
            ("internal server error", 500),
            ("bad gateway", 502),
            ("service unavailable", 503),
            ("gateway timeout", 504),
            ("forbidden", 403),
        ]
        .into_iter()
        .find(|(p, _)| find_ci(text, p).is_some())
        .map(|(_, n)| n)
    })
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
    None
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
    fn urls_stop_at_quotes_colons_and_x509() {
        let t = r#"Head "https://r.test/v2/a/manifests/1": x; Get https://gcr.io/v2/: dial; Head https://h.test/v2/n/manifests/1.10.1-alpine:x509: bad"#;
        let u: Vec<&str> = urls(t).iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(
            u,
            [
                "https://r.test/v2/a/manifests/1",
                "https://gcr.io/v2/",
                "https://h.test/v2/n/manifests/1.10.1-alpine"
            ]
        );
        assert_eq!(
            url_host("https://127.0.0.1:5000/v2/").as_deref(),
            Some("127.0.0.1")
        );
    }

    fn st(t: &str) -> Option<u16> {
        http_status(t, &Scan::of(t))
    }

    #[test]
    fn status_reads_registry_not_wrapper_or_port() {
        assert_eq!(
            st("(HTTP code 500) server error - x: 401 Unauthorized"),
            Some(401)
        );
        assert_eq!(
            st("API error (500): Get x: no basic auth credentials"),
            None
        );
        assert_eq!(
            st("dial tcp 127.0.0.1:443: connect: connection refused"),
            None
        );
        assert_eq!(
            st("unexpected status from HEAD request to http://h.test/v2/x: 403"),
            Some(403)
        );
        assert_eq!(
            st("invalid status code from registry 502 (Bad Gateway)"),
            Some(502)
        );
        assert_eq!(st("Error: Status 429 trying to pull repository"), Some(429));
        assert_eq!(
            st(r#"Get "https://n.test/v2/": Internal Server Error"#),
            Some(500)
        );
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
