//! Test helpers: directories built in-process from Topaz-shaped JSON files, and inputs built the
//! way the server builds them.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_directory::{Directory, Schema};
use lictor_model::{parse_manifest, ObjectRecord, RelationRecord};
use lictor_policy::{resolve_user, EvalContext, PolicySet};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The repository's `examples/demo` folder.
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo")
}

/// The demo policies.
pub fn demo_policies() -> PolicySet {
    PolicySet::load_dir(&demo_dir().join("policies")).unwrap_or_else(|e| panic!("{e}"))
}

/// A directory with the manifest at `manifest` and no data.
pub fn with_manifest(manifest: &Path) -> Directory {
    let text = std::fs::read_to_string(manifest).unwrap();
    let parsed =
        parse_manifest(&text, &manifest.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let mut directory = Directory::new();
    let schema = Schema::compile(parsed, text, directory.schema().symbols());
    directory.replace_schema(Arc::new(schema));
    directory
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Loads every `*_objects.json`, then every `*_relations.json`, from each folder.
pub fn load_data(directory: &mut Directory, folders: &[PathBuf]) {
    for folder in folders {
        for file in files_ending(folder, "_objects.json") {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for object in doc["objects"].as_array().unwrap() {
                let record: ObjectRecord = serde_json::from_value(object.clone()).unwrap();
                directory
                    .set_object(&record)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            }
        }
    }
    for folder in folders {
        for file in files_ending(folder, "_relations.json") {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for relation in doc["relations"].as_array().unwrap() {
                let record: RelationRecord = serde_json::from_value(relation.clone()).unwrap();
                directory
                    .set_relation(&record)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            }
        }
    }
}

/// Parses `type:id#relation@type:id[#relation]`.
pub fn tuple(text: &str) -> RelationRecord {
    let (object, subject) = text.split_once('@').unwrap();
    let object = lictor_model::SubjectRef::parse(object).unwrap();
    let subject = lictor_model::SubjectRef::parse(subject).unwrap();
    RelationRecord {
        object_type: object.object_type,
        object_id: object.object_id,
        relation: object.relation,
        subject_type: subject.object_type,
        subject_id: subject.object_id,
        subject_relation: subject.relation,
    }
}

/// The demo directory (citadel users, resource creators) plus a few todo resources:
/// `todo-rick` owned by rick; `todo-morty` owned by morty and writable by the editors group
/// (morty, summer, and through the admin group, rick); `todo-beth` owned by beth with jerry a writer.
pub fn demo_directory() -> Directory {
    let demo = demo_dir();
    let mut directory = with_manifest(&demo.join("manifest.yaml"));
    load_data(&mut directory, &[demo]);
    for id in ["todo-rick", "todo-morty", "todo-beth"] {
        directory
            .set_object(&ObjectRecord {
                object_type: "resource".to_string(),
                id: id.to_string(),
                display_name: format!("todo {id}"),
                properties: json!({}),
                etag: String::new(),
            })
            .unwrap();
    }
    for text in [
        "resource:todo-rick#owner@user:rick@the-citadel.com",
        "resource:todo-morty#owner@user:morty@the-citadel.com",
        "resource:todo-morty#writer@group:editor#member",
        "resource:todo-beth#owner@user:beth@the-smiths.com",
        "resource:todo-beth#writer@user:jerry@the-smiths.com",
    ] {
        directory.set_relation(&tuple(text)).unwrap();
    }
    directory
}

/// The input Topaz's authorizer builds: the identity context, the resolved user, the policy context
/// and the resource context.
pub fn input(directory: &Directory, identity: &str, path: &str, resource: Value) -> Value {
    let user = resolve_user(directory, identity).unwrap();
    let mut input = json!({
        "identity": {"type": "IDENTITY_TYPE_SUB", "identity": identity},
        "policy": {"path": path, "decisions": ["allowed"]},
        "resource": resource,
    });
    if let Some(user) = user {
        input["user"] = user;
    }
    input
}

/// An evaluation context over `directory` with the input for `identity`.
pub fn context(
    directory: &Arc<Directory>,
    identity: &str,
    path: &str,
    resource: Value,
) -> EvalContext {
    EvalContext::new(
        Arc::clone(directory),
        input(directory, identity, path, resource),
    )
}

/// Decision names.
pub fn decisions(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}
