//! Amazon ECR passwords carry their own expiry: read it (never print the password) before
//! asking the registry.
//!
//! `aws ecr get-login-password` (ECR's GetAuthorizationToken,
//! <https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html>)
//! returns, for user `AWS`, a password that is base64 of a JSON envelope
//! `{"payload","datakey","version","type":"DATA_KEY","expiration":<Unix seconds>}`, valid for
//! 12 hours. A pull secret made by hand from it works for half a day and then fails with 401;
//! the registry's own answer ("Your authorization token has expired") is only a hint, while the
//! envelope says exactly when. Only the `expiration` field is kept; payload and data key are
//! dropped unread.

use base64::Engine;
use serde::Deserialize;

use super::dialect::is_ecr;
use super::model::Auth;

/// How long an ECR authorization token lives.
pub const ECR_TOKEN_HOURS: u32 = 12;

/// One credential whose ECR password has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// The credential's printable label.
    pub label: String,
    /// When it expired, Unix seconds.
    pub at: i64,
}

impl Expired {
    /// `the ECR password of <label> expired at 2024-01-01T12:00:00Z (12-hour token)`.
    pub fn describe(&self) -> String {
        format!(
            "the ECR password of {} expired at {} ({ECR_TOKEN_HOURS}-hour token)",
            self.label,
            crate::trust::describe::rfc3339(self.at)
        )
    }
}

/// The expiry an ECR password states, Unix seconds; None when it is not an ECR token.
pub fn expiration(username: &str, password: &str) -> Option<i64> {
    if username != "AWS" {
        return None;
    }
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: Option<String>,
        expiration: Option<i64>,
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(password.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(password.trim()))
        .ok()?;
    let env: Envelope = serde_json::from_slice(&raw).ok()?;
    env.kind.filter(|k| k == "DATA_KEY")?;
    env.expiration
}

/// The credentials for an ECR `host` whose password expired before `now` (Unix seconds).
pub fn expired(host: &str, credentials: &[Auth], now: i64) -> Vec<Expired> {
    if !is_ecr(host.split(':').next().unwrap_or("")) {
        return Vec::new();
    }
    credentials
        .iter()
        .filter_map(|c| {
            let at = expiration(&c.username, c.password.expose())?;
            (at <= now).then(|| Expired {
                label: c.label.clone(),
                at,
            })
        })
        .collect()
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redacted::Redacted;

    fn password(expiration: i64) -> String {
        let json = format!(
            r#"{{"payload":"cGF5","datakey":"ZGF0","version":"2","type":"DATA_KEY","expiration":{expiration}}}"#
        );
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[test]
    fn the_envelope_states_the_expiry() {
        assert_eq!(
            expiration("AWS", &password(1_704_110_400)),
            Some(1_704_110_400)
        );
        assert_eq!(expiration("alice", &password(1_704_110_400)), None);
        assert_eq!(expiration("AWS", "not base64 at all"), None);
        assert_eq!(expiration("AWS", "eyJmb28iOjF9"), None);
    }

    #[test]
    fn only_ecr_hosts_and_past_expiries_count() {
        let cred = Auth::new(
            "secret shop/ecr",
            "AWS",
            Redacted::new(password(1_704_110_400)),
        );
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let e = expired(host, std::slice::from_ref(&cred), 1_704_110_401);
        assert_eq!(e.len(), 1);
        let line = e[0].describe();
        assert!(
            line.contains("expired at 2024-01-01T12:00:00Z (12-hour token)"),
            "{line}"
        );
        assert!(!line.contains("ZGF0") && !line.contains("DATA_KEY"));
        assert!(expired(host, std::slice::from_ref(&cred), 1_704_110_000).is_empty());
        assert!(expired("ghcr.io", &[cred], 1_704_110_401).is_empty());
    }
}
