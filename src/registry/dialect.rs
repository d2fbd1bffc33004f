//! Which registry is answering, by host name (or its token realm), and what its answers can
//! tell apart.
//!
//! The big registries speak the same distribution protocol
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>) but word failures
//! their own way, and several answer a repository that does not exist exactly as they answer
//! one that exists but is private to someone else: Docker Hub hands out a token that silently
//! drops `pull` and then says 401 `insufficient_scope`; GHCR, Quay, GitLab and Harbor refuse
//! both alike; Artifact Registry says "denied … (or it may not exist)". ECR, ECR Public and
//! ACR say `NAME_UNKNOWN` to a caller who may look. The table here is what the verdict leans on to
//! claim no more than the answer supports.

/// A registry family, recognised by host pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `docker.io`, `registry-1.docker.io`, `index.docker.io` (token realm `auth.docker.io`).
    DockerHub,
    /// `ghcr.io`.
    Ghcr,
    /// `quay.io`.
    Quay,
    /// `<account>.dkr.ecr.<region>.amazonaws.com(.cn)`.
    Ecr,
    /// `public.ecr.aws`.
    EcrPublic,
    /// `<region>-docker.pkg.dev`.
    ArtifactRegistry,
    /// `gcr.io`, `<region>.gcr.io`.
    Gcr,
    /// `<name>.azurecr.io` (and the sovereign clouds' `azurecr.cn`, `azurecr.us`).
    Acr,
    /// `registry.gitlab.com`.
    GitLab,
    /// Harbor, known by its token realm `…/service/token`.
    Harbor,
    /// Anything else: the CNCF distribution registry and registries that behave like it.
    Distribution,
}

/// How a registry answers a pull of a repository that does not exist, from a caller it would
/// refuse a private repository too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingRepo {
    /// Exactly like a private repository: the answer cannot tell the two apart.
    LikePrivate,
    /// With `NAME_UNKNOWN` (or a 404) to a caller allowed to look: a refusal means a refusal.
    Distinct,
}

impl Dialect {
    /// Recognises a registry by the host an image names (or its API host), and for Harbor by
    /// the realm of its Bearer challenge.
    pub fn detect(host: &str, realm: Option<&str>) -> Dialect {
        let h = host
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let by_host = match h.as_str() {
            "docker.io" | "registry-1.docker.io" | "index.docker.io" | "registry.docker.io" => {
                Some(Dialect::DockerHub)
            }
            "ghcr.io" => Some(Dialect::Ghcr),
            "quay.io" => Some(Dialect::Quay),
            "public.ecr.aws" => Some(Dialect::EcrPublic),
            "registry.gitlab.com" => Some(Dialect::GitLab),
            "gcr.io" => Some(Dialect::Gcr),
            _ if is_ecr(&h) => Some(Dialect::Ecr),
            _ if h.ends_with("-docker.pkg.dev") => Some(Dialect::ArtifactRegistry),
            _ if h.ends_with(".gcr.io") => Some(Dialect::Gcr),
            _ if [".azurecr.io", ".azurecr.cn", ".azurecr.us"]
                .iter()
                .any(|s| h.ends_with(s)) =>
            {
                Some(Dialect::Acr)
            }
            _ => None,
        };
        by_host.unwrap_or_else(|| {
            let harbor = realm.is_some_and(|r| {
                url::Url::parse(r).is_ok_and(|u| u.path().trim_end_matches('/') == "/service/token")
            });
            if harbor {
                Dialect::Harbor
            } else {
                Dialect::Distribution
            }
        })
    }

    /// The registry's name as its users know it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DockerHub => "Docker Hub",
            Dialect::Ghcr => "GitHub Container Registry",
            Dialect::Quay => "Quay",
            Dialect::Ecr => "Amazon ECR",
            Dialect::EcrPublic => "Amazon ECR Public",
            Dialect::ArtifactRegistry => "Artifact Registry",
            Dialect::Gcr => "Container Registry (gcr.io)",
            Dialect::Acr => "Azure Container Registry",
            Dialect::GitLab => "GitLab's container registry",
            Dialect::Harbor => "Harbor",
            Dialect::Distribution => "the registry",
        }
    }

    /// True for a registry this table knows by name (not the generic distribution case).
    pub fn is_known(self) -> bool {
        self != Dialect::Distribution
    }

    /// How it answers a missing repository (see [`MissingRepo`]).
    pub fn missing_repo(self) -> MissingRepo {
        match self {
            Dialect::DockerHub
            | Dialect::Ghcr
            | Dialect::Quay
            | Dialect::GitLab
            | Dialect::Harbor
            | Dialect::ArtifactRegistry
            | Dialect::Gcr => MissingRepo::LikePrivate,
            // Every ECR Public repository is public: its anonymous token reaches them all.
            Dialect::Ecr | Dialect::EcrPublic | Dialect::Acr | Dialect::Distribution => {
                MissingRepo::Distinct
            }
        }
    }

    /// Why its refusal cannot tell a missing repository from a private one, for the evidence.
    pub fn like_private_why(self) -> String {
        let how = match self {
            Dialect::DockerHub => {
                ": its token silently drops the pull action and the manifest answers 401 insufficient_scope either way"
            }
            Dialect::Ghcr => ": it refuses both with DENIED",
            Dialect::ArtifactRegistry | Dialect::Gcr => {
                ": it answers \"denied … (or it may not exist)\" to both"
            }
            Dialect::Quay | Dialect::GitLab | Dialect::Harbor => ": it refuses both alike",
            _ => "",
        };
        format!(
            "{} answers a missing repository exactly like a private one{how}",
            self.name()
        )
    }
}

/// `<12 digits>.dkr.ecr.<region>.amazonaws.com` or `.amazonaws.com.cn` (FIPS hosts too).
pub fn is_ecr(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    let Some(rest) = h
        .strip_suffix(".amazonaws.com")
        .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let mut parts = rest.split('.');
    let account = parts.next().unwrap_or("");
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && matches!(parts.next(), Some("dkr"))
        && matches!(parts.next(), Some("ecr" | "ecr-fips"))
        && parts.next().is_some_and(|region| !region.is_empty())
        && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_recognised_by_pattern() {
        let d = |h: &str| Dialect::detect(h, None);
        assert_eq!(d("docker.io"), Dialect::DockerHub);
        assert_eq!(d("registry-1.docker.io"), Dialect::DockerHub);
        assert_eq!(d("ghcr.io"), Dialect::Ghcr);
        assert_eq!(d("quay.io"), Dialect::Quay);
        assert_eq!(
            d("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            Dialect::Ecr
        );
        assert_eq!(
            d("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            Dialect::Ecr
        );
        assert_eq!(
            d("12345.dkr.ecr.us-east-1.amazonaws.com"),
            Dialect::Distribution
        );
        assert_eq!(d("public.ecr.aws"), Dialect::EcrPublic);
        assert_eq!(d("us-docker.pkg.dev"), Dialect::ArtifactRegistry);
        assert_eq!(d("europe-west1-docker.pkg.dev"), Dialect::ArtifactRegistry);
        assert_eq!(d("gcr.io"), Dialect::Gcr);
        assert_eq!(d("eu.gcr.io"), Dialect::Gcr);
        assert_eq!(d("myregistry.azurecr.io"), Dialect::Acr);
        assert_eq!(d("registry.gitlab.com"), Dialect::GitLab);
        assert_eq!(d("127.0.0.1:5000"), Dialect::Distribution);
        assert_eq!(d("notgcr.io"), Dialect::Distribution);
    }

    #[test]
    fn harbor_is_known_by_its_realm() {
        let realm = Some("https://demo.goharbor.io/service/token");
        assert_eq!(Dialect::detect("demo.goharbor.io", realm), Dialect::Harbor);
        let other = Some("https://reg.test/auth/token");
        assert_eq!(Dialect::detect("reg.test", other), Dialect::Distribution);
    }

    #[test]
    fn the_ambiguity_is_worded_per_registry() {
        let w = Dialect::DockerHub.like_private_why();
        assert!(
            w.starts_with("Docker Hub answers a missing repository exactly like a private one")
        );
        assert_eq!(Dialect::Ecr.missing_repo(), MissingRepo::Distinct);
        assert_eq!(Dialect::Ghcr.missing_repo(), MissingRepo::LikePrivate);
    }
}
