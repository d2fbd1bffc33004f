//! Rust source as the tokens that matter for imports: identifiers, punctuation and string
//! literals, with comments and character literals left out.
//!
//! Enough of the lexer in the Rust reference (<https://doc.rust-lang.org/reference/tokens.html>)
//! that a path written in a comment, a doc comment or a string is never taken for an import:
//! line and nested block comments, strings with escapes, raw strings `r#"…"#`, byte strings,
//! and the difference between a character literal `'a'` and a lifetime `'a`.

/// One token, with the line it starts on.
#[derive(Debug, Clone)]
pub struct Tok {
    pub text: String,
    pub line: usize,
    /// An identifier or keyword.
    pub ident: bool,
    /// A string literal's content (the token's text is then `"…"`).
    pub literal: Option<String>,
}

impl Tok {
    /// True for this exact identifier or punctuation.
    pub fn is(&self, s: &str) -> bool {
        self.literal.is_none() && self.text == s
    }
}

/// The tokens of `src`.
pub fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let push = |out: &mut Vec<Tok>, text: String, line: usize, ident: bool| {
        out.push(Tok {
            text,
            line,
            ident,
            literal: None,
        })
    };
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some((hashes, start)) = raw_string_start(&c, i) {
            let at = line;
            let mut j = start;
            let close = |j: usize| c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#'));
            while j < c.len() && !close(j) {
                if c[j] == '\n' {
                    line += 1;
                }
                j += 1;
            }
            let content: String = c[start..j.min(c.len())].iter().collect();
            out.push(literal(content, at));
            i = j + 1 + hashes;
        } else if ch == '"' || (ch == 'b' && next == Some('"')) {
            let at = line;
            let mut j = if ch == 'b' { i + 2 } else { i + 1 };
            let start = j;
            while j < c.len() && c[j] != '"' {
                if c[j] == '\\' {
                    j += 1;
                }
                if c.get(j) == Some(&'\n') {
                    line += 1;
                }
                j += 1;
            }
            let content: String = c[start..j.min(c.len())].iter().collect();
            out.push(literal(content, at));
            i = j + 1;
        } else if ch == '\'' || (ch == 'b' && next == Some('\'')) {
            // A character literal is skipped; a lifetime (`'a` with no closing quote) is too.
            let q = if ch == 'b' { i + 1 } else { i };
            if c.get(q + 1) == Some(&'\\') {
                let mut j = q + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if c.get(q + 2) == Some(&'\'') {
                i = q + 3;
            } else {
                i = q + 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            push(&mut out, c[start..i].iter().collect(), line, true);
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                if c[i] == '.' && !c.get(i + 1).is_some_and(char::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
        } else if ch == ':' && next == Some(':') {
            push(&mut out, "::".to_string(), line, false);
            i += 2;
        } else {
            push(&mut out, ch.to_string(), line, false);
            i += 1;
        }
    }
    out
}

fn literal(content: String, line: usize) -> Tok {
    Tok {
        text: format!("\"{content}\""),
        line,
        ident: false,
        literal: Some(content),
    }
}

/// At `r"`, `r#"`, `br##"`…: how many `#`, and where the content starts.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    // `r` must start the token: not the end of an identifier like `for`.
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

#[test]
fn module_tokens_skip_comments_strings_and_chars() {
    let src = "// crate::a::b\n/* crate::c /* nested */ crate::d */ let s = \"crate::e\";\n\
               let r = r#\"crate::f \"quoted\"\"#; let q = '\"'; fn f<'a>(x: &'a str) { crate::g::h }";
    let idents: Vec<String> = tokens(src)
        .into_iter()
        .filter(|t| t.ident)
        .map(|t| t.text)
        .collect();
    assert_eq!(
        idents,
        [
            "let", "s", "let", "r", "let", "q", "fn", "f", "x", "str", "crate", "g", "h"
        ]
    );
    let lits: Vec<Option<String>> = tokens(src).into_iter().map(|t| t.literal).collect();
    assert!(lits.contains(&Some("crate::f \"quoted\"".to_string())));
    assert_eq!(tokens(src).last().unwrap().line, 3);
}
