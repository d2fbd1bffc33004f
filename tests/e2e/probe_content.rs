//! The probe tells a missing tag from a missing repository (only `tags/list` says
//! NAME_UNKNOWN on docker-registry 2.8) and checks an index's platforms against the node's.

use pulldoctor::registry::{Platform, StepName};
use pulldoctor::taxonomy::Cause;

use crate::probe_common::*;
use crate::support::{Auth, Tls};

#[tokio::test]
async fn probe_tag_missing_versus_repository_missing() {
    let reg = seeded(Tls::Valid, Auth::None);
    let mut req = request(&reg.host, "app:9.9");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::NotFoundTag));
    for t in ["1.0", "1.1", "2.0"] {
        assert!(report.tags.contains(&t.to_string()), "{:?}", report.tags);
    }
    let get = report
        .steps
        .iter()
        .find(|s| s.name == StepName::ManifestGet)
        .unwrap();
    assert_eq!(get.error_code.as_deref(), Some("MANIFEST_UNKNOWN"));

    let mut req = request(&reg.host, "nosuchrepo:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::NotFoundRepo));
    let tags = report
        .steps
        .iter()
        .find(|s| s.name == StepName::Tags)
        .unwrap();
    assert_eq!(tags.error_code.as_deref(), Some("NAME_UNKNOWN"));
}

#[tokio::test]
async fn probe_platform_missing_for_the_node_and_present_for_another() {
    let reg = seeded(Tls::Valid, Auth::None);
    // arm64-only image, amd64 node.
    let mut req = request(&reg.host, "armonly:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::PlatformMismatch));
    assert_eq!(
        report.platforms,
        [Platform::parse("linux/arm64/v8").unwrap()]
    );
    assert!(report.outcome.detail.contains("linux/amd64"));

    // The same image on an arm64 node, and the Docker manifest list on amd64.
    let mut req = request(&reg.host, "armonly:1.0");
    req.trust = ca_trust(&reg);
    req.platform = Platform::parse("linux/arm64").unwrap();
    assert_cause(&run(&req).await, None);
    let mut req = request(&reg.host, "dockerlist:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, None);
    assert_eq!(report.platforms.len(), 2);
    assert!(
        report
            .media_type
            .as_deref()
            .unwrap()
            .contains("manifest.list")
    );
}

#[tokio::test]
async fn probe_catalog_is_listed_when_offered() {
    let reg = seeded(Tls::Valid, Auth::None);
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.catalog = true;
    let report = run(&req).await;
    assert_cause(&report, None);
    let repos = report.catalog.expect("catalog offered by an open registry");
    assert!(repos.contains(&"app".to_string()) && repos.contains(&"armonly".to_string()));
}
