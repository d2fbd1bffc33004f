//! What a caller gathered about one pod for its pull credentials: the pod's own fields, its
//! service account and the secrets it names, each found, absent, forbidden or not read.
//!
//! The input of both `pod` (kubelet's choice) and `nearmiss` (what would have helped), kept in
//! its own module so that those two read it and neither depends on the other.

use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

/// The result of reading one object: found, absent, refused by RBAC, or not read.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    /// Read.
    Found(T),
    /// The API said 404.
    NotFound,
    /// The API said 403; the API's message.
    Forbidden(String),
    /// Not read (no cluster access for it, or not in the snapshot).
    NotAsked,
}

/// Everything about one pod that decides its pull credentials.
#[derive(Debug, Clone)]
pub struct PodSecrets<'a> {
    /// The pod's namespace: the only one kubelet reads secrets from.
    pub namespace: String,
    /// `pod.spec.imagePullSecrets` names, in order.
    pub pod_pull_secrets: Vec<String>,
    /// `pod.spec.serviceAccountName` (`default` when unset).
    pub service_account_name: String,
    /// The service account, if read.
    pub service_account: Fetched<&'a ServiceAccount>,
    /// Every secret the pod or its service account names.
    pub secrets: BTreeMap<String, Fetched<&'a Secret>>,
    /// All secrets in the namespace, when they could be listed.
    pub namespace_secrets: Option<Vec<&'a Secret>>,
    /// Secrets from other namespaces the caller happens to have (a snapshot).
    pub other_namespace_secrets: Vec<&'a Secret>,
    /// `metadata.creationTimestamp` of the pod.
    pub pod_created: Option<Time>,
}

impl<'a> PodSecrets<'a> {
    /// The pod's own fields filled in; secrets and the service account still to be added.
    pub fn from_pod(pod: &'a Pod) -> PodSecrets<'a> {
        let spec = pod.spec.as_ref();
        PodSecrets {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            pod_pull_secrets: spec
                .and_then(|s| s.image_pull_secrets.as_ref())
                .map(|v| v.iter().map(|r| r.name.clone()).collect())
                .unwrap_or_default(),
            service_account_name: spec
                .and_then(|s| s.service_account_name.clone().or(s.service_account.clone()))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
            service_account: Fetched::NotAsked,
            secrets: BTreeMap::new(),
            namespace_secrets: None,
            other_namespace_secrets: Vec::new(),
            pod_created: pod.metadata.creation_timestamp.clone(),
        }
    }

    /// A named secret: from the per-name reads, else from the namespace listing.
    pub(super) fn lookup(&self, name: &str) -> Fetched<&'a Secret> {
        match self.secrets.get(name) {
            Some(Fetched::NotAsked) | None => {}
            Some(other) => return other.clone(),
        }
        let listed = self.namespace_secrets.iter().flatten();
        match listed
            .copied()
            .find(|s| s.metadata.name.as_deref() == Some(name))
        {
            Some(s) => Fetched::Found(s),
            None => Fetched::NotAsked,
        }
    }

    pub(super) fn label(&self, name: &str) -> String {
        format!("{}/{}", self.namespace, name)
    }
}
