//! Boils the stages' rich records down to the plain facts `diagnose` reads.
//!
//! This is the seam between the I/O stages and the pure verdict: events become one symptom per
//! container, the owner chain becomes the object a fix must patch, the node becomes its runtime
//! and platform. Keeping the mapping here keeps `diagnose` free of Kubernetes types.

use k8s_openapi::api::core::v1::{Event, Node, Pod};

use crate::classify::Symptom;
use crate::credentials::ImageCredentials;
use crate::diagnose::{Audience, ContainerInfo, Evidence, FixTarget, NodeFacts, ProbeFacts};
use crate::registry::{ImageRef, Platform};
use crate::scene::{ContainerKind, Scene, is_pull_waiting_reason};
use crate::taxonomy::Runtime;

/// One container of the pod and what its status says about pulling.
#[derive(Debug, Clone)]
pub struct PodContainer {
    /// The container, as the report shows it.
    pub info: ContainerInfo,
    /// The image as the spec writes it.
    pub image: String,
    /// `state.waiting` reason and message, when waiting.
    pub waiting: Option<(String, Option<String>)>,
    /// True when the container runs or has run to completion: its image was pulled (or was
    /// present) after any failure.
    pub running: bool,
}

impl PodContainer {
    /// True when the container waits on a pull reason.
    pub fn pull_failing(&self) -> bool {
        self.waiting
            .as_ref()
            .is_some_and(|(r, _)| is_pull_waiting_reason(r))
    }
}

fn kind_id(kind: ContainerKind) -> &'static str {
    match kind {
        ContainerKind::Init => "init",
        ContainerKind::Regular => "regular",
        ContainerKind::Ephemeral => "ephemeral",
    }
}

/// Every container of the pod, init first, then regular, then ephemeral.
pub fn containers(pod: &Pod) -> Vec<PodContainer> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    let mut out = Vec::new();
    let mut add = |kind: ContainerKind, name: &str, image: Option<&str>, policy: Option<&str>| {
        let statuses = status.and_then(|s| match kind {
            ContainerKind::Init => s.init_container_statuses.as_ref(),
            ContainerKind::Regular => s.container_statuses.as_ref(),
            ContainerKind::Ephemeral => s.ephemeral_container_statuses.as_ref(),
        });
        let state = statuses
            .and_then(|list| list.iter().find(|cs| cs.name == name))
            .and_then(|cs| cs.state.as_ref());
        let waiting = state
            .and_then(|s| s.waiting.as_ref())
            .map(|w| (w.reason.clone().unwrap_or_default(), w.message.clone()));
        let running = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        out.push(PodContainer {
            info: ContainerInfo {
                name: name.to_string(),
                kind: kind_id(kind).to_string(),
                pull_policy: policy.map(str::to_string),
            },
            image: image.unwrap_or_default().to_string(),
            waiting,
            running,
        });
    };
    for c in spec.init_containers.iter().flatten() {
        add(
            ContainerKind::Init,
            &c.name,
            c.image.as_deref(),
            c.image_pull_policy.as_deref(),
        );
    }
    for c in &spec.containers {
        add(
            ContainerKind::Regular,
            &c.name,
            c.image.as_deref(),
            c.image_pull_policy.as_deref(),
        );
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        add(
            ContainerKind::Ephemeral,
            &c.name,
            c.image.as_deref(),
            c.image_pull_policy.as_deref(),
        );
    }
    out
}

/// True when `event` is about this container: its `fieldPath` names it, or (older kubelets,
/// sandbox events) its message quotes the image.
pub(super) fn event_for(event: &Event, c: &PodContainer) -> bool {
    let list = match c.info.kind.as_str() {
        "init" => "spec.initContainers",
        "ephemeral" => "spec.ephemeralContainers",
        _ => "spec.containers",
    };
    match event.involved_object.field_path.as_deref() {
        Some(fp) if !fp.is_empty() => fp == format!("{list}{{{}}}", c.info.name),
        _ => event
            .message
            .as_deref()
            .is_some_and(|m| !c.image.is_empty() && m.contains(&format!("\"{}\"", c.image))),
    }
}

/// The node's runtime and platform.
pub fn node_facts(node: &Node) -> NodeFacts {
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let runtime_version = info
        .map(|i| i.container_runtime_version.clone())
        .unwrap_or_default();
    let os = info.map(|i| i.operating_system.as_str()).unwrap_or("linux");
    let arch = info.map(|i| i.architecture.as_str()).unwrap_or("amd64");
    NodeFacts {
        name: node.metadata.name.clone().unwrap_or_default(),
        runtime: Runtime::from_runtime_version(&runtime_version),
        runtime_version,
        platform: format!("{os}/{arch}"),
    }
}

/// The object a pod-spec fix must change: the top of the owner chain, else the pod.
pub fn fix_target(scene: &Scene) -> FixTarget {
    let sa = scene
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string());
    match scene.top_owner() {
        Some(o) => FixTarget {
            kind: o.kind.clone(),
            name: o.name.clone(),
            service_account: sa,
            bare_pod: false,
        },
        None => FixTarget {
            kind: "Pod".to_string(),
            name: scene.pod_name().to_string(),
            service_account: sa,
            bare_pod: true,
        },
    }
}

/// What every container of one pod shares: the node, the platform and runtime to probe as,
/// and the object a fix must change.
pub struct PodContext {
    /// The node's facts, when the pod is scheduled and the node readable.
    pub node: Option<NodeFacts>,
    /// The platform to ask an index for (`linux/amd64` when the node is unknown).
    pub platform: Platform,
    /// True when `platform` is the node's own (`nodeInfo`), not the fallback.
    pub platform_known: bool,
    /// The node's runtime, for certs.d lookups and CA fixes.
    pub runtime: Runtime,
    /// Where a pod-spec fix goes.
    pub target: FixTarget,
}

impl PodContext {
    /// Reads the context from a scene.
    pub fn of(scene: &Scene) -> PodContext {
        let node = scene.node.found().map(node_facts);
        let platform_known = scene
            .node
            .found()
            .and_then(|n| n.status.as_ref()?.node_info.as_ref())
            .is_some_and(|i| !i.architecture.is_empty() && !i.operating_system.is_empty());
        let platform = node
            .as_ref()
            .and_then(|n| Platform::parse(&n.platform).ok())
            .unwrap_or_else(|| Platform::new("linux", "amd64", None));
        PodContext {
            runtime: node.as_ref().map(|n| n.runtime).unwrap_or_default(),
            platform,
            platform_known,
            node,
            target: fix_target(scene),
        }
    }

    /// The evidence for one container, with whatever the probe found.
    pub fn evidence(&self, scene: &Scene, case: &Case, probe: ProbeFacts) -> Evidence {
        Evidence {
            image: case.container.image.clone(),
            credentials: case
                .creds
                .as_ref()
                .zip(case.image_ref.as_ref())
                .map(|(cr, r)| super::creds::facts(cr, r)),
            image_ref: case.image_ref.clone(),
            container: Some(case.container.info.clone()),
            symptom: case.symptom.clone(),
            probe,
            node: self.node.clone(),
            target: self.target.clone(),
            namespace: scene.namespace.clone(),
            healthy: case.healthy(),
            failures: case.history.failures.clone(),
            pulled: case.history.pulled.clone(),
            unscheduled: scene
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_none_or(str::is_empty),
            unreadable: scene.unreadable.clone(),
            audience: Audience::Cluster,
        }
    }
}

/// One container's case before the probe: its image, what the text said, its credentials.
pub struct Case {
    /// The container.
    pub container: PodContainer,
    /// The image, parsed (`None` when it does not parse).
    pub image_ref: Option<ImageRef>,
    /// What kubelet would do for the image with the pod's secrets.
    pub creds: Option<ImageCredentials>,
    /// The pull-failure text the verdict starts from (the history's primary failure).
    pub symptom: Option<Symptom>,
    /// Every failure kubelet recorded for the container, counted and dated.
    pub history: super::history::History,
}

impl Case {
    /// Gathers the case of container `c`.
    pub fn of(scene: &Scene, c: PodContainer) -> Case {
        let image_ref = ImageRef::parse(&c.image).ok();
        let history = super::history::of(scene, &c);
        Case {
            symptom: history.primary.clone(),
            history,
            creds: image_ref
                .as_ref()
                .map(|r| super::creds::for_scene(scene, r)),
            image_ref,
            container: c,
        }
    }

    /// True when nothing says the pull is failing now (a recovered container's old failures
    /// do not count).
    pub fn healthy(&self) -> bool {
        self.symptom.is_none() && !self.container.pull_failing()
    }
}
