//! `--node-root` with a SOCKS5 proxy in the runtime's drop-in (`HTTPS_PROXY=socks5://…`), as
//! Go's HTTP transport applies it: the registry's name goes to the proxy (Go's SOCKS dialer
//! sends the host name, never a local lookup), RFC 1929 credentials from the URL, `NO_PROXY`
//! as for HTTP proxies; a refusing or absent SOCKS server is the verdict, and a proxy scheme Go
//! does not speak (`socks4://`) is a confirmed `proxy_failure`. The registry has a name only
//! the node knows (`registry.wrong.test`), reached through the real SOCKS server of
//! `support/socks.rs`, which resolves it from its own table, never through DNS.

use crate::node_root::{image, node_config};
use crate::node_route::{detail, named_registry_with, root};
use crate::scenario::Run;
use crate::support::{Auth, Registry, SocksProxy, refused_port};

const UNIT: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";

/// Debian's docker-registry with TLS and htpasswd, whose certificate names only
/// `registry.wrong.test`, and that name with its port.
fn named_registry() -> (Registry, String) {
    named_registry_with(Auth::htpasswd("alice", "s3cret"))
}

/// Probes `reference` as the node would, with the registry's credentials, so the only
/// question left is the route.
fn run(reference: &str, root: &tempfile::TempDir, extra: &[&str]) -> Run {
    let mut args = vec!["--creds", "alice:s3cret"];
    args.extend_from_slice(extra);
    image(reference, root.path(), "containerd", &args)
}

#[test]
fn socks5_carries_the_probe_with_its_login_and_never_shows_the_password() {
    let (reg, name) = named_registry();
    let (user, secret) = ("sockuser", "s0cks-s3cret");
    let socks = SocksProxy::with_login(&[(&name, &reg.host)], Some((user, secret)));
    let root = root(
        &reg,
        &socks.url("socks5", Some((user, secret))),
        "other.example.com",
        "",
    );
    let reference = format!("{name}/app:1.0");
    let before = reg.log().len();

    let run = run(&reference, &root, &["-vvv"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_leak(user, secret);
    let targets = socks.targets();
    assert!(!targets.is_empty(), "the registry is reached through SOCKS");
    // Go's SOCKS dialer sends the registry's name, not an address it looked up.
    let sent = format!("{name} as {user}:{secret}");
    assert!(targets.iter().all(|t| *t == sent), "{targets:?}");
    assert!(
        reg.settled_log().len() > before,
        "the registry answered through the tunnel"
    );
    let n = node_config(&run);
    assert_eq!(n["proxy"]["applies"], true, "{n:#}");

    // socks5h:// is the same route for Go (1.23 and later).
    let root = self::root(&reg, &socks.url("socks5h", Some((user, secret))), "", "");
    let seen = socks.targets().len();
    let run = self::run(&reference, &root, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(socks.targets().len() > seen);
}

#[test]
fn no_proxy_bypasses_the_socks_proxy() {
    let (reg, name) = named_registry();
    let socks = SocksProxy::start(&[(&name, &reg.host)]);
    let line = "127.0.0.1\tregistry.wrong.test";
    let root = root(&reg, &socks.url("socks5", None), ".wrong.test", line);
    let run = run(&format!("{name}/app:1.0"), &root, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(socks.connections(), 0, "NO_PROXY .wrong.test goes direct");
    assert_eq!(node_config(&run)["proxy"]["applies"], false);
}

#[test]
fn a_refusing_or_absent_socks_proxy_is_the_cause() {
    let (reg, name) = named_registry();
    let (user, secret) = ("sockuser", "s0cks-s3cret");
    let socks = SocksProxy::with_login(&[(&name, &reg.host)], Some((user, secret)));
    socks.refuse_all(0x02);
    let root = root(
        &reg,
        &socks.url("socks5", Some((user, secret))),
        "other.example.com",
        "",
    );
    let reference = format!("{name}/app:1.0");

    let run = run(&reference, &root, &["-vvv"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    run.assert_no_leak(user, secret);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    let d = detail(&run);
    assert!(
        d.contains(&format!("@{} (HTTPS_PROXY ({UNIT} line 4)) refuses CONNECT {name}: SOCKS5 reply 0x02, connection not allowed by ruleset", socks.addr)),
        "{d}"
    );

    // A login the proxy rejects (RFC 1929 status 1) is the proxy's refusal too.
    let wrong = "not-the-s0cks-pass";
    let open = SocksProxy::with_login(&[(&name, &reg.host)], Some((user, secret)));
    let root = self::root(&reg, &open.url("socks5", Some((user, wrong))), "", "");
    let run = self::run(&reference, &root, &["-vvv"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert_no_leak(user, wrong);
    assert_eq!(run.verdict()["cause"], "proxy_failure");
    let d = detail(&run);
    assert!(
        d.contains("rejects the username and password from the proxy URL (RFC 1929)"),
        "{d}"
    );

    // The proxy cannot reach the registry: "host unreachable" is the network, not the proxy.
    let lost = SocksProxy::start(&[]);
    let root = self::root(&reg, &lost.url("socks5", None), "", "");
    let run = self::run(&reference, &root, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.verdict()["cause"], "network_unreachable");
    let d = detail(&run);
    assert!(
        d.contains(&format!(
            "the node's proxy {} (HTTPS_PROXY ({UNIT} line 4)) cannot reach {name}: SOCKS5 reply 0x04, host unreachable",
            lost.url("socks5", None)
        )),
        "{d}"
    );

    // A SOCKS proxy that is not there.
    let gone = format!("socks5://127.0.0.1:{}", refused_port());
    let root = self::root(&reg, &gone, "", "");
    let run = self::run(&reference, &root, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.verdict()["cause"], "proxy_failure");
    let d = detail(&run);
    assert!(
        d.contains(&format!(
            "the node's proxy {gone} (HTTPS_PROXY ({UNIT} line 4)) cannot be reached"
        )),
        "{d}"
    );
}

#[test]
fn a_proxy_scheme_go_does_not_speak_fails_every_pull() {
    let (reg, name) = named_registry();
    let socks = SocksProxy::start(&[(&name, &reg.host)]);
    let socks4 = format!("socks4://{}", socks.addr);
    let root = root(&reg, &socks4, "other.example.com", "");
    let run = run(&format!("{name}/app:1.0"), &root, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let d = detail(&run);
    assert!(
        d.contains(&format!("HTTPS_PROXY={socks4} ({UNIT} line 4)"))
            && d.contains("socks5")
            && d.contains("fails every request"),
        "{d}"
    );
    assert_eq!(socks.connections(), 0, "decided from the node's files");
}
