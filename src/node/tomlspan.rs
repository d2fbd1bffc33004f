//! TOML with line numbers: the node's TOML files (containerd `config.toml`, `hosts.toml`,
//! `registries.conf`) parsed into a small tree whose every key and value knows its line, so a
//! finding can say "config.toml line 41".
//!
//! Built on toml's spanned parser (`toml::de::DeTable`), the same grammar the `toml` crate
//! reads; parse errors name the line and column.

use toml::de::{DeTable, DeValue};

use super::files::{NodeFileError, line_at};

/// A TOML value with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct TVal {
    pub line: u32,
    pub v: TKind,
}

/// The kinds of TOML value the readers look at (numbers and dates are kept as text).
#[derive(Debug, Clone, PartialEq)]
pub enum TKind {
    Str(String),
    Bool(bool),
    Other(String),
    Arr(Vec<TVal>),
    /// Keys in file order, each with the line the key is written on.
    Table(Vec<(String, u32, TVal)>),
}

impl TVal {
    /// Parses a whole document; the error names `path`, line and reason.
    pub fn parse(text: &str, path: &str) -> Result<TVal, NodeFileError> {
        let doc = DeTable::parse(text).map_err(|e| {
            let line = e.span().map(|s| line_at(text, s.start));
            NodeFileError::new(path, line, e.message().trim().to_string())
        })?;
        Ok(TVal {
            line: 1,
            v: TKind::Table(table(text, doc.get_ref())),
        })
    }

    /// The value under `key` of a table.
    pub fn get(&self, key: &str) -> Option<&TVal> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The value under `key` and the line its key is written on.
    pub fn entry(&self, key: &str) -> Option<(u32, &TVal)> {
        match &self.v {
            TKind::Table(t) => t.iter().find(|(k, _, _)| k == key).map(|(_, l, v)| (*l, v)),
            _ => None,
        }
    }

    /// Follows a path of keys through nested tables.
    pub fn path(&self, keys: &[&str]) -> Option<&TVal> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            TKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.v {
            TKind::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[TVal]> {
        match &self.v {
            TKind::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// The entries of a table (empty for any other value).
    pub fn entries(&self) -> &[(String, u32, TVal)] {
        match &self.v {
            TKind::Table(t) => t,
            _ => &[],
        }
    }

    /// A string, or an array of strings, as a list; None when it is anything else.
    pub fn strings(&self) -> Option<Vec<String>> {
        match &self.v {
            TKind::Str(s) => Some(vec![s.clone()]),
            TKind::Arr(a) => a.iter().map(|v| v.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    }
}

fn table(text: &str, t: &DeTable<'_>) -> Vec<(String, u32, TVal)> {
    t.iter()
        .map(|(k, v)| {
            (
                k.get_ref().to_string(),
                line_at(text, k.span().start),
                value(text, v.get_ref(), line_at(text, v.span().start)),
            )
        })
        .collect()
}

fn value(text: &str, v: &DeValue<'_>, line: u32) -> TVal {
    let v = match v {
        DeValue::String(s) => TKind::Str(s.to_string()),
        DeValue::Boolean(b) => TKind::Bool(*b),
        DeValue::Integer(i) => TKind::Other(i.as_str().to_string()),
        DeValue::Float(f) => TKind::Other(f.as_str().to_string()),
        DeValue::Datetime(d) => TKind::Other(d.to_string()),
        DeValue::Array(a) => TKind::Arr(
            a.iter()
                .map(|e| value(text, e.get_ref(), line_at(text, e.span().start)))
                .collect(),
        ),
        DeValue::Table(t) => TKind::Table(table(text, t)),
    };
    TVal { line, v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_know_their_lines() {
        let text = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n[[registry]]\nprefix = \"a\"\n[[registry]]\nprefix = \"b\"\n";
        let t = TVal::parse(text, "/etc/containerd/config.toml").unwrap();
        let reg = t
            .path(&["plugins", "io.containerd.grpc.v1.cri", "registry"])
            .unwrap();
        let (line, v) = reg.entry("config_path").unwrap();
        assert_eq!((line, v.as_str()), (4, Some("/etc/containerd/certs.d")));
        let regs = t.get("registry").unwrap().as_array().unwrap();
        assert_eq!(regs[1].entry("prefix").unwrap().0, 8);
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let e = TVal::parse("a = 1\nb = = 2\n", "/etc/x.toml").unwrap_err();
        assert_eq!(e.path, "/etc/x.toml");
        assert_eq!(e.line, Some(2));
    }
}
