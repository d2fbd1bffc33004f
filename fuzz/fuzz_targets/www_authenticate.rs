//! Fuzzes the `WWW-Authenticate` challenge parser: one header per line of input.
//!
//! The header comes from whatever server answers on the registry's port.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::registry::challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for c in challenge::parse(text) {
        let _ = (c.realm(), c.param("service"), c.param("scope"));
    }
    let _ = challenge::parse_all(text.lines());
});
