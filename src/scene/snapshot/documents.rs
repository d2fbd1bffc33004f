//! Splitting a snapshot into objects as the file is read, each handed on (and freed) before
//! the next is parsed: concatenated JSON values (`json.rs`), a multi-document YAML stream, or
//! a kubectl YAML `List`, whose items are parsed one by one as each one's last line is read.
//!
//! Nothing here holds the file: a YAML document is held as text until its `---` (a kubectl
//! `List` only one item at a time, plus its few top-level lines), so a 35 MB stream of 60,000
//! documents, or one 200 MB `List`, is read in the memory of its largest object plus what the
//! command keeps.

use std::io::{BufRead, Read};
use std::path::Path;

use serde_json::Value;

use super::doc::{Doc, shift_lines};
use super::input::Input;
use super::json::{json_documents, not_a_list};
use super::yaml::{MAX_DEPTH, too_deep};
use crate::{Error, Result};

/// Hands each document of `input` to `on`, with the line it starts on.
pub(super) fn documents<R: Read>(
    path: &Path,
    input: &mut Input<R>,
    mut on: impl FnMut(Doc) -> Result<()>,
) -> Result<()> {
    let bad = |line: usize, reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let read_error = |input: &mut Input<R>, e: std::io::Error| {
        let e = bad(input.line(), format!("cannot read: {e}"));
        input.explain(e)
    };
    // JSON when the first character that is not whitespace opens an object or an array.
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) => return Err(read_error(input, e)),
        };
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) if matches!(buf[at], b'{' | b'[') => {
                return json_documents(input, &bad, &mut on);
            }
            Some(_) => break,
            None if buf.is_empty() => return Ok(()),
            // A block of blank lines: drop the whole lines, keep a partial one's indentation.
            None => match buf.iter().rposition(|b| *b == b'\n') {
                Some(nl) => input.consume(nl + 1),
                None => break,
            },
        }
    }
    let mut doc = YamlDoc::new(input.line());
    let mut line = String::new();
    loop {
        line.clear();
        let lineno = input.line();
        if input
            .read_line(&mut line)
            .map_err(|e| read_error(input, e))?
            == 0
        {
            break;
        }
        let l = line.trim_end_matches(['\n', '\r']);
        if l.trim_end() == "---" || l.starts_with("--- ") || l.trim_end() == "..." {
            let next = std::mem::replace(&mut doc, YamlDoc::new(lineno + 1));
            next.finish(path, &mut on)?;
            if let Some(rest) = line.strip_prefix("--- ") {
                doc = YamlDoc::new(lineno);
                doc.push(path, rest, lineno, &mut on)?;
            }
            continue;
        }
        doc.push(path, &line, lineno, &mut on)?;
    }
    doc.finish(path, &mut on)
}

/// One YAML document being read: whole, or (laid out as kubectl writes a `List`: `items:` at
/// column 0, each entry a column-0 `- ` with its lines indented under it) item by item.
struct YamlDoc {
    /// The line the document starts on.
    start: usize,
    /// The document's text, while it may still have to be parsed whole (until its first list
    /// item starts).
    whole: Option<String>,
    /// Where the last column-0 `items:` line starts in `whole`.
    items_at: Option<usize>,
    /// Whether the lines read are under `items:`.
    in_items: bool,
    /// A list's top-level lines other than its items (kind, apiVersion, metadata).
    head: String,
    /// The item being read: its first line and its text.
    item: Option<(usize, String)>,
    /// Items handed on or waiting so far.
    index: usize,
    /// Items without their own kind, waiting for the list's (read at its end).
    waiting: Vec<(usize, Value)>,
}

impl YamlDoc {
    fn new(start: usize) -> YamlDoc {
        YamlDoc {
            start,
            whole: Some(String::new()),
            items_at: None,
            in_items: false,
            head: String::new(),
            item: None,
            index: 0,
            waiting: Vec::new(),
        }
    }

    /// Takes one line (with its newline) of the document.
    fn push(
        &mut self,
        path: &Path,
        line: &str,
        lineno: usize,
        on: &mut impl FnMut(Doc) -> Result<()>,
    ) -> Result<()> {
        let top_level = !line.starts_with([' ', '\t', '#', '\n', '\r']);
        if self.in_items && (line.starts_with("- ") || line.trim_end() == "-") {
            self.end_item(path, on)?;
            if let Some(whole) = self.whole.take() {
                // The first item: from here on the document is read as a list.
                let at = self.items_at.unwrap_or(whole.len());
                self.head = whole[..at].to_string();
                let rest = &whole[at..];
                self.head
                    .push_str(rest.split_once('\n').map_or("", |(_, after)| after));
            }
            self.item = Some((lineno, line.to_string()));
            return Ok(());
        }
        if top_level {
            self.end_item(path, on)?;
            self.in_items = line.trim_end() == "items:";
        }
        if let Some(whole) = &mut self.whole {
            if self.in_items && top_level {
                self.items_at = Some(whole.len());
            } else if self.in_items
                && !line.trim().is_empty()
                && !line.trim_start().starts_with('#')
            {
                // Something under `items:` that is not a column-0 entry: not kubectl's layout,
                // so the document is parsed whole.
                self.in_items = false;
                self.items_at = None;
            }
            whole.push_str(line);
            return Ok(());
        }
        if self.in_items && top_level {
            // A second `items:` once items were read: YAML allows a key once.
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!("line {lineno}: invalid YAML: duplicate entry with key \"items\""),
            });
        }
        match &mut self.item {
            Some((_, text)) => text.push_str(line),
            None => self.head.push_str(line),
        }
        Ok(())
    }

    /// Parses the item just read and hands it on (or keeps it until the list's kind is known).
    fn end_item(&mut self, path: &Path, on: &mut impl FnMut(Doc) -> Result<()>) -> Result<()> {
        let Some((at, text)) = self.item.take() else {
            return Ok(());
        };
        let index = self.index;
        self.index += 1;
        check_depth(path, &text, at)?;
        let value = match parse(path, &text, at)? {
            Value::Array(mut one) if one.len() == 1 => one.remove(0),
            _ => {
                return Err(Error::BadFile {
                    path: path.to_path_buf(),
                    reason: format!("line {at}: item {index} of the list: not one object"),
                });
            }
        };
        if value.get("kind").is_none() {
            self.waiting.push((index, value));
            return Ok(());
        }
        on(Doc::Item {
            line: self.start,
            kind: head_kind(&self.head).unwrap_or_else(|| "List".to_string()),
            index,
            value,
        })
    }

    /// Ends the document: parses it whole, or ends its list.
    fn finish(mut self, path: &Path, on: &mut impl FnMut(Doc) -> Result<()>) -> Result<()> {
        if let Some(whole) = self.whole.take() {
            return whole_document(path, &whole, self.start, on);
        }
        self.end_item(path, on)?;
        check_depth(path, &self.head, self.start)?;
        let head = parse(path, &self.head, self.start)?;
        let kind = head
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !kind.ends_with("List") {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!("line {}: {}", self.start, not_a_list(&kind)),
            });
        }
        for (index, value) in self.waiting {
            on(Doc::Item {
                line: self.start,
                kind: kind.clone(),
                index,
                value,
            })?;
        }
        Ok(())
    }
}

/// The list's kind as its top-level lines read so far give it (`kind: List`), for naming an
/// item in an error before the list's own line is read.
fn head_kind(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let v = l.strip_prefix("kind:")?.trim();
        let v = v.trim_matches(['"', '\'']);
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// Refuses text nested deeper than any Kubernetes object before the parser sees it.
fn check_depth(path: &Path, text: &str, line: usize) -> Result<()> {
    match too_deep(text) {
        Some(at) => Err(Error::BadFile {
            path: path.to_path_buf(),
            reason: format!(
                "line {}: nested more than {MAX_DEPTH} levels deep; no Kubernetes object is, \
                 so this is not kubectl output (refused before parsing)",
                line + at - 1
            ),
        }),
        None => Ok(()),
    }
}

/// Parses one YAML document starting on `line` whole.
fn whole_document(
    path: &Path,
    chunk: &str,
    line: usize,
    on: &mut impl FnMut(Doc) -> Result<()>,
) -> Result<()> {
    if chunk.trim().is_empty() {
        return Ok(());
    }
    check_depth(path, chunk, line)?;
    let value = parse(path, chunk, line)?;
    if value.is_null() {
        return Ok(());
    }
    on(Doc::Whole(line, value))
}

/// Parses YAML text that starts on `line` of the file.
fn parse(path: &Path, text: &str, line: usize) -> Result<Value> {
    serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e.location().map_or(line, |l| line + l.line() - 1);
        Error::BadFile {
            path: path.to_path_buf(),
            reason: format!(
                "line {at}: invalid YAML: {}",
                shift_lines(&e.to_string(), line - 1)
            ),
        }
    })
}
