//! Pure: suggested commands built as argv and quoted once, the POSIX way, so pasting one runs
//! exactly the argv pulldoctor meant and nothing a cluster or registry wrote.
//!
//! A word is left bare only when every character is inert in every POSIX shell (and in bash's
//! interactive extras: brace expansion, history `!`); otherwise it is wrapped in single quotes,
//! inside which `sh` interprets nothing, with each `'` written as `'\''`
//! (<https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02_02>).
//! `split` is the inverse for the words `quote` writes: the fuzz target and the tests use it to
//! check that every suggested command parses back to the argv it was built from.

/// How one simple command of a script joins the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `a | b`: b reads a's output.
    Pipe,
    /// `a && b`: b runs when a succeeds.
    And,
}

impl Join {
    fn text(self) -> &'static str {
        match self {
            Join::Pipe => "|",
            Join::And => "&&",
        }
    }
}

/// A command line: one or more argvs joined by `|` or `&&`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// The simple commands, in order; the first one's join is ignored.
    pub commands: Vec<(Join, Vec<String>)>,
}

impl Script {
    /// A script of one command.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Script {
        Script {
            commands: vec![(Join::And, argv.into_iter().map(Into::into).collect())],
        }
    }

    /// Appends `argv`, fed the previous command's output.
    pub fn pipe<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Script {
        self.commands
            .push((Join::Pipe, argv.into_iter().map(Into::into).collect()));
        self
    }

    /// Appends `argv`, run when the previous command succeeds.
    pub fn and<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Script {
        self.commands
            .push((Join::And, argv.into_iter().map(Into::into).collect()));
        self
    }

    /// Each simple command's argv, in order.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        self.commands.iter().map(|(_, a)| a.clone()).collect()
    }

    /// The text to paste: every word quoted, commands joined by ` | ` or ` && `.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, (join, argv)) in self.commands.iter().enumerate() {
            if i > 0 {
                out.push(' ');
                out.push_str(join.text());
                out.push(' ');
            }
            let words: Vec<String> = argv.iter().map(|w| quote(w)).collect();
            out.push_str(&words.join(" "));
        }
        out
    }
}

/// True for characters no POSIX shell (nor bash interactively) treats specially anywhere in a
/// word. `=` is safe because no suggested command starts with an assignment; `~` and `#` are
/// special at the start of a word, so they are left out altogether.
fn inert(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.,/:@%+=".contains(c)
}

/// One word, quoted for a POSIX shell: bare when that is safe, else in single quotes. A
/// `--flag=value` word keeps its flag bare (`--overrides='{…}'`), which reads better and is the
/// same word to the shell.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(inert) {
        return word.to_string();
    }
    if word.starts_with("--")
        && let Some((flag, value)) = word.split_once('=')
        && flag.len() > 2
        && flag.chars().all(inert)
    {
        return format!("{flag}={}", single_quote(value));
    }
    single_quote(word)
}

fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Why `split` refused a text: it holds shell syntax `quote` never writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError(pub String);

/// Splits a command line written by `render` back into its argvs, as a POSIX shell would:
/// single quotes, backslash escapes outside them, blanks between words, and `|` / `&&` between
/// commands. Anything a shell could expand or treat as an operator (`$`, backticks, `;`, double
/// quotes, globs, redirections, `#`, `~`, braces) is refused rather than guessed.
pub fn split(text: &str) -> Result<Vec<Vec<String>>, SplitError> {
    let mut commands = vec![Vec::new()];
    let mut chars = text.chars().peekable();
    let mut word: Option<String> = None;
    let end_word = |word: &mut Option<String>, commands: &mut Vec<Vec<String>>| {
        if let Some(w) = word.take() {
            commands.last_mut().expect("one command").push(w);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => end_word(&mut word, &mut commands),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => w.push(q),
                        None => return Err(SplitError("unterminated single quote".into())),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => return Err(SplitError("dangling backslash".into())),
                Some(e) => word.get_or_insert_with(String::new).push(e),
            },
            '|' | '&' if word.is_none() => {
                let op = if c == '&' {
                    if chars.next() != Some('&') {
                        return Err(SplitError("background `&`".into()));
                    }
                    "&&"
                } else {
                    "|"
                };
                if chars.peek() == Some(&'|') || chars.peek() == Some(&'&') {
                    return Err(SplitError(format!("operator after {op}")));
                }
                if commands.last().is_none_or(Vec::is_empty) {
                    return Err(SplitError(format!("{op} without a command before it")));
                }
                commands.push(Vec::new());
            }
            c if inert(c) => word.get_or_insert_with(String::new).push(c),
            other => return Err(SplitError(format!("shell syntax {other:?}"))),
        }
    }
    end_word(&mut word, &mut commands);
    if commands.iter().any(Vec::is_empty) {
        return Err(SplitError("empty command".into()));
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_words_stay_bare_and_the_rest_is_single_quoted() {
        assert_eq!(quote("regcred-a.b"), "regcred-a.b");
        assert_eq!(
            quote("--docker-server=reg:5000"),
            "--docker-server=reg:5000"
        );
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a;b"), "'a;b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("--overrides={\"a\":1}"), r#"--overrides='{"a":1}'"#);
        assert_eq!(quote("--=x y"), "'--=x y'");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(quote("#x"), "'#x'");
    }

    #[test]
    fn rendered_scripts_split_back_to_their_argvs() {
        let hostile = [
            "regcred;touch${IFS}PWNED;#",
            "$(id)",
            "`id`",
            "a'b\"c",
            "line\nbreak",
            "-rf",
            "x|y&&z",
            "\\",
            "'",
            "ｒｅｇｃｒｅｄ",
            "{a,b}",
            "!!",
        ];
        for h in hostile {
            let s = Script::new(["kubectl", "get", h])
                .pipe(["jq", h])
                .and(["echo", &format!("--x={h}")]);
            let text = s.render();
            assert_eq!(split(&text), Ok(s.argvs()), "{text}");
        }
    }

    #[test]
    fn split_refuses_what_a_shell_would_expand() {
        for t in [
            "a $(b)", "a;b", "a `b`", "a \"b\"", "a *", "a > b", "a & b", "#a", "a ||b",
        ] {
            assert!(split(t).is_err(), "{t}");
        }
        assert_eq!(
            split("a 'b c' d\\'e | f && g").unwrap(),
            vec![vec!["a", "b c", "d'e"], vec!["f"], vec!["g"]]
        );
    }
}
