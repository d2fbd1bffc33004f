//! One object a snapshot splitter hands on (a whole document, or one item of a `…List`), and
//! the line arithmetic its parse errors need.
//!
//! Shared by the YAML splitter (`documents.rs`) and the JSON reader (`json.rs`), so that neither
//! imports the other's internals.

use serde_json::Value;

/// One top-level document, or one item of a `…List`.
pub(super) enum Doc {
    Whole(usize, Value),
    Item {
        line: usize,
        kind: String,
        index: usize,
        value: Value,
    },
}

/// Rewrites "line N" in a parser message by `offset`: the parser counts from the start of the
/// document (or value), the user from the start of the file.
pub(super) fn shift_lines(message: &str, offset: usize) -> String {
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
