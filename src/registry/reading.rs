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
}

/// The registry named in a conversation: the `/v2/` challenge's realm decides Harbor.
pub fn dialect_of(host: &str, steps: &[Step]) -> Dialect {
    let realm = steps
        .iter()
        .find(|s| s.name == StepName::Ping)
        .and_then(|s| s.headers.get("www-authenticate"))
        .and_then(|c| realm_of(c));
    Dialect::detect(host, realm.as_deref())
}

/// The `realm` parameter of a challenge header.
fn realm_of(challenge: &str) -> Option<String> {
    param_of(challenge, "realm")
}

/// A quoted parameter of a challenge header (`error="insufficient_scope"`).
fn param_of(challenge: &str, name: &str) -> Option<String> {
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
    match v.cause {
        Some(Cause::AuthForbidden | Cause::AuthOrNotFound) => denial(c, v),
        Some(Cause::AuthInvalidCredentials) => refused_where(c, v),
        Some(Cause::RateLimited) => rate_limited(c, v),
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
    Verdict::cause(
        Cause::AuthInvalidCredentials,
        format!(
            "{}; {} refused it ({})",
            lines.join("; "),
            c.dialect.name(),
            v.detail
        ),
    )
}

/// The last refusal's error code and challenge error: ` (UNAUTHORIZED, insufficient_scope)`.
fn refusal_words(steps: &[Step]) -> String {
    let Some(step) = steps
        .iter()
        .rev()
        .find(|s| matches!(s.status, Some(401 | 403)))
    else {
        return String::new();
    };
    let scope_error = step
        .headers
        .get("www-authenticate")
        .and_then(|c| param_of(c, "error"));
    let words: Vec<String> = [
        step.status.map(|s| s.to_string()),
        step.error_code.clone(),
        scope_error,
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(" ({})", words.join(" "))
}

/// A refusal on the repository: auth_or_not_found where the registry cannot tell.
fn denial(c: &Conversation<'_>, v: Verdict) -> Verdict {
    if !c.dialect.is_known() {
        return v;
    }
    let answer = refusal_words(c.steps);
    match c.dialect.missing_repo() {
        MissingRepo::LikePrivate => {
            let who = match c.credential {
                Some(l) => format!("even with {l}, whose token was granted"),
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
        MissingRepo::Distinct if c.credential.is_some() => Verdict::cause(
            Cause::AuthForbidden,
            format!(
                "{}{answer}; {} says NAME_UNKNOWN for a repository that does not exist, so this one exists and the credentials lack pull rights",
                v.detail,
                c.dialect.name()
            ),
        ),
        MissingRepo::Distinct => v,
    }
}

/// A rejected credential: which one, and whether the token endpoint or the registry said so.
fn refused_where(c: &Conversation<'_>, v: Verdict) -> Verdict {
    if !c.dialect.is_known() || !c.expired.is_empty() {
        return v;
    }
    let refusal = c
        .steps
        .iter()
        .rev()
        .find(|s| matches!(s.status, Some(401 | 403)));
    let Some(step) = refusal else {
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
        _ => format!("{}", step.status.unwrap_or(0)),
    };
    Verdict::cause(
        Cause::AuthInvalidCredentials,
        format!(
            "{place} refused {} with {answer}: the password or token is wrong, revoked or expired ({})",
            if c.tried.is_empty() {
                "the credentials".to_string()
            } else {
                c.tried.join(", ")
            },
            v.detail
        ),
    )
}

/// A rate limit, with the quota and who is counted.
fn rate_limited(c: &Conversation<'_>, v: Verdict) -> Verdict {
    let Some(quota) = c.rate.and_then(|r| quota_line(c.dialect, r, c.credential)) else {
        return v;
    };
    Verdict::cause(Cause::RateLimited, format!("{}; {quota}", v.detail))
}

/// `100;w=21600` → (100, Some(21600)).
pub fn parse_quota(value: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = value.split(';');
    let n = parts.next()?.trim().parse().ok()?;
    let w = parts
        .filter_map(|p| p.trim().strip_prefix("w="))
        .find_map(|w| w.parse().ok());
    Some((n, w))
}

/// `6-hour window`, `60-second window`.
fn window(seconds: u64) -> String {
    if seconds % 3600 == 0 {
        format!("{}-hour window", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}-minute window", seconds / 60)
    } else {
        format!("{seconds}-second window")
    }
}

/// The pull quota in words: `Docker Hub pull quota: 76 of 100 pulls left in a 6-hour window,
/// counted per IP address (docker-ratelimit-source 203.0.113.7)`. None without figures.
pub fn quota_line(dialect: Dialect, rate: &RateLimit, credential: Option<&str>) -> Option<String> {
    let limit = rate.limit.as_deref().and_then(parse_quota);
    let remaining = rate.remaining.as_deref().and_then(parse_quota);
    if limit.is_none() && remaining.is_none() {
        return None;
    }
    let figures = match (limit, remaining) {
        (Some((l, w)), Some((r, _))) => format!(
            "{r} of {l} pulls left{}",
            w.map(|w| format!(" in a {}", window(w)))
                .unwrap_or_default()
        ),
        (Some((l, w)), None) => format!(
            "{l} pulls{}",
            w.map(|w| format!(" per {}", window(w))).unwrap_or_default()
        ),
        (None, Some((r, _))) => format!("{r} pulls left"),
        (None, None) => String::new(),
    };
    let who = match (dialect, credential) {
        (Dialect::DockerHub, None) => " , counted per IP address for anonymous pulls",
        (Dialect::DockerHub, Some(_)) => ", counted against the authenticated account",
        _ => "",
    }
    .replace(" ,", ",");
    let source = rate
        .source
        .as_deref()
        .map(|s| format!(" (docker-ratelimit-source {s})"))
        .unwrap_or_default();
    let name = if dialect.is_known() {
        dialect.name()
    } else {
        "registry"
    };
    Some(format!("{name} pull quota: {figures}{who}{source}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_quota_says_who_is_counted() {
        let r = RateLimit {
            limit: Some("100;w=21600".into()),
            remaining: Some("76;w=21600".into()),
            retry_after: None,
            source: Some("203.0.113.7".into()),
        };
        let anon = quota_line(Dialect::DockerHub, &r, None).unwrap();
        assert_eq!(
            anon,
            "Docker Hub pull quota: 76 of 100 pulls left in a 6-hour window, counted per IP address for anonymous pulls (docker-ratelimit-source 203.0.113.7)"
        );
        let auth = quota_line(Dialect::DockerHub, &r, Some("--authfile x")).unwrap();
        assert!(
            auth.contains("counted against the authenticated account"),
            "{auth}"
        );
        assert_eq!(parse_quota("100;w=21600"), Some((100, Some(21600))));
        assert_eq!(parse_quota("junk"), None);
        assert!(quota_line(Dialect::DockerHub, &RateLimit::default(), None).is_none());
    }

    #[test]
    fn realms_are_read_from_the_challenge() {
        assert_eq!(
            realm_of(r#"Bearer realm="https://h.test/service/token",service="harbor-registry""#),
            Some("https://h.test/service/token".into())
        );
        assert_eq!(realm_of("Basic"), None);
    }
}
