//! The Markdown renderer, for a CI job summary (`$GITHUB_STEP_SUMMARY` and the like).

use std::io::Write;

use super::Report;

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
            writeln!(
                out,
                "| `{}` | `{}` | {} | {} |",
                cell(image),
                s.cause,
                s.runtime.id(),
                cell(&s.meaning)
            )?;
        }
    }
    let grouped = report.groups.iter().flatten().map(|g| &g.verdict);
    let verdicts: Vec<_> = report.verdicts.iter().flatten().chain(grouped).collect();
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
        for v in verdicts.iter().filter(|v| v.is_problem()) {
            writeln!(out, "\n#### Fix for `{}`\n", v.image)?;
            if let Some(e) = v.event_cause {
                writeln!(out, "The event said `{e}`.\n")?;
            }
            for f in &v.failures {
                let state = if f.recurring {
                    "recurring"
                } else {
                    "no longer recurring"
                };
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
            let sections = v.fix_sections();
            for (n, (cause, fixes)) in sections.iter().enumerate() {
                if fixes.is_empty() {
                    continue;
                }
                match (sections.len(), cause) {
                    (1, _) | (_, None) => writeln!(out, "\nFix:\n")?,
                    (_, Some(c)) => {
                        let when = if n == 0 { "First" } else { "Then" };
                        writeln!(out, "\n{when}, fix `{c}`:\n")?
                    }
                }
                for f in fixes.iter() {
                    writeln!(out, "- {}", f.title)?;
                    if f.text != f.title {
                        writeln!(out, "\n```\n{}\n```\n", f.text)?;
                    }
                }
            }
        }
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
