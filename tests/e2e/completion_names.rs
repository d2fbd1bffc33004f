//! Completion of pod, namespace and context names against the API test server: the hidden
//! `__complete` helper's output, the bash script driving it in a real bash, and the real
//! kubectl completing `kubectl pulldoctor` through `dist/kubectl_complete-pulldoctor`.

use std::collections::BTreeSet;
use std::process::Command;

use crate::kube_api::{cluster, kubectl};
use crate::scenario::{path, pulldoctor_exact};

/// The candidates `__complete` offers, and its directive.
fn complete(words: &[&str]) -> (Vec<String>, String) {
    let mut args = vec!["__complete"];
    args.extend_from_slice(words);
    let run = pulldoctor_exact(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    (lines, directive)
}

#[test]
fn pods_namespaces_and_contexts_come_from_the_kubeconfig_and_the_cluster() {
    let api = cluster();
    let kc = api.kubeconfig();
    let kc = path(&kc);
    // Pods of the context's namespace: what kubectl lists there.
    let (pods, directive) = complete(&["pod", "--kubeconfig", kc, ""]);
    assert_eq!(directive, ":4", "names only, no files");
    let (_, listed, _) = kubectl(&api, &["get", "pods", "-o", "name"]);
    let expected: Vec<String> = listed
        .lines()
        .map(|l| l.trim_start_matches("pod/").to_string())
        .collect();
    assert_eq!(pods, expected);
    assert!(pods.contains(&"web-7c9f8d6b5-x2x4q".to_string()));
    // -n chooses the namespace, the typed prefix filters, and flags before it are skipped.
    let (pods, _) = complete(&[
        "pod",
        "-o",
        "json",
        "--kubeconfig",
        kc,
        "-n",
        "payments",
        "",
    ]);
    let (_, listed, _) = kubectl(&api, &["get", "pods", "-n", "payments", "-o", "name"]);
    assert_eq!(pods.len(), listed.lines().count());
    let (web, _) = complete(&["pod", "--kubeconfig", kc, "web-"]);
    assert!(
        !web.is_empty() && web.iter().all(|p| p.starts_with("web-")),
        "{web:?}"
    );
    // A pod name already given: nothing more to complete.
    let (none, directive) = complete(&["pod", "db-0", "--kubeconfig", kc, ""]);
    assert!(none.is_empty() && directive == ":0", "{none:?}");

    // Namespaces, as kubectl lists them.
    let (namespaces, _) = complete(&["scan", "--kubeconfig", kc, "-n", ""]);
    let (_, listed, _) = kubectl(&api, &["get", "namespaces", "-o", "name"]);
    let expected: BTreeSet<String> = listed
        .lines()
        .map(|l| l.trim_start_matches("namespace/").to_string())
        .collect();
    assert_eq!(
        namespaces.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    let (inline, _) = complete(&["scan", "--kubeconfig", kc, "--namespace=pay"]);
    assert_eq!(inline, ["--namespace=payments"]);

    // Contexts from the kubeconfig (no request needed), and the context chooses the namespace.
    api.clear_requests();
    let (contexts, _) = complete(&["pod", "--kubeconfig", kc, "--context", ""]);
    assert_eq!(contexts, ["other", "test"]);
    assert!(api.requests().is_empty(), "contexts asked the cluster");
    let (pods, _) = complete(&["pod", "--kubeconfig", kc, "--context", "other", ""]);
    let (_, listed, _) = kubectl(&api, &["--context", "other", "get", "pods", "-o", "name"]);
    assert_eq!(pods.len(), listed.lines().count());
    assert!(api.writes().is_empty());
}

#[test]
fn an_unreachable_cluster_completes_nothing_quietly() {
    let api = cluster();
    let kc = api.kubeconfig();
    let (pods, directive) = complete(&["pod", "--kubeconfig", path(&kc), "--token", "nope", ""]);
    assert!(pods.is_empty(), "{pods:?}");
    assert_eq!(directive, ":4");
}

#[test]
fn the_bash_script_completes_pod_names_in_a_real_bash() {
    let api = cluster();
    let kc = api.kubeconfig();
    let bin = env!("CARGO_BIN_EXE_pulldoctor");
    let script = format!(
        "source <(\"{bin}\" completions bash)\n\
         COMP_WORDS=(\"{bin}\" pod --kubeconfig \"{kc}\" web-); COMP_CWORD=4\n\
         _pulldoctor_names\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         COMP_WORDS=(\"{bin}\" sc); COMP_CWORD=1\n\
         _pulldoctor_names\nprintf 'sub:%s\\n' \"${{COMPREPLY[@]}}\"\n",
        kc = path(&kc)
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &script])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"web-7c9f8d6b5-x2x4q") && lines.contains(&"web-7c9f8d6b5-kq8zt"),
        "{text}"
    );
    assert!(lines.contains(&"sub:scan"), "{text}");
}

#[test]
fn kubectl_completes_the_plugin_through_the_helper() {
    let api = cluster();
    let kc = api.kubeconfig();
    // The plugin is pulldoctor under another name, as scripts/install links it.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_pulldoctor"),
        dir.path().join("kubectl-pulldoctor"),
    )
    .unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dist/kubectl_complete-pulldoctor"
        ),
        dir.path().join("kubectl_complete-pulldoctor"),
    )
    .unwrap();
    let path_var = format!("{}:/usr/bin:/bin", dir.path().display());
    let run = |words: &[&str]| {
        let out = Command::new("/usr/bin/kubectl")
            .arg("__complete")
            .args(words)
            .env("PATH", &path_var)
            .env("HOME", api.dir())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(&["pulldoctor", "pod", "--kubeconfig", path(&kc), "db"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"db-0"), "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("db") || l.starts_with(':') || l.starts_with("Completion")),
        "{out}"
    );
    let out = run(&[
        "pulldoctor",
        "pod",
        "--kubeconfig",
        path(&kc),
        "--context",
        "",
    ]);
    assert!(
        out.lines().any(|l| l == "other") && out.lines().any(|l| l == "test"),
        "{out}"
    );
}
