//! The registry side: reference parsing, the challenge parser, the client and the probe.
//!
//! Written on reqwest rather than a higher-level client because the diagnosis needs every
//! status, header and TLS error (see the distribution spec:
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md>).

pub mod reference;

pub use reference::{ImageRef, ReferenceError};
