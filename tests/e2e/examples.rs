//! Every command README.md and the `--help` examples show (found by `examples_extract.rs`)
//! runs, exits as documented, and prints what the README shows under it.
//!
//! Each command runs in `bash -o pipefail`, in the order shown, in one scratch world built from
//! the test servers; how a documented name reaches them:
//! - `pulldoctor` and `kubectl-pulldoctor` on `PATH` are links to the test's binary, next to
//!   the machine's `kubectl`; `cargo run --release --` runs that binary too (the same program;
//!   a release build inside a test would take minutes).
//! - `KUBECONFIG` names the API test server (current namespace `shop`), loaded with
//!   `fixtures/cluster/` whose `{{REGISTRY}}` is the TLS registry below; a pod an example names
//!   that the fixtures lack (`web-0`, `x`) is added as a failing pod of the same registry.
//! - An image reference's registry is mapped by its kind: a DNS name (`reg.example.com`) to a
//!   real `docker-registry` with TLS from a private CA and htpasswd auth, a loopback address
//!   (`127.0.0.1:5000`, a local registry) to a plain-HTTP anonymous one; both hold the example
//!   tags, pushed from the bench's multi-platform image.
//! - Relative files given to `--authfile` and `--ca-file` are written into the working
//!   directory: a docker config with the TLS registry's user, and that registry's CA.
//!   `dist/`, `fixtures/` and `scripts/` are the repository's.
//! - Absolute paths (`/etc/…`, `/usr/…`) are moved under a scratch root, created as a user's
//!   system has them; `HOME` is a scratch home; zsh's `$fpath` is a bash array whose element 1
//!   is a scratch directory; `PULLDOCTOR_BIN` makes `scripts/install` copy the test binary
//!   instead of building a release.
//!
//! What a command must do follows from that world: `pod`, `scan` and `explain` name failing
//! pods and failure messages (exit 1); `image` names pullable images (exit 0); `completions`
//! and `man` exit 0 and write what they are sent to; any other pipeline exits 0. JSON output
//! must follow the schema.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use clap::Parser;
use pulldoctor::cli::{Cli, Command as Sub, OutputFormat};

use crate::examples_extract::{Example, Words, help_examples, readme, shows, words};
use crate::scenario::{Scenario, assert_schema};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// Commands not run, each with its reason (matched by how the command begins). An entry that
/// matches no shown command fails the test, so the list cannot go stale.
const SKIPPED: [(&str, &str); 2] = [
    (
        "cargo install",
        "a release build into ~/.cargo; `scripts/install`, which the README shows too, is run \
         with the test binary instead",
    ),
    ("scripts/test", "runs the whole suite, this test included"),
];

const USER: &str = "ci-bot";
const PASSWORD: &str = "examples-Pw-0c6f2b";

/// The scratch world the commands run in.
struct World {
    dir: tempfile::TempDir,
    api: KubeApi,
    tls: Registry,
    plain: Registry,
}

impl World {
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

/// Pushes the bench's multi-platform image under `repo:tag` (skopeo, as a user would retag).
fn retag(reg: &Registry, repo_tag: &str, scratch: &Path) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--all", "--quiet"]);
    match &reg.ca_file {
        Some(ca) => {
            let certs = scratch.join(format!("certs-{}", reg.port()));
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::copy(ca, certs.join("ca.crt")).unwrap();
            let creds = format!("{USER}:{PASSWORD}");
            cmd.args(["--src-cert-dir", certs.to_str().unwrap()])
                .args(["--dest-cert-dir", certs.to_str().unwrap()])
                .args(["--src-creds", &creds, "--dest-creds", &creds]);
        }
        None => {
            cmd.args(["--src-tls-verify=false", "--dest-tls-verify=false"]);
        }
    }
    let out = cmd
        .arg(format!("docker://{}/multi:1.0", reg.host))
        .arg(format!("docker://{}/{repo_tag}", reg.host))
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The pulldoctor invocations of a command line, parsed by the program's own CLI definition.
fn invocations(w: &Words) -> Vec<Cli> {
    w.stages
        .iter()
        .filter_map(|stage| {
            let args: Vec<&str> = match stage.iter().map(String::as_str).collect::<Vec<_>>() {
                s if s.first() == Some(&"pulldoctor") => s,
                s if s.starts_with(&["kubectl", "pulldoctor"]) => s[1..].to_vec(),
                s if s.starts_with(&["cargo", "run"]) => {
                    let dash = s.iter().position(|a| *a == "--")?;
                    std::iter::once("pulldoctor")
                        .chain(s[dash + 1..].iter().copied())
                        .collect()
                }
                _ => return None,
            };
            Some(Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{stage:?}: {e}")))
        })
        .collect()
}

/// The registry host a shown one maps to, by its kind (see the module header).
fn mapped_host(world: &World, host: &str) -> String {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if name
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || name == "localhost"
    {
        world.plain.host.clone()
    } else {
        world.tls.host.clone()
    }
}

/// The registry part of an image reference, when it names one.
fn registry_of(reference: &str) -> Option<&str> {
    let (first, _) = reference.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Builds the world every example runs in.
fn world(examples: &[Example]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let tls = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd(USER, PASSWORD),
    });
    let plain = Registry::start(RegistryOptions {
        tls: Tls::Plain,
        auth: Auth::None,
    });
    tls.seed_fixtures();
    plain.seed_fixtures();
    let api = KubeApi::start();
    api.load_fixture_with("cluster/shop.yaml", &tls.host);
    api.load_fixture_with("cluster/payments.yaml", &tls.host);
    let world = World {
        dir,
        api,
        tls,
        plain,
    };
    let work = world.work();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(world.dir.path().join("home")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for shared in ["dist", "fixtures", "scripts"] {
        std::os::unix::fs::symlink(repo.join(shared), work.join(shared)).unwrap();
    }
    let bin = world.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["pulldoctor", "kubectl-pulldoctor"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pulldoctor"), bin.join(name)).unwrap();
    }
    let mut tags = std::collections::BTreeSet::new();
    let mut pods = std::collections::BTreeSet::new();
    for ex in examples {
        let w = words(&ex.line);
        for stage in &w.stages {
            if let [k, describe, pod, name, ..] = stage.as_slice()
                && k == "kubectl"
                && describe == "describe"
                && pod == "pod"
            {
                pods.insert(name.clone());
            }
        }
        for cli in invocations(&w) {
            match cli.command {
                Sub::Pod(a) => {
                    pods.insert(a.name);
                }
                Sub::Image(a) => {
                    for r in &a.refs {
                        if let Some(host) = registry_of(r) {
                            let repo_tag = &r[host.len() + 1..];
                            tags.insert((mapped_host(&world, host), repo_tag.to_string()));
                        }
                    }
                    if let Some(f) = a.authfile.filter(|f| f.is_relative()) {
                        let auth = base64::engine::general_purpose::STANDARD
                            .encode(format!("{USER}:{PASSWORD}"));
                        let config =
                            serde_json::json!({"auths": {world.tls.host.clone(): {"auth": auth}}});
                        std::fs::write(work.join(f), config.to_string()).unwrap();
                    }
                    for f in a.probe.ca_files.iter().filter(|f| f.is_relative()) {
                        std::fs::copy(world.tls.ca_file.as_ref().unwrap(), work.join(f)).unwrap();
                    }
                }
                _ => {}
            }
        }
    }
    for (host, repo_tag) in tags {
        let reg = if host == world.tls.host {
            &world.tls
        } else {
            &world.plain
        };
        retag(reg, &repo_tag, world.dir.path());
    }
    // Pods the examples name that the fixtures lack: failing pods of the TLS registry.
    let known = std::fs::read_to_string(repo.join("fixtures/cluster/shop.yaml")).unwrap();
    for name in pods {
        if known.contains(&format!("name: {name}\n")) {
            continue;
        }
        let image = format!("{}/app:9.9", world.tls.host);
        let mut s = Scenario::new(&image).failed(&format!(
            "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
        ));
        s.pod = name;
        s.load(&world.api);
    }
    world
}

/// The command line rewritten onto the world, and the files and directories it must write.
fn rewrite(world: &World, ex: &Example) -> (String, Vec<PathBuf>) {
    let mut line = ex.line.clone();
    if let Some(rest) = line.strip_prefix("cargo run --release -- ") {
        line = format!("pulldoctor {rest}");
    }
    let w = words(&line);
    let mut written = Vec::new();
    let mut dirs = Vec::new();
    for cli in invocations(&w) {
        match cli.command {
            Sub::Image(a) => {
                for r in &a.refs {
                    if let Some(host) = registry_of(r) {
                        // Everywhere: the reference, and `--plain-http HOST` naming it.
                        line = line.replace(host, &mapped_host(world, host));
                    }
                }
            }
            Sub::Man { dir: Some(d) } => dirs.push(d),
            _ => {}
        }
    }
    written.extend(w.redirects.iter().map(PathBuf::from));
    written.extend(dirs.iter().cloned());
    let absolute: Vec<String> = w
        .stages
        .iter()
        .flatten()
        .chain(&w.redirects)
        .filter(|a| a.starts_with('/'))
        .cloned()
        .collect();
    let moved = |p: &Path| match p.strip_prefix("/") {
        Ok(rel) => world.root().join(rel),
        Err(_) => world.work().join(p),
    };
    for a in absolute {
        line = line.replace(&a, moved(Path::new(&a)).to_str().unwrap());
    }
    for d in &dirs {
        std::fs::create_dir_all(moved(d)).unwrap();
    }
    let written: Vec<PathBuf> = written
        .iter()
        .map(|p| {
            let shown = p.to_string_lossy();
            let p = match shown.strip_prefix("${fpath[1]}/") {
                Some(file) => Path::new(&world.fpath()).join(file),
                None => moved(p),
            };
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            p
        })
        .collect();
    (line, written)
}

impl World {
    fn fpath(&self) -> String {
        self.root()
            .join("usr/share/zsh/site-functions")
            .display()
            .to_string()
    }
}

/// The exit code a command must end with in this world.
fn expected_code(w: &Words) -> i32 {
    match invocations(w).last().map(|c| &c.command) {
        Some(Sub::Pod(_) | Sub::Scan(_) | Sub::Explain(_)) => 1,
        _ => 0,
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(world: &World, line: &str) -> Ran {
    let kubectl = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v kubectl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let kubectl_dir = Path::new(kubectl.trim()).parent().unwrap().to_path_buf();
    let home = world.dir.path().join("home");
    let path = format!(
        "{}:{}:{}:/usr/bin:/bin",
        world.dir.path().join("bin").display(),
        home.join(".cargo/bin").display(),
        kubectl_dir.display()
    );
    std::fs::create_dir_all(world.fpath()).unwrap();
    let script = format!("fpath=('' '{}')\n{line}\n", world.fpath());
    let out_dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = Command::new("bash")
        .args(["-o", "pipefail", "-c", &script])
        .current_dir(world.work())
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("KUBECONFIG", world.api.kubeconfig())
        .env("NO_COLOR", "1")
        .env("PULLDOCTOR_BIN", env!("CARGO_BIN_EXE_pulldoctor"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("run bash");
    // A `--watch` example runs until its pod pulls, which no example pod does: it is stopped
    // the way its user stops it, with Ctrl-C, once it has printed its first line. Any other
    // command that outlives the deadline is a failure, never a hang of the suite.
    let watch = line.split_whitespace().any(|a| a == "--watch" || a == "-w");
    let started = std::time::Instant::now();
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        let printed = std::fs::metadata(&out_path).is_ok_and(|m| m.len() > 0);
        if watch && printed && !interrupted {
            let group = format!("-{}", child.id());
            Command::new("kill")
                .args(["-INT", "--", &group])
                .status()
                .unwrap();
            interrupted = true;
        }
        if started.elapsed() > EXAMPLE_DEADLINE {
            let group = format!("-{}", child.id());
            Command::new("kill")
                .args(["-KILL", "--", &group])
                .status()
                .unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!(
            "\n(killed: still running after {EXAMPLE_DEADLINE:?})"
        ));
    }
    Ran {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr,
    }
}

/// How long one example may run before it counts as hung.
const EXAMPLE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// Checks one example; the reasons it fails, if any.
fn check(world: &World, ex: &Example) -> Vec<String> {
    let (line, written) = rewrite(world, ex);
    let w = words(&line);
    let ran = run(world, &line);
    let mut wrong = Vec::new();
    let want = expected_code(&w);
    eprintln!(
        "{}: `{}` exit {} (want {want})",
        ex.source, ex.line, ran.code
    );
    if ran.code != want {
        wrong.push(format!("exit {} (want {want})", ran.code));
    }
    if ran.code != want
        && let Ok(report) = serde_json::from_str::<serde_json::Value>(&ran.stdout)
    {
        let summaries: Vec<&serde_json::Value> = report["verdicts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| &v["summary"])
            .collect();
        wrong.push(format!("the report says: {summaries:?}"));
    }
    if let Err(e) = shows(&ex.shown, &ran.stdout) {
        wrong.push(e);
    }
    for f in &written {
        let empty = match std::fs::read_dir(f) {
            Ok(mut entries) => entries.next().is_none(),
            Err(_) => std::fs::metadata(f).map_or(true, |m| m.len() == 0),
        };
        if empty {
            wrong.push(format!("wrote nothing to {}", f.display()));
        }
    }
    let json = invocations(&w)
        .last()
        .is_some_and(|c| c.output == OutputFormat::Json);
    if json && w.redirects.is_empty() && ran.code != 2 {
        match serde_json::from_str(&ran.stdout) {
            Ok(report) => assert_schema(&report),
            Err(e) => wrong.push(format!("-o json printed no JSON: {e}")),
        }
    }
    wrong
        .into_iter()
        .map(|why| {
            format!(
                "{}: `{}`\n  ran: {line}\n  {why}\n  stdout: {}\n  stderr: {}",
                ex.source,
                ex.line,
                tail(&ran.stdout),
                tail(&ran.stderr)
            )
        })
        .collect()
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n    ")
}

#[test]
fn examples_in_readme_and_help_run_as_documented() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut examples = readme(repo);
    assert!(examples.len() >= 8, "README commands: {examples:#?}");
    let scratch = tempfile::tempdir().unwrap();
    let plugin = scratch.path().join("kubectl-pulldoctor");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pulldoctor"), &plugin).unwrap();
    let own = help_examples(Path::new(env!("CARGO_BIN_EXE_pulldoctor")));
    let as_plugin = help_examples(&plugin);
    assert!(own.len() >= 8, "help examples: {own:#?}");
    assert_eq!(own.len(), as_plugin.len(), "{as_plugin:#?}");
    examples.extend(own);
    examples.extend(as_plugin);

    for (prefix, _) in SKIPPED {
        assert!(
            examples.iter().any(|e| e.line.starts_with(prefix)),
            "SKIPPED names `{prefix}`, which no example shows any more"
        );
    }
    let examples: Vec<Example> = examples
        .into_iter()
        .filter(|e| !SKIPPED.iter().any(|(p, _)| e.line.starts_with(p)))
        .collect();
    let world = world(&examples);
    let failures: Vec<String> = examples.iter().flat_map(|ex| check(&world, ex)).collect();
    assert!(
        world.api.writes().is_empty(),
        "an example wrote to the cluster: {:?}",
        world.api.writes()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
