//! Gathering a pod's scene — the pod, its events, pull secrets, service account, node and owners —
//! from a live cluster or a snapshot file, behind one [`Source`] trait.
//!
//! The scene holds what kubelet itself looks at when it pulls: the pod's `imagePullSecrets`
//! merged with its service account's (the admission plugin copies them at creation, see
//! <https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#add-imagepullsecrets-to-a-service-account>),
//! the node's runtime and platform, and the events kubelet wrote. Reads only: nothing here
//! creates, patches or deletes. A read refused by RBAC is recorded as [`Lookup::Forbidden`] and
//! a line in [`Scene::unreadable`], so the verdict degrades instead of the run failing.

mod assemble;
mod containers;
pub mod live;
pub mod selector;
pub mod snapshot;

use std::collections::BTreeMap;
use std::future::Future;

use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, ServiceAccount};

pub use containers::{
    ContainerImage, ContainerKind, PULL_WAITING_REASONS, is_docker_secret, is_pull_failure_event,
    is_pull_waiting_reason, pull_failing_containers,
};

/// The result of reading one object: found, absent, or refused by RBAC.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<T> {
    /// The object was read.
    Found(T),
    /// The API answered 404, or the snapshot does not hold it.
    NotFound,
    /// The API answered 403; the string is the API's own message.
    Forbidden(String),
    /// Nothing to ask for (an unscheduled pod has no node).
    NotAsked,
}

impl<T> Lookup<T> {
    /// The object, when it was read.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(t) => Some(t),
            _ => None,
        }
    }

    /// True when RBAC refused the read.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Lookup::Forbidden(_))
    }
}

/// One link of the ownership chain, from the pod's controller upwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `ReplicaSet`, `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, or anything else.
    pub kind: String,
    /// The object's name (same namespace as the pod).
    pub name: String,
    /// `apps/v1`, `batch/v1`, ….
    pub api_version: String,
}

/// Everything known about one pod that matters for pulling its images.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod as the API (or the snapshot) has it.
    pub pod: Pod,
    /// Events whose involvedObject is this pod (same uid when both sides carry one).
    pub events: Vec<Event>,
    /// Every pull secret the pod or its service account names, by name.
    pub secrets: BTreeMap<String, Lookup<Secret>>,
    /// All `kubernetes.io/dockerconfigjson` / `kubernetes.io/dockercfg` secrets in the namespace.
    pub namespace_pull_secrets: Lookup<Vec<Secret>>,
    /// The pod's service account (`spec.serviceAccountName`, else `default`).
    pub service_account: Lookup<ServiceAccount>,
    /// The node the pod is bound to; `NotAsked` while it is unscheduled.
    pub node: Lookup<Node>,
    /// The controller chain, nearest first: `[ReplicaSet, Deployment]`, `[Job, CronJob]`, ….
    pub owners: Vec<Owner>,
    /// Secrets of other namespaces named like a pull secret the pod lists but its namespace
    /// lacks: a hint for the evidence, never a credential (kubelet reads only the pod's
    /// namespace). Filled by the snapshot source, or live when asked.
    pub other_namespace_secrets: std::sync::Arc<Vec<Secret>>,
    /// Human lines for what could not be read: `secret shop/regcred: forbidden (…)`.
    pub unreadable: Vec<String>,
}

impl Scene {
    /// The pod's name.
    pub fn pod_name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    /// The workload a fix should patch: the top of the owner chain, or `None` for a bare pod.
    pub fn top_owner(&self) -> Option<&Owner> {
        self.owners.last()
    }
}

/// Where scenes come from: a live cluster or a snapshot file.
pub trait Source {
    /// The scene of one pod; `Error::PodNotFound` when it does not exist, `Error::Api` when the
    /// API cannot be reached or refuses the pod itself.
    fn pod_scene(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Scene, crate::Error>> + Send;

    /// Scenes of every pod (in `namespace`, or in all namespaces for `None`) with a container
    /// waiting on a pull failure or with pull-failure events.
    fn failing_pods(
        &self,
        namespace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Scene>, crate::Error>> + Send;
}
