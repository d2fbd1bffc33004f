//! Every recorded registry answer in `fixtures/registries/*/*.json`, replayed over HTTPS under
//! the registry's real host names and diagnosed by the real binary.
//!
//! Each fixture runs `pulldoctor image <image> -o json --resolve HOST:443:127.77.x.y … --ca-file
//! <test CA>` against [`Replay`], with its credentials in an authfile, and must give
//! `expect.cause`, say every `expect.says` phrase, give none of `expect.contradicts`, and send
//! every request to a scripted host (strict fixtures: only scripted requests). The list of
//! fixtures is the folder itself, never a hand-kept list; they run in parallel, each on its own
//! loopback address, and every failure is reported at once.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use crate::scenario::{Run, assert_schema, path, pulldoctor};
use crate::support::replay::Replay;

/// The fixture files, sorted.
fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/registries");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root)
        .expect("fixtures/registries")
        .flatten()
    {
        if !dir.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir.path())
            .expect("registry folder")
            .flatten()
        {
            if f.path().extension().is_some_and(|e| e == "json") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` as seconds since the epoch.
pub fn unix_of(rfc3339: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 {
        rfc3339
            .get(r)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not YYYY-MM-DDTHH:MM:SSZ: {rfc3339}"))
    };
    days_from_civil(n(0..4), n(5..7), n(8..10)) * 86_400
        + n(11..13) * 3600
        + n(14..16) * 60
        + n(17..19)
}

/// An ECR password shaped like GetAuthorizationToken's (base64 of a JSON envelope whose
/// `expiration` is Unix seconds); payload and data key are fake.
pub fn ecr_password(expires_unix: i64) -> String {
    let envelope = json!({
        "payload": "cGQtZmFrZS1wYXlsb2Fk",
        "datakey": "cGQtZmFrZS1kYXRha2V5",
        "version": "2",
        "type": "DATA_KEY",
        "expiration": expires_unix,
    });
    base64::engine::general_purpose::STANDARD.encode(envelope.to_string())
}

/// The docker config key an image's credentials go under (`https://index.docker.io/v1/` for
/// Docker Hub, as `docker login` writes it).
fn config_key(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_registry || first == "docker.io" || first == "index.docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        first.to_string()
    }
}

/// The (user, password) a fixture's `credentials` stand for, if any.
fn credentials(fixture: &Value) -> Option<(String, String)> {
    let c = &fixture["credentials"];
    if let Some(at) = c["ecr_expires_at"].as_str() {
        return Some(("AWS".into(), ecr_password(unix_of(at))));
    }
    Some((
        c["username"].as_str()?.to_string(),
        c["password"].as_str()?.to_string(),
    ))
}

/// Every string in a JSON value, one per line: what a reader of the report sees.
fn texts(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::Object(o) => o.values().for_each(|x| texts(x, out)),
        _ => {}
    }
}

/// The hosts the probe's log says it sent requests to (`probe Ping: GET https://host/v2/ -> …`).
fn contacted_hosts(stderr: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for line in stderr.lines() {
        let Some((_, rest)) = line.split_once("probe ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() < 4 || !words[0].ends_with(':') || words[3] != "->" {
            continue;
        }
        let url = words[2];
        let Some(after) = url.strip_prefix("https://").or(url.strip_prefix("http://")) else {
            continue;
        };
        let host = after
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// Runs one fixture; Err(what went wrong) for the summary.
fn check(file: &Path) -> Result<(), String> {
    let (fixture, replay) = Replay::from_file(file);
    let image = fixture["image"].as_str().ok_or("no image")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut args: Vec<String> = vec![
        "image".into(),
        image.into(),
        "-o".into(),
        "json".into(),
        "--ca-file".into(),
        path(&replay.pki.ca_file).into(),
        "--timeout".into(),
        "20".into(),
    ];
    args.extend(replay.resolve_args());
    let creds = credentials(&fixture);
    if let Some((user, password)) = &creds {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let cfg = json!({ "auths": { config_key(image): { "auth": auth } } });
        let file = dir.path().join("config.json");
        std::fs::write(&file, cfg.to_string()).map_err(|e| e.to_string())?;
        args.push("--authfile".into());
        args.push(path(&file).into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run: Run = pulldoctor(&refs);
    let report: Value = serde_json::from_str(&run.stdout).map_err(|e| {
        format!(
            "stdout is not JSON ({e}): {}\nstderr tail: {}",
            run.stdout,
            tail(&run.stderr)
        )
    })?;
    assert_schema(&report);
    if let Some((user, password)) = &creds {
        run.assert_no_leak(user, password);
    }
    run.assert_no_leak("", crate::support::replay::REPLAY_TOKEN);
    let verdict = &report["verdicts"][0];
    let mut problems = Vec::new();
    let want = &fixture["expect"]["cause"];
    let got = verdict.get("cause").cloned().unwrap_or(Value::Null);
    if &got != want {
        problems.push(format!("cause {got} (want {want})"));
    }
    let mut seen_text = String::new();
    texts(&report, &mut seen_text);
    for phrase in fixture["expect"]["says"].as_array().into_iter().flatten() {
        let p = phrase.as_str().unwrap_or("");
        if !seen_text.contains(p) {
            problems.push(format!("does not say {p:?}"));
        }
    }
    let causes: Vec<&Value> = std::iter::once(&got)
        .chain(
            verdict["secondary_causes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| &s["cause"]),
        )
        .collect();
    for c in fixture["expect"]["contradicts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if causes.contains(&c) {
            problems.push(format!("gives {c}, which the fixture rules out"));
        }
    }
    let contacted = contacted_hosts(&run.stderr);
    if contacted.is_empty() {
        problems.push("the probe's log names no request (did -vvv change?)".into());
    }
    for h in contacted {
        if !replay.hosts.contains(&h) {
            problems.push(format!("contacted {h}, which the fixture does not script"));
        }
    }
    let seen = replay.seen();
    if seen.is_empty() {
        problems.push("the replay server received no request".into());
    }
    let unscripted: Vec<String> = seen
        .iter()
        .filter(|s| s.matched.is_none() && !s.config_blob)
        .map(|s| format!("{} {}{} [{}]", s.method, s.host, s.path, s.auth))
        .collect();
    if fixture["expect"]["strict"].as_bool() == Some(true) && !unscripted.is_empty() {
        problems.push(format!("unscripted requests: {}", unscripted.join(", ")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let evidence: Vec<String> = verdict["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .collect();
    Err(format!(
        "{}\n    summary: {}\n    evidence:\n      {}\n    unscripted: {:?}",
        problems.join("; "),
        verdict["summary"].as_str().unwrap_or(""),
        evidence.join("\n      "),
        unscripted
    ))
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[test]
fn every_recorded_registry_answer_is_diagnosed_as_its_fixture_expects() {
    let files = fixtures();
    assert!(
        !files.is_empty(),
        "fixtures/registries holds no fixture: nothing would be tested"
    );
    let results: Vec<(PathBuf, Result<(), String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|f| {
                            let r = std::panic::catch_unwind(|| check(f))
                                .unwrap_or_else(|_| Err("panicked (see above)".into()));
                            (f.clone(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("fixture thread"))
            .collect()
    });
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(f, r)| {
            r.as_ref().err().map(|e| {
                let rel = f
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(f)
                    .display();
                format!("{rel}: {e}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} registry fixtures fail:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[test]
fn resolve_is_validated_before_anything_is_contacted() {
    let run = pulldoctor(&[
        "image",
        "docker.io/library/alpine:3",
        "--resolve",
        "registry-1.docker.io:443",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("HOST:PORT:ADDR"), "{}", run.stderr);
    let run = pulldoctor(&[
        "image",
        "docker.io/library/alpine:3",
        "--resolve",
        "registry-1.docker.io:443:not-an-ip",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not an IP address"), "{}", run.stderr);
    assert!(!run.stderr.contains("probe Ping"), "{}", run.stderr);
}

#[test]
fn a_pin_for_a_host_never_contacted_is_noted() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/registries/dockerhub/missing-repo-anonymous.json");
    let (fixture, replay) = Replay::from_file(&file);
    let mut args = vec![
        "image".to_string(),
        fixture["image"].as_str().unwrap().to_string(),
        "-o".into(),
        "json".into(),
        "--ca-file".into(),
        path(&replay.pki.ca_file).into(),
        "--resolve".into(),
        "quay.io:443:127.0.0.1".into(),
    ];
    args.extend(replay.resolve_args());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = pulldoctor(&refs).json();
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(
            "--resolve quay.io:443:127.0.0.1 matched no host and port pulldoctor contacted"
        ),
        "{notes}"
    );
    assert!(!notes.contains("--resolve registry-1.docker.io"), "{notes}");
    assert!(replay.seen().iter().all(|s| replay.hosts.contains(&s.host)));
}
