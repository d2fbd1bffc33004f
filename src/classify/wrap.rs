//! Text a terminal hard-wrapped, read whole again.
//!
//! A terminal that wraps a long `kubectl describe` row at its width, and a user who pastes the
//! result, cut the text at a column, not at a word: a digest, an image reference or a registry
//! URL ends up across two lines, and joining the lines with a space splits it. Two signals undo
//! that without guessing at words: the structure of the token itself (a digest is exactly as long
//! as its algorithm says, a quoted reference holds no whitespace, Go always ends an unquoted
//! registry URL with `:`), and, for a whole paste, the wrap width (every cut line fills it to the
//! last column, and its continuation starts at column 0).

use super::text::cap;

/// True when a line break between `before` and `after` fell inside one token that cannot hold
/// whitespace, as a terminal's hard wrap of a long event does: a digest shorter than its
/// algorithm's length, an image reference between quotes (`"host/app@sha25` + `6:…": …`), or an
/// unquoted registry URL, which Go always ends with `:` (`Get https://r/v2/app/m` + `anifests…:`).
pub fn splits_token(before: &str, after: &str) -> bool {
    // Only the text near the break counts, so a line break costs the same however long the
    // text around it (a token longer than the window is no reference).
    const WINDOW: usize = 640;
    let mut from = before.len().saturating_sub(WINDOW);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let (before, after) = (&before[from..], cap(after, WINDOW));
    let token = |c: char| c.is_ascii_alphanumeric() || "._:/@-%?=&+".contains(c);
    let head = before.trim_end_matches(token);
    let left = &before[head.len()..];
    let right = &after[..after.find(|c: char| !token(c)).unwrap_or(after.len())];
    if left.is_empty() || (head.is_empty() && from > 0) {
        return false;
    }
    // A digest cut short, continued by hex digits.
    for (algo, len) in [("sha256:", 64), ("sha512:", 128)] {
        if let Some(at) = left.rfind(algo) {
            let hex = &left[at + algo.len()..];
            let continues = right.starts_with(|c: char| c.is_ascii_hexdigit());
            if hex.bytes().all(|b| b.is_ascii_hexdigit()) && hex.len() < len && continues {
                return true;
            }
        }
    }
    // Opened by a quote and closed by one with no whitespace in between.
    let opened = head.trim_end_matches('\\').ends_with('"');
    let closed = after[right.len()..]
        .trim_start_matches('\\')
        .starts_with('"');
    if opened && closed {
        return true;
    }
    // An unquoted registry URL not yet ended by its `:`.
    let api = left.contains("://") && (left.contains("/v2") || left.contains("/v1/"));
    api && !left.ends_with(':') && !right.is_empty()
}

/// The column a terminal hard-wrapped the paste at: the length of its longest lines, when at
/// least two lines reach it (one long line alone may just be long).
pub fn width(text: &str) -> Option<usize> {
    let (mut width, mut count) = (0, 0);
    for line in text.lines() {
        let n = line.trim_end().chars().count();
        if n > width {
            (width, count) = (n, 1);
        } else if n == width {
            count += 1;
        }
    }
    (width >= 40 && count >= 2).then_some(width)
}

/// True when `line` continues `previous` mid-token: `previous` filled the wrap width to its last
/// column and `line` starts at column 0, so the terminal cut a word, not the writer.
pub fn continues_token(previous: &str, line: &str, wrap: Option<usize>) -> bool {
    wrap.is_some_and(|w| previous.chars().count() == w)
        && line.starts_with(|c: char| !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::super::text::normalise;
    use super::*;

    #[test]
    fn rejoins_tokens_a_hard_wrap_split() {
        let d = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        // A digest cut short, wherever the quote is.
        let t = format!("image \"r.test/app@sha256:{}\n{}\": x", &d[..20], &d[20..]);
        assert_eq!(normalise(&t), format!("image \"r.test/app@sha256:{d}\": x"));
        let t = format!(
            "reading manifest sha256:{}\n{} in r.test/app",
            &d[..7],
            &d[7..]
        );
        assert_eq!(
            normalise(&t),
            format!("reading manifest sha256:{d} in r.test/app")
        );
        // A quoted reference split anywhere, also right before its closing quote.
        let t = "pull image \"index.docker.io/\njaeger/all-in-one:1.4\": rpc error";
        assert_eq!(
            normalise(t),
            "pull image \"index.docker.io/jaeger/all-in-one:1.4\": rpc error"
        );
        assert_eq!(normalise("image \"a/b:1\n\": x"), "image \"a/b:1\": x");
        // A registry URL before its colon.
        let t = "code https://r.test/v2/app/m\nanifests/1.0: 429";
        assert_eq!(
            normalise(t),
            "code https://r.test/v2/app/manifests/1.0: 429"
        );
        // Ordinary wrapping between words keeps its space.
        assert_eq!(
            normalise("failed to\npull \"a b\n c\""),
            "failed to pull \"a b c\""
        );
        assert_eq!(
            normalise("image \"a/b:1\": rpc\nerror"),
            "image \"a/b:1\": rpc error"
        );
        assert_eq!(
            normalise("Get https://r.test/v2/:\ndial tcp"),
            "Get https://r.test/v2/: dial tcp"
        );
        let full = format!("sha256:{d}\nnext");
        assert_eq!(normalise(&full), format!("sha256:{d} next"));
    }

    #[test]
    fn a_paste_s_wrap_width_needs_two_full_lines() {
        let row = "x".repeat(50);
        let text = format!("{row}\n{row}\nshort");
        assert_eq!(width(&text), Some(50));
        assert!(continues_token(&row, "abc", Some(50)));
        assert!(!continues_token(&row, "  abc", Some(50)));
        assert_eq!(width(&format!("{row}\nshort")), None);
        assert_eq!(width("a\na"), None);
    }
}
