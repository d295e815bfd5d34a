//! AuthZEN 1.0 against a real `lictor run`: the demo serving the AuthZEN interop's todo and search
//! scenarios through its Rego and Cerbos policies, every evaluation semantic, each mapping kind
//! (directory, Rego per action and per package, Cerbos), search pagination, the metadata document
//! and the protocol's errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let response = client().post(url).json(body).send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn authzen(server: &Server, path: &str) -> String {
    server.url("authorizer-rest", &format!("/access/v1/{path}"))
}

fn decision(server: &Server, body: &Value) -> bool {
    let (status, answer) = post(&authzen(server, "evaluation"), body);
    assert_eq!(status, 200, "{body}: {answer}");
    answer["decision"].as_bool().expect("a boolean decision")
}

/// The citadel users of the todo scenario: id, identity, and what they may do to todos.
struct TodoUser {
    email: &'static str,
    identity: &'static str,
    creates: bool,
    changes_any: bool,
    changes_own: bool,
}

const TODO_USERS: [TodoUser; 5] = [
    TodoUser {
        email: "rick@the-citadel.com",
        identity: "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        creates: true,
        changes_any: true,
        changes_own: true,
    },
    TodoUser {
        email: "morty@the-citadel.com",
        identity: "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        creates: true,
        changes_any: false,
        changes_own: true,
    },
    TodoUser {
        email: "summer@the-smiths.com",
        identity: "CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        creates: true,
        changes_any: false,
        changes_own: true,
    },
    TodoUser {
        email: "beth@the-smiths.com",
        identity: "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        creates: false,
        changes_any: false,
        changes_own: false,
    },
    TodoUser {
        email: "jerry@the-smiths.com",
        identity: "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        creates: false,
        changes_any: false,
        changes_own: false,
    },
];

/// A todo owned by `owner`, its owner given as a property or (as older interop clients send it)
/// as a field of the resource.
fn todo(id: &str, owner: &str, as_property: bool) -> Value {
    if as_property {
        json!({"type": "todo", "id": id, "properties": {"ownerID": owner}})
    } else {
        json!({"type": "todo", "id": id, "ownerID": owner})
    }
}

#[test]
fn the_demo_decides_the_interop_todo_scenario_through_its_rego_policy() {
    let server = Server::start("", true);
    let mut decided = 0;
    for user in &TODO_USERS {
        // The subject is named by its user id or by one of its identities.
        for subject_id in [user.email, user.identity] {
            let subject = json!({"type": "user", "id": subject_id});
            for as_property in [false, true] {
                let rick_todo = todo(
                    "7240d0db-8ff0-41ec-98b2-34a096273b92",
                    "rick@the-citadel.com",
                    as_property,
                );
                let own_todo = todo(
                    "7240d0db-8ff0-41ec-98b2-34a096273b9x",
                    user.email,
                    as_property,
                );
                let cases = [
                    (
                        "can_read_user",
                        json!({"type": "user", "id": "beth@the-smiths.com"}),
                        true,
                    ),
                    (
                        "can_read_user",
                        json!({"type": "user", "id": user.email}),
                        true,
                    ),
                    (
                        "can_read_todos",
                        json!({"type": "todo", "id": "todo-1"}),
                        true,
                    ),
                    (
                        "can_create_todo",
                        json!({"type": "todo", "id": "todo-1"}),
                        user.creates,
                    ),
                    ("can_update_todo", rick_todo.clone(), user.changes_any),
                    ("can_delete_todo", rick_todo.clone(), user.changes_any),
                    ("can_update_todo", own_todo.clone(), user.changes_own),
                    ("can_delete_todo", own_todo.clone(), user.changes_own),
                ];
                for (action, resource, expected) in cases {
                    let body = json!({"subject": subject, "action": {"name": action}, "resource": resource});
                    assert_eq!(decision(&server, &body), expected, "{body}");
                    decided += 1;
                }
                // The same as one batch, the subject and action as defaults.
                let (status, answer) = post(
                    &authzen(&server, "evaluations"),
                    &json!({"subject": subject, "action": {"name": "can_update_todo"},
                            "evaluations": [{"resource": rick_todo}, {"resource": own_todo}]}),
                );
                assert_eq!(status, 200, "{answer}");
                assert_eq!(
                    answer["evaluations"],
                    json!([{"decision": user.changes_any}, {"decision": user.changes_own}]),
                    "{subject_id}"
                );
            }
        }
    }
    assert_eq!(decided, 5 * 2 * 2 * 8);
    // Someone the directory does not know reads nothing.
    let stranger = json!({"subject": {"type": "user", "id": "nobody@example.com"},
                          "action": {"name": "can_read_todos"}, "resource": {"type": "todo", "id": "todo-1"}});
    assert!(!decision(&server, &stranger));
}

#[test]
fn the_demo_decides_the_interop_gateway_scenario_for_identities() {
    let server = Server::start("", true);
    for user in &TODO_USERS {
        // A gateway knows the caller's identity (its token's subject), the route and the method.
        let subject = json!({"type": "identity", "id": user.identity});
        let cases = [
            ("GET", "/users/{userId}", true),
            ("GET", "/todos", true),
            ("POST", "/todos", user.creates),
            // Whose todo it is, the backend decides: the gateway lets editors through.
            ("PUT", "/todos/{todoId}", user.changes_own),
            ("DELETE", "/todos/{todoId}", user.changes_own),
            // Routes the application does not have.
            ("GET", "/admin", false),
            ("PATCH", "/todos/{todoId}", false),
        ];
        for (method, route, expected) in cases {
            let body = json!({"subject": subject, "action": {"name": method},
                              "resource": {"type": "route", "id": route}});
            assert_eq!(decision(&server, &body), expected, "{body}");
        }
    }
    // An identity the directory does not know passes no route.
    let stranger = json!({"subject": {"type": "identity", "id": "not-an-identity"},
                          "action": {"name": "GET"}, "resource": {"type": "route", "id": "/todos"}});
    assert!(!decision(&server, &stranger));
}

/// The search scenario's people: id, role, department.
const PEOPLE: [(&str, &str, &str); 6] = [
    ("alice", "manager", "Sales"),
    ("bob", "employee", "Legal"),
    ("carol", "contractor", "Legal"),
    ("dan", "manager", "Finance"),
    ("erin", "employee", "Finance"),
    ("felix", "contractor", "Accounting"),
];

/// The scenario's records 101 to 120: department and owner.
fn records() -> Vec<(String, &'static str, &'static str)> {
    let departments = [
        "Legal",
        "Legal",
        "Legal",
        "Accounting",
        "Legal",
        "Accounting",
        "Sales",
        "Legal",
        "Accounting",
        "Sales",
        "Accounting",
        "Legal",
        "Sales",
        "Accounting",
        "Finance",
        "Legal",
        "Legal",
        "Accounting",
        "Legal",
        "Accounting",
    ];
    departments
        .iter()
        .enumerate()
        .map(|(i, department)| ((101 + i).to_string(), *department, PEOPLE[i % 6].0))
        .collect()
}

/// The scenario's rules, written out here apart from the demo's Cerbos policy.
fn may(person: (&str, &str, &str), action: &str, record: &(String, &str, &str)) -> bool {
    let (id, role, department) = person;
    let owns = record.2 == id;
    let same_department = record.1 == department;
    match action {
        "view" => owns || same_department || role == "manager",
        "edit" => owns || (same_department && role == "manager"),
        "delete" => owns,
        _ => false,
    }
}

fn result_set(answer: &Value, key: &str) -> BTreeSet<String> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {answer}"))
        .iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_demo_answers_the_interop_search_scenario_through_its_cerbos_policy() {
    let server = Server::start("", true);
    let records = records();
    let actions = ["view", "edit", "delete"];
    for person in PEOPLE {
        for action in actions {
            let (status, answer) = post(
                &authzen(&server, "search/resource"),
                &json!({"subject": {"type": "user", "id": person.0}, "action": {"name": action},
                        "resource": {"type": "record"}}),
            );
            assert_eq!(status, 200, "{answer}");
            // Only results: the harness compares the whole answer.
            assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");
            let expected: BTreeSet<String> = records
                .iter()
                .filter(|r| may(person, action, r))
                .map(|r| r.0.clone())
                .collect();
            assert_eq!(result_set(&answer, "id"), expected, "{} {action}", person.0);
            assert!(answer["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["type"] == "record"));
        }
        for record in &records {
            let (status, answer) = post(
                &authzen(&server, "search/action"),
                &json!({"subject": {"type": "user", "id": person.0},
                        "resource": {"type": "record", "id": record.0}}),
            );
            assert_eq!(status, 200, "{answer}");
            let expected: BTreeSet<String> = actions
                .iter()
                .filter(|a| may(person, a, record))
                .map(|a| a.to_string())
                .collect();
            assert_eq!(
                result_set(&answer, "name"),
                expected,
                "{} {}",
                person.0,
                record.0
            );
        }
    }
    for record in &records {
        for action in actions {
            let (status, answer) = post(
                &authzen(&server, "search/subject"),
                &json!({"subject": {"type": "user"}, "action": {"name": action},
                        "resource": {"type": "record", "id": record.0}}),
            );
            assert_eq!(status, 200, "{answer}");
            let expected: BTreeSet<String> = PEOPLE
                .iter()
                .filter(|p| may(**p, action, record))
                .map(|p| p.0.to_string())
                .collect();
            assert_eq!(result_set(&answer, "id"), expected, "{} {action}", record.0);
            assert_eq!(answer.as_object().unwrap().len(), 1, "{answer}");
        }
    }
    // The request's properties win over the directory's: as a manager of Legal, bob edits 103.
    let body = json!({"subject": {"type": "user", "id": "bob", "properties": {"role": "manager"}},
                      "action": {"name": "edit"}, "resource": {"type": "record", "id": "103"}});
    assert!(decision(&server, &body));
    let body = json!({"subject": {"type": "user", "id": "bob"},
                      "action": {"name": "edit"}, "resource": {"type": "record", "id": "103"}});
    assert!(!decision(&server, &body));
}

#[test]
fn the_demo_holds_the_certification_fixture_beside_the_search_scenario() {
    let server = Server::start("", true);
    let alice = json!({"type": "user", "id": "alice"});
    let bob = json!({"type": "user", "id": "bob"});
    let admin_bob = json!({"type": "user", "id": "bob", "properties": {"role": "admin"}});
    let record_1 = json!({"type": "record", "id": "record-1"});
    let archived =
        json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let soft = |soft: bool| json!({"name": "delete", "properties": {"soft": soft}});
    for (subject, action, resource, expected) in [
        (&alice, json!({"name": "read"}), &record_1, true),
        (&alice, json!({"name": "write"}), &record_1, true),
        (&bob, json!({"name": "read"}), &record_1, true),
        (&bob, json!({"name": "write"}), &record_1, false),
        (&alice, json!({"name": "write"}), &archived, false),
        (&admin_bob, json!({"name": "write"}), &archived, true),
        (&alice, soft(true), &record_1, true),
        (&alice, soft(false), &record_1, false),
    ] {
        let body = json!({"subject": subject, "action": action, "resource": resource});
        assert_eq!(decision(&server, &body), expected, "{body}");
    }
    let found = |path: &str, body: Value, key: &str| {
        let (status, answer) = post(&authzen(&server, path), &body);
        assert_eq!(status, 200, "{answer}");
        result_set(&answer, key)
    };
    let read = json!({"name": "read"});
    let write = json!({"name": "write"});
    let users = found(
        "search/subject",
        json!({"subject": {"type": "user"}, "action": read, "resource": record_1}),
        "id",
    );
    assert!(
        users.contains("alice") && users.contains("bob"),
        "{users:?}"
    );
    let users = found(
        "search/subject",
        json!({"subject": {"type": "user"}, "action": write, "resource": archived}),
        "id",
    );
    assert!(
        users.contains("bob") && !users.contains("alice"),
        "{users:?}"
    );
    let records = found(
        "search/resource",
        json!({"subject": alice, "action": read, "resource": {"type": "record"}}),
        "id",
    );
    assert_eq!(records, ["record-1", "record-2"].map(String::from).into());
    let records = found(
        "search/resource",
        json!({"subject": admin_bob, "action": write, "resource": {"type": "record"}}),
        "id",
    );
    assert_eq!(records, ["record-2".to_string()].into());
    let actions = found(
        "search/action",
        json!({"subject": alice, "resource": record_1}),
        "name",
    );
    assert_eq!(actions, ["read", "write"].map(String::from).into());
    let actions = found(
        "search/action",
        json!({"subject": admin_bob, "resource": archived}),
        "name",
    );
    assert!(actions.contains("write"), "{actions:?}");
    let actions = found(
        "search/action",
        json!({"subject": {"type": "user", "id": "nonexistent-user"}, "resource": record_1}),
        "name",
    );
    assert!(actions.is_empty(), "{actions:?}");
}

#[test]
fn the_three_evaluation_semantics_stop_where_they_should() {
    let server = Server::start("", true);
    // Morty: create (permit), update rick's todo (deny), update his own (permit), an item without a
    // resource (an error, so a deny), read (permit).
    let body = |semantic: Option<&str>| {
        let mut body = json!({
            "subject": {"type": "user", "id": "morty@the-citadel.com"},
            "resource": {"type": "todo", "id": "t1", "properties": {"ownerID": "rick@the-citadel.com"}},
            "evaluations": [
                {"action": {"name": "can_create_todo"}},
                {"action": {"name": "can_update_todo"}},
                {"action": {"name": "can_update_todo"},
                 "resource": {"type": "todo", "id": "t2", "properties": {"ownerID": "morty@the-citadel.com"}}},
                {"action": {"name": "can_read_todos"}, "resource": {"id": "t3"}},
                {"action": {"name": "can_read_todos"}}
            ]
        });
        if let Some(semantic) = semantic {
            body["options"] = json!({"evaluations_semantic": semantic});
        }
        body
    };
    let decisions = |semantic: Option<&str>| -> Vec<Value> {
        let (status, answer) = post(&authzen(&server, "evaluations"), &body(semantic));
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("decision").is_none(), "{answer}");
        answer["evaluations"].as_array().unwrap().clone()
    };
    let all = decisions(None);
    assert_eq!(all, decisions(Some("execute_all")));
    let outcomes: Vec<bool> = all
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect();
    assert_eq!(outcomes, [true, false, true, false, true]);
    // The failed item says why, and with which status.
    assert_eq!(all[3]["context"]["error"]["status"], 400, "{}", all[3]);
    assert!(
        all[3]["context"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evaluations[3].resource.type"),
        "{}",
        all[3]
    );
    assert_eq!(decisions(Some("deny_on_first_deny")).len(), 2);
    assert_eq!(decisions(Some("permit_on_first_permit")).len(), 1);
    // An error counts as a deny: from the fourth item on, the first deny is the error.
    let mut from_fourth = body(Some("deny_on_first_deny"));
    from_fourth["evaluations"]
        .as_array_mut()
        .unwrap()
        .drain(..3);
    let (_, answer) = post(&authzen(&server, "evaluations"), &from_fourth);
    assert_eq!(
        answer["evaluations"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
    // A wrongly typed part refuses the whole batch, unlike a missing one.
    let mut malformed = body(None);
    malformed["evaluations"][1]["resource"] =
        json!({"type": "todo", "id": "t9", "properties": [1]});
    let (status, answer) = post(&authzen(&server, "evaluations"), &malformed);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("evaluations[1].resource.properties must be an object"),
        "{answer}"
    );
    // An unknown semantic is refused whole.
    let (status, answer) = post(&authzen(&server, "evaluations"), &body(Some("first_wins")));
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("options.evaluations_semantic"));
    // Without a list, or with an empty one, the batch is one evaluation.
    for evaluations in [None, Some(json!([]))] {
        let mut one = json!({"subject": {"type": "user", "id": "morty@the-citadel.com"},
                             "action": {"name": "can_read_todos"}, "resource": {"type": "todo", "id": "t1"}});
        if let Some(list) = evaluations {
            one["evaluations"] = list;
        }
        let (status, answer) = post(&authzen(&server, "evaluations"), &one);
        assert_eq!((status, answer), (200, json!({"decision": true})));
    }
}

const ARTICLE_MANIFEST: &str = "model:
  version: 3
types:
  user: {}
  article:
    relations:
      editor: user
    permissions:
      can_edit: editor
";

/// Writes the files of a mapping test into `dir`.
fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn each_mapping_kind_decides_its_resource_types_and_actions() {
    let policies = tempfile::tempdir().unwrap();
    write(
        policies.path(),
        &[
            (
                "rego/article.rego",
                "package articles\n\ndefault allowed := false\n\n# One package reads the action.\nallowed if {\n\tinput.action.name == \"publish\"\n\tinput.subject.properties.level >= 3\n\tinput.context.weekday != \"sunday\"\n}\n",
            ),
            (
                "rego/per_action.rego",
                "package actions.archive\n\ndefault permitted := false\n\n# The directory is at hand: editors archive.\npermitted if ds.check({\"object_type\": input.resource.type, \"object_id\": input.resource.id, \"relation\": \"editor\", \"subject_type\": \"user\", \"subject_id\": input.subject.id})\n",
            ),
            (
                "cerbos/article.yaml",
                "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  version: default\n  resource: blog_article\n  rules:\n    - name: reviewers-review-drafts\n      actions: [review]\n      effect: EFFECT_ALLOW\n      roles: [reviewer]\n      condition:\n        match:\n          expr: R.attr.status == \"draft\" && P.attr.team == R.attr.team\n",
            ),
        ],
    );
    let dir = policies.path().display();
    let config = format!(
        "policies:\n  dir: {dir}/rego\ncerbos:\n  storage:\n    driver: disk\n    disk: {{directory: {dir}/cerbos}}\n  server: {{httpListenAddr: \"127.0.0.1:0\", grpcListenAddr: \"127.0.0.1:0\"}}\nauthzen:\n  mappings:\n    - resource_types: [article]\n      actions: [publish]\n      rego: {{package: articles}}\n    - resource_types: [article]\n      actions: [archive]\n      rego: {{package: actions, package_per_action: true, decision: permitted}}\n    - resource_types: [article]\n      actions: [review]\n      cerbos: {{kind: blog_article, roles_property: roles}}\n"
    );
    let server = Server::start_prepared(&config, false, |data| {
        let manifest = data.parent().unwrap().join("manifest.yaml");
        std::fs::write(&manifest, ARTICLE_MANIFEST).unwrap();
        let objects = data.parent().unwrap().join("objects.json");
        std::fs::write(
            &objects,
            json!({"objects": [
                {"type": "user", "id": "ann", "properties": {"level": 4, "team": "news", "roles": ["reviewer"]}},
                {"type": "user", "id": "ben", "properties": {"level": 1, "team": "sport", "roles": ["reviewer"]}},
                {"type": "article", "id": "a1", "properties": {"status": "draft", "team": "news"}}
            ], "relations": [
                {"object_type": "article", "object_id": "a1", "relation": "editor", "subject_type": "user", "subject_id": "ben"}
            ]})
            .to_string(),
        )
        .unwrap();
        offline(data, &["model", "set", manifest.to_str().unwrap()]);
        offline(data, &["import", objects.to_str().unwrap()]);
    });
    let ask = |who: &str, action: &str, context: Value| {
        decision(
            &server,
            &json!({"subject": {"type": "user", "id": who}, "action": {"name": action},
                    "resource": {"type": "article", "id": "a1"}, "context": context}),
        )
    };
    // Rego, one package reading the action: subject properties from the directory, the context.
    assert!(ask("ann", "publish", json!({"weekday": "monday"})));
    assert!(!ask("ann", "publish", json!({"weekday": "sunday"})));
    assert!(!ask("ben", "publish", json!({})));
    // Rego, a package per action, asking the directory.
    assert!(ask("ben", "archive", json!({})));
    assert!(!ask("ann", "archive", json!({})));
    // Cerbos: the kind as configured, roles and attributes from the directory's properties.
    assert!(ask("ann", "review", json!({})));
    assert!(!ask("ben", "review", json!({})));
    // Not mapped: a directory check, the action a relation or permission.
    assert!(ask("ben", "can_edit", json!({})));
    assert!(!ask("ann", "can_edit", json!({})));
    // Action search tries the mapped actions and the type's relations and permissions.
    let (status, answer) = post(
        &authzen(&server, "search/action"),
        &json!({"subject": {"type": "user", "id": "ben"}, "resource": {"type": "article", "id": "a1"}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        result_set(&answer, "name"),
        ["archive", "can_edit", "editor"].map(String::from).into()
    );
    // Subject search under a policy mapping tries the directory's users.
    let (_, answer) = post(
        &authzen(&server, "search/subject"),
        &json!({"subject": {"type": "user"}, "action": {"name": "review"}, "resource": {"type": "article", "id": "a1"}}),
    );
    assert_eq!(result_set(&answer, "id"), ["ann".to_string()].into());
}

/// Runs an offline `lictor` command on a data directory.
fn offline(data: &std::path::Path, args: &[&str]) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn searches_page_through_every_result_and_find_nothing_for_unknown_types() {
    let server = Server::start("", true);
    let cases = [
        (
            "search/resource",
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"}, "resource": {"type": "record"}}),
            "id",
        ),
        (
            "search/subject",
            json!({"subject": {"type": "user"}, "action": {"name": "member"}, "resource": {"type": "group", "id": "viewer"}}),
            "id",
        ),
        (
            "search/action",
            json!({"subject": {"type": "user", "id": "alice"}, "resource": {"type": "record", "id": "107"}}),
            "name",
        ),
    ];
    for (path, body, key) in cases {
        let (_, whole) = post(&authzen(&server, path), &body);
        let whole = result_set(&whole, key);
        assert!(whole.len() >= 3, "{path}: {whole:?}");
        let mut paged = BTreeSet::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let mut request = body.clone();
            request["page"] = json!({"limit": 2, "token": token});
            let (status, answer) = post(&authzen(&server, path), &request);
            assert_eq!(status, 200, "{answer}");
            let page = result_set(&answer, key);
            assert!(page.len() <= 2, "{answer}");
            assert_eq!(answer["page"]["count"], page.len(), "{answer}");
            paged.extend(page);
            pages += 1;
            token = answer["page"]["next_token"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
            assert!(pages < 20, "{path} never ends");
        }
        assert_eq!(paged, whole, "{path}");
        // The last page ends the search: no empty page follows it.
        assert_eq!(pages, whole.len().div_ceil(2), "{path}");
    }
    for (path, body) in [
        (
            "search/subject",
            json!({"subject": {"type": "spaceship"}, "action": {"name": "member"}, "resource": {"type": "group", "id": "admin"}}),
        ),
        (
            "search/resource",
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "spaceship"}}),
        ),
        (
            "search/action",
            json!({"subject": {"type": "user", "id": "nobody"}, "resource": {"type": "record", "id": "101"}}),
        ),
    ] {
        let (status, answer) = post(&authzen(&server, path), &body);
        assert_eq!((status, answer), (200, json!({"results": []})), "{path}");
    }
}

#[test]
fn the_protocol_refuses_bad_requests_echoes_request_ids_and_publishes_its_metadata() {
    let server = Server::start("", true);
    let url = authzen(&server, "evaluation");
    let good = json!({"subject": {"type": "user", "id": "rick@the-citadel.com"},
                      "action": {"name": "member"}, "resource": {"type": "group", "id": "admin"}});
    // Unknown fields are ignored; properties and context are accepted.
    let mut extended = good.clone();
    extended["futureField"] = json!({"nested": true});
    extended["subject"]["properties"] = json!({"department": "Sales"});
    extended["context"] = json!({"ip": "192.0.2.1"});
    assert!(decision(&server, &extended));
    for (mutate, field) in [
        (json!({"subject": null}), "subject is required"),
        (json!({"action": {}}), "action.name is required"),
        (
            json!({"resource": {"type": "group"}}),
            "resource.id is required",
        ),
        (
            json!({"resource": {"id": "admin"}}),
            "resource.type is required",
        ),
        (json!({"subject": "rick"}), "subject"),
        (
            json!({"action": {"name": 123}}),
            "action.name must be a string",
        ),
        (
            json!({"subject": {"type": "user", "id": "x", "properties": [1]}}),
            "subject.properties must be an object",
        ),
    ] {
        let mut body = good.clone();
        for (key, value) in mutate.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        let (status, answer) = post(&url, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    for (content_type, body) in [
        ("text/plain", good.to_string()),
        ("application/json", "{not json".to_string()),
        ("application/json", String::new()),
    ] {
        let response = client()
            .post(&url)
            .header("content-type", content_type)
            .header("x-request-id", "req-42")
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{content_type} {body:?}");
        assert_eq!(response.headers()["x-request-id"], "req-42");
    }
    let response = client()
        .post(&url)
        .header("x-request-id", "req-43")
        .json(&good)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-43");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // Searches name the input entity missing its id.
    let (status, answer) = post(
        &authzen(&server, "search/action"),
        &json!({"subject": {"type": "user"}, "resource": {"type": "record", "id": "101"}}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("subject.id"));
    // The metadata document names every endpoint under the address asked.
    let base = server.url("authorizer-rest", "");
    let response = client()
        .get(format!("{base}/.well-known/authzen-configuration"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let metadata: Value = response.json().unwrap();
    assert_eq!(metadata["policy_decision_point"], base);
    for (key, path) in [
        ("access_evaluation_endpoint", "evaluation"),
        ("access_evaluations_endpoint", "evaluations"),
        ("search_subject_endpoint", "search/subject"),
        ("search_resource_endpoint", "search/resource"),
        ("search_action_endpoint", "search/action"),
    ] {
        assert_eq!(metadata[key], format!("{base}/access/v1/{path}"), "{key}");
    }
}
