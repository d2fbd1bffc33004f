//! The `pulldoctor scan` scale benchmark: generated clusters scanned from snapshot files in
//! every format kubectl writes, and live through the API test server. Prints figures; asserts
//! no timing.
//!
//! Two clusters (`cluster.rs`): `10k` (10,000 pods, 2,000 failing on 300 images, 50,000
//! events; the 35 MB YAML of issue 15) and `100k` (100,000 pods, 5,000 failing on 1,000 images,
//! 100,000 events). Each is written as kubectl's `-o json` `List`, its `-o yaml` `List`, and a
//! multi-document YAML stream, and scanned with `scan -A --snapshot` with and without probing.
//! The registries are four Debian `docker-registry`s from the test bench
//! (`tests/e2e/support`), TLS with a CA made at run time, two behind htpasswd, each behind a
//! counting pass-through proxy and seeded with the fixture images, so some probes succeed
//! (`app:1.0`, `multi:1.0`, …), one meets a platform mismatch (`armonly:1.0`) and most find a
//! missing tag or repository. Everything listens on 127.0.0.1.
//!
//! ```text
//! cargo run --release --example scale_bench -- generate SHAPE DIR [HOST…]   # files only
//! cargo run --release --example scale_bench -- snapshots PULLDOCTOR_BIN DIR  # the figures
//! cargo run --release --example scale_bench -- live PULLDOCTOR_BIN DIR       # 10k, live
//! cargo run --release --example scale_bench -- serve DIR                     # keep serving
//! ```
//!
//! `generate` writes SHAPE (`10k` or `100k`) in the three formats for registries at HOST…
//! (default `127.0.0.1:5001` … `127.0.0.1:5004`). `snapshots` runs each scan `RUNS` times
//! (default 3) and prints the median wall time and the largest peak RSS, the registry
//! requests per distinct failing image, and whether each format's report has the same groups,
//! failing pods and totals as the JSON one. `serve` writes `DIR/snapshot.json`,
//! `DIR/kubeconfig` and `DIR/ca.pem` for the 10k cluster and serves until stdin closes.

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

mod cluster;
mod measure;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use cluster::{FORMATS, Generated, LARGE, SMALL, Shape, snapshot_path, write_snapshots};
use support::kube_api::KubeApi;
use support::{Auth, Fault, FaultProxy, Registry, RegistryOptions, Tls};

/// One local registry as the cluster sees it: through its counting proxy.
struct Site {
    registry: Registry,
    proxy: FaultProxy,
    login: Option<(String, String)>,
}

fn start_sites() -> Vec<Site> {
    let t = Instant::now();
    let logins = [
        Some(("alice", "bench-pw-0")),
        Some(("bob", "bench-pw-1")),
        None,
        None,
    ];
    let sites: Vec<Site> = logins
        .iter()
        .map(|login| {
            let auth = match login {
                Some((u, p)) => Auth::htpasswd(u, p),
                None => Auth::None,
            };
            let registry = Registry::start(RegistryOptions {
                tls: Tls::Valid,
                auth,
            });
            registry.seed_fixtures();
            let proxy = FaultProxy::start(&registry, Fault::PassThrough);
            Site {
                registry,
                proxy,
                login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            }
        })
        .collect();
    eprintln!(
        "started {} registries (+ counting proxies) in {:.1}s",
        sites.len(),
        t.elapsed().as_secs_f64()
    );
    sites
}

fn cluster_sites(sites: &[Site]) -> Vec<cluster::Site> {
    sites
        .iter()
        .map(|s| cluster::Site {
            host: s.proxy.host(),
            login: s.login.clone(),
        })
        .collect()
}

fn write_ca(sites: &[Site], dir: &Path) -> PathBuf {
    let ca = dir.join("ca.pem");
    let bundle: String = sites
        .iter()
        .map(|s| s.registry.pki.ca_pem.clone())
        .collect();
    std::fs::write(&ca, bundle).expect("write CA bundle");
    ca
}

fn shape(name: &str) -> Shape {
    match name {
        "10k" => SMALL,
        "100k" => LARGE,
        other => {
            eprintln!("unknown shape {other} (10k or 100k)");
            std::process::exit(2);
        }
    }
}

fn describe(shape: &Shape, g: &Generated, dir: &Path) {
    let size = |f: &str| {
        std::fs::metadata(snapshot_path(dir, shape, f)).map_or(0.0, |m| m.len() as f64 / 1e6)
    };
    println!(
        "cluster {}: {} pods ({} failing), {} events, {} objects, {} distinct failing images, \
         {} distinct (image, credentials); files: json {:.1} MB, yaml {:.1} MB, yaml-stream {:.1} MB",
        shape.name,
        g.pods,
        g.failing_pods,
        g.events,
        g.objects,
        g.images,
        g.distinct,
        size("json"),
        size("yaml"),
        size("yaml-stream")
    );
}

/// `scan -A --snapshot` of both clusters in every format, probing and not.
fn snapshots(pulldoctor: &Path, dir: &Path) {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let shapes: Vec<Shape> = match std::env::var("SHAPES") {
        Ok(s) => s.split(',').map(shape).collect(),
        Err(_) => vec![SMALL, LARGE],
    };
    let sites = start_sites();
    let ca = write_ca(&sites, dir);
    let ca = ca.to_string_lossy().into_owned();
    let proxies: Vec<&FaultProxy> = sites.iter().map(|s| &s.proxy).collect();
    println!(
        "median wall and CPU (user + system) time of {runs} runs, largest peak RSS; \
         `scan -A -o json --snapshot FILE --ca-file CA [--no-probe]`"
    );
    for shape in shapes {
        let t = Instant::now();
        let generated = write_snapshots(&shape, &cluster_sites(&sites), dir);
        eprintln!(
            "generated {} in {:.1}s",
            shape.name,
            t.elapsed().as_secs_f64()
        );
        describe(&shape, &generated, dir);
        println!(
            "  {:<6} {:<12} {:<6} {:>8} {:>7} {:>10} {:>5} {:>7} {:>7} {:>9} {:>9}  same findings as json",
            "shape",
            "format",
            "probe",
            "wall s",
            "cpu s",
            "peak MB",
            "exit",
            "groups",
            "pods",
            "requests",
            "per image",
        );
        for probe in [false, true] {
            let mut json_findings = None;
            for format in FORMATS {
                let file = snapshot_path(dir, &shape, format);
                let file = file.to_string_lossy().into_owned();
                let mut args = vec!["--snapshot", file.as_str(), "--ca-file", ca.as_str()];
                if !probe {
                    args.push("--no-probe");
                }
                let out = dir.join(format!("report-{}-{format}-{probe}.json", shape.name));
                let all: Vec<measure::Run> = (0..runs)
                    .map(|_| measure::scan(pulldoctor, &args, &proxies, &out))
                    .collect();
                let (wall, cpu, rss) = measure::summary(&all);
                let last = all.last().expect("one run");
                let findings = last.findings();
                let same = match &json_findings {
                    None => {
                        json_findings = Some(findings);
                        "-".to_string()
                    }
                    Some(j) => if *j == findings { "yes" } else { "NO" }.to_string(),
                };
                let per_image = if probe {
                    format!(
                        "{:.2}",
                        last.registry_requests as f64 / generated.distinct.max(1) as f64
                    )
                } else {
                    "-".to_string()
                };
                println!(
                    "  {:<6} {:<12} {:<6} {:>8.2} {:>7.2} {:>10.1} {:>5} {:>7} {:>7} {:>9} {:>9}  {}",
                    shape.name,
                    format,
                    if probe { "yes" } else { "no" },
                    wall,
                    cpu,
                    rss as f64 / 1024.0,
                    last.code,
                    last.report["groups"].as_array().map_or(0, Vec::len),
                    last.report["totals"]["pods"].as_u64().unwrap_or(0),
                    last.registry_requests,
                    per_image,
                    same
                );
                if probe && last.probes() != generated.distinct {
                    println!(
                        "    probes made: {} for {} distinct (image, credentials)",
                        last.probes(),
                        generated.distinct
                    );
                }
            }
        }
    }
}

/// The 10k cluster written as one JSON `List` and served by the API test server.
struct Live {
    sites: Vec<Site>,
    api: KubeApi,
    generated: Generated,
    ca: PathBuf,
}

fn live_setup(dir: &Path) -> Live {
    std::fs::create_dir_all(dir).expect("create workdir");
    let sites = start_sites();
    let api = KubeApi::start();
    let mut objects = Vec::new();
    let generated = cluster::generate(&SMALL, &cluster_sites(&sites), |obj| {
        api.add(obj.clone());
        objects.push(obj);
    });
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    std::fs::write(
        dir.join("snapshot.json"),
        serde_json::to_vec(&list).expect("json"),
    )
    .expect("write snapshot");
    std::fs::copy(api.kubeconfig(), dir.join("kubeconfig")).expect("copy kubeconfig");
    let ca = write_ca(&sites, dir);
    Live {
        sites,
        api,
        generated,
        ca,
    }
}

fn live(pulldoctor: &Path, dir: &Path) {
    let bench = live_setup(dir);
    let kubeconfig = dir.join("kubeconfig").to_string_lossy().into_owned();
    let ca = bench.ca.to_string_lossy().into_owned();
    let proxies: Vec<&FaultProxy> = bench.sites.iter().map(|s| &s.proxy).collect();
    bench.api.clear_requests();
    let out = dir.join("report-live.json");
    let run = measure::scan(
        pulldoctor,
        &["--kubeconfig", &kubeconfig, "--ca-file", &ca],
        &proxies,
        &out,
    );
    let g = &bench.generated;
    println!(
        "scan -A live (API test server), cluster 10k: {} pods ({} failing), {} events",
        g.pods, g.failing_pods, g.events
    );
    println!("  wall time:          {:.2} s", run.wall_s);
    println!("  CPU time:           {:.2} s", run.cpu_s);
    println!("  peak RSS:           {:.1} MB", run.rss_kb as f64 / 1024.0);
    println!("  exit code:          {}", run.code);
    println!("  API requests:       {}", bench.api.requests().len());
    println!(
        "  registry requests:  {} ({:.2} per distinct (image, credentials))",
        run.registry_requests,
        run.registry_requests as f64 / g.distinct.max(1) as f64
    );
    println!(
        "  probes made:        {} for {} distinct (image, credentials)",
        run.probes(),
        g.distinct
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["generate", name, dir, hosts @ ..] => {
            let shape = shape(name);
            let hosts: Vec<String> = if hosts.is_empty() {
                (1..=4).map(|i| format!("127.0.0.1:500{i}")).collect()
            } else {
                hosts.iter().map(|h| h.to_string()).collect()
            };
            // The first two registries ask for a login, as in `start_sites`.
            let sites: Vec<cluster::Site> = hosts
                .into_iter()
                .enumerate()
                .map(|(i, host)| cluster::Site {
                    host,
                    login: (i < 2).then(|| (format!("user{i}"), format!("bench-pw-{i}"))),
                })
                .collect();
            std::fs::create_dir_all(dir).expect("create dir");
            let g = write_snapshots(&shape, &sites, Path::new(dir));
            describe(&shape, &g, Path::new(dir));
        }
        ["snapshots", pulldoctor, dir] => {
            std::fs::create_dir_all(dir).expect("create dir");
            snapshots(Path::new(pulldoctor), Path::new(dir));
        }
        ["live", pulldoctor, dir] => live(Path::new(pulldoctor), Path::new(dir)),
        ["serve", dir] => {
            let bench = live_setup(Path::new(dir));
            println!(
                "snapshot:   {}",
                Path::new(dir).join("snapshot.json").display()
            );
            println!(
                "kubeconfig: {}",
                Path::new(dir).join("kubeconfig").display()
            );
            println!("ca-file:    {}", bench.ca.display());
            println!(
                "distinct (registry, repository, reference, credential set): {}",
                bench.generated.distinct
            );
            println!("serving until stdin closes");
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        _ => {
            eprintln!(
                "usage: scale_bench generate SHAPE DIR [HOST…] | snapshots PULLDOCTOR_BIN DIR \
                 | live PULLDOCTOR_BIN DIR | serve DIR"
            );
            std::process::exit(2);
        }
    }
}
