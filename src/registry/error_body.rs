//! Pure: what an error answer says, whatever shape its body has.
//!
//! Registries answer errors in the distribution shape
//! (`{"errors":[{"code","message","detail"}]}`,
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes>), but
//! token endpoints and front ends do not: Docker Hub's `auth.docker.io` says
//! `{"details":"incorrect username or password"}`, OAuth-style servers say
//! `{"error","error_description"}`, ECR says `Not Authorized` in plain text, a load balancer
//! sends HTML. Each is read by its structure; text is kept to its first line, capped, and only
//! when it is printable, so a page of HTML never floods a report.

use serde::Deserialize;

/// Longest message kept from a body.
const MAX_MESSAGE: usize = 200;

/// An error answer in words: the registry's code (when it has one) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorWords {
    pub code: Option<String>,
    pub message: String,
    /// The first error's `detail`, compact JSON, when it is not null.
    pub detail: Option<String>,
}

/// Reads an error body; None when it says nothing usable.
pub fn read(body: &[u8]) -> Option<ErrorWords> {
    distribution(body, MAX_MESSAGE)
        .or_else(|| other_json(body))
        .or_else(|| text(body))
}

/// Reads a distribution error body keeping up to `max` characters of its message: a message
/// that is the registry's reason (a policy sentence) is quoted whole.
pub fn read_distribution(body: &[u8], max: usize) -> Option<ErrorWords> {
    distribution(body, max)
}

fn distribution(body: &[u8], max: usize) -> Option<ErrorWords> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
        detail: Option<serde_json::Value>,
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    let first = e.errors.into_iter().next()?;
    Some(ErrorWords {
        code: first.code.filter(|c| !c.is_empty()),
        message: capped_to(first.message.as_deref().unwrap_or(""), max),
        detail: first
            .detail
            .filter(|d| !d.is_null())
            .map(|d| capped(&d.to_string())),
    })
}

/// `{"details": …}` (Docker Hub's token endpoint), `{"error", "error_description"}` (OAuth),
/// `{"message": …}`.
fn other_json(body: &[u8]) -> Option<ErrorWords> {
    #[derive(Deserialize)]
    struct Other {
        details: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
        message: Option<String>,
    }
    let o: Other = serde_json::from_slice(body).ok()?;
    let message = o
        .details
        .or(o.error_description)
        .or(o.message)
        .or_else(|| o.error.clone())?;
    Some(ErrorWords {
        code: None,
        message: capped(&message),
        detail: None,
    })
}

/// A plain-text body's first line, when it is short printable text (not HTML, not JSON).
fn text(body: &[u8]) -> Option<ErrorWords> {
    let s = std::str::from_utf8(body).ok()?.trim();
    if s.is_empty() || s.starts_with('<') || s.starts_with('{') || s.starts_with('[') {
        return None;
    }
    let line = s.lines().next()?.trim();
    if line.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(ErrorWords {
        code: None,
        message: capped(line),
        detail: None,
    })
}

fn capped(s: &str) -> String {
    capped_to(s, MAX_MESSAGE)
}

fn capped_to(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_errors_keep_code_message_and_detail() {
        let w = read(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":"unknown tag=x"}]}"#)
            .unwrap();
        assert_eq!(w.code.as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(w.message, "manifest unknown");
        assert_eq!(w.detail.as_deref(), Some("\"unknown tag=x\""));
        let w =
            read(br#"{"errors":[{"code":"UNAUTHORIZED","message":"x","detail":null}]}"#).unwrap();
        assert_eq!(w.detail, None);
    }

    #[test]
    fn other_shapes_are_read_too() {
        let hub = read(b"{\"details\":\"incorrect username or password\"}\n").unwrap();
        assert_eq!(hub.code, None);
        assert_eq!(hub.message, "incorrect username or password");
        let oauth = read(br#"{"error":"invalid_grant","error_description":"bad token"}"#).unwrap();
        assert_eq!(oauth.message, "bad token");
        assert_eq!(read(b"Not Authorized\n").unwrap().message, "Not Authorized");
        assert_eq!(read(b"<html><body>403</body></html>"), None);
        assert_eq!(read(b""), None);
        assert_eq!(read(b"{}"), None);
        let long = "x".repeat(500);
        assert!(read(long.as_bytes()).unwrap().message.chars().count() <= MAX_MESSAGE + 1);
    }
}
