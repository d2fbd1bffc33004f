//! Fuzzes the image reference parser; a reference it accepts must print to one it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::registry::ImageRef;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = ImageRef::parse(text) {
        let shown = r.to_string();
        assert!(
            ImageRef::parse(&shown).is_ok(),
            "{text:?} parsed, but its display {shown:?} does not"
        );
    }
});
