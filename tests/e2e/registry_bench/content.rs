//! What the bench registries hold and how they name what is missing: the fixture images (cross-
//! checked with skopeo), NAME_UNKNOWN vs MANIFEST_UNKNOWN, and the OCI index Accept rule
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests>).

use super::*;

#[tokio::test]
async fn registry_plain_http_lets_anyone_in() {
    let reg = start(Tls::Plain, Auth::None);
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    assert_eq!(reg.ca_file, None);
    let client = http_client(Trust::System, TIMEOUT);
    let response = client
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
}

#[tokio::test]
async fn registry_missing_repository_is_name_unknown_only_on_tags_list() {
    let reg = start(Tls::Plain, Auth::None);
    reg.seed_fixtures();
    let client = http_client(Trust::System, TIMEOUT);
    let url = reg.url();

    let tags = client
        .get(format!("{url}/v2/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200);
    let tags: serde_json::Value = json(tags).await;
    assert_eq!(tags["name"], "app");
    // docker-registry 2.8 does not sort the list (the OCI spec asks for lexical order only
    // when paginating with `n`), so compare as a set.
    let mut names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["1.0", "1.1", "2.0"]);

    let missing_repo_tags = client
        .get(format!("{url}/v2/nope/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_repo_tags.status(), 404);
    assert_eq!(error_codes(missing_repo_tags).await, ["NAME_UNKNOWN"]);

    let missing_tag = client
        .get(format!("{url}/v2/app/manifests/9.9"))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_tag.status(), 404);
    assert_eq!(error_codes(missing_tag).await, ["MANIFEST_UNKNOWN"]);

    // The manifests endpoint cannot tell a missing repository from a missing tag.
    let missing_repo_manifest = client
        .get(format!("{url}/v2/nope/manifests/1.0"))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_repo_manifest.status(), 404);
    assert_eq!(
        error_codes(missing_repo_manifest).await,
        ["MANIFEST_UNKNOWN"]
    );

    // A HEAD 404 carries no body: the code needs a GET.
    let head = client
        .head(format!("{url}/v2/app/manifests/9.9"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn registry_oci_index_is_hidden_without_its_media_type_in_accept() {
    let reg = start(Tls::Plain, Auth::None);
    let fixtures = reg.seed_fixtures();
    let client = http_client(Trust::System, TIMEOUT);
    let manifest = |name: &str, accept: &str| {
        client
            .get(format!("{}/v2/{name}/manifests/1.0", reg.url()))
            .header(ACCEPT, accept.to_string())
            .send()
    };

    let docker_only = manifest("multi", &format!("{DOCKER_MANIFEST}, {DOCKER_LIST}"))
        .await
        .unwrap();
    assert_eq!(docker_only.status(), 404);
    assert_eq!(error_codes(docker_only).await, ["MANIFEST_UNKNOWN"]);

    let oci = manifest("multi", &format!("{OCI_INDEX}, {OCI_MANIFEST}"))
        .await
        .unwrap();
    assert_eq!(oci.status(), 200);
    assert_eq!(header(&oci, "content-type"), OCI_INDEX);
    assert_eq!(
        header(&oci, "docker-content-digest"),
        fixtures.get("multi:1.0").digest
    );
    let index: serde_json::Value = json(oci).await;
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let variant = p["variant"]
                .as_str()
                .map(|v| format!("/{v}"))
                .unwrap_or_default();
            format!(
                "{}/{}{variant}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);

    // A Docker manifest list is served to a Docker-only Accept.
    let list = manifest("dockerlist", DOCKER_LIST).await.unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(header(&list, "content-type"), DOCKER_LIST);

    let arm_only: serde_json::Value = json(manifest("armonly", OCI_INDEX).await.unwrap()).await;
    assert_eq!(arm_only["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        arm_only["manifests"][0]["platform"]["architecture"],
        "arm64"
    );
}

/// Runs Debian's skopeo (an independent client) and returns (success, stdout, stderr).
fn skopeo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo (install it with: apt-get install skopeo)");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn registry_fixtures_are_real_images_to_skopeo() {
    let reg = start(Tls::Plain, Auth::None);
    let fixtures = reg.seed_fixtures();
    let image = |name: &str| format!("docker://{}/{name}", reg.host);

    // The index resolves per platform, as a node's runtime would resolve it.
    let (ok, stdout, stderr) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--override-os",
        "linux",
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        &image("multi:1.0"),
    ]);
    assert!(ok, "{stderr}");
    let inspected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(
        inspected["Digest"],
        fixtures.get("multi:1.0").digest.as_str()
    );

    // An amd64 node cannot use the arm64-only image.
    let (ok, _, stderr) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
        &image("armonly:1.0"),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no image found in image index for architecture amd64"),
        "{stderr}"
    );

    // The layer is a real gzipped tar: skopeo decompresses it, and the result is the tar
    // whose digest the config names as its diff_id.
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = skopeo(&[
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-decompress",
        &image("app:1.0"),
        &format!("dir:{}", dir.path().display()),
    ]);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(config_digest.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    let diff_id = config["rootfs"]["diff_ids"][0].as_str().unwrap();
    let tar = std::fs::read(dir.path().join(diff_id.trim_start_matches("sha256:"))).unwrap();
    assert_eq!(sha256_digest(&tar), diff_id);
    assert_eq!(&tar[..12], b"fixture.txt\0");
    assert_eq!(&tar[257..262], b"ustar");
}

#[tokio::test]
async fn registry_tags_list_ignores_n_but_catalog_pages_with_a_relative_link() {
    let reg = start(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    reg.seed_fixtures();
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let get = |path: &str| {
        client
            .get(format!("{}{path}", reg.url()))
            .header(AUTHORIZATION, basic("alice", "s3cret"))
            .send()
    };

    // docker-registry 2.8 answers every tag at once, with no Link header, whatever `n` says.
    let tags = get("/v2/app/tags/list?n=1").await.unwrap();
    assert_eq!(tags.status(), 200);
    assert_eq!(header(&tags, "link"), "");
    assert_eq!(json(tags).await["tags"].as_array().unwrap().len(), 3);

    // `_catalog` does page: a relative Link to the next page, repositories in lexical order.
    let first = get("/v2/_catalog?n=2").await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        header(&first, "link"),
        "</v2/_catalog?last=armonly&n=2>; rel=\"next\""
    );
    assert_eq!(
        json(first).await["repositories"],
        serde_json::json!(["app", "armonly"])
    );
    let second = get("/v2/_catalog?last=armonly&n=2").await.unwrap();
    assert_eq!(
        json(second).await["repositories"],
        serde_json::json!(["dockerlist", "multi"])
    );
}
