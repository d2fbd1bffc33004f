//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod classify_corpus;
mod classify_wording;
mod cli;
mod commands_image;
mod commands_scan;
mod credentials_authfile;
mod credentials_kubectl;
mod docs_links;
mod hostile;
mod image_ci_words;
mod insecure_hosts;
mod kube_api;
mod namespaces;
mod pod_scenarios;
mod probe_auth;
mod probe_common;
mod probe_content;
mod probe_faults;
mod probe_scripted;
mod probe_tls;
mod registry_bench;
mod scan_stories;
mod scenario;
mod suggested_commands;
mod support;
mod verdict_evidence;
