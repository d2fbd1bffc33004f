//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod support;
mod kube_api;
