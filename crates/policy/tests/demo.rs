//! The demo policies against the demo directory, for every citadel user.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{context, decisions, demo_directory, demo_policies};
use lictor_policy::{EvalContext, PathSeparator, PolicyError};
use serde_json::json;
use std::sync::Arc;

const RICK: &str = "rick@the-citadel.com";
const MORTY: &str = "morty@the-citadel.com";
const SUMMER: &str = "summer@the-smiths.com";
const BETH: &str = "beth@the-smiths.com";
const JERRY: &str = "jerry@the-smiths.com";
const USERS: [&str; 5] = [RICK, MORTY, SUMMER, BETH, JERRY];

fn allowed(identity: &str, path: &str, todo: &str) -> bool {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let resource = if todo.is_empty() {
        json!({})
    } else {
        json!({"object_id": todo})
    };
    let ctx = context(&directory, identity, path, resource);
    let answer = policies
        .is(&ctx, path, &decisions(&["allowed", "visible", "enabled"]))
        .unwrap_or_else(|e| panic!("{identity} {path}: {e}"));
    assert_eq!(answer[1], ("visible".to_string(), true), "{path}");
    assert_eq!(answer[2], ("enabled".to_string(), true), "{path}");
    answer[0].1
}

#[test]
fn any_signed_in_user_may_list() {
    for user in USERS {
        assert!(allowed(user, "todoApp.GET.todos", ""), "{user}");
    }
    // An identity no user has resolves to no user: not signed in.
    assert!(!allowed("nobody@example.com", "todoApp.GET.todos", ""));
}

#[test]
fn resource_creators_may_create() {
    let expected = [
        (RICK, true),
        (MORTY, true),
        (SUMMER, true),
        (BETH, false),
        (JERRY, false),
    ];
    for (user, want) in expected {
        assert_eq!(allowed(user, "todoApp.POST.todos", ""), want, "{user}");
    }
    assert!(!allowed("nobody@example.com", "todoApp.POST.todos", ""));
}

#[test]
fn owners_and_writers_may_update() {
    let path = "todoApp.PUT.todos.__id";
    let expected = [
        // (todo, [rick, morty, summer, beth, jerry])
        ("todo-rick", [true, false, false, false, false]),
        // Editors write it: morty and summer directly, rick through the admin group.
        ("todo-morty", [true, true, true, false, false]),
        ("todo-beth", [false, false, false, true, true]),
        ("todo-unknown", [false, false, false, false, false]),
    ];
    for (todo, wants) in expected {
        for (user, want) in USERS.iter().zip(wants) {
            assert_eq!(allowed(user, path, todo), want, "{user} PUT {todo}");
        }
    }
}

#[test]
fn only_owners_may_delete() {
    let path = "todoApp.DELETE.todos.__id";
    let expected = [
        ("todo-rick", [true, false, false, false, false]),
        ("todo-morty", [false, true, false, false, false]),
        ("todo-beth", [false, false, false, true, false]),
    ];
    for (todo, wants) in expected {
        for (user, want) in USERS.iter().zip(wants) {
            assert_eq!(allowed(user, path, todo), want, "{user} DELETE {todo}");
        }
    }
}

#[test]
fn undefined_and_undeclared_decisions_are_false() {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let ctx = context(&directory, RICK, "todoApp.GET.todos", json!({}));
    let answer = policies
        .is(&ctx, "todoApp.GET.todos", &decisions(&["no_such_rule"]))
        .unwrap();
    assert_eq!(answer, vec![("no_such_rule".to_string(), false)]);
    let error = policies
        .is(&ctx, "todoApp.GET.nothing", &decisions(&["allowed"]))
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::UnknownPolicy { .. }),
        "{error}"
    );
    let error = policies
        .is(&ctx, "todoApp.GET.todos", &decisions(&["allowed; true"]))
        .unwrap_err();
    assert!(matches!(error, PolicyError::InvalidPath { .. }), "{error}");
}

#[test]
fn non_boolean_decision_is_an_error() {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let ctx = context(&directory, RICK, "rebac.check", json!({}));
    let error = policies
        .is(&ctx, "rebac.check", &decisions(&["subject_type"]))
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, PolicyError::NonBoolean { .. }), "{text}");
    assert!(
        text.contains("subject_type") && text.contains("rebac.check"),
        "{text}"
    );
}

#[test]
fn decision_tree_covers_every_todo_package() {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let ctx = context(
        &directory,
        MORTY,
        "todoApp",
        json!({"object_id": "todo-morty"}),
    );
    let tree = policies
        .decision_tree(&ctx, "todoApp", &decisions(&["allowed", "visible"]))
        .unwrap();
    let paths: Vec<&str> = tree.keys().map(String::as_str).collect();
    // todoApp.common declares no decision and is left out.
    assert_eq!(
        paths,
        [
            "todoApp.DELETE.todos.__id",
            "todoApp.GET.todos",
            "todoApp.POST.todos",
            "todoApp.PUT.todos.__id",
        ]
    );
    for (path, outcomes) in &tree {
        assert!(outcomes["visible"], "{path}");
        assert!(outcomes["allowed"], "{path}");
    }

    let tree = policies
        .decision_tree_with(
            &ctx,
            "todoApp/PUT",
            &decisions(&["*"]),
            PathSeparator::Slash,
        )
        .unwrap();
    let put = &tree["todoApp/PUT/todos/__id"];
    assert_eq!(put.len(), 3, "{put:?}");
    assert!(put["allowed"] && put["enabled"] && put["visible"]);

    let jerry = context(
        &directory,
        JERRY,
        "todoApp",
        json!({"object_id": "todo-morty"}),
    );
    let tree = policies
        .decision_tree(&jerry, "todoApp", &decisions(&["allowed"]))
        .unwrap();
    assert!(tree["todoApp.GET.todos"]["allowed"]);
    assert!(!tree["todoApp.POST.todos"]["allowed"]);
    assert!(!tree["todoApp.PUT.todos.__id"]["allowed"]);
    assert!(!tree["todoApp.DELETE.todos.__id"]["allowed"]);

    let error = policies
        .decision_tree(&ctx, "nothing", &decisions(&["allowed"]))
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::UnknownPolicy { .. }),
        "{error}"
    );
}

#[test]
fn queries_answer_in_opa_shape() {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let ctx = context(
        &directory,
        SUMMER,
        "todoApp",
        json!({"object_id": "todo-morty"}),
    );
    let answer = policies
        .query(&ctx, "x = data.todoApp.PUT.todos.__id.allowed")
        .unwrap();
    assert_eq!(answer[0]["bindings"]["x"], json!(true), "{answer}");
    assert_eq!(
        answer[0]["expressions"][0]["value"],
        json!(true),
        "{answer}"
    );
    assert_eq!(
        answer[0]["expressions"][0]["text"],
        json!("x = data.todoApp.PUT.todos.__id.allowed")
    );

    let answer = policies.query(&ctx, "input.user.id").unwrap();
    assert_eq!(answer[0]["expressions"][0]["value"], json!(SUMMER));
    assert!(answer[0].get("bindings").is_none(), "{answer}");

    // Undefined: no results.
    let answer = policies.query(&ctx, "input.nothing").unwrap();
    assert_eq!(answer, json!([]));

    let answer = policies
        .query(&ctx, r#"ds.check({"object_type": "resource", "object_id": "todo-morty", "relation": "can_delete", "subject_type": "user", "subject_id": input.user.id})"#)
        .unwrap();
    assert_eq!(answer[0]["expressions"][0]["value"], json!(false));

    let error = policies.query(&ctx, "x = = 1").unwrap_err();
    assert!(matches!(error, PolicyError::Query { .. }), "{error}");
    // A variable bound nowhere parses but is unsafe: the query's fault too, not the policies'.
    let error = policies.query(&ctx, "E").unwrap_err();
    assert!(matches!(error, PolicyError::Query { .. }), "{error}");
}

#[test]
fn lists_modules_with_their_packages() {
    let policies = demo_policies();
    let modules = policies.policies();
    let find = |id: &str| modules.iter().find(|m| m.id == id).unwrap();
    assert_eq!(
        find("todoApp.PUT.todos.__id.rego").package_path,
        "todoApp.PUT.todos.__id"
    );
    assert_eq!(find("rebac.rego").package_path, "rebac.check");
    assert!(find("rebac.rego").source.contains("package rebac.check"));
    assert_eq!(policies.revision().len(), 32);
    assert_eq!(policies.revision(), demo_policies().revision());
    assert!(policies.has_package("todoApp.common"));
}

#[test]
fn rebac_check_uses_the_user_or_the_identity() {
    let directory = Arc::new(demo_directory());
    let policies = demo_policies();
    let allowed = decisions(&["allowed"]);
    let ask = |identity: &str, resource: serde_json::Value| {
        let ctx = context(&directory, identity, "rebac.check", resource);
        policies.is(&ctx, "rebac.check", &allowed).unwrap()[0].1
    };
    let delete_rick =
        json!({"object_type": "resource", "object_id": "todo-rick", "relation": "can_delete"});
    assert!(ask(RICK, delete_rick.clone()));
    assert!(!ask(MORTY, delete_rick));
    // With an identity subject the identity itself is checked (owner->identifier).
    let as_identity = json!({"object_type": "resource", "object_id": "todo-rick", "relation": "can_delete", "subject_type": "identity"});
    assert!(ask(RICK, as_identity.clone()));
    assert!(!ask(JERRY, as_identity));
    // A manual identity names any subject.
    let manual = EvalContext::new(
        Arc::clone(&directory),
        json!({
            "identity": {"type": "IDENTITY_TYPE_MANUAL", "identity": "admin"},
            "user": {},
            "resource": {"object_type": "group", "object_id": "editor", "relation": "member", "subject_type": "group"},
        }),
    );
    // group:admin is not itself a member of editor (only its members are).
    assert!(!policies.is(&manual, "rebac.check", &allowed).unwrap()[0].1);
}
