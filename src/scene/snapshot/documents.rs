//! Splitting snapshot text into objects one at a time, each handed on (and freed) before the
//! next is parsed: concatenated JSON values, a multi-document YAML stream, or a kubectl YAML
//! `List`, whose items are parsed one by one (see `yaml.rs`).
//!
//! A 200 MB `kubectl get … -o yaml` parsed as one tree takes gigabytes; item by item it takes
//! the text plus what the command keeps.

use std::path::Path;

use serde_json::Value;

use super::yaml::{MAX_DEPTH, split_list, too_deep};
use crate::{Error, Result};

/// One top-level document, or one item of a YAML `List` split by its layout.
pub(super) enum Doc {
    Whole(usize, Value),
    Item {
        line: usize,
        kind: String,
        index: usize,
        value: Value,
    },
}

/// Hands each document of `text` to `on`, with the line it starts on.
pub(super) fn documents(
    path: &Path,
    text: &str,
    mut on: impl FnMut(Doc) -> Result<()>,
) -> Result<()> {
    let bad = |line: usize, reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let (mut start, mut line) = (0, 1);
        while let Some(next) = stream.next() {
            let value = next.map_err(|e| bad(e.line(), format!("invalid JSON: {e}")))?;
            let skipped = text[start..].len() - text[start..].trim_start().len();
            line += text[start..start + skipped].matches('\n').count();
            let at = line;
            line += text[start + skipped..stream.byte_offset()]
                .matches('\n')
                .count();
            start = stream.byte_offset();
            match value {
                Value::Array(items) => {
                    for v in items {
                        on(Doc::Whole(at, v))?;
                    }
                }
                v => on(Doc::Whole(at, v))?,
            }
        }
        return Ok(());
    }
    let mut chunk_start = 0;
    let mut chunk_line = 1;
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let lineno = i + 1;
        let line_start = offset;
        offset += l.len();
        let l = l.trim_end_matches(['\n', '\r']);
        if l.trim_end() == "---" || l.starts_with("--- ") || l.trim_end() == "..." {
            yaml_document(path, &text[chunk_start..line_start], chunk_line, &mut on)?;
            chunk_start = offset;
            chunk_line = lineno + 1;
            if l.starts_with("--- ") {
                chunk_start = line_start + 4;
                chunk_line = lineno;
            }
        }
    }
    yaml_document(path, &text[chunk_start..], chunk_line, &mut on)
}

/// Parses one YAML document starting on `line`: item by item when it is a kubectl `List`.
fn yaml_document(
    path: &Path,
    chunk: &str,
    line: usize,
    on: &mut impl FnMut(Doc) -> Result<()>,
) -> Result<()> {
    if chunk.trim().is_empty() {
        return Ok(());
    }
    if let Some(at) = too_deep(chunk) {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            reason: format!(
                "line {}: nested more than {MAX_DEPTH} levels deep; no Kubernetes object is, \
                 so this is not kubectl output (refused before parsing)",
                line + at - 1
            ),
        });
    }
    if let Some(list) = split_list(chunk) {
        let head = parse(path, &list.head, line)?;
        let kind = head
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if kind.ends_with("List") {
            for (index, (at, text)) in list.items.into_iter().enumerate() {
                let item_line = line + at;
                let value = match parse(path, text, item_line)? {
                    Value::Array(mut one) if one.len() == 1 => one.remove(0),
                    _ => {
                        return Err(Error::BadFile {
                            path: path.to_path_buf(),
                            reason: format!(
                                "line {item_line}: item {index} of the {kind}: not one object"
                            ),
                        });
                    }
                };
                on(Doc::Item {
                    line,
                    kind: kind.clone(),
                    index,
                    value,
                })?;
            }
            return Ok(());
        }
    }
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

/// Rewrites "line N" in a parser message by `offset`: the YAML parser counts from the start of
/// the document, the user from the start of the file.
fn shift_lines(message: &str, offset: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        match tail[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
