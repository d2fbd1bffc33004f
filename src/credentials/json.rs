//! A JSON tree that keeps every key in order, duplicates included, for decoding docker configs.
//!
//! Kubelet decodes pull secrets with Go's `encoding/json`, which lets the last of two equal keys
//! win, matches struct fields case-insensitively, and replaces invalid UTF-8 with U+FFFD
//! (<https://pkg.go.dev/encoding/json#Unmarshal>). To say *which* duplicate won and to report
//! type errors the way Go meets them, the decoder needs the raw tree rather than a map; this
//! module parses into one with serde_json (strict RFC 8259, like Go) and never fails on types.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A parsed JSON value with object members in document order.
#[derive(Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool,
    /// Any number (its value never matters to a docker config).
    Number,
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object; duplicate keys are kept.
    Object(Vec<(String, Json)>),
}

// Strings may be passwords: the tree only prints its shape.
impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Json {
    /// The JSON type name, as Go's decoder words it in its errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool => "bool",
            Json::Number => "number",
            Json::Str(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// The members when this is an object.
    pub fn members(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }
}

/// Where and why a body is not JSON. Holds no input text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// serde_json's description of the problem (fixed wording, never input text).
    pub reason: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.reason, self.line, self.column
        )
    }
}

/// Parses a body the way Go would accept it: invalid UTF-8 is replaced, not rejected.
pub fn parse(bytes: &[u8]) -> Result<Json, SyntaxError> {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str::<Json>(&text).map_err(|e| {
        // Syntax and EOF messages are serde_json's fixed phrases; anything else is summarised
        // so no fragment of the input can ride along.
        let reason = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                let full = e.to_string();
                match full.rfind(" at line ") {
                    Some(i) => full[..i].to_string(),
                    None => full,
                }
            }
            _ => "not valid JSON".to_string(),
        };
        SyntaxError {
            line: e.line(),
            column: e.column(),
            reason,
        }
    })
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Bool)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            members.push((k, v));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicates_in_order() {
        let j = parse(br#"{"a":1,"a":"x","b":[null,true]}"#).unwrap();
        let m = j.members().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].0, "a");
        assert_eq!(m[1].1, Json::Str("x".into()));
        assert_eq!(m[2].1, Json::Array(vec![Json::Null, Json::Bool]));
    }

    #[test]
    fn syntax_errors_say_where_without_input() {
        let err =
            parse(b"{\n  \"auths\": {\n    \"reg\": {\"auth\": \"c2VjcmV0\",}\n}").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.column > 20, "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"));
        let eof = parse(b"{\"auths\": {").unwrap_err();
        assert!(eof.reason.contains("EOF"), "{eof}");
    }

    #[test]
    fn invalid_utf8_is_replaced_like_go() {
        let j = parse(b"{\"k\":\"a\xffb\"}").unwrap();
        assert_eq!(j.members().unwrap()[0].1, Json::Str("a\u{fffd}b".into()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
