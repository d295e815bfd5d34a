//! Loading: modules, directories, bundles, data documents, and rejected sets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{decisions, demo_directory};
use lictor_policy::{EvalContext, PolicyError, PolicySet};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn ctx(input: serde_json::Value) -> EvalContext {
    EvalContext::new(Arc::new(demo_directory()), input)
}

fn module(name: &str, source: &str) -> (String, String) {
    (name.to_string(), source.to_string())
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let error = PolicySet::from_modules(vec![
        module("policies/good.rego", "package good\n\nallowed := true\n"),
        module(
            "policies/todo.rego",
            "package todo\n\ndefault allowed := false\n\nallowed if {\n  input.user\n  x := = 1\n}\n",
        ),
    ])
    .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, PolicyError::Compile { line: 7, .. }),
        "{text}"
    );
    assert!(text.starts_with("policies/todo.rego:7:"), "{text}");
}

#[test]
fn semantic_errors_are_rejected_at_load() {
    // A variable that nothing binds.
    let error = PolicySet::from_modules(vec![module(
        "unsafe.rego",
        "package unsafe\n\nallowed if {\n  x == 1\n}\n",
    )])
    .unwrap_err();
    assert!(error.to_string().starts_with("unsafe.rego:4:"), "{error}");
}

#[test]
fn duplicate_module_ids_are_rejected() {
    let error = PolicySet::from_modules(vec![
        module("a.rego", "package a\n"),
        module("a.rego", "package b\n"),
    ])
    .unwrap_err();
    assert!(
        error.to_string().contains("duplicate module id `a.rego`"),
        "{error}"
    );
}

#[test]
fn rego_v0_modules_load_alongside_v1() {
    let policies = PolicySet::from_modules(vec![
        module(
            "old.rego",
            "package old\n\nimport future.keywords.in\n\ndefault allowed = false\n\nallowed {\n  \"admin\" in input.roles\n}\n",
        ),
        module("new.rego", "package new\n\nallowed if \"admin\" in input.roles\n"),
    ])
    .unwrap();
    let admin = ctx(json!({"roles": ["admin"]}));
    let nobody = ctx(json!({"roles": []}));
    for path in ["old", "new"] {
        assert!(policies.is(&admin, path, &decisions(&["allowed"])).unwrap()[0].1);
        assert!(
            !policies
                .is(&nobody, path, &decisions(&["allowed"]))
                .unwrap()[0]
                .1
        );
    }
}

#[test]
fn loads_a_directory_with_data_documents() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("app/roles")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/ignored.rego"), "this is not rego").unwrap();
    std::fs::write(
        root.join("app/policy.rego"),
        "package app\n\nallowed if input.role in data.app.roles.admins\n\nlimit := data.limits.max\n",
    )
    .unwrap();
    std::fs::write(root.join("app/roles/data.json"), r#"{"admins": ["root"]}"#).unwrap();
    std::fs::write(root.join("data.yaml"), "limits:\n  max: 3\n").unwrap();
    std::fs::write(root.join("README.md"), "not loaded").unwrap();
    let policies = PolicySet::load_dir(root).unwrap();
    let ids: Vec<String> = policies.policies().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["app/policy.rego"]);
    let root_ctx = ctx(json!({"role": "root"}));
    assert!(
        policies
            .is(&root_ctx, "app", &decisions(&["allowed"]))
            .unwrap()[0]
            .1
    );
    assert!(
        !policies
            .is(
                &ctx(json!({"role": "guest"})),
                "app",
                &decisions(&["allowed"])
            )
            .unwrap()[0]
            .1
    );
    assert_eq!(
        policies.query(&root_ctx, "data.app.limit").unwrap()[0]["expressions"][0]["value"],
        json!(3)
    );

    // A broken file is named by its path on disk.
    std::fs::write(
        root.join("app/broken.rego"),
        "package app\n\nallowed if {\n",
    )
    .unwrap();
    let error = PolicySet::load_dir(root).unwrap_err();
    let expected = format!("{}:", root.join("app/broken.rego").display());
    assert!(error.to_string().starts_with(&expected), "{error}");

    // Bad data is named too.
    std::fs::remove_file(root.join("app/broken.rego")).unwrap();
    std::fs::write(root.join("app/roles/data.json"), "{").unwrap();
    let error = PolicySet::load_dir(root).unwrap_err();
    assert!(
        error.to_string().contains("data.json: invalid JSON"),
        "{error}"
    );

    let error = PolicySet::load_dir(&root.join("missing")).unwrap_err();
    assert!(matches!(error, PolicyError::Io { .. }), "{error}");
}

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn loads_an_opa_bundle() {
    let demo = common::demo_dir().join("policies");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                format!("./policies/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.push((
        ".manifest".to_string(),
        r#"{"revision": "1", "roots": [""]}"#.to_string(),
    ));
    files.push((
        "todoApp/data.json".to_string(),
        r#"{"tenant": "citadel"}"#.to_string(),
    ));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.tar.gz");
    std::fs::write(&bundle, tar_gz(&borrowed)).unwrap();

    let policies = PolicySet::load_bundle(&bundle).unwrap();
    assert!(policies.has_package("todoApp.PUT.todos.__id"));
    assert!(policies.policy("policies/rebac.rego").is_some());
    let directory = Arc::new(demo_directory());
    let ctx = common::context(
        &directory,
        "rick@the-citadel.com",
        "todoApp.POST.todos",
        json!({}),
    );
    assert!(
        policies
            .is(&ctx, "todoApp.POST.todos", &decisions(&["allowed"]))
            .unwrap()[0]
            .1
    );
    assert_eq!(
        policies.query(&ctx, "data.todoApp.tenant").unwrap()[0]["expressions"][0]["value"],
        json!("citadel")
    );

    // The same modules make the same revision, whatever the container.
    let from_dir = PolicySet::load_dir(&demo).unwrap();
    assert_eq!(from_dir.policies().len(), policies.policies().len());

    let broken = dir.path().join("broken.tar.gz");
    std::fs::write(
        &broken,
        tar_gz(&[("policies/x.rego", "package x\n\nallowed if {\n")]),
    )
    .unwrap();
    let error = PolicySet::load_bundle(&broken).unwrap_err();
    let expected = format!("{}/policies/x.rego:", broken.display());
    assert!(error.to_string().starts_with(&expected), "{error}");

    let garbage = dir.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"not a bundle").unwrap();
    assert!(PolicySet::load_bundle(&garbage).is_err());
    assert!(PolicySet::load_bundle(Path::new("/nonexistent/bundle.tar.gz")).is_err());
}

#[test]
fn revision_follows_content() {
    let a = PolicySet::from_modules(vec![module("a.rego", "package a\n\nx := 1\n")]).unwrap();
    let b = PolicySet::from_modules(vec![module("a.rego", "package a\n\nx := 1\n")]).unwrap();
    let c = PolicySet::from_modules(vec![module("a.rego", "package a\n\nx := 2\n")]).unwrap();
    assert_eq!(a.revision(), b.revision());
    assert_ne!(a.revision(), c.revision());
}

#[test]
fn policy_sets_are_send_and_sync() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<PolicySet>();
    shared::<EvalContext>();
}
