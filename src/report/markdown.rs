//! The Markdown renderer, for a CI job summary (`$GITHUB_STEP_SUMMARY` and the like).

use std::io::Write;

use super::{Group, Report};
use crate::diagnose::Fix;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A fact as a code span, whole, whatever backticks it holds (CommonMark: a longer fence).
fn inline(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    format!("{fence} {} {fence}", s.replace('\n', " "))
}

/// Draws the report as a Markdown table with fixes in fenced blocks.
pub fn render(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "### pulldoctor {}\n", report.command)?;
    if let Some(symptoms) = &report.symptoms {
        writeln!(
            out,
            "| image | cause | runtime | meaning |\n|---|---|---|---|"
        )?;
        for s in symptoms {
            let image = s.image.as_deref().unwrap_or("-");
            let meaning = match &s.detail {
                Some(d) => format!("{} Says: {d}", s.meaning),
                None => s.meaning.clone(),
            };
            writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                cell(image),
                s.cause,
                s.runtime.id(),
                cell(&meaning)
            )?;
        }
    }
    if let Some(groups) = &report.groups {
        groups_section(report, groups, out)?;
    }
    let verdicts: Vec<_> = report.verdicts.iter().flatten().collect();
    if !verdicts.is_empty() {
        writeln!(
            out,
            "| image | result | confidence | why |\n|---|---|---|---|"
        )?;
        for v in &verdicts {
            let cause = v
                .cause
                .map(|c| format!("`{c}`"))
                .unwrap_or_else(|| match v.confidence {
                    crate::diagnose::Confidence::NotChecked => "not checked".to_string(),
                    _ => "ok".to_string(),
                });
            writeln!(
                out,
                "| `{}` | {cause} | {} | {} |",
                cell(&v.image),
                v.confidence.id(),
                cell(&v.summary)
            )?;
        }
        // A healthy pull has no fix section; its quota is still worth seeing.
        for v in verdicts.iter().filter(|v| !v.is_problem()) {
            if let Some(q) = &v.pull_quota {
                writeln!(out, "\n> quota: `{}`: {}", cell(&v.image), cell(q))?;
            }
        }
        for v in verdicts.iter().filter(|v| v.is_problem()) {
            writeln!(out, "\n#### Fix for `{}`\n", v.image)?;
            if let Some(page) = &v.docs {
                writeln!(out, "More: {page}\n")?;
            }
            if let Some(e) = v.event_cause {
                writeln!(out, "The event said `{e}`.\n")?;
            }
            for f in &v.failures {
                let state = f.state();
                writeln!(out, "- kubelet reports `{}`, {state} ({})", f.cause, f.seen)?;
            }
            for s in &v.secondary_causes {
                writeln!(
                    out,
                    "- behind it: `{}` ({}): {}",
                    s.cause,
                    s.confidence.id(),
                    s.summary
                )?;
            }
            writeln!(out, "\nEvidence:\n")?;
            for e in &v.evidence {
                writeln!(out, "- {}: {}", e.source, inline(&e.text))?;
            }
            for s in &v.skipped_contrasts {
                let line = format!("contrast skipped: {}: {}", s.contrast, s.reason);
                writeln!(out, "- {}", inline(&line))?;
            }
            for section in v.fix_sections() {
                if section.fixes.is_empty() {
                    continue;
                }
                match (section.when, section.cause) {
                    (Some(when), Some(c)) => writeln!(out, "\n{when}, fix `{c}`:\n")?,
                    _ => writeln!(out, "\nFix:\n")?,
                }
                steps(section.fixes, out)?;
            }
        }
    }
    for n in &report.node_config {
        writeln!(out, "\n**node: {} ({})**\n", cell(&n.image), n.runtime)?;
        for l in n.lines() {
            writeln!(out, "- {}", cell(&l))?;
        }
    }
    for t in &report.insecure_transport {
        writeln!(out, "\n> **insecure:** {}", cell(&t.detail))?;
    }
    for n in &report.notes {
        writeln!(out, "\n> note: {n}")?;
    }
    writeln!(
        out,
        "\n**{} problem(s), {} healthy, {} not checked**",
        report.summary.problems, report.summary.healthy, report.summary.not_checked
    )
}

fn steps(fixes: &[Fix], out: &mut dyn Write) -> std::io::Result<()> {
    for f in fixes {
        writeln!(out, "- {}", f.title)?;
        if f.text != f.title {
            writeln!(out, "\n```\n{}\n```\n", f.text)?;
        }
    }
    Ok(())
}

/// A scan: one row per group and the totals, then each group's pods and each workload's fix.
fn groups_section(report: &Report, groups: &[Group], out: &mut dyn Write) -> std::io::Result<()> {
    if groups.is_empty() {
        return writeln!(out, "No pod is waiting on an image pull.");
    }
    writeln!(
        out,
        "| cause | registry | pods | workloads | why |\n|---|---|---|---|---|"
    )?;
    for g in groups {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            g.cause,
            cell(&g.registry),
            g.pods,
            cell(&g.workloads.join(", ")),
            cell(&g.verdict.summary)
        )?;
    }
    if let Some(t) = &report.totals {
        writeln!(
            out,
            "| **total** | | {} | {} workload(s) | {} group(s) |",
            t.pods, t.workloads, t.groups
        )?;
    }
    for g in groups {
        writeln!(
            out,
            "\n#### `{}` on {}: {} pod(s)\n",
            g.cause,
            if g.registry.is_empty() {
                "-"
            } else {
                &g.registry
            },
            g.pods
        )?;
        writeln!(out, "{}\n", g.verdict.summary)?;
        if let Some(page) = &g.verdict.docs {
            writeln!(out, "More: {page}\n")?;
        }
        writeln!(out, "Pods: {}\n", super::some_pods(&g.pod_names))?;
        for set in g.fixes_by_workload.iter().filter(|s| !s.fixes.is_empty()) {
            writeln!(out, "Fix for {}:\n", set.workloads.join(", "))?;
            steps(&set.fixes, out)?;
        }
    }
    Ok(())
}
