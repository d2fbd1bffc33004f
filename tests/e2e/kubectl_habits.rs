//! kubectl's habits end to end: `scan -l/--field-selector` (live, as the API server and the
//! real kubectl select, and on a snapshot kubectl wrote), the API server's TLS and auth flags
//! (`--insecure-skip-tls-verify`, `--token`, `--as…`, `--server`, `--request-timeout`, …), and
//! the registry flag's new name.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::kube_api::{cluster, kubectl};
use crate::scenario::{Run, path, pulldoctor};
use crate::support::kube_api::{KubeApi, TOKEN, Verb};

/// `pulldoctor scan -A --no-probe -o json --kubeconfig … EXTRA…` against `api`.
fn scan(api: &KubeApi, extra: &[&str]) -> Run {
    let kc = api.kubeconfig();
    let mut args = vec![
        "scan",
        "-A",
        "--no-probe",
        "-o",
        "json",
        "--kubeconfig",
        path(&kc),
    ];
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

fn failing(run: &Run) -> BTreeSet<String> {
    assert!(
        run.code == 0 || run.code == 1,
        "{}{}",
        run.stdout,
        run.stderr
    );
    run.json()["failing_pods"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["namespace"].as_str().unwrap(),
                        p["name"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What kubectl lists for the same selectors, as `ns/name`.
fn kubectl_pods(api: &KubeApi, extra: &[&str]) -> BTreeSet<String> {
    let mut args = vec![
        "get",
        "pods",
        "-A",
        "-o",
        "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{\"\\n\"}{end}",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = kubectl(api, &args);
    assert_eq!(code, 0, "kubectl {args:?}: {err}");
    out.lines().map(str::to_string).collect()
}

fn pod_lists(api: &KubeApi) -> Vec<crate::support::kube_api::Recorded> {
    api.requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect()
}

#[test]
fn selectors_reach_the_api_as_kubectl_sends_them_and_narrow_the_scan() {
    let api = cluster();
    let everything = failing(&scan(&api, &[]));
    assert!(everything.len() >= 4, "{everything:?}");
    let cases: &[&[&str]] = &[
        &["-l", "app=web"],
        &["--selector", "app in (web,db)"],
        &["-l", "app notin (web),!no-such-label"],
        &["--field-selector", "spec.nodeName=worker-arm"],
        &[
            "--field-selector",
            "spec.nodeName=worker-1,status.phase!=Running",
        ],
        &["-l", "app", "--field-selector", "metadata.namespace==shop"],
    ];
    for sel in cases {
        api.clear_requests();
        let got = failing(&scan(&api, sel));
        // The API server received the selectors exactly as written.
        let lists = pod_lists(&api);
        assert!(!lists.is_empty(), "{sel:?}: no pod list");
        for (flag, param) in [
            ("-l", "labelSelector"),
            ("--selector", "labelSelector"),
            ("--field-selector", "fieldSelector"),
        ] {
            if let Some(i) = sel.iter().position(|a| *a == flag) {
                assert!(
                    lists
                        .iter()
                        .all(|r| r.param(param).as_deref() == Some(sel[i + 1])),
                    "{sel:?}: {lists:?}"
                );
            }
        }
        // The failing pods are those kubectl lists for the same selectors.
        let listed = kubectl_pods(&api, sel);
        let expected: BTreeSet<String> = everything.intersection(&listed).cloned().collect();
        assert_eq!(got, expected, "{sel:?}");
        assert!(got.len() < everything.len(), "{sel:?} selected everything");
    }
    assert!(api.writes().is_empty());
}

#[test]
fn selectors_apply_the_same_way_to_a_snapshot_kubectl_wrote() {
    let api = cluster();
    let (code, yaml, err) = kubectl(
        &api,
        &[
            "get",
            "pods,events,secrets,serviceaccounts,nodes,replicasets",
            "-A",
            "-o",
            "yaml",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, yaml).unwrap();
    for sel in [
        vec!["-l", "app in (web, db)"],
        vec!["-l", "app!=web"],
        vec!["--field-selector", "spec.nodeName=worker-1"],
        vec![
            "--field-selector",
            "spec.nodeName!=worker-1",
            "-l",
            "!no-such-label",
        ],
    ] {
        let live = failing(&scan(&api, &sel));
        let mut args = vec![
            "scan",
            "-A",
            "--no-probe",
            "-o",
            "json",
            "--snapshot",
            path(&file),
        ];
        args.extend_from_slice(&sel);
        let offline = failing(&pulldoctor(&args));
        assert_eq!(offline, live, "{sel:?}");
        assert!(!offline.is_empty(), "{sel:?} selected nothing");
    }
}

#[test]
fn an_invalid_selector_is_exit_2_in_the_api_servers_words_before_any_request() {
    let api = cluster();
    for (sel, says) in [
        (
            vec!["-l", "app in web"],
            "unable to parse requirement: found 'web', expected: '('",
        ),
        (vec!["-l", "app=web,"], "unable to parse requirement"),
        (
            vec!["--field-selector", "spec.image=x"],
            "field label not supported: spec.image",
        ),
        (
            vec!["--field-selector", "status.phase"],
            "invalid selector: 'status.phase'",
        ),
    ] {
        api.clear_requests();
        let run = scan(&api, &sel);
        assert_eq!(run.code, 2, "{sel:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains(says), "{sel:?}: {}", run.stderr);
        assert!(api.requests().is_empty(), "{sel:?} reached the API server");
    }
    // The snapshot path refuses it the same way.
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/private-ca.yaml"
    );
    let run = pulldoctor(&["scan", "-A", "--snapshot", snapshot, "-l", "a notin b"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("expected: '('"), "{}", run.stderr);
}

/// A kubeconfig for `api` without its CA, so only `--insecure-skip-tls-verify` or
/// `--certificate-authority` lets a client connect.
fn kubeconfig_without_ca(api: &KubeApi, token: Option<&str>) -> std::path::PathBuf {
    let user = match token {
        Some(t) => format!("    token: {t}\n"),
        None => "    username: nobody\n".to_string(),
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: bare\nclusters:\n- name: bare\n  cluster:\n    server: {}\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: bare\n  context:\n    cluster: bare\n    user: u\n    namespace: shop\n",
        api.url
    );
    let file = api.dir().join(format!("bare-{}", token.is_some()));
    std::fs::write(&file, text).unwrap();
    file
}

fn pod_run(kubeconfig: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "pod",
        "web-7c9f8d6b5-x2x4q",
        "--no-probe",
        "-o",
        "json",
        "--kubeconfig",
        path(kubeconfig),
    ];
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

#[test]
fn insecure_skip_tls_verify_means_the_api_server_as_in_kubectl() {
    let api = cluster();
    let kc = kubeconfig_without_ca(&api, Some(TOKEN));
    let refused = pod_run(&kc, &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let skipped = pod_run(&kc, &["--insecure-skip-tls-verify"]);
    assert_eq!(skipped.code, 1, "{}", skipped.stderr);
    assert_eq!(skipped.json()["pod"]["name"], "web-7c9f8d6b5-x2x4q");
    // kubectl agrees on both counts.
    let kubectl_get = |extra: &[&str]| {
        let mut c = std::process::Command::new("/usr/bin/kubectl");
        c.arg("--kubeconfig")
            .arg(&kc)
            .args(["get", "pod", "web-7c9f8d6b5-x2x4q", "-o", "name"]);
        c.args(extra)
            .env("HOME", api.dir())
            .env_remove("KUBECONFIG");
        c.output().unwrap().status.code()
    };
    assert_eq!(kubectl_get(&[]), Some(1));
    assert_eq!(kubectl_get(&["--insecure-skip-tls-verify"]), Some(0));
    // A CA file instead also works; both together are refused, as kubectl refuses them.
    let ca = api.dir().join("api-ca.pem");
    std::fs::write(&ca, &api.ca_pem).unwrap();
    let with_ca = pod_run(&kc, &["--certificate-authority", path(&ca)]);
    assert_eq!(with_ca.code, 1, "{}", with_ca.stderr);
    let both = pod_run(
        &kc,
        &[
            "--certificate-authority",
            path(&ca),
            "--insecure-skip-tls-verify",
        ],
    );
    assert_eq!(both.code, 2);
    assert!(
        both.stderr
            .contains("specifying a root certificates file with the insecure flag is not allowed"),
        "{}",
        both.stderr
    );
}

#[test]
fn the_old_registry_form_names_the_new_flag() {
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/private-ca.yaml"
    );
    for args in [
        vec![
            "scan",
            "-A",
            "--snapshot",
            snapshot,
            "--insecure-skip-tls-verify",
            "registry.shop.test:8000",
        ],
        vec![
            "pod",
            "nginx-registry",
            "--snapshot",
            snapshot,
            "--insecure-skip-tls-verify",
            "registry.shop.test:8000",
        ],
        vec![
            "pod",
            "--insecure-skip-tls-verify",
            "registry.shop.test:8000",
            "--snapshot",
            snapshot,
        ],
        vec![
            "scan",
            "--insecure-skip-tls-verify=registry.shop.test",
            "--snapshot",
            snapshot,
        ],
        vec![
            "image",
            "--insecure-skip-tls-verify",
            "127.0.0.1:5000",
            "127.0.0.1:5000/app:1",
        ],
    ] {
        let run = pulldoctor(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr
                .contains("--registry-insecure-skip-verify HOST[:PORT]"),
            "{args:?}: {}",
            run.stderr
        );
    }
    // The bare flag with a snapshot is accepted (it concerns no registry).
    let run = pulldoctor(&[
        "pod",
        "nginx-registry",
        "--snapshot",
        snapshot,
        "--no-probe",
        "--insecure-skip-tls-verify",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn token_and_impersonation_reach_the_api_server_and_the_token_never_shows() {
    let api = cluster();
    let token = "flag-token-7f3a9c2e51b8";
    api.accept_token(token);
    let kc = kubeconfig_without_ca(&api, None);
    let ca = api.dir().join("api-ca.pem");
    std::fs::write(&ca, &api.ca_pem).unwrap();
    let run = pod_run(
        &kc,
        &[
            "--certificate-authority",
            path(&ca),
            "--token",
            token,
            "--as",
            "jane",
            "--as-group",
            "oncall",
            "--as-group",
            "sre",
            "--as-uid",
            "42",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let reqs = api.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(
            r.header_values("authorization"),
            [format!("Bearer {token}")]
        );
        assert_eq!(r.header_values("impersonate-user"), ["jane"]);
        assert_eq!(r.header_values("impersonate-group"), ["oncall", "sre"]);
        assert_eq!(r.header_values("impersonate-uid"), ["42"]);
    }
    assert!(!run.stdout.contains(token) && !run.stderr.contains(token));
    // A refusal names the impersonated user, as the apiserver does; a server that echoes the
    // token gets it masked in the error line too.
    api.forbid("pods", Verb::Get);
    api.echo_token();
    let run = pod_run(
        &kc,
        &[
            "--certificate-authority",
            path(&ca),
            "--token",
            token,
            "--as",
            "jane",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("User \"jane (token (redacted))\" cannot get resource \"pods\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(token "),
        "the server echoed it: {}",
        run.stderr
    );
    assert!(
        !run.stdout.contains(token) && !run.stderr.contains(token),
        "{}",
        run.stderr
    );
    // Groups without a user are refused as kubectl refuses them, before any request.
    api.clear_requests();
    let run = pod_run(&api.kubeconfig(), &["--as-group", "sre"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("without impersonating a user"),
        "{}",
        run.stderr
    );
    assert!(api.requests().is_empty());
}

#[test]
fn a_wrong_token_or_a_refused_read_reads_like_kubectl() {
    let api = cluster();
    let token = "wrong-token-0b9d44e1c7";
    let run = pod_run(&api.kubeconfig(), &["--token", token]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("You must be logged in to the server (the server has asked for the client to provide credentials)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(token), "{}", run.stderr);
    let (code, _, kerr) = kubectl(
        &api,
        &["--token", token, "get", "pod", "web-7c9f8d6b5-x2x4q"],
    );
    assert_eq!(code, 1);
    assert!(
        kerr.contains("You must be logged in to the server (the server has asked for the client to provide credentials)"),
        "{kerr}"
    );

    api.forbid("pods", Verb::Get);
    let run = pod_run(&api.kubeconfig(), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("Error from server (Forbidden): pods \"web-7c9f8d6b5-x2x4q\" is forbidden"),
        "{}",
        run.stderr
    );
    let (_, _, kerr) = kubectl(&api, &["get", "pod", "web-7c9f8d6b5-x2x4q"]);
    assert!(
        kerr.contains("Error from server (Forbidden): pods \"web-7c9f8d6b5-x2x4q\" is forbidden"),
        "{kerr}"
    );
}

#[test]
fn server_user_and_cluster_flags_choose_as_kubectl_does() {
    let api = cluster();
    // No kubeconfig at all: --server, --certificate-authority and --token are enough.
    let ca = api.dir().join("api-ca.pem");
    std::fs::write(&ca, &api.ca_pem).unwrap();
    let run = pulldoctor(&[
        "pod",
        "web-7c9f8d6b5-x2x4q",
        "-n",
        "shop",
        "--no-probe",
        "-o",
        "json",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "--server",
        &api.url,
        "--certificate-authority",
        path(&ca),
        "--token",
        TOKEN,
    ]);
    // An explicit --kubeconfig that cannot be read stays an error, as in kubectl.
    assert_eq!(run.code, 2, "{}", run.stderr);
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args([
            "pod",
            "web-7c9f8d6b5-x2x4q",
            "-n",
            "shop",
            "--no-probe",
            "-o",
            "json",
        ])
        .args([
            "--server",
            &api.url,
            "--certificate-authority",
            path(&ca),
            "--token",
            TOKEN,
        ])
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pod"]["namespace"], "shop");

    // --user and --cluster must name kubeconfig entries, in kubectl's words when they do not.
    let run = pod_run(&api.kubeconfig(), &["--user", "nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("auth info \"nope\" does not exist"),
        "{}",
        run.stderr
    );
    let run = pod_run(&api.kubeconfig(), &["--cluster", "nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no server found for cluster \"nope\""),
        "{}",
        run.stderr
    );
    let run = pod_run(
        &api.kubeconfig(),
        &["--user", "pulldoctor", "--cluster", "local"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    // A missing context keeps kubectl's wording.
    let run = pod_run(&api.kubeconfig(), &["--context", "nope"]);
    assert!(
        run.stderr
            .contains("context was not found for specified context: nope"),
        "{}",
        run.stderr
    );
}

#[test]
fn request_timeout_bounds_each_api_call() {
    let api = cluster();
    api.delay(std::time::Duration::from_secs(6));
    let started = std::time::Instant::now();
    let run = pod_run(&api.kubeconfig(), &["--request-timeout", "500ms"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("within 0.5 s"), "{}", run.stderr);
    let run = pod_run(&api.kubeconfig(), &["--request-timeout", "3x"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("Invalid timeout value"),
        "{}",
        run.stderr
    );
}
