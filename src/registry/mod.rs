//! The registry side: the challenge parser, the client and the probe.
//!
//! Written on reqwest rather than a higher-level client because the diagnosis needs every
//! status, header and TLS error (see the distribution spec:
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md>).
//!
//! The entry point is [`probe()`]: build a [`ProbeRequest`] with [`ProbeRequest::new`] (image,
//! node platform), set `credentials` in kubelet's order, `trust` from
//! [`crate::trust::Trust::resolve`], and the flags; the [`ProbeReport`] it returns holds every
//! step, the contrasts and the proven cause (`outcome.cause == None`: pullable). It never fails.

pub mod auth;
pub mod challenge;
pub mod client;
pub mod contrast;
pub mod dialect;
pub mod dns;
pub mod documents;
pub mod ecr_token;
pub mod error_body;
pub mod first_request;
pub mod insecure;
pub mod listing;
pub mod login_check;
pub mod manifest;
pub mod model;
pub mod platform;
pub mod policy_answer;
pub mod probe;
pub mod quota;
pub mod reading;
pub mod session;
pub mod tags;
pub mod tls_error;
pub mod verifier;

pub use crate::reference::{ImageRef, ReferenceError};
pub use insecure::{InsecureHosts, InsecureTransport, NamedHost};
pub use model::{
    Auth, Contrast, ProbeOutcome, ProbeReport, ProbeRequest, Puller, RateLimit, SkippedContrast,
    Step, StepName, StepOutcome,
};
pub use platform::Platform;
pub use probe::probe;
pub use tls_error::{Failure, classify_dyn};
