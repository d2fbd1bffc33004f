//! The probe: the conversation a node has with a registry before it pulls, step by step.
//!
//! `GET /v2/` → the challenge → a token (Bearer) → one manifest `GET` with the Accept list
//! containerd sends (its digest header, a 404's error code, an index's platforms) → the config
//! blob of a single-platform image when the platform is known → `tags/list` only after a 404
//! → optionally `_catalog`. Follows the OCI distribution spec
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>) and what Debian's
//! docker-registry 2.8 answers (see `docs/internals/registry-protocol.md`): only
//! `tags/list` says NAME_UNKNOWN, so it tells a missing repository from a missing tag. One
//! client, so one TLS handshake per origin; the token is reused. A probe costs at most 3
//! requests on a Basic registry (2 for a wrong password) and one more for the token on a
//! Bearer registry (more only for extra credentials or tag pages).

use std::time::Instant;

use reqwest::{Method, Url};

use super::auth;
use super::challenge::{self, Scheme};
use super::client::{CAP_DOCUMENT, CAP_SMALL, RegistryClient};
use super::contrast;
use super::dialect::Dialect;
use super::documents;
use super::ecr_token;
use super::first_request::{self, First};
use super::insecure::{self, NamedHost};
use super::login_check;
use super::manifest;
use super::model::{ProbeOutcome, ProbeReport, ProbeRequest, Puller, StepName};
use super::reading;
use super::session::{Granted, Session, Verdict, challenges_of, scheme_name, status_verdict};
use crate::taxonomy::Cause;
use crate::trust::describe_chain;

/// Probes the registry for `req.image` the way the node would. Never fails: every failure is
/// a recorded step and the outcome's cause.
pub async fn probe(req: &ProbeRequest) -> ProbeReport {
    let started = Instant::now();
    let deadline = started + req.timeout;
    let plain = req.plain_http || req.trust.plain_http;
    let root = api_root(req, plain);
    // Credentials belong to the registry's host; a mirror named by the node's config gets none.
    let mirror_only;
    let withheld = !req.credentials.is_empty() && !same_host(&root, req.image.api_host());
    let req = if withheld {
        mirror_only = ProbeRequest {
            credentials: Vec::new(),
            ..req.clone()
        };
        &mirror_only
    } else {
        req
    };
    let mut report = empty_report(req, &root);
    if withheld {
        report.flags.push(format!(
            "endpoint {} is not {}: probed anonymously, credentials withheld",
            report.endpoint,
            req.image.api_host()
        ));
    }
    let skip = req.insecure_skip_verify || req.trust.skip_verify;
    let connect = req.step_timeout.min(req.timeout);
    // Verification is skipped for the registry (when asked) and the hosts the flag named; a
    // token realm or redirect target elsewhere is verified as usual.
    let mut skip_hosts = req.insecure.skip_verify.clone();
    if skip {
        skip_hosts.push(NamedHost::of_url(&root));
    }
    // Every HTTPS probe over the system roots needs them: to verify, or for the trust contrast
    // when the node names a CA (whose handshake is verified against that CA first and so does
    // not wait for them).
    if root.scheme() == "https" && req.trust.system_roots {
        crate::trust::system::prefetch();
    }
    let client = match RegistryClient::skipping(&req.trust, skip_hosts, connect) {
        Ok(c) => c,
        Err(e) => {
            report.outcome.cause = Some(Cause::Unknown);
            report.outcome.detail = format!("cannot set up the TLS client: {e}");
            return report;
        }
    };
    let expired = ecr_token::expired(req.image.api_host(), &req.credentials, ecr_token::now());
    report.notices = expired.iter().map(|e| e.describe()).collect();
    let mut s = Session::new(req, &client, root.clone(), deadline, plain);
    let (verdict, granted) = converse(&mut s, &mut report).await;
    // The registry's dialect decides what its answers can prove (`reading.rs`).
    let dialect = reading::dialect_of(req.image.api_host(), &s.steps);
    let refused = matches!(
        verdict.cause,
        Some(Cause::AuthForbidden | Cause::AuthOrNotFound)
    );
    let login_refused = if dialect == Dialect::Harbor && refused && !req.credentials.is_empty() {
        login_check::harbor(&mut s).await
    } else {
        None
    };
    let conversation = reading::Conversation {
        dialect,
        steps: &s.steps,
        credential: granted.as_ref().and_then(|g| g.label.as_deref()),
        tried: req.credentials.iter().map(|c| c.label.as_str()).collect(),
        rate: s.rate.as_ref(),
        expired: &expired,
        login_refused,
    };
    let mut verdict = reading::conclude(&conversation, verdict);
    if verdict.cause.is_none()
        && let Some(d) = &report.digest
    {
        verdict.detail.push_str(&format!(" (digest {d})"));
    }
    report.quota = s
        .rate
        .as_ref()
        .and_then(|r| super::quota::quota_line(dialect, r, conversation.credential));
    report.registry_kind = dialect.is_known().then(|| dialect.name().to_string());
    report.credential_expired = !expired.is_empty();
    report.outcome = ProbeOutcome {
        cause: verdict.cause,
        detail: verdict.detail,
        credential_used: granted.and_then(|g| g.label),
    };
    report.steps = std::mem::take(&mut s.steps);
    let refused = std::mem::take(&mut s.refused);
    report.rate_limit = s.rate.take();
    report.requests = client.requests();
    report.tls_handshakes = client.recorder.handshakes();
    let host = root
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    report.certificates = describe_chain(&client.recorder.chain(&host));
    if skip {
        report.tls_would_fail = client.recorder.would_fail(&host);
    }
    report.insecure = insecure::findings(req, &report, &root, &client.recorder);
    for t in &report.insecure {
        report.flags.push(t.detail.clone());
    }
    if req.contrasts {
        contrast::run(req, &client, &root, &mut report, deadline, &refused).await;
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}

/// True when `url` points at `hostport` (`host[:port]`, default ports filled in by scheme).
fn same_host(url: &Url, hostport: &str) -> bool {
    let (host, port) = crate::reference::split_port(hostport);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port
        .and_then(|p| p.parse::<u16>().ok())
        .or_else(|| url.port_or_known_default());
    url.host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .is_some_and(|h| h.eq_ignore_ascii_case(host))
        && url.port_or_known_default() == port
}

/// `https://<registry>/v2/`, or the node's configured endpoint (hosts.toml), or HTTP.
fn api_root(req: &ProbeRequest, plain: bool) -> Url {
    let fallback = || {
        let scheme = if plain { "http" } else { "https" };
        Url::parse(&format!("{scheme}://{}/", req.image.api_host()))
            .unwrap_or_else(|_| Url::parse("https://invalid.invalid/").expect("static URL"))
    };
    let mut base = req.trust.endpoint.clone().unwrap_or_else(fallback);
    if req.plain_http && base.scheme() == "https" {
        let _ = base.set_scheme("http");
    }
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    if req.trust.override_path {
        base
    } else {
        base.join("v2/").unwrap_or(base)
    }
}

fn empty_report(req: &ProbeRequest, root: &Url) -> ProbeReport {
    // The unsafe switches in force are added once the probe has run (see `insecure`).
    let endpoint = root.as_str().trim_end_matches("v2/").trim_end_matches('/');
    let mut report = ProbeReport::before_probe(
        req.image.canonical(),
        endpoint.to_string(),
        req.platform.clone(),
        Cause::Unknown,
        String::new(),
    );
    report.trust_sources = req.trust.sources.clone();
    report.trust_problems = req.trust.problems.clone();
    report
}

/// The main conversation; returns the verdict and the access it won.
async fn converse(s: &mut Session<'_>, report: &mut ProbeReport) -> (Verdict, Option<Granted>) {
    // 1. The manifest with the credential (`first_request.rs`), or GET /v2/: reachability,
    // TLS, the challenge.
    match first_request::credential_first(s, report).await {
        First::Ping => {}
        First::Decided(verdict, granted) => return (verdict, granted),
        First::NoAnswer => {
            if s.last_failure() == Some(super::tls_error::Failure::PlainHttpServer) {
                return (plain_http_check(s).await, None);
            }
            return (s.unreachable("manifest GET"), None);
        }
    }
    let anon = Granted::anonymous();
    let ping = s
        .step(
            StepName::Ping,
            Method::GET,
            s.root.clone(),
            None,
            &anon,
            CAP_SMALL,
        )
        .await;
    let Some(ping) = ping else {
        if s.last_failure() == Some(super::tls_error::Failure::PlainHttpServer) {
            return (plain_http_check(s).await, None);
        }
        return (s.unreachable("GET /v2/"), None);
    };
    let challenges = match ping.status {
        200..=299 => Vec::new(),
        401 => challenges_of(&ping),
        404 => {
            return (
                Verdict::cause(
                    Cause::Unknown,
                    format!(
                        "{} is not a registry: GET /v2/ answered 404",
                        report.endpoint
                    ),
                ),
                None,
            );
        }
        400 if s.root.scheme() == "http"
            && String::from_utf8_lossy(&ping.body).contains("HTTPS") =>
        {
            // Who chose plain HTTP decides what to change: the node's configuration, or the flag.
            let fix = if s.req.trust.plain_http {
                "the node's runtime is configured to speak plain HTTP to it and gets no image: name it https:// there"
            } else {
                "drop --plain-http"
            };
            return (
                Verdict::cause(
                    Cause::Unknown,
                    format!("the registry speaks HTTPS on this port, not plain HTTP ({fix})"),
                ),
                None,
            );
        }
        st => return (status_verdict(st, &ping, "GET /v2/"), None),
    };
    let preferred = challenge::preferred(&challenges).cloned();
    report.auth_scheme = Some(preferred.as_ref().map_or("none".into(), scheme_name));
    if ping.status == 401 && preferred.is_none() {
        let offered: Vec<String> = challenges.iter().map(scheme_name).collect();
        return (
            Verdict::cause(
                Cause::Unknown,
                format!("401 on /v2/ with no Basic or Bearer challenge (offered: {offered:?})"),
            ),
            None,
        );
    }
    // 2. Authentication and the manifest. A registry that opens /v2/ may still challenge on
    // the repository: then answer that challenge, once.
    let (mut granted, mut answer) = match auth::authenticate(s, preferred.as_ref()).await {
        Ok(access) => access,
        Err(v) => return (v, None),
    };
    if preferred.is_none()
        && let Some(x) = answer.as_ref().filter(|x| x.status == 401)
        && let Some(late) = challenge::preferred(&challenges_of(x)).cloned()
    {
        report.auth_scheme = Some(scheme_name(&late));
        s.note("the repository challenges although /v2/ did not");
        (granted, answer) = match auth::authenticate(s, Some(&late)).await {
            Ok(access) => access,
            Err(v) => return (v, None),
        };
    }
    // 3. The manifest's answer decides (the tag list only after a 404), then 4. the catalog.
    let verdict = manifest::resolve(s, report, &granted, answer).await;
    if s.req.catalog {
        catalog(s, report, &granted, preferred.as_ref()).await;
    }
    (verdict, Some(granted))
}

/// After HTTPS met a plain-HTTP port: one plain `GET http://…/v2/`, without credentials.
async fn plain_http_check(s: &mut Session<'_>) -> Verdict {
    let mut url = s.root.clone();
    if url.set_scheme("http").is_err() {
        return Verdict::cause(Cause::HttpToHttps, "the port does not speak TLS");
    }
    let anon = Granted::anonymous();
    match s
        .step(
            StepName::PlainHttpCheck,
            Method::GET,
            url.clone(),
            None,
            &anon,
            CAP_SMALL,
        )
        .await
    {
        Some(x) => Verdict::cause(
            Cause::HttpToHttps,
            format!(
                "{} is a plain-HTTP registry: GET {url} answered {}; {}",
                s.req.image.registry,
                x.status,
                match s.req.puller {
                    Puller::Node => "the node must be told to use HTTP for it".to_string(),
                    Puller::Ci => format!(
                        "check it over HTTP with --plain-http {}",
                        s.req.image.registry
                    ),
                }
            ),
        ),
        None => Verdict::cause(
            Cause::HttpToHttps,
            format!(
                "the port does not speak TLS, and plain HTTP failed too: {}",
                s.unreachable("GET").detail
            ),
        ),
    }
}

/// `_catalog`: informational; 401/403/404 mean "not offered", never the diagnosis.
async fn catalog(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    challenge: Option<&challenge::Challenge>,
) {
    let mut access = granted.clone();
    if let Some(c) = challenge
        && c.scheme == Scheme::Bearer
    {
        let cred = granted
            .label
            .as_ref()
            .and_then(|l| s.req.credentials.iter().find(|c| &c.label == l));
        match s.token(c, cred, "registry:catalog:*").await {
            Ok(g) => access = g,
            Err(_) => {
                s.note("catalog not offered");
                return;
            }
        }
    }
    let url = s.url("_catalog?n=100");
    let Some(x) = s
        .step(
            StepName::Catalog,
            Method::GET,
            url,
            None,
            &access,
            CAP_DOCUMENT,
        )
        .await
    else {
        return;
    };
    match x.status {
        200 => report.catalog = documents::repositories(&x.body),
        401 | 403 | 404 => {
            if let Some(st) = s.steps.last_mut() {
                st.outcome = super::model::StepOutcome::NotOffered;
            }
            s.note("catalog not offered");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ImageRef, Platform};

    fn req(image: &str) -> ProbeRequest {
        ProbeRequest::new(ImageRef::parse(image).unwrap(), Platform::host())
    }

    #[test]
    fn api_roots() {
        assert_eq!(
            api_root(&req("nginx"), false).as_str(),
            "https://registry-1.docker.io/v2/"
        );
        assert_eq!(
            api_root(&req("reg.test:5000/a/b:1"), true).as_str(),
            "http://reg.test:5000/v2/"
        );
        let mut r = req("reg.test/app");
        r.trust.endpoint = Some(Url::parse("https://mirror.test/base").unwrap());
        assert_eq!(api_root(&r, false).as_str(), "https://mirror.test/base/v2/");
        r.trust.override_path = true;
        assert_eq!(api_root(&r, false).as_str(), "https://mirror.test/base/");
    }

    #[test]
    fn same_host_fills_default_ports() {
        let u = Url::parse("https://reg.test/v2/").unwrap();
        assert!(same_host(&u, "reg.test"));
        assert!(same_host(&u, "reg.test:443"));
        assert!(!same_host(&u, "reg.test:5000"));
        assert!(!same_host(&u, "other.test"));
        let u = Url::parse("https://[::1]:5000/v2/").unwrap();
        assert!(same_host(&u, "[::1]:5000"));
    }
}
