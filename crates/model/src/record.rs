//! Directory records as Topaz's directory v3 names them: objects and relations.
//!
//! They read each field under either of protojson's spellings, the proto name (`object_type`) or its
//! JSON name (`objectType`), as Topaz does; they write the proto name.

use serde::{Deserialize, Serialize};

/// A directory object: `type:id` with a display name and free-form JSON properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ObjectRecord {
    /// Object type name, declared in the manifest.
    #[serde(rename = "type")]
    pub object_type: String,
    /// Object id, unique within its type.
    pub id: String,
    /// Human-readable name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        alias = "displayName"
    )]
    pub display_name: String,
    /// Arbitrary JSON properties (an object).
    #[serde(default = "empty_properties")]
    pub properties: serde_json::Value,
    /// Content hash used for optimistic concurrency; empty on input means "unconditional".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

/// The deepest nesting of arrays and objects accepted in properties and contexts. Over gRPC each level
/// costs three protobuf message levels (Struct, map entry, Value) of the 100 that protobuf decoders
/// allow, so 32 is as deep as a value can go and still be read back over every transport.
pub const MAX_JSON_DEPTH: usize = 32;

/// How deeply `value` nests arrays and objects (`{}` and `[]` are 1, a scalar 0), counted without
/// recursion so that no input can exhaust the stack.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            serde_json::Value::Array(items) => {
                deepest = deepest.max(depth);
                pending.extend(items.iter().map(|child| (child, depth + 1)));
            }
            serde_json::Value::Object(fields) => {
                deepest = deepest.max(depth);
                pending.extend(fields.values().map(|child| (child, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The JSON kind of `value`, as error messages name it (`a string`, `an object`, ...).
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn empty_properties() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// A relation tuple: `object_type:object_id#relation@subject_type:subject_id[#subject_relation]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct RelationRecord {
    /// Type of the object the relation is on.
    #[serde(alias = "objectType")]
    pub object_type: String,
    /// Id of the object the relation is on.
    #[serde(alias = "objectId")]
    pub object_id: String,
    /// Relation name, declared on `object_type`.
    pub relation: String,
    /// Type of the subject.
    #[serde(alias = "subjectType")]
    pub subject_type: String,
    /// Id of the subject, or `*` for a wildcard.
    #[serde(alias = "subjectId")]
    pub subject_id: String,
    /// Relation on the subject for subject sets (`group#member`); empty for a direct subject.
    #[serde(default, alias = "subjectRelation")]
    pub subject_relation: String,
}

impl RelationRecord {
    /// The etag of a relation: relations carry no content besides their key, so the key's hash is the etag.
    pub fn etag(&self) -> String {
        format!(
            "{:016x}",
            fnv64(&[
                &self.object_type,
                &self.object_id,
                &self.relation,
                &self.subject_type,
                &self.subject_id,
                &self.subject_relation,
            ])
        )
    }
}

impl std::fmt::Display for RelationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}#{}@{}:{}",
            self.object_type, self.object_id, self.relation, self.subject_type, self.subject_id
        )?;
        if !self.subject_relation.is_empty() {
            write!(f, "#{}", self.subject_relation)?;
        }
        Ok(())
    }
}

impl ObjectRecord {
    /// The content etag: a hash over type, id, display name and properties.
    pub fn content_etag(&self) -> String {
        let props = self.properties.to_string();
        format!(
            "{:016x}",
            fnv64(&[&self.object_type, &self.id, &self.display_name, &props])
        )
    }
}

/// FNV-1a over the parts, with a separator so that ("ab","c") and ("a","bc") differ.
fn fnv64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A reference to an object or a subject set: `type:id` or `type:id#relation`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubjectRef {
    /// Object type name.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// Relation for a subject set; empty for a plain object.
    pub relation: String,
}

impl SubjectRef {
    /// Parses `type:id` or `type:id#relation`; the id may itself contain `:`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (object_type, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not of the form type:id or type:id#relation"))?;
        let (object_id, relation) = match rest.rsplit_once('#') {
            Some((id, rel)) => (id, rel),
            None => (rest, ""),
        };
        if object_type.is_empty() || object_id.is_empty() {
            return Err(format!(
                "`{text}` has an empty type or id (expected type:id)"
            ));
        }
        if rest.contains('#') && relation.is_empty() {
            return Err(format!("`{text}` has an empty relation after `#`"));
        }
        Ok(SubjectRef {
            object_type: object_type.to_string(),
            object_id: object_id.to_string(),
            relation: relation.to_string(),
        })
    }
}

impl std::fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.object_type, self.object_id)?;
        if !self.relation.is_empty() {
            write!(f, "#{}", self.relation)?;
        }
        Ok(())
    }
}
