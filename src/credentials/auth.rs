//! The `auth` field of a docker config entry: base64 of `username:password`.
//!
//! Reproduces kubelet's `decodeDockerConfigFieldAuth` (kubernetes
//! `pkg/credentialprovider/config.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/config.go>):
//! padded decoding when the trimmed field ends in `=`, unpadded otherwise, `\r` and `\n`
//! skipped anywhere (Go's decoder does), then a split at the first `:`. A failure here fails
//! kubelet's whole keyring, so errors carry enough to explain it and nothing of the value.

use super::findings::{Finding, FindingId};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Why an `auth` field could not be decoded. Carries no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// Not base64 (and whether it looks like plain `user:password`).
    NotBase64 { looks_plain: bool },
    /// Decodes, but has no `:` between username and password.
    NoColon,
}

impl AuthError {
    /// The finding for `at`'s `auth`; `fails` says what that costs the reader.
    pub(super) fn finding(self, at: &str, fails: &str) -> Finding {
        match self {
            AuthError::NotBase64 { looks_plain } => {
                let hint = if looks_plain {
                    " (it looks like plain user:password; it must be base64 of that)"
                } else {
                    ""
                };
                Finding::new(
                    FindingId::AuthNotBase64,
                    format!("{at}.auth is not valid base64{hint}; {fails}"),
                )
            }
            AuthError::NoColon => Finding::new(
                FindingId::AuthNoColon,
                format!(
                    "{at}.auth decodes to text without a ':' between username and password; {fails}"
                ),
            ),
        }
    }
}

/// Decodes `auth` as kubelet's `decodeDockerConfigFieldAuth` does.
///
/// Go picks padded decoding when the trimmed field ends in `=`, unpadded otherwise, and its
/// decoder skips `\r` and `\n` anywhere (so base64 wrapped at 76 columns still works).
pub fn decode_auth(field: &str) -> Result<(String, String), AuthError> {
    let padded = field.trim().ends_with('=');
    let cleaned: String = field
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    let config = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(if padded {
            DecodePaddingMode::RequireCanonical
        } else {
            DecodePaddingMode::RequireNone
        });
    let engine = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let decoded = engine
        .decode(cleaned.as_bytes())
        .map_err(|_| AuthError::NotBase64 {
            looks_plain: field.contains(':'),
        })?;
    let text = String::from_utf8_lossy(&decoded);
    match text.split_once(':') {
        Some((u, p)) => Ok((u.to_string(), p.to_string())),
        None => Err(AuthError::NoColon),
    }
}
