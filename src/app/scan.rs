//! `pulldoctor scan`: every pull failure in a namespace or the cluster, grouped by cause.
//!
//! Pods are listed once (paged) and their events once; each distinct (registry, repository,
//! reference, credential set, platform) is probed once and the answer shared by every pod that
//! needs it, with at most `--concurrency` probes in flight. Output groups by cause, registry and
//! fix (two stories with one cause id are two groups) and names the workloads (owners), not
//! every replica; every failing pod is also listed with its own verdicts, for automation.
//!
//! The credential set is what kubelet would send (user and password, in its order), not where
//! it came from: the same `regcred` copied into fifty namespaces is one probe. The shared
//! answer is then re-labelled with each pod's own secret names, so no pod's evidence names
//! another namespace's secret.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::IsTerminal;

use futures_util::StreamExt;

use super::evidence::{Case, PodContext, containers};
use super::probing::Prober;
use crate::cli::ScanArgs;
use crate::config::Common;
use crate::diagnose::{self, Evidence, ProbeFacts, Verdict};
use crate::redacted::Redacted;
use crate::registry::{self, ImageRef, Platform};
use crate::report::{FailingPod, Group, Report, ScanTotals, Summary, WorkloadFixes};
use crate::scene::selector::PodSelectors;
use crate::scene::snapshot::SnapshotSource;
use crate::scene::{Scene, Source};
use crate::taxonomy::Runtime;

/// One credential as the registry sees it: user and password, whatever secret held them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentCredential {
    username: String,
    password: Redacted,
}

// By hand, as `Redacted` has no `Hash`; the password is hashed, never printed.
impl Hash for SentCredential {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.username.hash(state);
        self.password.expose().hash(state);
    }
}

/// One distinct probe: what is asked, with which credentials, for which platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProbeKey {
    image: String,
    credentials: Vec<SentCredential>,
    platform: String,
}

/// A probe to run and everything it needs.
struct ProbeJob {
    image: ImageRef,
    auths: Vec<registry::Auth>,
    platform: Platform,
    /// The node's platform is known, so single-platform images are checked against it.
    platform_known: bool,
    runtime: Runtime,
}

/// One failing container waiting for its verdict.
struct Pending {
    evidence: Evidence,
    probe_key: Option<ProbeKey>,
    /// This pod's own credential labels, in the order of the probe key's credentials.
    labels: Vec<String>,
    pod: (String, String),
    workload: String,
}

/// A group being filled: the report's group and the distinct pods behind its count.
struct Filling {
    group: Group,
    pods: BTreeSet<(String, String)>,
}

/// Lists failing pods and diagnoses them all.
pub async fn run(args: &ScanArgs, common: &Common) -> crate::Result<Report> {
    let prober = Prober::new(&args.probe, common)?
        .with_node(crate::config::NodeSettings::from_args(&args.node)?);
    if args.from_nodes.from_nodes && args.cluster.snapshot.is_some() {
        return Err(crate::Error::Usage(
            "--from-nodes runs probe pods on the nodes: it needs a live cluster, not --snapshot"
                .into(),
        ));
    }
    if args.from_nodes.from_nodes {
        super::from_node::node_image(args.from_nodes.node_image.as_ref())?;
    }
    if args.from_nodes.from_nodes && args.node.node_root.is_some() {
        return Err(crate::Error::Usage(
            "--from-nodes reads each node's own files on the node; --node-root reads one copy \
             here: choose one"
                .into(),
        ));
    }
    let scenes = gather(args, common).await?;
    let mut jobs: HashMap<ProbeKey, ProbeJob> = HashMap::new();
    let mut pending = Vec::new();
    for scene in &scenes {
        collect(scene, &prober, &mut jobs, &mut pending);
    }
    let labels: HashMap<ProbeKey, Vec<String>> = jobs
        .iter()
        .map(|(k, j)| (k.clone(), j.auths.iter().map(|a| a.label.clone()).collect()))
        .collect();
    // Pods in name order, whatever order the API or the file gave them: a group's
    // representative and its lists must not depend on it.
    pending.sort_by(|a, b| a.pod.cmp(&b.pod));
    let (probes, waiting) = (jobs.len(), pending.len());
    let results = run_probes(&prober, jobs, args.concurrency.max(1)).await?;
    let mut groups: BTreeMap<GroupKey, Filling> = BTreeMap::new();
    let mut failing: BTreeMap<(String, String), FailingPod> = BTreeMap::new();
    for mut p in pending {
        if let Some(k) = &p.probe_key
            && let Some(facts) = results.get(k)
        {
            let from = labels.get(k).map(Vec::as_slice).unwrap_or_default();
            p.evidence.probe = relabel(facts, from, &p.labels);
        }
        let verdict = diagnose::diagnose(&p.evidence);
        if !verdict.is_problem() {
            continue;
        }
        add_to_group(&mut groups, verdict.clone(), &p);
        failing
            .entry(p.pod.clone())
            .or_insert_with(|| FailingPod {
                namespace: p.pod.0.clone(),
                name: p.pod.1.clone(),
                workload: p.workload.clone(),
                verdicts: Vec::new(),
            })
            .verdicts
            .push(verdict);
    }
    let mut report = Report::new("scan");
    let groups: Vec<Group> = groups
        .into_values()
        .map(|f| Group {
            pods: f.pods.len(),
            pod_names: f.pods.iter().map(|(ns, n)| format!("{ns}/{n}")).collect(),
            ..f.group
        })
        .collect();
    let workloads: BTreeSet<&str> = failing.values().map(|p| p.workload.as_str()).collect();
    report.totals = Some(ScanTotals {
        groups: groups.len(),
        pods: failing.len(),
        workloads: workloads.len(),
    });
    report.summary = Summary {
        problems: failing.len(),
        healthy: 0,
        ..Summary::default()
    };
    if probes > 0 {
        report.notes.push(format!(
            "{probes} registry probe(s) for {waiting} failing container(s): one per distinct registry, repository, reference, credential set and platform"
        ));
    }
    report.notes.extend(prober.notes());
    report.insecure_transport = prober.insecure_transport();
    report.node_config = prober.node_configs();
    for s in &scenes {
        for u in &s.unreadable {
            let line = format!("could not read {u}");
            if !report.notes.contains(&line) {
                report.notes.push(line);
            }
        }
    }
    report.groups = Some(groups);
    let failing_keys: Vec<(String, String)> = failing.keys().cloned().collect();
    report.failing_pods = Some(failing.into_values().collect());
    if args.from_nodes.from_nodes {
        // The pods' own view of the scene first; then the nodes'.
        let live = super::connect(&args.cluster, common).await?;
        let nodes =
            super::from_nodes::probe(&live, &scenes, &failing_keys, &args.from_nodes, common).await;
        super::from_nodes::merge(&mut report, nodes);
    }
    Ok(report)
}

/// The shared probe answer in this pod's words: the probed job's credential labels (another
/// pod's secrets, maybe in another namespace) replaced by this pod's own, position by position.
fn relabel(facts: &ProbeFacts, from: &[String], to: &[String]) -> ProbeFacts {
    let ProbeFacts::Ran(r) = facts else {
        return facts.clone();
    };
    let pairs: Vec<(&String, &String)> = from.iter().zip(to).filter(|(a, b)| a != b).collect();
    if pairs.is_empty() {
        return facts.clone();
    }
    let swap = |text: &str| {
        pairs
            .iter()
            .fold(text.to_string(), |t, (a, b)| t.replace(a.as_str(), b))
    };
    let mut r = r.clone();
    r.detail = swap(&r.detail);
    r.steps = r.steps.iter().map(|s| swap(s)).collect();
    r.working_credential = r.working_credential.as_deref().map(swap);
    ProbeFacts::Ran(r)
}

/// A group: cause, registry, and the fix with each pod's own names set aside.
type GroupKey = (String, String, String);

/// The fix in words any pod of the same story shares: this pod's own names (image, namespace,
/// workload and its kind, pod, container, service account) replaced by their role, so
/// "reference regcred from Deployment web" and "… from StatefulSet db" match, while "recreate
/// the pod so admission copies the account's secrets" does not.
fn fix_shape(verdict: &Verdict, p: &Pending) -> String {
    let ev = &p.evidence;
    let base = ev
        .image
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map(|(b, _)| b);
    let container = ev.container.as_ref().map(|c| c.name.as_str());
    let kind = ev.target.kind.to_ascii_lowercase();
    let mut names: Vec<(&str, &str)> = [
        ("image", Some(ev.image.as_str())),
        ("Kind", Some(ev.target.kind.as_str())),
        ("kind", Some(kind.as_str())),
        ("repository", base),
        ("namespace", Some(ev.namespace.as_str())),
        ("workload", Some(ev.target.name.as_str())),
        ("pod", Some(p.pod.1.as_str())),
        ("container", container),
        ("account", Some(ev.target.service_account.as_str())),
    ]
    .into_iter()
    .filter_map(|(role, name)| Some((role, name.filter(|n| !n.is_empty())?)))
    .collect();
    // Longest first, so a pod named like its image's repository cannot split the image.
    names.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
    let text: Vec<String> = verdict
        .fixes
        .iter()
        .map(|f| format!("{:?}\n{}\n{}", f.kind, f.title, f.text))
        .collect();
    names.iter().fold(text.join("\n"), |t, (role, name)| {
        t.replace(name, &format!("\u{0}{role}\u{0}"))
    })
}

fn add_to_group(groups: &mut BTreeMap<GroupKey, Filling>, verdict: Verdict, p: &Pending) {
    let cause = verdict.cause.unwrap_or(crate::taxonomy::Cause::Unknown);
    let registry = p
        .evidence
        .image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_default();
    let key = (
        cause.id().to_string(),
        registry.clone(),
        fix_shape(&verdict, p),
    );
    let fixes = verdict.fixes.clone();
    let f = groups.entry(key).or_insert_with(|| Filling {
        group: Group {
            cause,
            registry,
            pods: 0,
            workloads: Vec::new(),
            verdict,
            pod_names: Vec::new(),
            fixes_by_workload: Vec::new(),
        },
        pods: BTreeSet::new(),
    });
    f.pods.insert(p.pod.clone());
    if !f.group.workloads.contains(&p.workload) {
        f.group.workloads.push(p.workload.clone());
    }
    let sets = &mut f.group.fixes_by_workload;
    match sets.iter_mut().find(|s| s.fixes == fixes) {
        Some(s) if s.workloads.contains(&p.workload) => {}
        Some(s) => s.workloads.push(p.workload.clone()),
        None => sets.push(WorkloadFixes {
            workloads: vec![p.workload.clone()],
            fixes,
        }),
    }
}

/// Builds evidence for every failing container of a scene and registers its probe.
fn collect(
    scene: &Scene,
    prober: &Prober,
    jobs: &mut HashMap<ProbeKey, ProbeJob>,
    pending: &mut Vec<Pending>,
) {
    let ctx = PodContext::of(scene);
    let (target, platform, runtime) = (&ctx.target, &ctx.platform, ctx.runtime);
    let workload = format!("{}/{} {}", scene.namespace, target.kind, target.name);
    for c in containers(&scene.pod) {
        let case = Case::of(scene, c);
        if case.healthy() {
            continue;
        }
        let (image_ref, creds) = (&case.image_ref, &case.creds);
        let mut probe = ProbeFacts::Off;
        let mut probe_key = None;
        let mut labels = Vec::new();
        match (
            prober.skip_reason_on(image_ref.as_ref(), runtime),
            image_ref,
            creds,
        ) {
            (Some(skip), _, _) => probe = skip,
            (None, Some(r), Some(cr)) => {
                let auths = super::creds::auths(cr);
                let key = ProbeKey {
                    image: r.canonical(),
                    credentials: cr
                        .tries
                        .iter()
                        .map(|t| SentCredential {
                            username: t.username.clone(),
                            password: t.password.clone(),
                        })
                        .collect(),
                    platform: if ctx.platform_known {
                        platform.to_string()
                    } else {
                        format!("{platform} (assumed)")
                    },
                };
                labels = auths.iter().map(|a| a.label.clone()).collect();
                jobs.entry(key.clone()).or_insert_with(|| ProbeJob {
                    image: r.clone(),
                    auths,
                    platform: platform.clone(),
                    platform_known: ctx.platform_known,
                    runtime,
                });
                probe_key = Some(key);
            }
            _ => {}
        }
        let evidence = ctx.evidence(scene, &case, probe);
        pending.push(Pending {
            evidence,
            probe_key,
            labels,
            pod: (scene.namespace.clone(), scene.pod_name().to_string()),
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
    let mut stream = futures_util::stream::iter(jobs.into_iter().map(|(key, job)| async move {
        let r = prober
            .probe(
                &job.image,
                job.auths,
                &job.platform,
                job.platform_known,
                job.runtime,
            )
            .await;
        (key, r)
    }))
    .buffer_unordered(concurrency);
    while let Some((key, result)) = stream.next().await {
        done += 1;
        if progress {
            eprint!("\rprobing registries: {done}/{total}");
        }
        out.insert(key, prober.facts(&result?));
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
    let sel = &args.select;
    let selectors = PodSelectors::parse(sel.selector.as_deref(), sel.field_selector.as_deref())
        .map_err(|e| crate::Error::Usage(e.to_string()))?;
    if let Some(path) = &c.snapshot {
        let snap = SnapshotSource::load_for_scan(path)?;
        let ns = if all {
            None
        } else {
            Some(c.namespace.clone().unwrap_or_else(|| "default".into()))
        };
        // The API server selects live pods; a snapshot's are selected here, the same way.
        let mut scenes = snap.failing_pods(ns.as_deref()).await?;
        scenes.retain(|s| selectors.matches(&s.pod));
        return Ok(scenes);
    }
    let live = super::connect_selecting(c, common, selectors).await?;
    let ns = live.namespace().to_string();
    live.failing_pods(if all { None } else { Some(&ns) }).await
}
