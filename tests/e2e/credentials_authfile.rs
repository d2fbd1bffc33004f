//! `pulldoctor image --authfile`: real config files on disk and real `docker-credential-*`
//! helper programs (shell scripts written per test), run the way docker runs them.

use pulldoctor::authfile::{self, Helpers};
use pulldoctor::credentials::FindingId;
use pulldoctor::reference::ImageRef;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const HELPER_SECRET: &str = "hlp-7Qz-marker-secret";

/// Writes an executable `docker-credential-<name>` into `dir`.
fn helper(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn write_config(dir: &Path, json: &str) -> PathBuf {
    let path = dir.join("config.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn helpers(dir: &Path) -> Helpers {
    Helpers {
        search_path: Some(dir.as_os_str().to_owned()),
        timeout: Duration::from_secs(5),
    }
}

fn image(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

#[tokio::test]
async fn cred_helper_gets_the_server_on_stdin_and_its_answer_is_used() {
    let dir = TempDir::new().unwrap();
    let seen = dir.path().join("seen");
    helper(
        dir.path(),
        "shop",
        &format!(
            "[ \"$1\" = get ] || exit 3\ncat > '{}'\nprintf '{{\"ServerURL\":\"reg.shop.test:5000\",\"Username\":\"robot\",\"Secret\":\"{HELPER_SECRET}\"}}'",
            seen.display()
        ),
    );
    let cfg = write_config(
        dir.path(),
        r#"{"auths":{"reg.shop.test:5000":{}},"credHelpers":{"reg.shop.test:5000":"shop"},"credsStore":"nothere"}"#,
    );
    let file = authfile::load(Some(&cfg)).unwrap().unwrap();
    let creds = authfile::credentials_for(
        &file,
        &image("reg.shop.test:5000/app:1"),
        &helpers(dir.path()),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "reg.shop.test:5000"
    );
    assert_eq!(creds.tries.len(), 1);
    assert_eq!(creds.tries[0].username, "robot");
    assert_eq!(creds.tries[0].password.expose(), HELPER_SECRET);
    assert!(creds.tries[0].source.contains("docker-credential-shop"));
    assert!(!creds.anonymous);
    let shown = format!("{creds:?} {}", serde_json::to_string(&creds).unwrap());
    assert!(!shown.contains(HELPER_SECRET), "{shown}");
}

#[tokio::test]
async fn creds_store_is_asked_with_docker_hubs_server_name() {
    let dir = TempDir::new().unwrap();
    let seen = dir.path().join("seen");
    helper(
        dir.path(),
        "desktop",
        &format!(
            "cat > '{}'\nprintf '{{\"Username\":\"hubber\",\"Secret\":\"{HELPER_SECRET}\"}}'",
            seen.display()
        ),
    );
    let cfg = write_config(
        dir.path(),
        r#"{"auths":{"https://index.docker.io/v1/":{}},"credsStore":"desktop"}"#,
    );
    let file = authfile::load(Some(&cfg)).unwrap().unwrap();
    let creds =
        authfile::credentials_for(&file, &image("acme/private:2"), &helpers(dir.path())).await;
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "https://index.docker.io/v1/"
    );
    assert_eq!(creds.tries[0].username, "hubber");
    assert!(creds.findings.is_empty(), "{:?}", creds.findings);
}

#[tokio::test]
async fn helper_without_credentials_falls_back_to_the_files_entries() {
    let dir = TempDir::new().unwrap();
    helper(
        dir.path(),
        "empty",
        "echo 'credentials not found in native keychain'\nexit 1",
    );
    let cfg = write_config(
        dir.path(),
        r#"{"auths":{"reg.shop.test":{"auth":"ZmlsZXVzZXI6ZmlsZXB3"}},"credsStore":"empty"}"#,
    );
    let file = authfile::load(Some(&cfg)).unwrap().unwrap();
    let creds =
        authfile::credentials_for(&file, &image("reg.shop.test/app"), &helpers(dir.path())).await;
    assert_eq!(creds.tries[0].username, "fileuser");
    assert_eq!(creds.tries[0].password.expose(), "filepw");
    assert!(
        creds
            .findings
            .iter()
            .any(|f| f.id == FindingId::CredentialHelperFailed)
    );
}

#[tokio::test]
async fn a_hanging_helper_is_killed_and_reported() {
    let dir = TempDir::new().unwrap();
    helper(dir.path(), "hang", "exec sleep 60");
    let cfg = write_config(dir.path(), r#"{"auths":{},"credsStore":"hang"}"#);
    let file = authfile::load(Some(&cfg)).unwrap().unwrap();
    let quick = Helpers {
        timeout: Duration::from_millis(300),
        ..helpers(dir.path())
    };
    let creds = authfile::credentials_for(&file, &image("reg.shop.test/app"), &quick).await;
    assert!(creds.anonymous);
    let f = creds
        .findings
        .iter()
        .find(|f| f.id == FindingId::CredentialHelperFailed)
        .unwrap();
    assert!(f.message.contains("killed"), "{}", f.message);
}

#[tokio::test]
async fn a_missing_or_failing_helper_is_a_finding() {
    let dir = TempDir::new().unwrap();
    helper(
        dir.path(),
        "broken",
        &format!("echo '{HELPER_SECRET}'\nexit 2"),
    );
    for store in ["absent", "broken"] {
        let cfg = write_config(dir.path(), &format!(r#"{{"credsStore":"{store}"}}"#));
        let file = authfile::load(Some(&cfg)).unwrap().unwrap();
        let creds =
            authfile::credentials_for(&file, &image("reg.shop.test/app"), &helpers(dir.path()))
                .await;
        let f = creds
            .findings
            .iter()
            .find(|f| f.id == FindingId::CredentialHelperFailed)
            .unwrap();
        assert!(!f.message.contains(HELPER_SECRET), "{}", f.message);
        assert!(creds.anonymous);
    }
}

#[tokio::test]
async fn file_entries_follow_kubelets_rules() {
    let dir = TempDir::new().unwrap();
    // The port is part of the key: no entry matches reg.shop.test:5000.
    let cfg = write_config(
        dir.path(),
        r#"{"auths":{"https://reg.shop.test/v2/":{"username":"u","password":"p"}}}"#,
    );
    let file = authfile::load(Some(&cfg)).unwrap().unwrap();
    let creds = authfile::credentials_for(
        &file,
        &image("reg.shop.test:5000/app"),
        &helpers(dir.path()),
    )
    .await;
    assert!(creds.anonymous);
    assert_eq!(creds.findings[0].id, FindingId::KeyPortMismatch);
    let creds =
        authfile::credentials_for(&file, &image("reg.shop.test/app"), &helpers(dir.path())).await;
    assert_eq!(creds.tries[0].key, "https://reg.shop.test/v2/");
}

#[test]
fn unreadable_and_unparsable_files() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.json");
    assert!(matches!(
        authfile::load(Some(&missing)),
        Err(pulldoctor::Error::ReadFile { .. })
    ));
    let bad = write_config(dir.path(), "{\"auths\": {\"reg\": ");
    let file = authfile::load(Some(&bad)).unwrap().unwrap();
    assert_eq!(file.config.findings[0].id, FindingId::UnparsableJson);
    assert!(file.config.findings[0].message.contains("line 1"));
}
