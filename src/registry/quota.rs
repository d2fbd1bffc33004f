//! The pull quota in words: Docker Hub's `ratelimit-limit` / `ratelimit-remaining`
//! (`100;w=21600`: 100 pulls per 21600-second window, the IETF RateLimit header draft's
//! syntax, <https://docs.docker.com/docker-hub/usage/pulls/>) and `docker-ratelimit-source`,
//! which says who is counted: the client's IP address for anonymous pulls, the account for
//! authenticated ones. Reported on every probe that sees the headers, healthy ones included,
//! so a CI job sees its quota shrink before it runs out.

use super::dialect::Dialect;
use super::model::RateLimit;

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
    if seconds.is_multiple_of(3600) {
        format!("{}-hour window", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
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
}
