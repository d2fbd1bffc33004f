//! Fuzzes the snapshot reader (`kubectl get … -o yaml|json` output given with `--snapshot`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pulldoctor::scene::snapshot::SnapshotSource;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = SnapshotSource::parse(Path::new("fuzz.yaml"), text);
});
