//! Conversions between JSON and CEL values.
use std::collections::HashMap;
use std::sync::Arc;

use ::cel::common::types::{CelBool, CelDouble, CelList, CelMap, CelMapKey, CelNull, CelString};
use ::cel::common::value::Val;
use ::cel::objects::Key;
use ::cel::{ExecutionError, Value};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset, Timelike};

/// A JSON value as a CEL value borrowing its strings. Numbers are doubles, as in Cerbos (a JSON
/// number reaches Cerbos as a `google.protobuf.Value`).
pub(super) fn json_to_val(json: &serde_json::Value) -> Box<dyn Val + '_> {
    match json {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Box::new(CelString::from(s.as_str())),
        serde_json::Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_val).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(fields) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = fields
                .iter()
                .map(|(name, value)| (CelMapKey::from(name.as_str()), json_to_val(value)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}

/// A JSON value as a CEL value owning copies of its strings, for values kept beyond a borrow.
pub(super) fn json_to_owned_val(json: &serde_json::Value) -> Box<dyn Val> {
    match json {
        serde_json::Value::String(s) => Box::new(CelString::from(s.clone())),
        serde_json::Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_to_owned_val).collect::<Vec<_>>(),
        )),
        serde_json::Value::Object(fields) => {
            let map: HashMap<CelMapKey<'static>, Box<dyn Val>> = fields
                .iter()
                .map(|(name, value)| (CelMapKey::from(name.clone()), json_to_owned_val(value)))
                .collect();
            Box::new(CelMap::from(map))
        }
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
    }
}

/// A JSON value as an owned CEL [`Value`] (numbers become doubles, as in Cerbos).
pub fn json_to_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_value).collect()))
        }
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(name, value)| (Key::from(name.as_str()), json_to_value(value)))
                .collect();
            Value::from(map)
        }
    }
}

/// An owned [`Value`] as a CEL value the interpreter can bind.
pub(super) fn value_to_val(value: Value) -> Result<Box<dyn Val>, ExecutionError> {
    Box::<dyn Val>::try_from(value)
}

/// A CEL value as JSON, the way Cerbos prints output values: timestamps in RFC 3339 keeping
/// their offset, durations in seconds (`"5400s"`), bytes in base64, non-finite doubles as null.
pub fn value_to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null | Value::Function(..) | Value::Opaque(_) | Value::Struct(_) => {
            serde_json::Value::Null
        }
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::UInt(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.as_str().to_owned()),
        Value::Bytes(b) => serde_json::Value::String(
            base64::engine::general_purpose::STANDARD.encode(b.as_slice()),
        ),
        Value::Duration(d) => serde_json::Value::String(duration_text(d)),
        Value::Timestamp(t) => serde_json::Value::String(timestamp_text(t)),
        Value::List(items) => serde_json::Value::Array(items.iter().map(value_to_json).collect()),
        Value::Map(map) => serde_json::Value::Object(
            map.map
                .iter()
                .map(|(key, value)| (key_text(key), value_to_json(value)))
                .collect(),
        ),
    }
}

fn key_text(key: &Key) -> String {
    match key {
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
        Key::String(s) => s.as_str().to_owned(),
    }
}

/// Nanoseconds as Go prints them after a decimal point: no trailing zeros, nothing for zero.
fn fraction_text(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!(".{nanos:09}");
    digits.trim_end_matches('0').to_owned()
}

/// A duration as protobuf's JSON mapping writes it: seconds with up to nine fractional digits.
pub(super) fn duration_text(duration: &chrono::Duration) -> String {
    let negative = *duration < chrono::Duration::zero();
    let magnitude = duration.abs();
    let seconds = magnitude.num_seconds();
    let nanos = magnitude.subsec_nanos().unsigned_abs();
    let sign = if negative { "-" } else { "" };
    format!("{sign}{seconds}{}s", fraction_text(nanos))
}

/// A timestamp in RFC 3339 with its own offset (`Z` for UTC), nanoseconds without trailing zeros.
pub(super) fn timestamp_text(timestamp: &DateTime<FixedOffset>) -> String {
    let base = timestamp.format("%Y-%m-%dT%H:%M:%S");
    let fraction = fraction_text(timestamp.nanosecond());
    let offset = timestamp.offset().local_minus_utc();
    if offset == 0 {
        format!("{base}{fraction}Z")
    } else {
        format!("{base}{fraction}{}", timestamp.format("%:z"))
    }
}
