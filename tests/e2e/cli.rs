//! The command line as a user meets it: exit codes, the kubectl plugin, completions, the man
//! page, colour rules, and `explain` on pasted text. Runs the real binary, also as installed
//! by `scripts/install` under the plugin's name.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::scenario::{assert_schema, pulldoctor};

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// `scripts/install` into a scratch prefix, with the test's binary instead of a release build:
/// `bin/pulldoctor` and the link `bin/kubectl-pulldoctor` to it.
fn installed() -> tempfile::TempDir {
    let prefix = tempfile::tempdir().unwrap();
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install"))
        .arg(prefix.path())
        .env("PULLDOCTOR_BIN", env!("CARGO_BIN_EXE_pulldoctor"))
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    prefix
}

/// Runs the installed plugin name with `args`.
fn plugin(prefix: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(prefix.join("bin/kubectl-pulldoctor"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-pulldoctor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_names_the_commit() {
    let run = pulldoctor(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with(&format!(
            "pulldoctor {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_arguments_and_unreadable_files_exit_2_with_one_line() {
    let run = pulldoctor(&["pod"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = pulldoctor(&["explain", "/nonexistent/describe.txt"]);
    assert_eq!(run.code, 2);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("pulldoctor:"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("/nonexistent/describe.txt"),
        "{}",
        lines[0]
    );
    let run = pulldoctor(&["pod", "x", "--snapshot", "/nonexistent/snap.yaml"]);
    assert_eq!(run.code, 2);
    let run = pulldoctor(&["image", "127.0.0.1:1/app", "--timeout", "-3"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// Refusals say what is wrong and what is expected, once, in the words kubectl uses.
#[test]
fn refusals_say_what_is_expected() {
    let run = pulldoctor(&["image", "127.0.0.1:1/app", "--timeout", "0"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("more than 0 and at most 3600 seconds, got 0"),
        "{}",
        run.stderr
    );
    let run = pulldoctor(&[
        "image",
        "127.0.0.1:1/app",
        "--platform",
        "linux",
        "--no-probe",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("expected os/architecture[/variant]"),
        "{}",
        run.stderr
    );
    let run = pulldoctor(&["pod", "x", "--kubeconfig", "/nonexistent/kc"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.matches("/nonexistent/kc").count(),
        1,
        "the path once, unquoted: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("'\""), "{}", run.stderr);
    // A context the kubeconfig lacks: kubectl's own sentence, checked against kubectl itself.
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("config");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: a\n",
    )
    .unwrap();
    let kc = kc.to_str().unwrap();
    let run = pulldoctor(&["pod", "x", "--kubeconfig", kc, "--context", "nope"]);
    assert_eq!(run.code, 2);
    let ours = "context was not found for specified context: nope";
    assert!(run.stderr.contains(ours), "{}", run.stderr);
    let kubectl = Command::new("kubectl")
        .args(["--kubeconfig", kc, "--context", "nope", "get", "pods"])
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl");
    let theirs = String::from_utf8_lossy(&kubectl.stderr);
    assert!(theirs.contains(ours), "kubectl now says: {theirs}");
}

#[test]
fn kubectl_runs_it_as_a_plugin() {
    let prefix = installed();
    // One program under two names: the plugin name is a link, not a second copy.
    let link = prefix.path().join("bin/kubectl-pulldoctor");
    let meta = std::fs::symlink_metadata(&link).expect("kubectl-pulldoctor installed");
    assert!(
        meta.file_type().is_symlink(),
        "{} is a copy",
        link.display()
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("pulldoctor"));

    let (code, out, _) = plugin(prefix.path(), &["pod", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("kubectl pulldoctor pod nginx-registry -n shop"),
        "{out}"
    );
    assert!(out.contains("Usage: kubectl pulldoctor pod"), "{out}");

    // The machine's kubectl finds the plugin on PATH and hands it the arguments.
    let bin_dir = prefix.path().join("bin");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .args([
            "pulldoctor",
            "explain",
            "--message",
            "x509: certificate signed by unknown authority",
            "-o",
            "json",
        ])
        .env("PATH", path)
        .env("KUBECONFIG", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .expect("kubectl runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from the plugin");
    assert_eq!(report["symptoms"][0]["cause"], "tls_unknown_authority");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let run = pulldoctor(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}");
        for sub in ["pod", "scan", "image", "explain"] {
            assert!(run.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let run = pulldoctor(&["completions", "bash"]);
    assert!(run.stdout.contains("--kubeconfig"));
    let run = pulldoctor(&["man"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(".TH pulldoctor 1"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    let prefix = installed();
    let (_, out, _) = plugin(prefix.path(), &["completions", "bash"]);
    assert!(
        out.contains("kubectl-pulldoctor"),
        "the plugin's completion is for its own name"
    );
}

/// Started under the plugin's name, `man --dir` still writes the program's pages
/// (`pulldoctor.1`, `pulldoctor-pod.1`, …), never a file name with a space in it.
#[test]
fn the_plugin_writes_the_programs_man_pages() {
    let prefix = installed();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = plugin(
        prefix.path(),
        &["man", "--dir", dir.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"pulldoctor.1".to_string()), "{pages:?}");
    assert!(pages.contains(&"pulldoctor-pod.1".to_string()), "{pages:?}");
    assert!(!pages.iter().any(|p| p.contains(' ')), "{pages:?}");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let snap = fixture("snapshots/private-ca.yaml");
    let base = ["pod", "nginx-registry", "--snapshot", snap.as_str()];
    let plain = pulldoctor(&base);
    assert!(
        !plain.stdout.contains('\u{1b}'),
        "piped output has no escapes"
    );
    let mut always = base.to_vec();
    always.extend(["--color", "always"]);
    let coloured = pulldoctor(&always).stdout;
    assert!(coloured.contains("\u{1b}["), "--color always colours");
    // The verdict's colour marks its cause as well as its confidence, and the headers are bold.
    let row = coloured
        .lines()
        .find(|l| l.contains("tls_unknown_authority") && l.contains("likely"))
        .expect("the verdict row");
    assert!(row.matches("\u{1b}[38;5;").count() >= 2, "{row:?}");
    assert!(coloured.contains("\u{1b}[1m"), "bold headers");
    // Only the normal ANSI colours (0-7): the bright ones vanish on a light background.
    for bright in 8..16 {
        let code = format!("\u{1b}[38;5;{bright}m");
        assert!(
            !coloured.contains(&code),
            "bright colour {bright}: {coloured:?}"
        );
    }
    let mut json = always.clone();
    json.extend(["-o", "json"]);
    let run = pulldoctor(&json);
    assert!(!run.stdout.contains('\u{1b}'), "JSON is never coloured");
    assert_schema(&serde_json::from_str(&run.stdout).expect("stdout is only JSON"));
}

#[test]
fn explain_reads_describe_output_from_stdin() {
    let text = std::fs::read(fixture("messages/describe/crc-1376-crio-unknown-ca.txt")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["explain", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &text).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema(&report);
    assert_eq!(
        report["symptoms"][0]["cause"], "tls_unknown_authority",
        "{report:#}"
    );
    assert_eq!(report["symptoms"][0]["runtime"], "cri-o");
}

#[test]
fn explain_one_message_gives_one_entry_and_no_failure_exits_0() {
    let run = pulldoctor(&[
        "explain",
        "--message",
        "Back-off pulling image \"nginx:1.99\"",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["symptoms"].as_array().map(Vec::len), Some(1));
    let empty = tempfile::NamedTempFile::new().unwrap();
    let run = pulldoctor(&["explain", empty.path().to_str().unwrap(), "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["symptoms"], serde_json::json!([]));
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        garbage.path(),
        [0xffu8, 0xfe, 0x00, 0x80, b'\n', 0xc3, 0x28],
    )
    .unwrap();
    let run = pulldoctor(&["explain", garbage.path().to_str().unwrap()]);
    assert!(
        run.code == 0 || run.code == 1,
        "garbage is not a crash: {}",
        run.stderr
    );
}

/// kubectl's conventions: `KUBECONFIG` naming several files that merge, and the namespace
/// taken from the current context when `-n` is absent.
#[test]
fn kubeconfig_list_merges_and_context_namespace_applies() {
    use crate::scenario::Scenario;
    use crate::support::kube_api::KubeApi;

    let api = KubeApi::start();
    let image = "registry.test:5000/app:1.0";
    Scenario::new(image)
        .failed(&format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"))
        .load(&api);
    let full: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(api.kubeconfig()).unwrap()).unwrap();
    // Clusters and users in one file, contexts and the current context in the other.
    let mut first = full.clone();
    first.as_mapping_mut().unwrap().remove("contexts");
    first.as_mapping_mut().unwrap().remove("current-context");
    let mut second = full.clone();
    second.as_mapping_mut().unwrap().remove("clusters");
    second.as_mapping_mut().unwrap().remove("users");
    let a = api.dir().join("kc-clusters.yaml");
    let b = api.dir().join("kc-contexts.yaml");
    std::fs::write(&a, serde_yaml_ng::to_string(&first).unwrap()).unwrap();
    std::fs::write(&b, serde_yaml_ng::to_string(&second).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(["pod", "web-0", "--no-probe", "-o", "json"])
        .env("KUBECONFIG", format!("{}:{}", a.display(), b.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["pod"]["namespace"], "shop",
        "the context's namespace"
    );
    assert_eq!(report["verdicts"][0]["cause"], "not_found");
    assert_eq!(report["verdicts"][0]["confidence"], "likely");
}

#[test]
fn man_dir_writes_every_page_the_main_page_names() {
    let dir = tempfile::tempdir().unwrap();
    let run = pulldoctor(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let main = std::fs::read_to_string(dir.path().join("pulldoctor.1")).expect("pulldoctor.1");
    // SEE ALSO names each page as `pulldoctor\-pod(1)`: every one must have been written.
    let named: Vec<String> = main
        .split(|c: char| c.is_whitespace())
        .filter_map(|w| w.strip_suffix("(1)"))
        .map(|w| w.replace("\\-", "-"))
        .collect();
    for sub in ["pod", "scan", "image", "explain"] {
        assert!(
            named.contains(&format!("pulldoctor-{sub}")),
            "SEE ALSO lacks {sub}: {named:?}"
        );
    }
    for page in &named {
        let path = dir.path().join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{page}.1 missing"));
        assert!(text.contains(".TH"), "{page}.1 is not a man page");
    }
    assert!(!named.iter().any(|p| p.ends_with("-help")), "{named:?}");
}
