//! Harbor's login check: the one request that tells a wrong password from missing rights.
//!
//! Harbor's token service treats a Basic credential that fails to log in as anonymous when a
//! scope is asked for, so the scoped token request answers 200 and the pull fails exactly as it
//! would for a member without rights. Only a token request without a scope (what
//! `docker login` sends, <https://github.com/goharbor/harbor/blob/main/src/core/service/token/>)
//! is refused with 401. After a refusal with credentials, the probe sends that one request
//! per credential so the verdict can say "the token service refused this credential".

use reqwest::{Method, Url};

use super::challenge::{self, Scheme};
use super::client::{Authorization, CAP_SMALL};
use super::model::StepName;
use super::session::{Granted, Session};

/// Asks Harbor's token service to log each credential in without a scope; Some(why) for the
/// first it refuses.
pub async fn harbor(s: &mut Session<'_>) -> Option<String> {
    let challenge = super::session::first_challenge(&s.steps)
        .map(|h| challenge::parse_all([h.as_str()]))
        .and_then(|cs| cs.into_iter().find(|c| c.scheme == Scheme::Bearer))?;
    let mut url = Url::parse(challenge.realm()?).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    if let Some(service) = challenge.param("service") {
        url.query_pairs_mut().append_pair("service", service);
    }
    for cred in s.req.credentials.clone() {
        let granted = Granted {
            auth: Some(Authorization::basic(
                &cred.username,
                &cred.password,
                &url,
                false,
            )),
            label: Some(cred.label.clone()),
            shown: format!("basic ({}), login check without scope", cred.label),
            withheld: None,
        };
        let x = s
            .step(
                StepName::Token,
                Method::GET,
                url.clone(),
                None,
                &granted,
                CAP_SMALL,
            )
            .await?;
        if x.status == 401 {
            s.note("Harbor's login check: the token service refuses this credential");
            return Some(format!(
                "Harbor's token service refused {} at login (a token request without a scope answers 401); on a pull Harbor treats a failed login as anonymous",
                cred.label
            ));
        }
        s.note("Harbor's login check: the credential logs in");
    }
    None
}
