//! Fuzz target: `classify` must return (never panic, never hang) on any bytes, read the way
//! callers read them (lossy UTF-8), with the first line as the reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::classify::classify;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (reason, message) = text.split_once('\n').unwrap_or(("", &text));
    let reason = (!reason.is_empty()).then_some(reason);
    let symptom = classify(reason, message);
    assert_eq!(symptom.family, symptom.cause.family());
});
