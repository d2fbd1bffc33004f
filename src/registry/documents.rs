//! Pure readers for what a registry sends back (error bodies: `error_body.rs`): tag lists, `Link` headers,
//! indexes and token replies.
//!
//! Shapes from the OCI distribution spec (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>:
//! `{"errors":[{"code","message","detail"}]}`, `{"name","tags"}`, `Link: <…>; rel="next"`),
//! the OCI image index and Docker manifest list (`manifests[].platform`), and distribution's
//! token spec (`token` or `access_token`). Every reader tolerates junk and returns None.

use serde::Deserialize;

use super::platform::Platform;
use crate::redacted::Redacted;

/// The Accept list containerd sends when resolving a reference.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// True for media types that list per-platform manifests.
pub fn is_index(media_type: &str) -> bool {
    let m = media_type.split(';').next().unwrap_or("").trim();
    m == "application/vnd.oci.image.index.v1+json"
        || m == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// True for the manifest and index media types registries serve (schema 1 included).
pub fn is_manifest_type(media_type: &str) -> bool {
    let m = media_type.split(';').next().unwrap_or("").trim();
    is_index(m)
        || m == "application/vnd.oci.image.manifest.v1+json"
        || m == "application/vnd.docker.distribution.manifest.v2+json"
        || m == "application/vnd.docker.distribution.manifest.v1+json"
        || m == "application/vnd.docker.distribution.manifest.v1+prettyjws"
}

/// True when a body is a JSON object with a `schemaVersion`, as every manifest and index is.
pub fn looks_like_manifest(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct M {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
    }
    serde_json::from_slice::<M>(body).is_ok_and(|m| m.schema_version.is_some())
}

/// The tags of a `tags/list` page (`tags` may be null for an empty repository).
pub fn tags(body: &[u8]) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Tags {
        tags: Option<Vec<String>>,
    }
    let t: Tags = serde_json::from_slice(body).ok()?;
    Some(t.tags.unwrap_or_default())
}

/// The repositories of a `_catalog` page.
pub fn repositories(body: &[u8]) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Catalog {
        repositories: Option<Vec<String>>,
    }
    let c: Catalog = serde_json::from_slice(body).ok()?;
    Some(c.repositories.unwrap_or_default())
}

/// The target of a `Link: <url>; rel="next"` header (often relative).
pub fn next_link(link: &str) -> Option<String> {
    for part in link.split(',') {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

/// The platforms of an index, in order, leaving out attestation entries (`unknown/unknown`).
pub fn index_platforms(body: &[u8]) -> Option<Vec<Platform>> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Vec<Descriptor>,
    }
    #[derive(Deserialize)]
    struct Descriptor {
        platform: Option<P>,
    }
    #[derive(Deserialize)]
    struct P {
        os: String,
        architecture: String,
        variant: Option<String>,
    }
    let idx: Index = serde_json::from_slice(body).ok()?;
    Some(
        idx.manifests
            .into_iter()
            .filter_map(|d| d.platform)
            .filter(|p| p.os != "unknown" && p.architecture != "unknown")
            .map(|p| Platform::new(&p.os, &p.architecture, p.variant.as_deref()))
            .collect(),
    )
}

/// The media type a manifest body declares.
pub fn declared_media_type(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct M {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<M>(body).ok()?.media_type
}

/// The config blob's digest of a single-platform manifest (OCI or Docker schema 2), when it
/// has the shape `algorithm:hex` a blob path may carry.
pub fn config_digest(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct M {
        config: Option<D>,
    }
    #[derive(Deserialize)]
    struct D {
        digest: String,
    }
    let d = serde_json::from_slice::<M>(body).ok()?.config?.digest;
    let (algorithm, hex) = d.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    (algorithm_ok && hex_ok && d.len() <= 200).then_some(d)
}

/// The platform an image config declares (`os`, `architecture`, `variant`), as containerd
/// reads it for a single-platform manifest; a schema 1 manifest carries `architecture` itself.
pub fn config_platform(body: &[u8]) -> Option<Platform> {
    #[derive(Deserialize)]
    struct C {
        os: Option<String>,
        architecture: Option<String>,
        variant: Option<String>,
    }
    let c: C = serde_json::from_slice(body).ok()?;
    let arch = c.architecture.filter(|a| !a.trim().is_empty())?;
    let os =
        c.os.filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| "linux".into());
    Some(Platform::new(&os, &arch, c.variant.as_deref()))
}

/// The bearer token of a token reply (`token`, else `access_token`).
pub fn token(body: &[u8]) -> Option<Redacted> {
    #[derive(Deserialize)]
    struct T {
        token: Option<String>,
        access_token: Option<String>,
        refresh_token: Option<String>,
    }
    let t: T = serde_json::from_slice(body).ok()?;
    // The ones not used are secrets too, and a registry may echo any of them.
    for unused in [&t.access_token, &t.refresh_token].into_iter().flatten() {
        crate::scrub::remember(unused);
    }
    t.token
        .filter(|s| !s.is_empty())
        .or(t.access_token.filter(|s| !s.is_empty()))
        .map(Redacted::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_links() {
        assert_eq!(
            tags(br#"{"name":"app","tags":["1.0","2.0"]}"#).unwrap(),
            ["1.0", "2.0"]
        );
        assert_eq!(tags(br#"{"name":"app","tags":null}"#).unwrap().len(), 0);
        assert_eq!(
            next_link(r#"</v2/app/tags/list?last=1.0&n=1>; rel="next""#).as_deref(),
            Some("/v2/app/tags/list?last=1.0&n=1")
        );
        assert_eq!(next_link(r#"<https://x/a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn index_platforms_skip_attestations() {
        let b = br#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"digest":"sha256:a","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
          {"digest":"sha256:b","platform":{"os":"unknown","architecture":"unknown"}},
          {"digest":"sha256:c","platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let p = index_platforms(b).unwrap();
        assert_eq!(
            p,
            [
                Platform::new("linux", "arm64", None),
                Platform::new("linux", "amd64", None)
            ]
        );
        assert!(is_index("application/vnd.oci.image.index.v1+json"));
        assert!(is_index(
            "application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"
        ));
        assert!(!is_index("application/vnd.oci.image.manifest.v1+json"));
    }

    #[test]
    fn config_digest_and_platform() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:ab12","size":2},"layers":[]}"#;
        assert_eq!(config_digest(m).as_deref(), Some("sha256:ab12"));
        let hostile = br#"{"config":{"digest":"sha256:../../x"}}"#;
        assert_eq!(config_digest(hostile), None);
        assert_eq!(config_digest(br#"{"config":{"digest":"nocolon"}}"#), None);
        assert_eq!(config_digest(b"[]"), None);
        let c = br#"{"os":"linux","architecture":"arm64","variant":"v8","rootfs":{}}"#;
        assert_eq!(
            config_platform(c),
            Some(Platform::new("linux", "arm64", None))
        );
        assert_eq!(
            config_platform(br#"{"architecture":"amd64"}"#),
            Some(Platform::new("linux", "amd64", None))
        );
        assert_eq!(config_platform(br#"{"os":"linux"}"#), None);
        assert_eq!(config_platform(b"junk"), None);
    }

    #[test]
    fn manifests_are_recognised() {
        assert!(is_manifest_type(
            "application/vnd.docker.distribution.manifest.v2+json"
        ));
        assert!(!is_manifest_type("text/html; charset=utf-8"));
        assert!(looks_like_manifest(br#"{"schemaVersion":2,"layers":[]}"#));
        assert!(!looks_like_manifest(b"<html></html>"));
        assert!(!looks_like_manifest(br#"{"name":"x"}"#));
    }

    #[test]
    fn token_or_access_token() {
        assert_eq!(token(br#"{"token":"abc"}"#).unwrap().expose(), "abc");
        assert_eq!(token(br#"{"access_token":"xyz"}"#).unwrap().expose(), "xyz");
        assert_eq!(
            token(br#"{"token":"","access_token":"xyz"}"#)
                .unwrap()
                .expose(),
            "xyz"
        );
        assert!(token(b"{}").is_none());
    }
}
