//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod classify_corpus;
mod cli;
mod commands_image;
mod commands_scan;
mod credentials_authfile;
mod credentials_kubectl;
mod hostile;
mod kube_api;
mod pod_scenarios;
mod probe_auth;
mod probe_common;
mod probe_content;
mod probe_faults;
mod probe_scripted;
mod probe_tls;
mod registry_bench;
mod scenario;
mod support;
mod verdict_evidence;
