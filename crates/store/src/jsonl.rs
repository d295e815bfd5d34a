//! Import and export formats.
//!
//! [`read_import`] reads either of two formats, told apart by how the input opens, and streams both:
//! memory does not grow with the input.
//! - JSON Lines, one record a line: `{"object": {"type", "id", "display_name"?, "properties"?}}` or
//!   `{"relation": {"object_type", "object_id", "relation", "subject_type", "subject_id",
//!   "subject_relation"?}}`. Blank lines are skipped; other fields of a record (`etag`, `created_at`, …)
//!   are ignored.
//! - Topaz's JSON files: one document `{"objects": [...]}` or `{"relations": [...]}`, possibly pretty
//!   printed, whose array elements are records of the same shapes.
//!
//! Both read every field under either of protojson's spellings, as Topaz reads these files: the proto
//! name (`object_type`) or its JSON name (`objectType`); a field given under both is refused.
//!
//! Export writes JSON Lines with every field present, so that an export imports back unchanged.

use crate::error::StoreError;
use lictor_model::{ObjectRecord, RelationRecord};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;
use std::io::{BufRead, Cursor, Read, Write};

/// One imported record and the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportItem {
    /// 1-based line: of the record's line in JSON Lines, of the element's opening `{` in Topaz JSON.
    pub line: usize,
    /// The record, with an empty etag and `{}` for missing properties.
    pub record: ImportRecord,
}

/// An imported object or relation.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    /// An object.
    Object(ObjectRecord),
    /// A relation.
    Relation(RelationRecord),
}

/// Reads records from `reader`, JSON Lines or a Topaz JSON document (detected from the first
/// non-whitespace content), and hands each to `each` in input order. Stops at the first bad record,
/// with a [`StoreError::Parse`] naming its line and field, or at the first error `each` returns, which
/// it passes on. Returns how many records were read.
pub fn read_import<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(ImportItem) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let (prefix, document) = sniff(&mut reader)?;
    let reader = Cursor::new(prefix).chain(reader);
    if document {
        read_document(reader, &mut each)
    } else {
        read_lines(reader, &mut each)
    }
}

/// Writes an object as one JSON Lines record, with all of `type`, `id`, `display_name` and
/// `properties` (`{}` for null).
pub fn write_object_line(out: &mut impl Write, object: &ObjectRecord) -> std::io::Result<()> {
    let empty = Value::Object(Map::new());
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

/// Writes a relation as one JSON Lines record, with all six fields.
pub fn write_relation_line(out: &mut impl Write, relation: &RelationRecord) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &RelationLine { relation })?;
    out.write_all(b"\n")
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
    properties: &'a Value,
}

#[derive(serde::Serialize)]
struct RelationLine<'a> {
    relation: &'a RelationRecord,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads the start of the input until it tells the format: `(bytes read, whether it is a Topaz
/// document)`. A leading UTF-8 byte order mark is dropped.
fn sniff(reader: &mut impl BufRead) -> Result<(Vec<u8>, bool), StoreError> {
    let mut prefix = Vec::new();
    let document = loop {
        let chunk = reader
            .fill_buf()
            .map_err(|e| StoreError::io("reading the import", e))?;
        if chunk.is_empty() {
            break false;
        }
        prefix.extend_from_slice(chunk);
        let read = chunk.len();
        reader.consume(read);
        if prefix.len() < BOM.len() && BOM.starts_with(&prefix) {
            continue;
        }
        if let Some(document) = opens_document(prefix.strip_prefix(BOM).unwrap_or(&prefix)) {
            break document;
        }
    };
    if prefix.starts_with(BOM) {
        prefix.drain(..BOM.len());
    }
    Ok((prefix, document))
}

/// Whether `start` opens `{"objects"` or `{"relations"`; `None` while it is too short to tell.
fn opens_document(start: &[u8]) -> Option<bool> {
    fn after_whitespace(bytes: &[u8]) -> &[u8] {
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(bytes.len());
        bytes.get(start..).unwrap_or_default()
    }
    fn expect(bytes: &[u8], byte: u8) -> Result<&[u8], Option<bool>> {
        match bytes.split_first() {
            None => Err(None),
            Some((first, rest)) if *first == byte => Ok(rest),
            Some(_) => Err(Some(false)),
        }
    }
    let key = match expect(after_whitespace(start), b'{')
        .and_then(|rest| expect(after_whitespace(rest), b'"'))
    {
        Ok(key) => key,
        Err(decided) => return decided,
    };
    match key.iter().position(|b| *b == b'"') {
        Some(end) => Some(matches!(key.get(..end), Some(b"objects" | b"relations"))),
        None if key.len() > "relations".len() => Some(false),
        None => None,
    }
}

fn read_lines(
    mut reader: impl BufRead,
    each: &mut impl FnMut(ImportItem) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut buffer = Vec::new();
    let mut line = 0;
    let mut count = 0;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|e| StoreError::io(format!("reading line {} of the import", line + 1), e))?;
        if read == 0 {
            return Ok(count);
        }
        line += 1;
        // Without its line break, so that serde_json's column is the line's own.
        let text = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = parse_line(text).map_err(|message| StoreError::Parse { line, message })?;
        each(ImportItem { line, record })?;
        count += 1;
    }
}

/// The shape of a JSON Lines record, parsed directly (the fast path); fields not named are ignored.
#[derive(Deserialize)]
struct Line {
    object: Option<ObjectIn>,
    relation: Option<RelationRecord>,
}

#[derive(Deserialize)]
struct ObjectIn {
    #[serde(rename = "type")]
    object_type: String,
    id: String,
    #[serde(default, alias = "displayName")]
    display_name: String,
    #[serde(default)]
    properties: Value,
}

fn parse_line(bytes: &[u8]) -> Result<ImportRecord, String> {
    // A record the fast path refuses is diagnosed again, to name the field as the line spells it.
    let refused = |message: String| diagnose_line(bytes).unwrap_or(message);
    match serde_json::from_slice::<Line>(bytes) {
        Ok(Line {
            object: Some(object),
            relation: None,
        }) => check_object(ObjectRecord {
            object_type: object.object_type,
            id: object.id,
            display_name: object.display_name,
            properties: object.properties,
            etag: String::new(),
        })
        .map_err(refused),
        Ok(Line {
            object: None,
            relation: Some(relation),
        }) => check_relation(relation).map_err(refused),
        Ok(Line {
            object: Some(_),
            relation: Some(_),
        }) => Err("a line holds either `object` or `relation`, not both".to_string()),
        Ok(Line {
            object: None,
            relation: None,
        }) => Err(EXPECTED_LINE.to_string()),
        Err(error) => Err(refused(describe_json_error(&error))),
    }
}

const EXPECTED_LINE: &str = r#"expected {"object": {...}} or {"relation": {...}}"#;

/// Explains why a line is refused, naming the field at fault as the line spells it: the line is
/// parsed again as plain JSON and checked field by field (only on this error path, so the fast path
/// stays fast). `None` when this finds nothing wrong.
fn diagnose_line(bytes: &[u8]) -> Option<String> {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(syntax) => return Some(format!("not valid JSON: {}", describe_json_error(&syntax))),
    };
    let Value::Object(mut map) = value else {
        return Some(format!(
            "{EXPECTED_LINE}, found {}",
            lictor_model::json_kind(&value)
        ));
    };
    match (map.remove("object"), map.remove("relation")) {
        (Some(object), None) => record_from_value(Kind::Object, object).err(),
        (None, Some(relation)) => record_from_value(Kind::Relation, relation).err(),
        _ => None,
    }
}

/// serde_json ends its messages with "at line L column C"; the line is given separately, so keep the
/// column only.
fn describe_json_error(error: &serde_json::Error) -> String {
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

#[derive(Clone, Copy)]
enum Kind {
    Object,
    Relation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Relation => "relation",
        }
    }

    fn array(self) -> &'static str {
        match self {
            Kind::Object => "objects",
            Kind::Relation => "relations",
        }
    }
}

/// A record field under its proto name and its protojson JSON name (the same for one-word names).
#[derive(Clone, Copy)]
struct Field {
    proto: &'static str,
    json: &'static str,
}

const OBJECT_TYPE: Field = Field::same("type");
const ID: Field = Field::same("id");
const DISPLAY_NAME: Field = Field::spelled("display_name", "displayName");
const PROPERTIES: Field = Field::same("properties");
const RELATION_FIELDS: [Field; 6] = [
    Field::spelled("object_type", "objectType"),
    Field::spelled("object_id", "objectId"),
    Field::same("relation"),
    Field::spelled("subject_type", "subjectType"),
    Field::spelled("subject_id", "subjectId"),
    Field::spelled("subject_relation", "subjectRelation"),
];

impl Field {
    const fn same(name: &'static str) -> Field {
        Field {
            proto: name,
            json: name,
        }
    }

    const fn spelled(proto: &'static str, json: &'static str) -> Field {
        Field { proto, json }
    }

    /// Takes the field out of a record under either spelling, with the spelling it was found under
    /// (the proto name when absent). Both spellings at once is an error, as in protojson.
    fn take(
        self,
        map: &mut Map<String, Value>,
        kind: Kind,
    ) -> Result<(&'static str, Option<Value>), String> {
        let by_proto = map.remove(self.proto);
        let by_json = if self.json == self.proto {
            None
        } else {
            map.remove(self.json)
        };
        match (by_proto, by_json) {
            (Some(_), Some(_)) => Err(format!(
                "{} field `{}` is given twice, also as `{}`",
                kind.name(),
                self.proto,
                self.json
            )),
            (None, Some(value)) => Ok((self.json, Some(value))),
            (value, None) => Ok((self.proto, value)),
        }
    }

    /// Takes a key field (a string) out of a record, naming the field as the record spells it if it
    /// is missing, empty (when `required`), not a string, or holds NUL.
    fn take_key(
        self,
        map: &mut Map<String, Value>,
        kind: Kind,
        required: bool,
    ) -> Result<String, String> {
        let (name, value) = self.take(map, kind)?;
        let text = match value {
            Some(Value::String(text)) => text,
            Some(other) => {
                return Err(format!(
                    "{} field `{name}` must be a string, found {}",
                    kind.name(),
                    lictor_model::json_kind(&other)
                ))
            }
            None if required => return Err(format!("{} is missing field `{name}`", kind.name())),
            None => String::new(),
        };
        check_key(kind, name, &text, required)?;
        Ok(text)
    }
}

/// Builds a record from parsed JSON, naming the first field at fault.
fn record_from_value(kind: Kind, value: Value) -> Result<ImportRecord, String> {
    let Value::Object(mut map) = value else {
        return Err(format!(
            "`{}` must be a JSON object, found {}",
            kind.name(),
            lictor_model::json_kind(&value)
        ));
    };
    match kind {
        Kind::Object => {
            let object_type = OBJECT_TYPE.take_key(&mut map, kind, true)?;
            let id = ID.take_key(&mut map, kind, true)?;
            let (name, display_name) = DISPLAY_NAME.take(&mut map, kind)?;
            let display_name = match display_name {
                None => String::new(),
                Some(Value::String(text)) => text,
                Some(other) => {
                    return Err(format!(
                        "object field `{name}` must be a string, found {}",
                        lictor_model::json_kind(&other)
                    ))
                }
            };
            let (_, properties) = PROPERTIES.take(&mut map, kind)?;
            Ok(ImportRecord::Object(ObjectRecord {
                object_type,
                id,
                display_name,
                properties: check_properties(properties.unwrap_or(Value::Null))?,
                etag: String::new(),
            }))
        }
        Kind::Relation => {
            let [object_type, object_id, relation, subject_type, subject_id, subject_relation] =
                RELATION_FIELDS;
            Ok(ImportRecord::Relation(RelationRecord {
                object_type: object_type.take_key(&mut map, kind, true)?,
                object_id: object_id.take_key(&mut map, kind, true)?,
                relation: relation.take_key(&mut map, kind, true)?,
                subject_type: subject_type.take_key(&mut map, kind, true)?,
                subject_id: subject_id.take_key(&mut map, kind, true)?,
                subject_relation: subject_relation.take_key(&mut map, kind, false)?,
            }))
        }
    }
}

/// Refuses a key field that is empty (when `required`) or holds NUL, which the store's keys reserve.
fn check_key(kind: Kind, name: &str, value: &str, required: bool) -> Result<(), String> {
    if required && value.is_empty() {
        return Err(format!("{} field `{name}` must not be empty", kind.name()));
    }
    if value.contains('\0') {
        return Err(format!(
            "{} field `{name}` contains a NUL character",
            kind.name()
        ));
    }
    Ok(())
}

/// Properties are a JSON object; null or absent is `{}`.
fn check_properties(properties: Value) -> Result<Value, String> {
    match properties {
        Value::Object(_) => Ok(properties),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(format!(
            "object field `properties` must be a JSON object, found {}",
            lictor_model::json_kind(&other)
        )),
    }
}

fn check_object(mut object: ObjectRecord) -> Result<ImportRecord, String> {
    check_key(Kind::Object, OBJECT_TYPE.proto, &object.object_type, true)?;
    check_key(Kind::Object, ID.proto, &object.id, true)?;
    object.properties = check_properties(object.properties)?;
    Ok(ImportRecord::Object(object))
}

fn check_relation(relation: RelationRecord) -> Result<ImportRecord, String> {
    let [object_type, object_id, relation_name, subject_type, subject_id, subject_relation] =
        RELATION_FIELDS;
    let kind = Kind::Relation;
    check_key(kind, object_type.proto, &relation.object_type, true)?;
    check_key(kind, object_id.proto, &relation.object_id, true)?;
    check_key(kind, relation_name.proto, &relation.relation, true)?;
    check_key(kind, subject_type.proto, &relation.subject_type, true)?;
    check_key(kind, subject_id.proto, &relation.subject_id, true)?;
    check_key(
        kind,
        subject_relation.proto,
        &relation.subject_relation,
        false,
    )?;
    Ok(ImportRecord::Relation(relation))
}

/// Buffers the document for serde_json and counts the newlines it has taken, so that a record can be
/// reported with its line. serde_json reads one byte at a time, peeking at most one byte ahead, so the
/// count is exact; serving those one-byte reads from an own buffer is what keeps them cheap.
struct LineCounter<'c, R> {
    inner: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    line: &'c Cell<usize>,
}

impl<'c, R: Read> LineCounter<'c, R> {
    fn new(inner: R, line: &'c Cell<usize>) -> Self {
        LineCounter {
            inner,
            buffer: vec![0; 64 << 10].into_boxed_slice(),
            start: 0,
            end: 0,
            line,
        }
    }
}

impl<R: Read> Read for LineCounter<'_, R> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.start == self.end {
            self.end = self.inner.read(&mut self.buffer)?;
            self.start = 0;
        }
        let available = self.buffer.get(self.start..self.end).unwrap_or_default();
        let taken = match (buf, available) {
            ([slot], [byte, ..]) => {
                *slot = *byte;
                available.get(..1).unwrap_or_default()
            }
            (buf, available) => {
                let len = buf.len().min(available.len());
                let taken = available.get(..len).unwrap_or_default();
                buf.get_mut(..len)
                    .unwrap_or_default()
                    .copy_from_slice(taken);
                taken
            }
        };
        let newlines = taken.iter().filter(|b| **b == b'\n').count();
        self.line.set(self.line.get() + newlines);
        self.start += taken.len();
        Ok(taken.len())
    }
}

/// Streams the elements of a Topaz document: each is parsed on its own and handed on, never collected.
fn read_document<F: FnMut(ImportItem) -> Result<(), StoreError>>(
    reader: impl Read,
    each: &mut F,
) -> Result<u64, StoreError> {
    let line = Cell::new(1);
    let mut state = Document {
        each,
        line: &line,
        count: 0,
        failure: None,
    };
    let mut deserializer = serde_json::Deserializer::from_reader(LineCounter::new(reader, &line));
    let parsed = DocumentSeed { state: &mut state }
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Some(failure) = state.failure {
        return Err(failure);
    }
    parsed.map_err(|error| StoreError::Parse {
        line: error.line().max(1),
        message: describe_json_error(&error),
    })?;
    Ok(state.count)
}

struct Document<'a, F> {
    each: &'a mut F,
    line: &'a Cell<usize>,
    count: u64,
    /// The error that stopped the read (a bad record, or one `each` returned), reported instead of
    /// the serde error used to unwind the parse.
    failure: Option<StoreError>,
}

impl<F> Document<'_, F> {
    fn fail<E: serde::de::Error>(&mut self, error: StoreError) -> E {
        self.failure = Some(error);
        E::custom("import stopped")
    }
}

struct DocumentSeed<'s, 'a, F> {
    state: &'s mut Document<'a, F>,
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
                "objects" => Kind::Object,
                "relations" => Kind::Relation,
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

struct ArraySeed<'s, 'a, F> {
    state: &'s mut Document<'a, F>,
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
        write!(f, "an array of {}", self.kind.array())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(ElementSeed {
                state: &mut *self.state,
                kind: self.kind,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct ElementSeed<'s, 'a, F> {
    state: &'s mut Document<'a, F>,
    kind: Kind,
    index: usize,
}

impl<'de, F: FnMut(ImportItem) -> Result<(), StoreError>> DeserializeSeed<'de>
    for ElementSeed<'_, '_, F>
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // serde_json has peeked at the element's first byte, so the count is the line it starts on.
        let line = self.state.line.get();
        let value = Value::deserialize(deserializer)?;
        let record = match record_from_value(self.kind, value) {
            Ok(record) => record,
            Err(message) => {
                let message = format!("{}[{}]: {message}", self.kind.array(), self.index);
                return Err(self.state.fail(StoreError::Parse { line, message }));
            }
        };
        if let Err(error) = (self.state.each)(ImportItem { line, record }) {
            return Err(self.state.fail(error));
        }
        self.state.count += 1;
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::BufReader;
    use std::path::{Path, PathBuf};

    fn read_all(input: impl BufRead) -> Result<Vec<ImportItem>, StoreError> {
        let mut items = Vec::new();
        let count = read_import(input, |item| {
            items.push(item);
            Ok(())
        })?;
        assert_eq!(count, items.len() as u64);
        Ok(items)
    }

    fn read_str(input: &str) -> Result<Vec<ImportItem>, StoreError> {
        read_all(input.as_bytes())
    }

    #[test]
    fn numbers_in_properties_read_back_exactly() {
        let line =
            r#"{"object": {"type": "user", "id": "a", "properties": {"x": 1.11e49, "y": 0.1}}}"#;
        let items = read_str(line).unwrap();
        let ImportRecord::Object(object) = &items[0].record else {
            panic!("{items:?}")
        };
        // The number read is the one in the file, so it is written back as it came.
        assert_eq!(object.properties["x"].as_f64(), Some(1.11e49));
        let written = object.properties.to_string();
        let again: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(again, object.properties, "{written}");
    }

    /// Reads one byte per `read` call, so that format detection sees the input in tiny chunks.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn error_of(input: &str) -> String {
        match read_str(input) {
            Err(error @ StoreError::Parse { .. }) => error.to_string(),
            other => panic!("expected a parse error for {input:?}, got {other:?}"),
        }
    }

    fn object(object_type: &str, id: &str, name: &str, properties: Value) -> ObjectRecord {
        ObjectRecord {
            object_type: object_type.to_string(),
            id: id.to_string(),
            display_name: name.to_string(),
            properties,
            etag: String::new(),
        }
    }

    fn relation(fields: [&str; 6]) -> RelationRecord {
        let [object_type, object_id, relation, subject_type, subject_id, subject_relation] =
            fields.map(str::to_string);
        RelationRecord {
            object_type,
            object_id,
            relation,
            subject_type,
            subject_id,
            subject_relation,
        }
    }

    const LINES: &str = concat!(
        "{\"object\":{\"type\":\"user\",\"id\":\"beth\",\"display_name\":\"Beth\",\"properties\":{\"email\":\"beth@x\"}}}\n",
        "\n",
        "   \t\r\n",
        "{\"object\":{\"type\":\"group\",\"id\":\"eng\",\"etag\":17,\"created_at\":\"2024\"},\"comment\":1}\r\n",
        "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"eng\",\"relation\":\"member\",\"subject_type\":\"user\",\"subject_id\":\"beth\",\"subject_relation\":\"\"}}\n",
        "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"all\",\"relation\":\"member\",\"subject_type\":\"group\",\"subject_id\":\"eng\",\"subject_relation\":\"member\",\"etag\":\"x\"}}",
    );

    fn lines_expected() -> Vec<ImportItem> {
        vec![
            ImportItem {
                line: 1,
                record: ImportRecord::Object(object(
                    "user",
                    "beth",
                    "Beth",
                    json!({"email": "beth@x"}),
                )),
            },
            ImportItem {
                line: 4,
                record: ImportRecord::Object(object("group", "eng", "", json!({}))),
            },
            ImportItem {
                line: 5,
                record: ImportRecord::Relation(relation([
                    "group", "eng", "member", "user", "beth", "",
                ])),
            },
            ImportItem {
                line: 6,
                record: ImportRecord::Relation(relation([
                    "group", "all", "member", "group", "eng", "member",
                ])),
            },
        ]
    }

    #[test]
    fn json_lines_are_read_with_their_line_numbers() {
        assert_eq!(read_str(LINES).unwrap(), lines_expected());
        let leading_blank_lines = format!("\n\n{LINES}");
        let shifted: Vec<usize> = read_str(&leading_blank_lines)
            .unwrap()
            .iter()
            .map(|item| item.line)
            .collect();
        assert_eq!(shifted, [3, 6, 7, 8]);
    }

    #[test]
    fn formats_are_told_apart_however_the_input_is_chunked() {
        let trickled = BufReader::with_capacity(1, Trickle(LINES.as_bytes()));
        assert_eq!(read_all(trickled).unwrap(), lines_expected());
        let with_bom = format!("\u{feff}{LINES}");
        let trickled = BufReader::with_capacity(1, Trickle(with_bom.as_bytes()));
        assert_eq!(read_all(trickled).unwrap(), lines_expected());
        let document = "\n \n{ \n \"objects\" : [ {\"type\": \"user\", \"id\": \"beth\"} ] }\n";
        let trickled = BufReader::with_capacity(1, Trickle(document.as_bytes()));
        let items = read_all(trickled).unwrap();
        assert_eq!(
            items,
            vec![ImportItem {
                line: 4,
                record: ImportRecord::Object(object("user", "beth", "", json!({}))),
            }]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            read_str(&format!("\u{feff}{LINES}")).unwrap(),
            lines_expected()
        );
        let document = "\u{feff}{\"relations\": []}";
        assert_eq!(read_str(document).unwrap(), vec![]);
    }

    #[test]
    fn empty_input_has_no_records() {
        assert_eq!(read_str("").unwrap(), vec![]);
        assert_eq!(read_str("\n  \n\t\n").unwrap(), vec![]);
    }

    #[test]
    fn a_bad_json_line_is_named_with_its_line_and_field() {
        let valid = "{\"object\":{\"type\":\"user\",\"id\":\"beth\"}}\n";
        let cases = [
            ("{\"object\":{\"type\":\"user\"", "not valid JSON: EOF while parsing an object (column 24)"),
            ("not json", "not valid JSON: expected ident (column 2)"),
            ("[1, 2]", "expected {\"object\": {...}} or {\"relation\": {...}}, found an array"),
            ("{}", "expected {\"object\": {...}} or {\"relation\": {...}}"),
            ("{\"thing\": {}}", "expected {\"object\": {...}} or {\"relation\": {...}}"),
            ("{\"object\": null}", "expected {\"object\": {...}} or {\"relation\": {...}}"),
            (
                "{\"object\":{\"type\":\"user\",\"id\":\"b\"},\"relation\":{\"object_type\":\"g\",\"object_id\":\"e\",\"relation\":\"m\",\"subject_type\":\"u\",\"subject_id\":\"b\"}}",
                "a line holds either `object` or `relation`, not both",
            ),
            ("{\"object\": 5}", "`object` must be a JSON object, found a number"),
            ("{\"relation\": \"g:e#m@u:b\"}", "`relation` must be a JSON object, found a string"),
            ("{\"object\":{\"id\":\"beth\"}}", "object is missing field `type`"),
            ("{\"object\":{\"type\":\"user\"}}", "object is missing field `id`"),
            (
                "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"eng\",\"relation\":\"member\",\"subject_type\":\"user\"}}",
                "relation is missing field `subject_id`",
            ),
            ("{\"object\":{\"type\":\"user\",\"id\":7}}", "object field `id` must be a string, found a number"),
            (
                "{\"object\":{\"type\":\"user\",\"id\":\"b\",\"display_name\":null}}",
                "object field `display_name` must be a string, found null",
            ),
            (
                "{\"object\":{\"type\":\"user\",\"id\":\"b\",\"properties\":[1]}}",
                "object field `properties` must be a JSON object, found an array",
            ),
            (
                "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"eng\",\"relation\":\"member\",\"subject_type\":\"user\",\"subject_id\":\"b\",\"subject_relation\":false}}",
                "relation field `subject_relation` must be a string, found a boolean",
            ),
            ("{\"object\":{\"type\":\"\",\"id\":\"beth\"}}", "object field `type` must not be empty"),
            ("{\"object\":{\"type\":\"user\",\"id\":\"\"}}", "object field `id` must not be empty"),
            (
                "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"eng\",\"relation\":\"\",\"subject_type\":\"user\",\"subject_id\":\"b\"}}",
                "relation field `relation` must not be empty",
            ),
            ("{\"object\":{\"type\":\"user\",\"id\":\"a\\u0000b\"}}", "object field `id` contains a NUL character"),
            (
                "{\"relation\":{\"object_type\":\"group\",\"object_id\":\"eng\",\"relation\":\"member\",\"subject_type\":\"user\",\"subject_id\":\"b\",\"subject_relation\":\"m\\u0000\"}}",
                "relation field `subject_relation` contains a NUL character",
            ),
            ("{\"object\":{\"type\":\"user\",\"id\":\"a\",\"id\":\"b\"}}", "duplicate field `id` (column 38)"),
        ];
        for (bad, message) in cases {
            let input = format!("{valid}\n{valid}{bad}\n{valid}");
            assert_eq!(error_of(&input), format!("line 4: {message}"), "for {bad}");
        }
    }

    #[test]
    fn the_error_of_the_callback_stops_the_read() {
        for input in [LINES, "{\"relations\": [\n{\"object_type\":\"g\",\"object_id\":\"e\",\"relation\":\"m\",\"subject_type\":\"u\",\"subject_id\":\"b\"},\n{\"object_type\":\"g\",\"object_id\":\"e\",\"relation\":\"m\",\"subject_type\":\"u\",\"subject_id\":\"c\"}]}"] {
            let mut seen = 0;
            let result = read_import(input.as_bytes(), |item| {
                seen += 1;
                Err(StoreError::Parse {
                    line: item.line,
                    message: "refused".to_string(),
                })
            });
            assert_eq!(seen, 1);
            let expected_line = if input == LINES { 1 } else { 2 };
            assert_eq!(result.unwrap_err().to_string(), format!("line {expected_line}: refused"));
        }
    }

    const DOCUMENT: &str = r#"{
  "relations": [
    {
      "object_type": "group",
      "object_id": "eng",
      "relation": "member",
      "subject_type": "user",
      "subject_id": "beth"
    },
    {"object_type": "group", "object_id": "all", "relation": "member",
     "subject_type": "group", "subject_id": "eng", "subject_relation": "member", "etag": 3}
  ],
  "objects": [{"type": "user", "id": "beth", "display_name": "Beth", "properties": {"a": [1]}}]
}
"#;

    #[test]
    fn a_topaz_document_is_streamed_with_the_line_each_element_starts_on() {
        assert_eq!(
            read_str(DOCUMENT).unwrap(),
            vec![
                ImportItem {
                    line: 3,
                    record: ImportRecord::Relation(relation([
                        "group", "eng", "member", "user", "beth", ""
                    ])),
                },
                ImportItem {
                    line: 10,
                    record: ImportRecord::Relation(relation([
                        "group", "all", "member", "group", "eng", "member"
                    ])),
                },
                ImportItem {
                    line: 13,
                    record: ImportRecord::Object(object("user", "beth", "Beth", json!({"a": [1]}))),
                },
            ]
        );
        assert_eq!(read_str("{\"objects\":[]}").unwrap(), vec![]);
    }

    #[test]
    fn a_bad_topaz_document_is_named_with_its_line() {
        let cases = [
            (
                DOCUMENT.replace("\"subject_id\": \"beth\"", "\"subject_id\": 5"),
                "line 3: relations[0]: relation field `subject_id` must be a string, found a number",
            ),
            (
                DOCUMENT.replace("\"subject_id\": \"eng\", ", ""),
                "line 10: relations[1]: relation is missing field `subject_id`",
            ),
            (
                DOCUMENT.replace("\"id\": \"beth\"", "\"id\": \"\""),
                "line 13: objects[0]: object field `id` must not be empty",
            ),
            (
                DOCUMENT.replace("\"subject_id\": \"beth\"\n", "\"subject_id\": \"beth\",\n"),
                "line 9: trailing comma (column 5)",
            ),
            (
                DOCUMENT.replace("\"objects\"", "\"things\""),
                "line 13: unknown key `things` (expected `objects` or `relations`) (column 11)",
            ),
            (
                DOCUMENT.replace("\"objects\": [", "\"objects\": 4, \"x\": ["),
                "line 13: invalid type: integer `4`, expected an array of objects (column 15)",
            ),
            (
                DOCUMENT.replace("\n  ],", "\n  ]]"),
                "line 12: expected `,` or `}` (column 4)",
            ),
            (format!("{DOCUMENT}{{}}"), "line 15: trailing characters (column 1)"),
            (
                DOCUMENT.replace("[{\"type\"", "[7, {\"type\""),
                "line 13: objects[0]: `object` must be a JSON object, found a number",
            ),
            ("{\"objects\": [".to_string(), "line 1: EOF while parsing a list (column 13)"),
        ];
        for (input, message) in cases {
            assert_eq!(error_of(&input), message, "for {input}");
        }
    }

    /// The data files of Topaz's conformance data beside the repository (`../shared/conformance/topaz`).
    /// When it is absent the suite is skipped (`None`), saying so, except under CI (`CI=true`), where it
    /// is required.
    fn conformance_files() -> Option<Vec<PathBuf>> {
        let root = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance/topaz"
        ));
        if !root.is_dir() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "conformance data missing at {} (required under CI)",
                root.display()
            );
            eprintln!(
                "skipping the conformance suite the_topaz_conformance_files_read_completely: no data at {}",
                root.display()
            );
            return None;
        }
        let mut files = Vec::new();
        for folder in std::fs::read_dir(root).unwrap() {
            let folder = folder.unwrap().path();
            if !folder.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(folder).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with("_objects.json") || name.ends_with("_relations.json") {
                    files.push(path);
                }
            }
        }
        files.sort();
        Some(files)
    }

    #[test]
    fn the_topaz_conformance_files_read_completely() {
        let Some(files) = conformance_files() else {
            return;
        };
        assert_eq!(files.len(), 14, "{files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let whole: Value = serde_json::from_str(&text).unwrap();
            let (key, elements) = whole.as_object().unwrap().iter().next().unwrap();
            let elements = elements.as_array().unwrap();
            let items = read_all(BufReader::new(std::fs::File::open(&path).unwrap()))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(items.len(), elements.len(), "{}", path.display());
            let lines: Vec<&str> = text.lines().collect();
            for (item, element) in items.iter().zip(elements) {
                assert!(
                    lines[item.line - 1].trim_start().starts_with('{'),
                    "{}",
                    path.display()
                );
                match (&item.record, key.as_str()) {
                    (ImportRecord::Object(o), "objects") => {
                        assert_eq!(o.id, element["id"].as_str().unwrap());
                        assert_eq!(o.properties, element["properties"]);
                    }
                    (ImportRecord::Relation(r), "relations") => {
                        assert_eq!(r.subject_id, element["subject_id"].as_str().unwrap());
                        assert_eq!(
                            r.subject_relation,
                            element["subject_relation"].as_str().unwrap_or("")
                        );
                    }
                    other => panic!("{}: {other:?}", path.display()),
                }
            }
        }
    }

    /// Topaz's record field names rewritten from proto names to protojson's JSON names
    /// (`object_type` to `objectType`); free-form `properties` are left as they are.
    fn camel_case_keys(value: &Value) -> Value {
        fn lower_camel(name: &str) -> String {
            let mut parts = name.split('_');
            let mut out = parts.next().unwrap_or_default().to_string();
            for part in parts {
                let mut chars = part.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            }
            out
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let value = if key == "properties" {
                            value.clone()
                        } else {
                            camel_case_keys(value)
                        };
                        (lower_camel(key), value)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(camel_case_keys).collect()),
            other => other.clone(),
        }
    }

    /// Asserts record by record, so that a failure shows the first record that differs.
    fn assert_same_records(read: &[ImportItem], expected: &[ImportItem], source: &Path) {
        assert_eq!(read.len(), expected.len(), "{}", source.display());
        for (i, (read, expected)) in read.iter().zip(expected).enumerate() {
            assert_eq!(
                read.record,
                expected.record,
                "{} record {i}",
                source.display()
            );
        }
    }

    #[test]
    fn the_topaz_conformance_files_read_the_same_in_camel_case() {
        let Some(files) = conformance_files() else {
            return;
        };
        let mut camel_fields = std::collections::BTreeSet::new();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let expected = read_str(&text).unwrap();
            let camel = camel_case_keys(&serde_json::from_str(&text).unwrap());
            let (key, elements) = camel.as_object().unwrap().iter().next().unwrap();
            for element in elements.as_array().unwrap() {
                camel_fields.extend(element.as_object().unwrap().keys().cloned());
            }
            let document = serde_json::to_string_pretty(&camel).unwrap();
            let read = read_str(&document).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_same_records(&read, &expected, &path);
            let record = if key == "objects" {
                "object"
            } else {
                "relation"
            };
            let lines: String = elements
                .as_array()
                .unwrap()
                .iter()
                .map(|element| format!("{}\n", json!({ record: element })))
                .collect();
            let read = read_str(&lines).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_same_records(&read, &expected, &path);
        }
        let camel_fields: Vec<&str> = camel_fields.iter().map(String::as_str).collect();
        assert_eq!(
            camel_fields,
            [
                "displayName",
                "id",
                "objectId",
                "objectType",
                "properties",
                "relation",
                "subjectId",
                "subjectRelation",
                "subjectType",
                "type"
            ]
        );
    }

    #[test]
    fn camel_case_fields_are_named_as_spelled_and_refused_twice() {
        let valid = "{\"object\":{\"type\":\"user\",\"id\":\"beth\"}}\n";
        let relation = |fields: &str| {
            format!("{{\"relation\":{{\"objectType\":\"group\",\"objectId\":\"eng\",\"relation\":\"member\",{fields}}}}}")
        };
        let cases = [
            (
                "{\"object\":{\"type\":\"user\",\"id\":\"b\",\"displayName\":7}}".to_string(),
                "object field `displayName` must be a string, found a number",
            ),
            (
                "{\"object\":{\"type\":\"user\",\"id\":\"b\",\"display_name\":\"B\",\"displayName\":\"B\"}}".to_string(),
                "object field `display_name` is given twice, also as `displayName`",
            ),
            (
                relation("\"subjectType\":\"user\""),
                "relation is missing field `subject_id`",
            ),
            (
                relation("\"subjectType\":\"user\",\"subjectId\":5"),
                "relation field `subjectId` must be a string, found a number",
            ),
            (
                relation("\"subjectType\":\"\",\"subjectId\":\"b\""),
                "relation field `subjectType` must not be empty",
            ),
            (
                relation("\"subjectType\":\"user\",\"subjectId\":\"b\",\"subjectRelation\":\"m\\u0000\""),
                "relation field `subjectRelation` contains a NUL character",
            ),
            (
                relation("\"subjectType\":\"user\",\"subjectId\":\"b\",\"subject_id\":\"b\""),
                "relation field `subject_id` is given twice, also as `subjectId`",
            ),
        ];
        for (bad, message) in cases {
            let input = format!("{valid}{bad}\n");
            assert_eq!(error_of(&input), format!("line 2: {message}"), "for {bad}");
            let element: Value = serde_json::from_str(&bad).unwrap();
            let (key, record) = element.as_object().unwrap().iter().next().unwrap();
            let document = format!("{{\"{key}s\": [\n{record}]}}");
            assert_eq!(
                error_of(&document),
                format!("line 2: {key}s[0]: {message}"),
                "for {document}"
            );
        }
    }

    #[test]
    fn export_imports_back_unchanged() {
        let objects = [
            object(
                "user",
                "beth",
                "Beth \"B\" Smith",
                json!({"email": "beth@x", "n": 1.5, "t": [true, null]}),
            ),
            object("group", "eng:core/é\n", "", json!({})),
            object("doc", "x", "", Value::Null),
        ];
        let relations = [
            relation(["group", "eng", "member", "user", "beth", ""]),
            relation(["group", "all", "member", "group", "eng", "member"]),
            relation(["doc", "x", "viewer", "user", "*", ""]),
        ];
        let mut out = Vec::new();
        for o in &objects {
            write_object_line(&mut out, o).unwrap();
        }
        for r in &relations {
            write_relation_line(&mut out, r).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[2],
            r#"{"object":{"type":"doc","id":"x","display_name":"","properties":{}}}"#
        );
        assert_eq!(
            lines[3],
            r#"{"relation":{"object_type":"group","object_id":"eng","relation":"member","subject_type":"user","subject_id":"beth","subject_relation":""}}"#
        );
        let mut expected: Vec<ImportRecord> = objects
            .iter()
            .cloned()
            .map(|mut o| {
                if o.properties.is_null() {
                    o.properties = json!({});
                }
                ImportRecord::Object(o)
            })
            .collect();
        expected.extend(relations.iter().cloned().map(ImportRecord::Relation));
        let back: Vec<ImportRecord> = read_str(&text)
            .unwrap()
            .into_iter()
            .map(|item| item.record)
            .collect();
        assert_eq!(back, expected);
    }
}
