//! `--node-root`: a verdict about a node's mirror names the mirror and the line that set it,
//! for containerd's `hosts.toml` and CRI-O's `[[registry.mirror]]`, against real registries:
//! the mirror serves the image, the mirror is down and the upstream answers, both fail.

use crate::node_root::{image, node_config, node_root, put, registry, unrelated_bundle};
use crate::scenario::Run;
use crate::support::{Auth, Tls, refused_port};

fn summary(run: &Run) -> String {
    run.verdict()["summary"].as_str().unwrap_or("").to_string()
}

fn manifest_asks(log: &[String]) -> usize {
    log.iter()
        .filter(|l| l.contains("/v2/app/manifests/1.0"))
        .count()
}

#[test]
fn crio_mirror_first_then_upstream_named_when_it_fails() {
    let upstream = registry(Tls::Valid, Auth::None);
    let mirror = registry(Tls::Plain, Auth::None);
    let root = node_root(
        "crio-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &mirror.host)],
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &upstream.pki.ca_pem,
    );
    let reference = format!("{}/app:1.0", upstream.host);
    let before = manifest_asks(&mirror.log());
    let run = image(&reference, root.path(), "cri-o", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    assert_eq!(n["endpoints"][0]["role"], "mirror", "{n:#}");
    assert!(
        manifest_asks(&mirror.settled_log()) > before,
        "the mirror was asked first:\n{}",
        run.stdout
    );
    assert!(!summary(&run).contains("failed first"), "{}", summary(&run));

    // The mirror is down: the upstream answers, and the verdict names the mirror's line.
    let down = format!("127.0.0.1:{}", refused_port());
    let root = node_root(
        "crio-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &down)],
    );
    put(
        root.path(),
        "/etc/ssl/certs/ca-certificates.crt",
        &upstream.pki.ca_pem,
    );
    let run = image(&reference, root.path(), "cri-o", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    let mirror_url = n["endpoints"][0]["url"].as_str().unwrap().to_string();
    let s = summary(&run);
    assert!(
        s.contains(&format!(
            "The node's mirror {mirror_url} (/etc/containers/registries.conf line 9) failed first ("
        )) && s.contains(&format!(
            "the runtime fell back to upstream https://{}",
            upstream.host
        )),
        "{s}"
    );

    // Both fail (the node no longer trusts the upstream): the mirror's error is the cause,
    // and the verdict says it is the mirror's.
    unrelated_bundle(root.path());
    let run = image(&reference, root.path(), "cri-o", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = run.verdict();
    assert_eq!(v["cause"], "network_unreachable", "{v:#}");
    let s = summary(&run);
    assert!(
        s.contains(&format!(
            "The endpoint that fails is the node's mirror {mirror_url} (/etc/containers/registries.conf line 9), which the runtime tries first"
        )),
        "{s}"
    );
}

#[test]
fn containerd_mirror_down_is_named_with_its_hosts_toml_line() {
    let upstream = registry(Tls::Valid, Auth::None);
    let down = format!("127.0.0.1:{}", refused_port());
    let root = node_root(
        "containerd-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &down)],
    );
    unrelated_bundle(root.path());
    let hosts = format!("/etc/containerd/certs.d/{}/hosts.toml", upstream.host);
    let reference = format!("{}/app:1.0", upstream.host);
    // No CA for the upstream either: both endpoints fail, the mirror first.
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let s = summary(&run);
    assert!(
        s.contains(&format!(
            "The endpoint that fails is the node's mirror http://{down} ({hosts} line 5)"
        )),
        "{s}"
    );
    let ca = format!("/etc/containerd/certs.d/{}/ca.crt", upstream.host);
    put(root.path(), &ca, &upstream.pki.ca_pem);
    let run = image(&reference, root.path(), "containerd", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let s = summary(&run);
    assert!(
        s.contains(&format!(
            "The node's mirror http://{down} ({hosts} line 5) failed first ("
        )),
        "{s}"
    );
}

/// containerd's default for a loopback registry no `server` names: HTTPS without verification,
/// then plain HTTP. The same plain-HTTP registry under a name (the node's /etc/hosts) is
/// HTTPS-only, and fails.
#[test]
fn containerd_loopback_default_tries_https_then_plain_http() {
    let reg = registry(Tls::Plain, Auth::None);
    let root = tempfile::tempdir().unwrap();
    unrelated_bundle(root.path());
    let reference = format!("{}/app:1.0", reg.host);
    let run = image(&reference, root.path(), "containerd://2.0.0", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    let f = crate::node_root::findings(&n).join("\n");
    assert!(
        f.contains(&format!(
            "/etc/containerd/config.toml: no `server` names {0}, a loopback registry: containerd's default for it is https://{0} without verifying the certificate, then plain HTTP after a TLS error",
            reg.host
        )),
        "{f}"
    );
    let ev = crate::scenario::evidence_text(&run.verdict());
    assert!(
        ev.contains(&format!(
            "the runtime falls back to plain HTTP (http://{})",
            reg.host
        )),
        "{ev}"
    );

    let name = format!("registry.node.test:{}", reg.port());
    put(root.path(), "/etc/hosts", "127.0.0.1\tregistry.node.test\n");
    let run = image(
        &format!("{name}/app:1.0"),
        root.path(),
        "containerd://2.0.0",
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.verdict()["cause"], "http_to_https");
    // The node's config decides the scheme, so the sentence names the node's runtime.
    assert_eq!(
        summary(&run),
        format!("{name} speaks plain HTTP, but the node's runtime connects with HTTPS.")
    );
}

/// containerd 1.x without `config_path` reads its deprecated CRI registry settings, whose
/// default for a loopback registry is plain HTTP with no HTTPS attempt (`defaultScheme` in the
/// CRI image service): a plain-HTTP registry pulls at once, and a TLS-only one cannot be pulled.
#[test]
fn containerd_1x_without_config_path_speaks_plain_http_to_loopback() {
    let reg = registry(Tls::Plain, Auth::None);
    let root = tempfile::tempdir().unwrap();
    unrelated_bundle(root.path());
    let reference = format!("{}/app:1.0", reg.host);
    let run = image(&reference, root.path(), "containerd://1.7.24", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let n = node_config(&run);
    assert_eq!(
        n["endpoints"][0]["url"],
        format!("http://{}", reg.host),
        "{n:#}"
    );
    let f = crate::node_root::findings(&n).join("\n");
    assert!(
        f.contains(&format!(
            "/etc/containerd/config.toml: without config_path containerd uses its deprecated CRI registry settings, whose default for {0}, a loopback registry, is plain HTTP (http://{0}) with no HTTPS attempt",
            reg.host
        )),
        "{f}"
    );
    let ev = crate::scenario::evidence_text(&run.verdict());
    assert!(!ev.contains("falls back to plain HTTP"), "{ev}");

    // The same node and a loopback registry that speaks only TLS: plain HTTP gets no image.
    let tls = registry(Tls::Valid, Auth::None);
    let run = image(
        &format!("{}/app:1.0", tls.host),
        root.path(),
        "containerd://1.7.24",
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let ev = crate::scenario::evidence_text(&run.verdict());
    assert!(
        ev.contains("the registry speaks HTTPS on this port, not plain HTTP (the node's runtime is configured to speak plain HTTP to it"),
        "{ev}"
    );
    assert!(!ev.contains("--plain-http"), "no CI flag on a node: {ev}");
}
