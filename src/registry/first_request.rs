//! The first request carries the credential: the manifest `GET` with kubelet's first
//! credential, instead of `GET /v2/` and then the manifest.
//!
//! containerd's resolver does not ping `/v2/` either: it starts at the manifest and answers the
//! challenge that comes back (`core/remotes/docker/resolver.go`, `authorizer.go`,
//! <https://github.com/containerd/containerd/tree/main/core/remotes/docker>). The ping only
//! tells the scheme, and a registry that wants a token answers the manifest with the same 401
//! and the same challenge. So when a credential is at hand for this very host and the
//! connection is HTTPS, the probe presents it at once, as `curl -u` does: a Basic registry
//! answers the manifest one round trip sooner (on a registry 100 ms away, a healthy probe is
//! three round trips instead of four), and a Bearer registry's 401 leads into the token flow
//! exactly as a ping's would, for the same number of requests.
//!
//! The ping stays first where its answer is the evidence: no credential (the anonymous
//! challenge), plain HTTP (no password before a challenge asks for it), a registry known by
//! name (its dialect's readings are of the `/v2/` challenge), `--catalog`, and any answer
//! that does not look like a registry's (a 404 without a distribution error or API header).

use super::auth;
use super::challenge::{self, Scheme};
use super::client::Exchange;
use super::dialect::Dialect;
use super::manifest;
use super::model::ProbeReport;
use super::session::{Granted, Session, Verdict, challenges_of, scheme_name};

/// What the first request settled.
pub enum First {
    /// Not tried, or the answer needs the ping to be read: go on with `GET /v2/`.
    Ping,
    /// No HTTP answer: the step's failure is the verdict, as a failed ping's would be.
    NoAnswer,
    /// The conversation is over: the verdict and the access won.
    Decided(Verdict, Option<Granted>),
}

/// True when the conversation may start with the credential on the manifest.
fn applies(s: &Session<'_>) -> bool {
    !s.req.credentials.is_empty()
        && s.root.scheme() == "https"
        && !s.req.catalog
        && !Dialect::detect(s.req.image.api_host(), None).is_known()
}

/// Sends the manifest `GET` with the first credential and reads the answer.
pub async fn credential_first(s: &mut Session<'_>, report: &mut ProbeReport) -> First {
    if !applies(s) {
        return First::Ping;
    }
    let granted = s.basic(&s.req.credentials[0]);
    let Some(answer) = manifest::get(s, &granted).await else {
        return First::NoAnswer;
    };
    let (granted, answer) = match answer.status {
        401 => {
            let challenges = challenges_of(&answer);
            let Some(c) = challenge::preferred(&challenges).cloned() else {
                return First::Ping;
            };
            report.auth_scheme = Some(scheme_name(&c));
            let access = if c.scheme == Scheme::Basic {
                auth::basic_from(s, Some((granted, Some(answer)))).await
            } else {
                s.note("the registry wants a token: the credential goes to its realm");
                auth::authenticate(s, Some(&c)).await
            };
            match access {
                Ok(access) => access,
                Err(v) => return First::Decided(v, None),
            }
        }
        404 if !from_registry(&answer, s) => return First::Ping,
        _ => {
            // Accepted with the credential (or not asked for one): the scheme it was sent with.
            report.auth_scheme = Some("basic".into());
            (granted, Some(answer))
        }
    };
    let verdict = manifest::resolve(s, report, &granted, answer).await;
    First::Decided(verdict, Some(granted))
}

/// A 404 a registry wrote: a distribution error code, or its API version header.
fn from_registry(x: &Exchange, s: &Session<'_>) -> bool {
    x.headers.contains_key("docker-distribution-api-version")
        || s.steps.last().is_some_and(|st| st.error_code.is_some())
}
