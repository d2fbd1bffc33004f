//! `pulldoctor node-probe`, end to end: the real binary on a fixture node root (as the probe
//! pod's `/host`, or `/` over SSH) with pull secrets laid out as kubelet mounts secret volumes,
//! against Debian's docker-registry. What an operator checks: the verdict, that the secret
//! volume's credential was the one used (and never printed), that the runtime is found from
//! the node's files, and that the report is the `image --node-root` pipeline's.

use std::path::Path;

use serde_json::{Value, json};

use crate::node_root::{containerd_trusting, node_root, put, unrelated_bundle};
use crate::scenario::{Run, assert_schema, b64, evidence_text, path, pulldoctor};
use crate::support::{Auth, Registry, RegistryOptions, Tls};

fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

/// A secret volume `DIR/NAME/KEY` as kubelet writes it: the file behind `..data`.
fn secret_volume(dir: &Path, name: &str, key: &str, body: &str) {
    let data = dir.join(name).join("..2026_12_05_00_00_00.000000001");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(key), body).unwrap();
    std::os::unix::fs::symlink(
        "..2026_12_05_00_00_00.000000001",
        dir.join(name).join("..data"),
    )
    .unwrap();
    std::os::unix::fs::symlink(format!("..data/{key}"), dir.join(name).join(key)).unwrap();
}

/// A `.dockerconfigjson` body with one `auths` entry.
fn config_json(key: &str, user: &str, password: &str) -> String {
    json!({"auths": {key: {"auth": b64(&format!("{user}:{password}"))}}}).to_string()
}

fn node_probe(root: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["node-probe", "--host-root", path(root)];
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

fn report(run: &Run) -> Value {
    let r = run.json();
    assert_schema(&r);
    assert_eq!(r["command"], "node-probe");
    r
}

#[test]
fn secret_volume_credentials_are_matched_like_kubelets_keyring() {
    let (user, password) = ("probeuser", "vol-pass-91c2e4");
    let reg = registry(Tls::Valid, Auth::htpasswd(user, password));
    let root = tempfile::tempdir().unwrap();
    containerd_trusting(root.path(), &reg.pki.ca_pem);
    let reference = format!("{}/app:1.0", reg.host);

    // Without the pod's secret the registry refuses the node.
    let run = node_probe(root.path(), &[&reference, "-o", "table"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let v = report(&run)["verdicts"][0].clone();
    assert_eq!(v["cause"], "auth_required", "{v:#}");

    // A secret volume whose key is for another port does not match, as in kubelet.
    let secrets = tempfile::tempdir().unwrap();
    let other = format!("127.0.0.1:{}", reg.port() + 1);
    secret_volume(
        secrets.path(),
        "stale",
        ".dockerconfigjson",
        &config_json(&other, user, password),
    );
    secret_volume(
        secrets.path(),
        "regcred",
        ".dockercfg",
        &json!({reg.host.as_str(): {"auth": b64(&format!("{user}:{password}"))}}).to_string(),
    );
    let run = node_probe(
        root.path(),
        &[
            "--secrets-dir",
            path(secrets.path()),
            "--pull-secret",
            "stale",
            "--pull-secret",
            "regcred",
            "--secrets-namespace",
            "shop",
            &reference,
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_leak(user, password);
    let r = report(&run);
    let ev = evidence_text(&r["verdicts"][0]);
    assert!(ev.contains("shop/regcred"), "{ev}");
    assert!(!ev.contains("shop/stale (key"), "{ev}");
    assert_eq!(r["node_config"][0]["runtime"], "containerd");
    assert!(
        r["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("the node's runtime: containerd:// (/etc/containerd exists)"),
        "{:#}",
        r["notes"]
    );

    // A secret the pod names but whose (optional) volume is absent is named as missing.
    let run = node_probe(
        root.path(),
        &[
            "--secrets-dir",
            path(secrets.path()),
            "--pull-secret",
            "gone",
            &reference,
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = report(&run)["verdicts"][0].clone();
    let findings = v["credential_findings"].to_string();
    assert!(findings.contains("gone"), "{v:#}");
}

#[test]
fn the_same_verdict_as_image_with_node_root() {
    let reg = registry(Tls::Valid, Auth::None);
    let root = node_root("containerd-hosts-ca", &[("REGISTRY", &reg.host)]);
    unrelated_bundle(root.path());
    let ca = format!("/etc/containerd/certs.d/{}/ca.crt", reg.host);
    put(root.path(), &ca, &reg.pki.ca_pem);
    let reference = format!("{}/app:1.0", reg.host);
    let run = node_probe(
        root.path(),
        &["--runtime", "containerd://1.7.24", &reference],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let node = report(&run);
    let laptop = pulldoctor(&[
        "image",
        &reference,
        "--node-root",
        path(root.path()),
        "--runtime",
        "containerd://1.7.24",
        "-o",
        "json",
    ])
    .json();
    assert_eq!(node["node_config"], laptop["node_config"]);
    assert_eq!(node["verdicts"][0]["image"], laptop["verdicts"][0]["image"]);
    assert_eq!(node["summary"], laptop["summary"]);

    // The node lacks the CA: the node's probe says so, whatever this machine trusts.
    std::fs::remove_file(root.path().join(ca.trim_start_matches('/'))).unwrap();
    let run = node_probe(root.path(), &["--runtime", "containerd", &reference]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        report(&run)["verdicts"][0]["cause"],
        "tls_unknown_authority"
    );
}

#[test]
fn a_node_root_without_runtime_files_asks_for_runtime() {
    let root = tempfile::tempdir().unwrap();
    let run = node_probe(root.path(), &["127.0.0.1:1/app:1"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("pass --runtime"), "{}", run.stderr);
    let run = node_probe(&root.path().join("nope"), &["127.0.0.1:1/app:1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--host-root"), "{}", run.stderr);
}
