//! The library's import graph, read from `src/**.rs` as the compiler resolves paths, not as
//! text: comments, strings and character literals are left out (`module_tokens.rs`); `use`
//! trees are expanded (`crate::a::{b, c::*}`); `crate::`, `super::`, `self::` and child-module
//! paths anywhere in the code are followed to the file that defines the module, and one step
//! further through that module's `pub use` re-exports, so `super::Name` lands in the file that
//! defines `Name`. `#[path]` test files and inline modules (`mod tests { use super::*; }`)
//! resolve as rustc resolves them. The rules it is checked against are in `module_rules.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::module_tokens::{Tok, tokens};

/// One source file of the library.
pub struct SourceFile {
    /// Relative to the crate root, `/`-separated.
    pub rel: String,
    /// The module path (`["credentials", "pod"]`; `[]` for `lib.rs`).
    module: Vec<String>,
    toks: Vec<Tok>,
}

/// One import: from a file, the path as written, its line, and the file it lands in.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub line: usize,
    pub path: String,
}

/// Every `.rs` file under `root/src` that belongs to the library (not `main.rs`, not `bin/`).
pub fn library_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("src"), &mut out);
    out.retain(|p| !p.ends_with("src/main.rs"));
    out
}

/// The module path a file has by its place in the tree.
fn module_of(rel: &str) -> Vec<String> {
    let inner = rel.strip_prefix("src/").expect("under src/");
    let inner = inner.strip_suffix(".rs").expect(".rs file");
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The library's files, parsed, with `#[path]` modules placed where they are declared.
fn load(root: &Path) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = library_files(root)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            SourceFile {
                module: module_of(&rel),
                toks: tokens(&text),
                rel,
            }
        })
        .collect();
    // `#[path = "x_tests.rs"] mod tests;` makes x_tests.rs the module `<this file>::tests`.
    let mut moved = Vec::new();
    for f in &files {
        let t = &f.toks;
        for i in 0..t.len() {
            if t[i].is("#") && t.get(i + 2).is_some_and(|x| x.is("path")) {
                let Some(lit) = t.get(i + 4).and_then(|x| x.literal.clone()) else {
                    continue;
                };
                let Some(name) = (i + 6..t.len().min(i + 12))
                    .find(|&j| t[j].is("mod"))
                    .map(|j| t[j + 1].text.clone())
                else {
                    continue;
                };
                let dir = Path::new(&f.rel).parent().unwrap();
                let target = dir.join(lit).to_string_lossy().replace('\\', "/");
                let mut module = f.module.clone();
                module.push(name);
                moved.push((target, module));
            }
        }
    }
    for (target, module) in moved {
        if let Some(f) = files.iter_mut().find(|f| f.rel == target) {
            f.module = module;
        }
    }
    files
}

/// Reads one use tree (or one plain path) starting at `i`: every full path it names.
fn use_tree(t: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match t.get(i) {
            Some(x) if x.is("{") => {
                i += 1;
                while i < t.len() && !t[i].is("}") {
                    i = use_tree(t, i, &path, out);
                    if t.get(i).is_some_and(|x| x.is(",")) {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(x) if x.is("*") => {
                out.push(path);
                return i + 1;
            }
            Some(x) if x.ident => {
                // `{self, …}` names the module the braces follow.
                if !x.is("self") || path.is_empty() {
                    path.push(x.text.clone());
                }
                i += 1;
                if t.get(i).is_some_and(|x| x.is("::")) {
                    i += 1;
                    continue;
                }
                if t.get(i).is_some_and(|x| x.is("as")) {
                    i += 2;
                }
                out.push(path);
                return i;
            }
            _ => {
                if path.len() > prefix.len() {
                    out.push(path);
                }
                return i;
            }
        }
    }
}

/// One path found in a file: where it was written and what it names.
struct Found {
    line: usize,
    /// The module the path is relative to (the file's, plus inline modules around it).
    here: Vec<String>,
    segments: Vec<String>,
    /// Written in a `pub use` (a re-export).
    reexport: bool,
}

/// Every `crate::`/`super::`/`self::`/child-module path a file writes.
fn paths_in(f: &SourceFile, children: &BTreeSet<String>) -> Vec<Found> {
    let t = &f.toks;
    let mut found = Vec::new();
    let mut depth = 0usize;
    // Inline modules open here: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut in_use: Option<bool> = None;
    let mut i = 0;
    while i < t.len() {
        let x = &t[i];
        if x.is("mod") && t.get(i + 2).is_some_and(|b| b.is("{")) {
            inline.push((t[i + 1].text.clone(), depth + 1));
        }
        if x.is("{") {
            depth += 1;
        } else if x.is("}") {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
        } else if x.is(";") {
            in_use = None;
        } else if x.is("use") {
            let public = i > 0 && (t[i - 1].is("pub") || t[i - 1].is(")"));
            in_use = Some(public);
        }
        let starts = x.ident
            && t.get(i + 1).is_some_and(|n| n.is("::"))
            && !(i > 0 && t[i - 1].is("::"))
            && (matches!(x.text.as_str(), "crate" | "super" | "self")
                || (inline.is_empty() && children.contains(&x.text)));
        if starts {
            let mut paths = Vec::new();
            let next = use_tree(t, i, &[], &mut paths);
            let mut here = f.module.clone();
            here.extend(inline.iter().map(|(n, _)| n.clone()));
            for segments in paths {
                found.push(Found {
                    line: x.line,
                    here: here.clone(),
                    segments,
                    reexport: in_use == Some(true),
                });
            }
            i = next.max(i + 1);
            continue;
        }
        i += 1;
    }
    found
}

/// The graph of the library: files, and every import between two different files.
pub struct Graph {
    pub files: Vec<SourceFile>,
    pub edges: Vec<Edge>,
}

impl Graph {
    pub fn build(root: &Path) -> Graph {
        let files = load(root);
        let by_module: BTreeMap<Vec<String>, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        let children = |m: &[String]| -> BTreeSet<String> {
            files
                .iter()
                .filter(|f| f.module.len() == m.len() + 1 && f.module.starts_with(m))
                .map(|f| f.module.last().unwrap().clone())
                .collect()
        };
        let found: Vec<Vec<Found>> = files
            .iter()
            .map(|f| paths_in(f, &children(&f.module)))
            .collect();
        // Each file's re-exports: name → absolute path it re-exports.
        let mut reexports: Vec<BTreeMap<String, Vec<String>>> = vec![BTreeMap::new(); files.len()];
        for (i, list) in found.iter().enumerate() {
            for p in list.iter().filter(|p| p.reexport) {
                if let Some(abs) = absolute(&p.here, &p.segments)
                    && let Some(name) = abs.last()
                {
                    reexports[i].insert(name.clone(), abs);
                }
            }
        }
        let resolve = |abs: &[String]| -> Option<usize> {
            let mut abs = abs.to_vec();
            let mut target = None;
            for _ in 0..4 {
                let k = (0..=abs.len())
                    .rev()
                    .find(|k| by_module.contains_key(&abs[..*k]))?;
                let file = by_module[&abs[..k]];
                target = Some(file);
                match abs.get(k).and_then(|name| reexports[file].get(name)) {
                    Some(next) if next != &abs[..k + 1] => {
                        let mut follow = next.clone();
                        follow.extend_from_slice(&abs[k + 1..]);
                        abs = follow;
                    }
                    _ => break,
                }
            }
            target
        };
        let mut edges = Vec::new();
        for (from, list) in found.iter().enumerate() {
            for p in list {
                let Some(abs) = absolute(&p.here, &p.segments) else {
                    continue;
                };
                // A re-export is the directory's front door, not a use of the code behind it.
                if p.reexport {
                    continue;
                }
                if let Some(to) = resolve(&abs)
                    && to != from
                {
                    edges.push(Edge {
                        from,
                        to,
                        line: p.line,
                        path: p.segments.join("::"),
                    });
                }
            }
        }
        Graph { files, edges }
    }

    pub fn rel(&self, i: usize) -> &str {
        &self.files[i].rel
    }

    /// Circles between files of one directory: each strongly connected set of two or more.
    pub fn circles(&self) -> Vec<Vec<usize>> {
        let dir = |i: usize| {
            Path::new(self.rel(i))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        let n = self.files.len();
        let mut next: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
        for e in &self.edges {
            if dir(e.from) == dir(e.to) {
                next[e.from].insert(e.to);
            }
        }
        let reach = |start: usize| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start];
            while let Some(v) = stack.pop() {
                for &w in &next[v] {
                    if seen.insert(w) {
                        stack.push(w);
                    }
                }
            }
            seen
        };
        let reaches: Vec<BTreeSet<usize>> = (0..n).map(reach).collect();
        let mut sets: BTreeSet<Vec<usize>> = BTreeSet::new();
        for a in 0..n {
            let set: Vec<usize> = (0..n)
                .filter(|&b| b == a || (reaches[a].contains(&b) && reaches[b].contains(&a)))
                .collect();
            if set.len() > 1 {
                sets.insert(set);
            }
        }
        sets.into_iter().collect()
    }

    /// Edges inside `set` described for a failure message.
    pub fn describe(&self, set: &[usize]) -> String {
        self.edges
            .iter()
            .filter(|e| set.contains(&e.from) && set.contains(&e.to))
            .map(|e| {
                format!(
                    "  {}:{} → {} ({})",
                    self.rel(e.from),
                    e.line,
                    self.rel(e.to),
                    e.path
                )
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Imports from a pure module into an I/O one.
    pub fn pure_to_io(&self, pure: &[&str], io: &[&str]) -> Vec<&Edge> {
        let under = |rel: &str, roots: &[&str]| roots.iter().any(|r| rel.starts_with(r));
        self.edges
            .iter()
            .filter(|e| under(self.rel(e.from), pure) && under(self.rel(e.to), io))
            .collect()
    }
}

/// `segments` (starting `crate`, `super`, `self` or a child module) as an absolute module path.
fn absolute(here: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut base = here.to_vec();
    let mut rest = segments;
    match rest.first()?.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    base.extend(rest.iter().cloned());
    Some(base)
}
