//! Transport failures told apart by type: TLS, refused, timeout, DNS.
//!
//! reqwest 0.13 wraps a rustls error twice (`io::Error(Other, io::Error(InvalidData,
//! rustls::Error))`) and `Error::source()` does not reach it, so the chain is walked with
//! `io::Error::get_ref` and each link downcast (see `docs/internals/registry-protocol.md`).
//! The variants map onto what Docker and containerd print (Go's `x509: certificate signed by
//! unknown authority`, `… is valid for X, not Y`, `… has expired`, `http: server gave HTTP
//! response to HTTPS client`).

use std::error::Error as StdError;

use rustls::{AlertDescription, CertificateError, InvalidMessage};
use serde::Serialize;

use super::dns::DnsError;
use crate::taxonomy::Cause;
use crate::trust::describe::rfc3339;

/// Why a request got no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// The chain does not lead to a trusted root.
    UnknownAuthority,
    /// The certificate names other hosts.
    NameMismatch {
        expected: String,
        presented: Vec<String>,
    },
    /// The certificate's notAfter has passed.
    Expired { now: String, not_after: String },
    /// The certificate's notBefore is still ahead.
    NotYetValid { now: String, not_before: String },
    /// Another certificate problem (bad signature, wrong usage, revoked…).
    BadCertificate { detail: String },
    /// The registry ended the handshake over the client certificate (mutual TLS): none was
    /// presented, or it was not one the registry accepts.
    ClientCertificateRefused { alert: String },
    /// The server answered the TLS ClientHello with something that is not TLS: plain HTTP.
    PlainHttpServer,
    /// Another TLS failure (alert, protocol version, client certificate refused).
    Tls { detail: String },
    /// Nothing listens on the port.
    Refused,
    /// The step's time ran out.
    Timeout { after_ms: u64 },
    /// The name does not resolve (`reserved`: answered locally, no query sent).
    Dns {
        name: String,
        detail: String,
        reserved: bool,
    },
    /// A redirect from HTTPS to plain HTTP, refused.
    Downgrade { location: String },
    /// More redirects than the probe follows.
    TooManyRedirects,
    /// The head arrived, then the connection broke before the body ended (a reset or early
    /// close mid-body): a truncated response, what a failing registry or proxy sends.
    Truncated { detail: String },
    /// The connection broke for another reason.
    Other { detail: String },
}

impl Failure {
    /// The taxonomy cause this failure proves.
    pub fn cause(&self) -> Cause {
        match self {
            Failure::UnknownAuthority => Cause::TlsUnknownAuthority,
            Failure::NameMismatch { .. } => Cause::TlsHostnameMismatch,
            Failure::Expired { .. } | Failure::NotYetValid { .. } => Cause::TlsExpired,
            Failure::PlainHttpServer => Cause::HttpToHttps,
            Failure::Refused | Failure::Timeout { .. } => Cause::NetworkUnreachable,
            Failure::Dns { .. } => Cause::DnsFailure,
            Failure::Truncated { .. } => Cause::RegistryServerError,
            Failure::BadCertificate { .. }
            | Failure::ClientCertificateRefused { .. }
            | Failure::Tls { .. }
            | Failure::Downgrade { .. }
            | Failure::TooManyRedirects
            | Failure::Other { .. } => Cause::Unknown,
        }
    }

    /// True for failures that leave the TLS handshake's outcome unknown: nothing answered, the
    /// time ran out, or the connection broke for a reason not TLS's.
    pub fn before_tls(&self) -> bool {
        matches!(
            self,
            Failure::Refused
                | Failure::Timeout { .. }
                | Failure::Dns { .. }
                | Failure::Other { .. }
        )
    }

    /// True for failures of the TLS handshake.
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            Failure::UnknownAuthority
                | Failure::NameMismatch { .. }
                | Failure::Expired { .. }
                | Failure::NotYetValid { .. }
                | Failure::BadCertificate { .. }
                | Failure::ClientCertificateRefused { .. }
                | Failure::Tls { .. }
        )
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        match self {
            Failure::UnknownAuthority => {
                "certificate signed by an unknown authority (the chain reaches no trusted root)"
                    .into()
            }
            Failure::NameMismatch {
                expected,
                presented,
            } if expected.parse::<std::net::IpAddr>().is_ok()
                && presented.iter().any(|p| p == expected) =>
            {
                format!(
                    "certificate names {expected} only as a DNS name; an address needs an IP SAN \
                     (subjectAltName IP:{expected}), which the node's TLS stack requires when it \
                     connects by IP"
                )
            }
            Failure::NameMismatch {
                expected,
                presented,
            } => format!(
                "certificate is valid for {}, not {expected}",
                if presented.is_empty() {
                    "no names".to_string()
                } else {
                    presented.join(", ")
                }
            ),
            Failure::Expired { now, not_after } => {
                format!("certificate expired at {not_after} (now {now})")
            }
            Failure::NotYetValid { now, not_before } => {
                format!("certificate not valid before {not_before} (now {now})")
            }
            Failure::BadCertificate { detail } => format!("certificate rejected: {detail}"),
            Failure::ClientCertificateRefused { alert } => format!(
                "the registry refused the client certificate ({alert}): it wants mutual TLS with \
                 a certificate it trusts (the node's client pair: certs.d client.cert/client.key \
                 or hosts.toml client)"
            ),
            Failure::PlainHttpServer => {
                "the server answered TLS with plain HTTP: it is a plain-HTTP port".into()
            }
            Failure::Tls { detail } => format!("TLS handshake failed: {detail}"),
            Failure::Refused => "connection refused: nothing listens on that port".into(),
            Failure::Timeout { after_ms } => format!("no answer within {after_ms} ms"),
            Failure::Dns { name, detail, .. } => format!("{name} does not resolve: {detail}"),
            Failure::Downgrade { location } => {
                format!("redirect to plain HTTP refused: {location}")
            }
            Failure::TooManyRedirects => "too many redirects".into(),
            Failure::Truncated { detail } => format!("the response broke off mid-body: {detail}"),
            Failure::Other { detail } => detail.clone(),
        }
    }
}

/// Classifies a reqwest error by walking its whole chain.
pub fn classify(err: &reqwest::Error, timeout_ms: u64) -> Failure {
    classify_dyn(err, err.is_timeout(), timeout_ms)
}

/// Classifies any error chain (`timed_out` when the caller already knows it timed out).
pub fn classify_dyn(err: &(dyn StdError + 'static), timed_out: bool, timeout_ms: u64) -> Failure {
    let mut found: Option<Failure> = None;
    let mut refused = false;
    let mut io_timeout = false;
    walk(err, 0, &mut |e| {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            found = Some(from_rustls(r));
            return true;
        }
        if let Some(d) = e.downcast_ref::<DnsError>() {
            found = Some(Failure::Dns {
                name: d.name.clone(),
                detail: d.reason.clone(),
                reserved: d.reserved,
            });
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => refused = true,
                std::io::ErrorKind::TimedOut => io_timeout = true,
                _ => {}
            }
        }
        false
    });
    if let Some(f) = found {
        return f;
    }
    if refused {
        return Failure::Refused;
    }
    if timed_out || io_timeout {
        return Failure::Timeout {
            after_ms: timeout_ms,
        };
    }
    Failure::Other {
        detail: chain_text(err),
    }
}

/// Visits every link; `io::Error` links are also opened with `get_ref`. Stops when `f` says so.
fn walk<'a>(
    e: &'a (dyn StdError + 'static),
    depth: usize,
    f: &mut dyn FnMut(&'a (dyn StdError + 'static)) -> bool,
) -> bool {
    if depth > 16 {
        return false;
    }
    if f(e) {
        return true;
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        let inner: &(dyn StdError + 'static) = inner;
        if walk(inner, depth + 1, f) {
            return true;
        }
    }
    match e.source() {
        Some(s) => walk(s, depth + 1, f),
        None => false,
    }
}

/// The chain as one line, for failures no variant describes.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    walk(err, 0, &mut |e| {
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        false
    });
    parts.join(": ")
}

fn from_rustls(e: &rustls::Error) -> Failure {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            // A trusted CA with the issuer's name but another key (a rotated or re-made CA)
            // fails the signature check; Go's crypto/x509, which the node runs, calls that
            // "certificate signed by unknown authority" too.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                Failure::UnknownAuthority
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => Failure::NameMismatch {
                expected: server_name(expected),
                presented: presented.iter().map(|p| bare_name(p)).collect(),
            },
            CertificateError::NotValidForName => Failure::NameMismatch {
                expected: String::new(),
                presented: Vec::new(),
            },
            CertificateError::ExpiredContext { time, not_after } => Failure::Expired {
                now: rfc3339(time.as_secs() as i64),
                not_after: rfc3339(not_after.as_secs() as i64),
            },
            CertificateError::Expired => Failure::Expired {
                now: String::new(),
                not_after: String::new(),
            },
            CertificateError::NotValidYetContext { time, not_before } => Failure::NotYetValid {
                now: rfc3339(time.as_secs() as i64),
                not_before: rfc3339(not_before.as_secs() as i64),
            },
            CertificateError::NotValidYet => Failure::NotYetValid {
                now: String::new(),
                not_before: String::new(),
            },
            other => Failure::BadCertificate {
                detail: format!("{other:?}"),
            },
        },
        rustls::Error::AlertReceived(
            a @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown),
        ) => Failure::ClientCertificateRefused {
            alert: format!("{a:?}"),
        },
        rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType) => {
            Failure::PlainHttpServer
        }
        other => Failure::Tls {
            detail: other.to_string(),
        },
    }
}

/// rustls prints presented names as `DnsName("reg.test")` or `IpAddress(127.0.0.1)`; keep
/// the name itself, as Go's x509 message shows it.
fn bare_name(p: &str) -> String {
    match (p.find('('), p.strip_suffix(')')) {
        (Some(open), Some(inner)) => inner[open + 1..].trim_matches('"').to_string(),
        _ => p.to_string(),
    }
}

fn server_name(n: &rustls_pki_types::ServerName<'_>) -> String {
    match n {
        rustls_pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls_pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_breaks_off_is_the_registrys_fault() {
        let f = Failure::Truncated {
            detail: "Connection reset by peer (os error 104)".into(),
        };
        assert_eq!(f.cause(), Cause::RegistryServerError);
        assert!(f.describe().contains("mid-body"), "{}", f.describe());
    }

    #[test]
    fn finds_rustls_error_inside_nested_io_errors() {
        let inner = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let outer = std::io::Error::other(inner);
        assert_eq!(classify_dyn(&outer, false, 0), Failure::UnknownAuthority);
        let same_name_other_key = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::BadSignature),
        );
        assert_eq!(
            classify_dyn(&same_name_other_key, false, 0),
            Failure::UnknownAuthority
        );
        let plain = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType),
        ));
        assert_eq!(classify_dyn(&plain, false, 0), Failure::PlainHttpServer);
        assert_eq!(bare_name("DnsName(\"reg.test\")"), "reg.test");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("reg.test"), "reg.test");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_dyn(&refused, false, 0), Failure::Refused);
        let other = std::io::Error::other("boom");
        assert_eq!(
            classify_dyn(&other, true, 5),
            Failure::Timeout { after_ms: 5 }
        );
    }
}
