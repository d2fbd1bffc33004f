//! What the diagnosis is drawn from, distilled from every earlier stage into plain facts.
//!
//! The I/O stages produce rich records (events, probe steps, decoded secrets); `app` boils them
//! down to these views so the verdict logic stays pure, small and testable without a cluster or
//! a registry. Nothing here holds a secret value: credentials appear by secret name, key and
//! username only.

use serde::Serialize;

use crate::classify::Symptom;
use crate::registry::ImageRef;
use crate::taxonomy::{Cause, Runtime};

/// Everything known about one image of one container.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The image as written in the pod spec or on the command line.
    pub image: String,
    /// The parsed reference, or `None` when it does not parse.
    pub image_ref: Option<ImageRef>,
    /// The container that uses the image, if any (the `image` command has none).
    pub container: Option<ContainerInfo>,
    /// What the events or waiting message said, classified.
    pub symptom: Option<Symptom>,
    /// Which credentials kubelet would use, and every near miss.
    pub credentials: Option<CredentialFacts>,
    /// What the registry said when asked the way the node would ask.
    pub probe: ProbeFacts,
    /// The node the pod runs on.
    pub node: Option<NodeFacts>,
    /// Where a fix to the pod spec must go.
    pub target: FixTarget,
    /// The pod's namespace (empty for the `image` command).
    pub namespace: String,
    /// True when the container is healthy (running, or its image present).
    pub healthy: bool,
    /// Every distinct failure kubelet recorded for the image, the one `symptom` came from first.
    pub failures: Vec<FailureSeen>,
    /// kubelet's own proof of a pull that worked after the last failure (its `Pulled` event).
    pub pulled: Option<String>,
    /// True for a pod no node has been assigned yet: nothing tried to pull its images.
    pub unscheduled: bool,
    /// Things that could not be read (RBAC), each a human line.
    pub unreadable: Vec<String>,
    /// Who acts on the fixes: the cluster's operator (`pod`, `scan`) or a CI job (`image`).
    pub audience: Audience,
}

/// Who reads the fixes, decided once where the evidence is gathered: it sets their words and
/// which steps exist, so no fix is reworded afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// An operator with kubectl and the nodes: pull secrets, owner patches, node files.
    #[default]
    Cluster,
    /// The user of `pulldoctor image` in CI: its flags (`--ca-file`, `--authfile`, `--creds`),
    /// the registry's own login; no node, kubelet or kubectl steps.
    Ci,
}

/// A container and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// The container's name.
    pub name: String,
    /// `init`, `regular` or `ephemeral`.
    pub kind: String,
    /// `imagePullPolicy`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<String>,
}

/// Credential facts: which (secret, key) pairs kubelet would try, and the findings.
#[derive(Debug, Clone, Default)]
pub struct CredentialFacts {
    /// The credentials kubelet would try, in order.
    pub tried: Vec<CredentialLabel>,
    /// True when no credential matched, so kubelet pulls anonymously.
    pub anonymous: bool,
    /// Findings about the secrets, most important first.
    pub findings: Vec<CredentialFinding>,
    /// A docker secret in the namespace that would match the image but is not referenced.
    pub unreferenced_match: Option<String>,
    /// The docker config key kubelet would match for this image (`host:port`, `docker.io`, …).
    pub server_key: String,
}

/// One distinct failure kubelet recorded for an image: its cause, how often, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureSeen {
    /// The cause the message reads as.
    pub cause: Cause,
    /// The event or waiting reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Failed attempts recorded (events' `count` / `series.count`, summed).
    pub count: u32,
    /// The first attempt, RFC 3339, when the events carry a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// The latest attempt, RFC 3339, when the events carry a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// One line for people: `4 attempts in 3m, last 2026-11-20T09:04:00Z`.
    pub seen: String,
    /// True while the failure keeps recurring; false once newer attempts fail otherwise.
    pub recurring: bool,
    /// The innermost error clause the cause was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The whole message of the latest such event.
    pub message: String,
}

impl FailureSeen {
    /// `recurring` or `no longer recurring`, for people.
    pub fn state(&self) -> &'static str {
        if self.recurring {
            "recurring"
        } else {
            "no longer recurring"
        }
    }
}

/// One credential, named without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialLabel {
    /// Where it came from: `secret shop/regcred`, `--authfile`, `--creds`.
    pub source: String,
    /// The docker config key that matched.
    pub key: String,
    /// The username (usernames may show; passwords never).
    pub username: String,
}

/// One finding about the pull secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialFinding {
    /// Stable id (`secret_not_found`, `key_port_mismatch`, …).
    pub id: String,
    /// The secret involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The docker config key involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// One line, never a secret value.
    pub message: String,
    /// For a key that almost matches: the exact key kubelet would match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_key: Option<String>,
}

/// What the probe found, or why it did not run.
///
/// `Ran` is the common variant and one exists per image, so it is kept inline rather than
/// boxed behind every constructor.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default)]
pub enum ProbeFacts {
    /// Probing was switched off (`--no-probe`), or a fixture host cannot be reached.
    #[default]
    Off,
    /// The probe could not run for this image (e.g. the reference does not parse).
    NotRun(String),
    /// The probe ran.
    Ran(ProbeResult),
}

/// The distilled probe result.
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    /// `None` when the image is pullable with what the node has.
    pub cause: Option<Cause>,
    /// One line on what failed (or succeeded).
    pub detail: String,
    /// The recorded steps, one line each, in order.
    pub steps: Vec<String>,
    /// Tags the repository has (for a missing tag).
    pub tags: Vec<String>,
    /// Platforms the image index offers (for a platform miss).
    pub platforms: Vec<String>,
    /// The platform asked for (the node's).
    pub platform: String,
    /// Contrast: the failure goes away with the CA the user supplied (`--ca-file`, certs dir).
    pub works_with_supplied_ca: Option<bool>,
    /// The files that CA came from, as the trust contrast names them.
    pub supplied_ca: Vec<String>,
    /// Contrast: which credential works, by label, if any does.
    pub working_credential: Option<String>,
    /// Contrast: whether anonymous access works.
    pub anonymous_works: Option<bool>,
    /// How many HTTP requests the probe made.
    pub requests: u32,
    /// Explicit unsafe flags that were in force (`--registry-insecure-skip-verify`, `--plain-http`).
    pub flags: Vec<String>,
    /// Connections made (or that the node's runtime would make) without TLS trust.
    pub insecure: Vec<crate::registry::InsecureTransport>,
    /// Contrasts not run because their answer could not change the verdict.
    pub skipped_contrasts: Vec<crate::registry::SkippedContrast>,
    /// The registry's pull quota in words, when it sent one (Docker Hub's `ratelimit-*`).
    pub quota: Option<String>,
    /// A credential's own expiry had passed before the probe (an ECR password's 12 hours).
    pub credential_expired: bool,
    /// The node file whose line decided the cause (`--node-root`), and the change that fixes it.
    pub node_edit: Option<NodeEdit>,
    /// A sentence naming the node's endpoint that failed (a mirror and the line that set it),
    /// when it is not simply the registry the image names (`--node-root`).
    pub node_endpoint: Option<String>,
    /// The probe followed a node's files (`--node-root`): its trust, proxy and endpoints were
    /// the node runtime's, so a sentence about them speaks of the node, not of the check.
    pub on_node: bool,
}

/// A line of a node file that decides the verdict, and what to change there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEdit {
    /// The file as the node sees it.
    pub file: String,
    pub line: Option<u32>,
    /// What to change, in words.
    pub change: String,
    /// The systemd unit to restart afterwards (`containerd`, `docker`, `crio`).
    pub restart: String,
}

/// The node, as far as the fix needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    /// The node's name.
    pub name: String,
    /// Runtime from `containerRuntimeVersion`.
    pub runtime: Runtime,
    /// `containerRuntimeVersion` as reported.
    pub runtime_version: String,
    /// `linux/amd64` and the like.
    pub platform: String,
}

/// The object whose spec a fix must change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FixTarget {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `CronJob`, `Job`, `ReplicaSet` or `Pod`; empty
    /// for the `image` command.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The pod's service account.
    pub service_account: String,
    /// True when the pod has no owner and was probably made by `kubectl run`.
    pub bare_pod: bool,
}
