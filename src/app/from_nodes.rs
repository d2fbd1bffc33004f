//! `scan --from-nodes`: the cluster as the engine — one probe pod per node with failing pods
//! (at most `--node-concurrency` at once), each probing the distinct images failing there, so
//! the report says where an image fails and where it pulls.
//!
//! Each node's probe is `pod --from-node`'s (`from_node::probe`), run for a stand-in of the
//! node's first failing pod whose containers are the node's failing images: its namespace
//! and pull secrets are that pod's. Memory and API requests grow with the nodes probed, not
//! with the pods: one pod spec, a poll every 250 ms and one log per node.

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
    let mut per_node: BTreeMap<String, Scene> = BTreeMap::new();
    for scene in scenes {
        let key = (scene.namespace.clone(), scene.pod_name().to_string());
        if !failing.contains(&key) {
            continue;
        }
        let Some(node) = scene.pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let images: Vec<String> = images(scene);
        let stand_in = per_node.entry(node).or_insert_with(|| {
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
    let mut images: BTreeMap<&str, (Vec<String>, Vec<&str>)> = BTreeMap::new();
    for n in &probed {
        for v in &n.verdicts {
            let (fails, pulls) = images.entry(v.image.as_str()).or_default();
            match &v.cause {
                Some(c) => fails.push(format!("{}: {c}", n.node)),
                None => pulls.push(n.node.as_str()),
            }
        }
    }
    for (image, (fails, pulls)) in images {
        let total = fails.len() + pulls.len();
        let line = if fails.is_empty() {
            format!("[node] {image} pulls on all {total} node(s) probed")
        } else if pulls.is_empty() {
            format!(
                "[node] {image} fails on all {total} node(s) probed ({})",
                fails.join(", ")
            )
        } else {
            format!(
                "[node] {image} fails on {} of {total} nodes probed ({}); pulls on {}",
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
