//! Fuzzes the `kubectl describe` / `kubectl get events` text reader behind `pulldoctor explain`.
//!
//! Users paste whatever their terminal shows: wrapped tables, partial output, other tools' logs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pulldoctor::classify::symptoms_from_text(text);
});
