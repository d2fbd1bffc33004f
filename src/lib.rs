//! pulldoctor: why can't this image be pulled, and what exactly do I change?
//!
//! The pipeline: **gather** a pod's scene (pod, events, pull secrets, service account, node,
//! owners) from a live cluster or a snapshot; **classify** each pull failure's text into a cause
//! from the taxonomy; work out which **credentials** kubelet would use, exactly as its keyring
//! does; find what the node would **trust** for the registry; **probe** the registry the way the
//! node would (`/v2/`, challenge, token, tags, manifest, platforms), with contrast probes where
//! they decide the case; **diagnose** the evidence into one verdict per image with a confidence;
//! derive a pasteable **fix**; and **render** one `Report` as a table, JSON or text. Gathering,
//! trust and probing do I/O; classification, credentials, diagnosis and fixes are pure.

pub mod app;
pub mod authfile;
pub mod classify;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod diagnose;
pub mod error;
pub mod limits;
pub mod node;
pub mod redacted;
pub mod reference;
pub mod registry;
pub mod report;
pub mod scene;
pub mod scrub;
pub mod taxonomy;
pub mod trust;

pub use error::{Error, Result};
