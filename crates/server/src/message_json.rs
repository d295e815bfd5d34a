//! Reads a parsed JSON body into request types as protojson reads messages: a struct only from a
//! JSON object. serde's derive also builds a struct from an array of its fields in order, so without
//! this `"options": []` or `"subject": [null]` would be taken as empty messages instead of refused.
//! For the generated proto messages, a field given as `null` is also read as unset, as protojson
//! reads it.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// What a struct's field given as `null` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nulls {
    /// The field's type reads the `null` (hand-written bodies: `Option` reads it as `None`).
    Read,
    /// The field is unset (protojson; a `google.protobuf.Value` is read as a map's value, not as a
    /// struct's field, so its `null` stays).
    Unset,
}

/// A JSON value that deserializes structs from objects only, down to every nested value.
pub struct MessageDeserializer {
    value: Value,
    nulls: Nulls,
}

impl MessageDeserializer {
    /// A deserializer for hand-written request bodies.
    pub fn new(value: Value) -> MessageDeserializer {
        MessageDeserializer::with(value, Nulls::Read)
    }

    /// A deserializer for the generated proto messages.
    pub fn protojson(value: Value) -> MessageDeserializer {
        MessageDeserializer::with(value, Nulls::Unset)
    }

    fn with(value: Value, nulls: Nulls) -> MessageDeserializer {
        MessageDeserializer { value, nulls }
    }
}

impl<'de> de::Deserializer<'de> for MessageDeserializer {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let nulls = self.nulls;
        match self.value {
            Value::Array(items) => visitor.visit_seq(Elements(items.into_iter(), nulls)),
            Value::Object(fields) => visitor.visit_map(Fields::new(fields, Nulls::Read, nulls)),
            Value::String(text) => visitor.visit_string(text),
            scalar => de::Deserializer::deserialize_any(scalar, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            value => visitor.visit_some(MessageDeserializer::with(value, self.nulls)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(fields) => visitor.visit_map(Fields::new(fields, self.nulls, self.nulls)),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        de::Deserializer::deserialize_enum(self.value, name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("a number"),
        Value::String(text) => de::Unexpected::Str(text),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct Elements(std::vec::IntoIter<Value>, Nulls);

impl<'de> de::SeqAccess<'de> for Elements {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|value| seed.deserialize(MessageDeserializer::with(value, self.1)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of an object; `skipped` says whether its `null` entries are left out, `nested` how
/// the values read theirs.
struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
    skipped: Nulls,
    nested: Nulls,
}

impl Fields {
    fn new(fields: Map<String, Value>, skipped: Nulls, nested: Nulls) -> Fields {
        Fields {
            entries: fields.into_iter(),
            value: None,
            skipped,
            nested,
        }
    }
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let next = match self.skipped {
            Nulls::Read => self.entries.next(),
            Nulls::Unset => self.entries.by_ref().find(|(_, value)| !value.is_null()),
        };
        match next {
            Some((key, value)) => {
                self.value = Some(value);
                let key: de::value::StringDeserializer<serde_json::Error> = key.into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self.value.take().unwrap_or(Value::Null);
        seed.deserialize(MessageDeserializer::with(value, self.nested))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use lictor_proto::authorizer::v2 as authorizer;
    use serde::de::DeserializeOwned;
    use serde::Deserialize;
    use serde_json::json;

    fn proto<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
        T::deserialize(MessageDeserializer::protojson(value))
    }

    #[test]
    fn a_null_field_of_a_message_is_unset() {
        let request: authorizer::QueryRequest = proto(json!({
            "query": null,
            "input": null,
            "options": {"trace": null},
            "policyContext": {"path": "p", "decisions": null},
        }))
        .unwrap();
        assert_eq!(request.query, "");
        assert_eq!(request.options.map(|o| o.trace), Some(0));
        let policy = request.policy_context.unwrap();
        assert_eq!((policy.path.as_str(), policy.decisions.len()), ("p", 0));
    }

    #[test]
    fn a_null_inside_a_struct_is_kept() {
        let request: authorizer::IsRequest =
            proto(json!({"resource_context": {"owner": null}})).unwrap();
        let resource = request.resource_context.unwrap();
        assert_eq!(
            crate::proto_json::struct_json(&resource),
            json!({"owner": null})
        );
    }

    #[test]
    fn a_hand_written_body_reads_its_nulls_itself() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            size: u32,
        }
        let body = Body::deserialize(MessageDeserializer::new(json!({"name": null}))).unwrap();
        assert_eq!(body.name, None);
        assert!(Body::deserialize(MessageDeserializer::new(json!({"size": null}))).is_err());
        assert_eq!(proto::<Body>(json!({"size": null})).unwrap().size, 0);
    }

    #[test]
    fn a_message_is_read_from_an_object_only() {
        let error = proto::<authorizer::IsRequest>(json!({"policy_context": []})).unwrap_err();
        assert!(error.to_string().contains("a JSON object"), "{error}");
    }
}
