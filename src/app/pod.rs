//! `pulldoctor pod`: one pod's scene, every container's image, one verdict each.

use super::evidence::{Case, PodContext, containers};
use super::probing::Prober;
use crate::cli::PodArgs;
use crate::config::Common;
use crate::credentials::ImageCredentials;
use crate::diagnose::{self, ProbeFacts};
use crate::registry::{ImageRef, Platform};
use crate::report::{PodSubject, Report, Summary};
use crate::scene::snapshot::SnapshotSource;
use crate::scene::{Lookup, Scene, Source};
use crate::taxonomy::Cause;

/// Gathers the pod's scene and diagnoses each of its images.
pub async fn run(args: &PodArgs, common: &Common) -> crate::Result<Report> {
    let prober = Prober::new(&args.probe, common)?
        .with_node(crate::config::NodeSettings::from_args(&args.node)?);
    if args.from_node.from_node {
        return from_node(args, common, &prober).await;
    }
    let scene = gather(args, common).await?;
    diagnose_scene(&prober, &scene).await
}

/// `--from-node`: this machine's diagnosis, then the node's own probe merged in.
async fn from_node(args: &PodArgs, common: &Common, prober: &Prober) -> crate::Result<Report> {
    let c = &args.cluster;
    if c.snapshot.is_some() {
        return Err(crate::Error::Usage(
            "--from-node runs a probe pod on the node: it needs a live cluster, not --snapshot"
                .into(),
        ));
    }
    super::from_node::node_image(args.from_node.node_image.as_ref())?;
    let t = args.from_node.probe_timeout;
    if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
        return Err(crate::Error::Usage(format!(
            "--probe-timeout must be more than 0 and at most 3600 seconds, got {t}"
        )));
    }
    let live = super::connect(c, common).await?;
    let namespace = live.namespace().to_string();
    let scene = live.pod_scene(&namespace, &args.name).await?;
    let mut report = diagnose_scene(prober, &scene).await?;
    let node = super::from_node::probe(&live, &scene, &args.from_node, common).await;
    super::from_node::merge(&mut report, node);
    Ok(report)
}

/// Diagnoses each image of one gathered scene (`--watch` calls it once per change).
pub(super) async fn diagnose_scene(prober: &Prober, scene: &Scene) -> crate::Result<Report> {
    let mut report = Report::new("pod");
    let ctx = PodContext::of(scene);
    let node = ctx.node.as_ref();
    report.pod = Some(PodSubject {
        namespace: scene.namespace.clone(),
        name: scene.pod_name().to_string(),
        node: node.map(|n| n.name.clone()),
        runtime: node
            .map(|n| n.runtime_version.clone())
            .filter(|r| !r.is_empty()),
        owner: scene.top_owner().map(|o| format!("{}/{}", o.kind, o.name)),
    });
    if let Some(n) = node {
        prober.set_node_runtime_version(&n.runtime_version);
    }
    let (platform, runtime) = (&ctx.platform, ctx.runtime);
    let mut verdicts = Vec::new();
    for c in containers(&scene.pod) {
        let case = Case::of(scene, c);
        let probe = match (
            prober.skip_reason(case.image_ref.as_ref()),
            &case.image_ref,
            &case.creds,
        ) {
            (Some(skip), _, _) => skip,
            (None, Some(r), Some(cr)) => {
                let report = prober
                    .probe(
                        r,
                        super::creds::auths(cr),
                        platform,
                        ctx.platform_known,
                        runtime,
                    )
                    .await?;
                let mut facts = prober.facts(&report);
                let known = (platform, ctx.platform_known);
                prove_candidate(prober, scene, r, cr, known, runtime, &mut facts).await?;
                facts
            }
            _ => ProbeFacts::Off,
        };
        let ev = ctx.evidence(scene, &case, probe);
        verdicts.push(diagnose::diagnose(&ev));
    }
    report.summary = Summary::of(&verdicts);
    report.notes.extend(prober.notes());
    report.insecure_transport = prober.insecure_transport();
    report.node_config = prober.node_configs();
    if let Lookup::Forbidden(m) = &scene.namespace_pull_secrets {
        report.notes.push(format!(
            "could not list secrets in {}: {m}",
            scene.namespace
        ));
    }
    report.verdicts = Some(verdicts);
    Ok(report)
}

/// When the registry wants credentials the pod lacks, and a secret it should carry exists,
/// probes once more with that secret: a pass proves the suggested fix before it is applied.
async fn prove_candidate(
    prober: &Prober,
    scene: &Scene,
    image: &ImageRef,
    creds: &ImageCredentials,
    (platform, platform_known): (&Platform, bool),
    runtime: crate::taxonomy::Runtime,
    facts: &mut ProbeFacts,
) -> crate::Result<()> {
    let ProbeFacts::Ran(result) = facts else {
        return Ok(());
    };
    let auth_refused = matches!(
        result.cause,
        Some(Cause::AuthRequired | Cause::AuthOrNotFound | Cause::AuthInvalidCredentials)
    );
    if !auth_refused {
        return Ok(());
    }
    let Some((label, with)) = super::creds::candidate(scene, image, creds) else {
        return Ok(());
    };
    let report = prober
        .probe(
            image,
            super::creds::auths(&with),
            platform,
            platform_known,
            runtime,
        )
        .await?;
    result.requests += report.requests;
    result.steps.push(format!(
        "with secret {label} (not on the pod): {}",
        if report.pullable() {
            "the registry serves the image"
        } else {
            "still refused"
        }
    ));
    if report.pullable() {
        result.working_credential = Some(format!("secret {label} (not yet referenced by the pod)"));
    }
    Ok(())
}

/// Reads the scene from the snapshot, or from the live cluster kubectl-style.
async fn gather(args: &PodArgs, common: &Common) -> crate::Result<Scene> {
    let c = &args.cluster;
    if let Some(path) = &c.snapshot {
        let snap = SnapshotSource::load_for_pod(path, c.namespace.as_deref(), &args.name)?;
        let namespace = c
            .namespace
            .clone()
            .or_else(|| snap.namespace_of(&args.name).map(str::to_string))
            .unwrap_or_else(|| "default".to_string());
        return snap.pod_scene(&namespace, &args.name).await;
    }
    let live = super::connect(c, common).await?;
    let namespace = live.namespace().to_string();
    live.pod_scene(&namespace, &args.name).await
}
