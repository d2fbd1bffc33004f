//! The commands the documentation shows, found by structure: fenced shell blocks of README.md
//! and the `Examples:` section of every subcommand's `--help` (as `pulldoctor` and as the
//! kubectl plugin), and the shell words of one command line.
//!
//! README blocks tagged `sh`, `bash` or `shell` hold one command per line (a trailing `\`
//! continues it; `#` starts a comment). A `console` block shows a session: `$ ` lines are
//! commands and the lines under one are what it prints; a line `…` stands for lines left out,
//! and a line ending in ` …` for the rest of that line.

use std::path::Path;
use std::process::{Command, Stdio};

/// One command as the documentation shows it.
#[derive(Debug, Clone)]
pub struct Example {
    /// Where it is shown: `README.md:12`, `pulldoctor pod --help`.
    pub source: String,
    /// The command line.
    pub line: String,
    /// The output shown under it (console blocks only).
    pub shown: Vec<String>,
}

/// Every command of README.md's shell and console blocks, in order.
pub fn readme(root: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let mut out: Vec<Example> = Vec::new();
    let mut fence: Option<String> = None;
    let mut pending = String::new();
    for (n, line) in text.lines().enumerate() {
        let source = format!("README.md:{}", n + 1);
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim().to_string()),
            };
            continue;
        }
        match fence.as_deref() {
            Some("sh" | "bash" | "shell") => {
                let body = line.trim();
                if pending.is_empty() && (body.is_empty() || body.starts_with('#')) {
                    continue;
                }
                match body.strip_suffix('\\') {
                    Some(head) => pending.push_str(head),
                    None => {
                        pending.push_str(body);
                        out.push(Example {
                            source,
                            line: std::mem::take(&mut pending),
                            shown: Vec::new(),
                        });
                    }
                }
            }
            Some("console") => match line.strip_prefix("$ ") {
                Some(command) => out.push(Example {
                    source,
                    line: command.trim().to_string(),
                    shown: Vec::new(),
                }),
                None => {
                    if let Some(last) = out.last_mut() {
                        last.shown.push(line.trim_end().to_string());
                    }
                }
            },
            _ => {}
        }
    }
    out
}

/// Runs `program ARGS`, for its help text.
fn help(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .output()
        .expect("run for --help");
    assert!(out.status.success(), "{} {args:?} fails", program.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The indented lines under a `heading` line of a help text, until a blank or unindented line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .collect()
}

/// The `Examples:` of the main help and of each subcommand's, run through `program` (the
/// binary itself or its plugin name).
pub fn help_examples(program: &Path) -> Vec<Example> {
    let main = help(program, &["--help"]);
    let name = program.file_name().unwrap().to_string_lossy().into_owned();
    let mut out: Vec<Example> = section(&main, "Examples:")
        .into_iter()
        .map(|l| Example {
            source: format!("{name} --help"),
            line: l.to_string(),
            shown: Vec::new(),
        })
        .collect();
    let subcommands: Vec<String> = section(&main, "Commands:")
        .into_iter()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .map(str::to_string)
        .collect();
    assert!(subcommands.len() >= 4, "no subcommands in:\n{main}");
    for sub in subcommands {
        let text = help(program, &[&sub, "--help"]);
        for line in section(&text, "Examples:") {
            out.push(Example {
                source: format!("{name} {sub} --help"),
                line: line.to_string(),
                shown: Vec::new(),
            });
        }
    }
    out
}

/// One command line as a POSIX shell reads it (the subset the documentation uses): pipeline
/// stages of words, and the files output is redirected to.
#[derive(Debug, Default)]
pub struct Words {
    pub stages: Vec<Vec<String>>,
    pub redirects: Vec<String>,
}

/// Splits `line` into stages and words: quotes, backslash escapes, `|`, `>` and comments.
pub fn words(line: &str) -> Words {
    let mut out = Words::default();
    let mut stage: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut redirect = false;
    let mut chars = line.chars().peekable();
    let mut end_word = |word: &mut Option<String>, stage: &mut Vec<String>, redirect: &mut bool| {
        if let Some(w) = word.take() {
            if *redirect {
                out.redirects.push(w);
                *redirect = false;
            } else {
                stage.push(w);
            }
        }
    };
    let mut stages = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$')) => {
                            w.push(chars.next().unwrap())
                        }
                        _ => w.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    word.get_or_insert_with(String::new).push(n);
                }
            }
            '#' if word.is_none() => break,
            '|' | '>' => {
                end_word(&mut word, &mut stage, &mut redirect);
                if c == '|' {
                    stages.push(std::mem::take(&mut stage));
                } else {
                    redirect = true;
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut stage, &mut redirect),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut stage, &mut redirect);
    stages.push(stage);
    out.stages = stages.into_iter().filter(|s| !s.is_empty()).collect();
    out
}

/// Checks `actual` against the output a console block shows: the shown lines in order, each
/// run between `…` lines contiguous; a line ending in ` …` matches by its beginning.
pub fn shows(shown: &[String], actual: &str) -> Result<(), String> {
    let lines: Vec<&str> = actual.lines().map(str::trim_end).collect();
    let matches = |want: &str, got: &str| match want.strip_suffix(" …") {
        Some(head) => got.starts_with(head),
        None => want == got,
    };
    let mut from = 0;
    for run in shown.split(|l| l.trim() == "…") {
        if run.is_empty() {
            continue;
        }
        let at = (from..lines.len().saturating_sub(run.len() - 1))
            .find(|&i| run.iter().zip(&lines[i..]).all(|(w, g)| matches(w, g)));
        match at {
            Some(i) => from = i + run.len(),
            None => return Err(format!("not printed (in this order):\n{}", run.join("\n"))),
        }
    }
    Ok(())
}

#[test]
fn examples_words_split_as_a_shell_does() {
    let w = words(r#"kubectl describe pod x | pulldoctor explain - # pasted text"#);
    assert_eq!(
        w.stages,
        [
            vec!["kubectl", "describe", "pod", "x"],
            vec!["pulldoctor", "explain", "-"]
        ]
    );
    let w = words(r#"pulldoctor explain --message 'a "b": c' > "${fpath[1]}/_x""#);
    assert_eq!(
        w.stages,
        [vec!["pulldoctor", "explain", "--message", "a \"b\": c"]]
    );
    assert_eq!(w.redirects, ["${fpath[1]}/_x"]);
    let shown: Vec<String> = ["a", "…", "c …", "d"].map(String::from).to_vec();
    assert!(shows(&shown, "a\nb\nc d e\nd\n").is_ok());
    assert!(shows(&shown, "a\nd\nc d e\n").is_err());
}
