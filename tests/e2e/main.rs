//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod credentials_authfile;
mod credentials_kubectl;
mod kube_api;
mod registry_bench;
mod support;
