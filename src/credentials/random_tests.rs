//! Seeded random docker configs, valid and broken: decoding and matching never panic, and
//! every answer keeps kubelet's invariants (no credentials and no anonymous pull when the
//! keyring is broken; anonymous exactly when nothing matched; findings are one line).

use super::dockerconfig::{self, Format};
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KEYS: &[&str] = &[
    "reg.test",
    "reg.test:5000",
    "https://reg.test/v2/",
    "http://reg.test:5000/v1/team",
    "*.test",
    "reg.test/team",
    "https://index.docker.io/v1/",
    "registry-1.docker.io",
    "docker.io",
    "oci://reg.test",
    "reg.test:bad",
    "[::1]:5000",
    "localhost:5000",
    "Reg.Test",
    "reg-?.test",
    "a[.test",
    "",
    "auths",
];

const IMAGES: &[&str] = &[
    "nginx",
    "acme/app:1",
    "reg.test/app",
    "reg.test:5000/team/app",
    "reg.test/team-b/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "localhost:5000/app",
    "a.test/x",
];

/// Values kubelet accepts in an entry field (for `auth`, some decode with a newline).
const FIELDS: &[&str] = &[
    "\"u\"",
    "\"\"",
    "null",
    "\"dXNlcjpwYXNz\"",
    "\"dXNlcjpwYXNzCg==\"",
    "\"a\\nb\"",
];
/// Values that break the keyring in some field: wrong types, bad `auth`.
const BAD_FIELDS: &[&str] = &["1", "[]", "{}", "\"bm9jb2xvbg==\"", "\"u:p\""];

fn field(rng: &mut StdRng) -> &'static str {
    if rng.gen_bool(0.04) {
        BAD_FIELDS[rng.gen_range(0..BAD_FIELDS.len())]
    } else {
        FIELDS[rng.gen_range(0..FIELDS.len())]
    }
}

fn random_entry(rng: &mut StdRng) -> String {
    let names = [
        "username",
        "password",
        "auth",
        "email",
        "identitytoken",
        "Auth",
        "x",
    ];
    let n = rng.gen_range(0..4);
    let fields: Vec<String> = (0..n)
        .map(|_| {
            let name = names[rng.gen_range(0..names.len())];
            let value = field(rng);
            format!("\"{name}\":{value}")
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn random_config(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..5);
    let entries: Vec<String> = (0..n)
        .map(|_| {
            let key = KEYS[rng.gen_range(0..KEYS.len())];
            let entry = if rng.gen_bool(0.03) {
                field(rng).to_string()
            } else {
                random_entry(rng)
            };
            format!("{}:{entry}", serde_json::to_string(key).unwrap())
        })
        .collect();
    let map = format!("{{{}}}", entries.join(","));
    match rng.gen_range(0..4) {
        0 => map,
        1 => format!("{{\"auths\":{map},\"credsStore\":\"desktop\"}}"),
        _ => format!("{{\"auths\":{map}}}"),
    }
}

fn mangle(rng: &mut StdRng, body: &str) -> Vec<u8> {
    let mut bytes = body.as_bytes().to_vec();
    for _ in 0..rng.gen_range(0..3) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.gen_range(0..bytes.len());
        match rng.gen_range(0..3) {
            0 => bytes.truncate(i),
            1 => bytes[i] = rng.r#gen(),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

fn check_invariants(c: &ImageCredentials) {
    if c.blocking().is_some() {
        assert!(c.tries.is_empty() && !c.anonymous, "{c:?}");
    } else {
        assert_eq!(c.anonymous, c.tries.is_empty(), "{c:?}");
    }
    for f in &c.findings {
        assert!(!f.message.contains('\n'), "multi-line finding: {f:?}");
        assert!(f.message.len() < 1200, "overlong finding: {f:?}");
    }
    let sorted = c
        .findings
        .windows(2)
        .all(|w| w[0].severity >= w[1].severity);
    assert!(sorted, "{:?}", c.findings);
}

#[test]
fn random_configs_keep_kubelets_invariants() {
    let mut rng = StdRng::seed_from_u64(0x5eed_cafe);
    let images: Vec<ImageRef> = IMAGES.iter().map(|i| ImageRef::parse(i).unwrap()).collect();
    let (mut tried, mut anonymous, mut blocked) = (0, 0, 0);
    for round in 0..3000 {
        let body = random_config(&mut rng);
        let bytes = if round % 3 == 0 {
            mangle(&mut rng, &body)
        } else {
            body.into_bytes()
        };
        let format = if rng.gen_bool(0.5) {
            Format::ConfigJson
        } else {
            Format::Dockercfg
        };
        let cfg = dockerconfig::decode(&bytes, format, "fuzz");
        for image in &images {
            let c = for_image_from_config(&cfg, "fuzz", image);
            check_invariants(&c);
            tried += usize::from(!c.tries.is_empty());
            anonymous += usize::from(c.anonymous);
            blocked += usize::from(c.blocking().is_some());
            for t in &c.tries {
                assert!(cfg.entries.iter().any(|e| e.key == t.key), "{t:?}");
            }
        }
    }
    // The generator must reach all three outcomes, or the invariants above prove little.
    assert!(
        tried > 500 && anonymous > 1000 && blocked > 500,
        "{tried} {anonymous} {blocked}"
    );
}
