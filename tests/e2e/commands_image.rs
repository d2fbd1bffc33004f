//! `pulldoctor image`, the CI smoke check, end to end: the real binary against Debian's
//! docker-registry, with credentials given the ways a CI job gives them (a docker
//! `config.json`, `--creds`, `--username` + `--password-stdin`).
//!
//! Each test asserts what a CI job relies on: the exit code (0 only when every reference is
//! pullable on every platform, 1 when any is not, 2 when pulldoctor could not run), the
//! per-reference verdicts in `-o json`, the Markdown for `$GITHUB_STEP_SUMMARY`, and that no
//! form of the registry password ever reaches stdout or stderr.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::scenario::{Run, b64, path, pulldoctor};
use crate::support::{Auth, Registry, RegistryOptions, Tls};

fn registry(auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth,
    });
    reg.seed_fixtures();
    reg
}

fn ca(reg: &Registry) -> String {
    path(&reg.pki.ca_file).to_string()
}

/// Runs `pulldoctor ARGS -vvv` with `stdin` fed to it (for `--password-stdin`).
fn pulldoctor_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .arg("-vvv")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pulldoctor");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("wait for pulldoctor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A docker `config.json` with one `auths` entry under `key`.
fn authfile(dir: &Path, key: &str, user: &str, password: &str) -> String {
    let file = dir.join("config.json");
    let body = json!({"auths": {key: {"auth": b64(&format!("{user}:{password}"))}}});
    std::fs::write(&file, body.to_string()).unwrap();
    path(&file).to_string()
}

/// `(image, cause or "ok")` for every verdict of a JSON report.
fn outcomes(run: &Run) -> Vec<(String, String)> {
    run.json()["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no verdicts: {}", run.stdout))
        .iter()
        .map(|v| {
            (
                v["image"].as_str().unwrap_or("-").to_string(),
                v["cause"].as_str().unwrap_or("ok").to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// References come from the arguments and from `--file` (comments and blank lines skipped);
/// with the authfile's right key, all are pullable and the exit code is 0.
#[test]
fn refs_from_arguments_and_file_all_pullable() {
    let marker = "pw-image-file-5c1e";
    let reg = registry(Auth::htpasswd("alice", marker));
    let dir = tempfile::tempdir().unwrap();
    let auth = authfile(dir.path(), &reg.host, "alice", marker);
    let list = dir.path().join("images.txt");
    std::fs::write(
        &list,
        format!(
            "# images this release ships\n{h}/app:1.1\n\n   {h}/app:2.0   \n# {h}/app:9.9 is retired\n",
            h = reg.host
        ),
    )
    .unwrap();
    let first = format!("{}/app:1.0", reg.host);
    let run = pulldoctor(&[
        "image",
        &first,
        "--file",
        path(&list),
        "--authfile",
        &auth,
        "--ca-file",
        &ca(&reg),
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 0, "all pullable is exit 0:\n{}", run.stdout);
    let h = &reg.host;
    assert_eq!(
        outcomes(&run),
        pairs(&[
            (&format!("{h}/app:1.0"), "ok"),
            (&format!("{h}/app:1.1"), "ok"),
            (&format!("{h}/app:2.0"), "ok"),
        ])
    );
    let report = run.json();
    assert_eq!(report["command"], "image");
    assert_eq!(report["summary"]["healthy"], 3);
    assert_eq!(report["summary"]["problems"], 0);
    for v in report["verdicts"].as_array().unwrap() {
        assert_eq!(v["confidence"], "healthy", "{v:#}");
        assert!(v["probe_requests"].as_u64().unwrap_or(0) > 0, "{v:#}");
    }
}

/// One missing tag among good references: exit 1, and only that reference is a problem.
#[test]
fn one_missing_tag_fails_the_run() {
    let reg = registry(Auth::None);
    let good = format!("{}/app:1.0", reg.host);
    let missing = format!("{}/app:9.9", reg.host);
    let run = pulldoctor(&[
        "image",
        &good,
        &missing,
        "--ca-file",
        &ca(&reg),
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "a missing tag is exit 1:\n{}", run.stdout);
    assert_eq!(
        outcomes(&run),
        pairs(&[(&good, "ok"), (&missing, "not_found_tag")])
    );
    let v = &run.json()["verdicts"][1];
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
}

/// `--platform` repeated: multi:1.0 is pullable on amd64 and arm64, armonly:1.0 is not on
/// amd64 (platform_mismatch), so the run fails even though arm64 works.
#[test]
fn platforms_are_checked_one_by_one() {
    let reg = registry(Auth::None);
    let multi = format!("{}/multi:1.0", reg.host);
    let arm = format!("{}/armonly:1.0", reg.host);
    let both = ["--platform", "linux/amd64", "--platform", "linux/arm64"];

    let mut args = vec!["image", multi.as_str(), "--ca-file"];
    let ca = ca(&reg);
    args.push(&ca);
    args.extend_from_slice(&both);
    args.extend_from_slice(&["-o", "json"]);
    let run = pulldoctor(&args);
    assert_eq!(run.code, 0, "multi:1.0 has both platforms:\n{}", run.stdout);
    assert_eq!(
        outcomes(&run),
        pairs(&[
            (&format!("{multi} (linux/amd64)"), "ok"),
            (&format!("{multi} (linux/arm64/v8)"), "ok"),
        ])
    );

    args[1] = arm.as_str();
    let run = pulldoctor(&args);
    assert_eq!(run.code, 1, "armonly:1.0 lacks amd64:\n{}", run.stdout);
    assert_eq!(
        outcomes(&run),
        pairs(&[
            (&format!("{arm} (linux/amd64)"), "platform_mismatch"),
            (&format!("{arm} (linux/arm64/v8)"), "ok"),
        ])
    );
    let v = &run.json()["verdicts"][0];
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let evidence = v["evidence"].to_string();
    assert!(
        evidence.contains("arm64"),
        "names what the index has: {v:#}"
    );

    // The default platform is linux/amd64: one verdict, labelled with the bare reference.
    let run = pulldoctor(&["image", &arm, "--ca-file", &ca, "-o", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(outcomes(&run), pairs(&[(&arm, "platform_mismatch")]));
}

/// A single-platform image is checked against `--platform` through its config blob: the
/// amd64-only app:1.0 (Docker v2) and app:1.1 (OCI) fail linux/arm64 with evidence naming both
/// platforms, and pass linux/amd64.
#[test]
fn single_platform_images_are_checked_against_the_platform() {
    let reg = registry(Auth::None);
    let ca = ca(&reg);
    let docker = format!("{}/app:1.0", reg.host);
    let oci = format!("{}/app:1.1", reg.host);
    let run = pulldoctor(&[
        "image",
        &docker,
        &oci,
        "--platform",
        "linux/arm64",
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "amd64-only images fail arm64:\n{}", run.stdout);
    assert_eq!(
        outcomes(&run),
        pairs(&[(&docker, "platform_mismatch"), (&oci, "platform_mismatch")])
    );
    for v in run.json()["verdicts"].as_array().unwrap() {
        assert_eq!(v["confidence"], "confirmed", "{v:#}");
        let evidence = v["evidence"].to_string();
        assert!(
            evidence.contains("linux/amd64"),
            "names the image's platform: {v:#}"
        );
        assert!(
            evidence.contains("linux/arm64"),
            "names the asked platform: {v:#}"
        );
        // `/v2/`, the manifest and its config blob: the check costs one request.
        assert_eq!(v["probe_requests"], 3, "{v:#}");
    }
    // The config blob was read from the registry itself (its log arrives through a pipe).
    let fetched = || reg.log().iter().any(|l| l.contains("/blobs/sha256:"));
    let waited = std::time::Instant::now();
    while !fetched() && waited.elapsed() < std::time::Duration::from_secs(3) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(fetched(), "the config blob was fetched");
    // The same images pass their own platform, in every format.
    for format in ["json", "table", "text", "markdown"] {
        let run = pulldoctor(&[
            "image",
            &docker,
            &oci,
            "--platform",
            "linux/amd64",
            "--ca-file",
            &ca,
            "-o",
            format,
        ]);
        assert_eq!(
            run.code, 0,
            "-o {format}: amd64 images pass amd64:\n{}",
            run.stdout
        );
    }
}

/// Input pulldoctor cannot use is exit 2 with a reason on stderr, and nothing is probed.
#[test]
fn unusable_input_is_exit_2() {
    let reg = registry(Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-config.json");
    let log_before = reg.log().len();
    let absent = dir.path().join("absent.txt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["image", &image, "--platform", "amd64"], "--platform"),
        (
            vec!["image", &image, "--platform", "linux/amd64/v1/extra"],
            "--platform",
        ),
        (
            vec!["image", &image, "--authfile", path(&missing)],
            "no-such-config.json",
        ),
        (vec!["image"], "reference"),
        (vec!["image", "--file", path(&absent)], "absent.txt"),
        (vec!["image", &image, "--creds", "no-colon-here"], "creds"),
    ];
    for (args, says) in cases {
        let run = pulldoctor(&args);
        assert_eq!(run.code, 2, "{args:?} is unusable input:\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed a report");
        assert!(
            run.stderr.contains(says),
            "{args:?}: stderr should name {says:?}:\n{}",
            run.stderr
        );
    }
    // An empty reference list from a file of comments only is unusable too.
    let list = dir.path().join("only-comments.txt");
    std::fs::write(&list, "# nothing yet\n\n").unwrap();
    let run = pulldoctor(&["image", "--file", path(&list)]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        !reg.log()[log_before..].iter().any(|l| l.contains("/v2/")),
        "no probe ran for unusable input"
    );
}

/// `--authfile`: the right `auths` key lets the probe in; a key for another host does not
/// (the registry wants a login: auth_required), and the password never shows.
#[test]
fn authfile_key_must_match_the_registry() {
    let marker = "pw-authfile-key-8e3d";
    let reg = registry(Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let dir = tempfile::tempdir().unwrap();

    let right = authfile(dir.path(), &reg.host, "alice", marker);
    let run = pulldoctor(&[
        "image",
        &image,
        "--authfile",
        &right,
        "--ca-file",
        &ca(&reg),
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 0, "{}", run.stdout);

    let other = tempfile::tempdir().unwrap();
    let wrong = authfile(other.path(), "https://index.docker.io/v1/", "alice", marker);
    let run = pulldoctor(&[
        "image",
        &image,
        "--authfile",
        &wrong,
        "--ca-file",
        &ca(&reg),
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(outcomes(&run), pairs(&[(&image, "auth_required")]));
}

/// `--creds user:pass` and `--username` + `--password-stdin`: the right password passes, a
/// wrong one is auth_invalid_credentials; neither password is printed in any form.
#[test]
fn creds_and_password_stdin() {
    let marker = "pw-creds-stdin-2b9f";
    let wrong_marker = "pw-wrong-guess-7a4c";
    let reg = registry(Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let ca = ca(&reg);

    let creds = format!("alice:{marker}");
    let run = pulldoctor(&[
        "image",
        &image,
        "--creds",
        &creds,
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(
        run.code, 0,
        "--creds with the right password:\n{}",
        run.stdout
    );

    let bad = format!("alice:{wrong_marker}");
    let run = pulldoctor(&[
        "image",
        &image,
        "--creds",
        &bad,
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", wrong_marker);
    assert_eq!(run.code, 1);
    assert_eq!(
        outcomes(&run),
        pairs(&[(&image, "auth_invalid_credentials")])
    );

    let args = [
        "image",
        &image,
        "--username",
        "alice",
        "--password-stdin",
        "--ca-file",
        &ca,
        "-o",
        "json",
    ];
    let run = pulldoctor_stdin(&args, &format!("{marker}\n"));
    run.assert_no_leak("alice", marker);
    assert_eq!(
        run.code, 0,
        "the password came from stdin, newline trimmed:\n{}\n{}",
        run.stdout, run.stderr
    );

    let run = pulldoctor_stdin(&args, &format!("{wrong_marker}\n"));
    run.assert_no_leak("alice", wrong_marker);
    assert_eq!(run.code, 1);
    assert_eq!(
        outcomes(&run),
        pairs(&[(&image, "auth_invalid_credentials")])
    );
}

/// `-o markdown` is a job summary: a table row per reference and the fix in a fenced block;
/// the exit code still says pass or fail.
#[test]
fn markdown_for_a_ci_job_summary() {
    let marker = "pw-markdown-6d0a";
    let open = registry(Auth::None);
    let locked = registry(Auth::htpasswd("alice", marker));
    let good = format!("{}/app:1.0", open.host);
    let missing = format!("{}/app:9.9", open.host);
    let private = format!("{}/app:1.0", locked.host);
    // Only the open registry's CA is given: the node does not trust the locked one.
    let creds = format!("alice:{marker}");
    let run = pulldoctor(&[
        "image",
        &good,
        &missing,
        &private,
        "--creds",
        &creds,
        "--ca-file",
        &ca(&open),
        "-o",
        "markdown",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let md = &run.stdout;
    assert!(md.contains("| image | result |"), "{md}");
    assert!(md.contains("|---|"), "{md}");
    let row = |image: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| `{image}` |")))
            .unwrap_or_else(|| panic!("no row for {image}:\n{md}"))
            .to_string()
    };
    assert!(row(&good).contains("| ok |"), "{md}");
    assert!(row(&missing).contains("`not_found_tag`"), "{md}");
    assert!(row(&private).contains("`tls_unknown_authority`"), "{md}");
    assert!(md.contains(&format!("Fix for `{missing}`")), "{md}");
    assert!(md.contains(&format!("Fix for `{private}`")), "{md}");
    // The fix is for the CI job: the CA it passed does not verify the locked registry.
    let fix = md
        .split(&format!("Fix for `{private}`"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        fix.contains(&format!(
            "The CA given with --ca-file does not verify {}'s certificate",
            locked.host
        )),
        "the fix names the flag to change:\n{md}"
    );
    assert!(
        !md.contains("hosts.toml"),
        "no node file in a CI fix:\n{md}"
    );
    assert!(md.contains("2 problem(s), 1 healthy"), "{md}");
}

/// The JSON report shares the `pod` schema family: the same top-level keys and verdict shape.
#[test]
fn json_is_the_pod_schema_family() {
    let reg = registry(Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let run = pulldoctor(&["image", &image, "--ca-file", &ca(&reg), "-o", "json"]);
    assert_eq!(run.code, 0);
    let report = run.json();
    for key in ["schema_version", "command", "pulldoctor_version", "summary"] {
        assert!(report.get(key).is_some(), "missing {key}: {report:#}");
    }
    let v: &Value = &report["verdicts"][0];
    for key in ["image", "confidence", "summary", "evidence", "fixes"] {
        assert!(v.get(key).is_some(), "verdict lacks {key}: {v:#}");
    }
}
