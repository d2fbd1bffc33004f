//! Each verdict names the page that explains its cause, the same page in every format: JSON
//! `docs`, the table's, text's and Markdown's `More:` line; and the page exists.

use std::path::Path;

use crate::scenario::{assert_schema, pulldoctor};

fn snapshot() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/snapshots/private-ca.yaml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn report_docs_names_the_cause_page_in_json_as_more_does_elsewhere() {
    let snap = snapshot();
    let base = ["pod", "nginx-registry", "--snapshot", snap.as_str()];
    let mut json = base.to_vec();
    json.extend(["-o", "json"]);
    let run = pulldoctor(&json);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_schema(&report);
    let verdict = &report["verdicts"][0];
    let cause = verdict["cause"].as_str().expect("a cause");
    let page = verdict["docs"].as_str().expect("a docs page");
    assert_eq!(page, format!("docs/causes/{cause}.md"));
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(page).is_file(),
        "{page} is not in the repository"
    );
    for format in ["table", "text", "markdown"] {
        let mut args = base.to_vec();
        args.extend(["-o", format]);
        let run = pulldoctor(&args);
        let more: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.trim().strip_prefix("More: "))
            .collect();
        assert_eq!(more, [page], "{format}:\n{}", run.stdout);
    }
}
