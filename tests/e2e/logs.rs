//! `-v` and `-vv` end to end: the gather, credential, trust and probe steps are logged on
//! stderr (never a secret), the default level shows nothing on success and one line on an
//! unreachable API server, and stdout stays the bare report at every level.

use crate::scenario::{Scenario, dockerconfigjson, path, pulldoctor_exact as run};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// One logged probe request: method, URL path (no query) and status.
#[derive(Debug)]
struct Request {
    method: String,
    url: String,
    status: String,
}

/// The probe request lines of a log: `probe STEP: METHOD URL -> STATUS in N ms [auth]`.
fn requests(stderr: &str) -> Vec<Request> {
    stderr
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(" probe ")?;
            let (_, rest) = rest.split_once(": ")?;
            let (req, answer) = rest.split_once(" -> ")?;
            let (method, url) = req.split_once(' ')?;
            let status = answer.split_whitespace().next()?;
            Some(Request {
                method: method.to_string(),
                url: url.to_string(),
                status: status.to_string(),
            })
        })
        .collect()
}

fn level_lines<'a>(stderr: &'a str, level: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(level))
        .collect()
}

/// A pod whose referenced secret holds the registry's password, diagnosed at `-v` and `-vv`.
#[test]
fn verbose_logs_every_step_and_never_a_secret() {
    let marker = "pw-logs-7c3e";
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd("alice", marker),
    });
    reg.seed_fixtures();
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed("Back-off pulling image")
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "alice", marker,
        ))
        .load(&api);
    let kc = api.kubeconfig();
    let ca = path(&reg.pki.ca_file).to_string();
    let base = [
        "pod",
        "web-0",
        "-n",
        "shop",
        "--kubeconfig",
        path(&kc),
        "--ca-file",
        &ca,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(&args)
    };

    let quiet = with(&[]);
    assert_ne!(quiet.code, 2, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "", "the default level logs nothing here");

    let v = with(&["-v"]);
    assert_ne!(v.code, 2, "{}", v.stderr);
    v.assert_no_leak("alice", marker);
    let reqs = requests(&v.stderr);
    let manifest = format!("https://{}/v2/app/manifests/1.0", reg.host);
    assert!(
        reqs.first().is_some_and(|r| r.url == manifest),
        "the first request is the manifest, with the secret (no ping): {reqs:#?}\n{}",
        v.stderr
    );
    assert!(
        reqs.iter()
            .any(|r| r.url == manifest && r.status == "200" && !r.method.is_empty()),
        "the manifest is read with the secret: {reqs:#?}\n{}",
        v.stderr
    );
    assert!(
        reqs.iter()
            .all(|r| !r.url.contains('?') && !r.url.contains('@')),
        "no query or userinfo: {reqs:#?}"
    );
    let info = level_lines(&v.stderr, "INFO");
    let has = |words: &[&str]| info.iter().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(has(&["gather:", "Pod", "shop/web-0"]), "{}", v.stderr);
    assert!(has(&["gather:", "events"]), "{}", v.stderr);
    assert!(has(&["gather:", "Secret", "regcred"]), "{}", v.stderr);
    assert!(
        has(&["credentials for", "regcred", "matches key", &reg.host]),
        "{}",
        v.stderr
    );
    assert!(has(&["trust for", &reg.host, &ca]), "{}", v.stderr);
    assert!(level_lines(&v.stderr, "DEBUG").is_empty(), "{}", v.stderr);

    let vv = with(&["-vv", "-o", "json"]);
    vv.assert_no_leak("alice", marker);
    let report = vv.json();
    assert!(report["verdicts"].is_array(), "{report:#}");
    assert!(
        !level_lines(&vv.stderr, "DEBUG").is_empty(),
        "-vv adds debug lines: {}",
        vv.stderr
    );
    assert!(
        vv.stderr.lines().count() > v.stderr.lines().count(),
        "-vv says more than -v"
    );
    assert!(
        requests(&vv.stderr).len() >= requests(&v.stderr).len(),
        "{}",
        vv.stderr
    );
}

/// A successful `image` check prints its report and nothing on stderr.
#[test]
fn default_level_is_silent_on_success() {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::None,
    });
    reg.seed_fixtures();
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let quiet = run(&["image", &image, "--ca-file", &ca, "-o", "json"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "");
    quiet.json();
    let v = run(&["image", &image, "--ca-file", &ca, "-o", "json", "-v"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    v.json();
    assert!(
        requests(&v.stderr)
            .iter()
            .any(|r| r.status == "200" && r.url.ends_with("/v2/app/manifests/1.0")),
        "{}",
        v.stderr
    );
}

/// An API server that refuses connections: one line on stderr, from pulldoctor, at the
/// default level (no library line above it).
#[test]
fn unreachable_api_server_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("config");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: a\n",
    )
    .unwrap();
    let kc = path(&kc);
    let r = run(&["pod", "web-0", "--kubeconfig", kc, "--timeout", "3"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].contains("127.0.0.1:1"), "{}", r.stderr);
    // At -vv the library may speak; stdout stays empty and the error line is still there.
    let vv = run(&["pod", "web-0", "--kubeconfig", kc, "--timeout", "3", "-vv"]);
    assert_eq!(vv.code, 2);
    assert_eq!(vv.stdout, "");
    assert!(vv.stderr.contains(lines[0]), "{}", vv.stderr);
}
