//! `--plain-http HOST` and `--registry-insecure-skip-verify HOST` end to end: the real binary
//! against Debian's docker-registry, the bench's token server and recording servers.
//!
//! What a CI user and a security reviewer check: trust skipped is said, for which host, in
//! every format, and `--require-verified-tls` turns it into exit 1; the flags reach only the
//! hosts they name, so a second registry or a token realm elsewhere never gets a password in
//! cleartext or over an unverified certificate (the servers' own records prove it); what the
//! node's runtime would send such a realm is reported as a finding.

use serde_json::{Value, json};

use crate::scenario::{Run, assert_schema, b64, path, pulldoctor};
use crate::support::{Auth, Fault, FaultProxy, Registry, RegistryOptions, Tls, TokenOptions};

fn started(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

/// The JSON report, checked against the schema.
fn report(run: &Run) -> Value {
    let v = run.json();
    assert_schema(&v);
    v
}

fn insecure(report: &Value) -> Vec<Value> {
    report["insecure_transport"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'a>(report: &'a [Value], host: &str) -> &'a Value {
    report
        .iter()
        .find(|t| t["host"] == host)
        .unwrap_or_else(|| panic!("no insecure_transport entry for {host}: {report:#?}"))
}

/// `host:port` of a URL.
fn host_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

/// An unverified certificate is reported for its host in every format; with the CA it would
/// have verified, and `--require-verified-tls` passes; without, it refuses (exit 1).
#[test]
fn skipped_verification_is_reported_for_its_host_and_refusable() {
    let reg = started(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let base = [
        "image",
        image.as_str(),
        "--registry-insecure-skip-verify",
        &reg.host,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        pulldoctor(&args)
    };
    // No --ca-file: the certificate would not verify; the pull still works, and says how.
    let run = with(&["-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let r = report(&run);
    let t = insecure(&r);
    assert_eq!(t.len(), 1, "{t:#?}");
    let t = entry(&t, &reg.host);
    assert_eq!(
        (&t["role"], &t["transport"], &t["by"], &t["used"]),
        (
            &json!("registry"),
            &json!("unverified_tls"),
            &json!("--registry-insecure-skip-verify"),
            &json!(true)
        ),
        "{t:#}"
    );
    assert!(
        t["verification"]
            .as_str()
            .is_some_and(|v| v.contains("unknown authority")),
        "{t:#}"
    );
    let summary = r["verdicts"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("trust skipped") && summary.contains(&reg.host),
        "the healthy verdict does not pass as verified: {summary}"
    );
    for format in ["table", "text", "markdown"] {
        let run = with(&["-o", format]);
        assert_eq!(run.code, 0);
        assert!(
            run.stdout
                .contains(&format!("trust skipped for registry {}", reg.host)),
            "-o {format} names the host whose trust was skipped:\n{}",
            run.stdout
        );
    }
    // CI refuses it: exit 1, with the cause a verifying node would meet.
    let run = with(&["--require-verified-tls", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = &report(&run)["verdicts"][0];
    assert_eq!(v["cause"], "tls_unknown_authority", "{v:#}");
    assert!(v["evidence"].to_string().contains("--require-verified-tls"));
    // With the CA the certificate verifies: still reported, nothing to refuse.
    let ca = path(&reg.pki.ca_file).to_string();
    let run = with(&["--ca-file", &ca, "--require-verified-tls", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let t = insecure(&report(&run));
    assert!(t[0]["verification"].is_null(), "{t:#?}");
    assert!(
        t[0]["detail"]
            .as_str()
            .unwrap()
            .contains("would have verified")
    );
}

/// Plain HTTP with a password: reported (credentials in cleartext), refused under
/// `--require-verified-tls` as `http_to_https`.
#[test]
fn plain_http_is_reported_and_refusable() {
    let marker = "pw-plain-reported-71d2";
    let reg = started(Tls::Plain, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let creds = format!("alice:{marker}");
    let base = [
        "image",
        &image,
        "--creds",
        &creds,
        "--plain-http",
        &reg.host,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let run = pulldoctor(&args);
        run.assert_no_leak("alice", marker);
        run
    };
    let run = with(&["-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let t = insecure(&report(&run));
    let t = entry(&t, &reg.host);
    assert_eq!(t["transport"], "plain_http", "{t:#}");
    assert_eq!(t["credentials"], true, "{t:#}");
    let run = with(&["-o", "text"]);
    assert!(
        run.stdout.contains(&format!(
            "trust skipped for registry {}: plain HTTP",
            reg.host
        )),
        "{}",
        run.stdout
    );
    let run = with(&["--require-verified-tls", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(report(&run)["verdicts"][0]["cause"], "http_to_https");
}

/// A second registry in the same run is not plain HTTP because the first is: it is asked
/// over HTTPS, and its password never reaches it in cleartext.
#[test]
fn plain_http_applies_only_to_the_named_registry() {
    let (first_pw, second_pw) = ("pw-first-reg-0a61", "pw-second-reg-9e3c");
    let first = started(Tls::Plain, Auth::htpasswd("alice", first_pw));
    // The second registry speaks plain HTTP too and would take a password; the proxy in
    // front of it records what reaches it.
    let behind = started(Tls::Plain, Auth::htpasswd("bob", second_pw));
    let second = FaultProxy::start(&behind, Fault::PassThrough);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    let auths = json!({"auths": {
        first.host.clone(): {"auth": b64(&format!("alice:{first_pw}"))},
        second.host(): {"auth": b64(&format!("bob:{second_pw}"))},
    }});
    std::fs::write(&cfg, auths.to_string()).unwrap();
    let a = format!("{}/app:1.0", first.host);
    let b = format!("{}/app:1.0", second.host());
    let run = pulldoctor(&[
        "image",
        &a,
        &b,
        "--authfile",
        path(&cfg),
        "--plain-http",
        &first.host,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", first_pw);
    run.assert_no_leak("bob", second_pw);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = report(&run);
    let causes: Vec<&str> = r["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["cause"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(causes, ["ok", "http_to_https"], "{r:#}");
    let seen = second.requests();
    assert!(!seen.is_empty(), "the second registry was asked");
    assert!(
        seen.iter().all(|s| !s.authorization),
        "the second registry got credentials: {seen:?}"
    );
    let t = insecure(&r);
    assert_eq!(t.len(), 1, "only the named registry is insecure: {t:#?}");
    assert_eq!(t[0]["host"], first.host.as_str());
}

/// A plain-HTTP token realm on another host: naming the registry does not send it the
/// password (the token server's record proves it), the finding says the runtime would;
/// naming the realm too sends it, and says so.
#[test]
fn credentials_never_go_to_an_unnamed_plain_http_realm() {
    let marker = "pw-realm-plain-5b07";
    let mut options = TokenOptions::new("bob", marker);
    options.plain_http = true;
    let reg = started(Tls::Plain, Auth::Token(options));
    let token = reg.token.as_ref().unwrap();
    assert!(token.realm.starts_with("http://"));
    let realm = host_of(&token.realm);
    let image = format!("{}/app:1.0", reg.host);
    let creds = format!("bob:{marker}");
    let base = [
        "image",
        &image,
        "--creds",
        &creds,
        "--plain-http",
        &reg.host,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let run = pulldoctor(&args);
        run.assert_no_leak("bob", marker);
        run
    };
    let run = with(&["-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = report(&run);
    assert_eq!(r["verdicts"][0]["cause"], "auth_required", "{r:#}");
    let asked = token.requests();
    assert!(!asked.is_empty(), "the realm was asked (anonymously)");
    assert!(
        asked.iter().all(|q| !q.authorization),
        "credentials went to the unnamed plain-HTTP realm: {asked:?}"
    );
    let t = insecure(&r);
    let finding = entry(&t, &realm);
    assert_eq!(
        (&finding["role"], &finding["by"], &finding["used"]),
        (&json!("token_realm"), &json!("node runtime"), &json!(false)),
        "{finding:#}"
    );
    let detail = finding["detail"].as_str().unwrap();
    assert!(
        detail.contains("cleartext") && detail.contains("containerd"),
        "{detail}"
    );
    for format in ["table", "text", "markdown"] {
        let run = with(&["-o", format]);
        assert!(
            run.stdout
                .contains(&format!("token realm http://{realm}/token is plain HTTP")),
            "-o {format} reports the realm:\n{}",
            run.stdout
        );
    }
    // Named: the password goes there, and the report says it went in cleartext.
    let before = token.requests().len();
    let run = with(&["--plain-http", &realm, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(token.requests()[before..].iter().any(|q| q.authorization));
    let t = insecure(&report(&run));
    let used = entry(&t, &realm);
    assert_eq!(
        (&used["by"], &used["used"], &used["credentials"]),
        (&json!("--plain-http"), &json!(true), &json!(true)),
        "{used:#}"
    );
}

/// A token realm whose certificate does not verify: skipping verification for the registry
/// does not skip it for the realm, so the password is not sent and the verdict is the TLS
/// failure; the finding says a runtime configured to skip would send it.
#[test]
fn credentials_never_go_to_an_unnamed_unverified_realm() {
    let marker = "pw-realm-tls-c48e";
    let reg = started(Tls::Valid, Auth::token("bob", marker));
    let token = reg.token.as_ref().unwrap();
    let realm = host_of(&token.realm);
    let image = format!("{}/app:1.0", reg.host);
    let creds = format!("bob:{marker}");
    // No --ca-file: neither the registry's nor the realm's certificate verifies.
    let base = [
        "image",
        &image,
        "--creds",
        &creds,
        "--registry-insecure-skip-verify",
        &reg.host,
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let run = pulldoctor(&args);
        run.assert_no_leak("bob", marker);
        run
    };
    let run = with(&["-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let r = report(&run);
    assert_eq!(r["verdicts"][0]["cause"], "tls_unknown_authority", "{r:#}");
    assert!(
        token.requests().iter().all(|q| !q.authorization),
        "credentials went to the unverified realm: {:?}",
        token.requests()
    );
    let t = insecure(&r);
    assert_eq!(
        entry(&t, &reg.host)["by"],
        "--registry-insecure-skip-verify"
    );
    let finding = entry(&t, &realm);
    assert_eq!(
        (&finding["transport"], &finding["by"], &finding["used"]),
        (
            &json!("unverified_tls"),
            &json!("node runtime"),
            &json!(false)
        ),
        "{finding:#}"
    );
    let run = with(&["-o", "text"]);
    assert!(
        run.stdout.contains(&format!(
            "token realm https://{realm}/token has a certificate"
        )),
        "{}",
        run.stdout
    );
    // Named: the realm is reached unverified, and the pull works.
    let run = with(&["--registry-insecure-skip-verify", &realm, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(token.requests().iter().any(|q| q.authorization));
    let t = insecure(&report(&run));
    assert_eq!(entry(&t, &realm)["by"], "--registry-insecure-skip-verify");
}

/// The flags need the host they apply to; the old bare form, an image reference or a URL in
/// its place is exit 2 with a reason, before anything is read or probed.
#[test]
fn the_flags_need_a_host() {
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/private-ca.yaml"
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["scan", "-A", "--snapshot", snapshot, "--plain-http"],
            "HOST[:PORT]",
        ),
        (
            vec![
                "scan",
                "-A",
                "--snapshot",
                snapshot,
                "--registry-insecure-skip-verify",
            ],
            "HOST[:PORT]",
        ),
        (
            vec![
                "pod",
                "web",
                "--snapshot",
                snapshot,
                "--plain-http",
                "http://reg.test",
            ],
            "is a URL",
        ),
        (
            vec!["image", "--plain-http", "127.0.0.1:5000/app:1.0"],
            "write --plain-http 127.0.0.1:5000",
        ),
    ];
    for (args, says) in cases {
        let run = pulldoctor(&args);
        assert_eq!(run.code, 2, "{args:?}:\n{}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed a report");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}
