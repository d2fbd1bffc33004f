//! The table renderer: a comfy-table summary readable in 100 columns, then the details.
//!
//! Commands and file contents are printed below the table, unwrapped, so they can be copied
//! whole; only prose goes inside cells.

use std::io::Write;

use comfy_table::{
    Cell, Color, ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED,
};

use super::Report;
use crate::diagnose::{Fix, FixKind, Verdict};

fn table(style: super::Style, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width)
        .set_header(header.to_vec());
    if style.color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

/// Keeps column `index` at least as wide as its longest word-free value (an image reference
/// or a cause id), up to `cap`, so references are not broken mid-name while prose wraps.
fn keep_whole(t: &mut Table, index: usize, values: &[String], cap: u16) {
    let longest = values
        .iter()
        .flat_map(|v| v.lines())
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let width = (longest as u16).min(cap) + 2; // one space of padding on each side
    if let Some(col) = t.column_mut(index) {
        col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
    }
}

/// The confidence cell: red when confirmed, yellow when only likely, green when healthy.
fn confidence_cell(v: &Verdict) -> Cell {
    let color = match v.confidence {
        crate::diagnose::Confidence::Confirmed => Color::Red,
        crate::diagnose::Confidence::Likely | crate::diagnose::Confidence::Contradicted => {
            Color::Yellow
        }
        crate::diagnose::Confidence::Healthy => Color::Green,
    };
    Cell::new(v.confidence.id()).fg(color)
}

/// Draws the report as tables and detail blocks.
pub fn render(report: &Report, style: super::Style, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(pod) = &report.pod {
        write!(out, "Pod {}/{}", pod.namespace, pod.name)?;
        if let Some(o) = &pod.owner {
            write!(out, " (owned by {o})")?;
        }
        if let Some(n) = &pod.node {
            write!(out, " on node {n}")?;
            if let Some(r) = &pod.runtime {
                write!(out, " [{r}]")?;
            }
        }
        writeln!(out)?;
    }
    if let Some(symptoms) = &report.symptoms {
        if symptoms.is_empty() {
            writeln!(out, "No image pull failure found in the input.")?;
        } else {
            let mut t = table(style, &["IMAGE", "CAUSE", "RUNTIME", "WHAT IT MEANS"]);
            for s in symptoms {
                t.add_row(vec![
                    s.image.clone().unwrap_or_else(|| "-".to_string()),
                    s.cause.id().to_string(),
                    s.runtime.id().to_string(),
                    format!("{}\nNext: {}", s.meaning, s.next_step),
                ]);
            }
            let images: Vec<String> = symptoms.iter().filter_map(|s| s.image.clone()).collect();
            let causes: Vec<String> = symptoms.iter().map(|s| s.cause.id().to_string()).collect();
            keep_whole(&mut t, 0, &images, 40);
            keep_whole(&mut t, 1, &causes, 24);
            writeln!(out, "{t}")?;
        }
    }
    if let Some(verdicts) = &report.verdicts {
        verdict_table(verdicts, style, out)?;
        for v in verdicts.iter().filter(|v| v.is_problem()) {
            details(v, out)?;
        }
    }
    if let Some(groups) = &report.groups {
        if groups.is_empty() {
            writeln!(out, "No pod is waiting on an image pull.")?;
        } else {
            let mut t = table(style, &["CAUSE", "REGISTRY", "PODS", "WORKLOADS", "WHY"]);
            for g in groups {
                t.add_row(vec![
                    g.cause.id().to_string(),
                    g.registry.clone(),
                    g.pods.to_string(),
                    g.workloads.join("\n"),
                    g.verdict.summary.clone(),
                ]);
            }
            let causes: Vec<String> = groups.iter().map(|g| g.cause.id().to_string()).collect();
            let registries: Vec<String> = groups.iter().map(|g| g.registry.clone()).collect();
            if let Some(n) = &report.totals {
                t.add_row(vec![
                    "total".to_string(),
                    String::new(),
                    n.pods.to_string(),
                    format!("{} workload(s)", n.workloads),
                    format!("{} group(s)", n.groups),
                ]);
            }
            keep_whole(&mut t, 0, &causes, 24);
            keep_whole(&mut t, 1, &registries, 30);
            writeln!(out, "{t}")?;
            for g in groups {
                group_details(g, out)?;
            }
        }
    }
    for t in &report.insecure_transport {
        writeln!(out, "insecure: {}", t.detail)?;
    }
    for n in &report.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

fn verdict_table(
    verdicts: &[Verdict],
    style: super::Style,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if verdicts.is_empty() {
        return writeln!(out, "No container is waiting on an image pull.");
    }
    let mut t = table(style, &["IMAGE", "CAUSE", "CONFIDENCE", "WHY"]);
    for v in verdicts {
        let image = match &v.container {
            Some(c) => format!("{}\n(container {})", v.image, c.name),
            None => v.image.clone(),
        };
        let cause = v
            .cause
            .map(|c| c.id().to_string())
            .unwrap_or_else(|| "-".to_string());
        t.add_row(vec![
            Cell::new(image),
            Cell::new(cause),
            confidence_cell(v),
            Cell::new(&v.summary),
        ]);
    }
    let images: Vec<String> = verdicts.iter().map(|v| v.image.clone()).collect();
    let causes: Vec<String> = verdicts
        .iter()
        .filter_map(|v| v.cause.map(|c| c.id().to_string()))
        .collect();
    keep_whole(&mut t, 0, &images, 40);
    keep_whole(&mut t, 1, &causes, 24);
    writeln!(out, "{t}")
}

/// A group's evidence (one representative pod), then each workload's own fix.
fn group_details(g: &super::Group, out: &mut dyn Write) -> std::io::Result<()> {
    evidence(&g.verdict, out)?;
    writeln!(out, "Pods ({}): {}", g.pods, super::some_pods(&g.pod_names))?;
    for set in &g.fixes_by_workload {
        if set.fixes.is_empty() {
            continue;
        }
        writeln!(out, "Fix for {}:", set.workloads.join(", "))?;
        steps(&set.fixes, out)?;
    }
    Ok(())
}

fn details(v: &Verdict, out: &mut dyn Write) -> std::io::Result<()> {
    evidence(v, out)?;
    if !v.fixes.is_empty() {
        writeln!(out, "Fix:")?;
        steps(&v.fixes, out)?;
    }
    Ok(())
}

fn evidence(v: &Verdict, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    let cause = v.cause.map(|c| c.id()).unwrap_or("-");
    writeln!(out, "== {} — {cause} ({})", v.image, v.confidence.id())?;
    if let Some(e) = v.event_cause {
        writeln!(out, "   the event text alone said: {e}")?;
    }
    writeln!(out, "Evidence:")?;
    for e in &v.evidence {
        writeln!(out, "  [{}] {}", e.source, e.text)?;
    }
    Ok(())
}

fn steps(fixes: &[Fix], out: &mut dyn Write) -> std::io::Result<()> {
    for (i, f) in fixes.iter().enumerate() {
        match f.kind {
            FixKind::Note => writeln!(out, "  {}. {}", i + 1, f.text)?,
            FixKind::Command | FixKind::File => {
                writeln!(out, "  {}. {}:", i + 1, f.title)?;
                for line in f.text.lines() {
                    writeln!(out, "       {line}")?;
                }
            }
        }
    }
    Ok(())
}
