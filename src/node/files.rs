//! Reading a node's files from a copy of its filesystem (`--node-root DIR`).
//!
//! Every path a runtime names is a path on the node (`/etc/containerd/certs.d`); here it is
//! joined under the copy's root, never followed outside it by `..`. Each file is read whole
//! with a size cap (a node's configuration is kilobytes), and errors name the node's path so a
//! finding reads the way the operator will look for the file.

use std::path::{Component, Path, PathBuf};

use crate::limits::{CapError, MAX_NODE_FILE, read_text_capped};

/// Why a node file could not be used: its node path, the line when known, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", path, line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct NodeFileError {
    /// The path as the node sees it (`/etc/containerd/config.toml`).
    pub path: String,
    pub line: Option<u32>,
    pub reason: String,
}

impl NodeFileError {
    pub fn new(path: &str, line: Option<u32>, reason: impl Into<String>) -> NodeFileError {
        NodeFileError {
            path: path.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

/// A copy of a node's filesystem.
#[derive(Debug, Clone)]
pub struct NodeRoot {
    dir: PathBuf,
}

impl NodeRoot {
    pub fn new(dir: &Path) -> NodeRoot {
        NodeRoot {
            dir: dir.to_path_buf(),
        }
    }

    /// The copy's directory on this machine.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the node's `path` (absolute on the node, or relative to `/`) lies in the copy;
    /// `..` never climbs above the root.
    pub fn host_path(&self, node_path: &str) -> PathBuf {
        let mut out = self.dir.clone();
        let mut depth = 0usize;
        for c in Path::new(node_path).components() {
            match c {
                Component::Normal(p) => {
                    out.push(p);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    out.pop();
                    depth -= 1;
                }
                _ => {}
            }
        }
        out
    }

    /// The node path of a file inside the copy (`/etc/hosts`), for findings.
    pub fn node_path(&self, host: &Path) -> String {
        match host.strip_prefix(&self.dir) {
            Ok(rel) => format!("/{}", rel.to_string_lossy()),
            Err(_) => host.to_string_lossy().into_owned(),
        }
    }

    pub fn is_file(&self, node_path: &str) -> bool {
        self.host_path(node_path).is_file()
    }

    pub fn is_dir(&self, node_path: &str) -> bool {
        self.host_path(node_path).is_dir()
    }

    /// A node file's text; None when it does not exist, an error when it cannot be used.
    pub fn read(&self, node_path: &str) -> Result<Option<String>, NodeFileError> {
        let host = self.host_path(node_path);
        if !host.exists() {
            return Ok(None);
        }
        let bytes = read_text_capped(&host, MAX_NODE_FILE, "a node configuration file").map_err(
            |e| match e {
                CapError::Read { source, .. } => {
                    NodeFileError::new(node_path, None, format!("cannot read: {source}"))
                }
                other => NodeFileError::new(node_path, None, other.reason()),
            },
        )?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| NodeFileError::new(node_path, None, "not UTF-8 text"))
    }

    /// The names in a node directory, sorted; empty when it does not exist.
    pub fn list(&self, node_dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.host_path(node_dir))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// `dir` + `name` as a node path.
pub fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub fn line_at(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u32
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths_stay_inside_the_copy() {
        let r = NodeRoot::new(Path::new("/copy"));
        assert_eq!(r.host_path("/etc/hosts"), Path::new("/copy/etc/hosts"));
        assert_eq!(
            r.host_path("/../../etc/passwd"),
            Path::new("/copy/etc/passwd")
        );
        assert_eq!(r.host_path("/etc/../../x"), Path::new("/copy/x"));
        assert_eq!(r.node_path(Path::new("/copy/etc/hosts")), "/etc/hosts");
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(join("/etc/containerd/", "x"), "/etc/containerd/x");
    }
}
