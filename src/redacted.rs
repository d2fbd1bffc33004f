//! Secret values as a type: passwords, `auth` strings and tokens that can never be printed.
//!
//! Debug and Display print `(redacted)`, and the type has no `Serialize`, so a secret can only
//! leave through [`Redacted::expose`], which the registry client calls when it builds a request
//! header. Modelled on xh's `src/redacted.rs`. Making one also remembers the value in
//! `crate::scrub`, so a registry or cluster that echoes it back cannot get it shown either.

use std::fmt;

/// A secret string. Compare and use it; never print it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted(String);

impl Redacted {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::scrub::remember(&value);
        Redacted(value)
    }

    /// The secret itself, for building an `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl From<String> for Redacted {
    fn from(value: String) -> Self {
        Redacted::new(value)
    }
}

impl From<&str> for Redacted {
    fn from(value: &str) -> Self {
        Redacted::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Redacted;

    #[test]
    fn never_prints_the_value() {
        let secret = Redacted::new("hunter2-marker");
        assert_eq!(format!("{secret}"), "(redacted)");
        assert_eq!(format!("{secret:?}"), "(redacted)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some((redacted))");
        assert_eq!(secret.expose(), "hunter2-marker");
    }
}
