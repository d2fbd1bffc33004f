//! Fuzzes the event classifier with an event reason (first line, may be empty) and a message.
//!
//! Event messages come from kubelet and three runtimes, often truncated or wrapped; whatever
//! they hold, classification must end in a `Symptom`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (reason, message) = match text.split_once('\n') {
        Some(("", m)) => (None, m),
        Some((r, m)) => (Some(r), m),
        None => (None, text),
    };
    let _ = pulldoctor::classify::classify(reason, message);
});
