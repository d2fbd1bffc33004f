//! Fuzzes the `/etc/hosts` and `/etc/resolv.conf` readers (`--node-root`): an error names the
//! file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::node::etc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match etc::parse_hosts(text, etc::HOSTS) {
        Err(e) => assert_eq!(e.path, etc::HOSTS),
        Ok(entries) => {
            let _ = etc::lookup(&entries, "registry.example.com");
        }
    }
    if let Err(e) = etc::parse_resolv(text, etc::RESOLV_CONF) {
        assert_eq!(e.path, etc::RESOLV_CONF);
    }
});
