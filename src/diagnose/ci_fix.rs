//! Fixes for the CI audience of `pulldoctor image`: which of its flags or files to change
//! (`--ca-file`, `--authfile`, `--creds`, `--platform`) and the registry's own login.
//!
//! A CI job has no pod, no node and no kubelet: a secret to create, a node file to write or a
//! pod to recreate is advice it cannot act on, and a flag's name is not a secret's. The causes
//! whose cluster wording holds no cluster step (a missing tag, a forbidden repository) share it.

use super::evidence::Evidence;
use super::names::inert;
use super::names::registry_shown;
use super::secret_fix::{docker_login, ecr_expired, server_key};
use super::step::{Fix, note, steps};
use crate::diagnose::ProbeFacts;
use crate::taxonomy::Cause;

/// The CI wording of the fixes for `cause`, or `None` where the cluster's holds for CI too.
pub(super) fn fixes_for(cause: Cause, ev: &Evidence) -> Option<Vec<Fix>> {
    let registry = registry_shown(ev);
    let fixes = match cause {
        Cause::AuthRequired | Cause::AuthOrNotFound => auth_fixes(ev, cause),
        Cause::AuthInvalidCredentials => invalid_fixes(ev),
        Cause::TlsUnknownAuthority => {
            let rejected = matches!(&ev.probe, ProbeFacts::Ran(p) if p.works_with_supplied_ca == Some(false));
            vec![note(if rejected {
                format!(
                    "The CA given with --ca-file does not verify {registry}'s certificate: pass the CA that signed it (or fix the registry's certificate chain)."
                )
            } else {
                format!(
                    "Pass the CA that signed {registry}'s certificate with --ca-file FILE (or --cert-dir DIR holding it as ca.crt); the job's own docker or podman needs the same CA to pull."
                )
            })]
        }
        Cause::TlsExpired => vec![note(format!(
            "Renew {registry}'s certificate (check this machine's clock too if the dates look right)."
        ))],
        Cause::HttpToHttps => vec![note(format!(
            "{registry} speaks plain HTTP. Serve it over HTTPS; or, only for a registry on a trusted network, check it with --plain-http (the job's docker or podman then needs it listed as an insecure registry)."
        ))],
        Cause::PlatformMismatch => platform_fixes(ev),
        Cause::RateLimited => vec![note(
            "Authenticate the pulls (--authfile or --creds: authenticated pulls get a higher limit), use a pull-through mirror, or wait for the window in Retry-After / ratelimit-remaining."
                .to_string(),
        )],
        Cause::DnsFailure => vec![note(format!(
            "Check the spelling of {registry} and that this machine's resolver knows it."
        ))],
        Cause::NetworkUnreachable => vec![note(format!(
            "Check that {registry} is up and that this machine can reach its port (firewall, proxy)."
        ))],
        Cause::RegistryServerError => vec![note(format!(
            "{registry} is failing on its side: check its logs and storage, then rerun."
        ))],
        _ => return None,
    };
    Some(fixes)
}

/// Where the credentials came from, as the flag that set them.
fn source(ev: &Evidence) -> Option<String> {
    let c = ev.credentials.as_ref()?;
    c.tried.first().map(|t| inert(&t.source))
}

fn auth_fixes(ev: &Evidence, cause: Cause) -> Vec<Fix> {
    let key = inert(&server_key(ev));
    let mut out = Vec::new();
    let near_miss = ev
        .credentials
        .as_ref()
        .and_then(|c| c.findings.iter().find(|f| f.suggested_key.is_some()));
    if let Some(f) = near_miss
        && let (Some(file), Some(wanted)) = (&f.secret, &f.suggested_key)
    {
        out.push(note(format!(
            "{} holds credentials under {}, which is not looked up for this image: rename that key to {} (docker and podman look credentials up by the registry's host and port as the image writes them).",
            inert(file),
            inert(f.key.as_deref().unwrap_or("another key")),
            inert(wanted),
        )));
        return out;
    }
    if cause == Cause::AuthOrNotFound {
        out.push(note(format!(
            "Check that {} exists; if it does, the registry wants credentials:",
            inert(&ev.image)
        )));
    }
    out.push(note(format!(
        "Give pulldoctor credentials for {key}: --authfile FILE with an auths entry for {key} (docker login {} writes one to the default config, read when --authfile is not given), --creds USER:PASSWORD, or --username USER --password-stdin.",
        registry_shown(ev)
    )));
    out
}

fn invalid_fixes(ev: &Evidence) -> Vec<Fix> {
    let registry = registry_shown(ev);
    if ecr_expired(ev) {
        return vec![note(format!(
            "The ECR password for {registry} has expired (they last 12 hours): fetch a fresh one in the job right before pulling, e.g. `aws ecr get-login-password | docker login --username AWS --password-stdin {registry}`, instead of storing one."
        ))];
    }
    let what = match source(ev) {
        Some(s) if s == "--creds" => "the USER:PASSWORD given with --creds".to_string(),
        Some(s) if s.starts_with("--username") => {
            "the --username and the password on stdin".to_string()
        }
        Some(s) if s.starts_with("--authfile") => format!(
            "the entry for {} in {}",
            inert(&server_key(ev)),
            s.trim_start_matches("--authfile ")
        ),
        Some(s) => s,
        None => "the credentials given".to_string(),
    };
    steps([
        Ok(note(format!(
            "{registry} rejects {what}: correct the username or password (for a token, its scopes and expiry)."
        ))),
        docker_login(ev),
    ])
}

fn platform_fixes(ev: &Evidence) -> Vec<Fix> {
    let (platforms, wanted) = match &ev.probe {
        ProbeFacts::Ran(p) => (p.platforms.clone(), inert(&p.platform)),
        _ => (Vec::new(), String::new()),
    };
    let wanted = if wanted.is_empty() {
        "the --platform checked".to_string()
    } else {
        wanted
    };
    let offers = if platforms.is_empty() {
        "The image has no variant".to_string()
    } else {
        format!("The image offers {}, not", inert(&platforms.join(", ")))
    };
    vec![note(format!(
        "{offers} {wanted}: build and push a {wanted} variant (docker buildx build --platform {wanted}), or stop checking --platform {wanted} if it is not deployed."
    ))]
}
