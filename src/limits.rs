//! Size caps for the files pulldoctor reads, so `/dev/zero`, a FIFO or a runaway file named by
//! mistake ends in a clear error naming the file and the cap instead of an out-of-memory kill.
//!
//! A kubeconfig, a Docker/Podman authfile or a PEM bundle is kilobytes in real life (kubectl's
//! and Docker's own loaders read them whole); a snapshot can be hundreds of megabytes but is
//! text, so a NUL byte means it is not a snapshot at all and is refused at once.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Most bytes of a kubeconfig (each file of a `KUBECONFIG` list, and the files it names).
pub const MAX_KUBECONFIG: u64 = 8 * 1024 * 1024;
/// Most bytes of a Docker/Podman authfile.
pub const MAX_AUTHFILE: u64 = 4 * 1024 * 1024;
/// Most bytes of a PEM file (CA bundle, client certificate or key).
pub const MAX_PEM: u64 = 4 * 1024 * 1024;
/// Most bytes of one node configuration file (`--node-root`: config.toml, daemon.json, …).
pub const MAX_NODE_FILE: u64 = 4 * 1024 * 1024;
/// Most bytes of a snapshot (`kubectl get … -o yaml|json` output).
pub const MAX_SNAPSHOT: u64 = 1024 * 1024 * 1024;

/// Why a capped read failed.
#[derive(Debug, Error)]
pub enum CapError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file holds more than the cap (or never ends).
    #[error("{path}: larger than {cap}, the cap for {what}; is it the right file?")]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        cap: String,
    },
    /// A text file holding a NUL byte.
    #[error("{path}: not text (a NUL byte at offset {offset}; expected {what})")]
    NotText {
        path: PathBuf,
        what: &'static str,
        offset: u64,
    },
}

impl CapError {
    /// The error as pulldoctor's own: an unreadable file, or a bad one.
    pub fn into_error(self) -> crate::Error {
        match self {
            CapError::Read { path, source } => crate::Error::ReadFile { path, source },
            other => crate::Error::BadFile {
                path: other.path().to_path_buf(),
                reason: other.reason(),
            },
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            CapError::Read { path, .. }
            | CapError::TooLarge { path, .. }
            | CapError::NotText { path, .. } => path,
        }
    }

    /// The message without the leading path.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.path().display());
        full.strip_prefix(&prefix).unwrap_or(&full).to_string()
    }
}

/// "8 MiB", "1 GiB".
pub(crate) fn human(bytes: u64) -> String {
    const GIB: u64 = 1024 * 1024 * 1024;
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes / (1024 * 1024))
    }
}

/// Reads at most `cap` bytes of `path`; more is [`CapError::TooLarge`]. `what` names the kind
/// of file in the message ("a kubeconfig", "an authfile", …).
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, CapError> {
    read_checked(path, cap, what, false)
}

/// Like [`read_capped`] for a text file: a NUL byte stops the read at once.
pub fn read_text_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, CapError> {
    read_checked(path, cap, what, true)
}

fn read_checked(
    path: &Path,
    cap: u64,
    what: &'static str,
    text: bool,
) -> Result<Vec<u8>, CapError> {
    let io = |source| CapError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let hint = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len().min(cap + 1));
    let mut reader = file.take(cap + 1);
    let mut buf = Vec::with_capacity(hint as usize);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if text && let Some(at) = chunk[..n].iter().position(|b| *b == 0) {
            return Err(CapError::NotText {
                path: path.to_path_buf(),
                what,
                offset: (buf.len() + at) as u64,
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() as u64 > cap {
        return Err(CapError::TooLarge {
            path: path.to_path_buf(),
            what,
            cap: human(cap),
        });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_and_binary_files_are_refused_by_name() {
        let e = read_capped(Path::new("/dev/zero"), 1024 * 1024, "an authfile").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: larger than 1 MiB, the cap for an authfile; is it the right file?"
        );
        let e = read_text_capped(Path::new("/dev/zero"), 1 << 30, "a snapshot").unwrap_err();
        assert!(matches!(e, CapError::NotText { offset: 0, .. }), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("small");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_capped(&f, 5, "an authfile").unwrap(), b"hello");
        assert!(read_capped(&f, 4, "an authfile").is_err());
    }
}
