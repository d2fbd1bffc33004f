//! `pulldoctor pod NAME --watch`: the pod diagnosed again each time its status or events
//! change, one line per container whose verdict changed, as `kubectl get -w` prints one line
//! per change instead of the whole table again.
//!
//! The pod and its events are read every `--watch-interval` (a bounded poll: plain GETs, so an
//! RBAC role that may `get`/`list` but not `watch` is enough); the registry is probed again only
//! when something changed. The watch ends by itself when every image has pulled (exit 0);
//! Ctrl-C ends it with the last verdict's exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::Outcome;
use super::probing::Prober;
use crate::cli::{OutputFormat, PodArgs};
use crate::config::Common;
use crate::diagnose::verdict::{Confidence, Verdict};
use crate::report::{self, Report};
use crate::scene::{Scene, Source};
use crate::{Error, Result};

/// What one line reports about a container; a change of any part prints a line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    image: String,
    cause: String,
    confidence: &'static str,
}

/// Watches one pod until its images pull or the user stops it.
pub async fn run(args: &PodArgs, common: &Common) -> Result<Outcome> {
    if args.cluster.snapshot.is_some() {
        return Err(Error::Usage(
            "--watch follows a live cluster; a --snapshot file never changes (drop one of them)"
                .into(),
        ));
    }
    let every = args.watch.watch_interval;
    if !(every.is_finite() && (0.1..=3600.0).contains(&every)) {
        return Err(Error::Usage(format!(
            "--watch-interval must be between 0.1 and 3600 seconds, got {every}"
        )));
    }
    let every = Duration::from_secs_f64(every);
    // Listening for Ctrl-C starts before the first read, so it never kills the process.
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let prober = Prober::new(&args.probe, common)?;
    let live = super::connect(&args.cluster, common).await?;
    let namespace = live.namespace().to_string();
    let mut shown: BTreeMap<String, Seen> = BTreeMap::new();
    let mut last_state: Option<String> = None;
    let mut last: Option<Outcome> = None;
    loop {
        let step = async {
            let scene = live.pod_scene(&namespace, &args.name).await?;
            let state = fingerprint(&scene);
            if last_state.as_deref() == Some(state.as_str()) {
                return Ok(None);
            }
            let mut report = super::pod::diagnose_scene(&prober, &scene).await?;
            report.scrub_secrets();
            Ok::<_, Error>(Some((state, report)))
        };
        let done = tokio::select! {
            _ = &mut interrupted => return interrupted_with(last),
            got = step => got?,
        };
        if let Some((state, report)) = done {
            last_state = Some(state);
            print_changes(&report, &mut shown, common.output)?;
            last = Some(if report.has_problems() {
                Outcome::ProblemFound
            } else {
                Outcome::Healthy
            });
            if all_pulled(&report) {
                return Ok(Outcome::Healthy);
            }
        }
        tokio::select! {
            _ = &mut interrupted => return interrupted_with(last),
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Ctrl-C: the last verdict's outcome, or exit 2 when there was none yet.
fn interrupted_with(last: Option<Outcome>) -> Result<Outcome> {
    last.ok_or_else(|| Error::Usage("interrupted before the first verdict".into()))
}

/// Every container's image is pulled (kubelet pulled it, or the probe served it).
fn all_pulled(report: &Report) -> bool {
    report
        .verdicts
        .as_ref()
        .is_some_and(|v| v.iter().all(|v| v.confidence == Confidence::Healthy))
}

/// What a change looks like: the pod's and its events' resource versions and counts.
fn fingerprint(scene: &Scene) -> String {
    let mut parts = vec![
        scene
            .pod
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default(),
    ];
    for e in &scene.events {
        parts.push(format!(
            "{}:{}:{}",
            e.metadata.name.as_deref().unwrap_or(""),
            e.metadata.resource_version.as_deref().unwrap_or(""),
            e.count.unwrap_or(0)
        ));
    }
    parts.sort();
    parts.join(",")
}

/// Prints one line per container whose verdict differs from the last line shown for it.
fn print_changes(
    report: &Report,
    shown: &mut BTreeMap<String, Seen>,
    output: OutputFormat,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for v in report.verdicts.iter().flatten() {
        let key = v
            .container
            .as_ref()
            .map_or_else(|| v.image.clone(), |c| c.name.clone());
        let seen = seen_of(v);
        if shown.get(&key) == Some(&seen) {
            continue;
        }
        let line = line_of(&key, &seen, output);
        shown.insert(key, seen);
        let written = writeln!(out, "{line}").and_then(|_| out.flush());
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.map_err(Error::Output)?,
        }
    }
    Ok(())
}

fn seen_of(v: &Verdict) -> Seen {
    Seen {
        image: v.image.clone(),
        cause: v.cause.map_or("none".to_string(), |c| c.id().to_string()),
        confidence: v.confidence.id(),
    }
}

/// `12:04:31  IMAGE  CAUSE  CONFIDENCE`, or one JSON object with `-o json`.
fn line_of(container: &str, s: &Seen, output: OutputFormat) -> String {
    let time = clock();
    if output == OutputFormat::Json {
        return serde_json::json!({
            "time": time, "container": container, "image": s.image,
            "cause": s.cause, "confidence": s.confidence,
        })
        .to_string();
    }
    let image = report::inert(&s.image, report::Layout::Line);
    format!("{time}  {image}  {}  {}", s.cause, s.confidence)
}

/// The time of day in UTC, `HH:MM:SSZ`.
fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!("{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}
