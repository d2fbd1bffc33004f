//! `scan --from-nodes` at scale on the test bench: N nodes, each with one failing pod and its
//! own test kubelet (network namespace, forwarder to one registry), probed by the real binary.
//! Prints the wall time, pulldoctor's peak memory (its own `wait4` rusage, not the probe
//! processes'), the API requests it made and the probe pods created and deleted.
//!
//! ```text
//! cargo build --example from_nodes_bench && target/debug/examples/from_nodes_bench target/debug/pulldoctor 100 8
//! ```

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;
use support::kube_api::KubeApi;
use support::kubelet::Kubelet;
use support::{Auth, Registry, RegistryOptions, Tls};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or("target/debug/pulldoctor".into());
    let nodes: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let concurrency = args.get(3).cloned().unwrap_or("8".into());
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::None,
    });
    reg.seed_fixtures();
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    let root = tempfile::tempdir().unwrap();
    let bundle = root.path().join("etc/ssl/certs/ca-certificates.crt");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::write(&bundle, &reg.pki.ca_pem).unwrap();
    std::fs::create_dir_all(root.path().join("etc/containerd")).unwrap();
    std::fs::write(
        root.path().join("etc/containerd/config.toml"),
        "version = 2\n",
    )
    .unwrap();
    let started = Instant::now();
    let mut kubelets = Vec::new();
    for i in 0..nodes {
        let node = format!("node-{i:04}");
        let name = format!("web-{i:04}");
        api.add(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{i}")},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": image,
                "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}}));
        let k = Kubelet::start(&api, &node, root.path());
        k.net.forward(reg.port(), reg.host.parse().unwrap());
        kubelets.push(k);
    }
    eprintln!(
        "{nodes} test kubelets up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    api.clear_requests();
    let kc = api.kubeconfig();
    let started = Instant::now();
    // Reaped by the wait4 below, which also gives its own rusage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(&bin)
        .args(["scan", "-n", "shop", "-o", "json", "--kubeconfig"])
        .arg(&kc)
        .args([
            "--from-nodes",
            "--node-image",
            "pulldoctor:test",
            "--probe-timeout",
            "120",
        ])
        .args(["--node-concurrency", &concurrency])
        .args(
            std::env::var("BENCH_ARGS")
                .iter()
                .flat_map(|a| a.split_whitespace()),
        )
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("BENCH_VERBOSE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("run pulldoctor");
    let pid = child.id() as i32;
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        std::thread::sleep(std::time::Duration::from_secs(5));
        for p in api.pods_in("shop") {
            eprintln!("{} {}", p["metadata"]["name"], p["status"]["phase"]);
        }
        let ran: usize = kubelets.iter().map(|k| k.ran().len()).sum();
        eprintln!("ran {ran}");
    }
    let mut status = 0;
    // SAFETY: wait4 on our own child, with an rusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    let requests = api.requests();
    let per = |m: &str| requests.iter().filter(|r| r.method == m).count();
    println!(
        "nodes {nodes}, node-concurrency {concurrency}: {wall:.1} s, pulldoctor max RSS {} MB, API requests {} (GET {}, POST {}, DELETE {}; {:.1} per node), probe pods created {} deleted {}, exit {}",
        usage.ru_maxrss / 1024,
        requests.len(),
        per("GET"),
        per("POST"),
        per("DELETE"),
        requests.len() as f64 / nodes as f64,
        api.created_pods().len(),
        api.deleted_pods().len(),
        libc::WEXITSTATUS(status)
    );
}
