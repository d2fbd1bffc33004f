//! `pod NAME --from-node`: the probe run again from the pod's own node, in a short-lived pod
//! there, so the node's network, resolver, proxy and files answer instead of this machine's.
//!
//! The probe pod (`scene::live::probe_pod`) runs `pulldoctor node-probe`, whose JSON report is
//! read back from the pod's log and merged: a `[node] probed from NODE: …` note and evidence
//! line per image, and the node's whole report under `from_node`. The pod is deleted in every
//! outcome once created — success, failure, timeout, Ctrl-C. What stops the probe (RBAC, Pod
//! Security Admission, a probe image the node cannot pull, a NotReady node) is a note beside
//! this machine's verdict, never a failed run.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;

use crate::cli::FromNodeArgs;
use crate::config::Common;
use crate::diagnose::EvidenceLine;
use crate::report::{FromNode, NodeVerdict, Report};
use crate::scene::live::LiveSource;
use crate::scene::live::probe_pod::{ProbePod, ProbePodError, probe_pod_name};
use crate::scene::{Lookup, Scene};

/// The image `--node-image` defaults to: the one a release build names
/// (`PULLDOCTOR_NODE_IMAGE=REGISTRY/pulldoctor:vX.Y.Z cargo build --release`), built from the
/// repository's `Dockerfile`. A build without it has no default to guess.
pub const DEFAULT_IMAGE: Option<&str> = option_env!("PULLDOCTOR_NODE_IMAGE");

/// `--node-image`, else the built-in default; a usage error naming how to get one otherwise.
pub fn node_image(given: Option<&String>) -> crate::Result<String> {
    given
        .cloned()
        .or_else(|| DEFAULT_IMAGE.map(str::to_string))
        .ok_or_else(|| {
            crate::Error::Usage(
                "--from-node needs --node-image IMAGE: this build names no released image. \
                 Build one from the repository's Dockerfile (docker build -t \
                 REGISTRY/pulldoctor:TAG .), push it where the nodes pull from, and pass it"
                    .into(),
            )
        })
}

/// How often the probe pod is read while it runs.
const POLL: Duration = Duration::from_millis(250);

/// Container waiting reasons that mean the probe image will not run on the node.
const PULL_FAILED: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Runs the probe pod on the scene's node and says what came of it.
pub(super) async fn probe(
    live: &LiveSource,
    scene: &Scene,
    args: &FromNodeArgs,
    common: &Common,
) -> FromNode {
    let pod_ns = scene.namespace.clone();
    let namespace = args.probe_namespace.clone().unwrap_or(pod_ns.clone());
    let image = node_image(args.node_image.as_ref());
    let spec = scene.pod.spec.as_ref();
    let node_name = spec.and_then(|s| s.node_name.clone()).unwrap_or_default();
    let mut out = FromNode {
        node: node_name.clone(),
        namespace: namespace.clone(),
        pod: None,
        pull_secrets: Vec::new(),
        image: image.as_ref().cloned().unwrap_or_default(),
        outcome: "probed",
        detail: String::new(),
        deleted: true,
        verdicts: Vec::new(),
        report: None,
    };
    let stop = |mut out: FromNode, outcome, detail: String| {
        out.outcome = outcome;
        out.detail = detail;
        out
    };
    // The commands refuse to start without an image (exit 2, before any write); a caller that
    // did not gets the same words here, and no pod.
    let image = match image {
        Ok(i) => i,
        Err(e) => return stop(out, "failed", e.to_string()),
    };
    if node_name.is_empty() {
        let d = "the pod is not scheduled on a node yet: no probe pod created".to_string();
        return stop(out, "not_scheduled", d);
    }
    let node = match &scene.node {
        Lookup::Found(n) => Some(n),
        _ => None,
    };
    if let Some(why) = node.and_then(not_ready) {
        let d = format!("node {node_name} is NotReady ({why}): no probe pod created");
        return stop(out, "node_not_ready", d);
    }
    let mut pull_secrets = pull_secret_names(scene);
    let mut notes = Vec::new();
    if namespace != pod_ns && !pull_secrets.is_empty() {
        notes.push(format!(
            "the pod's pull secrets are in namespace {pod_ns} and a pod in {namespace} cannot mount them: the node probes without them"
        ));
        pull_secrets.clear();
    }
    out.pull_secrets = pull_secrets.clone();
    let info = node
        .and_then(|n| n.status.as_ref())
        .and_then(|s| s.node_info.as_ref());
    let deadline = args.probe_timeout.ceil().max(1.0);
    let probe = ProbePod {
        name: probe_pod_name(&node_name),
        namespace: namespace.clone(),
        node: node_name.clone(),
        image: image.clone(),
        pull_secrets,
        pod_namespace: pod_ns.clone(),
        runtime: info
            .map(|i| i.container_runtime_version.clone())
            .filter(|r| !r.is_empty()),
        platform: info
            .filter(|i| !i.architecture.is_empty())
            .map(|i| format!("{}/{}", i.operating_system, i.architecture)),
        images: images(&scene.pod),
        deadline_seconds: deadline as i64,
        timeout_seconds: common.timeout.as_secs_f64(),
        kubelet_dir: args.node_credentials,
        for_pod: format!("{pod_ns}/{}", scene.pod_name()),
    };
    if !args.node_credentials {
        notes.push(
            "kubelet's node-level config.json was not read: /var/lib/kubelet is mounted only \
             with --node-credentials (it also holds every pod's volumes on the node)"
                .to_string(),
        );
    }
    let pod = probe.spec(node);
    // From here a Ctrl-C deletes the probe pod before pulldoctor stops: the handler is in place
    // before the create is sent, and a create under way is let finish, so its pod is known.
    let mut sigint = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    {
        Ok(s) => s,
        Err(e) => {
            return stop(
                out,
                "failed",
                format!("cannot catch Ctrl-C to clean up after the probe pod: {e}"),
            );
        }
    };
    let created = live.create_probe_pod(&pod).await;
    let interrupted = sigint.recv().now_or_never().is_some();
    let created = match created {
        Ok(p) => p,
        Err(e) => {
            let (outcome, mut detail) = refused(&e, &namespace);
            // Without the server's answer (a timeout, a dropped connection) the pod may have
            // been made after all: delete it by the name pulldoctor chose.
            if !matches!(e, ProbePodError::Refused { .. }) {
                detail.push_str(&match live.delete_probe_pod(&namespace, &probe.name).await {
                    Ok(()) => format!("; asked the API server to delete {namespace}/{} in case it was made", probe.name),
                    Err(d) => format!("; could not make sure {namespace}/{} is gone ({d}): it carries the label app.kubernetes.io/managed-by=pulldoctor", probe.name),
                });
            }
            return stop(out, outcome, detail);
        }
    };
    let name = created.metadata.name.clone().unwrap_or_default();
    out.pod = Some(name.clone());
    tracing::info!("from-node: created probe pod {namespace}/{name} on {node_name}");
    let limit = Duration::from_secs_f64(args.probe_timeout.max(0.1));
    let ctrl_c = Waited::Stopped("interrupted", "interrupted (Ctrl-C)".to_string());
    let waited = if interrupted {
        ctrl_c
    } else {
        tokio::select! {
            w = wait(live, &namespace, &name, &node_name, limit) => w,
            _ = sigint.recv() => ctrl_c,
        }
    };
    out = match waited {
        Waited::Ended(phase) => read_report(live, out, &namespace, &name, &node_name, &phase).await,
        Waited::Stopped(outcome, detail) => stop(out, outcome, detail),
    };
    out.deleted = match live.delete_probe_pod(&namespace, &name).await {
        Ok(()) => true,
        Err(e) => {
            notes.push(format!(
                "could not delete probe pod {namespace}/{name}: {e}; delete it with kubectl delete pod -n {namespace} -l app.kubernetes.io/managed-by=pulldoctor"
            ));
            false
        }
    };
    for n in notes {
        out.detail = if out.detail.is_empty() {
            n
        } else {
            format!("{}; {n}", out.detail)
        };
    }
    out
}

/// Why the node is not Ready, if it is not.
fn not_ready(node: &Node) -> Option<String> {
    let conds = node.status.as_ref()?.conditions.as_ref()?;
    let ready = conds.iter().find(|c| c.type_ == "Ready")?;
    (ready.status != "True").then(|| {
        let reason = ready
            .reason
            .clone()
            .unwrap_or_else(|| format!("Ready={}", ready.status));
        match &ready.message {
            Some(m) if !m.is_empty() => format!("{reason}: {m}"),
            _ => reason,
        }
    })
}

/// Every distinct image of the pod, init and ephemeral containers included.
fn images(pod: &Pod) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(s) = &pod.spec {
        let init = s.init_containers.iter().flatten().map(|c| c.image.clone());
        let main = s.containers.iter().map(|c| c.image.clone());
        let eph = s
            .ephemeral_containers
            .iter()
            .flatten()
            .map(|c| c.image.clone());
        for i in init.chain(main).chain(eph).flatten() {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// A refused create, as the outcome and the note that says what allows it.
fn refused(e: &ProbePodError, namespace: &str) -> (&'static str, String) {
    match e {
        ProbePodError::Refused {
            code: 403, message, ..
        } if message.contains("PodSecurity") => (
            "pod_security",
            format!(
                "Pod Security Admission refused the probe pod in namespace {namespace}: {message}. The probe needs hostNetwork and read-only hostPath mounts, which only the privileged level allows: run it in a namespace labelled pod-security.kubernetes.io/enforce=privileged (--probe-namespace NS)"
            ),
        ),
        ProbePodError::Refused {
            code: 403, message, ..
        } => (
            "forbidden",
            format!(
                "not allowed to create the probe pod: {message}. --from-node needs create/get/delete on pods and get on pods/log in {namespace} (docs/rbac-node.yaml)"
            ),
        ),
        other => ("failed", format!("could not create the probe pod: {other}")),
    }
}

enum Waited {
    /// The pod ended in this phase.
    Ended(String),
    /// Waiting stopped: the outcome and why.
    Stopped(&'static str, String),
}

/// Reads the pod until it ends, its image cannot be pulled, or `limit` passes.
async fn wait(live: &LiveSource, ns: &str, name: &str, node: &str, limit: Duration) -> Waited {
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let waited = loop {
        let phase = match live.get_probe_pod(ns, name).await {
            Ok(p) => {
                let status = p.status.as_ref();
                let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
                if phase == "Succeeded" || phase == "Failed" {
                    break Waited::Ended(phase.clone());
                }
                let waiting = status
                    .and_then(|s| s.container_statuses.as_ref())
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
                    .find(|w| {
                        w.reason
                            .as_deref()
                            .is_some_and(|r| PULL_FAILED.contains(&r))
                    });
                if let Some(w) = waiting {
                    break Waited::Stopped(
                        "probe_image_pull_failed",
                        format!(
                            "node {node} cannot pull the probe image ({}: {}); that is evidence in itself: the node's path to that registry fails too",
                            w.reason.clone().unwrap_or_default(),
                            w.message.clone().unwrap_or_default()
                        ),
                    );
                }
                phase
            }
            Err(e) => {
                break Waited::Stopped("failed", format!("could not read the probe pod: {e}"));
            }
        };
        if started.elapsed() >= limit {
            break Waited::Stopped(
                "timeout",
                format!(
                    "the probe pod did not finish within {} s (phase {phase})",
                    limit.as_secs_f64()
                ),
            );
        }
        if tty {
            eprint!(
                "\r\x1b[K[node] probe pod {ns}/{name} on {node}: {phase} ({} s)",
                started.elapsed().as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    };
    if tty {
        eprint!("\r\x1b[K");
    }
    waited
}

/// The names of the pull secrets the pod's spec lists, in its order, empty names left out.
pub(super) fn pull_secret_names(scene: &Scene) -> Vec<String> {
    scene
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The node's report from the ended pod's log.
async fn read_report(
    live: &LiveSource,
    mut out: FromNode,
    ns: &str,
    name: &str,
    node: &str,
    phase: &str,
) -> FromNode {
    let log = match live.probe_pod_log(ns, name).await {
        Ok(l) => l,
        Err(e) => {
            out.outcome = "failed";
            out.detail = format!("the probe pod ended {phase} and its log could not be read: {e}");
            return out;
        }
    };
    let Some(report) = report_in(&log) else {
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        out.outcome = "failed";
        out.detail = format!("the probe pod ended {phase} without a report; its last line: {last}");
        return out;
    };
    out.verdicts = report["verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| NodeVerdict {
            image: v["image"].as_str().unwrap_or("").to_string(),
            cause: v["cause"].as_str().map(str::to_string),
            confidence: v["confidence"].as_str().unwrap_or("").to_string(),
            summary: v["summary"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    out.detail = format!("probed from {node} by pod {ns}/{name}");
    out.report = Some(report);
    out
}

/// The first `node-probe` JSON report in a log (stderr lines may come before it).
fn report_in(log: &str) -> Option<Value> {
    let starts = std::iter::once(0).chain(log.match_indices('\n').map(|(i, _)| i + 1));
    for at in starts {
        if !log[at..].starts_with('{') {
            continue;
        }
        let mut values = serde_json::Deserializer::from_str(&log[at..]).into_iter::<Value>();
        if let Some(Ok(v)) = values.next()
            && v["command"] == "node-probe"
        {
            return Some(v);
        }
    }
    None
}

/// Puts the node's findings into the report: a note and an evidence line per image.
pub(super) fn merge(report: &mut Report, from: FromNode) {
    if from.outcome == "probed" {
        report.notes.push(format!("[node] {}", from.detail));
        for nv in &from.verdicts {
            let said = match &nv.cause {
                Some(c) => format!("{c} ({}): {}", nv.confidence, nv.summary),
                None => format!("pulls: {}", nv.summary),
            };
            let line = format!("[node] probed from {}: {}: {said}", from.node, nv.image);
            for v in report.verdicts.iter_mut().flatten() {
                if v.image == nv.image {
                    v.evidence.push(EvidenceLine {
                        source: "node",
                        text: format!("probed from {}: {said}", from.node),
                        clause: None,
                    });
                }
            }
            report.notes.push(line);
        }
        if from.verdicts.is_empty() {
            report.notes.push(format!(
                "[node] probed from {}: no image to probe",
                from.node
            ));
        }
    } else {
        report.notes.push(format!(
            "[node] {}; the verdict is this machine's",
            from.detail
        ));
    }
    report.from_node = Some(from);
}

#[cfg(test)]
mod tests {
    use super::report_in;

    #[test]
    fn the_report_is_found_after_stderr_lines_and_nothing_else_is_taken_for_it() {
        let log = "WARN something on stderr\n{\"not\": \"ours\"}\n{\n  \"command\": \"node-probe\",\n  \"notes\": []\n}\n";
        assert_eq!(report_in(log).unwrap()["command"], "node-probe");
        assert!(report_in("{\"command\": \"pod\"}\n").is_none());
        assert!(report_in("{\"command\": \"node-pro").is_none());
        assert!(report_in("").is_none());
    }
}
