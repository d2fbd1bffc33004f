//! Keyring tests: normalisation, `URLsMatch`, order, Docker Hub, and near-miss explanations.

use super::*;

fn img(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

fn matches(key: &str, image: &str) -> bool {
    key_covers(key, &img(image))
}

#[test]
fn keys_normalise_like_kubelet_add() {
    let cases = [
        ("reg.test", "reg.test"),
        ("https://reg.test", "reg.test"),
        ("http://reg.test/", "reg.test"),
        ("https://reg.test/v2/", "reg.test"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("reg.test/v1/team", "reg.test/team"),
        ("reg.test/v2", "reg.test/v2"),
        ("reg.test:443", "reg.test:443"),
        ("Reg.Test:5000/Team", "Reg.Test:5000/Team"),
        ("reg.test?x=1#y", "reg.test"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalise_key(raw).as_deref(), Ok(want), "{raw}");
    }
    assert!(normalise_key("reg.test:port").is_err());
    assert!(normalise_key("reg test").is_err());
}

#[test]
fn ports_are_compared_as_strings() {
    assert!(matches("reg.test:5000", "reg.test:5000/app:1"));
    assert!(!matches("reg.test", "reg.test:5000/app"));
    assert!(!matches("reg.test:443", "reg.test/app"));
    assert!(!matches("reg.test:5000", "reg.test/app"));
    assert!(matches("https://reg.test:5000/v2/", "reg.test:5000/app"));
}

#[test]
fn host_labels_glob_one_label_each() {
    assert!(matches("*.example.test", "a.example.test/app"));
    assert!(!matches("*.example.test", "example.test/app"));
    assert!(!matches("*.example.test", "a.b.example.test/app"));
    assert!(matches("reg-[0-9].example.test", "reg-1.example.test/app"));
    // `?` starts the URL query when kubelet parses the key, so it never globs.
    assert_eq!(normalise_key("reg-?.example.test").as_deref(), Ok("reg-"));
    assert!(!matches("reg-?.example.test", "reg-1.example.test/app"));
    assert!(matches("*.*.example.test", "a.b.example.test/app"));
    assert!(!matches("Reg.example.test", "reg.example.test/app"));
}

#[test]
fn key_path_is_a_plain_string_prefix() {
    assert!(matches("reg.test/team", "reg.test/team/app"));
    assert!(matches("reg.test/team", "reg.test/team-b/app"));
    assert!(!matches("reg.test/team-b", "reg.test/team/app"));
    assert!(matches("https://reg.test/v2/team", "reg.test/team/app"));
}

#[test]
fn docker_hub_keys() {
    // docker.io matches directly; index.docker.io only through the fallback.
    assert!(matches("docker.io", "nginx"));
    assert!(matches("https://index.docker.io/v1/", "nginx"));
    assert!(matches("index.docker.io", "library/nginx:1.27"));
    assert!(matches(
        "https://index.docker.io/v1/",
        "index.docker.io/team/app"
    ));
    assert!(!matches("registry-1.docker.io", "nginx"));
    assert!(!matches("https://registry-1.docker.io/v2/", "team/app"));
    assert!(!matches("https://index.docker.io/v1", "nginx"));
    // The fallback is for Docker Hub images only.
    assert!(!matches("https://index.docker.io/v1/", "reg.test/nginx"));
    assert!(is_default_registry_match("docker.io/library/nginx"));
    assert!(is_default_registry_match("localhost/app"));
    assert!(!is_default_registry_match("localhost:5000/app"));
}

#[test]
fn lookup_order_is_reverse_sorted_keys_then_insertion() {
    let mut ring = Keyring::default();
    ring.add("reg.test", "s1-host").unwrap();
    ring.add("reg.test/team", "s1-team").unwrap();
    ring.add("https://reg.test", "s2-host").unwrap();
    ring.add("*.test", "s2-glob").unwrap();
    ring.add("other.test", "s2-other").unwrap();
    let found = ring.lookup("reg.test/team/app");
    let order: Vec<&str> = found.items.iter().map(|(_, v)| *v).collect();
    // "reg.test/team" > "reg.test" > "*.test" in byte order, reversed.
    assert_eq!(order, vec!["s1-team", "s1-host", "s2-host", "s2-glob"]);
    assert!(!found.docker_hub_fallback);
}

#[test]
fn hub_fallback_only_when_nothing_else_matched() {
    let mut ring = Keyring::default();
    ring.add("https://index.docker.io/v1/", "hub").unwrap();
    let found = ring.lookup("docker.io/library/nginx");
    assert!(found.docker_hub_fallback);
    assert_eq!(found.items[0].1, "hub");
    ring.add("docker.io", "direct").unwrap();
    let found = ring.lookup("docker.io/library/nginx");
    assert!(!found.docker_hub_fallback);
    assert_eq!(
        found.items.iter().map(|i| i.1).collect::<Vec<_>>(),
        vec!["direct"]
    );
}

#[test]
fn misses_name_what_differs() {
    let m = explain_miss("reg.test", &img("reg.test:5000/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyPortMismatch);
    assert!(
        m.detail.contains("no port") && m.detail.contains("5000"),
        "{}",
        m.detail
    );

    let m = explain_miss("reg.test:443", &img("reg.test/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyPortMismatch);

    let m = explain_miss("reg.test/team-a", &img("reg.test/team-b/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyPathMismatch);
    assert!(m.detail.contains("/team-a") && m.detail.contains("/team-b/app"));

    let m = explain_miss("https://reg.test/v2", &img("reg.test/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyPathMismatch);
    assert!(m.detail.contains("trailing slash"), "{}", m.detail);

    let m = explain_miss("https://registry-1.docker.io/v2/", &img("acme/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyDockerHubApiHost);

    let m = explain_miss("https://index.docker.io/v1", &img("acme/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyPathMismatch);

    let m = explain_miss("oci://reg.test", &img("reg.test/app")).unwrap();
    assert_eq!(m.id, FindingId::KeySchemeUnsupported);
    assert_eq!(m.rank, 0);
    assert!(m.detail.contains("written as \"reg.test\""), "{}", m.detail);

    let m = explain_miss("HTTPS://reg.test", &img("reg.test/app")).unwrap();
    assert_eq!(m.id, FindingId::KeySchemeUnsupported);

    let m = explain_miss("Reg.Test", &img("reg.test/app")).unwrap();
    assert_eq!(m.id, FindingId::KeyHostMismatch);
    assert!(m.detail.contains("case-sensitively"));

    let m = explain_miss("*.example.test", &img("example.test/app")).unwrap();
    assert!(m.detail.contains("exactly one label"), "{}", m.detail);

    assert_eq!(explain_miss("reg.test", &img("reg.test/app")), None);
    assert_eq!(explain_miss("reg.test:bad", &img("reg.test/app")), None);
}

#[test]
fn closer_hosts_rank_lower() {
    let image = img("registry.shop.test/app");
    let near = explain_miss("registry.shop.tst", &image).unwrap();
    let far = explain_miss("quay.io", &image).unwrap();
    assert!(near.rank < far.rank);
    let port = explain_miss("registry.shop.test:5000", &image).unwrap();
    assert!(port.rank < near.rank);
}

#[test]
fn malformed_glob_never_matches() {
    assert!(!matches("reg[.test", "reg.test/app"));
    assert_eq!(urls_match("a[.test", "ab.test/app"), Err(BadPattern));
}

#[test]
fn the_suggested_key_always_matches_its_image() {
    for image in [
        "nginx",
        "acme/app:1",
        "index.docker.io/acme/app",
        "reg.test/app",
        "reg.test:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "localhost/app",
        "localhost:5000/app",
        "[::1]:5000/app",
        "Reg.Test/app",
    ] {
        let Ok(image) = ImageRef::parse(image) else {
            continue;
        };
        let key = key_for(&image);
        assert!(key_covers(&key, &image), "{key} for {}", image.original);
    }
    assert_eq!(key_for(&img("reg.test:5000/app")), "reg.test:5000");
    assert_eq!(key_for(&img("localhost/app")), "localhost");
}
