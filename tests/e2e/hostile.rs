//! Hostile registries: every scenario of issue 8 against the real `pulldoctor image` binary;
//! this file holds the runner and the transport faults, `hostile/auth.rs` where credentials go.
//! Issue 13's bounds run through the same runner: `hostile/api.rs` (API servers and exec
//! plugins), `hostile/files.rs` (endless and large files), `hostile/tags.rs` (huge tag lists,
//! for one image and across a scan)
//! and `hostile/words.rs` (what a timed-out handshake or an IP-as-DNS SAN is called);
//! `hostile/secrets.rs` and `hostile/cluster_secrets.rs` the secrets a registry, token server,
//! API server, Secret, key, reference or exec plugin may echo, and `hostile/terminal.rs` the
//! control sequences meant for the terminal (these three run every format at `-v` and `-vv`
//! through `hostile/every_way.rs`).
//!
//! A registry met during an incident may never answer, trickle, reset, stream without end, loop
//! its redirects, or present a certificate that does not parse. Each test ends in a classified
//! verdict (exit 1, never 2 or a crash) within a generous bound of `--timeout`, leaks no marker
//! password in any form at `-vvv`, and asserts from the server's own record (support/hostile.rs)
//! what pulldoctor sent where. The conversation is the distribution spec's
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>); what a spec-less
//! server does to it is what these tests pin down.

mod api;
mod auth;
mod cluster_secrets;
mod every_way;
mod files;
mod secrets;
mod tags;
mod terminal;
mod words;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls_pki_types::pem::PemObject as _;
use serde_json::Value;

use crate::support::hostile::{Action, Hostile, Seen, TlsMode};
use crate::support::pki::Pki;

/// `--timeout` for every run, in seconds.
const TIMEOUT: u64 = 3;
/// A run slower than this hangs (a hang check, not a speed claim).
const HANG: Duration = Duration::from_secs(4 * TIMEOUT);
/// Past this the child is killed, so a hanging binary fails the test instead of stalling it.
const KILL: Duration = Duration::from_secs(60);

/// One finished `pulldoctor image` run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
    /// Peak resident set (VmHWM) seen while it ran, in KiB.
    peak_kib: u64,
    marker: String,
}

impl Run {
    /// The verdict of the one image, parsed from stdout.
    fn verdict(&self) -> Value {
        let v: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}): {}\n{}", self.stdout, self.stderr)
        });
        v["verdicts"][0].clone()
    }

    fn cause(&self) -> String {
        self.verdict()["cause"].as_str().unwrap_or("").to_string()
    }

    /// Every evidence line, joined.
    fn evidence(&self) -> String {
        self.verdict()["evidence"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|l| l["text"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// Exit 1 (diagnosed), in time, no marker in any output, and one of `causes`.
    fn assert_diagnosed(&self, causes: &[&str]) {
        assert_eq!(
            self.code,
            Some(1),
            "exit code (1 = diagnosed)\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.wall < HANG,
            "took {:?} with --timeout {TIMEOUT}",
            self.wall
        );
        let cause = self.cause();
        println!(
            "{}: {cause} in {:?}\n  {}",
            self.marker,
            self.wall,
            self.evidence().replace('\n', "\n  ")
        );
        assert!(
            causes.contains(&cause.as_str()),
            "cause {cause:?}, expected one of {causes:?}\n{}",
            self.evidence()
        );
        self.assert_no_leak();
    }

    /// Neither the marker password nor its base64 forms appear in stdout or stderr.
    fn assert_no_leak(&self) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let forms = [
            self.marker.clone(),
            b64(&self.marker),
            b64(&format!("{USER}:{}", self.marker)),
        ];
        for f in &forms {
            assert!(!self.stdout.contains(f), "stdout leaks {f:?}");
            assert!(!self.stderr.contains(f), "stderr leaks {f:?}");
        }
    }
}

const USER: &str = "hostile-user";

/// A marker password no output could contain by chance.
fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("MARK-{name}-{}-{nanos}", std::process::id())
}

/// Runs `pulldoctor image HOST/app:1.0 --creds USER:MARKER -o json --timeout 3 -vvv EXTRA`,
/// polling the child's VmHWM until it exits.
fn run(name: &str, host: &str, extra: &[&str]) -> Run {
    let marker = marker(name);
    let mut args = vec![
        "image".to_string(),
        format!("{host}/app:1.0"),
        "--creds".to_string(),
        format!("{USER}:{marker}"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    run_args(marker, &args)
}

/// Runs `pulldoctor ARGS -o json --timeout 3 -vvv` with an empty HOME and no `KUBECONFIG`,
/// polling the child's VmHWM until it exits (or [`KILL`] passes).
fn run_args(marker: String, args: &[String]) -> Run {
    run_args_within(marker, args, TIMEOUT)
}

/// [`run_args`] with its own `--timeout`, for a run whose point is memory, not deadlines.
fn run_args_within(marker: String, args: &[String], timeout: u64) -> Run {
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .args(["-o", "json", "--timeout", &timeout.to_string(), "-vvv"])
        .env_remove("KUBECONFIG")
        .env("DOCKER_CONFIG", home.path())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pulldoctor");
    let pid = child.id();
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = pipe(Box::new(child.stdout.take().unwrap()));
    let err = pipe(Box::new(child.stderr.take().unwrap()));
    let mut peak_kib = 0;
    let status = loop {
        peak_kib = peak_kib.max(vm_hwm_kib(pid));
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > KILL {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        wall,
        peak_kib,
        marker,
    }
}

/// `VmHWM` of a live process in KiB (0 once it is gone).
fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn plain(h: &Hostile, name: &str) -> Run {
    run(name, &h.host(), &["--plain-http", &h.host()])
}

fn over_tls(h: &Hostile, pki: &Pki, name: &str) -> Run {
    let ca = pki.ca_file.to_str().unwrap().to_string();
    run(name, &h.host(), &["--ca-file", &ca])
}

const UNAUTHORIZED: &str =
    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A manifest endpoint whose `HEAD` says "index", so the probe must `GET` the body to read the
/// platforms, and whose `GET` does `body`.
fn index_then(req: &Seen, body: Action) -> Action {
    if req.method == "HEAD" {
        Action::reply(200, &[("Content-Type", OCI_INDEX)], "")
    } else {
        body
    }
}

/// A Basic registry's answer for requests without credentials; None once they carry some.
fn basic_gate(req: &Seen) -> Option<Action> {
    (!req.authorization).then(|| {
        Action::reply(
            401,
            &[
                ("WWW-Authenticate", "Basic realm=\"hostile\""),
                ("Content-Type", "application/json"),
            ],
            UNAUTHORIZED,
        )
    })
}

fn tags() -> Action {
    Action::reply(
        200,
        &[("Content-Type", "application/json")],
        r#"{"name":"app","tags":["1.0"]}"#,
    )
}

/// A Basic registry that lets the credentials in and answers manifests with `manifest`.
fn registry_with(manifest: impl Fn(&Seen) -> Action + Send + Sync + 'static) -> Hostile {
    Hostile::start(TlsMode::Plain, move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            "/v2/app/tags/list" => tags(),
            p if p.starts_with("/v2/app/manifests/") => manifest(req),
            _ => Action::reply(404, &[], ""),
        }
    })
}

fn manifest_requests(h: &Hostile) -> Vec<Seen> {
    h.seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/v2/app/manifests/"))
        .collect()
}

#[test]
fn hostile_server_that_accepts_and_never_answers() {
    let h = Hostile::start(TlsMode::Plain, |_| Action::Silent);
    let r = plain(&h, "silent");
    r.assert_diagnosed(&["network_unreachable"]);
    // One anonymous GET /v2/; no challenge came, so no credentials went out.
    let seen = h.seen();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|s| !s.authorization), "{seen:?}");
    assert!(seen.iter().all(|s| s.path == "/v2/"), "{seen:?}");
}

#[test]
fn hostile_headers_then_a_byte_a_second() {
    let h = registry_with(|req| {
        index_then(
            req,
            Action::Trickle {
                reply: hostile_reply(200, OCI_INDEX),
                every: Duration::from_secs(1),
            },
        )
    });
    let r = plain(&h, "trickle");
    r.assert_diagnosed(&["network_unreachable"]);
    // The credentials reached the manifest endpoint of the registry they belong to.
    assert!(
        manifest_requests(&h).iter().any(|s| s.authorization),
        "{:?}",
        h.seen()
    );
}

fn hostile_reply(status: u16, content_type: &str) -> crate::support::hostile::Reply {
    crate::support::hostile::Reply {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: MANIFEST.as_bytes().to_vec(),
    }
}

#[test]
fn hostile_reset_mid_body() {
    let h = registry_with(|req| {
        index_then(
            req,
            Action::ResetMidBody {
                reply: hostile_reply(200, OCI_INDEX),
                after: 40,
            },
        )
    });
    let r = plain(&h, "reset");
    r.assert_diagnosed(&["registry_server_error"]);
    assert!(r.evidence().contains("mid-body"), "{}", r.evidence());
    assert!(!manifest_requests(&h).is_empty(), "{:?}", h.seen());
}

/// The probe reads manifests up to its cap; the child's peak RSS shows it did not buffer more.
fn assert_bounded_memory(r: &Run, what: &str) {
    println!(
        "hostile {what}: peak RSS of `pulldoctor image` = {} KiB ({:.1} MiB), wall {:?}",
        r.peak_kib,
        r.peak_kib as f64 / 1024.0,
        r.wall
    );
    assert!(r.peak_kib > 0, "VmHWM was never read");
    // A 100 MB body held in memory would put the peak past 100 MiB.
    assert!(
        r.peak_kib < 64 * 1024,
        "peak RSS {} KiB while reading {what}",
        r.peak_kib
    );
}

#[test]
fn hostile_hundred_megabyte_manifest() {
    let h = registry_with(|req| {
        index_then(
            req,
            Action::Huge {
                content_type: OCI_INDEX.into(),
                length: 100 * 1000 * 1000,
            },
        )
    });
    let r = plain(&h, "huge");
    r.assert_diagnosed(&["registry_server_error"]);
    assert!(r.evidence().contains("larger than"), "{}", r.evidence());
    assert_bounded_memory(&r, "a 100 MB manifest");
}

#[test]
fn hostile_endless_chunked_manifest() {
    let h = registry_with(|req| {
        index_then(
            req,
            Action::Endless {
                content_type: OCI_INDEX.into(),
            },
        )
    });
    let r = plain(&h, "endless");
    r.assert_diagnosed(&["registry_server_error"]);
    assert!(r.evidence().contains("larger than"), "{}", r.evidence());
    assert_bounded_memory(&r, "an endless chunked manifest");
}

#[test]
fn hostile_redirect_loop() {
    let h = Hostile::start(TlsMode::Plain, |req| {
        // Every answer sends the client back where it came from, with a growing query.
        let next = format!(
            "{}{}x",
            req.path,
            if req.path.contains('?') { "" } else { "?" }
        );
        Action::redirect(302, &next)
    });
    let r = plain(&h, "loop");
    r.assert_diagnosed(&["registry_server_error", "unknown"]);
    assert!(
        r.evidence().contains("too many redirects"),
        "{}",
        r.evidence()
    );
    // Bounded: a handful of hops per request, a handful of requests.
    let seen = h.seen();
    assert!(seen.len() <= 4 * 6, "{} requests: {seen:?}", seen.len());
    assert!(seen.iter().all(|s| !s.authorization), "{seen:?}");
}

#[test]
fn hostile_garbage_certificate_chain() {
    let pki = Pki::generate();
    let real = rustls_pki_types::CertificateDer::from_pem_slice(pki.server.cert_pem.as_bytes())
        .unwrap()
        .to_vec();
    let chains: Vec<Vec<Vec<u8>>> = vec![
        // Not DER at all.
        vec![b"this is not a certificate".to_vec()],
        // A real certificate cut in half, then noise as its issuer.
        vec![
            real[..real.len() / 2].to_vec(),
            vec![0x30, 0x82, 0xff, 0xff, 0x00],
        ],
        // An empty certificate.
        vec![Vec::new()],
    ];
    for (i, chain) in chains.into_iter().enumerate() {
        let h = Hostile::start(
            TlsMode::Garbage {
                chain,
                key: pki.server.clone(),
            },
            |_| Action::reply(200, &[], "{}"),
        );
        let r = over_tls(&h, &pki, &format!("garbage{i}"));
        println!("garbage chain {i}: {} in {:?}", r.cause(), r.wall);
        // No taxonomy cause fits a certificate that does not parse: `unknown`, saying so.
        r.assert_diagnosed(&["unknown", "tls_unknown_authority"]);
        assert!(
            r.evidence().contains("certificate rejected"),
            "{}",
            r.evidence()
        );
        // The handshake failed: no HTTP request was ever read.
        assert!(h.seen().is_empty(), "{:?}", h.seen());
    }
}
