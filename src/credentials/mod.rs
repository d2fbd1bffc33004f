//! Pure: pull secrets decoded and matched to images exactly as kubelet's keyring does, with every
//! near miss explained.
//!
//! For one image and one pod this answers: which `(secret, key)` credentials would kubelet try,
//! in which order, or would it pull anonymously, and if the pull fails for want of credentials,
//! why none reached it. Kubelet's rules (kubernetes `pkg/credentialprovider/keyring.go`,
//! `config.go`, `secrets/secrets.go`, `pkg/kubelet/kubelet_pods.go` `getPullSecretsForPod`, and
//! the ServiceAccount admission plugin,
//! <https://github.com/kubernetes/kubernetes/tree/master/pkg/credentialprovider>) are summarised
//! in `docs/internals/kubelet-credentials.md`; each submodule reproduces one part:
//! [`dockerconfig`] (with `auth` and `json`) the decoding, [`keyring`] (on `goparse`, Go's URL
//! and glob rules) the matching and order, `secrets` which Secret objects kubelet reads, [`pod`]
//! which secrets a pod carries, `nearmiss` the credential that would have worked.
//! Passwords, `auth` values and tokens only ever live in [`Redacted`]; a key's userinfo is
//! stripped before it is shown. Node-level
//! credentials (kubelet's own `config.json`, credential-provider plugins) are not visible here;
//! kubelet tries them after the pod's.

mod auth;
pub mod dockerconfig;
pub mod findings;
mod gathered;
mod goparse;
mod json;
pub mod keyring;
mod nearmiss;
pub mod pod;
mod secrets;

pub use dockerconfig::{DockerConfig, Format};
pub use findings::{Finding, FindingId, Severity};
pub use gathered::{Fetched, PodSecrets};
pub use pod::for_image;

use crate::redacted::Redacted;
use crate::reference::ImageRef;
use crate::registry::Puller;
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// One credential kubelet would try for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Where it came from: `secret shop/regcred`, `--authfile`, `--creds`.
    pub source: String,
    /// The docker config key that matched, as written in the secret or file.
    pub key: String,
    /// The username (may be shown).
    pub username: String,
    /// The password; never shown.
    pub password: Redacted,
}

// By hand, as `Redacted` has no `Hash`: lets callers de-duplicate probes per credential set.
impl std::hash::Hash for Credential {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.source.hash(state);
        self.key.hash(state);
        self.username.hash(state);
        self.password.expose().hash(state);
    }
}

// By hand, so the password cannot be serialised even by mistake.
impl Serialize for Credential {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Credential", 3)?;
        st.serialize_field("source", &self.source)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("username", &self.username)?;
        st.end()
    }
}

/// What kubelet would do about credentials for one image, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageCredentials {
    /// The image as written in the pod spec or on the command line.
    pub image: String,
    /// Credentials in the order kubelet tries them (each until one works).
    pub tries: Vec<Credential>,
    /// True when no credential matched, so kubelet makes one anonymous pull.
    pub anonymous: bool,
    /// Near misses and explanations, most severe first.
    pub findings: Vec<Finding>,
}

impl ImageCredentials {
    /// The finding that makes kubelet fail the pull before contacting the registry, if any.
    ///
    /// A JSON or `auth` decoding error in *any* of the pod's pull secrets fails kubelet's
    /// keyring (`MakeDockerKeyring` returns the error), so `tries` is empty and `anonymous`
    /// false: there is no pull at all.
    pub fn blocking(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id.breaks_keyring())
    }

    /// Findings sorted most severe first, keeping discovery order within a severity.
    fn sorted(mut self) -> ImageCredentials {
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self
    }
}

/// Credentials for an image from one docker `config.json` (the `pulldoctor image` CI path).
///
/// The file's `auths` are matched by the same keyring rules as a pod's secrets; `source_label`
/// names the file in `Credential::source` and in findings. Credential helpers are run by
/// `crate::authfile`, which then calls this for the entries in the file itself.
pub fn for_image_from_config(
    config: &DockerConfig,
    source_label: &str,
    image: &ImageRef,
) -> ImageCredentials {
    let mut ring = keyring::Keyring::default();
    let mut findings = config.findings.clone();
    for entry in &config.entries {
        let cred = Credential {
            source: source_label.to_string(),
            key: findings::strip_userinfo(&entry.key),
            username: entry.username.clone(),
            password: entry.password.clone(),
        };
        if let Err(why) = ring.add(&entry.key, cred) {
            findings.push(nearmiss::key_invalid(
                source_label,
                &entry.key,
                &why,
                Puller::Ci,
            ));
        }
    }
    let found = ring.lookup(&image.name());
    let broken = config.breaks_keyring();
    if found.docker_hub_fallback && !broken {
        findings.push(nearmiss::hub_fallback(source_label, image, Puller::Ci));
    }
    let tries: Vec<Credential> = if broken {
        Vec::new()
    } else {
        found.items.into_iter().map(|(_, c)| c).collect()
    };
    if tries.is_empty() && !broken {
        let keys: Vec<&str> = config.entries.iter().map(|e| e.key.as_str()).collect();
        findings.extend(nearmiss::closest_miss(
            source_label,
            &keys,
            image,
            Puller::Ci,
        ));
    }
    ImageCredentials {
        image: image.original.clone(),
        anonymous: tries.is_empty() && !broken,
        tries,
        findings,
    }
    .sorted()
}

#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod redaction_tests;
