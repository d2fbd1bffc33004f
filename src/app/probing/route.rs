//! `--node-root`: the node's proxy and `/etc/hosts` applied to the probe, and the verdicts the
//! node's files decide before any registry is asked (a CRI-O `blocked` registry, a proxy URL
//! that does not parse).
//!
//! A Go runtime sends each request through the proxy its unit's environment names for the URL's
//! scheme unless `NO_PROXY` exempts the host (`trust::Route`); the node's resolver answers
//! `/etc/hosts` names before DNS, as `--resolve` does here. When a proxied probe gets no HTTP
//! answer at all, one `CONNECT` to the proxy tells "the proxy cannot be reached" and "the proxy
//! refuses" (containerd's `proxyconnect tcp: …`) from "the registry is down behind it"; for a
//! `socks5://` proxy that question is one SOCKS5 `CONNECT` (`socks_check.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Prober;
use crate::diagnose::{NodeEdit, ProbeFacts};
use crate::node::NodeRead;
use crate::registry::{self, ImageRef, Platform, ProbeReport};
use crate::taxonomy::{Cause, Runtime};
use crate::trust::{Pin, Trust};

/// Longest the proxy check waits to connect and for the answer to `CONNECT`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

impl Prober {
    /// True when a reserved `.test` registry name is reached without a DNS query: pinned by
    /// `--resolve` or the node's `/etc/hosts`, resolved by the node's proxy, or decided by the
    /// node's files before any connection (blocked, a proxy URL that does not parse).
    pub(super) fn reaches_reserved(&self, image: &ImageRef, runtime: Runtime) -> bool {
        if self.spec.pins.iter().any(|p| p.is_for(image.host())) {
            return true;
        }
        let Some(read) = self.read_node(image, runtime) else {
            return false;
        };
        read.config.blocked
            || read.pulling().iter().any(|e| {
                let Ok(u) = url::Url::parse(&e.url) else {
                    return false;
                };
                let host = u.host_str().unwrap_or("");
                read.resolve
                    .iter()
                    .any(|(h, _)| h.eq_ignore_ascii_case(host))
                    || registry::dns::reserved_domain(host).is_none()
                    || read.route.proxy_for(&u).is_some()
                    || crate::node::route::bad_for(&read.bad_proxies, &read.route, &u).is_some()
            })
    }

    /// The verdict the node's files give before any endpoint is asked: CRI-O refuses a
    /// `blocked` registry without a connection.
    pub(super) fn decided_by_node(
        &self,
        read: &NodeRead,
        image: &ImageRef,
        platform: &Platform,
    ) -> Option<ProbeReport> {
        if !read.config.blocked {
            return None;
        }
        let finding = read
            .config
            .findings
            .iter()
            .find(|f| f.text.contains("is blocked"));
        let at = finding.map(|f| f.to_string()).unwrap_or_default();
        if let Some(f) = finding {
            self.keep_edit(
                &image.canonical(),
                NodeEdit {
                    file: f.file.clone(),
                    line: f.line,
                    change: format!(
                        "remove `blocked = true` from the [[registry]] table that matches {} (or point the image at a registry the node may pull from)",
                        image.registry
                    ),
                    restart: "crio".into(),
                },
            );
        }
        let detail = format!(
            "CRI-O refuses to pull from {}: the registry is blocked by the node's configuration ({at}); no connection is made",
            image.registry
        );
        Some(decided(
            image,
            &format!("https://{}", image.registry),
            platform,
            Cause::RegistryBlocked,
            detail,
        ))
    }

    /// Probes the node's endpoint `i`: its trust, the `/etc/hosts` and `--resolve` pins, and the
    /// runtime's proxy; a proxy URL that does not parse is the cause without a connection.
    pub(super) async fn probe_endpoint(
        &self,
        read: &mut NodeRead,
        i: usize,
        image: &ImageRef,
        auths: Vec<registry::Auth>,
        platform: &Platform,
        platform_known: bool,
    ) -> ProbeReport {
        let mut trust = read.trust(i);
        // The node's runtime pulls the rewritten reference (CRI-O short names, `location`).
        let target = read.probe_image(i).unwrap_or_else(|| image.clone());
        let url = trust
            .endpoint
            .clone()
            .or_else(|| url::Url::parse(&format!("https://{}", target.api_host())).ok());
        self.pin_hosts(read, &mut trust, url.as_ref());
        if let Some(u) = &url
            && let Some(bad) = crate::node::route::bad_for(&read.bad_proxies, &read.route, u)
        {
            let change = if bad.unsupported {
                format!(
                    "{}={}: {}; name an http://, https://, socks5:// or socks5h:// proxy, or remove the line",
                    bad.variable, bad.value, bad.why
                )
            } else {
                format!(
                    "{}={} is not a valid proxy URL ({}): write it as http://HOST:PORT, or remove the line",
                    bad.variable, bad.value, bad.why
                )
            };
            self.keep_edit(
                &target.canonical(),
                NodeEdit {
                    file: bad.file.clone(),
                    line: Some(bad.line),
                    change,
                    restart: unit(read),
                },
            );
            let host = u.host_str().unwrap_or("");
            let detail = if bad.unsupported {
                // Go 1.23+ keeps the scheme and speaks HTTP to that address; older Go reads
                // the value as `http://SCHEME:`, a proxy host named after the scheme.
                format!(
                    "{}={} ({}): {}, so the runtime fails every request to {host} (Go 1.23 and later speak HTTP to that address; older Go looks up a proxy host named after the scheme: \"proxyconnect tcp: dial tcp: lookup …\")",
                    bad.variable,
                    bad.value,
                    bad.source(),
                    bad.why,
                )
            } else {
                format!(
                    "{}={} ({}) is not a valid proxy URL ({}): the runtime, a Go program, fails every request to {host} with \"invalid proxy address\"",
                    bad.variable,
                    bad.value,
                    bad.source(),
                    bad.why,
                )
            };
            return decided(&target, u.as_str(), platform, Cause::ProxyFailure, detail);
        }
        if !read.route.is_direct() {
            trust.route = Some(read.route.clone());
        }
        let via = url
            .as_ref()
            .and_then(|u| Some((read.route.proxy_for(u)?, u.clone())));
        if let Some((proxy, u)) = &via {
            let from = read.route.from_for(u);
            let shown = crate::node::proxy::mask(proxy.as_str());
            trust.sources.push(format!("node proxy {shown} ({from})"));
        }
        let fallback = trust.clone();
        let mut report = self
            .probe_with(&target, auths.clone(), trust, platform, platform_known)
            .await;
        // Docker's insecure-registries, CRI-O's `insecure`, containerd's loopback default:
        // HTTPS first, then plain HTTP when the endpoint speaks it.
        let plain = url
            .as_ref()
            .filter(|u| u.scheme() == "https")
            .and_then(|u| {
                let e = read.pulling().get(i).copied()?;
                (e.insecure && report.outcome.cause == Some(Cause::HttpToHttps))
                    .then(|| (u.clone(), e.source.clone()))
            });
        if let Some((mut u, source)) = plain {
            let first = report.outcome.detail.clone();
            let _ = u.set_scheme("http");
            let mut trust = fallback;
            (trust.endpoint, trust.plain_http) = (Some(u.clone()), true);
            report = self
                .probe_with(&target, auths, trust, platform, platform_known)
                .await;
            report.flags.insert(
                0,
                format!(
                    "{first}; the runtime falls back to plain HTTP ({}), as {source} allows",
                    u.as_str().trim_end_matches('/')
                ),
            );
        }
        if let Some((proxy, u)) = via
            && let Some(change) =
                explain_proxy(&mut report, &proxy, &u, read.route.from_for(&u)).await
            && let Some((file, line)) = read.route.at_for(&u)
        {
            // The line that names the proxy is where the node's side of the fix goes.
            let edit = NodeEdit {
                file: file.clone(),
                line: Some(*line),
                change,
                restart: unit(read),
            };
            self.keep_edit(&target.canonical(), edit);
        }
        report
    }

    /// `--resolve` pins, then the node's `/etc/hosts` names, for every host the probe dials.
    fn pin_hosts(&self, read: &NodeRead, trust: &mut Trust, url: Option<&url::Url>) {
        let port = url.and_then(|u| u.port_or_known_default()).unwrap_or(443);
        trust.pins = self.spec.pins.clone();
        for (host, addr) in &read.resolve {
            if trust.pins.iter().any(|p| p.is_for(host)) {
                continue;
            }
            if let Ok(pin) = Pin::parse(&format!("{host}:{port}:[{addr}]")) {
                trust
                    .sources
                    .push(format!("{host} → {addr} from the node's /etc/hosts"));
                trust.pins.push(pin);
            }
        }
    }

    fn keep_edit(&self, image: &str, edit: NodeEdit) {
        self.keep_notes(image, |n| n.edit = Some(edit));
    }

    /// Updates what the node's files add to `image`'s verdict.
    pub(super) fn keep_notes(&self, image: &str, change: impl FnOnce(&mut NodeNotes)) {
        if let Ok(mut all) = self.node_notes.lock() {
            let at = match all.iter().position(|(i, _)| i == image) {
                Some(at) => at,
                None => {
                    all.push((image.to_string(), NodeNotes::default()));
                    all.len() - 1
                }
            };
            change(&mut all[at].1);
        }
    }

    /// What the node's files add to `report`'s verdict: the line to edit, the endpoint that
    /// failed.
    pub(super) fn attach_notes(&self, report: &ProbeReport, facts: &mut ProbeFacts) {
        if let ProbeFacts::Ran(r) = facts
            && let Ok(all) = self.node_notes.lock()
            && let Some((_, n)) = all
                .iter()
                .find(|(i, n)| *i == report.image && !n.is_empty())
        {
            r.node_edit = n.edit.clone();
            r.node_endpoint = n.failed_endpoint.clone();
        }
    }
}

/// What the node's files add to one image's verdict.
#[derive(Debug, Clone, Default)]
pub(super) struct NodeNotes {
    /// The node file line that decided the cause.
    pub edit: Option<NodeEdit>,
    /// A sentence naming the node endpoint that failed (a mirror, with its file and line).
    pub failed_endpoint: Option<String>,
}

/// The systemd unit of the node's runtime, to restart after an edit.
fn unit(read: &NodeRead) -> String {
    let runtime = crate::taxonomy::Runtime::from_runtime_version(&read.config.runtime);
    crate::node::proxy::unit_name(runtime)
        .trim_end_matches(".service")
        .to_string()
}

/// A probe report for a verdict reached without contacting the registry.
fn decided(
    image: &ImageRef,
    endpoint: &str,
    platform: &Platform,
    cause: Cause,
    detail: String,
) -> ProbeReport {
    ProbeReport::before_probe(
        image.canonical(),
        endpoint.trim_end_matches('/').to_string(),
        platform.clone(),
        cause,
        detail,
    )
}

/// What one `CONNECT` to the proxy says.
enum ProxyAnswer {
    /// No TCP connection to the proxy.
    Unreachable(String),
    /// The proxy answered with this status line.
    Status(u16, String),
    /// A SOCKS proxy refused the tunnel itself (its reply, a login).
    Refused(String),
    /// A SOCKS proxy could not reach the target (its reply code says so).
    CannotReach(String),
    /// Connected; the tunnel opened, or the proxy speaks TLS and was not asked.
    Open,
}

/// A proxied probe with no HTTP answer: asks the proxy once, so the verdict names it when it
/// cannot be reached or refuses the tunnel. Returns the change to the line that names the
/// proxy when the proxy is the cause.
async fn explain_proxy(
    report: &mut ProbeReport,
    proxy: &url::Url,
    target: &url::Url,
    from: &str,
) -> Option<String> {
    let answered = report.steps.iter().any(|s| s.status.is_some());
    if report.pullable() || answered {
        return None;
    }
    let host = target.host_str().unwrap_or("");
    let port = target.port_or_known_default().unwrap_or(443);
    let authority = format!("{host}:{port}");
    let shown = crate::node::proxy::mask(proxy.as_str());
    let shown = shown.trim_end_matches('/');
    // What the line naming the proxy should become, when the proxy itself is the cause.
    let bypass = format!("or add {host} to NO_PROXY so the runtime goes to it directly");
    let down = || {
        format!(
            "the proxy {shown} cannot be reached from the node: start it, or make this line name a proxy that is up, {bypass}"
        )
    };
    let refuses = || {
        format!(
            "the proxy {shown} refuses the tunnel to {authority}: allow that destination in the proxy's rules (or give this line the login it wants), {bypass}"
        )
    };
    let (cause, detail, change) = match connect_check(proxy, &authority, target.scheme() == "https")
        .await
    {
        ProxyAnswer::Open => return None,
        ProxyAnswer::Unreachable(e) => (
            Cause::ProxyFailure,
            format!(
                "the node's proxy {shown} ({from}) cannot be reached: {e}; the runtime sends every request for {host} through it"
            ),
            Some(down()),
        ),
        ProxyAnswer::Refused(why) => (
            Cause::ProxyFailure,
            format!("the node's proxy {shown} ({from}) refuses CONNECT {authority}: {why}"),
            Some(refuses()),
        ),
        ProxyAnswer::CannotReach(why) => (
            Cause::NetworkUnreachable,
            format!("the node's proxy {shown} ({from}) cannot reach {authority}: {why}"),
            None,
        ),
        ProxyAnswer::Status(code, line) if code < 500 => (
            Cause::ProxyFailure,
            format!("the node's proxy {shown} ({from}) refuses CONNECT {authority}: {line}"),
            Some(refuses()),
        ),
        ProxyAnswer::Status(_, line) => (
            Cause::NetworkUnreachable,
            format!(
                "the node's proxy {shown} ({from}) cannot reach {authority}: it answered CONNECT with {line}"
            ),
            None,
        ),
    };
    // A refused or unanswered connection was the proxy's: the step says whose it was.
    for step in report.steps.iter_mut().filter(|s| s.status.is_none()) {
        step.detail = format!("{} (at the node's proxy {shown})", step.detail);
    }
    report.outcome.cause = Some(cause);
    report.outcome.detail = detail;
    change
}

/// One `CONNECT authority` to an `http://` proxy (for HTTPS targets), or a TCP connection only.
async fn connect_check(proxy: &url::Url, authority: &str, tunnel: bool) -> ProxyAnswer {
    let host = proxy.host_str().unwrap_or("").trim_matches(['[', ']']);
    // Go's default ports: 1080 for a SOCKS proxy, the scheme's own otherwise.
    let socks_port = proxy.scheme().starts_with("socks").then_some(1080);
    let port = proxy.port_or_known_default().or(socks_port).unwrap_or(80);
    let addrs = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
        Err(_) => match registry::dns::resolve_host(host).await {
            Ok(a) => a
                .into_iter()
                .map(|a| std::net::SocketAddr::new(a.ip(), port))
                .collect(),
            Err(e) => return ProxyAnswer::Unreachable(e.to_string()),
        },
    };
    let connected =
        tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(&addrs[..])).await;
    let mut stream = match connected {
        Err(_) => {
            return ProxyAnswer::Unreachable(format!("no answer in {} s", CHECK_TIMEOUT.as_secs()));
        }
        // The probe's words for a failed connection ("connection refused: nothing listens on
        // that port"), not the OS's ("Connection refused (os error 111)").
        Ok(Err(e)) => {
            return ProxyAnswer::Unreachable(registry::classify_dyn(&e, false, 0).describe());
        }
        Ok(Ok(s)) => s,
    };
    if matches!(proxy.scheme(), "socks5" | "socks5h") {
        return socks(&mut stream, proxy, authority).await;
    }
    if !tunnel || proxy.scheme() != "http" {
        return ProxyAnswer::Open;
    }
    // The credentials the proxy URL carries go to the proxy, as Go's transport sends them.
    let auth = if proxy.username().is_empty() {
        String::new()
    } else {
        use base64::Engine;
        let user = super::socks_check::percent(proxy.username());
        let pass = super::socks_check::percent(proxy.password().unwrap_or(""));
        crate::scrub::remember_pair(&user, &pass);
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("Proxy-Authorization: Basic {pair}\r\n")
    };
    let ask = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n");
    let read = async {
        stream.write_all(ask.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match tokio::time::timeout(CHECK_TIMEOUT, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return ProxyAnswer::Unreachable(e.to_string()),
        Err(_) => return ProxyAnswer::Open,
    };
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next().unwrap_or("").trim();
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(c) if (200..300).contains(&c) => ProxyAnswer::Open,
        Some(c) => ProxyAnswer::Status(c, printable(line)),
        None if buf.is_empty() => ProxyAnswer::Unreachable(
            "the proxy closed the connection without answering CONNECT".into(),
        ),
        None => ProxyAnswer::Status(0, "an answer that is not HTTP".into()),
    }
}

/// One SOCKS5 `CONNECT authority` with the proxy URL's login (see `socks_check.rs`).
async fn socks(
    stream: &mut tokio::net::TcpStream,
    proxy: &url::Url,
    authority: &str,
) -> ProxyAnswer {
    use super::socks_check::{SocksAnswer, ask};
    match ask(stream, proxy, authority, CHECK_TIMEOUT).await {
        SocksAnswer::Open => ProxyAnswer::Open,
        SocksAnswer::Refused(why) => ProxyAnswer::Refused(why),
        SocksAnswer::CannotReach(why) => ProxyAnswer::CannotReach(why),
        SocksAnswer::Broken(why) => ProxyAnswer::Unreachable(why),
    }
}

/// A status line as it may be printed: control characters dropped, at most 120 characters.
fn printable(line: &str) -> String {
    line.chars().filter(|c| !c.is_control()).take(120).collect()
}
