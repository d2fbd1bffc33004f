//! The table on a real terminal: pulldoctor runs in a pseudo-terminal (`script`) sized with
//! `stty`, with `COLUMNS` not exported, as an interactive shell leaves it; the table fits the
//! terminal, keeps header words, image references and cause ids whole, and gives way to the
//! text layout when the terminal is too narrow. Each verdict names its docs page.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::scenario::pulldoctor;

const IMAGE: &str = "registry.shop.test:8000/nginx:1.25";
const CAUSE: &str = "tls_unknown_authority";

fn snapshot() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/snapshots/private-ca.yaml")
        .to_string_lossy()
        .into_owned()
}

fn pod_args() -> Vec<String> {
    [
        "pod",
        "nginx-registry",
        "-n",
        "shop",
        "--snapshot",
        &snapshot(),
        "--no-probe",
    ]
    .map(String::from)
    .to_vec()
}

fn scan_args() -> Vec<String> {
    [
        "scan",
        "-n",
        "shop",
        "--snapshot",
        &snapshot(),
        "--no-probe",
    ]
    .map(String::from)
    .to_vec()
}

/// Single-quotes `s` for sh.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs pulldoctor in a pseudo-terminal `cols` wide; `columns` is exported when given.
/// Returns the lines it drew, with colour codes and carriage returns removed.
fn on_terminal(cols: u16, columns: Option<u16>, args: &[String]) -> Vec<String> {
    // Set after stty: bash updates its own COLUMNS when the size changes under it.
    let export = match columns {
        Some(c) => format!("export COLUMNS={c}; "),
        None => "unset COLUMNS; ".to_string(),
    };
    let mut line = format!(
        "stty rows 40 cols {cols}; {export}exec {}",
        quoted(env!("CARGO_BIN_EXE_pulldoctor"))
    );
    for a in args {
        line.push(' ');
        line.push_str(&quoted(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    let out = cmd.output().expect("run script(1)");
    let text = String::from_utf8_lossy(&out.stdout);
    strip_ansi(&text)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

/// `text` without CSI escape sequences (colour).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Lines drawn by the table (its borders and rows).
fn table_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.starts_with(['┌', '│', '╞', '├', '└']))
        .collect()
}

/// The header row's cells, by the vertical separators.
fn header_cells(lines: &[String]) -> Vec<String> {
    let header = lines
        .iter()
        .find(|l| l.starts_with('│'))
        .expect("a header row");
    header
        .trim_matches('│')
        .split('┆')
        .map(|c| c.trim().to_string())
        .collect()
}

/// Every cell of the table rows (not the header), trimmed, column by column joined by lines.
fn row_cells(lines: &[String]) -> Vec<String> {
    let rows: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.starts_with('╞'))
        .filter(|l| l.starts_with('│'))
        .collect();
    rows.iter()
        .flat_map(|l| l.trim_matches('│').split('┆').map(|c| c.trim().to_string()))
        .collect()
}

fn assert_fits(cols: u16, lines: &[String], headers: &[&str], keep: &[&str]) {
    let table = table_lines(lines);
    let all = lines.join("\n");
    for l in &table {
        assert!(
            l.chars().count() <= cols as usize,
            "a table line is wider than {cols} columns:\n{all}"
        );
    }
    if table.is_empty() {
        // The text layout: one fact per line, each reference whole on it.
        assert!(all.contains(&format!("cause={CAUSE}")), "{all}");
        return;
    }
    assert_eq!(header_cells(lines), headers, "header at {cols}:\n{all}");
    let cells = row_cells(lines);
    for whole in keep {
        assert!(
            cells.iter().any(|c| c == whole),
            "`{whole}` is not whole in a cell at {cols} columns:\n{all}"
        );
    }
}

#[test]
fn the_table_fits_the_terminal_it_is_drawn_on() {
    let pod_headers = ["IMAGE", "CAUSE", "CONFIDENCE", "WHY"];
    let scan_headers = ["CAUSE", "REGISTRY", "PODS", "WORKLOADS", "WHY"];
    for cols in [80, 120, 200] {
        let pod = on_terminal(cols, None, &pod_args());
        assert_fits(cols, &pod, &pod_headers, &[IMAGE, CAUSE]);
        let scan = on_terminal(cols, None, &scan_args());
        assert_fits(
            cols,
            &scan,
            &scan_headers,
            &[CAUSE, "registry.shop.test:8000"],
        );
    }
    // A wide terminal gets a table, as wide as its prose needs: not stopped at 100 columns.
    let wide = on_terminal(200, None, &pod_args());
    let widest = table_lines(&wide)
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        widest > 100,
        "the table stops at {widest}:\n{}",
        wide.join("\n")
    );
    // WHY on one line at 200 columns: the summary is read whole in its cell.
    let summary = row_cells(&wide)
        .into_iter()
        .find(|c| c.starts_with("The node does not trust"))
        .unwrap_or_default();
    assert!(summary.ends_with("certificate."), "{}", wide.join("\n"));
    assert!(!table_lines(&on_terminal(120, None, &scan_args())).is_empty());
}

#[test]
fn a_narrow_terminal_gets_the_text_layout() {
    for args in [pod_args(), scan_args()] {
        let lines = on_terminal(50, None, &args);
        let all = lines.join("\n");
        assert!(table_lines(&lines).is_empty(), "a table at 50:\n{all}");
        let verdict = lines
            .iter()
            .find(|l| l.starts_with("verdict: "))
            .unwrap_or_else(|| panic!("no verdict line:\n{all}"));
        let words: Vec<&str> = verdict.split_whitespace().collect();
        assert_eq!(words[1], IMAGE, "{all}");
        assert_eq!(words[2], format!("cause={CAUSE}"), "{all}");
    }
    // An exported COLUMNS still decides: narrow on a wide terminal, wide on a narrow one.
    let narrow = on_terminal(200, Some(50), &pod_args());
    assert!(table_lines(&narrow).is_empty(), "{}", narrow.join("\n"));
    let wide = on_terminal(50, Some(150), &pod_args());
    assert!(!table_lines(&wide).is_empty(), "{}", wide.join("\n"));
    assert!(table_lines(&wide).iter().all(|l| l.chars().count() <= 150));
}

#[test]
fn off_a_terminal_the_table_stays_a_table_with_whole_references() {
    let owned = pod_args();
    let args: Vec<&str> = owned.iter().map(String::as_str).collect();
    let run = pulldoctor(&args);
    let lines: Vec<String> = run.stdout.lines().map(String::from).collect();
    assert!(!table_lines(&lines).is_empty(), "{}", run.stdout);
    let cells = row_cells(&lines);
    assert!(cells.iter().any(|c| c == IMAGE), "{}", run.stdout);
    assert!(cells.iter().any(|c| c == CAUSE), "{}", run.stdout);
    // The prose wraps between words only: the host in WHY is whole on one line of its cell.
    assert!(
        cells
            .iter()
            .any(|c| c.contains("registry.shop.test:8000's")),
        "a word of WHY is cut:\n{}",
        run.stdout
    );
}

#[test]
fn each_verdict_names_its_docs_page() {
    let page = format!("docs/causes/{CAUSE}.md");
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(&page).is_file());
    let snap = snapshot();
    for output in ["table", "text", "markdown"] {
        for sub in [pod_args(), scan_args()] {
            let mut args: Vec<&str> = sub.iter().map(String::as_str).collect();
            args.extend(["-o", output]);
            let run = pulldoctor(&args);
            assert_eq!(run.code, 1, "{}", run.stderr);
            let more: Vec<&str> = run
                .stdout
                .lines()
                .filter_map(|l| l.trim().strip_prefix("More: "))
                .collect();
            assert_eq!(
                more,
                [page.as_str()],
                "-o {output} on {snap}:\n{}",
                run.stdout
            );
        }
    }
}
