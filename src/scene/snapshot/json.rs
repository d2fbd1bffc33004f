//! Reading JSON snapshots value by value from the file, a `…List`'s items one at a time.
//!
//! kubectl's `-o json` of a 100,000-pod cluster is a 300 MB `List`; held as text it is the
//! file's size, parsed as one tree ten times that. Here serde_json reads straight from the
//! file and each item is handed on (and freed) as soon as its closing brace is read. kubectl
//! writes `items` before `kind` (its keys are sorted), so an item is handed on before the list
//! says what it is: an item without its own `kind` (the raw API's typed lists leave it out,
//! and write `kind` first) waits for the list's. Concatenated values and a top-level array of
//! objects are read as before: each value (each element) is one document.

use std::fmt;
use std::io::{BufRead, Read};

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::doc::{Doc, shift_lines};
use super::input::Input;
use crate::{Error, Result};

/// Hands each JSON value in `input` to `on`: a list's items one by one, other values whole.
pub(super) fn json_documents<R: Read>(
    input: &mut Input<R>,
    bad: &dyn Fn(usize, String) -> Error,
    on: &mut dyn FnMut(Doc) -> Result<()>,
) -> Result<()> {
    loop {
        // JSON's whitespace between values; anything else starts the next value.
        loop {
            let buf = match input.fill_buf() {
                Ok(buf) => buf,
                Err(e) => {
                    let e = bad(input.line(), format!("cannot read: {e}"));
                    return Err(input.explain(e));
                }
            };
            if buf.is_empty() {
                return Ok(());
            }
            let blank = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let more = blank < buf.len();
            input.consume(blank);
            if more {
                break;
            }
        }
        let line = input.line();
        let mut sink = Sink {
            on: &mut *on,
            bad,
            line,
            failure: None,
        };
        let result = {
            let mut de = serde_json::Deserializer::from_reader(&mut *input);
            Top(&mut sink).deserialize(&mut de)
        };
        if let Some(e) = sink.failure {
            return Err(e);
        }
        if let Err(e) = result {
            let at = line + e.line().max(1) - 1;
            let e = bad(
                at,
                format!("invalid JSON: {}", shift_lines(&e.to_string(), line - 1)),
            );
            return Err(input.explain(e));
        }
    }
}

/// Where documents go, and the first error the receiver gave (serde only carries its own).
struct Sink<'a> {
    on: &'a mut dyn FnMut(Doc) -> Result<()>,
    bad: &'a dyn Fn(usize, String) -> Error,
    line: usize,
    failure: Option<Error>,
}

impl Sink<'_> {
    fn send<E: serde::de::Error>(&mut self, doc: Doc) -> std::result::Result<(), E> {
        (self.on)(doc).map_err(|e| {
            self.failure = Some(e);
            E::custom("stopped")
        })
    }
}

/// One top-level value.
struct Top<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A scalar top-level value is handed on as it is (and refused as not an object).
macro_rules! whole_scalar {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: serde::de::Error>(self, v: $t) -> std::result::Result<(), E> {
            let line = self.0.line;
            self.0.send(Doc::Whole(line, Value::from(v)))
        }
    )*};
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    whole_scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        let line = self.0.line;
        self.0.send(Doc::Whole(line, Value::Null))
    }

    /// A top-level array: each element is a document of its own.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let line = self.0.line;
        while let Some(v) = seq.next_element::<Value>()? {
            self.0.send(Doc::Whole(line, v))?;
        }
        Ok(())
    }

    /// An object: a `…List`'s items are handed on one by one as they are read; any other
    /// object is handed on whole.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let line = self.0.line;
        let mut head = Map::new();
        let mut list = ListState::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && !list.read {
                let kind = head.get("kind").and_then(Value::as_str).map(str::to_string);
                let items = map.next_value_seed(Items {
                    sink: &mut *self.0,
                    kind,
                    list: &mut list,
                })?;
                if let Some(v) = items {
                    head.insert(key, v);
                }
            } else {
                head.insert(key, map.next_value()?);
            }
        }
        if !list.read {
            return self.0.send(Doc::Whole(line, Value::Object(head)));
        }
        let kind = head
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !kind.ends_with("List") {
            self.0.failure = Some((self.0.bad)(line, not_a_list(&kind)));
            return Err(A::Error::custom("stopped"));
        }
        for (index, value) in std::mem::take(&mut list.waiting) {
            self.0.send(Doc::Item {
                line,
                kind: kind.clone(),
                index,
                value,
            })?;
        }
        Ok(())
    }
}

/// Why a document with an `items` list that is not a `…List` is refused: its items were
/// read as a list's before its kind came.
pub(super) fn not_a_list(kind: &str) -> String {
    if kind.is_empty() {
        "an object without kind holding a list of items (expected a List)".to_string()
    } else {
        format!("a {kind} holding a list of items (expected a List)")
    }
}

/// What a list's items left behind: whether they were read as a list, and those still waiting
/// for the list's kind.
#[derive(Default)]
struct ListState {
    read: bool,
    waiting: Vec<(usize, Value)>,
}

/// The `items` value: an array is handed on item by item; anything else is returned to be
/// kept in the object like any other field.
struct Items<'s, 'a, 'l> {
    sink: &'s mut Sink<'a>,
    kind: Option<String>,
    list: &'l mut ListState,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! kept_scalar {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: serde::de::Error>(self, v: $t) -> std::result::Result<Option<Value>, E> {
            Ok(Some(Value::from(v)))
        }
    )*};
}

impl<'de> Visitor<'de> for Items<'_, '_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of Kubernetes objects")
    }

    kept_scalar!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Option<Value>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Option<Value>, A::Error> {
        if self.kind.as_deref().is_some_and(|k| !k.ends_with("List")) {
            // An object that says it is not a list: its `items` is just a field.
            return Value::deserialize(SeqAccessDeserializer::new(seq)).map(Some);
        }
        self.list.read = true;
        let line = self.sink.line;
        let mut index = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            let own_kind = value.get("kind").is_some();
            match &self.kind {
                Some(kind) => self.sink.send(Doc::Item {
                    line,
                    kind: kind.clone(),
                    index,
                    value,
                })?,
                // kubectl's `List` names each item's kind, and its own comes after them.
                None if own_kind => self.sink.send(Doc::Item {
                    line,
                    kind: "List".to_string(),
                    index,
                    value,
                })?,
                None => self.list.waiting.push((index, value)),
            }
            index += 1;
        }
        Ok(None)
    }
}
