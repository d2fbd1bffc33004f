//! Fuzzes the docker config decoder in both secret formats (`.dockerconfigjson`, `.dockercfg`).
//!
//! Pull secrets are written by hand and by tools; kubelet's keyring reads them as bytes, and so
//! must the decoder: every body ends in findings, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::credentials::{Format, dockerconfig};

fuzz_target!(|data: &[u8]| {
    let _ = dockerconfig::decode(data, Format::ConfigJson, "fuzz/regcred");
    let _ = dockerconfig::decode(data, Format::Dockercfg, "fuzz/legacy");
});
