//! Reading YAML snapshots safely and item by item: a nesting check before the parser sees a
//! document, and a kubectl `List` split into its items so each is parsed (and dropped) alone.
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

/// A kubectl YAML `List` document split into its top-level mapping without `items`, and each
/// item's text (a one-entry block sequence) with the 0-based line it starts on.
pub(super) struct SplitList<'a> {
    pub head: String,
    pub items: Vec<(usize, &'a str)>,
}

/// Splits `doc` when it is laid out as kubectl writes a list; None otherwise.
pub(super) fn split_list(doc: &str) -> Option<SplitList<'_>> {
    let mut head = String::new();
    let mut items = Vec::new();
    let mut in_items = false;
    let mut offset = 0;
    let mut current: Option<(usize, usize)> = None;
    for (i, line) in doc.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let top_level = !line.starts_with([' ', '\t', '#', '\n', '\r']);
        if in_items && (line.starts_with("- ") || line.trim_end() == "-") {
            if let Some((l, s)) = current.take() {
                items.push((l, &doc[s..start]));
            }
            current = Some((i, start));
            continue;
        }
        if top_level {
            if let Some((l, s)) = current.take() {
                items.push((l, &doc[s..start]));
            }
            in_items = line.trim_end() == "items:";
            if in_items {
                continue;
            }
        }
        if current.is_none() {
            if in_items && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
                // Something under `items:` that is not a column-0 entry: not kubectl's layout.
                return None;
            }
            head.push_str(line);
        }
    }
    if let Some((l, s)) = current.take() {
        items.push((l, &doc[s..]));
    }
    (!items.is_empty()).then_some(SplitList { head, items })
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

    #[test]
    fn a_kubectl_list_splits_into_items() {
        let doc = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n- kind: Secret\n  data:\n    x: eQ==\nkind: List\nmetadata:\n  resourceVersion: \"\"\n";
        let s = split_list(doc).unwrap();
        assert_eq!(s.items.len(), 2);
        assert_eq!(s.items[0].0, 2);
        assert!(s.items[1].1.starts_with("- kind: Secret\n"));
        assert!(s.items[1].1.ends_with("eQ==\n"));
        assert!(s.head.contains("kind: List") && !s.head.contains("items"));
        assert!(split_list("kind: List\nitems:\n  - a: 1\n").is_none());
        assert!(split_list("kind: Pod\nmetadata: {}\n").is_none());
    }
}
