//! JSON schemas of `_schemas/`, referenced by resource policies as `cerbos:///<path>`, and the validation of
//! principal and resource attributes with messages worded as Cerbos words them.

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value as Json;

use crate::api::{ValidationError, ValidationSource};
use crate::disk::PolicyFile;

/// Compiled schemas by path relative to `_schemas/`, or why a schema could not be used.
#[derive(Debug, Default, Clone)]
pub(crate) struct SchemaSet {
    schemas: HashMap<String, Result<Arc<jsonschema::Validator>, String>>,
}

impl SchemaSet {
    /// Reads every `.json` file under `_schemas/`.
    pub(crate) fn load(files: &[&PolicyFile]) -> SchemaSet {
        let mut schemas = HashMap::new();
        for file in files {
            let Some(path) = file.path.strip_prefix("_schemas/") else {
                continue;
            };
            if !path.ends_with(".json") {
                continue;
            }
            let compiled = serde_json::from_str::<Json>(&file.text)
                .map_err(|e| {
                    format!(
                        "schema {} is not valid JSON at {}:{}: {e}",
                        file.path,
                        e.line(),
                        e.column()
                    )
                })
                .and_then(|json| {
                    jsonschema::validator_for(&json).map(Arc::new).map_err(|e| {
                        format!("schema {} is not a valid JSON schema: {e}", file.path)
                    })
                });
            schemas.insert(path.to_owned(), compiled);
        }
        SchemaSet { schemas }
    }

    /// The validator a `cerbos:///path` reference names.
    pub(crate) fn resolve(&self, reference: &str) -> Result<Arc<jsonschema::Validator>, String> {
        let Some(path) = reference.strip_prefix("cerbos:///") else {
            return Err(format!(
                "schema reference `{reference}` must start with cerbos:///"
            ));
        };
        match self.schemas.get(path) {
            Some(Ok(v)) => Ok(Arc::clone(v)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("schema `{reference}` does not exist in _schemas")),
        }
    }
}

fn quoted_list(values: &[Json]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A violation's message in Cerbos's wording.
fn message(kind: &ValidationErrorKind, instance: &Json) -> String {
    match kind {
        ValidationErrorKind::Enum { options } => match options.as_array().map(Vec::as_slice) {
            Some([single]) => format!("value must be {single}"),
            Some(values) => format!("value must be one of {}", quoted_list(values)),
            None => format!("value must be one of {options}"),
        },
        ValidationErrorKind::Constant { expected_value } => {
            format!("value must be {expected_value}")
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("expected {expected}, but got {}", json_kind(instance))
        }
        ValidationErrorKind::Required { property } => format!("missing properties: {property}"),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected.iter().map(|u| format!("{u:?}")).collect();
            format!("additionalProperties {} not allowed", names.join(", "))
        }
        ValidationErrorKind::Minimum { limit } => {
            format!("must be >= {limit} but found {instance}")
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("must be <= {limit} but found {instance}")
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("must be > {limit} but found {instance}")
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("must be < {limit} but found {instance}")
        }
        ValidationErrorKind::MinLength { limit } => {
            format!(
                "length must be >= {limit}, but got {}",
                instance.as_str().map_or(0, |s| s.chars().count())
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!(
                "length must be <= {limit}, but got {}",
                instance.as_str().map_or(0, |s| s.chars().count())
            )
        }
        ValidationErrorKind::Pattern { pattern } => format!("does not match pattern {pattern:?}"),
        ValidationErrorKind::MinItems { limit } => {
            format!(
                "minimum {limit} items required, but found {} items",
                instance.as_array().map_or(0, Vec::len)
            )
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!(
                "maximum {limit} items required, but found {} items",
                instance.as_array().map_or(0, Vec::len)
            )
        }
        other => format!("{other:?}"),
    }
}

/// Validates one attribute map; required-property violations of one object are reported together.
pub(crate) fn validate(
    validator: &jsonschema::Validator,
    attributes: &Json,
    source: ValidationSource,
    out: &mut Vec<ValidationError>,
) {
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for error in validator.iter_errors(attributes) {
        let path = error.instance_path.as_str().to_owned();
        if let ValidationErrorKind::Required { property } = &error.kind {
            match missing.iter_mut().find(|(p, _)| *p == path) {
                Some((_, names)) => names.push(property.to_string()),
                None => missing.push((path, vec![property.to_string()])),
            }
            continue;
        }
        out.push(ValidationError {
            path,
            message: message(&error.kind, &error.instance),
            source,
        });
    }
    for (path, names) in missing {
        out.push(ValidationError {
            path,
            message: format!("missing properties: {}", names.join(", ")),
            source,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    #[test]
    fn messages_follow_cerbos() {
        let schema = json!({"type": "object", "properties": {"department": {"type": "string", "enum": ["marketing", "engineering"]}, "n": {"type": "string"}}, "required": ["a", "b"]});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut out = Vec::new();
        validate(
            &validator,
            &json!({"department": "accounting", "n": 1}),
            ValidationSource::Principal,
            &mut out,
        );
        let messages: Vec<(&str, &str)> = out
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
        assert!(
            messages.contains(&(
                "/department",
                "value must be one of \"marketing\", \"engineering\""
            )),
            "{messages:?}"
        );
        assert!(
            messages.contains(&("/n", "expected string, but got number")),
            "{messages:?}"
        );
        assert!(
            messages.contains(&("", "missing properties: \"a\", \"b\"")),
            "{messages:?}"
        );
    }
}
