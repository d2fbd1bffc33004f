//! Fuzzes the containerd `config.toml` reader (`--node-root`): an error names the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = "/etc/containerd/config.toml";
    if let Err(e) = pulldoctor::node::containerd::parse_config(text, path) {
        assert_eq!(e.path, path);
    }
});
