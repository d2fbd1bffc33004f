//! Reading user-supplied text (files or stdin) with the limits that keep pulldoctor safe.
//!
//! Input is read as bytes and converted lossily, so binary or invalid UTF-8 cannot stop a run;
//! a size cap turns an accidental multi-gigabyte paste into a clear error instead of an
//! out-of-memory kill.

use std::io::Read;
use std::path::Path;

use crate::Error;

/// The most text pulldoctor reads from one file or stdin.
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Reads a file, or stdin for `-`, as text.
pub fn read_text(source: &str) -> crate::Result<String> {
    let mut buf = Vec::new();
    if source == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(Error::Stdin)?;
    } else {
        let path = Path::new(source);
        let file = std::fs::File::open(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        file.take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(|source| Error::ReadFile {
                path: path.to_path_buf(),
                source,
            })?;
    }
    if buf.len() as u64 > MAX_INPUT {
        return Err(Error::BadFile {
            path: source.into(),
            reason: format!("larger than {} MiB", MAX_INPUT / (1024 * 1024)),
        });
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
