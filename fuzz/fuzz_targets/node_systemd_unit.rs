//! Fuzzes the systemd unit / drop-in and EnvironmentFile readers, Go's NO_PROXY rules and the
//! route the probe takes from them (`--node-root`): an error names the file, never a panic,
//! and a proxy password never survives masking.
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
    match proxy::parse_env_file(text, "/etc/default/containerd") {
        Err(e) => assert_eq!(e.path, "/etc/default/containerd"),
        Ok(vars) => {
            let (route, bad) = pulldoctor::node::route::route(&vars);
            let u = url::Url::parse("https://registry.example.com/v2/").unwrap();
            let _ = route.proxy_for(&u);
            let _ = pulldoctor::node::route::bad_for(&bad, &route, &u);
        }
    }
    let masked = proxy::mask(&format!("http://user:fuzzsecret@{text}"));
    // The password's place is masked whatever follows it (the text may spell the word too).
    assert!(masked.starts_with("http://user:***"), "{masked}");
    let _ = proxy::bypass(text, "registry.example.com", 443);
    let _ = proxy::parse_proxy(text);
});
