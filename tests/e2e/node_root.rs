//! `--node-root DIR`, end to end: the real binary reads a copy of a node's files (the fixture
//! node roots in `fixtures/nodes/`, each built from its runtime's documented examples) and
//! probes Debian's docker-registry as that node's runtime would.
//!
//! Each test asserts what an operator checks: the exit code, the endpoints in the runtime's
//! order, the finding that names the node file and line, and that the result changes with the
//! node's files (the same command without them, or with the deciding file removed, differs).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scenario::{Run, assert_schema, b64, evidence_text, path, pulldoctor};
use crate::support::{Auth, Pki, Registry, RegistryOptions, Tls, refused_port};

/// A copy of `fixtures/nodes/NAME` with each `{{KEY}}` replaced, in contents and file names.
pub(crate) fn node_root(name: &str, vars: &[(&str, &str)]) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/nodes")
        .join(name);
    let dst = tempfile::tempdir().expect("temp dir");
    copy(&src, dst.path(), vars);
    dst
}

fn fill(s: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(s.to_string(), |s, (k, v)| {
        s.replace(&format!("{{{{{k}}}}}"), v)
    })
}

fn copy(src: &Path, dst: &Path, vars: &[(&str, &str)]) {
    for entry in std::fs::read_dir(src).expect("fixture dir") {
        let entry = entry.unwrap();
        let name = fill(&entry.file_name().to_string_lossy(), vars);
        let to = dst.join(name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy(&entry.path(), &to, vars);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&to, fill(&text, vars)).unwrap();
        }
    }
}

/// Writes a node file (creating its directories).
pub(crate) fn put(root: &Path, node_path: &str, text: &str) -> PathBuf {
    let p = root.join(node_path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// A containerd `config.toml` that sets `config_path`, as current installs do: registries
/// follow `hosts.toml` and containerd's defaults, not the deprecated CRI registry settings
/// (under which a loopback registry is spoken to in plain HTTP only).
pub(crate) const CONTAINERD_WITH_CONFIG_PATH: &str = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n";

/// A containerd node as current installs set it up (`config_path`) whose system CA bundle is
/// `ca_pem`: the registry's own CA, for tests about something other than trust.
pub(crate) fn containerd_trusting(root: &Path, ca_pem: &str) {
    put(root, "/etc/ssl/certs/ca-certificates.crt", ca_pem);
    put(
        root,
        "/etc/containerd/config.toml",
        CONTAINERD_WITH_CONFIG_PATH,
    );
}

/// The node's system CA bundle: an unrelated CA, so only per-registry CAs verify the registry.
pub(crate) fn unrelated_bundle(root: &Path) {
    let other = Pki::generate();
    put(root, "/etc/ssl/certs/ca-certificates.crt", &other.ca_pem);
}

pub(crate) fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

pub(crate) fn image(reference: &str, root: &Path, runtime: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "image",
        reference,
        "--node-root",
        path(root),
        "--runtime",
        runtime,
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

pub(crate) fn node_config(run: &Run) -> Value {
    let report = run.json();
    assert_schema(&report);
    report["node_config"][0].clone()
}

/// `file line N: text` of every finding.
pub(crate) fn findings(n: &Value) -> Vec<String> {
    n["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| match f["line"].as_u64() {
                    Some(l) => format!(
                        "{} line {l}: {}",
                        f["file"].as_str().unwrap(),
                        f["text"].as_str().unwrap()
                    ),
                    None => format!(
                        "{}: {}",
                        f["file"].as_str().unwrap(),
                        f["text"].as_str().unwrap()
                    ),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn containerd_ca_from_hosts_toml_replaces_this_machines_roots() {
    let reg = registry(Tls::Valid, Auth::None);
    let root = node_root("containerd-hosts-ca", &[("REGISTRY", &reg.host)]);
    unrelated_bundle(root.path());
    let ca = format!("/etc/containerd/certs.d/{}/ca.crt", reg.host);
    put(root.path(), &ca, &reg.pki.ca_pem);
    let reference = format!("{}/app:1.0", reg.host);

    let run = image(&reference, root.path(), "containerd://1.7.24", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    assert_eq!(n["runtime"], "containerd");
    assert_eq!(n["ca_bundle"], "/etc/ssl/certs/ca-certificates.crt");
    assert_eq!(n["endpoints"][0]["url"], format!("https://{}", reg.host));
    assert_eq!(n["endpoints"][0]["role"], "mirror");
    assert_eq!(n["endpoints"][0]["ca"][0], ca.as_str());
    assert!(
        n["endpoints"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("hosts.toml line 4"),
        "{n:#}"
    );

    // Without the hosts.toml CA the node trusts only its bundle, which does not verify.
    std::fs::remove_file(root.path().join(ca.trim_start_matches('/'))).unwrap();
    let run = image(&reference, root.path(), "containerd://1.7.24", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let f = findings(&node_config(&run)).join("\n");
    assert!(
        f.contains(&format!(
            "{ca}: CA file for https://{} does not exist on the node",
            reg.host
        )),
        "{f}"
    );
}

#[test]
fn containerd_ignores_certs_d_without_config_path_and_says_where() {
    // A registry the node knows by name (its /etc/hosts): containerd's loopback default, which
    // skips verification for 127.0.0.1, does not apply to it.
    let reg = registry(Tls::WrongName, Auth::None);
    let name = format!("registry.wrong.test:{}", reg.port());
    let root = node_root("containerd-no-config-path", &[("REGISTRY", &name)]);
    unrelated_bundle(root.path());
    put(
        root.path(),
        "/etc/hosts",
        "127.0.0.1\tregistry.wrong.test\n",
    );
    let reference = format!("{name}/app:1.0");
    let run = image(&reference, root.path(), "containerd://1.7.24", &[]);
    // skip_verify in hosts.toml would have let the pull through; containerd 1.7 never reads it.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // The trust is the node's: the sentence says the node does not trust the CA, not a flag.
    let v = run.verdict();
    assert_eq!(v["cause"], "tls_unknown_authority", "{v:#}");
    assert_eq!(
        v["summary"],
        format!("The node does not trust the CA that signed {name}'s certificate."),
        "{v:#}"
    );
    let n = node_config(&run);
    let f = findings(&n).join("\n");
    let want = format!(
        "/etc/containerd/certs.d/{name}/hosts.toml line 6: `skip_verify = true` — but containerd ignores certs.d unless config_path is set: /etc/containerd/config.toml sets no config_path under [plugins.\"io.containerd.grpc.v1.cri\".registry]"
    );
    assert!(f.contains(&want), "{f}");
    assert_eq!(n["endpoints"][0]["skip_verify"], false);
    assert_eq!(n["endpoints"][0]["source"], "containerd's default");

    // The same finding in the text report.
    let text = pulldoctor(&[
        "image",
        &reference,
        "--node-root",
        path(root.path()),
        "--runtime",
        "containerd://1.7.24",
        "-o",
        "text",
    ]);
    assert!(
        text.stdout.contains(&format!("finding: {want}")),
        "{}",
        text.stdout
    );

    // Setting config_path (containerd's documented fix) makes the same hosts.toml count.
    let cfg = root.path().join("etc/containerd/config.toml");
    let fixed = std::fs::read_to_string(&cfg).unwrap().replace(
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n",
        "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n",
    );
    std::fs::write(&cfg, fixed).unwrap();
    let run = image(&reference, root.path(), "containerd://1.7.24", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(node_config(&run)["endpoints"][0]["skip_verify"], true);
}

#[test]
fn containerd_tries_the_mirror_first() {
    let upstream = registry(Tls::Valid, Auth::None);
    let mirror = registry(Tls::Plain, Auth::None);
    let root = node_root(
        "containerd-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &mirror.host)],
    );
    unrelated_bundle(root.path());
    let reference = format!("{}/app:1.0", upstream.host);
    let before = mirror
        .log()
        .iter()
        .filter(|l| l.contains("/v2/app/manifests/1.0"))
        .count();
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    let urls: Vec<&str> = n["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    let up = format!("https://{}", upstream.host);
    assert_eq!(
        urls,
        [
            format!("http://{}", mirror.host).as_str(),
            up.as_str(),
            up.as_str()
        ]
    );
    let after = mirror
        .log()
        .iter()
        .filter(|l| l.contains("/v2/app/manifests/1.0"))
        .count();
    assert!(
        after > before,
        "the mirror was asked for the manifest first:\n{}",
        mirror.log().join("\n")
    );
}

#[test]
fn containerd_falls_back_to_the_server_when_the_mirror_is_down() {
    let upstream = registry(Tls::Valid, Auth::None);
    let down = format!("127.0.0.1:{}", refused_port());
    let root = node_root(
        "containerd-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &down)],
    );
    unrelated_bundle(root.path());
    let ca = format!("/etc/containerd/certs.d/{}/ca.crt", upstream.host);
    put(root.path(), &ca, &upstream.pki.ca_pem);
    let reference = format!("{}/app:1.0", upstream.host);
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let ev = evidence_text(&run.verdict());
    assert!(
        ev.contains(&format!(
            "{ca} from --node-root is the CA the registry should be trusted with"
        )),
        "the CA is named as the node sees it: {ev}"
    );
    assert!(
        ev.contains(&format!("node endpoint 1, mirror http://{down} ("))
            && ev.contains("the runtime then tries the next endpoint"),
        "{ev}"
    );

    // With the server's CA gone too, both fail and the first endpoint's error is the cause,
    // as containerd reports it.
    std::fs::remove_file(root.path().join(ca.trim_start_matches('/'))).unwrap();
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = run.verdict();
    assert_eq!(v["cause"], "network_unreachable", "{v:#}");
    assert!(evidence_text(&v).contains("connection refused"), "{v:#}");
    assert!(
        evidence_text(&v).contains("node endpoint 2, upstream "),
        "{v:#}"
    );
}

#[test]
fn docker_insecure_registry_and_certs_d_client_certificate() {
    let reg = registry(Tls::Mutual, Auth::None);
    let root = node_root("docker-insecure-client", &[("REGISTRY", &reg.host)]);
    unrelated_bundle(root.path());
    let dir = format!("/etc/docker/certs.d/{}", reg.host);
    put(
        root.path(),
        &format!("{dir}/client.cert"),
        &reg.client_cert().cert_pem,
    );
    put(
        root.path(),
        &format!("{dir}/client.key"),
        &reg.client_cert().key_pem,
    );
    let reference = format!("{}/app:1.0", reg.host);

    let run = image(&reference, root.path(), "docker", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    let e = &n["endpoints"][0];
    assert_eq!(e["client_cert"], format!("{dir}/client.cert"));
    assert_eq!(
        (e["insecure"].as_bool(), e["skip_verify"].as_bool()),
        (Some(true), Some(true))
    );
    let f = findings(&n).join("\n");
    assert!(f.contains("127.0.0.0/8 is insecure by default"), "{f}");
    assert!(
        f.contains(&format!("/etc/docker/daemon.json line 3: registry-mirrors (https://mirror.gcr.io) apply to Docker Hub images only, not to {}", reg.host)),
        "{f}"
    );
    assert!(
        run.json()["insecure_transport"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "the unverified connection is reported"
    );

    // Without the client pair the registry refuses the handshake.
    std::fs::remove_file(
        root.path()
            .join(format!("{dir}/client.cert").trim_start_matches('/')),
    )
    .unwrap();
    let run = image(&reference, root.path(), "docker", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn crio_short_name_goes_to_the_first_search_registry() {
    let wrong = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::None,
    });
    let root = node_root(
        "crio-short-names",
        &[("WRONG", &wrong.host), ("BLOCKED", "registry.blocked.test")],
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &wrong.pki.ca_pem,
    );
    let run = image("app:1.0", root.path(), "cri-o", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    assert_eq!(n["resolved"], format!("{}/app:1.0", wrong.host));
    let f = findings(&n).join("\n");
    assert!(
        f.contains(&format!(
            "/etc/containers/registries.conf line 2: short name app:1.0 is tried as {}/app:1.0, then docker.io/library/app:1.0",
            wrong.host
        )),
        "{f}"
    );
    let v = run.verdict();
    assert_eq!(v["cause"], "not_found_repo", "{v:#}");
}

#[test]
fn crio_blocked_registry_names_the_drop_in() {
    let root = node_root(
        "crio-short-names",
        &[
            ("WRONG", "registry.search.test"),
            ("BLOCKED", "registry.blocked.test"),
        ],
    );
    let run = image("registry.blocked.test/app:1", root.path(), "cri-o", &[]);
    let n = node_config(&run);
    assert_eq!(n["blocked"], true, "{n:#}");
    assert!(n["endpoints"].as_array().unwrap().is_empty());
    let f = findings(&n).join("\n");
    assert!(
        f.contains("/etc/containers/registries.conf.d/50-blocked.conf line 5: [[registry]] prefix = \"registry.blocked.test\" is blocked"),
        "{f}"
    );
}

#[test]
fn proxy_drop_in_malformed_then_bypassed_and_etc_hosts() {
    let reference = "registry.node.test:5000/app:1";
    let root = node_root("proxy-dropin", &[("BYPASS", "other.example.com")]);
    let run = image(reference, root.path(), "containerd", &[]);
    let n = node_config(&run);
    let f = findings(&n).join("\n");
    let unit = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
    assert!(
        f.contains(&format!(
            "{unit} line 5: HTTPS_PROXY=http://proxy.example.com:31 28 is not a valid proxy URL"
        )),
        "{f}"
    );
    assert!(
        f.contains("/etc/hosts line 4: registry.node.test resolves to 127.0.0.1 on the node"),
        "{f}"
    );
    assert_eq!(n["hosts"][0]["address"], "127.0.0.1");
    assert_eq!(n["proxy"]["applies"], true);

    let root = node_root("proxy-dropin", &[("BYPASS", ".node.test")]);
    let run = image(reference, root.path(), "containerd", &[]);
    let n = node_config(&run);
    assert_eq!(n["proxy"]["applies"], false, "{n:#}");
    assert_eq!(
        n["proxy"]["reason"],
        format!("NO_PROXY entry .node.test ({unit} line 6)")
    );
}

#[test]
fn node_level_config_json_is_kubelets_last_credential() {
    let (user, password) = ("nodeuser", "node-pass-7f3a9c");
    let reg = registry(Tls::Valid, Auth::htpasswd(user, password));
    let auth = b64(&format!("{user}:{password}"));
    let root = node_root(
        "kubelet-config",
        &[("REGISTRY", &reg.host), ("AUTH", &auth)],
    );
    containerd_trusting(root.path(), &reg.pki.ca_pem);
    let reference = format!("{}/app:1.0", reg.host);
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_leak(user, password);
    let n = node_config(&run);
    assert_eq!(n["credentials"]["file"], "/var/lib/kubelet/config.json");
    assert_eq!(n["credentials"]["entry"], reg.host.as_str());
    assert_eq!(n["credentials"]["provider"], "private-registry-provider");
    let f = findings(&n).join("\n");
    assert!(
        f.contains(&format!(
            "/etc/kubernetes/credential-provider.yaml line 12: credential provider private-registry-provider matches {} (matchImages {:?}): kubelet runs it on the node",
            reg.host, reg.host
        )),
        "{f}"
    );

    // The node's files decide: without them the registry wants credentials.
    std::fs::remove_file(root.path().join("var/lib/kubelet/config.json")).unwrap();
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn bad_node_root_and_runtime_are_usage_errors() {
    let run = pulldoctor(&[
        "image",
        "reg.test/app:1",
        "--node-root",
        "/nonexistent/node",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--node-root /nonexistent/node: not a directory"),
        "{}",
        run.stderr
    );
    let root = tempfile::tempdir().unwrap();
    let run = pulldoctor(&[
        "image",
        "reg.test/app:1",
        "--node-root",
        path(root.path()),
        "--runtime",
        "rkt",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("--runtime rkt: expected containerd, docker or cri-o"),
        "{}",
        run.stderr
    );
}
