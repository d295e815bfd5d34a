//! Test helpers: build a directory from manifest text and tuple strings.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_directory::{CheckRequest, Directory, Schema};
use lictor_model::{parse_manifest, RelationRecord, SubjectRef};
use std::sync::Arc;

/// A directory with this manifest and no data.
pub fn with_manifest(manifest: &str) -> Directory {
    let parsed = parse_manifest(manifest, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut directory = Directory::new();
    let schema = Schema::compile(parsed, manifest.to_string(), directory.schema().symbols());
    directory.replace_schema(Arc::new(schema));
    directory
}

/// Parses `type:id#relation@type:id[#relation]`.
pub fn tuple(text: &str) -> RelationRecord {
    let (object, subject) = text.split_once('@').expect("tuple needs @");
    let object = SubjectRef::parse(object).unwrap();
    let subject = SubjectRef::parse(subject).unwrap();
    RelationRecord {
        object_type: object.object_type,
        object_id: object.object_id,
        relation: object.relation,
        subject_type: subject.object_type,
        subject_id: subject.object_id,
        subject_relation: subject.relation,
    }
}

/// A directory with this manifest and these tuples.
pub fn directory(manifest: &str, tuples: &[&str]) -> Directory {
    let mut directory = with_manifest(manifest);
    for text in tuples {
        directory
            .set_relation(&tuple(text))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    directory
}

/// Checks `subject permission object` in the CLI's syntax.
pub fn check(directory: &Directory, subject: &str, permission: &str, object: &str) -> bool {
    try_check(directory, subject, permission, object).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`check`], returning the error.
pub fn try_check(
    directory: &Directory,
    subject: &str,
    permission: &str,
    object: &str,
) -> Result<bool, lictor_directory::DirectoryError> {
    let subject = SubjectRef::parse(subject).unwrap();
    let object = SubjectRef::parse(object).unwrap();
    directory.check(&CheckRequest {
        object_type: &object.object_type,
        object_id: &object.object_id,
        relation: permission,
        subject_type: &subject.object_type,
        subject_id: &subject.object_id,
        subject_relation: &subject.relation,
    })
}
