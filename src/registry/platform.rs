//! Platforms (`os/architecture/variant`) and which image platforms a node accepts.
//!
//! Reproduces containerd's `platforms` package (<https://github.com/containerd/platforms>,
//! `database.go` normalisation and `compare.go` `Only`): architecture aliases (`x86_64` →
//! `amd64`, `aarch64` → `arm64`), arm64's default variant `v8`, amd64 micro-architecture levels
//! (a `v3` node runs `v2`, `v1` and plain `amd64` images, then `386`), and 32-bit arm
//! fallbacks (`arm/v7` runs `v6`, `v5`; arm64 runs `arm/v8` and below). Kubelet reports only
//! `os` and `architecture` for a node, so the variant is usually absent.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One platform as in an OCI index's `platform` object, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Why a string is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid platform {0:?}: expected os/architecture[/variant], e.g. linux/arm64/v8")]
pub struct PlatformError(pub String);

impl Platform {
    /// Builds and normalises a platform.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let os = os.trim().to_ascii_lowercase();
        let arch = architecture.trim().to_ascii_lowercase();
        let variant = variant
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty());
        let (architecture, variant) = normalize_arch(&arch, variant);
        let os = if os == "macos" { "darwin".into() } else { os };
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// Parses `linux/arm64`, `linux/arm/v7`, `linux/amd64/v3`.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = || PlatformError(s.to_string());
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform::new(os, arch, Some(variant)))
            }
            _ => Err(bad()),
        }
    }

    /// The platform pulldoctor itself runs on (a default when the node is unknown).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, None)
    }

    /// The platforms this node accepts, best first, as containerd's `platforms.Only` orders them.
    pub fn accepted(&self) -> Vec<Platform> {
        let mut out = Vec::new();
        let with = |arch: &str, variant: Option<String>| Platform {
            os: self.os.clone(),
            architecture: arch.to_string(),
            variant,
        };
        match self.architecture.as_str() {
            "amd64" => {
                let level = level(self.variant.as_deref()).unwrap_or(1);
                out.push(with("amd64", self.variant.clone()));
                for l in (1..level).rev() {
                    out.push(with("amd64", (l > 1).then(|| format!("v{l}"))));
                }
                out.push(with("386", None));
            }
            "arm64" => {
                out.push(with("arm64", self.variant.clone()));
                for l in (5..=8).rev() {
                    out.push(with("arm", Some(format!("v{l}"))));
                }
            }
            "arm" => {
                let level = level(self.variant.as_deref()).unwrap_or(7);
                for l in (5..=level).rev() {
                    out.push(with("arm", Some(format!("v{l}"))));
                }
            }
            _ => out.push(self.clone()),
        }
        out.dedup();
        out
    }

    /// True when an image built for `candidate` runs on this node.
    pub fn accepts(&self, candidate: &Platform) -> bool {
        self.rank(candidate).is_some()
    }

    /// How well `candidate` fits (0 = exact); None when the node would not run it.
    pub fn rank(&self, candidate: &Platform) -> Option<usize> {
        self.accepted().iter().position(|p| p == candidate)
    }

    /// The index of the candidate containerd would choose, if any.
    pub fn best_match(&self, candidates: &[Platform]) -> Option<usize> {
        candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.rank(c).map(|r| (r, i)))
            .min()
            .map(|(_, i)| i)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match (&self.variant, self.architecture.as_str()) {
            (Some(v), _) => write!(f, "/{v}"),
            (None, "arm64") => f.write_str("/v8"),
            (None, _) => Ok(()),
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

/// containerd's `normalizeArch`: aliases folded, default variants made implicit.
fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    let v = variant.as_deref();
    match arch {
        "i386" | "386" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = match v {
                None | Some("v1") | Some("1") => None,
                Some(v) if !v.starts_with('v') => Some(format!("v{v}")),
                Some(v) => Some(v.to_string()),
            };
            ("amd64".into(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match v {
                None | Some("8") | Some("v8") | Some("v8.0") => None,
                Some("9") | Some("9.0") | Some("v9.0") => Some("v9".into()),
                Some(v) => Some(v.to_string()),
            };
            ("arm64".into(), variant)
        }
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => {
            let variant = match v {
                None | Some("7") | Some("v7") => Some("v7".into()),
                Some(v) if v.chars().all(|c| c.is_ascii_digit()) => Some(format!("v{v}")),
                Some(v) => Some(v.to_string()),
            };
            ("arm".into(), variant)
        }
        other => (other.to_string(), variant),
    }
}

/// `v3` → 3.
fn level(variant: Option<&str>) -> Option<u32> {
    variant?.strip_prefix('v')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parses_and_normalises_aliases() {
        assert_eq!(p("linux/x86_64"), p("linux/amd64"));
        assert_eq!(p("linux/aarch64"), p("linux/arm64/v8"));
        assert_eq!(p("linux/arm64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/armhf"), p("linux/arm/v7"));
        assert_eq!(p("linux/arm"), p("linux/arm/v7"));
        assert_eq!(p("Linux/AMD64/v1"), p("linux/amd64"));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn arm64_node_takes_v8_and_unvarianted_but_not_amd64() {
        let node = p("linux/arm64");
        assert!(node.accepts(&Platform::new("linux", "arm64", Some("v8"))));
        assert!(node.accepts(&Platform::new("linux", "arm64", None)));
        assert!(!node.accepts(&p("linux/amd64")));
        assert!(!node.accepts(&p("windows/arm64")));
        // The native image wins over the 32-bit fallback.
        let candidates = [p("linux/arm/v7"), p("linux/arm64"), p("linux/amd64")];
        assert_eq!(node.best_match(&candidates), Some(1));
        assert_eq!(node.best_match(&[p("linux/arm/v7")]), Some(0));
    }

    #[test]
    fn amd64_levels() {
        let v3 = p("linux/amd64/v3");
        assert!(v3.accepts(&p("linux/amd64/v2")));
        assert!(v3.accepts(&p("linux/amd64")));
        assert!(!v3.accepts(&p("linux/amd64/v4")));
        let plain = p("linux/amd64");
        assert!(!plain.accepts(&p("linux/amd64/v2")));
        assert!(!plain.accepts(&p("linux/arm64")));
        assert_eq!(
            plain.best_match(&[p("linux/386"), p("linux/amd64")]),
            Some(1)
        );
        assert_eq!(
            plain.best_match(&[p("linux/arm64"), p("linux/s390x")]),
            None
        );
    }

    #[test]
    fn arm_variants_run_older_ones() {
        let v7 = p("linux/arm/v7");
        assert!(v7.accepts(&p("linux/arm/v6")));
        assert!(!v7.accepts(&p("linux/arm/v8")));
        assert!(!p("linux/arm/v6").accepts(&p("linux/arm/v7")));
    }
}
