//! How long one `is` takes: the demo's GET policy (no directory call) and PUT policy (one `ds.check`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use lictor_directory::{Directory, Schema};
use lictor_model::{parse_manifest, ObjectRecord, RelationRecord};
use lictor_policy::{resolve_user, EvalContext, PolicySet};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn main() {
    divan::main();
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo")
}

fn directory() -> Directory {
    let demo = demo();
    let text = std::fs::read_to_string(demo.join("manifest.yaml")).unwrap();
    let manifest = parse_manifest(&text, "manifest.yaml").unwrap();
    let mut directory = Directory::new();
    let schema = Schema::compile(manifest, text, directory.schema().symbols());
    directory.replace_schema(Arc::new(schema));
    for name in ["citadel_objects.json", "todo_objects.json"] {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(demo.join(name)).unwrap()).unwrap();
        for object in doc["objects"].as_array().unwrap() {
            let record: ObjectRecord = serde_json::from_value(object.clone()).unwrap();
            directory.set_object(&record).unwrap();
        }
    }
    for name in ["citadel_relations.json", "todo_relations.json"] {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(demo.join(name)).unwrap()).unwrap();
        for relation in doc["relations"].as_array().unwrap() {
            let record: RelationRecord = serde_json::from_value(relation.clone()).unwrap();
            directory.set_relation(&record).unwrap();
        }
    }
    directory
        .set_relation(&RelationRecord {
            object_type: "resource".to_string(),
            object_id: "todo-1".to_string(),
            relation: "owner".to_string(),
            subject_type: "user".to_string(),
            subject_id: "rick@the-citadel.com".to_string(),
            subject_relation: String::new(),
        })
        .unwrap();
    directory
}

fn setup(path: &str) -> (PolicySet, EvalContext, Vec<String>) {
    let policies = PolicySet::load_dir(&demo().join("policies")).unwrap();
    let directory = Arc::new(directory());
    let identity = "rick@the-citadel.com";
    let input = json!({
        "identity": {"type": "IDENTITY_TYPE_SUB", "identity": identity},
        "user": resolve_user(&directory, identity).unwrap().unwrap(),
        "policy": {"path": path, "decisions": ["allowed"]},
        "resource": {"object_id": "todo-1"},
    });
    (
        policies,
        EvalContext::new(directory, input),
        vec!["allowed".to_string()],
    )
}

#[divan::bench]
fn get_todos(bencher: divan::Bencher) {
    let (policies, ctx, decisions) = setup("todoApp.GET.todos");
    bencher.bench_local(|| {
        let answer = policies.is(&ctx, "todoApp.GET.todos", &decisions).unwrap();
        assert!(answer[0].1);
    });
}

#[divan::bench]
fn put_todo_with_ds_check(bencher: divan::Bencher) {
    let (policies, ctx, decisions) = setup("todoApp.PUT.todos.__id");
    bencher.bench_local(|| {
        let answer = policies
            .is(&ctx, "todoApp.PUT.todos.__id", &decisions)
            .unwrap();
        assert!(answer[0].1);
    });
}

#[divan::bench]
fn put_todo_three_decisions(bencher: divan::Bencher) {
    let (policies, ctx, _) = setup("todoApp.PUT.todos.__id");
    let decisions: Vec<String> = ["allowed", "visible", "enabled"]
        .iter()
        .map(|d| d.to_string())
        .collect();
    bencher.bench_local(|| {
        policies
            .is(&ctx, "todoApp.PUT.todos.__id", &decisions)
            .unwrap()
    });
}

#[divan::bench]
fn clone_compiled_engine_first_call(bencher: divan::Bencher) {
    // The first call on a thread (or after a reload) clones the compiled engine.
    let (_, ctx, decisions) = setup("todoApp.GET.todos");
    bencher
        .with_inputs(|| PolicySet::load_dir(&demo().join("policies")).unwrap())
        .bench_local_values(|policies| policies.is(&ctx, "todoApp.GET.todos", &decisions).unwrap());
}
