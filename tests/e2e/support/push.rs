//! Pushes the bench's fixture images into a registry through the distribution push API, from
//! Rust: `POST /v2/<name>/blobs/uploads/`, `PUT <location>&digest=…`, `PUT /v2/<name>/manifests/<ref>`.
//!
//! It reproduces what `docker push` / `skopeo copy` send (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md#push>):
//! real blobs (a gzipped tar layer and an image config), manifests with the right
//! `Content-Type`, and indexes pushed after the manifests they list, because the registry
//! refuses an index whose children it does not hold. The images (see CONTRACTS.md):
//! `app:1.0` (Docker v2), `app:1.1` (OCI), `app:2.0` (Docker v2), all linux/amd64;
//! `multi:1.0` (OCI index, linux/amd64 + linux/arm64/v8); `dockerlist:1.0` (Docker manifest
//! list, same platforms); `armonly:1.0` (OCI index, linux/arm64/v8 only).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::client::http_client;
use super::layer::tar_gz;
use super::registry::{Auth, Registry};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One platform of a pushed image: `linux/arm64/v8` and its manifest digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformManifest {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub digest: String,
}

/// One pushed tag.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub repository: String,
    /// Empty for an index's untagged children.
    pub tag: String,
    /// `sha256:…` of the manifest or index the tag points at (as the registry confirmed it).
    pub digest: String,
    pub media_type: &'static str,
    /// Byte length of that manifest or index.
    pub size: usize,
    /// For a single manifest, its one platform; for an index or list, every entry.
    pub platforms: Vec<PlatformManifest>,
}

/// The images `seed_fixtures` pushed, by `repository:tag`.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    pub images: BTreeMap<String, Pushed>,
}

impl Fixtures {
    /// The pushed image `repository:tag`; panics when there is none (a test bug).
    pub fn get(&self, reference: &str) -> &Pushed {
        self.images
            .get(reference)
            .unwrap_or_else(|| panic!("no fixture {reference}"))
    }
}

/// The format of a single-platform manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Docker,
    Oci,
}

type Platform = (&'static str, &'static str, Option<&'static str>);
const AMD64: Platform = ("linux", "amd64", None);
const ARM64: Platform = ("linux", "arm64", Some("v8"));

/// The fixture repositories, for token minting.
const REPOSITORIES: [&str; 4] = ["app", "multi", "dockerlist", "armonly"];

impl Registry {
    /// Pushes every fixture image (see the module doc) and returns their digests.
    ///
    /// Works in every mode: it authenticates as the registry's user (a token minted directly
    /// by the bench's token server, so refused repositories can still be seeded), and it skips
    /// certificate checks only for the wrong-name and expired modes. Synchronous; runs on its
    /// own thread and runtime, so it may be called from inside a `#[tokio::test]`.
    pub fn seed_fixtures(&self) -> Fixtures {
        let pusher = Pusher::new(self);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("push runtime")
                        .block_on(pusher.push_all())
                })
                .join()
                .expect("push thread")
        })
    }
}

struct Pusher {
    base: url::Url,
    client: reqwest::Client,
    /// `Authorization` header value per repository (empty map: no auth).
    auth: HashMap<String, String>,
}

impl Pusher {
    fn new(registry: &Registry) -> Pusher {
        let mut auth = HashMap::new();
        for repo in REPOSITORIES {
            let header = match (&registry.options.auth, &registry.token) {
                (Auth::None, _) => continue,
                (Auth::Htpasswd { user, password }, _) => format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                ),
                (Auth::Token(options), Some(server)) => {
                    let access =
                        json!([{"type": "repository", "name": repo, "actions": ["pull", "push"]}]);
                    format!("Bearer {}", server.mint(&options.user, access))
                }
                (Auth::Token(_), None) => unreachable!("token registries have a token server"),
            };
            auth.insert(repo.to_string(), header);
        }
        Pusher {
            base: url::Url::parse(&registry.url()).expect("registry URL"),
            client: http_client(registry.bench_trust(), Duration::from_secs(30)),
            auth,
        }
    }

    /// Pushes the six images concurrently (each one's blobs and manifests in order).
    async fn push_all(&self) -> Fixtures {
        let singles = [
            ("1.0", Format::Docker),
            ("1.1", Format::Oci),
            ("2.0", Format::Docker),
        ]
        .map(|(tag, format)| async move {
            (
                format!("app:{tag}"),
                self.push_single("app", Some(tag), format, AMD64).await,
            )
        });
        let lists = [
            ("multi", Format::Oci, vec![AMD64, ARM64]),
            ("dockerlist", Format::Docker, vec![AMD64, ARM64]),
            ("armonly", Format::Oci, vec![ARM64]),
        ]
        .map(|(repo, format, platforms)| async move {
            (
                format!("{repo}:1.0"),
                self.push_index(repo, "1.0", format, &platforms).await,
            )
        });
        let (singles, lists) = futures_util::join!(
            futures_util::future::join_all(singles),
            futures_util::future::join_all(lists)
        );
        Fixtures {
            images: singles.into_iter().chain(lists).collect(),
        }
    }

    /// Pushes a config, a layer and a manifest: under `tag`, or by digest when `tag` is None
    /// (an index's children carry no tag of their own, as `docker buildx` pushes them).
    async fn push_single(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        platform: Platform,
    ) -> Pushed {
        let (os, arch, variant) = platform;
        let tag_label = tag.unwrap_or("child");
        let label = format!(
            "{repo}:{tag_label} {os}/{arch}{}",
            variant.map(|v| format!("/{v}")).unwrap_or_default()
        );
        let (layer, diff_id) = tar_gz("fixture.txt", format!("{label}\n").as_bytes());
        let mut config = json!({
            "architecture": arch,
            "os": os,
            "created": "2024-01-01T00:00:00Z",
            "config": {"Labels": {"org.pulldoctor.fixture": label}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        if let Some(variant) = variant {
            config["variant"] = json!(variant);
        }
        let config = config.to_string().into_bytes();
        let config_digest = self.push_blob(repo, &config).await;
        let layer_digest = self.push_blob(repo, &layer).await;
        let (media_type, config_type, layer_type) = match format {
            Format::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
            Format::Oci => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
        };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer.len()}],
        });
        let manifest = manifest.to_string().into_bytes();
        let reference = tag
            .map(str::to_string)
            .unwrap_or_else(|| sha256_digest(&manifest));
        let digest = self
            .push_manifest(repo, &reference, media_type, &manifest)
            .await;
        Pushed {
            repository: repo.to_string(),
            tag: tag.unwrap_or_default().to_string(),
            digest: digest.clone(),
            media_type,
            size: manifest.len(),
            platforms: vec![PlatformManifest {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: variant.map(str::to_string),
                digest,
            }],
        }
    }

    /// Pushes one manifest per platform (by digest), then the index or list under `tag`.
    async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        format: Format,
        platforms: &[Platform],
    ) -> Pushed {
        let mut entries = Vec::new();
        let mut pushed_platforms = Vec::new();
        for &platform in platforms {
            let child = self.push_single(repo, None, format, platform).await;
            let mut p = json!({"os": platform.0, "architecture": platform.1});
            if let Some(variant) = platform.2 {
                p["variant"] = json!(variant);
            }
            entries.push(json!({
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": child.size,
                "platform": p,
            }));
            pushed_platforms.extend(child.platforms);
        }
        let media_type = match format {
            Format::Docker => DOCKER_LIST,
            Format::Oci => OCI_INDEX,
        };
        let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": entries});
        let index = index.to_string().into_bytes();
        let digest = self.push_manifest(repo, tag, media_type, &index).await;
        Pushed {
            repository: repo.to_string(),
            tag: tag.to_string(),
            digest,
            media_type,
            size: index.len(),
            platforms: pushed_platforms,
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: url::Url,
        repo: &str,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, url);
        match self.auth.get(repo) {
            Some(header) => builder.header(reqwest::header::AUTHORIZATION, header),
            None => builder,
        }
    }

    /// Monolithic upload: `POST …/blobs/uploads/` then `PUT <Location>&digest=…`.
    async fn push_blob(&self, repo: &str, blob: &[u8]) -> String {
        let digest = sha256_digest(blob);
        let start = self
            .base
            .join(&format!("/v2/{repo}/blobs/uploads/"))
            .expect("upload URL");
        let response = self
            .request(reqwest::Method::POST, start, repo)
            .send()
            .await
            .expect("POST upload");
        assert_eq!(
            response.status().as_u16(),
            202,
            "start upload in {repo}: {response:?}"
        );
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("upload Location");
        let mut url = self.base.join(location).expect("resolve Location");
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .request(reqwest::Method::PUT, url, repo)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await
            .expect("PUT blob");
        assert_eq!(
            response.status().as_u16(),
            201,
            "finish upload in {repo}: {response:?}"
        );
        digest
    }

    /// `PUT /v2/<repo>/manifests/<reference>`; returns the digest the registry reports.
    async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let url = self
            .base
            .join(&format!("/v2/{repo}/manifests/{reference}"))
            .expect("manifest URL");
        let response = self
            .request(reqwest::Method::PUT, url, repo)
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .await
            .expect("PUT manifest");
        let status = response.status().as_u16();
        let reported = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "PUT manifest {repo}:{reference}: {text}");
        let digest = sha256_digest(body);
        assert_eq!(
            reported.as_deref(),
            Some(digest.as_str()),
            "registry digest of {repo}:{reference}"
        );
        digest
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
