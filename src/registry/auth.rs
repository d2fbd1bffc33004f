//! Winning access the way a runtime does: answer the challenge, then ask for the manifest.
//!
//! Basic (htpasswd registries): each credential in kubelet's order goes straight onto the
//! manifest `GET` (the first repository request, as containerd's resolve is), so a refused
//! credential costs one request and a good one none extra. Bearer (distribution's token spec,
//! <https://distribution.github.io/distribution/spec/auth/token/>): each credential asks the
//! realm for `repository:<name>:pull`; the first token won serves every later request. With no
//! credentials the pull is anonymous, as kubelet's is when no secret matches.

use super::challenge::{Challenge, Scheme};
use super::client::Exchange;
use super::manifest;
use super::model::{Auth, Puller};
use super::session::{Granted, Session, Verdict};
use crate::taxonomy::Cause;

/// The access won and the manifest answer read with it (None: no HTTP answer, see the step).
pub type Access = (Granted, Option<Exchange>);

/// Answers `challenge` (None: the registry let us in) and asks for the manifest.
pub async fn authenticate(
    s: &mut Session<'_>,
    challenge: Option<&Challenge>,
) -> Result<Access, Verdict> {
    match challenge {
        None => {
            let granted = Granted::anonymous();
            let page = manifest::get(s, &granted).await;
            Ok((granted, page))
        }
        Some(c) if c.scheme == Scheme::Basic => basic(s, c).await,
        Some(c) => bearer(s, c).await,
    }
}

/// Basic: the manifest request is the credential check; a 401 moves on to the next credential.
async fn basic(s: &mut Session<'_>, c: &Challenge) -> Result<Access, Verdict> {
    let creds: Vec<Auth> = s.req.credentials.clone();
    if creds.is_empty() {
        s.note(match s.req.puller {
            Puller::Node => {
                "Basic challenge and no credentials: the node's anonymous pull is refused"
            }
            Puller::Ci => "Basic challenge and no credentials: the anonymous pull is refused",
        });
        return Err(Verdict::cause(
            Cause::AuthRequired,
            format!(
                "the registry requires credentials (Basic realm {:?}) and the pull is anonymous",
                c.realm().unwrap_or("")
            ),
        ));
    }
    basic_from(s, None).await
}

/// Basic with kubelet's credentials in order; `first`: the answer the first credential already
/// got on the conversation's first request (`first_request.rs`), so it is not asked again.
pub async fn basic_from(
    s: &mut Session<'_>,
    first: Option<(Granted, Option<Exchange>)>,
) -> Result<Access, Verdict> {
    let creds: Vec<Auth> = s.req.credentials.clone();
    let mut first = first;
    for cred in &creds {
        let (granted, page) = match first.take() {
            Some(answered) => answered,
            None => {
                let granted = s.basic(cred);
                let page = manifest::get(s, &granted).await;
                (granted, page)
            }
        };
        match &page {
            // A redirect took the request to another origin, where the password never went.
            Some(Exchange {
                status: 401,
                withheld: Some(why),
                ..
            }) => {
                return Err(Verdict::cause(
                    Cause::AuthRequired,
                    format!("the registry's answer asks for credentials, and {why}"),
                ));
            }
            Some(x) if x.status == 401 => {
                s.note(&format!("credentials of {} rejected", cred.label));
                s.refused.push((
                    cred.label.clone(),
                    Verdict::cause(
                        Cause::AuthInvalidCredentials,
                        format!("{}: credentials rejected", cred.label),
                    ),
                ));
            }
            _ => return Ok((granted, page)),
        }
    }
    let labels: Vec<&str> = creds.iter().map(|c| c.label.as_str()).collect();
    Err(Verdict::cause(
        Cause::AuthInvalidCredentials,
        format!(
            "the registry rejected every credential: {}",
            labels.join(", ")
        ),
    ))
}

/// Bearer: a token per credential until one is granted; a 403 (scope refused) outranks a 401.
async fn bearer(s: &mut Session<'_>, c: &Challenge) -> Result<Access, Verdict> {
    let creds: Vec<Auth> = s.req.credentials.clone();
    let scope = format!("repository:{}:pull", s.req.image.repository);
    let candidates: Vec<Option<&Auth>> = if creds.is_empty() {
        vec![None]
    } else {
        creds.iter().map(Some).collect()
    };
    let mut refusal: Option<(Option<u16>, Verdict)> = None;
    for cand in candidates {
        match s.token(c, cand, &scope).await {
            Ok(granted) => {
                let page = manifest::get(s, &granted).await;
                return Ok((granted, page));
            }
            Err((status, v)) => {
                if let Some(c) = cand
                    && matches!(status, Some(401 | 403))
                {
                    s.refused.push((c.label.clone(), v.clone()));
                }
                if !matches!(status, Some(401 | 403)) {
                    // The token server is down or broken: no credential will fare better.
                    return Err(v);
                }
                let better = match &refusal {
                    None => true,
                    Some((st, _)) => *st != Some(403) && status == Some(403),
                };
                if better {
                    refusal = Some((status, v));
                }
            }
        }
    }
    Err(refusal.map_or_else(
        || Verdict::cause(Cause::Unknown, "no token obtained"),
        |(_, v)| v,
    ))
}
