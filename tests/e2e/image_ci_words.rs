//! `pulldoctor image` speaks to the CI user, end to end: for each failure a CI job meets
//! (wrong `--creds`, a CA not given or the wrong one, a missing tag, a plain-HTTP registry, an
//! authfile key for the wrong port, a closed port), every output format names the flag or file
//! to change and carries no node or kubelet words — a CI job has no node to fix.

use crate::scenario::{Run, b64, path, pulldoctor};
use crate::support::{Auth, Pki, Registry, RegistryOptions, Tls, refused_port};

const FORMATS: [&str; 4] = ["table", "json", "text", "markdown"];

fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

/// Runs `image ARGS -o FORMAT` in every format; each run must diagnose a problem (exit 1).
fn every_format(args: &[String]) -> Vec<(&'static str, Run)> {
    FORMATS
        .iter()
        .map(|format| {
            let mut all: Vec<&str> = vec!["image"];
            all.extend(args.iter().map(String::as_str));
            all.extend(["-o", format]);
            let run = pulldoctor(&all);
            assert_eq!(
                run.code, 1,
                "-o {format}: a problem is exit 1\n{}\n{}",
                run.stdout, run.stderr
            );
            (*format, run)
        })
        .collect()
}

/// Whether `line` holds node, nodes, kubelet or DaemonSet as a word (any case); word
/// characters are those of a regex `\w`, so `node-side` counts and `nodeSelector` does not.
fn says_node(line: &str) -> bool {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| {
            let w = w.to_ascii_lowercase();
            matches!(w.as_str(), "node" | "nodes" | "kubelet" | "daemonset")
        })
}

/// Every line of every format that says a node word.
fn node_words(runs: &[(&str, Run)]) -> Vec<String> {
    runs.iter()
        .flat_map(|(format, run)| {
            run.stdout
                .lines()
                .filter(|l| says_node(l))
                .map(move |l| format!("-o {format}: {}", l.trim()))
        })
        .collect()
}

/// Asserts no node words anywhere, and that `flag` is named in every format.
fn assert_for_ci(case: &str, args: &[String], flag: &str) -> Vec<(&'static str, Run)> {
    let runs = every_format(args);
    let found = node_words(&runs);
    assert!(
        found.is_empty(),
        "{case}: node/kubelet words in an `image` report:\n{}",
        found.join("\n")
    );
    for (format, run) in &runs {
        assert!(
            run.stdout.contains(flag),
            "{case}: -o {format} does not name {flag}:\n{}",
            run.stdout
        );
    }
    runs
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A wrong `--creds` password: the fix names `--creds`, not a secret or a node.
#[test]
fn wrong_creds_password_speaks_of_the_flag() {
    let marker = "pw-ciwords-right-41d2";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let runs = assert_for_ci(
        "wrong --creds",
        &s(&[
            "--creds",
            "alice:pw-ciwords-wrong-9c3e",
            "--ca-file",
            &ca,
            &image,
        ]),
        "--creds",
    );
    for (_, run) in &runs {
        run.assert_no_leak("alice", "pw-ciwords-wrong-9c3e");
    }
}

/// No `--ca-file` for a registry signed by a private CA: the fix names `--ca-file`.
#[test]
fn unknown_authority_speaks_of_ca_file() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    assert_for_ci("no --ca-file", &s(&[&image]), "--ca-file");
}

/// `--ca-file` naming another CA: the fix names `--ca-file`.
#[test]
fn wrong_ca_file_speaks_of_ca_file() {
    let reg = registry(Tls::Valid, Auth::None);
    let other = Pki::generate();
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&other.ca_file).to_string();
    assert_for_ci(
        "wrong --ca-file",
        &s(&["--ca-file", &ca, &image]),
        "--ca-file",
    );
}

/// A tag the registry lacks: the reference is what CI changes, so the tags it may take are named.
#[test]
fn missing_tag_names_the_tags_present() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:9.9", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    assert_for_ci(
        "missing tag",
        &s(&["--ca-file", &ca, &image]),
        "1.0, 1.1, 2.0",
    );
}

/// A plain-HTTP registry checked over HTTPS: the fix names `--plain-http`.
#[test]
fn plain_http_registry_speaks_of_plain_http() {
    let reg = registry(Tls::Plain, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    assert_for_ci("plain HTTP", &s(&[&image]), "--plain-http");
}

/// An authfile whose only key names the registry's host with another port: the report says
/// the key in `--authfile` does not match, without kubelet's name for the rule.
#[test]
fn authfile_key_with_wrong_port_speaks_of_the_authfile() {
    let marker = "pw-ciwords-port-5e7a";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let key = format!("127.0.0.1:{}", refused_port());
    let body = serde_json::json!({"auths": {key: {"auth": b64(&format!("alice:{marker}"))}}});
    std::fs::write(&file, body.to_string()).unwrap();
    let runs = assert_for_ci(
        "authfile key, wrong port",
        &s(&["--authfile", path(&file), "--ca-file", &ca, &image]),
        "--authfile",
    );
    for (_, run) in &runs {
        run.assert_no_leak("alice", marker);
    }
}

/// Nothing listens at the registry's address: the report names the address, and no node.
#[test]
fn closed_port_names_the_address() {
    let host = format!("127.0.0.1:{}", refused_port());
    let image = format!("{host}/app:1.0");
    assert_for_ci("closed port", &s(&[&image]), &host);
}

/// An authfile whose `auth` is not base64: the finding says what pulldoctor makes of the file.
#[test]
fn authfile_with_broken_auth_speaks_of_the_authfile() {
    let marker = "pw-ciwords-plain-3f81";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let body =
        serde_json::json!({"auths": {reg.host.clone(): {"auth": format!("alice:{marker}!")}}});
    std::fs::write(&file, body.to_string()).unwrap();
    let runs = assert_for_ci(
        "authfile auth not base64",
        &s(&["--authfile", path(&file), "--ca-file", &ca, &image]),
        "--authfile",
    );
    for (_, run) in &runs {
        run.assert_no_leak("alice", marker);
    }
}

/// An amd64-only image checked for linux/arm64: the report speaks of `--platform`.
#[test]
fn platform_mismatch_speaks_of_platform() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    assert_for_ci(
        "platform mismatch",
        &s(&["--platform", "linux/arm64", "--ca-file", &ca, &image]),
        "--platform",
    );
}
