//! Import and export formats. Import reads either JSON Lines (`{"object": {...}}` / `{"relation": {...}}`,
//! one record a line) or Topaz's JSON files (`{"objects": [...]}` / `{"relations": [...]}`), streaming
//! both: memory does not grow with the file. Export writes JSON Lines.

use crate::error::StoreError;
use lictor_model::{ObjectRecord, RelationRecord};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, Read, Write};
use std::rc::Rc;

/// One imported record and the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportItem {
    /// 1-based line (for Topaz JSON, the line where the record ends).
    pub line: usize,
    /// The record.
    pub record: ImportRecord,
}

/// An object or a relation.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    /// An object.
    Object(ObjectRecord),
    /// A relation.
    Relation(RelationRecord),
}

#[derive(Deserialize)]
struct Line {
    object: Option<ObjectRecord>,
    relation: Option<RelationRecord>,
}

fn check_fields(record: &ImportRecord) -> Result<(), String> {
    let fields: Vec<(&str, &str)> = match record {
        ImportRecord::Object(o) => vec![("object.type", &o.object_type), ("object.id", &o.id)],
        ImportRecord::Relation(r) => vec![
            ("relation.object_type", &r.object_type),
            ("relation.object_id", &r.object_id),
            ("relation.relation", &r.relation),
            ("relation.subject_type", &r.subject_type),
            ("relation.subject_id", &r.subject_id),
        ],
    };
    match fields.iter().find(|(_, value)| value.is_empty()) {
        Some((field, _)) => Err(format!("field `{field}` must not be empty")),
        None => Ok(()),
    }
}

/// Reads records from `reader` and hands each to `each`, stopping at the first error (a bad record, or
/// an error `each` returns). Returns how many records were read.
pub fn read_import<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(ImportItem) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let first = loop {
        let buffer = reader
            .fill_buf()
            .map_err(|e| StoreError::io("reading the import", e))?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break buffer.get(at..).map(<[u8]>::to_vec).unwrap_or_default(),
            None if buffer.is_empty() => return Ok(0),
            None => {
                let len = buffer.len();
                reader.consume(len);
            }
        }
    };
    if looks_like_topaz_document(&first) {
        read_topaz_document(reader, each)
    } else {
        read_lines(reader, &mut each)
    }
}

/// A Topaz file opens with `{` then the key `"objects"` or `"relations"` and an array; a JSON Lines
/// record opens with `{"object":` or `{"relation":` and an object.
fn looks_like_topaz_document(start: &[u8]) -> bool {
    let text = String::from_utf8_lossy(start);
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect();
    compact.starts_with("{\"objects\":") || compact.starts_with("{\"relations\":")
}

fn read_lines<R: BufRead>(
    reader: R,
    each: &mut impl FnMut(ImportItem) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut count = 0;
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let line = line.map_err(|e| StoreError::io(format!("reading line {line_number}"), e))?;
        if line.trim().is_empty() {
            continue;
        }
        let parse_error = |message: String| StoreError::Parse {
            line: line_number,
            message,
        };
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| parse_error(describe_json_error(&e)))?;
        let record = match (parsed.object, parsed.relation) {
            (Some(object), None) => ImportRecord::Object(object),
            (None, Some(relation)) => ImportRecord::Relation(relation),
            (Some(_), Some(_)) => {
                return Err(parse_error(
                    "a line holds either `object` or `relation`, not both".to_string(),
                ))
            }
            (None, None) => {
                return Err(parse_error(
                    "expected {\"object\": {...}} or {\"relation\": {...}}".to_string(),
                ))
            }
        };
        check_fields(&record).map_err(parse_error)?;
        each(ImportItem {
            line: line_number,
            record,
        })?;
        count += 1;
    }
    Ok(count)
}

fn describe_json_error(error: &serde_json::Error) -> String {
    // serde_json appends "at line L column C" of the one-line document; the column alone helps here.
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => format!(
            "{} (column {})",
            message.get(..at).unwrap_or(&message),
            error.column()
        ),
        None => message,
    }
}

/// Counts newlines as serde_json pulls bytes (it reads one byte at a time), so a record can be
/// reported with its line.
struct LineCounter<R> {
    inner: R,
    line: Rc<Cell<usize>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let newlines = buf
            .get(..n)
            .map_or(0, |b| b.iter().filter(|c| **c == b'\n').count());
        self.line.set(self.line.get() + newlines);
        Ok(n)
    }
}

fn read_topaz_document<R: BufRead>(
    reader: R,
    mut each: impl FnMut(ImportItem) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let line = Rc::new(Cell::new(1));
    let counter = LineCounter {
        inner: reader,
        line: line.clone(),
    };
    let mut state = DocumentState {
        each: &mut each,
        failure: None,
        count: 0,
        line,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(counter);
    let result = DocumentSeed { state: &mut state }.deserialize(&mut deserializer);
    let count = state.count;
    if let Some(failure) = state.failure.take() {
        return Err(failure);
    }
    result.map_err(|e| StoreError::Parse {
        line: e.line().max(1),
        message: describe_json_error(&e),
    })?;
    deserializer.end().map_err(|e| StoreError::Parse {
        line: e.line(),
        message: describe_json_error(&e),
    })?;
    Ok(count)
}

struct DocumentState<'a, F> {
    each: &'a mut F,
    failure: Option<StoreError>,
    count: u64,
    line: Rc<Cell<usize>>,
}

struct DocumentSeed<'s, 'a, F> {
    state: &'s mut DocumentState<'a, F>,
}

impl<'de, F: FnMut(ImportItem) -> Result<(), StoreError>> DeserializeSeed<'de>
    for DocumentSeed<'_, '_, F>
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(ImportItem) -> Result<(), StoreError>> Visitor<'de> for DocumentSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"objects": [...]} or {"relations": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let kind = match key.as_str() {
                "objects" => Kind::Objects,
                "relations" => Kind::Relations,
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "unknown key `{other}` (expected `objects` or `relations`)"
                    )))
                }
            };
            map.next_value_seed(ArraySeed {
                state: &mut *self.state,
                kind,
            })?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Objects,
    Relations,
}

struct ArraySeed<'s, 'a, F> {
    state: &'s mut DocumentState<'a, F>,
    kind: Kind,
}

impl<'de, F: FnMut(ImportItem) -> Result<(), StoreError>> DeserializeSeed<'de>
    for ArraySeed<'_, '_, F>
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(ImportItem) -> Result<(), StoreError>> Visitor<'de> for ArraySeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let record = match self.kind {
                Kind::Objects => seq
                    .next_element::<ObjectRecord>()?
                    .map(ImportRecord::Object),
                Kind::Relations => seq
                    .next_element::<RelationRecord>()?
                    .map(ImportRecord::Relation),
            };
            let Some(record) = record else {
                return Ok(());
            };
            let name = match self.kind {
                Kind::Objects => "objects",
                Kind::Relations => "relations",
            };
            if let Err(message) = check_fields(&record) {
                return Err(serde::de::Error::custom(format!(
                    "{name}[{index}]: {message}"
                )));
            }
            let line = self.state.line.get();
            let item = ImportItem { line, record };
            if let Err(error) = (self.state.each)(item) {
                self.state.failure = Some(error);
                return Err(serde::de::Error::custom("import stopped"));
            }
            self.state.count += 1;
            index += 1;
        }
    }
}

#[derive(serde::Serialize)]
struct ObjectLine<'a> {
    object: ObjectOut<'a>,
}

#[derive(serde::Serialize)]
struct ObjectOut<'a> {
    #[serde(rename = "type")]
    object_type: &'a str,
    id: &'a str,
    display_name: &'a str,
    properties: &'a serde_json::Value,
}

#[derive(serde::Serialize)]
struct RelationLine<'a> {
    relation: &'a RelationRecord,
}

/// Writes an object as one JSON Lines record.
pub fn write_object_line(out: &mut impl Write, object: &ObjectRecord) -> std::io::Result<()> {
    let empty = serde_json::Value::Object(serde_json::Map::new());
    let line = ObjectLine {
        object: ObjectOut {
            object_type: &object.object_type,
            id: &object.id,
            display_name: &object.display_name,
            properties: if object.properties.is_null() {
                &empty
            } else {
                &object.properties
            },
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Writes a relation as one JSON Lines record.
pub fn write_relation_line(out: &mut impl Write, relation: &RelationRecord) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &RelationLine { relation })?;
    out.write_all(b"\n")
}
