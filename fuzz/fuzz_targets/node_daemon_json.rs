//! Fuzzes the Docker `daemon.json` reader (`--node-root`): an error names the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = "/etc/docker/daemon.json";
    match pulldoctor::node::docker::parse_daemon_json(text, path) {
        Err(e) => assert_eq!(e.path, path),
        Ok(cfg) => {
            let _ = pulldoctor::node::docker::insecure_entry(&cfg, "reg.test:5000", &[]);
        }
    }
});
