//! `pulldoctor scan`: every pull failure in a namespace or the cluster, grouped by cause.
//!
//! Pods are listed once (paged) and their events once; each distinct (registry, repository,
//! reference, credential set, platform) is probed once and the answer shared by every pod that
//! needs it, with at most `--concurrency` probes in flight. Output groups by cause and registry
//! and names the workloads (owners), not every replica.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;

use futures::StreamExt;

use super::evidence::{containers, fix_target, node_facts, symptom_for};
use super::probing::{self, Prober};
use crate::cli::ScanArgs;
use crate::config::Common;
use crate::diagnose::{self, Evidence, ProbeFacts, Verdict};
use crate::registry::{self, ImageRef, Platform};
use crate::report::{Group, Report, Summary};
use crate::scene::live::{LiveOptions, LiveSource};
use crate::scene::snapshot::SnapshotSource;
use crate::scene::{Scene, Source};
use crate::taxonomy::Runtime;

/// One distinct probe: what is asked, with which credentials, for which platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProbeKey {
    image: String,
    credentials: Vec<String>,
    platform: String,
}

/// A probe to run and everything it needs.
struct ProbeJob {
    image: ImageRef,
    auths: Vec<registry::Auth>,
    platform: Platform,
    runtime: Runtime,
}

/// One failing container waiting for its verdict.
struct Pending {
    evidence: Evidence,
    probe_key: Option<ProbeKey>,
    workload: String,
}

/// Lists failing pods and diagnoses them all.
pub async fn run(args: &ScanArgs, common: &Common) -> crate::Result<Report> {
    let scenes = gather(args, common).await?;
    let prober = Prober::new(&args.probe, common)?;
    let mut jobs: HashMap<ProbeKey, ProbeJob> = HashMap::new();
    let mut pending = Vec::new();
    for scene in &scenes {
        collect(scene, &prober, &mut jobs, &mut pending);
    }
    let results = run_probes(&prober, jobs, args.concurrency.max(1)).await?;
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut total = 0;
    for mut p in pending {
        if let Some(k) = &p.probe_key
            && let Some(facts) = results.get(k)
        {
            p.evidence.probe = facts.clone();
        }
        let verdict = diagnose::diagnose(&p.evidence);
        if !verdict.is_problem() {
            continue;
        }
        total += 1;
        add_to_group(&mut groups, verdict, &p);
    }
    let mut report = Report::new("scan");
    let groups: Vec<Group> = groups.into_values().collect();
    report.summary = Summary {
        problems: total,
        healthy: 0,
    };
    report.notes.extend(prober.notes());
    for s in &scenes {
        for u in &s.unreadable {
            let line = format!("could not read {u}");
            if !report.notes.contains(&line) {
                report.notes.push(line);
            }
        }
    }
    report.groups = Some(groups);
    Ok(report)
}

fn add_to_group(groups: &mut BTreeMap<(String, String), Group>, verdict: Verdict, p: &Pending) {
    let cause = verdict.cause.unwrap_or(crate::taxonomy::Cause::Unknown);
    let registry = p
        .evidence
        .image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_default();
    let g = groups
        .entry((cause.id().to_string(), registry.clone()))
        .or_insert_with(|| Group {
            cause,
            registry,
            pods: 0,
            workloads: Vec::new(),
            verdict,
        });
    g.pods += 1;
    if !g.workloads.contains(&p.workload) {
        g.workloads.push(p.workload.clone());
    }
}

/// Builds evidence for every failing container of a scene and registers its probe.
fn collect(
    scene: &Scene,
    prober: &Prober,
    jobs: &mut HashMap<ProbeKey, ProbeJob>,
    pending: &mut Vec<Pending>,
) {
    let node = scene.node.found().map(node_facts);
    let runtime = node.as_ref().map(|n| n.runtime).unwrap_or_default();
    let platform = node
        .as_ref()
        .and_then(|n| Platform::parse(&n.platform).ok())
        .unwrap_or_else(|| Platform::new("linux", "amd64", None));
    let target = fix_target(scene);
    let workload = format!("{}/{} {}", scene.namespace, target.kind, target.name);
    for c in containers(&scene.pod) {
        let symptom = symptom_for(scene, &c);
        if symptom.is_none() && !c.pull_failing() {
            continue;
        }
        let image_ref = ImageRef::parse(&c.image).ok();
        let creds = image_ref
            .as_ref()
            .map(|r| super::creds::for_scene(scene, r));
        let mut probe = ProbeFacts::Off;
        let mut probe_key = None;
        match (prober.skip_reason(image_ref.as_ref()), &image_ref, &creds) {
            (Some(skip), _, _) => probe = skip,
            (None, Some(r), Some(cr)) => {
                let auths = super::creds::auths(cr);
                let key = ProbeKey {
                    image: r.canonical(),
                    credentials: cr
                        .tries
                        .iter()
                        .map(|t| format!("{}|{}", t.source, t.key))
                        .collect(),
                    platform: platform.to_string(),
                };
                jobs.entry(key.clone()).or_insert_with(|| ProbeJob {
                    image: r.clone(),
                    auths,
                    platform: platform.clone(),
                    runtime,
                });
                probe_key = Some(key);
            }
            _ => {}
        }
        let evidence = Evidence {
            image: c.image.clone(),
            credentials: creds
                .as_ref()
                .zip(image_ref.as_ref())
                .map(|(cr, r)| super::creds::facts(cr, r)),
            image_ref,
            container: Some(c.info.clone()),
            symptom,
            probe,
            node: node.clone(),
            target: target.clone(),
            namespace: scene.namespace.clone(),
            healthy: false,
            unreadable: scene.unreadable.clone(),
        };
        pending.push(Pending {
            evidence,
            probe_key,
            workload: workload.clone(),
        });
    }
}

/// Runs the distinct probes, `concurrency` at a time, with a progress line on a terminal.
async fn run_probes(
    prober: &Prober,
    jobs: HashMap<ProbeKey, ProbeJob>,
    concurrency: usize,
) -> crate::Result<HashMap<ProbeKey, ProbeFacts>> {
    let total = jobs.len();
    let progress = std::io::stderr().is_terminal() && total > 0;
    let mut done = 0;
    let mut out = HashMap::new();
    let mut stream = futures::stream::iter(jobs.into_iter().map(|(key, job)| async move {
        let r = prober
            .probe(&job.image, job.auths, &job.platform, job.runtime)
            .await;
        (key, r)
    }))
    .buffer_unordered(concurrency);
    while let Some((key, result)) = stream.next().await {
        done += 1;
        if progress {
            eprint!("\rprobing registries: {done}/{total}");
        }
        out.insert(key, probing::facts(&result?));
    }
    if progress {
        eprintln!();
    }
    Ok(out)
}

/// Reads failing pods' scenes from the snapshot or the live cluster.
async fn gather(args: &ScanArgs, common: &Common) -> crate::Result<Vec<Scene>> {
    let c = &args.cluster;
    let all = args.all_namespaces;
    if let Some(path) = &c.snapshot {
        let snap = SnapshotSource::load(path)?;
        let ns = if all {
            None
        } else {
            Some(c.namespace.clone().unwrap_or_else(|| "default".into()))
        };
        return snap.failing_pods(ns.as_deref()).await;
    }
    let opts = LiveOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
        namespace: c.namespace.clone(),
        timeout: common.timeout,
        ..LiveOptions::default()
    };
    let live = LiveSource::connect(&opts).await?;
    let ns = live.namespace().to_string();
    live.failing_pods(if all { None } else { Some(&ns) }).await
}
