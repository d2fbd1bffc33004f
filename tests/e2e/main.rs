//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod kube_api;
mod registry_bench;
mod support;
