//! Pure: the pieces every fix is built from — a command, a file for a node, a note.
//!
//! Kept apart from the fixes themselves so that each fix module (`fix`, `image_fix`,
//! `node_fix`, `owner_fix`, `ci_fix`) depends on this one and never on another's dispatcher.

use serde::Serialize;

use super::names::Rejected;
use super::shell::Script;

/// What kind of step a fix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixKind {
    /// A shell command to run.
    Command,
    /// A file to write on a node, with its path in the title.
    File,
    /// Advice that needs a person's judgement.
    Note,
}

/// One step of a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// What the step does.
    pub title: String,
    /// Command, file or note.
    pub kind: FixKind,
    /// The text to paste (may span lines).
    pub text: String,
    /// For a command: the argv of each simple command in `text`, in order, exactly as a POSIX
    /// shell splits `text` (for automation that runs it without a shell).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<Vec<String>>,
}

/// A step, or the value that kept it from being written.
pub(crate) type Step = Result<Fix, Rejected>;

pub(crate) fn command(title: impl Into<String>, script: Script) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::Command,
        text: script.render(),
        argv: script.argvs(),
    }
}

pub(crate) fn file(title: impl Into<String>, text: impl Into<String>) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::File,
        text: text.into(),
        argv: Vec::new(),
    }
}

pub(crate) fn note(text: impl Into<String>) -> Fix {
    let text = text.into();
    Fix {
        title: text.clone(),
        kind: FixKind::Note,
        text,
        argv: Vec::new(),
    }
}

/// The steps, each rejected value replaced by its note (once, however many steps it spoiled).
pub(crate) fn steps(steps: impl IntoIterator<Item = Step>) -> Vec<Fix> {
    let mut out: Vec<Fix> = Vec::new();
    for s in steps {
        let fix = s.unwrap_or_else(|r| r.note());
        if !out.contains(&fix) {
            out.push(fix);
        }
    }
    out
}
