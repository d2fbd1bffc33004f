//! The plain-text renderer: one fact per line, `key: value`, for grep and for logs.

use std::io::Write;

use super::Report;
use crate::diagnose::{Fix, Verdict};

/// Draws the report as plain lines.
pub fn render(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(p) = &report.pod {
        writeln!(out, "pod: {}/{}", p.namespace, p.name)?;
    }
    for s in report.symptoms.iter().flatten() {
        let image = s.image.as_deref().unwrap_or("-");
        writeln!(
            out,
            "symptom: {image} cause={} runtime={}",
            s.cause,
            s.runtime.id()
        )?;
        writeln!(out, "  meaning: {}", s.meaning)?;
        // The clause the cause was read from, whole: the words a reader checks the cause by.
        if let Some(d) = &s.detail {
            writeln!(out, "  says: {d}")?;
        }
        writeln!(out, "  next: {}", s.next_step)?;
    }
    for v in report.verdicts.iter().flatten() {
        verdict(v, out)?;
        for section in v.fix_sections() {
            if let Some(when) = section.when {
                let cause = section.cause.map(|c| c.id()).unwrap_or("-");
                writeln!(out, "  {when}, for {cause}:")?;
            }
            fixes(section.fixes, "fix", out)?;
        }
    }
    for g in report.groups.iter().flatten() {
        writeln!(
            out,
            "group: cause={} registry={} pods={} workloads={}",
            g.cause.id(),
            if g.registry.is_empty() {
                "-"
            } else {
                &g.registry
            },
            g.pods,
            g.workloads.join(", ")
        )?;
        for p in &g.pod_names {
            writeln!(out, "  pod: {p}")?;
        }
        verdict(&g.verdict, out)?;
        for set in &g.fixes_by_workload {
            fixes(
                &set.fixes,
                &format!("fix for {}", set.workloads.join(", ")),
                out,
            )?;
        }
    }
    for n in &report.node_config {
        writeln!(out, "node: {} ({})", n.image, n.runtime)?;
        for l in n.lines() {
            writeln!(out, "  {l}")?;
        }
    }
    for t in &report.insecure_transport {
        writeln!(out, "insecure: {}", t.detail)?;
    }
    for n in &report.notes {
        writeln!(out, "note: {n}")?;
    }
    if let Some(t) = &report.totals {
        writeln!(
            out,
            "total: groups={} pods={} workloads={}",
            t.groups, t.pods, t.workloads
        )?;
    }
    writeln!(
        out,
        "problems: {} healthy: {} not_checked: {}",
        report.summary.problems, report.summary.healthy, report.summary.not_checked
    )
}

fn verdict(v: &Verdict, out: &mut dyn Write) -> std::io::Result<()> {
    let cause = v.cause.map(|c| c.id()).unwrap_or("-");
    writeln!(
        out,
        "verdict: {} cause={cause} confidence={}",
        v.image,
        v.confidence.id()
    )?;
    writeln!(out, "  why: {}", v.summary)?;
    if let Some(page) = &v.docs {
        writeln!(out, "  More: {page}")?;
    }
    if let Some(e) = v.event_cause {
        writeln!(out, "  event said: {e}")?;
    }
    for f in &v.failures {
        writeln!(out, "  kubelet: {} {} ({})", f.cause, f.state(), f.seen)?;
    }
    for s in &v.secondary_causes {
        writeln!(
            out,
            "  behind it: cause={} confidence={}: {}",
            s.cause,
            s.confidence.id(),
            s.summary
        )?;
    }
    for e in &v.evidence {
        writeln!(out, "  {}: {}", e.source, e.text)?;
    }
    for s in &v.skipped_contrasts {
        writeln!(out, "  contrast skipped: {}: {}", s.contrast, s.reason)?;
    }
    Ok(())
}

fn fixes(fixes: &[Fix], label: &str, out: &mut dyn Write) -> std::io::Result<()> {
    for f in fixes {
        writeln!(out, "  {label}: {}", f.title)?;
        if f.text != f.title {
            for line in f.text.lines() {
                writeln!(out, "    {line}")?;
            }
        }
    }
    Ok(())
}
