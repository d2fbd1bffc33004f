//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod registry_bench;
mod support;
