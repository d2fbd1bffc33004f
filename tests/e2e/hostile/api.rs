//! Hostile API servers and kubeconfigs: endless `continue` tokens, a reply trickling a byte a
//! second, and `exec` credential plugins that must run once and never hang the run.
//!
//! kube-apiserver pages lists with `limit`/`continue`
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks>);
//! a broken or hostile one may never stop saying "more", or answer slower than any read
//! timeout notices. client-go runs an exec plugin once per process and caches its credential
//! (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins>).
//! Each test runs the real binary with `--timeout 3` and asserts the count or the bound.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::*;
use crate::support::kube_api::{Endless, KubeApi, TOKEN};
use crate::support::refused_port;

const POD: &str = "web-7c9f8d6b5-x2x4q";

/// The test server with the shop fixture, its registry a closed loopback port.
fn cluster() -> KubeApi {
    let api = KubeApi::start();
    api.load_fixture_with(
        "cluster/shop.yaml",
        &format!("127.0.0.1:{}", refused_port()),
    );
    api
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Exit 2 within the hang bound, saying `needle` on stderr.
fn assert_stopped(r: &Run, needle: &str) {
    println!(
        "stopped in {:?}, peak {} KiB: {}",
        r.wall,
        r.peak_kib,
        r.stderr.lines().last().unwrap_or("")
    );
    assert_eq!(
        r.code,
        Some(2),
        "stdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    assert!(r.wall < HANG, "took {:?} with --timeout {TIMEOUT}", r.wall);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
}

#[test]
fn hostile_api_fresh_continue_tokens_forever_stop_at_the_page_cap() {
    let api = cluster();
    api.endless_list("pods", Endless::FreshTokens);
    let kc = api.kubeconfig();
    let r = run_args(
        marker("pages"),
        &args(&["scan", "--no-probe", "--kubeconfig", kc.to_str().unwrap()]),
    );
    assert_stopped(&r, "2000 pages");
    // The same waiting pods on every page are kept once: holding each page's copies took
    // 176 MiB by the page cap.
    assert!(
        r.peak_kib > 0 && r.peak_kib < 64 * 1024,
        "peak {} KiB",
        r.peak_kib
    );
    let lists = api
        .requests()
        .iter()
        .filter(|q| q.path == "/api/v1/namespaces/shop/pods")
        .count();
    println!("pod list pages requested: {lists}");
    assert!((2000..=2001).contains(&lists), "{lists} pages");
}

#[test]
fn hostile_api_fresh_pods_on_every_page_keep_pull_failures_first_within_the_list_budget() {
    let api = cluster();
    // 91 more waiting pods (being created, not failing) beside the fixture's nine failing a
    // pull: a hundred fresh waiting pods a page, nine of them diagnosed.
    for i in 0..91 {
        api.add(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("extra-{i}"), "namespace": "shop", "uid": format!("u-{i}")},
            "spec": {"containers": [{"name": "app", "image": "127.0.0.1:9/app:1"}]},
            "status": {"containerStatuses": [{"name": "app", "image": "127.0.0.1:9/app:1",
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}}));
    }
    api.endless_list("pods", Endless::FreshObjects);
    let kc = api.kubeconfig();
    let r = run_args(
        marker("fresh-pods"),
        &args(&["scan", "--no-probe", "--kubeconfig", kc.to_str().unwrap()]),
    );
    let lists = api
        .requests()
        .iter()
        .filter(|q| q.path == "/api/v1/namespaces/shop/pods")
        .count();
    println!(
        "fresh pods on every page: exit {:?} after {lists} pages in {:?}, peak {} KiB",
        r.code, r.wall, r.peak_kib
    );
    // The scan goes on with the pods it kept, and says where it stopped and why. Past the cap
    // the list is read on for pull failures until the page cap or the list's time (4 x
    // --timeout, the hang bound for reading it); then the kept pods, at most the cap, are
    // diagnosed.
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let listed_ms: u64 = r
        .stderr
        .lines()
        .find(|l| l.contains("gather: listed") && l.contains(" pods "))
        .and_then(|l| l.rsplit('(').next())
        .and_then(|t| t.trim_end_matches(" ms)").parse().ok())
        .unwrap_or_else(|| panic!("no pod list line:\n{}", r.stderr));
    assert!(
        listed_ms < HANG.as_millis() as u64 + 1000,
        "the pod list took {listed_ms} ms"
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let notes = report["notes"].to_string();
    let cap = pulldoctor::scene::live::MAX_KEPT_PODS;
    assert!(
        notes.contains(&format!(
            "with a waiting container past the first {cap} (the cap a scan keeps, pods waiting \
             on a pull first;"
        )) && (notes.contains("after 2000 pages") || notes.contains("reading stopped there")),
        "{notes}"
    );
    // Each page lists the fixture's pull failures again under new names: past the cap each
    // takes the place of a pod that only waits, so more are kept than the cap's first pages
    // held.
    let first_pages = cap.div_ceil(104);
    let pods = report["totals"]["pods"].as_u64().unwrap() as usize;
    assert!(
        pods > 2 * first_pages * 9 && pods <= cap,
        "{pods} failing pods after {lists} pages"
    );
    assert!(lists <= 2001, "{lists} pages");
    // Memory follows the pods kept, not the pages read: ten thousand kept, each now a pull
    // failure with its diagnosis.
    assert!(
        r.peak_kib > 0 && r.peak_kib < 512 * 1024,
        "peak {} KiB",
        r.peak_kib
    );
}

#[test]
fn hostile_api_a_repeated_continue_token_is_not_followed_again() {
    let api = cluster();
    api.endless_list("events", Endless::SameToken);
    let kc = api.kubeconfig();
    let r = run_args(
        marker("same-token"),
        &args(&[
            "pod",
            POD,
            "--no-probe",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]),
    );
    assert_stopped(&r, "already sent");
    let lists = api
        .requests()
        .iter()
        .filter(|q| q.path == "/api/v1/namespaces/shop/events")
        .count();
    assert_eq!(lists, 2, "{:?}", api.requests());
}

/// A kubeconfig for a plain-HTTP server at `url` with `user` as its user block.
fn kubeconfig(dir: &Path, url: &str, user: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters:\n- name: c\n  cluster:\n    server: {url}\ncontexts:\n- name: t\n  context:\n    cluster: c\n    user: u\n    namespace: shop\nusers:\n- name: u\n  user:\n{user}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn hostile_api_a_reply_trickling_a_byte_a_second_is_cut_at_the_timeout() {
    let h = Hostile::start(TlsMode::Plain, |_| Action::Trickle {
        reply: crate::support::hostile::Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Vec::new(),
        },
        every: Duration::from_secs(1),
    });
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        &format!("http://{}", h.host()),
        "    token: t0k\n",
    );
    let r = run_args(
        marker("api-trickle"),
        &args(&[
            "pod",
            POD,
            "--no-probe",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]),
    );
    assert_stopped(&r, "within 3 s");
    assert_eq!(h.seen().len(), 1, "{:?}", h.seen());
}

/// An exec plugin script: appends a line to `count` on each run, then does `body`.
fn plugin(dir: &Path, body: &str) -> PathBuf {
    let script = dir.join("plugin.sh");
    let count = dir.join("count");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho run >> '{}'\n{body}\n", count.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn exec_user(script: &Path) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
        script.display()
    )
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("count"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn hostile_api_an_exec_plugin_runs_once_per_run() {
    let api = cluster();
    let dir = tempfile::tempdir().unwrap();
    let credential = format!(
        r#"echo '{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{TOKEN}"}}}}'"#
    );
    let script = plugin(dir.path(), &credential);
    // The test server's kubeconfig, its user swapped for the plugin.
    let text = std::fs::read_to_string(api.kubeconfig()).unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        text.replace(&format!("    token: {TOKEN}\n"), &exec_user(&script)),
    )
    .unwrap();
    let r = run_args(
        marker("exec-once"),
        &args(&[
            "pod",
            POD,
            "--no-probe",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]),
    );
    println!("exec plugin runs: {}; exit {:?}", runs(dir.path()), r.code);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        api.requests().iter().any(|q| q.path.ends_with(POD)),
        "the plugin's token was used"
    );
    assert_eq!(runs(dir.path()), 1, "the plugin ran more than once");
    assert!(!r.stderr.contains(TOKEN) && !r.stdout.contains(TOKEN));
}

#[test]
fn hostile_api_a_hanging_exec_plugin_is_stopped_at_the_timeout() {
    let h = Hostile::start(TlsMode::Plain, |_| Action::reply(500, &[], "{}"));
    let dir = tempfile::tempdir().unwrap();
    // `exec`, so the process the run kills is the sleeping one.
    let script = plugin(dir.path(), "exec sleep 30");
    let kc = kubeconfig(
        dir.path(),
        &format!("http://{}", h.host()),
        &exec_user(&script),
    );
    let r = run_args(
        marker("exec-hang"),
        &args(&[
            "pod",
            POD,
            "--no-probe",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]),
    );
    assert_stopped(&r, "no credential within 3 s");
    assert_eq!(runs(dir.path()), 1);
    assert!(h.seen().is_empty(), "no request without a credential");
}

/// A failing pod in `namespace`, waiting on an image of the closed `registry` port, pulling with
/// secret `regcred`.
fn pod_in(namespace: &str, name: &str, registry: &str) -> Value {
    let image = format!("{registry}/app:1.0");
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": image}],
                 "imagePullSecrets": [{"name": "regcred"}]},
        "status": {"phase": "Pending", "containerStatuses": [{
            "name": "app", "image": image, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": format!("Back-off pulling image \"{image}\"")}}}]}
    })
}

#[test]
fn hostile_api_namespaces_that_are_no_dns_label_get_a_finding_not_an_exit_2() {
    let api = cluster();
    let registry = format!("127.0.0.1:{}", refused_port());
    // The API server validates namespaces (DNS-1123 labels); a broken or hostile one may list
    // pods in namespaces no URL path can hold, or that name another path.
    let hostile = ["Shop_Prod", "shop x", "shop/../kube-system", "shop?watch=1"];
    for (i, ns) in hostile.iter().enumerate() {
        api.add(pod_in(ns, &format!("odd-{i}"), &registry));
    }
    let kc = api.kubeconfig();
    let r = run_args(
        marker("odd-ns"),
        &args(&[
            "scan",
            "-A",
            "--no-probe",
            "--kubeconfig",
            kc.to_str().unwrap(),
        ]),
    );
    println!(
        "scan -A with {} odd namespaces: exit {:?} in {:?}",
        hostile.len(),
        r.code,
        r.wall
    );
    assert_eq!(
        r.code,
        Some(1),
        "stdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let failing = report["failing_pods"].as_array().unwrap();
    // The shop fixture's failing pods are diagnosed as before, beside the odd ones.
    assert!(
        failing.iter().any(|p| p["namespace"] == "shop"),
        "{}",
        r.stdout
    );
    for (i, ns) in hostile.iter().enumerate() {
        let pod = failing
            .iter()
            .find(|p| p["name"] == format!("odd-{i}"))
            .unwrap_or_else(|| panic!("odd-{i} in {ns:?} is not listed: {}", r.stdout));
        assert_eq!(pod["namespace"], *ns);
        let v = &pod["verdicts"][0];
        println!("{ns:?}: {}", v["cause"]);
        // The pod's own finding: its namespace is named, and no command carries it.
        let fixes = v["fixes"].as_array().unwrap();
        assert!(
            fixes.iter().any(|f| f["kind"] == "note"
                && f["text"].as_str().is_some_and(
                    |t| t.contains(&format!("{ns:?}")) && t.contains("not a DNS-1123 label")
                )),
            "{pod}"
        );
        assert!(fixes.iter().all(|f| f["kind"] == "note"), "{pod}");
    }
    // Each namespace is named in a note saying why nothing in it was read.
    let notes = report["notes"].to_string();
    for ns in hostile {
        assert!(
            notes.contains(&format!(
                "namespace {}",
                serde_json::to_string(ns).unwrap().replace('"', "\\\"")
            )),
            "{ns:?} not in {notes}"
        );
    }
    assert!(notes.contains("not a DNS-1123 label"), "{notes}");
    // Nothing was read in them: no request path names them, encoded or not.
    for q in api.requests() {
        assert!(
            !q.path.contains("Shop_Prod")
                && !q.path.contains("shop%20x")
                && !q.path.contains("kube-system"),
            "{q:?}"
        );
    }
}
