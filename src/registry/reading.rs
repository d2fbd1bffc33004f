//! The conversation's conclusion read in the registry's own dialect: claim no more than its
//! answers support, and say why for that registry.
//!
//! The probe's generic reading (`manifest::denied`, `Session::token`) takes a refusal after
//! accepted credentials as "authenticated but not allowed". That is right for a registry that
//! says `NAME_UNKNOWN` to anyone allowed to look (ECR, ACR, distribution), and wrong for those
//! that answer a missing repository exactly like a private one (Docker Hub's 401
//! `insufficient_scope` after a token that silently dropped `pull`, GHCR's `DENIED`, …): there
//! the honest verdict is `auth_or_not_found`, with the reason for that registry. A rate limit
//! is worded with who is counted (Docker Hub: the IP address for anonymous pulls, the account
//! for authenticated ones, per `docker-ratelimit-source`), a refused credential with where it
//! was refused (the token endpoint or the registry), and an expired ECR password with the
//! moment its envelope states.

use super::dialect::{Dialect, MissingRepo};
use super::ecr_token::Expired;
use super::model::{RateLimit, Step, StepName};
use super::quota::quota_line;
use super::session::Verdict;
use crate::taxonomy::Cause;

/// What the conclusion is read from.
pub struct Conversation<'a> {
    pub dialect: Dialect,
    pub steps: &'a [Step],
    /// The label of the credential the access was won with (None: anonymous).
    pub credential: Option<&'a str>,
    /// Every credential tried, by label.
    pub tried: Vec<&'a str>,
    pub rate: Option<&'a RateLimit>,
    /// Credentials whose ECR password had expired before the probe.
    pub expired: &'a [Expired],
    /// A login-style check refused the credential (Harbor's token service without a scope).
    pub login_refused: Option<String>,
}

/// The registry named in a conversation: the `/v2/` challenge's realm decides Harbor.
pub fn dialect_of(host: &str, steps: &[Step]) -> Dialect {
    let realm = super::session::first_challenge(steps).and_then(|c| realm_of(c));
    Dialect::detect(host, realm.as_deref())
}

/// The `realm` parameter of a challenge header.
pub fn realm_of(challenge: &str) -> Option<String> {
    param_of(challenge, "realm")
}

/// A quoted parameter of a challenge header (`error="insufficient_scope"`).
pub fn param_of(challenge: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = challenge
        .match_indices(&key)
        .map(|(i, _)| i)
        .find(|i| *i == 0 || matches!(challenge.as_bytes()[i - 1], b' ' | b','))?
        + key.len();
    let rest = &challenge[start..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Re-reads `v` in the registry's dialect.
pub fn conclude(c: &Conversation<'_>, v: Verdict) -> Verdict {
    let v = expired_first(c, v);
    if let Some(v) = invalid_token(c) {
        return v;
    }
    match v.cause {
        Some(Cause::AuthForbidden | Cause::AuthOrNotFound | Cause::AuthRequired) => denial(c, v),
        Some(Cause::AuthInvalidCredentials) => refused_where(c, v),
        Some(Cause::RateLimited) => rate_limited(c, v),
        Some(Cause::NotFound) => not_found(c, v),
        _ => v,
    }
}

/// An expired ECR password explains any refusal of it.
fn expired_first(c: &Conversation<'_>, v: Verdict) -> Verdict {
    let refused = matches!(
        v.cause,
        Some(
            Cause::AuthInvalidCredentials
                | Cause::AuthRequired
                | Cause::AuthForbidden
                | Cause::AuthOrNotFound
        )
    );
    let all_expired = !c.tried.is_empty() && c.tried.len() == c.expired.len();
    if !refused || !all_expired {
        return v;
    }
    let lines: Vec<String> = c.expired.iter().map(Expired::describe).collect();
    let said = last_refusal(c.steps)
        .and_then(|s| s.error_message.clone())
        .map(|m| format!(": \"{m}\""))
        .unwrap_or_default();
    Verdict::cause(
        Cause::AuthInvalidCredentials,
        format!(
            "{}; {} refused it{}{said}",
            lines.join("; "),
            c.dialect.name(),
            refusal_words(c.steps)
        ),
    )
}

/// The last 401/403 of the conversation.
fn last_refusal(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .rev()
        .find(|s| matches!(s.status, Some(401 | 403)))
}

/// The challenge's `error` parameter of a step (`insufficient_scope`, `invalid_token`).
fn challenge_error(step: &Step) -> Option<String> {
    step.headers
        .get("www-authenticate")
        .and_then(|c| param_of(c, "error"))
}

/// ` (401 UNAUTHORIZED insufficient_scope)`: the last refusal's status, code, challenge error.
fn refusal_words(steps: &[Step]) -> String {
    let Some(step) = last_refusal(steps) else {
        return String::new();
    };
    let words: Vec<String> = [
        step.status.map(|s| s.to_string()),
        step.error_code.clone(),
        challenge_error(step),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(" ({})", words.join(" "))
}

/// RFC 6750's `error="invalid_token"` on the registry right after its token endpoint issued
/// the token: the token is refused, not the repository (expired, signed by a key the registry
/// does not trust, or issued for another service).
fn invalid_token(c: &Conversation<'_>) -> Option<Verdict> {
    let step = last_refusal(c.steps).filter(|s| s.name != StepName::Token)?;
    if challenge_error(step).as_deref() != Some("invalid_token") {
        return None;
    }
    let issued = c
        .steps
        .iter()
        .any(|s| s.name == StepName::Token && s.status == Some(200));
    issued.then(|| {
        Verdict::cause(
            Cause::AuthInvalidCredentials,
            format!(
                "{} refused the token its own token endpoint had just issued{}: the token server and the registry disagree (the token's signing key, service or expiry), so every pull fails whatever the credentials",
                registry_name(c.dialect),
                refusal_words(c.steps),
            ),
        )
    })
}

fn registry_name(d: Dialect) -> &'static str {
    if d.is_known() {
        d.name()
    } else {
        "the registry"
    }
}

/// The last refusal's message, lower case.
fn refusal_message(c: &Conversation<'_>) -> String {
    last_refusal(c.steps)
        .and_then(|s| s.error_message.as_deref())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A refusal on the repository, read for what this registry can and cannot tell apart.
fn denial(c: &Conversation<'_>, v: Verdict) -> Verdict {
    if !c.dialect.is_known() {
        return v;
    }
    let answer = refusal_words(c.steps);
    let with_credentials = !c.tried.is_empty();
    let refusal = last_refusal(c.steps);
    let message = refusal_message(c);
    // Harbor names what it could not find even in a refusal: `project <p> not found`.
    if c.dialect == Dialect::Harbor
        && message.starts_with("project ")
        && message.contains(" not found")
    {
        return Verdict::cause(
            Cause::NotFoundRepo,
            format!(
                "Harbor says the project does not exist{answer}: {}",
                refusal
                    .and_then(|s| s.error_message.clone())
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(why) = &c.login_refused {
        return Verdict::cause(
            Cause::AuthInvalidCredentials,
            format!(
                "{why}; the pull itself was refused{answer} because the credentials never logged in"
            ),
        );
    }
    // ECR says DENIED both for a bad token and for missing IAM rights; only the latter names
    // the action it may not perform.
    if matches!(c.dialect, Dialect::Ecr | Dialect::EcrPublic)
        && with_credentials
        && refusal.and_then(|s| s.error_code.as_deref()) == Some("DENIED")
        && !message.contains("not authorized to perform")
    {
        return Verdict::cause(
            Cause::AuthInvalidCredentials,
            format!(
                "{} refused {}{answer}: \"{}\": the token is invalid or has expired (ECR passwords are 12-hour tokens)",
                c.dialect.name(),
                c.tried.join(", "),
                refusal
                    .and_then(|s| s.error_message.clone())
                    .unwrap_or_default()
            ),
        );
    }
    // GHCR's token endpoint refuses a bad, expired or revoked token with 403 DENIED, even for
    // a public package.
    if c.dialect == Dialect::Ghcr
        && with_credentials
        && refusal.is_some_and(|s| s.name == StepName::Token && s.status == Some(403))
    {
        return Verdict::cause(
            Cause::AuthInvalidCredentials,
            format!(
                "GitHub Container Registry's token endpoint refused {}{answer}: the personal access token is wrong, expired or revoked, or lacks read:packages (GHCR refuses such a token even for a public package)",
                c.tried.join(", ")
            ),
        );
    }
    match (c.dialect.missing_repo(), v.cause) {
        (MissingRepo::LikePrivate, _) => {
            let who = match c.credential {
                Some(l) => format!("even with {l}, whose token was granted"),
                None if with_credentials => format!("to {}", c.tried.join(", ")),
                None => "to an anonymous pull".to_string(),
            };
            Verdict::cause(
                Cause::AuthOrNotFound,
                format!(
                    "{}; refused {who}{answer}: the repository does not exist, or it is private to an account this pull does not use",
                    c.dialect.like_private_why(),
                ),
            )
        }
        (MissingRepo::Distinct, Some(Cause::AuthRequired)) => Verdict::cause(
            Cause::AuthRequired,
            format!(
                "{} gives no anonymous access: every repository, existing or not, answers 401 without credentials ({})",
                c.dialect.name(),
                v.detail
            ),
        ),
        (MissingRepo::Distinct, _) if c.credential.is_some() => Verdict::cause(
            Cause::AuthForbidden,
            format!(
                "{}{answer}; {} says NAME_UNKNOWN for a repository that does not exist, so this one exists and the credentials lack pull rights",
                v.detail,
                c.dialect.name()
            ),
        ),
        (MissingRepo::Distinct, _) => v,
    }
}

/// A 404 the generic reading could not place: this registry's words say repository or tag.
fn not_found(c: &Conversation<'_>, v: Verdict) -> Verdict {
    if !c.dialect.is_known() {
        return v;
    }
    let Some(step) = c.steps.iter().rev().find(|s| {
        matches!(s.name, StepName::ManifestGet | StepName::ManifestHead) && s.status == Some(404)
    }) else {
        return v;
    };
    let code = step.error_code.as_deref().unwrap_or("");
    let message = step.error_message.as_deref().unwrap_or("");
    let lower = message.to_ascii_lowercase();
    if c.dialect == Dialect::Harbor && code == "NOT_FOUND" {
        let cause = if lower.starts_with("repository ") || lower.starts_with("project ") {
            Cause::NotFoundRepo
        } else if lower.starts_with("artifact ") {
            Cause::NotFoundTag
        } else {
            return v;
        };
        return Verdict::cause(cause, format!("Harbor answers 404 NOT_FOUND: {message}"));
    }
    if code != "MANIFEST_UNKNOWN" {
        return v;
    }
    let repo_answer = match c.dialect.missing_repo() {
        MissingRepo::LikePrivate => "refuses access to a repository that does not exist",
        MissingRepo::Distinct => "answers NAME_UNKNOWN for a repository that does not exist",
    };
    Verdict::cause(
        Cause::NotFoundTag,
        format!(
            "{} {repo_answer}, so 404 MANIFEST_UNKNOWN{} means the repository exists and this tag or digest does not",
            c.dialect.name(),
            if message.is_empty() {
                String::new()
            } else {
                format!(" (\"{message}\")")
            }
        ),
    )
}

/// A rejected credential: which one, and whether the token endpoint or the registry said so.
fn refused_where(c: &Conversation<'_>, v: Verdict) -> Verdict {
    if !c.dialect.is_known() || !c.expired.is_empty() {
        return v;
    }
    let Some(step) = last_refusal(c.steps) else {
        return v;
    };
    let host = url::Url::parse(&step.url)
        .ok()
        .map(|u| format!("{}{}", u.host_str().unwrap_or(""), u.path()))
        .unwrap_or_default();
    let place = if step.name == StepName::Token {
        format!("{}'s token endpoint {host}", c.dialect.name())
    } else {
        format!("{} itself ({host})", c.dialect.name())
    };
    let answer = match (&step.error_code, &step.error_message) {
        (Some(code), Some(m)) if !m.is_empty() => {
            format!("{} {code}: {m}", step.status.unwrap_or(0))
        }
        (Some(code), _) => format!("{} {code}", step.status.unwrap_or(0)),
        (None, Some(m)) if !m.is_empty() => format!("{}: {m}", step.status.unwrap_or(0)),
        _ => format!("{}", step.status.unwrap_or(0)),
    };
    Verdict::cause(
        Cause::AuthInvalidCredentials,
        format!(
            "{place} refused {} with {answer}: the password or token is wrong, revoked or expired",
            if c.tried.is_empty() {
                "the credentials".to_string()
            } else {
                c.tried.join(", ")
            },
        ),
    )
}

/// A rate limit, with the quota and who is counted.
fn rate_limited(c: &Conversation<'_>, v: Verdict) -> Verdict {
    let who = match (c.dialect, c.credential) {
        (Dialect::DockerHub, None) => {
            "; Docker Hub counts anonymous pulls per IP address: every node behind the same NAT shares one quota"
        }
        (Dialect::DockerHub, Some(_)) => {
            "; Docker Hub counts these pulls against the authenticated account"
        }
        _ => "",
    };
    let quota = c
        .rate
        .and_then(|r| quota_line(c.dialect, r, c.credential))
        .map(|q| format!("; {q}"))
        .unwrap_or_default();
    Verdict::cause(Cause::RateLimited, format!("{}{who}{quota}", v.detail))
}

#[cfg(test)]
#[path = "reading_tests.rs"]
mod tests;
