//! `--node-root`: the node's proxy and `/etc/hosts` applied to the probe, and the verdicts the
//! node's files decide alone. The registry has a name only the node knows (`registry.wrong.test`,
//! the name its certificate carries): it is reached through a real CONNECT proxy that resolves
//! it from its own table, or through the node's `/etc/hosts`; never by a DNS query.

use serde_json::Value;

use crate::node_root::{findings, image, node_config, node_root, put};
use crate::scenario::{Run, evidence_text};
use crate::support::{Auth, ConnectProxy, Registry, RegistryOptions, Tls, refused_port};

const UNIT: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";

/// A registry whose certificate names only `registry.wrong.test`, and that name with its port.
pub(crate) fn named_registry_with(auth: Auth) -> (Registry, String) {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::WrongName,
        auth,
    });
    reg.seed_fixtures();
    let name = format!("registry.wrong.test:{}", reg.port());
    (reg, name)
}

fn named_registry() -> (Registry, String) {
    named_registry_with(Auth::None)
}

/// The `proxy-connect` node root with the registry's CA as the node's bundle.
pub(crate) fn root(reg: &Registry, proxy: &str, bypass: &str, hosts: &str) -> tempfile::TempDir {
    let root = node_root(
        "proxy-connect",
        &[("PROXY", proxy), ("BYPASS", bypass), ("HOSTS", hosts)],
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &reg.pki.ca_pem,
    );
    root
}

fn fixes(v: &Value) -> Vec<String> {
    v["fixes"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|x| x["text"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn detail(run: &Run) -> String {
    let v = run.verdict();
    format!("{}\n{}", v["summary"], evidence_text(&v))
}

#[test]
fn proxy_carries_the_probe_and_a_refusing_or_absent_proxy_is_the_cause() {
    let (reg, name) = named_registry();
    let proxy = ConnectProxy::start(&[(&name, &reg.host)]);
    // The proxy URL carries credentials: they go to the proxy, and nowhere a user reads.
    let (user, secret) = ("nodeproxy", "pr0xy-s3cret");
    let with_creds = format!("http://{user}:{secret}@{}", proxy.addr);
    let root = root(&reg, &with_creds, "other.example.com", "");
    let reference = format!("{name}/app:1.0");
    let sent = format!("{name} as {user}:{secret}");

    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_leak(user, secret);
    assert!(
        proxy.connects() > 0,
        "the registry is reached through the proxy"
    );
    assert!(
        proxy.targets().iter().all(|t| *t == sent),
        "{:?}",
        proxy.targets()
    );
    let n = node_config(&run);
    assert_eq!(n["proxy"]["applies"], true, "{n:#}");

    // The proxy's ACL refuses the registry: the verdict names the proxy and its answer.
    proxy.refuse_all();
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_no_leak(user, secret);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    let d = detail(&run);
    assert!(
        d.contains(&format!(
            "the node's proxy http://(redacted)@{} (HTTPS_PROXY ({UNIT} line 4)) refuses CONNECT {name}: HTTP/1.1 403 Forbidden",
            proxy.addr
        )),
        "{d}"
    );
    assert_eq!(
        proxy.targets().last(),
        Some(&sent),
        "the check sends the proxy its credentials too"
    );
    let f = fixes(&v);
    assert!(
        f[0].starts_with(&format!(
            "On the node, edit {UNIT} line 4: the proxy http://(redacted)@{} refuses the tunnel to {name}",
            proxy.addr
        )),
        "{f:?}"
    );

    // A proxy that is not there.
    let gone = format!("http://127.0.0.1:{}", refused_port());
    let root = self::root(&reg, &gone, "other.example.com", "");
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.verdict()["cause"], "proxy_failure");
    let d = detail(&run);
    assert!(
        d.contains(&format!(
            "the node's proxy {gone} (HTTPS_PROXY ({UNIT} line 4)) cannot be reached"
        )),
        "{d}"
    );
    // The sentence is about the node's runtime, not the check, and the refused connection is
    // put down to the proxy, not to the registry.
    let v = run.verdict();
    assert!(
        v["summary"].as_str().unwrap_or("").starts_with(&format!(
            "The node's runtime cannot reach {name} through its proxy"
        )),
        "{v:#}"
    );
    assert!(
        d.contains(&format!(
            "connection refused: nothing listens on that port (at the node's proxy {gone})"
        )),
        "{d}"
    );
    // The fix edits the line that names the proxy, then restarts the runtime.
    let f = fixes(&v);
    assert!(
        f[0].starts_with(&format!(
            "On the node, edit {UNIT} line 4: the proxy {gone} cannot be reached from the node"
        )) && f[0].contains("add registry.wrong.test to NO_PROXY"),
        "{f:?}"
    );
    assert!(f[1].contains("restart containerd"), "{f:?}");
}

#[test]
fn no_proxy_goes_direct_through_the_nodes_etc_hosts() {
    let (reg, name) = named_registry();
    let proxy = ConnectProxy::start(&[(&name, &reg.host)]);
    let line = "127.0.0.1\tregistry.wrong.test";
    let root = root(&reg, &proxy.url(), ".wrong.test", line);
    let reference = format!("{name}/app:1.0");
    let before = reg.log().len();

    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        proxy.connects(),
        0,
        "NO_PROXY .wrong.test bypasses the proxy"
    );
    assert!(
        reg.settled_log().len() > before,
        "the registry was asked directly"
    );
    let n = node_config(&run);
    assert_eq!(n["proxy"]["applies"], false);
    let f = findings(&n).join("\n");
    assert!(
        f.contains("/etc/hosts line 4: registry.wrong.test resolves to 127.0.0.1 on the node"),
        "{f}"
    );

    // Without the /etc/hosts line the name is known nowhere: it is not probed at all.
    let root = self::root(&reg, &proxy.url(), ".wrong.test", "");
    let run = image(&reference, root.path(), "containerd", &[]);
    let v = run.verdict();
    assert!(
        v["evidence"].to_string().contains("reserved .test name"),
        "{v:#}"
    );
    assert_eq!(proxy.connects(), 0);
}

#[test]
fn etc_hosts_name_is_probed_like_resolve() {
    let (reg, name) = named_registry();
    let root = node_root("proxy-dropin", &[("BYPASS", "other.example.com")]);
    // The unit's malformed HTTPS_PROXY is not part of this story.
    std::fs::remove_file(root.path().join(UNIT.trim_start_matches('/'))).unwrap();
    put(
        root.path(),
        "/etc/hosts",
        "127.0.0.1\tregistry.wrong.test\n",
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &reg.pki.ca_pem,
    );
    let run = image(&format!("{name}/app:1.0"), root.path(), "docker", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(node_config(&run)["hosts"][0]["line"], 1);
}

#[test]
fn malformed_proxy_is_the_cause_and_the_fix_edits_the_drop_in() {
    let root = node_root("proxy-dropin", &[("BYPASS", "other.example.com")]);
    let run = image(
        "registry.node.test:5000/app:1",
        root.path(),
        "containerd",
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let d = detail(&run);
    assert!(
        d.contains(&format!(
            "HTTPS_PROXY=http://proxy.example.com:31 28 ({UNIT} line 5) is not a valid proxy URL"
        )),
        "{d}"
    );
    let f = fixes(&v);
    assert!(
        f[0].contains(&format!("On the node, edit {UNIT} line 5: HTTPS_PROXY=")),
        "{f:?}"
    );
    assert!(
        f[1].contains("systemctl daemon-reload") && f[1].contains("systemctl restart containerd"),
        "{f:?}"
    );
}

#[test]
fn crio_blocked_registry_is_its_own_verdict() {
    let root = node_root(
        "crio-short-names",
        &[
            ("WRONG", "registry.search.test"),
            ("BLOCKED", "registry.blocked.test"),
        ],
    );
    let run = image("registry.blocked.test/app:1", root.path(), "cri-o", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert_eq!(v["cause"], "registry_blocked", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let drop_in = "/etc/containers/registries.conf.d/50-blocked.conf";
    let f = fixes(&v);
    assert!(
        f[0].contains(&format!(
            "On the node, edit {drop_in} line 5: remove `blocked = true`"
        )),
        "{f:?}"
    );
    assert!(f[1].contains("systemctl restart crio"), "{f:?}");

    // Another registry of the same node is not blocked.
    let run = image("registry.search.test/app:1", root.path(), "cri-o", &[]);
    assert_ne!(run.verdict()["cause"], "registry_blocked");
}

/// CRI-O's own words for a blocked registry (containers/image `newDockerClient`) read as
/// `registry_blocked` without the node's files.
#[test]
fn explain_crio_blocked_wording_is_registry_blocked() {
    let run = crate::scenario::pulldoctor(&[
        "explain",
        "--message",
        r#"Failed to pull image "registry.blocked.test/app:1": rpc error: code = Unknown desc = registry registry.blocked.test is blocked in /etc/containers/registries.conf or /etc/containers/registries.conf.d"#,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let s = &run.json()["symptoms"][0];
    assert_eq!(s["cause"], "registry_blocked", "{s:#}");
    assert_eq!(s["family"], "policy");
}

/// Docker 23+: `daemon.json`'s `proxies` outrank the unit's environment, key by key. Here the
/// drop-in names a proxy that is not there and `daemon.json` one that works: the probe goes
/// through the second, and a finding says which line replaced which.
#[test]
fn docker_daemon_json_proxies_outrank_the_units_environment() {
    let (reg, name) = named_registry();
    let proxy = ConnectProxy::start(&[(&name, &reg.host)]);
    let gone = format!("http://127.0.0.1:{}", refused_port());
    let root = tempfile::tempdir().unwrap();
    let unit = "/etc/systemd/system/docker.service.d/http-proxy.conf";
    put(
        root.path(),
        unit,
        &format!("[Service]\nEnvironment=\"HTTPS_PROXY={gone}\"\n"),
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &reg.pki.ca_pem,
    );
    let daemon_json = |https: &str| {
        format!(
            "{{\n  \"proxies\": {{\n    \"https-proxy\": \"{https}\",\n    \"no-proxy\": \"other.example.com\"\n  }}\n}}\n"
        )
    };
    put(
        root.path(),
        "/etc/docker/daemon.json",
        &daemon_json(&proxy.url()),
    );
    let reference = format!("{name}/app:1.0");

    let run = image(&reference, root.path(), "docker", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        proxy.connects() > 0,
        "daemon.json's proxy carries the probe"
    );
    let n = node_config(&run);
    assert_eq!(
        n["proxy"]["source"], "/etc/docker/daemon.json line 3",
        "{n:#}"
    );
    let f = findings(&n).join("\n");
    assert!(
        f.contains(&format!(
            "/etc/docker/daemon.json line 3: proxies.https-proxy = {} replaces HTTPS_PROXY={gone} ({unit} line 2)",
            proxy.url().trim_end_matches('/')
        )),
        "{f}"
    );

    // daemon.json naming the proxy that is not there: that line is the one to edit.
    put(root.path(), "/etc/docker/daemon.json", &daemon_json(&gone));
    let run = image(&reference, root.path(), "docker", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    let f = fixes(&v);
    assert!(
        f[0].starts_with("On the node, edit /etc/docker/daemon.json line 3: the proxy"),
        "{f:?}"
    );
    assert!(f[1].contains("restart docker"), "{f:?}");
}
