//! pulldoctor's integration tests: one binary, real servers from `support/`.

mod classify_corpus;
mod support;
