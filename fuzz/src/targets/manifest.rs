//! The manifest parser and validator. A refused manifest must come with diagnostics inside the
//! source; an accepted one must compile, admit one relation of every declared subject type, and
//! answer a check of every relation and permission.

use lictor_directory::{CheckRequest, Directory, Schema, Symbols};
use lictor_model::{ObjectRecord, RelationRecord, SubjectType};
use std::sync::Arc;

/// Bounds the checks per input: types × names × subject types.
const MOST_TYPES: usize = 8;

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let manifest = match lictor_model::parse_manifest(source, "fuzz.yaml") {
        Ok(manifest) => manifest,
        Err(error) => {
            assert!(
                !error.diagnostics.is_empty(),
                "an error without diagnostics"
            );
            // Lines as YAML counts them (`\n`, `\r\n` or a lone `\r` ends one); the YAML parser
            // reports an error at the end of the input on the line after the last one.
            let breaks = source.matches('\n').count() + source.matches('\r').count()
                - source.matches("\r\n").count();
            let lines = breaks + 2;
            for diagnostic in &error.diagnostics {
                assert!(
                    (1..=lines).contains(&diagnostic.span.line) && diagnostic.span.column >= 1,
                    "diagnostic outside the source: {diagnostic}"
                );
            }
            assert!(error.to_string().starts_with("fuzz.yaml:"));
            return;
        }
    };
    let schema = Schema::compile(manifest.clone(), source.to_string(), &Symbols::default());
    let mut directory = Directory::new();
    directory.replace_schema(Arc::new(schema));
    let types: Vec<_> = manifest.types.iter().take(MOST_TYPES).collect();
    for ty in &types {
        let object = ObjectRecord {
            object_type: ty.name.clone(),
            id: "a".to_string(),
            display_name: String::new(),
            properties: serde_json::json!({}),
            etag: String::new(),
        };
        directory
            .set_object(&object)
            .unwrap_or_else(|e| panic!("object of declared type {}: {e}", ty.name));
        for relation in &ty.relations {
            for subject in &relation.subjects {
                let (subject_id, subject_relation) = match subject {
                    SubjectType::Direct { .. } => ("a", ""),
                    SubjectType::Wildcard { .. } => ("*", ""),
                    SubjectType::Set { relation, .. } => ("a", relation.as_str()),
                };
                let record = RelationRecord {
                    object_type: ty.name.clone(),
                    object_id: "a".to_string(),
                    relation: relation.name.clone(),
                    subject_type: subject.object_type().to_string(),
                    subject_id: subject_id.to_string(),
                    subject_relation: subject_relation.to_string(),
                };
                directory
                    .set_relation(&record)
                    .unwrap_or_else(|e| panic!("relation {record} admitted by the manifest: {e}"));
            }
        }
    }
    for ty in &types {
        let names = ty
            .relations
            .iter()
            .map(|r| &r.name)
            .chain(ty.permissions.iter().map(|p| &p.name));
        for name in names {
            for subject in &types {
                let request = CheckRequest {
                    object_type: &ty.name,
                    object_id: "a",
                    relation: name,
                    subject_type: &subject.name,
                    subject_id: "a",
                    subject_relation: "",
                };
                // A depth-limit error is an answer too; only a panic is a failure here.
                let _ = directory.check(&request);
                let _ = directory.explain(&request);
            }
        }
    }
}
