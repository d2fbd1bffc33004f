//! One command run every way a user could run it — each output format at `-v` and `-vv` — and
//! the checks that a secret is absent in any form and that terminal output is inert.
//!
//! A secret can be echoed as written, URL-encoded, or base64-encoded at any byte offset of a
//! longer encoded string (a `Basic` header encodes `user:password`). Rather than list those
//! forms, [`assert_hidden`] decodes what was printed: every percent-escape, and every run of
//! base64 characters at each of its four character offsets, must not yield the secret.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

/// The formats a report can be drawn in.
pub const FORMATS: [&str; 4] = ["table", "json", "text", "markdown"];

/// One run of the binary in one format at one verbosity.
pub struct Way {
    pub format: &'static str,
    pub verbosity: &'static str,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Way {
    /// `table at -vv`, for failure messages.
    pub fn name(&self) -> String {
        format!("-o {} {}", self.format, self.verbosity)
    }
}

/// Runs `pulldoctor ARGS -o FORMAT -v|-vv` for every format and verbosity, with `stdin` piped.
pub fn every_way(args: &[String], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Vec<Way> {
    let home = tempfile::tempdir().unwrap();
    let mut ways = Vec::new();
    for format in FORMATS {
        for verbosity in ["-v", "-vv"] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
                .args(args)
                .args(["-o", format, verbosity])
                .env_remove("KUBECONFIG")
                .env("DOCKER_CONFIG", home.path())
                .env("HOME", home.path())
                .env("NO_COLOR", "1")
                .envs(env.iter().copied())
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run pulldoctor");
            if let Some(input) = stdin {
                let mut pipe = child.stdin.take().unwrap();
                let input = input.to_vec();
                // A writer thread: the child may stop reading (and exit) before all is written.
                std::thread::spawn(move || {
                    let _ = pipe.write_all(&input);
                });
            }
            let Output {
                status,
                stdout,
                stderr,
            } = child.wait_with_output().expect("wait for pulldoctor");
            ways.push(Way {
                format,
                verbosity,
                code: status.code(),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
    }
    ways
}

/// Fails when `secret` can be read back from stdout or stderr of any run, in any encoding.
pub fn assert_hidden(ways: &[Way], secret: &str) {
    for w in ways {
        for (stream, text) in [("stdout", &w.stdout), ("stderr", &w.stderr)] {
            if let Some(how) = reveals(text, secret) {
                panic!(
                    "{} {stream} reveals the secret {secret:?} {how}:\n{text}",
                    w.name()
                );
            }
        }
    }
}

/// How `text` gives `secret` away, if it does.
pub fn reveals(text: &str, secret: &str) -> Option<String> {
    if text.contains(secret) {
        return Some("as written".into());
    }
    if percent_decoded(text, false).contains(secret) || percent_decoded(text, true).contains(secret)
    {
        return Some("URL-encoded".into());
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
        && strings(&json).iter().any(|s| s.contains(secret))
    {
        return Some("JSON-escaped".into());
    }
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_');
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 4) {
        let std: String = run
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        // Lenient like Go's decoder: a last partial group and stray trailing bits decode too.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        for offset in 0..4.min(std.len()) {
            let piece = &std[offset..];
            // A lone last character holds no whole byte.
            let piece = &piece[..piece.len() - usize::from(piece.len() % 4 == 1)];
            if let Ok(bytes) = engine.decode(piece)
                && String::from_utf8_lossy(&bytes).contains(secret)
            {
                return Some(format!("in base64 ({run})"));
            }
        }
    }
    None
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn percent_decoded(text: &str, plus_is_space: bool) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Fails when a terminal format (table, text, markdown) or stderr carries a control character
/// other than the newline, or a bidi override; JSON must parse, and carry `raw` intact if given.
pub fn assert_inert(ways: &[Way], raw: Option<&str>) {
    for w in ways {
        for (stream, text) in [("stdout", &w.stdout), ("stderr", &w.stderr)] {
            if w.format == "json" && stream == "stdout" {
                continue;
            }
            let bad: Vec<char> = text
                .chars()
                .filter(|&c| {
                    (c.is_control() && c != '\n')
                        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                })
                .collect();
            assert!(
                bad.is_empty(),
                "{} {stream} carries {bad:?} to the terminal:\n{text}",
                w.name()
            );
        }
        if w.format == "json"
            && let Some(raw) = raw
        {
            let json: serde_json::Value = serde_json::from_str(&w.stdout)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", w.name(), w.stdout));
            assert!(
                strings(&json).iter().any(|s| s.contains(raw)),
                "{}: JSON should keep {raw:?} as data:\n{}",
                w.name(),
                w.stdout
            );
        }
    }
}

#[test]
fn the_decoder_finds_every_form_it_must() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = "p+w/ x?";
    assert!(reveals("ok", s).is_none());
    assert!(reveals(&format!("a {s} b"), s).is_some());
    assert!(reveals("a p%2Bw%2F%20x%3F b", s).is_some());
    assert!(reveals("a p%2Bw%2F+x%3F b", s).is_some());
    for prefix in ["", "u", "us", "use", "user:"] {
        let text = format!("Basic {}", b64(&format!("{prefix}{s}")));
        assert!(reveals(&text, s).is_some(), "{text}");
    }
    assert!(reveals(r#"{"m":"p+w/ x?"}"#, s).is_some());
}
