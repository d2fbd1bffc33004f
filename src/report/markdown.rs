//! The Markdown renderer, for a CI job summary (`$GITHUB_STEP_SUMMARY` and the like).

use std::io::Write;

use super::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
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
                .unwrap_or_else(|| "ok".to_string());
            writeln!(
                out,
                "| `{}` | {cause} | {} | {} |",
                cell(&v.image),
                v.confidence.id(),
                cell(&v.summary)
            )?;
        }
        for v in verdicts
            .iter()
            .filter(|v| v.is_problem() && !v.fixes.is_empty())
        {
            writeln!(out, "\n#### Fix for `{}`\n", v.image)?;
            for f in &v.fixes {
                writeln!(out, "- {}", f.title)?;
                if f.text != f.title {
                    writeln!(out, "\n```\n{}\n```\n", f.text)?;
                }
            }
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
        "\n**{} problem(s), {} healthy**",
        report.summary.problems, report.summary.healthy
    )
}
