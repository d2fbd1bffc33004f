//! Reading YAML snapshots safely: a nesting check before the parser sees a document (or one
//! item of a kubectl `List`, which `documents.rs` splits as it reads).
//!
//! libyaml, under serde_yaml_ng, takes time quadratic in the depth of nested flow collections
//! (`[[[[…`) before its recursion limit stops it: 100 KB of brackets took 26 s. No Kubernetes
//! object nests anywhere near [`MAX_DEPTH`], so deeper nesting is refused up front. kubectl's
//! `-o yaml` writes a `List` as `items:` followed by block sequence entries at column 0
//! (`- apiVersion: v1`), each entry's lines indented under it; that layout is what the split
//! recognises, and anything else is parsed whole as before.

/// Deepest nesting (flow brackets, or block indentation levels) accepted in a YAML snapshot.
pub(super) const MAX_DEPTH: usize = 64;

/// The 1-based line (within `text`) where flow nesting first goes past [`MAX_DEPTH`].
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    // Indentation of the line that opened a block scalar (`|`, `>`): more-indented lines that
    // follow are its text, not YAML.
    let mut scalar_parent: Option<usize> = None;
    let mut indents: Vec<usize> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim();
        if let Some(parent) = scalar_parent {
            if body.is_empty() || indent > parent {
                continue;
            }
            scalar_parent = None;
        }
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if depth == 0 {
            // Block nesting: one level per deeper indentation still open.
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            if indents.len() > MAX_DEPTH {
                return Some(i + 1);
            }
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' if prev == ' ' || "[{,:".contains(prev) => quote = Some(c),
                    '#' if prev == ' ' => break,
                    '[' | '{' if depth > 0 || prev == ' ' || prev == ':' || prev == '-' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Some(i + 1);
                        }
                    }
                    ']' | '}' if depth > 0 => depth -= 1,
                    _ => {}
                },
            }
            prev = c;
        }
        if depth == 0 && quote.is_none() && opens_block_scalar(body) {
            scalar_parent = Some(indent);
        }
    }
    None
}

/// True when a line ends in a block scalar indicator (`key: |`, `- >-`, `key: |2+`).
fn opens_block_scalar(body: &str) -> bool {
    let body = body.split(" #").next().unwrap_or(body).trim_end();
    let last = body.rsplit([' ', '\t']).next().unwrap_or("");
    let mut c = last.chars();
    matches!(c.next(), Some('|' | '>'))
        && c.all(|x| x == '-' || x == '+' || x.is_ascii_digit())
        && (body.len() == last.len()
            || body[..body.len() - last.len()]
                .trim_end()
                .ends_with([':', '-']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_measured_outside_strings_and_block_scalars() {
        let deep = format!("spec: {}{}\n", "[".repeat(65), "]".repeat(65));
        assert_eq!(too_deep(&deep), Some(1));
        let ok = format!("spec: {}{}\n", "[".repeat(64), "]".repeat(64));
        assert_eq!(too_deep(&ok), None);
        let quoted = format!("a: \"{}\"\nb: '{}'\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(too_deep(&quoted), None);
        let scalar = format!("a: |\n  {}\n  x\nb: 1\n", "{".repeat(100));
        assert_eq!(too_deep(&scalar), None);
        let plain = format!("image: a{}\n", "[".repeat(100));
        assert_eq!(too_deep(&plain), None);
        let block: String = (0..70).map(|d| format!("{}a:\n", " ".repeat(d))).collect();
        assert_eq!(too_deep(&block), Some(65));
    }
}
