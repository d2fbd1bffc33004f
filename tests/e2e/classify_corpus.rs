//! The classifier against real messages: every entry of `fixtures/messages/corpus.jsonl` (each
//! with its public source) must get its labelled cause and runtime, and every pasted
//! describe/events file must give its expected symptoms. A failure prints the whole confusion
//! table, so a rule change shows everything it moved.

use pulldoctor::classify::{classify, symptoms_from_text};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Entry {
    id: String,
    runtime: String,
    reason: Option<String>,
    message: String,
    cause: String,
    source: String,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages")
}

fn corpus() -> Vec<Entry> {
    let text = std::fs::read_to_string(fixtures().join("corpus.jsonl")).expect("corpus present");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad corpus line {l}: {e}")))
        .collect()
}

#[test]
fn classify_corpus_causes_and_runtimes() {
    let entries = corpus();
    assert!(entries.len() >= 150, "corpus has {} entries", entries.len());
    let mut confusion: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut wrong_runtime = Vec::new();
    for e in &entries {
        assert!(e.source.starts_with("https://"), "{} has no source", e.id);
        let s = classify(e.reason.as_deref(), &e.message);
        let got = s.cause.id().to_string();
        if got != e.cause {
            confusion
                .entry((e.cause.clone(), got))
                .or_default()
                .push(e.id.clone());
        }
        if s.runtime.id() != e.runtime {
            wrong_runtime.push(format!(
                "{}: want {} got {}",
                e.id,
                e.runtime,
                s.runtime.id()
            ));
        }
    }
    let wrong: usize = confusion.values().map(Vec::len).sum();
    let report: Vec<String> = confusion
        .iter()
        .map(|((want, got), ids)| format!("  {want} -> {got}: {}", ids.join(", ")))
        .collect();
    println!(
        "causes: {}/{} right; runtimes: {}/{} right",
        entries.len() - wrong,
        entries.len(),
        entries.len() - wrong_runtime.len(),
        entries.len()
    );
    assert!(
        wrong == 0 && wrong_runtime.is_empty(),
        "cause confusion (want -> got):\n{}\nruntime:\n  {}",
        report.join("\n"),
        wrong_runtime.join("\n  ")
    );
}

#[derive(Deserialize)]
struct TextCase {
    file: String,
    source: String,
    expect: Vec<Expected>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Expected {
    image: Option<String>,
    cause: String,
}

#[test]
fn classify_corpus_pasted_describe_and_events() {
    let cases: Vec<TextCase> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("texts.json")).expect("texts.json present"),
    )
    .expect("texts.json parses");
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            case.source.starts_with("https://"),
            "{} has no source",
            case.file
        );
        let text = std::fs::read_to_string(fixtures().join(&case.file)).expect("fixture file");
        let got: Vec<Expected> = symptoms_from_text(&text)
            .into_iter()
            .map(|s| Expected {
                image: s.image,
                cause: s.cause.id().to_string(),
            })
            .collect();
        if got != case.expect {
            failures.push(format!(
                "{}: want {:?}\n    got {:?}",
                case.file, case.expect, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
