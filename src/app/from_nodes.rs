//! `scan --from-nodes`: the cluster as the engine — one probe pod per node with failing pods
//! (at most `--node-concurrency` at once), each probing the distinct images failing there, so
//! the report says where an image fails and where it pulls.
//!
//! Each probe is `pod --from-node`'s (`from_node::probe`), run for a stand-in pod whose
//! containers are the failing images of every pod on that node that pulls with the same
//! credentials: the same namespace and the same pull secrets, which the probe pod mounts as
//! kubelet would use them. A node whose failing pods pull with two sets of secrets is probed
//! once per set, so no image is judged with another pod's secrets. Memory and API requests
//! grow with those probes, not with the pods: one pod spec, a poll every 250 ms and one log
//! per probe.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Container;

use crate::cli::{FromNodeArgs, FromNodesArgs};
use crate::config::Common;
use crate::report::{FromNode, Report};
use crate::scene::Scene;
use crate::scene::live::LiveSource;

/// Probes from every node that runs one of `failing` (`namespace`, `name`).
pub(super) async fn probe(
    live: &LiveSource,
    scenes: &[Scene],
    failing: &[(String, String)],
    args: &FromNodesArgs,
    common: &Common,
) -> Vec<FromNode> {
    let mut per_node: BTreeMap<Credentials, Scene> = BTreeMap::new();
    for scene in scenes {
        let key = (scene.namespace.clone(), scene.pod_name().to_string());
        if !failing.contains(&key) {
            continue;
        }
        let Some(node) = scene.pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let images: Vec<String> = images(scene);
        let group = credentials(node, scene, args.probe_namespace.as_deref());
        let stand_in = per_node.entry(group).or_insert_with(|| {
            let mut s = scene.clone();
            if let Some(spec) = s.pod.spec.as_mut() {
                spec.containers.clear();
                spec.init_containers = None;
                spec.ephemeral_containers = None;
            }
            s
        });
        if let Some(spec) = stand_in.pod.spec.as_mut() {
            for image in images {
                if !spec
                    .containers
                    .iter()
                    .any(|c| c.image.as_deref() == Some(&image))
                {
                    spec.containers.push(Container {
                        name: format!("image-{}", spec.containers.len()),
                        image: Some(image),
                        ..Container::default()
                    });
                }
            }
        }
    }
    let one = FromNodeArgs {
        from_node: true,
        probe_namespace: args.probe_namespace.clone(),
        node_image: args.node_image.clone(),
        probe_timeout: args.probe_timeout,
        node_credentials: args.node_credentials,
    };
    let runs = per_node
        .values()
        .map(|scene| super::from_node::probe(live, scene, &one, common));
    let mut out: Vec<FromNode> = futures_util::stream::iter(runs)
        .buffer_unordered(args.node_concurrency.max(1))
        .collect()
        .await;
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// A node and the pull credentials a probe pod there can hold for a failing pod: its
/// namespace and its pull secrets' names (sorted), or neither when the probe runs in another
/// namespace (`--probe-namespace`), where the pod's secrets cannot be mounted.
type Credentials = (String, String, Vec<String>);

fn credentials(node: String, scene: &Scene, probe_namespace: Option<&str>) -> Credentials {
    if probe_namespace.is_some_and(|p| p != scene.namespace) {
        return (node, String::new(), Vec::new());
    }
    let mut secrets = super::from_node::pull_secret_names(scene);
    secrets.sort();
    secrets.dedup();
    (node, scene.namespace.clone(), secrets)
}

/// Every image of the pod's containers.
fn images(scene: &Scene) -> Vec<String> {
    let Some(spec) = &scene.pod.spec else {
        return Vec::new();
    };
    let init = spec.init_containers.iter().flatten();
    init.chain(spec.containers.iter())
        .filter_map(|c| c.image.clone())
        .collect()
}

/// One note per image (where it fails, with the node's cause, and where it pulls), one per
/// node that could not be probed, and every node's result under `from_nodes`.
pub(super) fn merge(report: &mut Report, nodes: Vec<FromNode>) {
    let probed: Vec<&FromNode> = nodes.iter().filter(|n| n.outcome == "probed").collect();
    let mut images: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for n in &probed {
        let at = label(n, &nodes);
        for v in &n.verdicts {
            let (fails, pulls) = images.entry(v.image.as_str()).or_default();
            match &v.cause {
                Some(c) => fails.push(format!("{at}: {c}")),
                None => pulls.push(at.clone()),
            }
        }
    }
    // A node probed once per set of pull secrets counts once per probe.
    let mut names: Vec<&str> = probed.iter().map(|n| n.node.as_str()).collect();
    names.sort();
    names.dedup();
    let (what, all) = if names.len() < probed.len() {
        let p = "probes (one per node and set of pull secrets)";
        (p, p)
    } else {
        ("nodes probed", "node(s) probed")
    };
    for (image, (fails, pulls)) in images {
        let total = fails.len() + pulls.len();
        let line = if fails.is_empty() {
            format!("[node] {image} pulls on all {total} {all}")
        } else if pulls.is_empty() {
            format!(
                "[node] {image} fails on all {total} {all} ({})",
                fails.join(", ")
            )
        } else {
            format!(
                "[node] {image} fails on {} of {total} {what} ({}); pulls on {}",
                fails.len(),
                fails.join(", "),
                pulls.join(", ")
            )
        };
        report.notes.push(line);
    }
    for n in nodes.iter().filter(|n| n.outcome != "probed") {
        report
            .notes
            .push(format!("[node] {}: {}", n.node, n.detail));
    }
    report.from_nodes = nodes;
}

/// The node's name, and when the node was probed more than once (one probe per set of pull
/// credentials), the namespace and secrets this probe held: `node-a (shop, secrets regcred)`.
fn label(n: &FromNode, all: &[FromNode]) -> String {
    if all.iter().filter(|o| o.node == n.node).count() < 2 {
        return n.node.clone();
    }
    let secrets = if n.pull_secrets.is_empty() {
        "no pull secrets".to_string()
    } else {
        format!("secrets {}", n.pull_secrets.join(", "))
    };
    format!("{} ({}, {secrets})", n.node, n.namespace)
}
