//! Fuzzes the containerd `hosts.toml` reader used on copies of a node's certs.d tree.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = Path::new("/nonexistent/certs.d/reg.test:5000");
    let _ = pulldoctor::trust::certsd::parse_hosts_toml(text, dir, "reg.test:5000");
});
