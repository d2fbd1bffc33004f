//! Fuzzes the containers `registries.conf` reader and its short-name and prefix rules
//! (`--node-root`): an error names the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::node::registries_conf::{RegistriesConf, candidates, endpoints, parse_into};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = "/etc/containers/registries.conf";
    let mut conf = RegistriesConf::default();
    match parse_into(&mut conf, text, path) {
        Err(e) => assert_eq!(e.path, path),
        Ok(()) => {
            let mut f = Vec::new();
            for raw in ["app:1", "example.com/foo/app:1", "reg.test:5000/a/b@sha256:00"] {
                for c in candidates(&conf, raw, &mut f) {
                    let _ = endpoints(&conf, &c, c.contains('@'), &mut f);
                }
            }
        }
    }
});
