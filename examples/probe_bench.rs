//! The `pulldoctor image` probe benchmark: what one probe costs a registry (connections, TLS
//! handshakes, requests per case) and how long it takes against skopeo, with and without 50 ms
//! of latency each way. Prints figures; asserts nothing. Run through `scripts/bench-probe`.
//!
//! The registries are Debian's `docker-registry` from the test bench (`tests/e2e/support`): one
//! with TLS and htpasswd (Basic), one with TLS and the bench token server (Bearer), both seeded
//! with the fixture images. Each case runs behind a fresh counting TCP relay (`support::relay`),
//! so connections and handshakes are counted where the registry would see them; requests come
//! from the registry's own access log and the token server's record. Timings are paired runs in
//! alternating order, medians of each. Everything listens on 127.0.0.1. Beside them, curl's
//! timers give the registry's own time for the same requests: the part no client can remove.
//!
//! ```text
//! cargo run --release --example probe_bench -- PULLDOCTOR_BIN [ROUNDS]
//! ```

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Auth, Registry, RegistryOptions, Relay, Tls, access_log};

const USER: &str = "bench";
const PASSWORD: &str = "bench-only-password";
const DELAY: Duration = Duration::from_millis(50);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(bin) = args.get(1).cloned() else {
        eprintln!("usage: probe_bench PULLDOCTOR_BIN [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(15);
    let work = tempfile::tempdir().expect("temp dir");
    let basic = seeded(Auth::htpasswd(USER, PASSWORD));
    let token = seeded(Auth::token(USER, PASSWORD));
    // skopeo reads a directory of CA files.
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    std::fs::copy(&basic.pki.ca_file, certs.join("basic-ca.crt")).expect("copy CA");

    if std::env::var_os("HOLD").is_some() {
        hold(&basic, &token, &certs);
        return;
    }
    println!("== Requests and connections per `pulldoctor image` (one run each)");
    println!(
        "{:<20} {:<26} {:>8} {:>11} {:>10} {:>8} {:>11} {:>6}",
        "case", "verdict", "registry", "connections", "handshakes", "token", "token conns", "total"
    );
    let cases: [(&str, &Registry, &str, &str); 5] = [
        ("healthy", &basic, "app:1.0", PASSWORD),
        ("missing tag", &basic, "app:1.9", PASSWORD),
        ("missing repository", &basic, "nothere:1.0", PASSWORD),
        ("wrong password", &basic, "app:1.0", "wrong-password"),
        ("token registry", &token, "app:1.0", PASSWORD),
    ];
    for (name, reg, image, password) in cases {
        let relay = Relay::start(&reg.host, Duration::ZERO);
        let before = reg.settled_log().len();
        let tokens_before = reg
            .token
            .as_ref()
            .map_or((0, 0), |t| (t.requests().len(), t.connections()));
        let out = pulldoctor(&bin, &relay.host(), image, &reg.pki.ca_file, password);
        let log = reg.settled_log();
        let requests = access_log(&log[before.min(log.len())..]);
        let (token_requests, token_connections) = reg.token.as_ref().map_or((0, 0), |t| {
            (
                t.requests().len() - tokens_before.0,
                t.connections() - tokens_before.1,
            )
        });
        let verdict = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["verdicts"][0]["cause"].as_str().map(str::to_string))
            .unwrap_or_else(|| "pullable".into());
        println!(
            "{:<20} {:<26} {:>8} {:>11} {:>10} {:>8} {:>11} {:>6}",
            name,
            verdict,
            requests.len(),
            relay.connections(),
            relay.tls_handshakes(),
            token_requests,
            token_connections,
            requests.len() + token_requests
        );
        let shown: Vec<String> = requests
            .iter()
            .map(|r| format!("{} {} {}", r.method, short(&r.path), r.status))
            .collect();
        println!("{:<20} {}", "", shown.join(", "));
    }

    let image = "app:1.0";
    for (label, delay) in [
        ("no added latency", Duration::ZERO),
        ("50 ms each way", DELAY),
    ] {
        let relay = Relay::start(&basic.host, delay);
        let host = relay.host();
        let pd = || {
            let out = pulldoctor(&bin, &host, image, &basic.pki.ca_file, PASSWORD);
            assert!(
                out.status.success(),
                "pulldoctor: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let list_tags = || skopeo(&["list-tags"], &certs, &format!("docker://{host}/app"));
        let inspect = || skopeo(&["inspect"], &certs, &format!("docker://{host}/{image}"));
        let conns = |f: &dyn Fn()| {
            let before = relay.connections();
            f();
            relay.connections() - before
        };
        println!();
        println!("== Wall time, {label} (healthy {image}, TLS + htpasswd, {rounds} paired rounds)");
        println!("load: {}", uptime());
        println!(
            "connections per run: pulldoctor {}, skopeo list-tags {}, skopeo inspect {}",
            conns(&pd),
            conns(&list_tags),
            conns(&inspect)
        );
        let mut medians = Vec::new();
        for (name, other) in [
            ("skopeo list-tags", &list_tags as &dyn Fn()),
            ("skopeo inspect", &inspect as &dyn Fn()),
        ] {
            let (mine, theirs) = paired(rounds, &pd, other);
            medians.push((name, theirs));
            println!(
                "pulldoctor image median {mine:.1} ms, {name} median {theirs:.1} ms, ratio {:.3}",
                mine / theirs
            );
        }
        let floor = registry_floor(&host, image, &basic.pki.ca_file, rounds);
        let registry: f64 = floor.iter().sum();
        let nothing = median((0..rounds).map(|_| time(&|| no_op())).collect());
        println!(
            "floor: the registry's own time for those requests (curl -w, one connection, medians) \
             is TCP + TLS {:.1} ms, manifest GET {:.1} ms, config blob GET {:.1} ms, sum {registry:.1} ms; \
             a process that does nothing (`true`) takes {nothing:.1} ms",
            floor[0], floor[1], floor[2],
        );
        for (name, theirs) in medians {
            println!(
                "floor ratio against {name}: {:.3} (registry alone {:.3})",
                (registry + nothing) / theirs,
                registry / theirs
            );
        }
    }
    println!();
    println!("load after: {}", uptime());
}

/// `HOLD=1`: print how to reach both registries, then keep them up until stdin closes, for
/// profiling one tool by hand (`perf stat`, `strace -ttt`) against the same servers.
fn hold(basic: &Registry, token: &Registry, certs: &Path) {
    println!(
        "basic registry {} (CA {})",
        basic.host,
        basic.pki.ca_file.display()
    );
    println!(
        "token registry {} (CA {})",
        token.host,
        token.pki.ca_file.display()
    );
    println!(
        "skopeo --cert-dir {}; credentials {USER}:{PASSWORD}",
        certs.display()
    );
    let relay = Relay::start(&basic.host, DELAY);
    println!("basic registry 50 ms each way: {}", relay.host());
    println!("(close stdin to stop)");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

fn seeded(auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth,
    });
    reg.seed_fixtures();
    reg
}

/// `pulldoctor image HOST/IMAGE` as a CI job runs it: the CA, the credentials, the platform.
fn pulldoctor(
    bin: &str,
    host: &str,
    image: &str,
    ca: &Path,
    password: &str,
) -> std::process::Output {
    Command::new(bin)
        .args([
            "image",
            &format!("{host}/{image}"),
            "--ca-file",
            ca.to_str().expect("utf-8 path"),
            "--creds",
            &format!("{USER}:{password}"),
            "--platform",
            "linux/amd64",
            "-o",
            "json",
        ])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run pulldoctor")
}

fn skopeo(command: &[&str], certs: &Path, reference: &str) {
    let out = Command::new("skopeo")
        .args(command)
        .args([
            "--cert-dir",
            certs.to_str().expect("utf-8 path"),
            "--creds",
            &format!("{USER}:{PASSWORD}"),
            reference,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How long the registry takes over what a healthy probe asks of it, as curl's `-w` timers see it
/// on one connection: the TCP and TLS handshake, the manifest GET and the config blob GET, each
/// to its first byte (medians, ms). No client can answer sooner than their sum, so it bounds the
/// ratio any client could reach against the same registry.
fn registry_floor(host: &str, image: &str, ca: &Path, rounds: usize) -> [f64; 3] {
    let (repo, tag) = image.split_once(':').expect("image is repo:tag");
    let auth = format!("{USER}:{PASSWORD}");
    let ca = ca.to_str().expect("utf-8 path");
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json";
    let manifest_url = format!("https://{host}/v2/{repo}/manifests/{tag}");
    let manifest = Command::new("curl")
        .args([
            "-sf",
            "--cacert",
            ca,
            "-u",
            &auth,
            "-H",
            accept,
            &manifest_url,
        ])
        .output()
        .expect("run curl");
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest.stdout).expect("the manifest is JSON");
    let config = manifest["config"]["digest"]
        .as_str()
        .expect("config digest");
    let blob_url = format!("https://{host}/v2/{repo}/blobs/{config}");
    let mut parts: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        let out = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-o", "/dev/null", "--cacert", ca])
            .args(["-u", &auth, "-H", accept, "-w"])
            .arg("%{time_appconnect} %{time_starttransfer}\n")
            .args([&manifest_url, &blob_url])
            .output()
            .expect("run curl");
        let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|t| t.parse::<f64>().ok())
            .map(|s| s * 1000.0)
            .collect();
        let [connect, first_byte, _, blob_first_byte] = times[..] else {
            panic!("curl -w printed {times:?}");
        };
        parts[0].push(connect);
        parts[1].push(first_byte - connect);
        parts[2].push(blob_first_byte);
    }
    parts.map(median)
}

/// How long `f` takes, in ms.
fn time(f: &dyn Fn()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64() * 1000.0
}

/// Starts and waits for a process that does nothing: what starting any client costs.
fn no_op() {
    let status = Command::new("true").status().expect("run true");
    assert!(status.success());
}

/// Medians (ms) of `a` and `b`, run in alternating order `rounds` times.
fn paired(rounds: usize, a: &dyn Fn(), b: &dyn Fn()) -> (f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        if i % 2 == 0 {
            ta.push(time(a));
            tb.push(time(b));
        } else {
            tb.push(time(b));
            ta.push(time(a));
        }
    }
    (median(ta), median(tb))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A blob path shortened to its first digest characters.
fn short(path: &str) -> String {
    match path.split_once("sha256:") {
        Some((head, digest)) => format!("{head}sha256:{}…", &digest[..digest.len().min(8)]),
        None => path.to_string(),
    }
}

fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
