//! Credentials for one image of a pod: the scene handed to the keyring, and the result boiled
//! down for the probe (with passwords) and for the verdict (without).

use crate::credentials::{self, Fetched, FindingId, ImageCredentials, PodSecrets};
use crate::diagnose::{CredentialFacts, CredentialFinding, CredentialLabel};
use crate::registry::{self, ImageRef};
use crate::scene::{Lookup, Scene};

fn fetched<T>(lookup: &Lookup<T>) -> Fetched<&T> {
    match lookup {
        Lookup::Found(t) => Fetched::Found(t),
        Lookup::NotFound => Fetched::NotFound,
        Lookup::Forbidden(m) => Fetched::Forbidden(m.clone()),
        Lookup::NotAsked => Fetched::NotAsked,
    }
}

/// What kubelet would do for `image` with this pod's secrets.
pub fn for_scene(scene: &Scene, image: &ImageRef) -> ImageCredentials {
    let mut input = PodSecrets::from_pod(&scene.pod);
    input.namespace = scene.namespace.clone();
    input.service_account = fetched(&scene.service_account);
    input.secrets = scene
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), fetched(v)))
        .collect();
    input.namespace_secrets = scene
        .namespace_pull_secrets
        .found()
        .map(|v| v.iter().collect());
    input.other_namespace_secrets = scene.other_namespace_secrets.iter().collect();
    let creds = credentials::for_image(&input, image);
    log(scene, image, &creds);
    creds
}

/// Which secrets were considered and which keys matched: names and keys, never a value.
fn log(scene: &Scene, image: &ImageRef, creds: &ImageCredentials) {
    let considered: Vec<String> = scene
        .secrets
        .iter()
        .map(|(name, l)| format!("{name} ({})", lookup_word(l)))
        .collect();
    tracing::info!(
        "credentials for {image}: secrets considered: {}",
        if considered.is_empty() {
            "none".to_string()
        } else {
            considered.join(", ")
        }
    );
    for c in &creds.tries {
        tracing::info!(
            "credentials for {image}: {} matches key {}",
            c.source,
            c.key
        );
    }
    if creds.tries.is_empty() {
        tracing::info!(
            "credentials for {image}: no key matches {}{}",
            server_key(image),
            if creds.anonymous {
                "; kubelet pulls anonymously"
            } else {
                ""
            }
        );
    }
    for f in &creds.findings {
        tracing::debug!(
            "credentials for {image}: finding {:?} ({}): {}",
            f.id,
            f.secret.as_deref().unwrap_or("-"),
            f.message
        );
    }
}

fn lookup_word<T>(l: &Lookup<T>) -> &'static str {
    match l {
        Lookup::Found(_) => "read",
        Lookup::NotFound => "not found",
        Lookup::Forbidden(_) => "forbidden",
        Lookup::NotAsked => "not read",
    }
}

/// The credentials to hand the probe, in kubelet's order.
pub fn auths(creds: &ImageCredentials) -> Vec<registry::Auth> {
    creds
        .tries
        .iter()
        .map(|c| registry::Auth {
            label: format!("{} (key {})", c.source, c.key),
            username: c.username.clone(),
            password: c.password.clone(),
        })
        .collect()
}

/// The key kubelet matches for this image: the registry as the image names it.
pub fn server_key(image: &ImageRef) -> String {
    image.registry.clone()
}

/// Findings whose fix is "use this key instead".
fn wants_other_key(id: FindingId) -> bool {
    matches!(
        id,
        FindingId::KeyPortMismatch
            | FindingId::KeyHostMismatch
            | FindingId::KeyPathMismatch
            | FindingId::KeySchemeUnsupported
            | FindingId::KeyDockerHubApiHost
    )
}

/// The facts the verdict reads: labels, findings, and the unreferenced secret that would match.
pub fn facts(creds: &ImageCredentials, image: &ImageRef) -> CredentialFacts {
    let key = server_key(image);
    // Only the story of its own: a pod naming a missing secret, or one whose service account
    // gained the secret after it was created, is not mended by referencing another one.
    let other_story = creds.findings.iter().any(|f| {
        f.id == FindingId::SecretNotFound
            || (f.id == FindingId::ServiceAccountSecretNotInPod && creds.tries.is_empty())
    });
    let unreferenced_match = creds
        .findings
        .iter()
        .find(|f| f.id == FindingId::UnreferencedMatchingSecret && !other_story)
        .and_then(|f| f.secret.clone());
    CredentialFacts {
        tried: creds
            .tries
            .iter()
            .map(|c| CredentialLabel {
                source: c.source.clone(),
                key: c.key.clone(),
                username: c.username.clone(),
            })
            .collect(),
        anonymous: creds.anonymous,
        findings: creds
            .findings
            .iter()
            .map(|f| CredentialFinding {
                id: f.id.as_str().to_string(),
                secret: f.secret.clone(),
                key: f.key.clone(),
                message: f.message.clone(),
                suggested_key: (wants_other_key(f.id) && creds.tries.is_empty())
                    .then(|| key.clone()),
            })
            .collect(),
        unreferenced_match,
        server_key: key,
    }
}

/// A secret the pod does not carry but should: one in the namespace that matches the image
/// but is not referenced, or one its service account lists. Returns its label and what kubelet
/// would do with it, so the probe can prove the fix before anyone applies it.
pub fn candidate(
    scene: &Scene,
    image: &ImageRef,
    creds: &ImageCredentials,
) -> Option<(String, ImageCredentials)> {
    if !creds.tries.is_empty() {
        return None;
    }
    let finding = creds.findings.iter().find(|f| {
        matches!(
            f.id,
            FindingId::UnreferencedMatchingSecret | FindingId::ServiceAccountSecretNotInPod
        )
    })?;
    let label = finding.secret.clone()?;
    let name = label.rsplit('/').next().unwrap_or(&label).to_string();
    let mut input = PodSecrets::from_pod(&scene.pod);
    input.namespace = scene.namespace.clone();
    input.pod_pull_secrets = vec![name.clone()];
    let fetched_secret = scene
        .secrets
        .get(&name)
        .and_then(Lookup::found)
        .or_else(|| {
            scene
                .namespace_pull_secrets
                .found()?
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
        })?;
    input.secrets.insert(name, Fetched::Found(fetched_secret));
    let with = credentials::for_image(&input, image);
    (!with.tries.is_empty()).then_some((label, with))
}
