//! `scene::snapshot` on what kubectl really prints: the same objects read live and from
//! `kubectl get … -o yaml` / `-o json` must give the same scenes.

use std::collections::BTreeSet;
use std::path::Path;

use pulldoctor::scene::live::{LiveOptions, LiveSource};
use pulldoctor::scene::snapshot::SnapshotSource;
use pulldoctor::scene::{Lookup, Scene, Source};

use super::{cluster, kubectl};
use crate::support::kube_api::KubeApi;

/// What must agree between the live and snapshot scenes of a pod.
fn summary(s: &Scene) -> String {
    let lookup = |l: &Lookup<_>| match l {
        Lookup::Found(_) => "found",
        Lookup::NotFound => "not found",
        Lookup::Forbidden(_) => "forbidden",
        Lookup::NotAsked => "not asked",
    };
    let secrets: Vec<String> = s
        .secrets
        .iter()
        .map(|(k, v)| format!("{k}={}", lookup(&v.as_ref_lookup())))
        .collect();
    let ns_secrets: Vec<String> = match &s.namespace_pull_secrets {
        Lookup::Found(v) => v
            .iter()
            .map(|x| x.metadata.name.clone().unwrap_or_default())
            .collect(),
        _ => vec!["-".into()],
    };
    let mut events: Vec<String> = s
        .events
        .iter()
        .map(|e| e.metadata.name.clone().unwrap_or_default())
        .collect();
    events.sort();
    format!(
        "pod={} events={events:?} secrets={secrets:?} ns_secrets={ns_secrets:?} sa={} node={} owners={:?}",
        s.pod_name(),
        s.service_account
            .found()
            .and_then(|a| a.metadata.name.clone())
            .unwrap_or_default(),
        s.node
            .found()
            .and_then(|n| n.metadata.name.clone())
            .unwrap_or_else(|| lookup(&s.node.as_ref_lookup()).into()),
        s.owners
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect::<Vec<_>>(),
    )
}

trait AsRefLookup {
    fn as_ref_lookup(&self) -> Lookup<()>;
}

impl<T> AsRefLookup for Lookup<T> {
    fn as_ref_lookup(&self) -> Lookup<()> {
        match self {
            Lookup::Found(_) => Lookup::Found(()),
            Lookup::NotFound => Lookup::NotFound,
            Lookup::Forbidden(m) => Lookup::Forbidden(m.clone()),
            Lookup::NotAsked => Lookup::NotAsked,
        }
    }
}

fn dump(api: &KubeApi, format: &str) -> std::path::PathBuf {
    let (code, out, err) = kubectl(
        api,
        &[
            "get",
            "pods,events,secrets,serviceaccounts,nodes,replicasets,jobs",
            "-A",
            "-o",
            format,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let path = api.dir().join(format!("snapshot.{format}"));
    std::fs::write(&path, out).unwrap();
    path
}

async fn same_scenes_as_live(format: &str) {
    let api = cluster();
    let path = dump(&api, format);
    let snap = SnapshotSource::load(&path).unwrap();
    let live = LiveSource::connect(&LiveOptions {
        kubeconfig: Some(api.kubeconfig()),
        ..LiveOptions::default()
    })
    .await
    .unwrap();
    for pod in [
        "web-7c9f8d6b5-x2x4q",
        "nightly-report-29381760-tm2jc",
        "db-0",
        "orders-0",
        "pending-big",
    ] {
        let a = live.pod_scene("shop", pod).await.unwrap();
        let b = snap.pod_scene("shop", pod).await.unwrap();
        assert_eq!(
            summary(&b),
            summary(&a),
            "{format} snapshot vs live for {pod}"
        );
    }
    let live_failing: BTreeSet<String> = live
        .failing_pods(None)
        .await
        .unwrap()
        .iter()
        .map(|s| s.pod_name().to_string())
        .collect();
    let snap_failing: BTreeSet<String> = snap
        .failing_pods(None)
        .await
        .unwrap()
        .iter()
        .map(|s| s.pod_name().to_string())
        .collect();
    assert_eq!(snap_failing, live_failing);
    assert_eq!(snap_failing.len(), 9);
    let shop_only = snap.failing_pods(Some("payments")).await.unwrap();
    assert_eq!(shop_only.len(), 1);

    // Only the snapshot knows the other namespaces' secrets without being asked.
    let orders = snap.pod_scene("shop", "orders-0").await.unwrap();
    assert!(
        orders
            .other_namespace_secrets
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some("payments-cred"))
    );
    assert!(
        orders
            .other_namespace_secrets
            .iter()
            .all(|s| s.metadata.namespace.as_deref() != Some("shop"))
    );
    assert_eq!(snap.namespace_of("db-0"), Some("shop"));
    assert_eq!(snap.namespace_of("checkout-6b8d9-2xq7w"), Some("payments"));
    assert_eq!(snap.namespace_of("nope"), None);
}

#[tokio::test]
async fn a_kubectl_yaml_list_gives_the_live_scenes() {
    same_scenes_as_live("yaml").await;
}

#[tokio::test]
async fn a_kubectl_json_list_gives_the_live_scenes() {
    same_scenes_as_live("json").await;
}

#[tokio::test]
async fn a_multi_document_yaml_of_single_objects_reads_too() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cluster/shop.yaml");
    let snap = SnapshotSource::load(&path).unwrap();
    let scene = snap.pod_scene("shop", "web-7c9f8d6b5-kq8zt").await.unwrap();
    assert_eq!(scene.owners.len(), 2);
    assert_eq!(scene.events.len(), 6);
    assert!(matches!(
        scene.secrets.get("regcred"),
        Some(Lookup::Found(_))
    ));
    // Objects the file lacks are NotFound, not errors.
    let orders = snap.pod_scene("shop", "orders-0").await.unwrap();
    assert_eq!(orders.secrets.get("payments-cred"), Some(&Lookup::NotFound));
    assert!(matches!(
        snap.pod_scene("payments", "web").await,
        Err(pulldoctor::Error::PodNotFound { .. })
    ));
}

#[test]
fn a_missing_or_garbled_snapshot_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.yaml");
    assert!(matches!(
        SnapshotSource::load(&missing),
        Err(pulldoctor::Error::ReadFile { .. })
    ));
    let garbled = dir.path().join("garbled.yaml");
    std::fs::write(
        &garbled,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   namespace: shop\n",
    )
    .unwrap();
    let err = SnapshotSource::load(&garbled).unwrap_err().to_string();
    assert!(err.starts_with(&garbled.display().to_string()), "{err}");
    assert!(err.contains("line 5"), "{err}");
    let binary = dir.path().join("bundle.tar.gz");
    std::fs::write(&binary, [0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00]).unwrap();
    let err = SnapshotSource::load(&binary).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "not text: a NUL byte at offset 3 (expected kubectl get -o yaml|json output)"
        ),
        "{err}"
    );
    std::fs::write(&binary, [b'k', b':', b' ', 0xff, 0xfe]).unwrap();
    let err = SnapshotSource::load(&binary).unwrap_err().to_string();
    assert!(
        err.ends_with("not UTF-8 text (expected kubectl get -o yaml|json output)"),
        "{err}"
    );
}
