//! Text preparation for the classifier: undo log quoting, join wrapped lines, and find every
//! known phrase in one pass.
//!
//! Kubelet writes pull errors through several layers of quoting: the CRI error inside a klog
//! structured line (`err="rpc error: … \"image\" …"`), sometimes inside a syslog line that quotes
//! it again (`\\\"`). Terminals and issue trackers wrap long events across lines. Normalising
//! first means the rules see one canonical shape. The phrases are then found with a single
//! Aho-Corasick scan (ASCII case-insensitive, no backtracking), so classification costs one pass
//! over the text however many phrases the rules know.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Text beyond this many bytes is not analysed: real pull errors are a few KiB at most, and the
/// cap keeps a pasted 10 MB line from costing more than a normal one.
pub const MAX_ANALYSED: usize = 64 * 1024;

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Removes log-quoting backslashes and collapses whitespace runs (including line breaks) to one
/// space, except a line break that split a token (see [`super::wrap`]), which disappears.
///
/// A run of backslashes before `"` is quoting at some depth and disappears; `\n` and `\t` written
/// out as escapes become a space. Borrowed when there is nothing to change, which is the common
/// case for event messages.
pub fn normalise(raw: &str) -> Cow<'_, str> {
    let s = cap(raw, MAX_ANALYSED).trim();
    let b = s.as_bytes();
    let needs_work = memchr::memchr3(b'\\', b'\n', b'\t', b).is_some()
        || memchr::memchr(b'\r', b).is_some()
        || memchr::memmem::find(b, b"  ").is_some();
    if !needs_work {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let peek = |chars: &std::str::Chars<'_>| chars.clone().next();
    // Whitespace seen since the last kept character, and whether it held a line break.
    let mut gap = Gap::None;
    loop {
        let here = chars.as_str();
        let Some(c) = chars.next() else { break };
        let c = if c == '\\' {
            let mut run = 1;
            while peek(&chars) == Some('\\') {
                chars.next();
                run += 1;
            }
            match peek(&chars) {
                Some('"') => {
                    chars.next();
                    '"'
                }
                Some('n' | 't' | 'r') if run % 2 == 1 => {
                    chars.next();
                    ' '
                }
                _ => {
                    gap.flush(&mut out, here);
                    out.extend(std::iter::repeat_n('\\', run));
                    continue;
                }
            }
        } else {
            c
        };
        if c.is_whitespace() {
            gap = match gap {
                _ if out.is_empty() => Gap::None,
                Gap::Break => Gap::Break,
                _ if c == '\n' || c == '\r' => Gap::Break,
                _ => Gap::Space,
            };
        } else {
            gap.flush(&mut out, here);
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The whitespace between two kept characters of [`normalise`].
#[derive(Clone, Copy)]
enum Gap {
    None,
    Space,
    /// Whitespace that holds a line break: a wrap, possibly inside a token.
    Break,
}

impl Gap {
    /// Writes the one space the gap stands for, unless a line break split a token.
    fn flush(&mut self, out: &mut String, after: &str) {
        match std::mem::replace(self, Gap::None) {
            Gap::None => {}
            Gap::Break if super::wrap::splits_token(out, after) => {}
            Gap::Space | Gap::Break => out.push(' '),
        }
    }
}

macro_rules! features {
    ($($name:ident => [$($pat:literal),+ $(,)?]),+ $(,)?) => {
        /// A phrase family the rules and extractors look for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum F { $($name),+ }
        const GROUPS: &[(F, &[&str])] = &[$((F::$name, &[$($pat),+])),+];
        const COUNT: usize = [$(F::$name),+].len();
    };
}

features! {
    // Which runtime's wording this is.
    Docker => ["error response from daemon", "may require 'docker login'",
        "error pulling image configuration", "failed to register layer", "(http code ",
        "api error (", "may be because there are no credentials", "error while pulling image",
        "error pulling image (", "no matching manifest for ",
        "untar re-exec", "trying to pull repository", "error from registry:",
        "does not exist or no pull access", "download failed after attempts",
        "error getting v2 registry", "attempting next endpoint for pull",
        "no supported platform found in manifest list"],
    Crio => ["pinging container registry", "pinging docker registry", "error pinging ",
        "reading manifest ", "unable to retrieve auth token", "initializing source docker://",
        "determining manifest mime type", "source image rejected", "signature validation failed",
        "checking signature of", "reading signatures", "copying system image",
        "requesting bearer token", "invalid policy in ", "unable to try pulling",
        "choosing image instance", "choosing an image from manifest list",
        "no image found in manifest list", "no image found in image index"],
    Containerd => ["failed to pull and unpack image", "failed to resolve reference",
        "failed to resolve image:", "failed to do request", "failed to fetch anonymous token",
        "failed to fetch oauth token", "failed to authorize", "httpreadseeker",
        "httpreaderseeker", "failed to copy:", "unexpected status from head request",
        "unexpected status from get request", "no match for platform in manifest",
        "no match for current platform", "failed to extract layer", "failed to get sandbox image",
        "may require authorization", "failed to solve", "pulling from host ",
        "failed to resolve ref ", "failed open:"],
    // Causes.
    NeverPull => ["pull policy of never", "errimageneverpull"],
    InvalidRef => ["invalid reference format", "couldn't parse image reference",
        "failed to apply default image tag", "invalidimagename",
        "repository name must be lowercase", "couldn't parse image name"],
    PullSecret => ["unable to retrieve some image pull secrets", "unable to retrieve pull secret",
        "failedtoretrieveimagepullsecret"],
    DiskFull => ["no space left on device"],
    Signature => ["signature was required", "signature validation failed",
        "signaturevalidationfailed", "verifying signatures", "signature verification failed",
        "source image rejected", "invalid signature"],
    // containers/image (CRI-O, Podman) refusing a `blocked = true` registry before connecting:
    // `registry X is blocked in /etc/containers/registries.conf or …registries.conf.d`.
    Blocked => ["is blocked in /etc/containers/registries.conf"],
    // A registry refusing to serve an image by its own policy: Harbor's PROJECTPOLICYVIOLATION
    // code and its vulnerability sentence (`… cannot be pulled due to configured policy in …`),
    // its content-trust sentence (`The image is not signed in Notary.` / `… by cosign.`), and
    // the 412 status those answers carry (`policy.rs` reads them).
    PolicyViolation => ["projectpolicyviolation", "due to configured policy"],
    NotSigned => ["image is not signed"],
    Precondition => ["precondition failed"],
    PolicyWords => ["vulnerab", "policy", "not signed"],
    Dns => ["dial tcp: lookup ", "no such host", "temporary failure in name resolution",
        "server misbehaving", "name or service not known"],
    TlsUnknownCa => ["certificate signed by unknown authority", "x509: certificate is not trusted",
        "unable to get local issuer certificate", "self signed certificate",
        "self-signed certificate"],
    TlsExpired => ["certificate has expired", "is not yet valid"],
    TlsName => ["certificate is valid for ", "certificate is not valid for any names",
        "relies on legacy common name field", "doesn't contain any ip sans",
        "x509: cannot validate certificate for"],
    HttpToHttps => ["server gave http response to https client"],
    // The runtime's proxy: Go wraps every failure to reach or use it as `proxyconnect tcp: …`
    // (`http: error connecting to proxy …` before Go 1.10); a proxy refusing the CONNECT answers
    // with its own 407.
    Proxy => ["proxyconnect tcp", "error connecting to proxy", "proxy authentication required"],
    Network => ["connection refused", "no route to host", "i/o timeout", "connection timed out",
        "network is unreachable", "request canceled while waiting for connection",
        "client.timeout exceeded", "tls handshake timeout", "connection reset by peer",
        "context deadline exceeded", "deadlineexceeded", "connectex:",
        "a connection attempt failed", "host is unreachable", "net/http: request canceled",
        "client.timeout or context cancellation", "timeout awaiting response headers",
        "actively refused"],
    // How the connection failed (each phrase is also a `Network` one).
    NetTimeout => ["i/o timeout", "connection timed out", "request canceled while waiting for connection",
        "client.timeout exceeded", "tls handshake timeout", "context deadline exceeded",
        "deadlineexceeded", "a connection attempt failed", "net/http: request canceled",
        "client.timeout or context cancellation", "timeout awaiting response headers"],
    NetRefused => ["connection refused", "actively refused"],
    NetNoRoute => ["no route to host", "network is unreachable", "host is unreachable"],
    NetReset => ["connection reset by peer"],
    RateLimit => ["toomanyrequests", "too many requests", "pull rate limit",
        "rate limit exceeded"],
    Platform => ["no match for platform in manifest", "no matching manifest for ",
        "no match for current platform", "does not match the specified platform",
        "no image found in manifest list", "no image found in image index",
        "image architecture mismatch", "no supported platform found in manifest list"],
    AuthInvalid => ["incorrect username or password", "invalid username/password",
        "cannot be authenticated with the token", "password is invalid",
        "authentication failed", "invalid credentials", "bad credentials"],
    OauthToken => ["failed to fetch oauth token"],
    AnonToken => ["failed to fetch anonymous token"],
    NoBasicAuth => ["no basic auth credentials"],
    AuthOrNotFound => ["pull access denied", "repository does not exist",
        "does not exist or no pull access", "or it may not exist",
        "requested access to the resource is denied", "insufficient_scope",
        "verify that it exists"],
    Unauthenticated => ["unauthenticated requests"],
    Unauthorized => ["unauthorized", "authentication required"],
    Forbidden => ["forbidden", "permission denied", "\" denied on resource", "denied: permission",
        "not authorized to perform"],
    NameUnknown => ["name_unknown", "name unknown", "repository name not known to registry"],
    ManifestUnknown => ["manifest_unknown", "manifest unknown"],
    TagNotFound => ["not found in repository"],
    NotFound => [": not found", " not found: ", "404 not found", " not found\"",
        "was deleted or has expired", "manifest not found", "image not found", " not found"],
    FailedCopy => ["failed to copy:"],
    // The node's own content store, while unpacking: not the registry's answer.
    LocalUnpack => ["failed to unpack image on snapshotter", "content digest "],
    ServerError => ["internal server error", "bad gateway", "service unavailable",
        "gateway timeout", "unexpected eof", ": eof"],
    Tls => ["x509:", "tls: failed to verify certificate"],
    // Registry error codes (as the registry or the runtime spells them).
    CodeDenied => ["denied:"],
    CodeUnauthorized => ["unauthorized:"],
    CodeBlobUnknown => ["blob_unknown", "blob unknown"],
    CodeNameInvalid => ["name_invalid"],
    // Signs that a line is about a failed pull at all.
    PullWords => ["failed to pull", "failed pulling", "error pulling", "errimagepull",
        "imagepullbackoff", "back-off pulling image", "pull access denied", "pulling image: "],
    // Where an image reference follows (one phrase each: extraction needs the match's end).
    ImgFailedToPull => ["failed to pull image "],
    ImgBackOff => ["back-off pulling image "],
    ImgFailedPulling => ["failed pulling image "],
    ImgContainer => ["container image \""],
    ImgDefaultTag => ["failed to apply default image tag "],
    ImgSandbox => ["failed to get sandbox image "],
    ImgInspectSandbox => ["failed to inspect sandbox image "],
    ImgAttr => ["image=\""],
    ImgErrorPulling => ["error pulling image \""],
    ImgUnpack => ["failed to pull and unpack image "],
    ImgResolve => ["failed to resolve reference "],
    ImgAccessDenied => ["pull access denied for "],
    ImgManifestFor => ["manifest for "],
    ImgReadingManifest => ["reading manifest "],
    ImgSource => ["initializing source docker://"],
    ImgPullFailedFor => ["image pull failed for "],
    ImgPullingFrom => ["error pulling image ("],
    ImgPulling => ["pulling image "],
    ImgResolveRef => ["failed to resolve ref "],
}

struct Automaton {
    ac: AhoCorasick,
    /// For each pattern id, the features it belongs to.
    owners: Vec<Vec<F>>,
}

fn automaton() -> &'static Automaton {
    static CELL: OnceLock<Automaton> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners: Vec<Vec<F>> = Vec::new();
        for (feature, pats) in GROUPS {
            for p in *pats {
                match patterns.iter().position(|q| q == p) {
                    Some(i) => owners[i].push(*feature),
                    None => {
                        patterns.push(p);
                        owners.push(vec![*feature]);
                    }
                }
            }
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("the phrase table is a valid automaton");
        Automaton { ac, owners }
    })
}

/// Where each phrase family first and last occurs in a normalised message.
pub struct Scan {
    first: [u32; COUNT],
    first_end: [u32; COUNT],
    last: [u32; COUNT],
}

const ABSENT: u32 = u32::MAX;

impl Scan {
    /// Finds every phrase of the table in `text` (already normalised and capped).
    pub fn of(text: &str) -> Scan {
        let mut scan = Scan {
            first: [ABSENT; COUNT],
            first_end: [ABSENT; COUNT],
            last: [ABSENT; COUNT],
        };
        let a = automaton();
        for m in a.ac.find_overlapping_iter(text) {
            for &f in &a.owners[m.pattern().as_usize()] {
                let i = f as usize;
                let (start, end) = (m.start() as u32, m.end() as u32);
                if scan.first[i] == ABSENT || start < scan.first[i] {
                    scan.first[i] = start;
                    scan.first_end[i] = end;
                }
                if scan.last[i] == ABSENT || start > scan.last[i] {
                    scan.last[i] = start;
                }
            }
        }
        scan
    }

    /// True when any phrase of the family occurs.
    pub fn has(&self, f: F) -> bool {
        self.first[f as usize] != ABSENT
    }

    /// Start of the family's first occurrence.
    pub fn first(&self, f: F) -> Option<usize> {
        let v = self.first[f as usize];
        (v != ABSENT).then_some(v as usize)
    }

    /// End of the family's first occurrence (where a following value starts).
    pub fn after(&self, f: F) -> Option<usize> {
        let v = self.first_end[f as usize];
        (v != ABSENT).then_some(v as usize)
    }

    /// Start of the family's last occurrence.
    pub fn last(&self, f: F) -> Option<usize> {
        let v = self.last[f as usize];
        (v != ABSENT).then_some(v as usize)
    }
}

/// ASCII case-insensitive `ends_with`.
pub fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// ASCII case-insensitive `starts_with`.
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// ASCII case-insensitive `find`, for the few places outside the scan that need a position.
pub fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    // Jump between candidate first bytes rather than comparing at every position.
    let (lo, up) = (n[0].to_ascii_lowercase(), n[0].to_ascii_uppercase());
    let last = h.len() - n.len();
    let mut from = 0;
    while from <= last {
        let i = from + memchr::memchr2(lo, up, &h[from..=last])?;
        if h[i..i + n.len()].eq_ignore_ascii_case(n) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_klog_and_syslog_quoting() {
        let s = normalise(r#"err="failed \"a\": b \\\"c\\\"" x"#);
        assert_eq!(s, r#"err="failed "a": b "c"" x"#);
        assert_eq!(normalise("a\\nb"), "a b");
        assert_eq!(normalise("C:\\path x"), "C:\\path x");
    }

    #[test]
    fn joins_wrapped_lines_and_collapses_spaces() {
        assert_eq!(normalise("  a:\n  b\t\tc  "), "a: b c");
        assert!(matches!(normalise("plain text"), Cow::Borrowed(_)));
    }

    #[test]
    fn caps_on_a_char_boundary() {
        let s = "é".repeat(10);
        assert_eq!(cap(&s, 3), "é");
        assert_eq!(cap("abc", 10), "abc");
    }

    #[test]
    fn scan_is_case_insensitive_and_records_positions() {
        let t = "Error response from daemon: Get https://x/v2/: X509: certificate signed by unknown authority";
        let s = Scan::of(t);
        assert!(s.has(F::Docker));
        assert!(s.has(F::TlsUnknownCa));
        assert_eq!(s.first(F::Tls), t.find("X509"));
        assert!(!s.has(F::Crio));
    }

    #[test]
    fn ci_helpers() {
        assert!(ends_with_ci("HTTP Status", "status"));
        assert!(starts_with_ci("Https://x", "https://"));
        assert_eq!(find_ci("aXb", "xB"), Some(1));
        assert_eq!(find_ci("a", "ab"), None);
    }
}
