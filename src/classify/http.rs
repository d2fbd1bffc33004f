//! URLs and HTTP statuses inside pull-failure text.
//!
//! Go's `net/http` prints a failed request as `Get "URL": …` (unquoted before Go 1.14), and the
//! runtimes append the registry's answer after the URL (`unexpected status from HEAD request to
//! URL: 403 Forbidden`, containerd `remotes/docker/resolver.go`; `received unexpected HTTP
//! status: 503`, distribution's client `registry/client/errors.go`). Docker's API wrappers
//! (`API error (500)`, `(HTTP code 500)`) carry the daemon's status, not the registry's.

use super::text::{F, Scan, ends_with_ci, find_ci, starts_with_ci};
use crate::reference::split_port;

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
    const REASONS: [&str; 13] = [
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
        "precondition failed",
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
