//! The library's imports point one way: no circle between two files of one directory, and the
//! pure modules (classify, credentials, diagnose, reference, taxonomy) never reach the I/O ones
//! (registry, scene, trust, app). The graph is read by `module_graph.rs`; this file holds the
//! rules, today's exceptions with their reasons, and the proof that a plant is caught.

use std::path::Path;

use super::module_graph::{Graph, library_files};

/// Directories (or files) whose code does no I/O.
const PURE: [&str; 5] = [
    "src/classify/",
    "src/credentials/",
    "src/diagnose/",
    "src/reference.rs",
    "src/taxonomy.rs",
];
/// Directories whose code talks to the network, the cluster, the disk or the terminal.
const IO: [&str; 4] = ["src/registry/", "src/scene/", "src/trust/", "src/app/"];

/// Pure → I/O imports allowed today, each a plain data type the pure module only names:
/// (importing directory or file, file imported, the type, why).
const ALLOWED: [(&str, &str, &str, &str); 3] = [
    (
        "src/credentials/",
        "src/registry/model.rs",
        "Puller",
        "a two-value enum (node or CI job) that only words the findings; no function of \
         registry/ is called; it could move to a neutral module",
    ),
    (
        "src/diagnose/evidence.rs",
        "src/registry/insecure.rs",
        "InsecureTransport",
        "the serialisable record of a connection made without TLS trust, carried into the \
         evidence; diagnose reads its fields and calls nothing in registry/",
    ),
    (
        "src/diagnose/",
        "src/registry/model.rs",
        "SkippedContrast",
        "the serialisable record of a contrast probe not run and why, carried from the probe \
         into the verdict unchanged; diagnose calls nothing in registry/",
    ),
];

/// Circles between files of one directory that exist today, each with its reason. The test
/// fails on any other circle, and on an entry here that no longer exists (so the list only
/// shrinks). New code must not add to it.
const EXISTING_CIRCLES: [(&[&str], &str); 9] = [
    (
        &["src/app/evidence.rs", "src/app/history.rs"],
        "history reads evidence's PodContainer and event_for while evidence calls history::of; \
         those two would move to their own file (app/ is being changed on another branch)",
    ),
    (
        &[
            "src/app/complete.rs",
            "src/app/mod.rs",
            "src/app/pod.rs",
            "src/app/scan.rs",
            "src/app/watch.rs",
        ],
        "mod.rs dispatches to each command's run, and the commands call mod.rs's connect, \
         write_stdout and Outcome; those would move to their own file",
    ),
    (
        &["src/classify/advice.rs", "src/classify/mod.rs"],
        "mod.rs calls advice::explain, and advice reads the Symptom mod.rs defines",
    ),
    (
        &["src/classify/text.rs", "src/classify/wrap.rs"],
        "wrap uses text's cap and normalise, text uses wrap's splits_token",
    ),
    (
        &["src/diagnose/names.rs", "src/diagnose/step.rs"],
        "names builds step's Fix and note, step carries names' Rejected",
    ),
    (
        &["src/diagnose/story.rs", "src/diagnose/verdict.rs"],
        "story reads Verdict, Confidence and EvidenceLine, verdict uses story's SecondaryCause",
    ),
    (
        &[
            "src/registry/client.rs",
            "src/registry/insecure.rs",
            "src/registry/model.rs",
            "src/registry/verifier.rs",
        ],
        "the probe report (model) holds the insecure-host records, which read client's \
         Recorder and model's steps; the certificate verifier records into client's Recorder \
         and client builds its TLS config from the verifier",
    ),
    (
        &[
            "src/report/markdown.rs",
            "src/report/mod.rs",
            "src/report/table.rs",
            "src/report/text.rs",
        ],
        "the renderers draw the Report mod.rs defines and mod.rs dispatches to them; the model \
         would move to report/model.rs",
    ),
    (
        &["src/trust/certsd.rs", "src/trust/mod.rs"],
        "mod.rs calls certsd's loaders, which build mod.rs's Trust and TrustError",
    ),
];

/// Everything wrong with the graph under `root`, one message each.
fn problems(root: &Path) -> Vec<String> {
    let graph = Graph::build(root);
    assert!(
        graph.files.len() > 50 && graph.edges.len() > 100,
        "the graph is too small to be the library: {} files, {} imports",
        graph.files.len(),
        graph.edges.len()
    );
    let mut out = Vec::new();
    let circles = graph.circles();
    for set in &circles {
        let names: Vec<&str> = set.iter().map(|&i| graph.rel(i)).collect();
        if EXISTING_CIRCLES
            .iter()
            .any(|(known, _)| *known == names.as_slice())
        {
            continue;
        }
        out.push(format!(
            "files of one directory import each other: {}\n{}",
            names.join(", "),
            graph.describe(set)
        ));
    }
    for (known, _) in EXISTING_CIRCLES {
        let still = circles
            .iter()
            .any(|set| set.iter().map(|&i| graph.rel(i)).eq(known.iter().copied()));
        if !still {
            out.push(format!(
                "the circle {} is gone: remove it from EXISTING_CIRCLES",
                known.join(", ")
            ));
        }
    }
    for e in graph.pure_to_io(&PURE, &IO) {
        let (from, to) = (graph.rel(e.from), graph.rel(e.to));
        let item = e.path.rsplit("::").next().unwrap_or("");
        if ALLOWED
            .iter()
            .any(|(f, t, name, _)| from.starts_with(f) && *t == to && *name == item)
        {
            continue;
        }
        out.push(format!(
            "a pure module imports an I/O module: {from}:{} → {to} ({})",
            e.line, e.path
        ));
    }
    out
}

#[test]
fn module_graph_points_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = problems(root);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Copies `src/` into a scratch crate root, so a test can plant imports without touching the
/// real tree.
fn copy_src(to: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in library_files(root) {
        let rel = file.strip_prefix(root).unwrap();
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&file, to.join(rel)).unwrap();
    }
}

fn plant(root: &Path, rel: &str, code: &str) {
    let path = root.join(rel);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(code);
    std::fs::write(path, text).unwrap();
}

/// The check catches what it guards against: a new circle (here `credentials/pod.rs` →
/// `nearmiss.rs` → back, the circle the code had once), one through `super::` re-exports, and
/// a pure module reaching an I/O one. A path in a comment or a string plants nothing.
#[test]
fn module_graph_catches_a_planted_circle_and_io_import() {
    let dir = tempfile::tempdir().unwrap();
    copy_src(dir.path());
    plant(
        dir.path(),
        "src/credentials/nearmiss.rs",
        "\n// crate::registry::probe::x()\nconst _S: &str = \"crate::scene::x\";\n",
    );
    assert_eq!(
        problems(dir.path()),
        Vec::<String>::new(),
        "comments and strings"
    );

    plant(
        dir.path(),
        "src/credentials/nearmiss.rs",
        "\nfn planted() { super::pod::planted(); }\n",
    );
    plant(
        dir.path(),
        "src/credentials/pod.rs",
        "\nfn planted() { super::nearmiss::planted(); }\n",
    );
    plant(
        dir.path(),
        "src/taxonomy.rs",
        "\nuse crate::registry::{probe::{self, planted}};\n",
    );
    let found = problems(dir.path());
    assert!(
        found.iter().any(|p| p.contains("import each other")
            && p.contains("src/credentials/nearmiss.rs")
            && p.contains("src/credentials/pod.rs")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("src/taxonomy.rs:") && p.contains("src/registry/probe.rs")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|p| p.contains("planted") || p.contains("src/taxonomy.rs:")),
        "only the plants are found: {found:#?}"
    );
}
