//! JSON values and the protobuf `Struct` that carries them in the authorizer's messages, both
//! ways, and proto messages written as protojson writes them.

use lictor_proto::wkt;
use serde_json::Value;

/// A JSON value as a protobuf `Struct`; anything but an object gives an empty one. Integers
/// become doubles, as `google.protobuf.Value` holds numbers.
pub fn proto_struct(value: Value) -> wkt::Struct {
    match value {
        Value::Object(fields) => fields
            .into_iter()
            .map(|(name, value)| (name, proto_value(value)))
            .collect(),
        _ => wkt::Struct::default(),
    }
}

fn proto_value(value: Value) -> wkt::Value {
    match value {
        Value::Null => wkt::Value::from(()),
        Value::Bool(b) => wkt::Value::from(b),
        Value::Number(n) => wkt::Value::from(n.as_f64().unwrap_or_default()),
        Value::String(s) => wkt::Value::from(s),
        Value::Array(items) => {
            wkt::Value::from(items.into_iter().map(proto_value).collect::<Vec<_>>())
        }
        Value::Object(_) => wkt::Value::from(proto_struct(value)),
    }
}

/// A protobuf `Struct` as JSON, with whole numbers that a double holds exactly read back as
/// integers, as protojson writes them, so that a policy sees `5` where the caller wrote `5`.
pub fn struct_json(value: &wkt::Struct) -> Value {
    Value::Object(
        value
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), value_json(value)))
            .collect(),
    )
}

fn value_json(value: &wkt::Value) -> Value {
    use wkt::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number_json(*n),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(value_json).collect()),
        Some(Kind::StructValue(fields)) => struct_json(fields),
    }
}

/// 2^53: below it a double holds every integer.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// A double as the integer it holds, when it is a whole number below 2^53.
fn whole(n: f64) -> Option<i64> {
    // Exact: a whole number below 2^53 converts to i64 without loss.
    (n.fract() == 0.0 && n.abs() < EXACT).then_some(n as i64)
}

/// A double as a JSON number: an integer when it is a whole number a double holds exactly, and
/// null when it is no number (NaN or infinite), which JSON cannot write.
fn number_json(n: f64) -> Value {
    match whole(n) {
        Some(integer) => Value::from(integer),
        None => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
    }
}

/// A proto message written as protojson writes it, straight into bytes (no JSON value in between):
/// compact, whole-number doubles as integers (see [`struct_json`]), NaN and infinities as null.
pub fn protojson_bytes<T: serde::Serialize>(message: &T) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(256);
    message.serialize(&mut serde_json::Serializer::with_formatter(
        &mut bytes,
        WholeNumbers,
    ))?;
    Ok(bytes)
}

/// serde_json's compact output, with whole-number floats written as integers.
struct WholeNumbers;

impl serde_json::ser::Formatter for WholeNumbers {
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        match whole(value) {
            Some(integer) => self.write_i64(writer, integer),
            None => serde_json::ser::CompactFormatter.write_f64(writer, value),
        }
    }

    fn write_f32<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: f32,
    ) -> std::io::Result<()> {
        match whole(f64::from(value)) {
            Some(integer) => self.write_i64(writer, integer),
            None => serde_json::ser::CompactFormatter.write_f32(writer, value),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_come_back_as_integers_and_fractions_stay() {
        let original = json!({
            "n": 5,
            "f": 1.5,
            "big": 9_007_199_254_740_993_u64,
            "list": [1, null, "x", {"deep": -2}],
            "t": true,
        });
        let back = struct_json(&proto_struct(original));
        assert!(back["n"].is_i64(), "{back}");
        assert_eq!(back["n"], json!(5));
        assert_eq!(back["f"], json!(1.5));
        assert_eq!(back["list"], json!([1, null, "x", {"deep": -2}]));
        assert_eq!(back["t"], json!(true));
        // Beyond 2^53 a double does not hold every integer: the value stays a double.
        assert!(back["big"].is_f64(), "{back}");
    }

    #[test]
    fn anything_but_an_object_is_an_empty_struct() {
        assert!(proto_struct(json!([1, 2])).fields.is_empty());
        assert!(proto_struct(Value::Null).fields.is_empty());
    }

    #[test]
    fn messages_are_written_with_whole_numbers_as_integers() {
        let message =
            json!({"a": 10.0, "b": [2.5, 3.0, -0.0, 1e300], "c": "10.0", "d": {"e": 1.0e15}});
        assert_eq!(
            String::from_utf8(protojson_bytes(&message).unwrap()).unwrap(),
            r#"{"a":10,"b":[2.5,3,0,1e+300],"c":"10.0","d":{"e":1000000000000000}}"#
        );
        assert_eq!(
            String::from_utf8(protojson_bytes(&(f64::NAN, 7.0_f32, 0.5_f32)).unwrap()).unwrap(),
            "[null,7,0.5]"
        );
    }
}
