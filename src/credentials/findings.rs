//! Findings: every near miss between a pod's pull secrets and an image, as a stable id.
//!
//! A finding says what kubelet does with a secret that pulldoctor can see is wrong, so the
//! diagnosis can say "your secret exists, but…" instead of "401". The ids are part of the JSON
//! schema and never change meaning; the message is one line for people and never holds a secret
//! value (only names, keys, sizes and positions). The kubelet behaviour behind each id is in
//! `docs/internals/kubelet-credentials.md` and kubernetes' `pkg/credentialprovider`
//! (<https://github.com/kubernetes/kubernetes/tree/master/pkg/credentialprovider>).

use serde::Serialize;

/// How much a finding matters for the pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Explains what kubelet does; nothing is wrong by itself.
    Info,
    /// Probably why the pull fails, or will fail on the next rollout.
    Warning,
    /// Kubelet cannot use this credential, or fails the pull outright.
    Error,
}

/// What a finding is about. Serialised as a stable snake_case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingId {
    // --- references and reading ---
    /// The pod names a pull secret that does not exist in its namespace.
    SecretNotFound,
    /// pulldoctor was refused (RBAC) reading a secret; kubelet may still read it.
    SecretForbidden,
    /// The secret was not read at all, so nothing can be said about it.
    SecretNotRead,
    /// An `imagePullSecrets` entry with an empty name; kubelet skips it.
    EmptySecretReference,
    /// The pod lists the same secret twice; kubelet tries its credentials twice.
    DuplicateSecretReference,
    /// A secret of the referenced name, or one matching the image, lives in another namespace.
    SecretInOtherNamespace,
    // --- type, data key, body ---
    /// The secret's type is not a docker type (e.g. `Opaque`); kubelet ignores it silently.
    WrongType,
    /// Docker type, but the data key kubelet reads is missing or empty.
    WrongDataKey,
    /// The docker config is not JSON; kubelet fails every pull of the pod.
    UnparsableJson,
    /// Valid JSON with a value of the wrong type (a number for `username`, an array for
    /// `auths`…); kubelet's decoder fails, and with it every pull of the pod.
    WrongJsonType,
    /// A flat `.dockercfg` body inside a `kubernetes.io/dockerconfigjson` secret: no credentials.
    DockercfgInDockerconfigjson,
    /// An `{"auths": …}` body inside a `kubernetes.io/dockercfg` secret: no usable credentials.
    DockerconfigjsonInDockercfg,
    /// The same JSON key appears twice in one object; the last one wins.
    DuplicateJsonKey,
    /// A value larger than any real credential; probably not what was meant.
    HugeValue,
    /// The file names `credsStore`/`credHelpers`: the passwords live in a helper elsewhere.
    CredentialHelperOnly,
    // --- entries ---
    /// `auth` is not base64; kubelet fails every pull of the pod.
    AuthNotBase64,
    /// `auth` decodes to text without a `:`; kubelet fails every pull of the pod.
    AuthNoColon,
    /// The credential ends in a newline (made with `echo user:pass | base64`).
    TrailingNewline,
    /// `username`/`password` and `auth` disagree; kubelet uses `auth`.
    AuthDisagrees,
    /// An entry with no username, password or auth: kubelet sends empty credentials.
    EmptyCredentials,
    /// Only `identitytoken`/`registrytoken`, which kubelet ignores.
    TokenIgnored,
    /// A registry key kubelet cannot parse as a URL; it skips the entry.
    KeyInvalid,
    /// Two keys of one secret normalise to the same registry; their order is random in kubelet.
    KeyNormalisesTwice,
    /// A key's host label is a malformed glob pattern; it never matches.
    KeyBadGlob,
    // --- matching ---
    /// The closest key differs from the image's registry only by port.
    KeyPortMismatch,
    /// The closest key is for another host.
    KeyHostMismatch,
    /// The key's host matches but its path is not a prefix of the image's repository.
    KeyPathMismatch,
    /// The key has a scheme kubelet does not strip (`oci://`, `docker://`, `HTTPS://`).
    KeySchemeUnsupported,
    /// The key is `registry-1.docker.io`, which kubelet never matches to a Docker Hub image.
    KeyDockerHubApiHost,
    /// The image got Docker Hub credentials through the `index.docker.io` fallback.
    DockerHubFallback,
    /// A secret in the namespace would match the image but the pod does not reference it.
    UnreferencedMatchingSecret,
    // --- service account ---
    /// The service account lists a pull secret the pod does not carry.
    ServiceAccountSecretNotInPod,
    /// `kubernetes.io/enforce-mountable-secrets` excludes a secret the pod uses or needs.
    EnforceMountableSecrets,
    /// The pod's service account could not be read or does not exist.
    ServiceAccountUnreadable,
    // --- CI path ---
    /// A credential helper could not be run or gave no usable answer.
    CredentialHelperFailed,
}

impl FindingId {
    /// The stable snake_case id, as in the JSON output.
    pub fn as_str(self) -> &'static str {
        use FindingId::*;
        match self {
            SecretNotFound => "secret_not_found",
            SecretForbidden => "secret_forbidden",
            SecretNotRead => "secret_not_read",
            EmptySecretReference => "empty_secret_reference",
            DuplicateSecretReference => "duplicate_secret_reference",
            SecretInOtherNamespace => "secret_in_other_namespace",
            WrongType => "wrong_type",
            WrongDataKey => "wrong_data_key",
            UnparsableJson => "unparsable_json",
            WrongJsonType => "wrong_json_type",
            DockercfgInDockerconfigjson => "dockercfg_in_dockerconfigjson",
            DockerconfigjsonInDockercfg => "dockerconfigjson_in_dockercfg",
            DuplicateJsonKey => "duplicate_json_key",
            HugeValue => "huge_value",
            CredentialHelperOnly => "credential_helper_only",
            AuthNotBase64 => "auth_not_base64",
            AuthNoColon => "auth_no_colon",
            TrailingNewline => "trailing_newline",
            AuthDisagrees => "auth_disagrees",
            EmptyCredentials => "empty_credentials",
            TokenIgnored => "token_ignored",
            KeyInvalid => "key_invalid",
            KeyNormalisesTwice => "key_normalises_twice",
            KeyBadGlob => "key_bad_glob",
            KeyPortMismatch => "key_port_mismatch",
            KeyHostMismatch => "key_host_mismatch",
            KeyPathMismatch => "key_path_mismatch",
            KeySchemeUnsupported => "key_scheme_unsupported",
            KeyDockerHubApiHost => "key_docker_hub_api_host",
            DockerHubFallback => "docker_hub_fallback",
            UnreferencedMatchingSecret => "unreferenced_matching_secret",
            ServiceAccountSecretNotInPod => "service_account_secret_not_in_pod",
            EnforceMountableSecrets => "enforce_mountable_secrets",
            ServiceAccountUnreadable => "service_account_unreadable",
            CredentialHelperFailed => "credential_helper_failed",
        }
    }

    /// True when kubelet's keyring construction fails on this, so every pull of the pod fails
    /// before the registry is contacted (`MakeDockerKeyring` returns the decode error).
    pub fn breaks_keyring(self) -> bool {
        matches!(
            self,
            FindingId::UnparsableJson
                | FindingId::WrongJsonType
                | FindingId::AuthNotBase64
                | FindingId::AuthNoColon
        )
    }

    /// The default severity of this kind of finding.
    pub fn severity(self) -> Severity {
        use FindingId::*;
        match self {
            UnparsableJson
            | WrongJsonType
            | AuthNotBase64
            | AuthNoColon
            | WrongType
            | WrongDataKey
            | DockercfgInDockerconfigjson
            | DockerconfigjsonInDockercfg
            | SecretNotFound
            | KeySchemeUnsupported
            | KeyDockerHubApiHost
            | KeyPortMismatch
            | KeyPathMismatch
            | TrailingNewline
            | CredentialHelperFailed => Severity::Error,
            SecretForbidden
            | SecretNotRead
            | AuthDisagrees
            | EmptyCredentials
            | TokenIgnored
            | KeyInvalid
            | KeyBadGlob
            | KeyHostMismatch
            | UnreferencedMatchingSecret
            | ServiceAccountSecretNotInPod
            | EnforceMountableSecrets
            | SecretInOtherNamespace
            | CredentialHelperOnly
            | HugeValue => Severity::Warning,
            EmptySecretReference
            | DuplicateSecretReference
            | DuplicateJsonKey
            | KeyNormalisesTwice
            | DockerHubFallback
            | ServiceAccountUnreadable => Severity::Info,
        }
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One near miss: which secret and key, and a one-line explanation without any secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id.
    pub id: FindingId,
    /// How much it matters (usually `id.severity()`, lowered when other credentials matched).
    pub severity: Severity,
    /// `namespace/name` of the secret involved, or the file label on the CI path.
    pub secret: Option<String>,
    /// The docker config key involved, as written.
    pub key: Option<String>,
    /// One line for people.
    pub message: String,
}

impl Finding {
    /// A finding with the id's default severity.
    pub fn new(id: FindingId, message: impl Into<String>) -> Finding {
        Finding {
            id,
            severity: id.severity(),
            secret: None,
            key: None,
            message: message.into(),
        }
    }

    /// Names the secret (or file) the finding is about.
    pub fn secret(mut self, secret: impl Into<String>) -> Finding {
        self.secret = Some(secret.into());
        self
    }

    /// Names the docker config key the finding is about.
    pub fn key(mut self, key: impl Into<String>) -> Finding {
        self.key = Some(shown_key(&key.into()));
        self
    }

    /// Overrides the default severity.
    pub fn severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }
}

/// A docker config key with any `user:password@` removed, as it may be shown.
///
/// Kubelet parses keys as URLs and drops their userinfo, so a key written
/// `https://user:pw@reg.test` still works; its password must not reach a report.
pub fn strip_userinfo(key: &str) -> String {
    match key_userinfo(key) {
        Some(info) => {
            let start = scheme_len(key);
            format!(
                "{}(redacted)@{}",
                &key[..start],
                &key[start + info.len() + 1..]
            )
        }
        None => key.to_string(),
    }
}

/// The `user:password` of a key, when it has one.
///
/// A password written unescaped may hold `/`, `?` or `#`, which end the authority for a URL
/// parser (`https://u:pa/ss@reg.test`) but not for the person who wrote it: an `@` further on,
/// with a `:` before it, still ends userinfo.
pub fn key_userinfo(key: &str) -> Option<&str> {
    let rest = &key[scheme_len(key)..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some(at) = rest[..end].rfind('@') {
        return Some(&rest[..at]);
    }
    let at = rest.rfind('@')?;
    rest[..at].contains(':').then(|| &rest[..at])
}

fn scheme_len(key: &str) -> usize {
    key.find("://").map_or(0, |i| i + 3)
}

/// A key ready for a message: userinfo removed, cut to one short line.
pub fn shown_key(key: &str) -> String {
    shorten(&strip_userinfo(key))
}

/// Cuts a user-supplied name (a key, a secret name) to a printable length.
///
/// Keys come from untrusted input and may be megabytes long; a finding stays one line.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() <= MAX {
        clean
    } else {
        let head: String = clean.chars().take(MAX).collect();
        format!("{head}… ({} bytes)", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_their_stable_names() {
        for id in [
            FindingId::SecretNotFound,
            FindingId::KeyDockerHubApiHost,
            FindingId::ServiceAccountSecretNotInPod,
            FindingId::DockercfgInDockerconfigjson,
        ] {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }

    #[test]
    fn long_keys_are_cut_and_control_characters_replaced() {
        let long = "a".repeat(5000);
        let short = shorten(&long);
        assert!(short.len() < 200, "{short}");
        assert!(short.ends_with("(5000 bytes)"));
        assert_eq!(shorten("reg\nistry"), "reg?istry");
    }

    #[test]
    fn userinfo_in_keys_is_never_shown() {
        assert_eq!(
            strip_userinfo("https://u:pw@reg.test/v2/"),
            "https://(redacted)@reg.test/v2/"
        );
        assert_eq!(strip_userinfo("u:p@w@reg.test"), "(redacted)@reg.test");
        assert_eq!(strip_userinfo("reg.test/team@x"), "reg.test/team@x");
        assert_eq!(
            strip_userinfo("https://u:pa/ss@reg.test"),
            "https://(redacted)@reg.test"
        );
        assert_eq!(
            strip_userinfo("u:p#w?x@reg.test/v2/"),
            "(redacted)@reg.test/v2/"
        );
        assert_eq!(shown_key("reg.test:5000"), "reg.test:5000");
    }
}
