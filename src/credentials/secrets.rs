//! What kubelet makes of one Secret object: a docker config body it decodes, or why it skips it.
//!
//! Reproduces `MakeDockerKeyring` in kubernetes `pkg/credentialprovider/secrets/secrets.go`
//! (<https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/secrets/secrets.go>):
//! only type `kubernetes.io/dockerconfigjson` with a non-empty `.dockerconfigjson`, or type
//! `kubernetes.io/dockercfg` with a non-empty `.dockercfg`, is decoded; any other secret is
//! ignored without a word. Bodies kubelet ignores are still looked into, so a finding can say
//! "this Opaque secret would have matched".

use super::dockerconfig::{self, Format};
use super::findings::{FindingId, shorten};
use super::keyring;
use crate::reference::ImageRef;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeSet;

pub(super) const DOCKERCONFIGJSON: &str = "kubernetes.io/dockerconfigjson";
pub(super) const DOCKERCFG: &str = "kubernetes.io/dockercfg";

/// What kubelet makes of a secret before decoding: a body it reads, or why not.
pub(super) struct Classified {
    /// The body kubelet decodes.
    pub usable: Option<(Format, Vec<u8>)>,
    /// Why kubelet ignores it.
    pub problem: Option<(FindingId, String)>,
    /// A docker body kubelet ignores (wrong type or key), for "it would have matched".
    pub ignored_body: Option<(Format, Vec<u8>)>,
}

fn data(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    // `stringData` only appears in hand-written snapshots; the API server merges it over `data`.
    let from_string = secret.string_data.as_ref().and_then(|m| m.get(key));
    let from_data = secret.data.as_ref().and_then(|m| m.get(key));
    from_string
        .map(|s| s.as_bytes().to_vec())
        .or_else(|| from_data.map(|b| b.0.clone()))
}

fn data_keys(secret: &Secret) -> Vec<String> {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    keys.extend(secret.data.iter().flat_map(|m| m.keys().cloned()));
    keys.extend(secret.string_data.iter().flat_map(|m| m.keys().cloned()));
    keys.into_iter().map(|k| shorten(&k)).collect()
}

pub(super) fn classify(secret: &Secret) -> Classified {
    let ty = secret.type_.as_deref().unwrap_or("Opaque");
    let json = data(secret, ".dockerconfigjson").filter(|b| !b.is_empty());
    let cfg = data(secret, ".dockercfg").filter(|b| !b.is_empty());
    let any_body = json
        .clone()
        .map(|b| (Format::ConfigJson, b))
        .or_else(|| cfg.clone().map(|b| (Format::Dockercfg, b)))
        .or_else(|| data(secret, "config.json").map(|b| (Format::ConfigJson, b)));
    let (want_key, body, format) = match ty {
        DOCKERCONFIGJSON => (".dockerconfigjson", json, Format::ConfigJson),
        DOCKERCFG => (".dockercfg", cfg, Format::Dockercfg),
        other => {
            let msg = format!(
                "type {:?}: kubelet reads only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg secrets and ignores this one without a word{}",
                shorten(other),
                if any_body.is_some() {
                    "; recreate it with `kubectl create secret docker-registry` or --type=kubernetes.io/dockerconfigjson"
                } else {
                    ""
                }
            );
            return Classified {
                usable: None,
                problem: Some((FindingId::WrongType, msg)),
                ignored_body: any_body,
            };
        }
    };
    if let Some(body) = body {
        return Classified {
            usable: Some((format, body)),
            problem: None,
            ignored_body: None,
        };
    }
    let keys = data_keys(secret);
    let msg = if keys.is_empty() {
        format!("type {ty} but no data at all; kubelet needs a non-empty {want_key}")
    } else if data(secret, want_key).is_some() {
        format!("type {ty} but its {want_key} is empty; kubelet skips it")
    } else {
        format!(
            "type {ty} but its data keys are [{}]; kubelet reads only a non-empty {want_key}",
            keys.join(", ")
        )
    };
    Classified {
        usable: None,
        problem: Some((FindingId::WrongDataKey, msg)),
        ignored_body: any_body,
    }
}

/// The first key of a docker body that gives credentials for the image, if any.
pub(super) fn covering_key(body: &(Format, Vec<u8>), image: &ImageRef) -> Option<String> {
    let cfg = dockerconfig::decode(&body.1, body.0, "");
    if cfg.breaks_keyring() {
        return None;
    }
    cfg.entries
        .into_iter()
        .map(|e| e.key)
        .find(|k| keyring::key_covers(k, image))
}

/// The key of a secret (used by kubelet or not) that would give credentials for the image.
pub(super) fn secret_covers(secret: &Secret, image: &ImageRef) -> Option<String> {
    let c = classify(secret);
    c.usable
        .or(c.ignored_body)
        .and_then(|b| covering_key(&b, image))
}
