//! The snapshot file as a stream of checked text: read in 64 KiB blocks and handed on line by
//! line (YAML) or byte by byte (JSON), never held whole.
//!
//! The checks `limits::read_text_capped` makes on a whole file are made here block by block:
//! a NUL byte means it is not text at all (`/dev/zero` stops at the first block), bytes past
//! [`crate::limits::MAX_SNAPSHOT`] mean it never ends, and what is handed on is valid UTF-8
//! (a character split across two blocks is carried over). A 300 MB snapshot is read in the
//! memory of one block plus what the command keeps.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::Error;

/// What a snapshot that is not kubectl output is told it should have been.
pub(super) const EXPECTED: &str = "expected kubectl get -o yaml|json output";

/// Bytes read from the file at a time.
const BLOCK: usize = 64 * 1024;

/// Checked text from a snapshot, counting the lines handed on.
pub(super) struct Input<R> {
    inner: R,
    path: PathBuf,
    cap: u64,
    buf: Vec<u8>,
    /// `buf[pos..end]` is checked text not handed on yet; `buf[end..filled]` the start of a
    /// character whose other bytes are still in the file.
    pos: usize,
    end: usize,
    filled: usize,
    /// Bytes read from the file.
    read: u64,
    /// Newlines handed on.
    lines: usize,
    /// Why reading stopped, as pulldoctor's own error (the `io::Error` callers see is a stand-in).
    failure: Option<Error>,
}

impl<R: Read> Input<R> {
    pub(super) fn new(path: &Path, inner: R, cap: u64) -> Input<R> {
        Input {
            inner,
            path: path.to_path_buf(),
            cap,
            buf: vec![0; BLOCK + 4],
            pos: 0,
            end: 0,
            filled: 0,
            read: 0,
            lines: 0,
            failure: None,
        }
    }

    /// The 1-based line of the next byte to be handed on.
    pub(super) fn line(&self) -> usize {
        self.lines + 1
    }

    /// The error that stopped reading, if reading stopped; else `other`.
    pub(super) fn explain(&mut self, other: Error) -> Error {
        self.failure.take().unwrap_or(other)
    }

    fn fail(&mut self, reason: String) -> std::io::Error {
        self.failure = Some(Error::BadFile {
            path: self.path.clone(),
            reason,
        });
        std::io::Error::other("the snapshot could not be read")
    }

    /// Reads the next block; false at the end of the file.
    fn refill(&mut self) -> std::io::Result<bool> {
        // Keep a split character's first bytes at the front.
        self.buf.copy_within(self.end..self.filled, 0);
        self.filled -= self.end;
        self.pos = 0;
        self.end = 0;
        loop {
            let carried = self.filled;
            let n = match self.inner.read(&mut self.buf[carried..carried + BLOCK]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failure = Some(Error::ReadFile {
                        path: self.path.clone(),
                        source: std::io::Error::new(e.kind(), e.to_string()),
                    });
                    return Err(e);
                }
            };
            if n == 0 {
                if carried > 0 {
                    return Err(self.fail(format!("not UTF-8 text ({EXPECTED})")));
                }
                return Ok(false);
            }
            let block = &self.buf[carried..carried + n];
            if let Some(at) = block.iter().position(|b| *b == 0) {
                let offset = self.read + at as u64;
                return Err(self.fail(format!(
                    "not text: a NUL byte at offset {offset} ({EXPECTED})"
                )));
            }
            self.read += n as u64;
            if self.read > self.cap {
                return Err(self.fail(format!(
                    "larger than {}, the cap for a snapshot; is it the right file?",
                    crate::limits::human(self.cap)
                )));
            }
            self.filled = carried + n;
            let valid = match std::str::from_utf8(&self.buf[..self.filled]) {
                Ok(_) => self.filled,
                // A character cut by the end of the block: the rest comes with the next one.
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => return Err(self.fail(format!("not UTF-8 text ({EXPECTED})"))),
            };
            self.end = valid;
            if valid > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("the snapshot could not be read"));
        }
        if self.pos == self.end && !self.refill()? {
            return Ok(&[]);
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        let taken = &self.buf[self.pos..self.pos + amt];
        self.lines += taken.iter().filter(|b| **b == b'\n').count();
        self.pos += amt;
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8], block_reads: usize) -> (Result<String, String>, usize) {
        // A reader that hands out at most `block_reads` bytes per read, to split characters.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut input = Input::new(Path::new("s.yaml"), Trickle(bytes, block_reads), 1 << 20);
        let mut text = String::new();
        let r = input.read_to_string(&mut text);
        let lines = input.line();
        match r {
            Ok(_) => (Ok(text), lines),
            Err(e) => (
                Err(input.explain(Error::Api(e.to_string())).to_string()),
                lines,
            ),
        }
    }

    #[test]
    fn characters_split_across_reads_are_whole_and_lines_are_counted() {
        let text = "kind: Pod\nname: café-ü-€-😀\n";
        for step in 1..6 {
            assert_eq!(all(text.as_bytes(), step), (Ok(text.to_string()), 3));
        }
    }

    #[test]
    fn nul_bytes_bad_utf8_and_endless_files_are_named() {
        let (r, _) = all(b"k: v\n\0", 3);
        assert!(r.unwrap_err().ends_with(
            "not text: a NUL byte at offset 5 (expected kubectl get -o yaml|json output)"
        ));
        let (r, _) = all(&[b'k', b':', b' ', 0xff, 0xfe], 2);
        assert!(
            r.unwrap_err()
                .ends_with("not UTF-8 text (expected kubectl get -o yaml|json output)")
        );
        let (r, _) = all(&[b'k', 0xc3], 1);
        assert!(r.unwrap_err().contains("not UTF-8 text"));
        let mut input = Input::new(Path::new("s"), std::io::repeat(b'a'), 1 << 20);
        let e = input.read_to_end(&mut Vec::new()).unwrap_err();
        let e = input.explain(Error::Api(e.to_string())).to_string();
        assert!(
            e.ends_with("larger than 1 MiB, the cap for a snapshot; is it the right file?"),
            "{e}"
        );
    }
}
