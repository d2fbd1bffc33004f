//! Every secret the run met, scrubbed from text that came from a registry, a token server or a
//! cluster before that text is shown.
//!
//! `Redacted` keeps pulldoctor from printing a secret itself, but a registry may echo the
//! `Authorization` header in its error body, a token server the password, a redirect a token in
//! its query. So every secret is remembered here as it is decoded or received (`Redacted::new`
//! does it), in each form it can travel in: as written, URL-encoded, JSON-escaped, base64 alone,
//! and base64 at each of the three alignments it can take inside a longer encoded string (the
//! `Basic` header encodes `user:password`, where the password starts at any byte offset). The
//! app applies one [`Scrubber`] to the finished report, the error line and the log, so no
//! renderer or new field can forget. URLs in shown text also lose their userinfo and query.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// What replaces a secret.
pub const MASK: &str = "(redacted)";

/// Secrets shorter than this are not scrubbed as plain text: a two-letter password would
/// erase every word holding its letters. Their longer forms (`user:pw` in base64) still are.
const MIN_PLAIN: usize = 4;
/// An aligned base64 fragment shorter than this could match a digest by chance.
const MIN_FRAGMENT: usize = 8;

/// Every form of every secret remembered so far, for the whole process.
static KNOWN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// The scrubber built for the forms known when it was asked for, rebuilt when more arrive.
static BUILT: Mutex<Option<(usize, Arc<Scrubber>)>> = Mutex::new(None);

/// Remembers `secret` (a password, an `auth` value, a token) in every form it can be echoed in.
pub fn remember(secret: &str) {
    let forms = forms_of(secret);
    if forms.is_empty() {
        return;
    }
    KNOWN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(forms);
}

/// Remembers a username and password as a `Basic` header carries them (`user:password`).
pub fn remember_pair(username: &str, password: &str) {
    if !password.is_empty() {
        remember(&format!("{username}:{password}"));
    }
}

/// Remembers the `user:password` an image reference was written with (`u:pw@reg.test/app`),
/// which no runtime accepts but people paste, and a pod spec may hold.
///
/// Any `@` not followed by a digest (`sha256:…`, which holds no `/`) ends such userinfo, even
/// one whose password holds `/`, `:` or `@`.
pub fn remember_reference_userinfo(reference: &str) {
    let rest = reference.split_once("://").map_or(reference, |(_, r)| r);
    let digest = |after: &str| {
        after.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        })
    };
    let Some(at) = rest
        .match_indices('@')
        .map(|(i, _)| i)
        .rfind(|&i| !digest(&rest[i + 1..]))
    else {
        return;
    };
    let userinfo = &rest[..at];
    remember(userinfo);
    if let Some((_, password)) = userinfo.split_once(':') {
        remember(password);
    }
}

/// A scrubber holding every secret remembered so far.
pub fn current() -> Arc<Scrubber> {
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    match &*built {
        Some((count, s)) if *count == known.len() => s.clone(),
        _ => {
            let s = Arc::new(Scrubber::new(known.iter().cloned().collect()));
            *built = Some((known.len(), s.clone()));
            s
        }
    }
}

/// Removes known secrets (and URL userinfo and queries) from text.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    /// One pass over the text for every form at once, longest match first, so a form holding
    /// another (`user:pw` holds `pw`) is replaced whole; None when no secret is known.
    forms: Option<AhoCorasick>,
}

impl Scrubber {
    fn new(forms: Vec<String>) -> Scrubber {
        let forms = (!forms.is_empty())
            .then(|| {
                // A contiguous NFA: a run knows a handful of secrets and scrubs a few kilobytes,
                // where the DFA the builder would pick costs more to build than it saves.
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&forms)
                    .ok()
            })
            .flatten();
        Scrubber { forms }
    }

    /// A scrubber for these secrets alone (tests, and callers with their own list).
    pub fn of(secrets: &[&str]) -> Scrubber {
        Scrubber::new(secrets.iter().flat_map(|s| forms_of(s)).collect())
    }

    /// `text` with every known secret form masked and every URL's userinfo and query dropped.
    pub fn scrub(&self, text: &str) -> String {
        let Some(ac) = &self.forms else {
            return clean_urls(text);
        };
        let mask = |text: &str| {
            let mut masked = String::with_capacity(text.len());
            ac.replace_all_with(text, &mut masked, |_, _, dst| {
                dst.push_str(MASK);
                true
            });
            masked
        };
        let out = mask(&clean_urls(text));
        // Percent-encoding has many spellings (which bytes, which case, `+` or `%20`): when the
        // decoded text still holds a secret, it is shown decoded, and masked.
        if out.contains('%') {
            let decoded = percent_decoded(&out);
            if ac.is_match(&decoded) {
                return mask(&decoded);
            }
        }
        out
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        let clean = self.scrub(text);
        if clean != *text {
            *text = clean;
        }
    }
}

/// The forms `secret` may be echoed in.
fn forms_of(secret: &str) -> Vec<String> {
    let mut forms = Vec::new();
    if secret.is_empty() {
        return forms;
    }
    let mut add = |f: String, min: usize| {
        if f.chars().count() >= min && !forms.contains(&f) {
            forms.push(f);
        }
    };
    add(secret.to_string(), MIN_PLAIN);
    add(percent_encoded(secret, false), MIN_PLAIN);
    add(percent_encoded(secret, true), MIN_PLAIN);
    add(percent_encoded(secret, false).to_lowercase(), MIN_PLAIN);
    let json = serde_json::to_string(secret).unwrap_or_default();
    add(json.trim_matches('"').to_string(), MIN_PLAIN);
    for engine in [&STANDARD, &URL_SAFE] {
        add(engine.encode(secret), MIN_PLAIN);
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            add(
                aligned_fragment(engine, secret.as_bytes(), offset),
                MIN_FRAGMENT,
            );
        }
    }
    forms
}

/// The base64 characters that depend only on `secret`'s bytes when it starts `offset` bytes
/// into a longer encoded string: the same at that offset whatever surrounds it.
fn aligned_fragment(engine: &impl Engine, secret: &[u8], offset: usize) -> String {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(secret);
    let encoded = engine.encode(&padded);
    // Character i covers bits [6i, 6i + 6); keep those inside the secret's bits.
    let start = (8 * offset).div_ceil(6);
    let end = (8 * (offset + secret.len())) / 6;
    encoded.get(start..end).unwrap_or("").to_string()
}

/// Percent-encoding of every byte outside RFC 3986's unreserved set; `plus` writes spaces as
/// `+` (HTML forms, which token requests use).
fn percent_encoded(secret: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in secret.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `text` with every `%XX` escape decoded (invalid UTF-8 shown as `�`).
fn percent_decoded(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with the userinfo and query of every `http://` and `https://` URL in it removed.
///
/// A redirect `Location` or a realm may carry `user:password@` or a token in `?…`; the host and
/// path are what a reader needs.
pub fn clean_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = after_scheme(rest) {
        out.push_str(&rest[..scheme_end]);
        rest = &rest[scheme_end..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(rest.len());
        let url = &rest[..end];
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        // Userinfo may itself hold `/`, `?` or `#` when written unescaped: the last `@` before
        // a path that holds no `@` of its own ends it.
        let at = url[..authority_end]
            .rfind('@')
            .or_else(|| url.rfind('@').filter(|&a| url[..a].contains(':')));
        let url = match at {
            Some(a) => {
                out.push_str(MASK);
                out.push('@');
                &url[a + 1..]
            }
            None => url,
        };
        match url.find('?') {
            Some(q) => {
                let fragment = url[q..].find('#').map_or("", |h| &url[q + h..]);
                out.push_str(&url[..q]);
                if url.len() > q + 1 {
                    out.push_str("?(query withheld)");
                }
                out.push_str(fragment);
            }
            None => out.push_str(url),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where the first `http://` or `https://` (any case) of `text` ends.
fn after_scheme(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = text[from..].find("://") {
        let k = from + k;
        let before = &text.as_bytes()[..k];
        let is = |scheme: &str| {
            before.len() >= scheme.len()
                && before[k - scheme.len()..].eq_ignore_ascii_case(scheme.as_bytes())
        };
        if is("http") || is("https") {
            return Some(k + 3);
        }
        from = k + 3;
    }
    None
}

/// A parser's error message without the values it quotes (`invalid type: string "…"`).
///
/// serde and YAML parsers echo the offending input, which for a Secret is the docker config.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '"' => '"',
            '`' => '`',
            _ => {
                out.push(c);
                continue;
            }
        };
        let mut value = String::new();
        let mut closed = false;
        while let Some(d) = chars.next() {
            if d == '\\' && close == '"' {
                chars.next();
                value.push('x');
                continue;
            }
            if d == close {
                closed = true;
                break;
            }
            value.push(d);
        }
        out.push(c);
        // Field and variant names (in backquotes) help and hold no secret; values are withheld.
        if close == '`' && value.chars().count() <= 40 {
            out.push_str(&value);
        } else {
            out.push('…');
        }
        if closed {
            out.push(close);
        }
    }
    out
}

#[cfg(test)]
#[path = "scrub_tests.rs"]
mod tests;
