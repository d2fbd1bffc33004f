//! `scene::live` against the API test server: every read path, paging, RBAC degradation, and
//! that nothing but GET is ever sent.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pulldoctor::Error;
use pulldoctor::scene::live::{LiveOptions, LiveSource};
use pulldoctor::scene::{Lookup, Owner, Scene, Source};

use super::cluster;
use crate::support::kube_api::{KubeApi, Verb};

fn opts(api: &KubeApi) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(api.kubeconfig()),
        ..LiveOptions::default()
    }
}

async fn source(api: &KubeApi) -> LiveSource {
    LiveSource::connect(&opts(api)).await.expect("connect")
}

fn owners(scene: &Scene) -> Vec<(String, String)> {
    scene
        .owners
        .iter()
        .map(|o| (o.kind.clone(), o.name.clone()))
        .collect()
}

fn names<T: kube::Resource>(items: &[T]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.meta().name.clone().unwrap_or_default())
        .collect()
}

fn assert_read_only(api: &KubeApi) {
    assert!(!api.requests().is_empty(), "nothing was asked at all");
    let writes = api.writes();
    assert!(writes.is_empty(), "pulldoctor sent {writes:?}");
}

#[tokio::test]
async fn a_deployment_pod_scene_has_everything_kubelet_would_look_at() {
    let api = cluster();
    let src = source(&api).await;
    assert_eq!(src.namespace(), "shop");
    let scene = src.pod_scene("shop", "web-7c9f8d6b5-x2x4q").await.unwrap();

    assert_eq!(scene.namespace, "shop");
    assert_eq!(scene.events.len(), 6, "its own pull events only");
    assert!(
        scene
            .events
            .iter()
            .all(|e| e.involved_object.name.as_deref() == Some("web-7c9f8d6b5-x2x4q"))
    );
    assert!(
        matches!(scene.secrets.get("regcred"), Some(Lookup::Found(s)) if s.data.as_ref().unwrap().contains_key(".dockerconfigjson"))
    );
    assert_eq!(scene.secrets.len(), 1);
    let Lookup::Found(ns_secrets) = &scene.namespace_pull_secrets else {
        panic!("{:?}", scene.namespace_pull_secrets)
    };
    assert_eq!(
        names(ns_secrets),
        ["aliyunregistry", "legacy-cfg", "regcred", "sa-cred"],
        "docker types only"
    );
    assert!(
        matches!(&scene.service_account, Lookup::Found(sa) if sa.metadata.name.as_deref() == Some("default"))
    );
    let node = scene.node.found().expect("node");
    assert_eq!(
        node.status
            .as_ref()
            .unwrap()
            .node_info
            .as_ref()
            .unwrap()
            .container_runtime_version,
        "containerd://1.7.24"
    );
    assert_eq!(
        scene.owners,
        vec![
            Owner {
                kind: "ReplicaSet".into(),
                name: "web-7c9f8d6b5".into(),
                api_version: "apps/v1".into()
            },
            Owner {
                kind: "Deployment".into(),
                name: "web".into(),
                api_version: "apps/v1".into()
            },
        ]
    );
    assert!(scene.unreadable.is_empty(), "{:?}", scene.unreadable);
    assert!(scene.other_namespace_secrets.is_empty(), "not asked for");

    // The events were asked for by field selector, pinned to this pod's uid.
    let ev = api
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/namespaces/shop/events")
        .unwrap();
    let fs = ev.param("fieldSelector").unwrap();
    for part in [
        "involvedObject.kind=Pod",
        "involvedObject.namespace=shop",
        "involvedObject.name=web-7c9f8d6b5-x2x4q",
        "involvedObject.uid=",
    ] {
        assert!(fs.contains(part), "{fs}");
    }
    // Docker-type secrets were listed by type on the server, not all secrets.
    let types: BTreeSet<String> = api
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/shop/secrets")
        .filter_map(|r| r.param("fieldSelector"))
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "type=kubernetes.io/dockercfg".to_string(),
            "type=kubernetes.io/dockerconfigjson".to_string()
        ])
    );
    assert_read_only(&api);
}

#[tokio::test]
async fn a_cronjob_pod_follows_job_to_cronjob_and_takes_the_service_account_secret() {
    let api = cluster();
    let scene = source(&api)
        .await
        .pod_scene("shop", "nightly-report-29381760-tm2jc")
        .await
        .unwrap();
    assert_eq!(
        owners(&scene),
        [
            ("Job".into(), "nightly-report-29381760".into()),
            ("CronJob".into(), "nightly-report".into())
        ]
    );
    assert!(
        matches!(&scene.service_account, Lookup::Found(sa) if sa.metadata.name.as_deref() == Some("builder"))
    );
    assert_eq!(
        scene.secrets.keys().collect::<Vec<_>>(),
        ["sa-cred"],
        "listed by the service account, not the pod"
    );
    let info = scene
        .node
        .found()
        .unwrap()
        .status
        .clone()
        .unwrap()
        .node_info
        .unwrap();
    assert_eq!(
        (
            info.container_runtime_version.as_str(),
            info.architecture.as_str()
        ),
        ("docker://24.0.7", "amd64")
    );
    assert_eq!(scene.top_owner().unwrap().kind, "CronJob");
}

#[tokio::test]
async fn a_recreated_statefulset_pod_does_not_inherit_old_events() {
    let api = cluster();
    let scene = source(&api).await.pod_scene("shop", "db-0").await.unwrap();
    assert_eq!(
        scene.events.len(),
        4,
        "the earlier db-0's event (another uid) is left out"
    );
    assert!(
        scene
            .events
            .iter()
            .all(|e| !e.message.as_deref().unwrap_or("").contains("16.3"))
    );
    assert_eq!(owners(&scene), [("StatefulSet".into(), "db".into())]);
    let info = scene
        .node
        .found()
        .unwrap()
        .status
        .clone()
        .unwrap()
        .node_info
        .unwrap();
    assert_eq!(
        (
            info.container_runtime_version.as_str(),
            info.architecture.as_str()
        ),
        ("cri-o://1.30.4", "arm64")
    );
    assert!(
        matches!(scene.secrets.get("legacy-cfg"), Some(Lookup::Found(s)) if s.type_.as_deref() == Some("kubernetes.io/dockercfg"))
    );
}

#[tokio::test]
async fn an_unscheduled_pod_has_no_node_and_a_bare_pod_no_owner() {
    let api = cluster();
    let src = source(&api).await;
    let pending = src.pod_scene("shop", "pending-big").await.unwrap();
    assert_eq!(pending.node, Lookup::NotAsked);
    assert!(pending.owners.is_empty() && pending.top_owner().is_none());
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.path.starts_with("/api/v1/nodes")),
        "no node was asked for"
    );
    let missing = src.pod_scene("shop", "orders-0").await.unwrap();
    assert_eq!(
        missing.secrets.get("payments-cred"),
        Some(&Lookup::NotFound)
    );
}

#[tokio::test]
async fn rbac_refusals_degrade_the_scene_and_say_what_was_not_read() {
    let api = cluster();
    api.forbid_all("secrets");
    api.forbid("nodes", Verb::Get);
    api.forbid("replicasets", Verb::Get);
    let scene = source(&api)
        .await
        .pod_scene("shop", "web-7c9f8d6b5-x2x4q")
        .await
        .unwrap();
    let Some(Lookup::Forbidden(msg)) = scene.secrets.get("regcred") else {
        panic!("{:?}", scene.secrets)
    };
    assert_eq!(
        msg,
        "secrets \"regcred\" is forbidden: User \"system:serviceaccount:shop:pulldoctor\" cannot get resource \"secrets\" in API group \"\" in the namespace \"shop\""
    );
    assert!(scene.namespace_pull_secrets.is_forbidden());
    assert!(scene.node.is_forbidden());
    assert_eq!(
        owners(&scene),
        [("ReplicaSet".into(), "web-7c9f8d6b5".into())],
        "the chain stops where it cannot be read"
    );
    assert_eq!(scene.events.len(), 6, "events were still readable");
    let lines = scene.unreadable.join("\n");
    for what in [
        "secret shop/regcred: forbidden (",
        "secrets in shop (list): forbidden (",
        "node worker-1: forbidden (",
        "ReplicaSet shop/web-7c9f8d6b5: forbidden (",
    ] {
        assert!(lines.contains(what), "{what} missing from:\n{lines}");
    }
    assert_eq!(scene.unreadable.len(), 4, "{lines}");

    api.forbid("events", Verb::List);
    let scene = source(&api).await.pod_scene("shop", "db-0").await.unwrap();
    assert!(scene.events.is_empty());
    assert!(
        scene
            .unreadable
            .iter()
            .any(|l| l.starts_with("events in shop: forbidden (events is forbidden: User")),
        "{:?}",
        scene.unreadable
    );
    assert_read_only(&api);
}

#[tokio::test]
async fn the_pod_itself_missing_or_refused_stops_the_run() {
    let api = cluster();
    let src = source(&api).await;
    match src.pod_scene("shop", "missing").await {
        Err(Error::PodNotFound { namespace, name }) => {
            assert_eq!((namespace.as_str(), name.as_str()), ("shop", "missing"))
        }
        other => panic!("{other:?}"),
    }
    api.forbid("pods", Verb::Get);
    match src.pod_scene("shop", "db-0").await {
        Err(Error::Api(msg)) => assert!(
            msg.contains("pods \"db-0\" is forbidden") && msg.contains("403"),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_api_server_is_one_line() {
    let api = KubeApi::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(api.kubeconfig())
        .unwrap()
        .replace(&api.url, &format!("https://127.0.0.1:{port}"));
    let path: PathBuf = api.dir().join("closed-kubeconfig");
    std::fs::write(&path, text).unwrap();
    let options = LiveOptions {
        kubeconfig: Some(path),
        timeout: std::time::Duration::from_secs(3),
        ..LiveOptions::default()
    };
    let src = LiveSource::connect(&options).await.unwrap();
    match src.pod_scene("shop", "web").await {
        Err(Error::Api(msg)) => {
            assert!(
                msg.starts_with(&format!("cannot reach https://127.0.0.1:{port}")),
                "{msg}"
            );
            assert!(!msg.contains('\n'), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let bad = LiveOptions {
        kubeconfig: Some(api.dir().join("nope")),
        ..LiveOptions::default()
    };
    assert!(matches!(
        LiveSource::connect(&bad).await,
        Err(Error::Kubeconfig(_))
    ));
    let no_ctx = LiveOptions {
        context: Some("prod".into()),
        ..opts(&api)
    };
    assert!(matches!(
        LiveSource::connect(&no_ctx).await,
        Err(Error::Kubeconfig(_))
    ));
}

#[tokio::test]
async fn the_namespace_comes_from_the_flag_then_the_context() {
    let api = cluster();
    assert_eq!(source(&api).await.namespace(), "shop");
    let other = LiveOptions {
        context: Some("other".into()),
        ..opts(&api)
    };
    assert_eq!(
        LiveSource::connect(&other).await.unwrap().namespace(),
        "payments"
    );
    let flag = LiveOptions {
        namespace: Some("kube-system".into()),
        ..other
    };
    assert_eq!(
        LiveSource::connect(&flag).await.unwrap().namespace(),
        "kube-system"
    );
}

#[tokio::test]
async fn a_scan_pages_lists_events_once_and_reads_each_object_once() {
    let api = cluster();
    let src = LiveSource::connect(&LiveOptions {
        page_size: 2,
        ..opts(&api)
    })
    .await
    .unwrap();
    api.clear_requests();
    let scenes = src.failing_pods(Some("shop")).await.unwrap();
    let found: BTreeSet<&str> = scenes.iter().map(|s| s.pod_name()).collect();
    assert_eq!(
        found,
        BTreeSet::from([
            "db-0",
            "log-agent-h7x2p",
            "nginx-registry",
            "nightly-report-29381760-tm2jc",
            "orders-0",
            "slow-pull",
            "web-7c9f8d6b5-kq8zt",
            "web-7c9f8d6b5-x2x4q",
        ]),
        "pull failures, the init container's, and the stalled pull; not the recovered, healthy or unscheduled pods"
    );
    let db = scenes.iter().find(|s| s.pod_name() == "db-0").unwrap();
    assert_eq!(db.events.len(), 4, "events split per pod and uid");

    let reqs = api.requests();
    let count = |path: &str| reqs.iter().filter(|r| r.path == path).count();
    assert_eq!(
        count("/api/v1/namespaces/shop/pods"),
        7,
        "13 pods, pages of 2"
    );
    let event_pages: Vec<_> = reqs
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/shop/events")
        .collect();
    assert!(event_pages.len() > 1, "events paged too");
    assert!(
        event_pages
            .iter()
            .all(|r| r.param("fieldSelector").as_deref() == Some("involvedObject.kind=Pod")),
        "events listed once, not per pod"
    );
    assert_eq!(
        count("/api/v1/namespaces/shop/secrets/regcred"),
        1,
        "three pods name regcred"
    );
    assert_eq!(count("/api/v1/namespaces/shop/serviceaccounts/default"), 1);
    assert_eq!(count("/api/v1/nodes/worker-1"), 1);
    assert_eq!(
        count("/apis/apps/v1/namespaces/shop/replicasets/web-7c9f8d6b5"),
        1
    );
    assert!(
        reqs.iter().all(|r| !r.path.contains("/pods/")),
        "no pod was read one by one"
    );
    assert_read_only(&api);
}

#[tokio::test]
async fn a_cluster_wide_scan_and_secrets_of_other_namespaces() {
    let api = cluster();
    let src = source(&api).await;
    let scenes = src.failing_pods(None).await.unwrap();
    assert!(
        scenes
            .iter()
            .any(|s| s.namespace == "payments" && s.pod_name() == "checkout-6b8d9-2xq7w")
    );
    assert_eq!(scenes.len(), 9);
    assert!(api.requests().iter().any(|r| r.path == "/api/v1/pods"));

    let orders = scenes.iter().find(|s| s.pod_name() == "orders-0").unwrap();
    assert!(orders.other_namespace_secrets.is_empty(), "not asked");
    let asked = LiveSource::connect(&LiveOptions {
        other_namespaces: true,
        ..opts(&api)
    })
    .await
    .unwrap();
    let scene = asked.pod_scene("shop", "orders-0").await.unwrap();
    let other: Vec<_> = scene
        .other_namespace_secrets
        .iter()
        .map(|s| {
            (
                s.metadata.namespace.clone().unwrap(),
                s.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        other,
        [("payments".to_string(), "payments-cred".to_string())]
    );
    let wide = api
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/secrets")
        .expect("a cluster-wide secrets list");
    assert_eq!(
        wide.param("fieldSelector").as_deref(),
        Some("metadata.name=payments-cred")
    );
    assert_read_only(&api);
}

#[tokio::test]
async fn an_ephemeral_debug_container_that_cannot_pull_is_found() {
    let api = cluster();
    api.add(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-debug", "namespace": "shop"},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "api", "image": "registry.test:5000/shop/api:2.0"}],
                 "ephemeralContainers": [{"name": "debugger", "image": "registry.test:5000/tools/netshoot:v0.13"}]},
        "status": {"phase": "Running",
            "containerStatuses": [{"name": "api", "image": "registry.test:5000/shop/api:2.0", "imageID": "", "ready": true,
                "restartCount": 0, "state": {"running": {}}}],
            "ephemeralContainerStatuses": [{"name": "debugger", "image": "registry.test:5000/tools/netshoot:v0.13", "imageID": "",
                "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}}]}
    }));
    let scenes = source(&api).await.failing_pods(Some("shop")).await.unwrap();
    let scene = scenes
        .iter()
        .find(|s| s.pod_name() == "api-debug")
        .expect("the debug pod is failing");
    let failing = pulldoctor::scene::pull_failing_containers(&scene.pod);
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0].kind, pulldoctor::scene::ContainerKind::Ephemeral);
    assert_eq!(failing[0].image, "registry.test:5000/tools/netshoot:v0.13");
    assert_eq!(
        failing[0].waiting_message.as_deref(),
        Some("manifest unknown")
    );
}

#[tokio::test]
async fn a_rejected_token_stops_the_run_with_the_api_message() {
    let api = cluster();
    let text = std::fs::read_to_string(api.kubeconfig())
        .unwrap()
        .replace(crate::support::kube_api::TOKEN, "stale-token");
    let path = api.dir().join("stale-kubeconfig");
    std::fs::write(&path, text).unwrap();
    let src = LiveSource::connect(&LiveOptions {
        kubeconfig: Some(path),
        ..LiveOptions::default()
    })
    .await
    .unwrap();
    match src.pod_scene("shop", "db-0").await {
        Err(Error::Api(msg)) => assert_eq!(
            msg,
            "You must be logged in to the server (the server has asked for the client to \
             provide credentials) (401 Unauthorized)"
        ),
        other => panic!("{other:?}"),
    }
    match src.failing_pods(None).await {
        Err(Error::Api(msg)) => assert!(msg.contains("401"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_scan_without_events_still_finds_waiting_containers_but_not_without_pods() {
    let api = cluster();
    api.forbid("events", Verb::List);
    let src = source(&api).await;
    let scenes = src.failing_pods(Some("shop")).await.unwrap();
    let found: BTreeSet<&str> = scenes.iter().map(|s| s.pod_name()).collect();
    assert!(found.contains("db-0") && found.contains("log-agent-h7x2p"));
    assert!(
        !found.contains("slow-pull"),
        "only its events told; they could not be read"
    );
    assert!(scenes.iter().all(|s| s.events.is_empty()));
    assert!(scenes.iter().all(|s| {
        s.unreadable
            .iter()
            .any(|l| l.starts_with("events in shop: forbidden ("))
    }));

    api.forbid("pods", Verb::List);
    match src.failing_pods(None).await {
        Err(Error::Api(msg)) => assert_eq!(
            msg,
            "cannot list pods in all namespaces: pods is forbidden: User \"system:serviceaccount:shop:pulldoctor\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
        ),
        other => panic!("{other:?}"),
    }
    assert_read_only(&api);
}
