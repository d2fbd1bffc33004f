//! Errors that stop pulldoctor from running at all (exit code 2).
//!
//! Everything wrong with the *cluster* or the *registry* is a finding, not an error; these are
//! for pulldoctor's own inability to run: bad arguments, unreadable files, no API server. One
//! enum, each variant saying what the user should look at, as kube-rs does in `error.rs`.

use std::path::PathBuf;
use thiserror::Error;

/// Why pulldoctor could not run.
#[derive(Debug, Error)]
pub enum Error {
    /// A command-line value that parses but makes no sense.
    #[error("invalid argument: {0}")]
    Usage(String),
    /// A file named on the command line could not be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Stdin(#[source] std::io::Error),
    /// A snapshot, authfile or certificate file whose content is unusable.
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// The kubeconfig could not be loaded or names no usable cluster.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The API server could not be reached or answered in a way that stops the run.
    #[error("API server: {0}")]
    Api(String),
    /// The pod asked for does not exist.
    #[error("pod {namespace}/{name} not found")]
    PodNotFound { namespace: String, name: String },
    /// Building the TLS or HTTP client failed (a bad CA or client key).
    #[error("TLS setup: {0}")]
    Tls(String),
    /// Writing the report failed (a closed pipe is not reported).
    #[error("cannot write output: {0}")]
    Output(#[source] std::io::Error),
}

/// Result with pulldoctor's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
