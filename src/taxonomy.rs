//! The cause taxonomy: stable identifiers shared by every stage and by the JSON report.
//!
//! The ids are the contract with users' scripts (`cause` in `-o json`), so they never change
//! meaning; see `docs/` for one page per cause. The table mirrors the design's taxonomy.

use serde::{Deserialize, Serialize};

/// Why an image could not be pulled: the most specific cause the evidence supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    TlsUnknownAuthority,
    TlsHostnameMismatch,
    TlsExpired,
    HttpToHttps,
    AuthRequired,
    AuthInvalidCredentials,
    AuthForbidden,
    AuthOrNotFound,
    NotFoundTag,
    NotFoundRepo,
    NotFound,
    PlatformMismatch,
    RateLimited,
    DnsFailure,
    NetworkUnreachable,
    ProxyFailure,
    InvalidReference,
    NeverPull,
    SignatureFailed,
    RegistryBlocked,
    RegistryPolicy,
    PullSecretMissing,
    DiskFull,
    RegistryServerError,
    Unknown,
}

/// The family a cause belongs to: what kind of thing has to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Tls,
    Protocol,
    Auth,
    NotFound,
    Platform,
    Limits,
    Network,
    Reference,
    Policy,
    Secret,
    Node,
    Server,
    Other,
}

impl Cause {
    /// Every cause, in taxonomy order (the order of the design's table).
    pub const ALL: [Cause; 25] = [
        Cause::TlsUnknownAuthority,
        Cause::TlsHostnameMismatch,
        Cause::TlsExpired,
        Cause::HttpToHttps,
        Cause::AuthRequired,
        Cause::AuthInvalidCredentials,
        Cause::AuthForbidden,
        Cause::AuthOrNotFound,
        Cause::NotFoundTag,
        Cause::NotFoundRepo,
        Cause::NotFound,
        Cause::PlatformMismatch,
        Cause::RateLimited,
        Cause::DnsFailure,
        Cause::NetworkUnreachable,
        Cause::ProxyFailure,
        Cause::InvalidReference,
        Cause::NeverPull,
        Cause::SignatureFailed,
        Cause::RegistryBlocked,
        Cause::RegistryPolicy,
        Cause::PullSecretMissing,
        Cause::DiskFull,
        Cause::RegistryServerError,
        Cause::Unknown,
    ];

    /// The stable snake_case id used in JSON and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Cause::TlsUnknownAuthority => "tls_unknown_authority",
            Cause::TlsHostnameMismatch => "tls_hostname_mismatch",
            Cause::TlsExpired => "tls_expired",
            Cause::HttpToHttps => "http_to_https",
            Cause::AuthRequired => "auth_required",
            Cause::AuthInvalidCredentials => "auth_invalid_credentials",
            Cause::AuthForbidden => "auth_forbidden",
            Cause::AuthOrNotFound => "auth_or_not_found",
            Cause::NotFoundTag => "not_found_tag",
            Cause::NotFoundRepo => "not_found_repo",
            Cause::NotFound => "not_found",
            Cause::PlatformMismatch => "platform_mismatch",
            Cause::RateLimited => "rate_limited",
            Cause::DnsFailure => "dns_failure",
            Cause::NetworkUnreachable => "network_unreachable",
            Cause::ProxyFailure => "proxy_failure",
            Cause::InvalidReference => "invalid_reference",
            Cause::NeverPull => "never_pull",
            Cause::SignatureFailed => "signature_failed",
            Cause::RegistryBlocked => "registry_blocked",
            Cause::RegistryPolicy => "registry_policy",
            Cause::PullSecretMissing => "pull_secret_missing",
            Cause::DiskFull => "disk_full",
            Cause::RegistryServerError => "registry_server_error",
            Cause::Unknown => "unknown",
        }
    }

    /// The page of the repository's docs that explains this cause and its fixes.
    pub fn docs_page(self) -> String {
        format!("docs/causes/{}.md", self.id())
    }

    /// Parses a stable id back into a cause.
    pub fn from_id(id: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The family this cause belongs to.
    pub fn family(self) -> Family {
        use Cause::*;
        match self {
            TlsUnknownAuthority | TlsHostnameMismatch | TlsExpired => Family::Tls,
            HttpToHttps => Family::Protocol,
            AuthRequired | AuthInvalidCredentials | AuthForbidden | AuthOrNotFound => Family::Auth,
            NotFoundTag | NotFoundRepo | NotFound => Family::NotFound,
            PlatformMismatch => Family::Platform,
            RateLimited => Family::Limits,
            DnsFailure | NetworkUnreachable | ProxyFailure => Family::Network,
            InvalidReference => Family::Reference,
            NeverPull | SignatureFailed | RegistryBlocked | RegistryPolicy => Family::Policy,
            PullSecretMissing => Family::Secret,
            DiskFull => Family::Node,
            RegistryServerError => Family::Server,
            Unknown => Family::Other,
        }
    }

    /// True for the ids that text alone cannot settle; the probe decides between their options.
    pub fn is_ambiguous(self) -> bool {
        matches!(
            self,
            Cause::AuthOrNotFound | Cause::NotFound | Cause::Unknown
        )
    }

    /// A short human title, for tables.
    pub fn title(self) -> &'static str {
        match self {
            Cause::TlsUnknownAuthority => "certificate signed by an unknown authority",
            Cause::TlsHostnameMismatch => "certificate is for another name",
            Cause::TlsExpired => "certificate expired or not yet valid",
            Cause::HttpToHttps => "registry speaks plain HTTP",
            Cause::AuthRequired => "registry requires credentials",
            Cause::AuthInvalidCredentials => "credentials rejected",
            Cause::AuthForbidden => "authenticated but not allowed",
            Cause::AuthOrNotFound => "access denied or repository missing",
            Cause::NotFoundTag => "tag or digest not found",
            Cause::NotFoundRepo => "repository not found",
            Cause::NotFound => "image not found",
            Cause::PlatformMismatch => "no image for the node's platform",
            Cause::RateLimited => "rate limited by the registry",
            Cause::DnsFailure => "registry host does not resolve",
            Cause::NetworkUnreachable => "registry unreachable",
            Cause::ProxyFailure => "proxy setting wrong or proxy refusing",
            Cause::InvalidReference => "invalid image reference",
            Cause::NeverPull => "pull policy Never and image absent",
            Cause::SignatureFailed => "signature or policy check failed",
            Cause::RegistryBlocked => "registry blocked by the node's configuration",
            Cause::RegistryPolicy => "registry's policy refuses the image",
            Cause::PullSecretMissing => "pull secret could not be read",
            Cause::DiskFull => "node out of disk space",
            Cause::RegistryServerError => "registry server error",
            Cause::Unknown => "unrecognised failure",
        }
    }
}

impl Family {
    /// The stable snake_case id of the family.
    pub fn id(self) -> &'static str {
        match self {
            Family::Tls => "tls",
            Family::Protocol => "protocol",
            Family::Auth => "auth",
            Family::NotFound => "not_found",
            Family::Platform => "platform",
            Family::Limits => "limits",
            Family::Network => "network",
            Family::Reference => "reference",
            Family::Policy => "policy",
            Family::Secret => "secret",
            Family::Node => "node",
            Family::Server => "server",
            Family::Other => "other",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The container runtime whose wording a message uses, or that a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    Docker,
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    #[default]
    Unknown,
}

impl Runtime {
    /// Reads `node.status.nodeInfo.containerRuntimeVersion` (`containerd://1.7.2`, `docker://24.0`,
    /// `cri-o://1.29.1`).
    pub fn from_runtime_version(version: &str) -> Runtime {
        let scheme = version
            .split("://")
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match scheme.as_str() {
            "docker" => Runtime::Docker,
            "containerd" => Runtime::Containerd,
            "cri-o" | "crio" => Runtime::CriO,
            _ => Runtime::Unknown,
        }
    }

    /// The stable id used in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_serde() {
        for cause in Cause::ALL {
            assert_eq!(Cause::from_id(cause.id()), Some(cause));
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{}\"", cause.id()));
        }
    }

    #[test]
    fn every_cause_has_its_docs_page() {
        for cause in Cause::ALL {
            let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(cause.docs_page());
            assert!(page.is_file(), "{} is missing", page.display());
        }
    }

    #[test]
    fn runtime_from_node_info() {
        assert_eq!(
            Runtime::from_runtime_version("containerd://1.7.2"),
            Runtime::Containerd
        );
        assert_eq!(
            Runtime::from_runtime_version("docker://20.10.7"),
            Runtime::Docker
        );
        assert_eq!(
            Runtime::from_runtime_version("cri-o://1.29.1"),
            Runtime::CriO
        );
        assert_eq!(Runtime::from_runtime_version("rkt://1"), Runtime::Unknown);
        assert_eq!(serde_json::to_string(&Runtime::CriO).unwrap(), "\"cri-o\"");
    }
}
