//! The table renderer: a comfy-table summary sized to the terminal, then the details.
//!
//! Commands and file contents are printed below the table, unwrapped, so they can be copied
//! whole; only prose goes inside cells.

use std::borrow::Cow;
use std::io::Write;

use comfy_table::{
    Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width,
    presets::UTF8_FULL_CONDENSED,
};

use super::Report;
use crate::diagnose::{Fix, FixKind, Verdict};

fn table(style: super::Style, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width)
        .set_header(
            header
                .iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    if style.color {
        // crossterm drops colours (not bold) whenever NO_COLOR is set; `style.color` already
        // decided, and `--color always` outranks NO_COLOR.
        crossterm::style::Colored::set_ansi_color_disabled(false);
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

/// Narrowest terminal a table is drawn on; below it the text layout reads better.
const NARROWEST: u16 = 70;

/// Fewest columns the prose column may have: a sentence wrapped narrower reads as a list.
const PROSE_MIN: u16 = 24;

/// Widest a single prose word may make its column; a longer one (a URL) may be cut.
const PROSE_WORD_MAX: u16 = 48;

/// Keeps every column but `prose` as wide as its longest line (image references, cause ids,
/// counts) and every header word whole, so only prose wraps; false when the table then leaves
/// the prose column fewer than `PROSE_MIN` columns of a terminal's width, or the terminal is
/// narrower than `NARROWEST`. Off a terminal the table grows past the width instead.
fn settle(t: &mut Table, prose: usize, style: super::Style) -> bool {
    let longest = |text: &str, by_word: bool| -> u16 {
        let pieces: Vec<&str> = if by_word {
            text.split_whitespace().collect()
        } else {
            text.lines().collect()
        };
        pieces.iter().map(|p| p.chars().count()).max().unwrap_or(0) as u16
    };
    let mut widths: Vec<u16> = t
        .header()
        .map(|h| h.cell_iter().map(|c| longest(&c.content(), true)).collect())
        .unwrap_or_default();
    for row in t.row_iter() {
        for (i, cell) in row.cell_iter().enumerate() {
            if i >= widths.len() {
                widths.resize(i + 1, 0);
            }
            widths[i] = widths[i].max(longest(&cell.content(), i == prose));
        }
    }
    // One space of padding each side; one border before every column and one after the last.
    let others: u16 = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != prose)
        .map(|(_, w)| w.saturating_add(2))
        .fold(widths.len() as u16 + 1, u16::saturating_add);
    // The prose column holds its longest word whole (a host name cut in two reads as two
    // words) wherever that fits: always off a terminal, where the table grows instead.
    let whole = widths.get(prose).map_or(PROSE_MIN, |w| {
        w.saturating_add(2).clamp(PROSE_MIN, PROSE_WORD_MAX)
    });
    let fits_whole = others.saturating_add(whole) <= style.width;
    let prose_min = if !style.terminal || fits_whole {
        whole
    } else {
        PROSE_MIN
    };
    for (i, w) in widths.iter().enumerate() {
        let w = if i == prose {
            prose_min
        } else {
            w.saturating_add(2)
        };
        if let Some(col) = t.column_mut(i) {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(w)));
        }
    }
    let used = others.saturating_add(prose_min);
    if !style.terminal {
        t.set_width(used.max(style.width));
        return true;
    }
    style.width >= NARROWEST && used <= style.width
}

/// The verdict's colour: red when confirmed, yellow when only likely or contradicted, green
/// when healthy, cyan when not checked.
///
/// The normal (not bright) ANSI colours, as ripgrep and git use: bright yellow and green are
/// unreadable on a light background, the normal ones read on both.
fn tone(v: &Verdict) -> Color {
    match v.confidence {
        crate::diagnose::Confidence::Confirmed => Color::DarkRed,
        crate::diagnose::Confidence::Likely | crate::diagnose::Confidence::Contradicted => {
            Color::DarkYellow
        }
        crate::diagnose::Confidence::Healthy => Color::DarkGreen,
        crate::diagnose::Confidence::NotChecked => Color::DarkCyan,
    }
}

/// The confidence cell, in the verdict's colour.
fn confidence_cell(v: &Verdict) -> Cell {
    Cell::new(v.confidence.id()).fg(tone(v))
}

/// Draws the report as tables and detail blocks, or as text on a terminal too narrow for them.
pub fn render(report: &Report, style: super::Style, out: &mut dyn Write) -> std::io::Result<()> {
    let symptoms = report.symptoms.as_deref().map(|s| symptom_table(s, style));
    let verdicts = report.verdicts.as_deref().map(|v| verdict_table(v, style));
    let groups = report
        .groups
        .as_deref()
        .map(|g| group_table(g, report.totals.as_ref(), style));
    let fits = [&symptoms, &verdicts, &groups]
        .into_iter()
        .flatten()
        .flatten()
        .all(|(_, fits)| *fits);
    if !fits {
        return super::text::render(report, out);
    }
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
    if let Some(table) = symptoms {
        match table {
            Some((t, _)) => writeln!(out, "{t}")?,
            None => writeln!(out, "No image pull failure found in the input.")?,
        }
    }
    if let Some(table) = verdicts {
        match table {
            Some((t, _)) => writeln!(out, "{t}")?,
            None => writeln!(out, "No container is waiting on an image pull.")?,
        }
        for v in report.verdicts.iter().flatten().filter(|v| v.is_problem()) {
            details(v, out)?;
        }
        // A healthy pull has no details; its quota is still worth seeing before it runs out.
        for v in report.verdicts.iter().flatten().filter(|v| !v.is_problem()) {
            if let Some(q) = &v.pull_quota {
                writeln!(out, "quota: {}: {q}", v.image)?;
            }
        }
    }
    if let Some(table) = groups {
        match table {
            Some((t, _)) => {
                writeln!(out, "{t}")?;
                for g in report.groups.iter().flatten() {
                    group_details(g, out)?;
                }
            }
            None => writeln!(out, "No pod is waiting on an image pull.")?,
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
    Ok(())
}

/// A drawn table and whether it fits the width; none when there are no rows.
type Drawn = Option<(Table, bool)>;

fn symptom_table(symptoms: &[crate::classify::Symptom], style: super::Style) -> Drawn {
    if symptoms.is_empty() {
        return None;
    }
    let mut t = table(style, &["IMAGE", "CAUSE", "RUNTIME", "WHAT IT MEANS"]);
    for s in symptoms {
        t.add_row(vec![
            s.image.clone().unwrap_or_else(|| "-".to_string()),
            s.cause.id().to_string(),
            s.runtime.id().to_string(),
            match &s.detail {
                Some(d) => format!("{}\nSays: {d}\nNext: {}", s.meaning, s.next_step),
                None => format!("{}\nNext: {}", s.meaning, s.next_step),
            },
        ]);
    }
    let fits = settle(&mut t, 3, style);
    Some((t, fits))
}

fn group_table(
    groups: &[super::Group],
    totals: Option<&super::ScanTotals>,
    style: super::Style,
) -> Drawn {
    if groups.is_empty() {
        return None;
    }
    let mut t = table(style, &["CAUSE", "REGISTRY", "PODS", "WORKLOADS", "WHY"]);
    for g in groups {
        t.add_row(vec![
            Cell::new(g.cause.id())
                .fg(tone(&g.verdict))
                .add_attribute(Attribute::Bold),
            Cell::new(&g.registry),
            Cell::new(g.pods),
            Cell::new(g.workloads.join("\n")),
            Cell::new(&g.verdict.summary),
        ]);
    }
    if let Some(n) = totals {
        t.add_row(vec![
            "total".to_string(),
            String::new(),
            n.pods.to_string(),
            format!("{} workload(s)", n.workloads),
            format!("{} group(s)", n.groups),
        ]);
    }
    let fits = settle(&mut t, 4, style);
    Some((t, fits))
}

fn verdict_table(verdicts: &[Verdict], style: super::Style) -> Drawn {
    if verdicts.is_empty() {
        return None;
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
            Cell::new(cause).fg(tone(v)).add_attribute(Attribute::Bold),
            confidence_cell(v),
            Cell::new(&v.summary),
        ]);
    }
    let fits = settle(&mut t, 3, style);
    Some((t, fits))
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
        let mut done = 0;
        for section in v.fix_sections() {
            if let Some(when) = section.when {
                let cause = section.cause.map(|c| c.id()).unwrap_or("-");
                writeln!(out, "  {when}, for {cause}:")?;
            }
            done = numbered_steps(section.fixes, done, out)?;
        }
    }
    Ok(())
}

fn evidence(v: &Verdict, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    let cause = v.cause.map(|c| c.id()).unwrap_or("-");
    writeln!(out, "== {} — {cause} ({})", v.image, v.confidence.id())?;
    if let Some(page) = &v.docs {
        writeln!(out, "   More: {page}")?;
    }
    if let Some(e) = v.event_cause {
        writeln!(out, "   the event text alone said: {e}")?;
    }
    for f in v.failures.iter().filter(|f| f.recurring) {
        writeln!(out, "   kubelet reports: {} ({})", f.cause, f.seen)?;
    }
    for s in &v.secondary_causes {
        writeln!(
            out,
            "   behind it: {} ({}): {}",
            s.cause,
            s.confidence.id(),
            s.summary
        )?;
    }
    writeln!(out, "Evidence:")?;
    for e in &v.evidence {
        // Only kubelet's messages are long wrapper chains; every other line is printed whole.
        let text = match e.clause.as_deref() {
            Some(clause) => elide(&e.text, Some(clause)),
            None if e.source == "event" => elide(&e.text, None),
            None => Cow::Borrowed(e.text.as_str()),
        };
        writeln!(out, "  [{}] {text}", e.source)?;
    }
    for s in &v.skipped_contrasts {
        writeln!(out, "  contrast skipped: {}: {}", s.contrast, s.reason)?;
    }
    Ok(())
}

fn steps(fixes: &[Fix], out: &mut dyn Write) -> std::io::Result<()> {
    numbered_steps(fixes, 0, out).map(|_| ())
}

/// Prints `fixes` numbered on from `done` steps already shown; returns the new count.
fn numbered_steps(fixes: &[Fix], done: usize, out: &mut dyn Write) -> std::io::Result<usize> {
    let mut i = done;
    for f in fixes {
        i += 1;
        match f.kind {
            FixKind::Note => writeln!(out, "  {i}. {}", f.text)?,
            FixKind::Command | FixKind::File => {
                writeln!(out, "  {i}. {}:", f.title)?;
                for line in f.text.lines() {
                    writeln!(out, "       {line}")?;
                }
            }
        }
    }
    Ok(i)
}

/// Longest evidence line printed whole; longer ones lose the middle of their wrapper chain.
const LINE_MAX: usize = 240;

/// `text` cut in the middle of its wrapper chain when it is too long: the head (which pull
/// failed) and the innermost clause (why, from the classifier) are always kept whole.
fn elide<'a>(text: &'a str, clause: Option<&str>) -> Cow<'a, str> {
    if text.chars().count() <= LINE_MAX {
        return Cow::Borrowed(text);
    }
    // The clause may have been cut by the classifier (a trailing `…`): find its start.
    let clause = clause.map(|c| c.trim_end_matches('…').trim());
    let probe = clause.map(|c| match c.char_indices().nth(60) {
        Some((at, _)) => &c[..at],
        None => c,
    });
    let mut tail_at = probe
        .filter(|p| !p.is_empty())
        .and_then(|p| text.rfind(p))
        .unwrap_or_else(|| tail_of(text));
    // A short clause (`403 Forbidden`) reads better with the wrapper that frames it.
    while text.len() - tail_at < 60 {
        let Some(at) = text[..tail_at].trim_end_matches(": ").rfind(": ") else {
            break;
        };
        if text.len() - (at + 2) > LINE_MAX / 2 {
            break;
        }
        tail_at = at + 2;
    }
    let room = LINE_MAX
        .saturating_sub(text[tail_at..].chars().count())
        .max(80);
    let head_end = text
        .char_indices()
        .nth(room)
        .map(|(at, _)| at)
        .unwrap_or(text.len());
    // End the head at a wrapper boundary (`: `) when one is near.
    let head_end = text[..head_end]
        .rfind(": ")
        .filter(|at| *at > room / 3)
        .map(|at| at + 1)
        .unwrap_or(head_end);
    if head_end >= tail_at {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!(
        "{} … {}",
        text[..head_end].trim_end(),
        &text[tail_at..]
    ))
}

/// Where the last clause of a wrapper chain starts when the classifier named none: after the
/// last `: ` that leaves at least a few words.
fn tail_of(text: &str) -> usize {
    let mut min_tail = text.len().saturating_sub(100);
    while !text.is_char_boundary(min_tail) {
        min_tail -= 1;
    }
    text[..min_tail]
        .rfind(": ")
        .map(|at| at + 2)
        .filter(|at| text.len() - at <= LINE_MAX / 2)
        .unwrap_or_else(|| {
            let mut at = text.len().saturating_sub(LINE_MAX / 2);
            while !text.is_char_boundary(at) {
                at += 1;
            }
            at
        })
}

#[cfg(test)]
mod tests {
    use super::elide;

    #[test]
    fn elision_keeps_the_head_and_the_innermost_clause() {
        let clause =
            "tls: failed to verify certificate: x509: certificate signed by unknown authority";
        let text = format!(
            "Failed (4 attempts in 3m): Failed to pull image \"r.example:5000/app:1\": rpc error: code = Unknown desc = {}: {clause}",
            "failed to pull and unpack image \"r.example:5000/app:1\": failed to resolve reference \"r.example:5000/app:1\": failed to do request: Head \"https://r.example:5000/v2/app/manifests/1\""
        );
        let short = elide(&text, Some(clause));
        assert!(short.ends_with(clause), "{short}");
        assert!(
            short.starts_with("Failed (4 attempts in 3m): Failed to pull image"),
            "{short}"
        );
        assert!(short.contains(" … "), "{short}");
        assert!(short.chars().count() < text.chars().count());
        assert_eq!(elide("short", Some("short")), "short");
        // Any text, any clause: never a panic, never longer than the text.
        for text in [
            "é".repeat(400),
            "a: ".repeat(200),
            format!("x{}", "ü: ".repeat(150)),
        ] {
            for clause in [None, Some("é"), Some("ü"), Some("nowhere")] {
                let short = elide(&text, clause);
                assert!(short.chars().count() <= text.chars().count() + 3);
            }
        }
        // A short clause keeps the wrapper that frames it.
        let text = format!(
            "Failed (30 attempts in 14m): Failed to pull image \"r.example:5000/app:1\": rpc error: code = Unknown desc = failed to pull and unpack image \"r.example:5000/app:1\": failed to resolve reference \"r.example:5000/app:1\": {}",
            "unexpected status from HEAD request to https://r.example:5000/v2/app/manifests/1: 403 Forbidden"
        );
        let short = elide(&text, Some("Forbidden"));
        assert!(
            short.ends_with(
                " … unexpected status from HEAD request to https://r.example:5000/v2/app/manifests/1: 403 Forbidden"
            ),
            "{short}"
        );
    }
}
