//! The SCIM schemas this service provider serves (`schemas.json`, `resource_types.json`,
//! `service_provider_config.json`), and what writes learn from them: each attribute's canonical
//! spelling, its type and whether a client may write it.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The core User schema.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// `GET /Schemas`: every schema resource.
pub const SCHEMAS: &str = include_str!("schemas.json");
/// `GET /ResourceTypes`: User and Group.
pub const RESOURCE_TYPES: &str = include_str!("resource_types.json");
/// `GET /ServiceProviderConfig`.
pub const SERVICE_PROVIDER_CONFIG: &str = include_str!("service_provider_config.json");

/// One attribute's definition, as far as writes need it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    /// Its canonical name.
    pub name: String,
    /// `string`, `boolean`, `complex`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it holds a list.
    #[serde(default)]
    pub multi_valued: bool,
    /// Whether a resource must have it.
    #[serde(default)]
    pub required: bool,
    /// `readOnly`, `readWrite`, `immutable`, `writeOnly`.
    #[serde(default)]
    pub mutability: String,
    /// `always`, `never`, `default`, `request`.
    #[serde(default)]
    pub returned: String,
    /// Its sub-attributes, for a complex one.
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
}

#[derive(Debug, Deserialize)]
struct SchemaResource {
    id: String,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

/// Every schema's attributes, read once.
fn schemas() -> &'static [SchemaResource] {
    static PARSED: OnceLock<Vec<SchemaResource>> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(SCHEMAS).unwrap_or_default())
}

/// The attributes of a schema.
pub fn attributes(urn: &str) -> &'static [Attribute] {
    schemas()
        .iter()
        .find(|schema| schema.id.eq_ignore_ascii_case(urn))
        .map_or(&[], |schema| schema.attributes.as_slice())
}

/// An attribute by name, without regard to case.
pub fn find<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A client's attributes made ready to store under `core` (and its extensions): names spelled as
/// the schema spells them, booleans given as strings (`"False"`, as Entra ID sends) read as
/// booleans, and what a client may not write (`readOnly`, and the never-returned password, which
/// is never stored) left out. Unknown attributes are kept as written.
pub fn normalize(
    core: &str,
    extensions: &[&str],
    input: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in input {
        if let Some(extension) = extensions.iter().find(|urn| urn.eq_ignore_ascii_case(name)) {
            if let Value::Object(fields) = value {
                out.insert(
                    (*extension).to_string(),
                    Value::Object(normalize_fields(attributes(extension), fields)),
                );
            }
            continue;
        }
        if ["schemas", "id", "meta"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            continue;
        }
        if name.eq_ignore_ascii_case("externalId") {
            out.insert("externalId".into(), value.clone());
            continue;
        }
        insert_normalized(attributes(core), &mut out, name, value);
    }
    out
}

fn normalize_fields(definitions: &[Attribute], input: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in input {
        insert_normalized(definitions, &mut out, name, value);
    }
    out
}

fn insert_normalized(
    definitions: &[Attribute],
    out: &mut Map<String, Value>,
    name: &str,
    value: &Value,
) {
    let Some(definition) = find(definitions, name) else {
        out.insert(name.to_string(), value.clone());
        return;
    };
    if definition.mutability == "readOnly" || definition.returned == "never" {
        return;
    }
    out.insert(definition.name.clone(), shaped(definition, value));
}

/// A value shaped as its definition says: sub-attributes named canonically, booleans as booleans.
pub fn shaped(definition: &Attribute, value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| shaped_one(definition, v)).collect())
        }
        other => shaped_one(definition, other),
    }
}

fn shaped_one(definition: &Attribute, value: &Value) -> Value {
    match (definition.kind.as_str(), value) {
        ("boolean", Value::String(text)) if text.eq_ignore_ascii_case("true") => Value::Bool(true),
        ("boolean", Value::String(text)) if text.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        ("complex", Value::Object(fields)) => {
            Value::Object(normalize_fields(&definition.sub_attributes, fields))
        }
        _ => value.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_discovery_documents_parse_and_define_what_writes_need() {
        for (name, text) in [
            ("schemas.json", SCHEMAS),
            ("resource_types.json", RESOURCE_TYPES),
            ("service_provider_config.json", SERVICE_PROVIDER_CONFIG),
        ] {
            serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(find(attributes(CORE_USER), "username").is_some());
        assert!(find(attributes(CORE_GROUP), "members").is_some());
        assert!(find(attributes(ENTERPRISE_USER), "department").is_some());
    }

    #[test]
    fn writes_are_normalized_by_the_schema() {
        let input = json!({
            "schemas": [CORE_USER],
            "id": "client-chosen",
            "USERNAME": "bjensen",
            "active": "False",
            "name": {"givenname": "Barbara"},
            "password": "secret",
            "groups": [{"value": "g"}],
            "externalid": "x-1",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Tour"},
            "x-custom": 1
        });
        let out = normalize(CORE_USER, &[ENTERPRISE_USER], input.as_object().unwrap());
        assert_eq!(
            Value::Object(out),
            json!({
                "userName": "bjensen",
                "active": false,
                "name": {"givenName": "Barbara"},
                "externalId": "x-1",
                ENTERPRISE_USER: {"department": "Tour"},
                "x-custom": 1
            })
        );
    }
}
