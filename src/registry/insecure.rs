//! The hosts the user let pulldoctor reach without TLS trust, and what was (or would be) sent
//! that way.
//!
//! `--plain-http HOST[:PORT]` and `--registry-insecure-skip-verify HOST[:PORT]` name the registries
//! and token realms they apply to, as Docker's `insecure-registries` does
//! (<https://docs.docker.com/reference/cli/dockerd/#insecure-registries>): an entry matches the
//! host and port exactly, a missing port meaning the scheme's default. Nothing else is reached
//! insecurely: a second registry of the same pod, or a token realm on another host, keeps full
//! verification and never gets credentials in cleartext. The node's runtime is laxer —
//! containerd, Docker and containers/image fetch a token from whatever realm the challenge
//! names, with the registry's own transport — so what the runtime *would* send is reported as
//! an [`InsecureTransport`] too, marked as not done by pulldoctor.

use reqwest::Url;
use serde::Serialize;

use super::client::Recorder;
use super::model::{ProbeReport, ProbeRequest, Step, StepName};
use crate::reference::split_port;
use crate::taxonomy::{Cause, Family};

/// One `HOST[:PORT]` a flag named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedHost {
    /// Lower case; IPv6 without brackets.
    host: String,
    port: Option<u16>,
}

impl NamedHost {
    /// Parses the value of `flag`; the error says how to write it.
    pub fn parse(flag: &str, value: &str) -> Result<NamedHost, String> {
        let v = value.trim();
        let usage = format!(
            "{flag} takes the registry or token host it applies to: {flag} HOST[:PORT] (repeatable), e.g. {flag} 127.0.0.1:5000"
        );
        if v.is_empty() {
            return Err(format!("{flag} needs a host; {usage}"));
        }
        if v.contains("://") {
            return Err(format!("{flag} {v:?} is a URL; {usage}"));
        }
        if let Some((host, _)) = v.split_once('/') {
            return Err(format!(
                "{flag} {v:?} looks like an image reference, not a host; write {flag} {host}"
            ));
        }
        let (host, port) = split_port(v);
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{flag} {v:?}: bad port; {usage}"))?,
            ),
            None if v.ends_with(':') => return Err(format!("{flag} {v:?}: empty port; {usage}")),
            None => None,
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ipv6 = host.starts_with('[') && bare.parse::<std::net::Ipv6Addr>().is_ok();
        let name_ok = !bare.is_empty()
            && bare.len() <= 253
            && bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !(ipv6 || name_ok) {
            return Err(format!(
                "{flag} {v:?} is not a host name or address; {usage}"
            ));
        }
        Ok(NamedHost {
            host: bare.to_ascii_lowercase(),
            port,
        })
    }

    /// The host and port of `url`, as a named host that matches exactly it.
    pub fn of_url(url: &Url) -> NamedHost {
        NamedHost {
            host: url
                .host_str()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port: url.port(),
        }
    }

    /// True when `url` is on this host and port (no port named: the scheme's default).
    pub fn matches(&self, url: &Url) -> bool {
        let host = url
            .host_str()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']');
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        match self.port {
            Some(p) => url.port_or_known_default() == Some(p),
            None => url.port().is_none(),
        }
    }
}

impl std::fmt::Display for NamedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// The hosts named by `--plain-http` and `--registry-insecure-skip-verify`.
#[derive(Debug, Clone, Default)]
pub struct InsecureHosts {
    pub plain_http: Vec<NamedHost>,
    pub skip_verify: Vec<NamedHost>,
}

impl InsecureHosts {
    /// Parses the flags' values.
    pub fn from_flags(plain_http: &[String], skip_verify: &[String]) -> Result<Self, String> {
        let parse = |flag: &str, values: &[String]| {
            values
                .iter()
                .map(|v| NamedHost::parse(flag, v))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(InsecureHosts {
            plain_http: parse("--plain-http", plain_http)?,
            skip_verify: parse("--registry-insecure-skip-verify", skip_verify)?,
        })
    }

    /// True when `--plain-http` named `url`'s host.
    pub fn plain_http_for(&self, url: &Url) -> bool {
        self.plain_http.iter().any(|h| h.matches(url))
    }

    /// True when `--registry-insecure-skip-verify` named `url`'s host.
    pub fn skip_verify_for(&self, url: &Url) -> bool {
        self.skip_verify.iter().any(|h| h.matches(url))
    }

    /// True when no host was named at all.
    pub fn is_empty(&self) -> bool {
        self.plain_http.is_empty() && self.skip_verify.is_empty()
    }
}

/// `https://host[:port]/` for a registry as an image names it, to match named hosts against.
pub fn registry_url(hostport: &str) -> Option<Url> {
    Url::parse(&format!("https://{hostport}/")).ok()
}

/// `host[:port]` of a URL, as a person writes it (default port left out).
pub fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// A connection made, or one the node's runtime would make, without TLS trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsecureTransport {
    /// `host[:port]` of the registry or token realm.
    pub host: String,
    /// `registry` or `token_realm`.
    pub role: &'static str,
    /// `plain_http` (no TLS at all) or `unverified_tls` (certificate not verified).
    pub transport: &'static str,
    /// What allowed it: `--plain-http`, `--registry-insecure-skip-verify`, `node config`, or
    /// `node runtime` (only the node's runtime would do it; pulldoctor did not).
    pub by: &'static str,
    /// True when pulldoctor itself connected this way.
    pub used: bool,
    /// True when credentials went over it (for `node runtime`: would go).
    pub credentials: bool,
    /// What verification says about the certificate, when it would fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// One line for a person.
    pub detail: String,
    /// The cause verification (or an HTTPS client) would have met; for `--require-verified-tls`.
    #[serde(skip)]
    pub would_fail: Option<Cause>,
}

/// What went, or would go, without TLS trust in one probe: the registry as the flags or the
/// node's config had it reached, and each token realm on another host.
pub fn findings(
    req: &ProbeRequest,
    report: &ProbeReport,
    root: &Url,
    recorder: &Recorder,
) -> Vec<InsecureTransport> {
    let mut out = Vec::new();
    let registry = host_of(root);
    let sent_to = |origin: &Url| {
        report.steps.iter().any(|s| {
            !s.auth.starts_with("anonymous")
                && Url::parse(&s.url).is_ok_and(|u| same_place(&u, origin))
        })
    };
    if root.scheme() == "http" {
        let by = if req.plain_http {
            "--plain-http"
        } else {
            "node config"
        };
        let credentials = sent_to(root);
        out.push(InsecureTransport {
            host: registry.clone(),
            role: "registry",
            transport: "plain_http",
            by,
            used: true,
            credentials,
            verification: None,
            detail: format!(
                "trust skipped for registry {registry}: plain HTTP ({}), nothing vouches for the server{}",
                allowed_by(by, "plain_http", &registry),
                if credentials { " and credentials went in cleartext" } else { "" }
            ),
            would_fail: Some(Cause::HttpToHttps),
        });
    } else if req.insecure_skip_verify || req.trust.skip_verify {
        let by = if req.insecure_skip_verify {
            "--registry-insecure-skip-verify"
        } else {
            "node config"
        };
        let verification = report.tls_would_fail.as_ref().map(|f| f.describe());
        out.push(InsecureTransport {
            host: registry.clone(),
            role: "registry",
            transport: "unverified_tls",
            by,
            used: true,
            credentials: sent_to(root),
            detail: format!(
                "trust skipped for registry {registry}: TLS certificate not verified ({}); {}",
                allowed_by(by, "unverified_tls", &registry),
                outcome(verification.as_deref(), !report.certificates.is_empty())
            ),
            verification,
            would_fail: report.tls_would_fail.as_ref().map(|f| f.cause()),
        });
    }
    let mut seen: Vec<String> = Vec::new();
    for step in report.steps.iter().filter(|s| s.name == StepName::Token) {
        let Ok(realm) = Url::parse(&step.url) else {
            continue;
        };
        let shown = format!("{}://{}{}", realm.scheme(), host_of(&realm), realm.path());
        if same_place(&realm, root) || seen.contains(&shown) {
            continue;
        }
        seen.push(shown.clone());
        if let Some(t) = realm_finding(req, report, step, &realm, &shown, recorder) {
            out.push(t);
        }
    }
    out
}

/// The finding for one token realm on another host, if it is reached (or would be) insecurely.
fn realm_finding(
    req: &ProbeRequest,
    report: &ProbeReport,
    step: &Step,
    realm: &Url,
    shown: &str,
    recorder: &Recorder,
) -> Option<InsecureTransport> {
    let host = host_of(realm);
    let sent = !step.auth.starts_with("anonymous");
    let have_credentials = !req.credentials.is_empty();
    let entry = |transport, by, used, credentials, verification, detail, would_fail| {
        Some(InsecureTransport {
            host: host.clone(),
            role: "token_realm",
            transport,
            by,
            used,
            credentials,
            verification,
            detail,
            would_fail,
        })
    };
    if realm.scheme() == "http" {
        if req.insecure.plain_http_for(realm) {
            let what = if sent {
                "credentials went there in cleartext"
            } else {
                "asked anonymously"
            };
            return entry(
                "plain_http",
                "--plain-http",
                true,
                sent,
                None,
                format!(
                    "trust skipped for token realm {shown}: plain HTTP (--plain-http {host}); {what}"
                ),
                Some(Cause::HttpToHttps),
            );
        }
        if !have_credentials {
            return None;
        }
        return entry(
            "plain_http",
            "node runtime",
            false,
            true,
            None,
            format!(
                "token realm {shown} is plain HTTP: containerd, Docker and CRI-O (containers/image) would send the pull credentials there in cleartext; pulldoctor withheld them (to send them anyway: --plain-http {host})"
            ),
            Some(Cause::HttpToHttps),
        );
    }
    if req.insecure.skip_verify_for(realm) {
        // The verifier records by server name, which carries no port.
        let server = realm.host_str().unwrap_or("").trim_matches(['[', ']']);
        let would = recorder.would_fail(server);
        let verification = would.as_ref().map(|f| f.describe());
        return entry(
            "unverified_tls",
            "--registry-insecure-skip-verify",
            true,
            sent,
            verification.clone(),
            format!(
                "trust skipped for token realm {shown}: TLS certificate not verified (--registry-insecure-skip-verify {host}){}; {}",
                if sent { ", credentials sent" } else { "" },
                outcome(verification.as_deref(), !recorder.chain(server).is_empty())
            ),
            would.map(|f| f.cause()),
        );
    }
    let registry_unverified = req.insecure_skip_verify || req.trust.skip_verify;
    let tls_failure = step
        .failure
        .as_ref()
        .filter(|f| f.cause().family() == Family::Tls);
    match tls_failure {
        Some(f) if registry_unverified && have_credentials => entry(
            "unverified_tls",
            "node runtime",
            false,
            true,
            Some(f.describe()),
            format!(
                "token realm {shown} has a certificate that does not verify ({}); a runtime told to skip verification for registry {} (containerd skip_verify, Docker insecure-registries, registries.conf insecure) uses that transport for the realm too and would send the pull credentials there unverified; pulldoctor did not (to do it anyway: --registry-insecure-skip-verify {host})",
                f.describe(),
                report.endpoint
            ),
            Some(f.cause()),
        ),
        _ => None,
    }
}

/// What verification would have said of a certificate it did not check.
fn outcome(failure: Option<&str>, seen: bool) -> String {
    match (failure, seen) {
        (Some(v), _) => format!("verification would have failed: {v}"),
        (None, true) => "its certificate would have verified".to_string(),
        (None, false) => "no certificate was presented".to_string(),
    }
}

/// True when two URLs are the same host and port.
fn same_place(a: &Url, b: &Url) -> bool {
    a.host_str()
        .zip(b.host_str())
        .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
        && a.port_or_known_default() == b.port_or_known_default()
}

/// What allowed it, as the user wrote it: `--plain-http HOST`, or the node config's words.
fn allowed_by(by: &str, transport: &str, host: &str) -> String {
    match (by.starts_with("--"), transport) {
        (true, _) => format!("{by} {host}"),
        (false, "plain_http") => format!("the node's config names http://{host}"),
        (false, _) => "the node's config sets skip_verify = true".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn named_hosts_match_host_and_port_exactly() {
        let h = NamedHost::parse("--plain-http", "127.0.0.1:5000").unwrap();
        assert!(h.matches(&url("http://127.0.0.1:5000/v2/")));
        assert!(h.matches(&url("https://127.0.0.1:5000/token")));
        assert!(!h.matches(&url("http://127.0.0.1:5001/v2/")));
        assert!(!h.matches(&url("http://127.0.0.1/v2/")));
        let bare = NamedHost::parse("--plain-http", "Reg.Example.com").unwrap();
        assert!(bare.matches(&url("https://reg.example.com/v2/")));
        assert!(bare.matches(&url("http://reg.example.com:80/v2/")));
        assert!(!bare.matches(&url("https://reg.example.com:5000/v2/")));
        let v6 = NamedHost::parse("--plain-http", "[::1]:5000").unwrap();
        assert!(v6.matches(&url("http://[::1]:5000/v2/")));
    }

    #[test]
    fn bad_values_say_how_to_write_the_flag() {
        for (v, says) in [
            ("", "needs a host"),
            (
                "127.0.0.1:5000/app:1.0",
                "write --plain-http 127.0.0.1:5000",
            ),
            ("http://reg", "is a URL"),
            ("reg:99999", "bad port"),
            ("*", "not a host"),
            ("reg:", "empty port"),
        ] {
            let e = NamedHost::parse("--plain-http", v).unwrap_err();
            assert!(e.contains(says), "{v:?}: {e}");
        }
    }
}
