//! Files that never end or are too big: `/dev/zero` named as a snapshot, kubeconfig, authfile
//! or CA file, and large snapshots read item by item.
//!
//! kubectl and Docker read their config files whole; named by mistake (or by a hostile
//! wrapper), `/dev/zero` grows without bound. pulldoctor caps each kind of file and says which
//! file and which cap; each test asserts the exit, the message and the child's peak RSS.

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Exit 2 naming `/dev/zero`, quickly and in little memory.
fn assert_refused(r: &Run, what: &str, needle: &str) {
    println!(
        "/dev/zero as {what}: exit {:?} in {:?}, peak RSS {} KiB: {}",
        r.code,
        r.wall,
        r.peak_kib,
        r.stderr.trim()
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("/dev/zero"), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    assert!(r.wall < HANG, "took {:?}", r.wall);
    assert!(r.peak_kib > 0, "VmHWM was never read");
    assert!(r.peak_kib < 64 * 1024, "peak RSS {} KiB", r.peak_kib);
}

#[test]
fn hostile_dev_zero_as_a_snapshot() {
    let r = run_args(
        marker("zero-snap"),
        &args(&["pod", "web", "--no-probe", "--snapshot", "/dev/zero"]),
    );
    assert_refused(&r, "--snapshot", "NUL byte");
}

#[test]
fn hostile_dev_zero_as_a_kubeconfig() {
    let r = run_args(
        marker("zero-kc"),
        &args(&["pod", "web", "--no-probe", "--kubeconfig", "/dev/zero"]),
    );
    assert_refused(
        &r,
        "--kubeconfig",
        "larger than 8 MiB, the cap for a kubeconfig",
    );
}

#[test]
fn hostile_dev_zero_as_an_authfile() {
    let r = run_args(
        marker("zero-auth"),
        &args(&["image", "127.0.0.1:1/app:1", "--authfile", "/dev/zero"]),
    );
    assert_refused(
        &r,
        "--authfile",
        "larger than 4 MiB, the cap for an authfile",
    );
}

#[test]
fn hostile_dev_zero_as_a_ca_file_in_a_cert_dir() {
    // A Docker cert dir whose `ca.crt` is a link to /dev/zero (`--ca-file` itself must be a
    // regular file; a directory's entries are followed).
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("ca.crt")).unwrap();
    let r = run_args(
        marker("zero-ca"),
        &args(&[
            "image",
            &format!("127.0.0.1:{}/app:1", crate::support::refused_port()),
            "--cert-dir",
            dir.path().to_str().unwrap(),
        ]),
    );
    let all = format!("{}{}", r.stdout, r.stderr);
    println!(
        "/dev/zero as a cert dir's ca.crt: exit {:?} in {:?}, peak RSS {} KiB",
        r.code, r.wall, r.peak_kib
    );
    assert!(r.wall < HANG, "took {:?}", r.wall);
    assert!(
        r.peak_kib > 0 && r.peak_kib < 64 * 1024,
        "peak RSS {} KiB",
        r.peak_kib
    );
    assert!(
        all.contains("larger than 4 MiB, the cap for a PEM file"),
        "{all}"
    );
}
