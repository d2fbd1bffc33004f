//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod probe_auth;
mod probe_common;
mod probe_content;
mod probe_faults;
mod probe_scripted;
mod probe_tls;
mod registry_bench;
mod support;
