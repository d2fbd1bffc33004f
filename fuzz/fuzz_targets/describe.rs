//! Fuzz target: `symptoms_from_text` must return on any pasted text, and never report more
//! symptoms than the text has lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::classify::symptoms_from_text;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let symptoms = symptoms_from_text(&text);
    assert!(symptoms.len() <= text.lines().count());
});
