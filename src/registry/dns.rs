//! Name resolution for the probe: reserved names answered locally, the rest by the system.
//!
//! RFC 6761 (<https://www.rfc-editor.org/rfc/rfc6761>) §6.4 asks resolvers to answer names under `.invalid` negatively without querying
//! anyone, and §6.2 lets them do the same for `.test`; `localhost` (§6.3) is loopback. A node's
//! resolver may forward such names anyway, so pulldoctor answers them itself: a fixture that
//! names `registry.invalid` never leaks a query. Every failure is a [`DnsError`], so the
//! classifier can tell "does not resolve" from a refused connection by type. A host named by
//! `--resolve` ([`crate::trust::Pin`]) is answered with its pinned address and never looked up:
//! the URL keeps the name, so SNI, the certificate check and `Host:` still use it (curl's
//! `--resolve`).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a name did not resolve.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{name} does not resolve: {reason}")]
pub struct DnsError {
    pub name: String,
    pub reason: String,
    /// True when the name was answered locally (RFC 6761), with no query sent.
    pub reserved: bool,
}

/// The probe's resolver: `--resolve` pins first, then reserved names, then the system.
#[derive(Debug, Clone, Default)]
pub struct SafeResolver {
    pins: Arc<Vec<crate::trust::Pin>>,
}

impl SafeResolver {
    /// A resolver that answers the pinned hosts with their addresses.
    pub fn pinned(pins: &[crate::trust::Pin]) -> SafeResolver {
        SafeResolver {
            pins: Arc::new(pins.to_vec()),
        }
    }

    /// The pinned addresses for `host` (port 0: the URL's port is used), if it is pinned.
    ///
    /// A resolver is asked for a name only, never a port, so a pin answers for its host on
    /// any port the probe dials; the registry and its realm are on the ports the pins name.
    pub fn pinned_addrs(&self, host: &str) -> Option<Vec<SocketAddr>> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for p in self.pins.iter().filter(|p| p.is_for(host)) {
            let a = SocketAddr::new(p.addr, 0);
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        (!addrs.is_empty()).then_some(addrs)
    }
}

/// The RFC 6761 special-use domain a name falls under, when it must not be queried.
pub fn reserved_domain(host: &str) -> Option<&'static str> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    ["invalid", "test"]
        .into_iter()
        .find(|d| h == *d || h.ends_with(&format!(".{d}")))
}

/// Resolves `host` the probe's way (port 0; reqwest fills in the URL's port).
pub async fn resolve_host(host: &str) -> Result<Vec<SocketAddr>, DnsError> {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(domain) = reserved_domain(&h) {
        return Err(DnsError {
            name: h,
            reason: format!(
                "`.{domain}` is a special-use domain (RFC 6761): answered negatively without a query"
            ),
            reserved: true,
        });
    }
    if h == "localhost" || h.ends_with(".localhost") {
        return Ok(vec![
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
        ]);
    }
    let looked_up = tokio::net::lookup_host((h.as_str(), 0))
        .await
        .map(|addrs| addrs.collect::<Vec<SocketAddr>>());
    match looked_up {
        Ok(v) => {
            if v.is_empty() {
                Err(DnsError {
                    name: h,
                    reason: "no addresses".into(),
                    reserved: false,
                })
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(DnsError {
            name: h,
            reason: e.to_string(),
            reserved: false,
        }),
    }
}

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        if let Some(addrs) = self.pinned_addrs(&host) {
            tracing::debug!("resolve {host}: pinned by --resolve to {addrs:?}");
            return Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) });
        }
        Box::pin(async move {
            match resolve_host(&host).await {
                Ok(v) => Ok(Box::new(v.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        assert_eq!(reserved_domain("registry.invalid"), Some("invalid"));
        assert_eq!(reserved_domain("REG.Test."), Some("test"));
        assert_eq!(reserved_domain("invalid"), Some("invalid"));
        assert_eq!(reserved_domain("notinvalid"), None);
        assert_eq!(reserved_domain("registry.example.com"), None);
    }

    #[test]
    fn pins_answer_their_host_only() {
        let pins = [crate::trust::Pin::parse("auth.docker.io:443:127.0.0.9").unwrap()];
        let r = SafeResolver::pinned(&pins);
        let a = r.pinned_addrs("AUTH.docker.io").unwrap();
        assert_eq!(a, vec![SocketAddr::from(([127, 0, 0, 9], 0))]);
        assert!(r.pinned_addrs("docker.io").is_none());
        assert!(
            SafeResolver::default()
                .pinned_addrs("auth.docker.io")
                .is_none()
        );
    }

    #[tokio::test]
    async fn invalid_is_answered_locally_and_localhost_is_loopback() {
        let e = resolve_host("nowhere.invalid").await.unwrap_err();
        assert!(e.reserved);
        let a = resolve_host("localhost").await.unwrap();
        assert!(a.iter().all(|s| s.ip().is_loopback()));
    }
}
