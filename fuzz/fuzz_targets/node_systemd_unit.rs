//! Fuzzes the systemd unit / drop-in and EnvironmentFile readers and Go's NO_PROXY rules
//! (`--node-root`): an error names the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::node::proxy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
    if let Err(e) = proxy::parse_unit(text, path) {
        assert_eq!(e.path, path);
    }
    if let Err(e) = proxy::parse_env_file(text, "/etc/default/containerd") {
        assert_eq!(e.path, "/etc/default/containerd");
    }
    let _ = proxy::bypass(text, "registry.example.com", 443);
    let _ = proxy::parse_proxy(text);
});
