//! Pure: an event reason and message become a [`Symptom`].
//!
//! (Placeholder while the classifier is being written; see issue 3.)

use crate::taxonomy::{Cause, Family, Runtime};
use serde::Serialize;

/// What one failure message says: a cause from the taxonomy and the facts the text reveals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symptom {
    /// The most specific cause the text supports.
    pub cause: Cause,
    /// The family of `cause`.
    pub family: Family,
    /// The runtime whose wording this is.
    pub runtime: Runtime,
    /// The image reference as the message names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Registry host with port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Repository path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Tag or digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The URL that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP status the message reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Registry error code (`MANIFEST_UNKNOWN`, `DENIED`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The host whose certificate failed (may be the token server, not the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_host: Option<String>,
    /// Names the certificate is valid for, when the message lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_names: Vec<String>,
    /// The platform asked for, when the message names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The event or waiting reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One sentence: what the message means.
    pub meaning: String,
    /// One sentence: what to check next.
    pub next_step: String,
    /// The raw message.
    pub message: String,
}

/// Classifies one reason + message.
pub fn classify(reason: Option<&str>, message: &str) -> Symptom {
    Symptom {
        cause: Cause::Unknown,
        family: Family::Other,
        runtime: Runtime::Unknown,
        image: None,
        registry: None,
        repository: None,
        reference: None,
        url: None,
        status: None,
        error_code: None,
        cert_host: None,
        cert_names: Vec::new(),
        platform: None,
        reason: reason.map(str::to_string),
        meaning: String::new(),
        next_step: String::new(),
        message: message.to_string(),
    }
}
