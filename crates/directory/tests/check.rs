//! Check semantics: every rule and every error path.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{check, directory, try_check, tuple, with_manifest};
use lictor_directory::{
    CheckRequest, DirectoryError, LookupObjectsRequest, LookupSubjectsRequest, Page, Step,
};
use lictor_model::ObjectRecord;

const DRIVE: &str = r#"
model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      parent: folder
      owner: user
      viewer: user | group#member | user:*
    permissions:
      can_read: viewer | owner | owner->identifier | parent->can_read
  doc:
    relations:
      parent: folder
      owner: user
      editor: user | group#member
      viewer: user | group#member
      banned: user
      org: user | group#member
    permissions:
      can_write: editor | owner
      can_read: can_write | viewer | parent->can_read
      can_view_safe: can_read - banned
      can_org_edit: editor & org
      mixed: (viewer | editor) & org - banned
"#;

#[test]
fn direct_relation() {
    let d = directory(DRIVE, &["doc:1#owner@user:beth"]);
    assert!(check(&d, "user:beth", "owner", "doc:1"));
    assert!(!check(&d, "user:rick", "owner", "doc:1"));
    assert!(!check(&d, "user:beth", "owner", "doc:2"));
    assert!(!check(&d, "user:beth", "editor", "doc:1"));
}

#[test]
fn union_intersection_exclusion() {
    let d = directory(
        DRIVE,
        &[
            "doc:1#editor@user:beth",
            "doc:1#org@user:beth",
            "doc:1#editor@user:rick",
            "doc:1#viewer@user:morty",
            "doc:1#org@user:morty",
            "doc:1#viewer@user:jerry",
            "doc:1#banned@user:jerry",
            "doc:1#org@user:jerry",
        ],
    );
    assert!(check(&d, "user:beth", "can_read", "doc:1"));
    assert!(check(&d, "user:beth", "can_org_edit", "doc:1"));
    assert!(!check(&d, "user:rick", "can_org_edit", "doc:1"));
    assert!(check(&d, "user:jerry", "can_read", "doc:1"));
    assert!(!check(&d, "user:jerry", "can_view_safe", "doc:1"));
    assert!(check(&d, "user:morty", "can_view_safe", "doc:1"));
    // (viewer | editor) & org - banned
    assert!(check(&d, "user:morty", "mixed", "doc:1"));
    assert!(check(&d, "user:beth", "mixed", "doc:1"));
    assert!(!check(&d, "user:rick", "mixed", "doc:1"));
    assert!(!check(&d, "user:jerry", "mixed", "doc:1"));
}

#[test]
fn arrows_through_folder_tree() {
    let d = directory(
        DRIVE,
        &[
            "folder:root#owner@user:beth",
            "folder:a#parent@folder:root",
            "folder:b#parent@folder:a",
            "doc:1#parent@folder:b",
            "folder:a#viewer@user:morty",
        ],
    );
    assert!(check(&d, "user:beth", "can_read", "doc:1"));
    assert!(check(&d, "user:morty", "can_read", "doc:1"));
    assert!(!check(&d, "user:morty", "can_read", "folder:root"));
    assert!(!check(&d, "user:rick", "can_read", "doc:1"));
}

#[test]
fn arrow_to_identity() {
    let d = directory(
        DRIVE,
        &[
            "user:beth#identifier@identity:beth@smiths",
            "folder:root#owner@user:beth",
            "doc:1#parent@folder:root",
        ],
    );
    assert!(check(&d, "identity:beth@smiths", "can_read", "doc:1"));
    assert!(!check(&d, "identity:rick@citadel", "can_read", "doc:1"));
}

#[test]
fn nested_groups_any_depth() {
    let mut tuples = vec!["doc:1#viewer@group:g0#member".to_string()];
    for level in 0..30 {
        tuples.push(format!("group:g{level}#member@group:g{}#member", level + 1));
    }
    tuples.push("group:g30#member@user:deep".to_string());
    let refs: Vec<&str> = tuples.iter().map(String::as_str).collect();
    let d = directory(DRIVE, &refs);
    assert!(check(&d, "user:deep", "can_read", "doc:1"));
    assert!(check(&d, "user:deep", "member", "group:g0"));
    assert!(!check(&d, "user:other", "can_read", "doc:1"));
    // A subject set as the subject: every member of g5 can read.
    assert!(check(&d, "group:g5#member", "can_read", "doc:1"));
    assert!(check(&d, "group:g5#member", "member", "group:g0"));
    assert!(!check(&d, "group:g0#member", "member", "group:g5"));
}

#[test]
fn subject_set_contains_itself() {
    let d = directory(DRIVE, &["group:a#member@user:x"]);
    assert!(check(&d, "group:a#member", "member", "group:a"));
    // Even when the directory has never seen the object.
    assert!(check(&d, "group:zz#member", "member", "group:zz"));
    assert!(!check(&d, "group:zz#member", "member", "group:a"));
}

#[test]
fn cycles_terminate() {
    let d = directory(
        DRIVE,
        &[
            "group:a#member@group:b#member",
            "group:b#member@group:c#member",
            "group:c#member@group:a#member",
            "group:b#member@user:beth",
            "folder:x#parent@folder:y",
            "folder:y#parent@folder:x",
        ],
    );
    assert!(check(&d, "user:beth", "member", "group:a"));
    assert!(check(&d, "user:beth", "member", "group:c"));
    assert!(!check(&d, "user:rick", "member", "group:a"));
    assert!(!check(&d, "user:rick", "can_read", "folder:x"));
}

#[test]
fn cycle_results_are_not_memoised_out_of_context() {
    // can_org_edit = editor & org; editor reaches group g1 whose membership loops through g2 back to g1
    // and also reaches beth directly: memoising g2's in-cycle "no" must not turn g1's "yes" into "no".
    let d = directory(
        DRIVE,
        &[
            "doc:1#editor@group:g1#member",
            "doc:1#org@group:g2#member",
            "group:g1#member@group:g2#member",
            "group:g2#member@group:g1#member",
            "group:g1#member@user:beth",
        ],
    );
    assert!(check(&d, "user:beth", "member", "group:g2"));
    assert!(check(&d, "user:beth", "editor", "doc:1"));
    assert!(check(&d, "user:beth", "can_org_edit", "doc:1"));
}

#[test]
fn wildcard_admits_every_subject_of_its_type() {
    let d = directory(
        DRIVE,
        &["folder:pub#viewer@user:*", "doc:1#parent@folder:pub"],
    );
    assert!(check(&d, "user:anyone-at-all", "can_read", "folder:pub"));
    assert!(check(&d, "user:anyone-at-all", "can_read", "doc:1"));
    assert!(!check(&d, "identity:x", "can_read", "folder:pub"));
    assert!(!check(&d, "group:g#member", "viewer", "folder:pub"));
}

#[test]
fn depth_limit_is_an_error_not_a_crash() {
    let mut d = with_manifest(DRIVE);
    for level in 0..5000 {
        d.set_relation(&tuple(&format!(
            "folder:f{level}#parent@folder:f{}",
            level + 1
        )))
        .unwrap();
        d.set_relation(&tuple(&format!(
            "group:g{level}#member@group:g{}#member",
            level + 1
        )))
        .unwrap();
    }
    d.set_relation(&tuple("folder:f5000#owner@user:deep"))
        .unwrap();
    d.set_relation(&tuple("group:g5000#member@user:deep"))
        .unwrap();
    // Arrows recurse: 5000 folders deep is past the limit and answers with an error.
    let error = try_check(&d, "user:deep", "can_read", "folder:f0").unwrap_err();
    assert!(
        matches!(error, DirectoryError::DepthExceeded { limit: 100, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("depth limit of 100"), "{error}");
    assert!(check(&d, "user:deep", "can_read", "folder:f4950"));
    d.set_depth_limit(10);
    assert!(check(&d, "user:deep", "can_read", "folder:f4998"));
    let error = try_check(&d, "user:deep", "can_read", "folder:f4950").unwrap_err();
    assert!(
        matches!(error, DirectoryError::DepthExceeded { limit: 10, .. }),
        "{error}"
    );
    // Nested group membership is reachability, answered from the member's side at any depth.
    assert!(check(&d, "user:deep", "member", "group:g0"));
    assert!(!check(&d, "user:other", "member", "group:g0"));
}

#[test]
fn unknown_names_are_errors() {
    let d = directory(DRIVE, &["doc:1#owner@user:beth"]);
    let error = try_check(&d, "user:beth", "owner", "spaceship:1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown object type `spaceship` (not declared in the manifest)"
    );
    let error = try_check(&d, "user:beth", "can_fly", "doc:1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "type `doc` has no relation or permission `can_fly`"
    );
    let error = try_check(&d, "alien:x", "owner", "doc:1").unwrap_err();
    assert!(error.to_string().contains("`alien`"), "{error}");
    let error = try_check(&d, "group:a#boss", "owner", "doc:1").unwrap_err();
    assert!(error.to_string().contains("`boss`"), "{error}");
    // An unknown object of a known type is simply not granted.
    assert!(!check(&d, "user:beth", "owner", "doc:missing"));
}

#[test]
fn writes_that_the_manifest_forbids_are_rejected() {
    let mut d = with_manifest(DRIVE);
    let cases = [
        (
            "doc:1#owner@group:eng#member",
            "relation `doc#owner` does not admit subject `group#member` (it admits: user)",
        ),
        (
            "doc:1#owner@user:*",
            "relation `doc#owner` does not admit subject `user:*` (it admits: user)",
        ),
        (
            "doc:1#can_read@user:beth",
            "`doc#can_read` is a permission; only relations can be written",
        ),
        (
            "doc:1#nope@user:beth",
            "type `doc` has no relation or permission `nope`",
        ),
        (
            "ship:1#owner@user:beth",
            "unknown object type `ship` (not declared in the manifest)",
        ),
        (
            "doc:1#owner@ship:1",
            "unknown object type `ship` (not declared in the manifest)",
        ),
        (
            "doc:*#owner@user:beth",
            "object id `*` is reserved for wildcard subjects (doc:*)",
        ),
    ];
    for (text, message) in cases {
        let error = d.set_relation(&tuple(text)).unwrap_err();
        assert_eq!(error.to_string(), message, "{text}");
    }
    let mut empty = tuple("doc:1#owner@user:beth");
    empty.subject_id.clear();
    assert_eq!(
        d.set_relation(&empty).unwrap_err().to_string(),
        "field `subject_id` must not be empty"
    );
    assert_eq!(d.relation_count(), 0, "a rejected write changes nothing");
}

#[test]
fn objects_are_validated_and_etagged() {
    let mut d = with_manifest(DRIVE);
    let mut beth = ObjectRecord {
        object_type: "user".into(),
        id: "beth".into(),
        display_name: "Beth".into(),
        properties: serde_json::json!({"email": "beth@smiths"}),
        etag: String::new(),
    };
    assert!(d.set_object(&beth).unwrap());
    let stored = d.get_object("user", "beth").unwrap();
    assert_eq!(stored.display_name, "Beth");
    assert!(!stored.etag.is_empty());
    beth.display_name = "Beth Smith".into();
    assert!(!d.set_object(&beth).unwrap());
    let renamed = d.get_object("user", "beth").unwrap().etag.clone();
    assert_ne!(renamed, stored.etag);
    // The properties alone changed: a new etag as well.
    beth.properties = serde_json::json!({"email": "beth@smiths", "age": 40});
    assert!(!d.set_object(&beth).unwrap());
    let aged = d.get_object("user", "beth").unwrap().etag.clone();
    assert_ne!(aged, renamed);
    assert_ne!(aged, stored.etag);
    // The same content again: the same etag.
    assert!(!d.set_object(&beth).unwrap());
    assert_eq!(d.get_object("user", "beth").unwrap().etag, aged);
    beth.properties = serde_json::json!([1, 2]);
    let error = d.set_object(&beth).unwrap_err();
    assert_eq!(
        error.to_string(),
        "properties of `user:beth` must be a JSON object, not an array"
    );
    beth.object_type = "ship".into();
    assert!(d.set_object(&beth).is_err());
    assert!(d.delete_object("user", "beth"));
    assert!(d.get_object("user", "beth").is_none());
}

#[test]
fn snapshots_are_isolated() {
    let before = directory(DRIVE, &["doc:1#owner@user:beth"]);
    let mut after = before.clone();
    after.set_relation(&tuple("doc:1#owner@user:rick")).unwrap();
    assert!(after.delete_relation(&tuple("doc:1#owner@user:beth")));
    assert!(check(&before, "user:beth", "owner", "doc:1"));
    assert!(!check(&before, "user:rick", "owner", "doc:1"));
    assert!(!check(&after, "user:beth", "owner", "doc:1"));
    assert!(check(&after, "user:rick", "owner", "doc:1"));
}

#[test]
fn explain_shows_the_proof_and_the_attempts() {
    let d = directory(
        DRIVE,
        &[
            "group:eng#member@user:beth",
            "folder:root#viewer@group:eng#member",
            "doc:1#parent@folder:root",
        ],
    );
    let request = CheckRequest {
        object_type: "doc",
        object_id: "1",
        relation: "can_read",
        subject_type: "user",
        subject_id: "beth",
        subject_relation: "",
    };
    let explanation = d.explain(&request).unwrap();
    assert!(explanation.allowed);
    let text = explanation.trace.as_ref().unwrap().to_string();
    for expected in [
        "✓ doc:1#can_read (permission)",
        "✓ parent->can_read",
        "✓ folder:root#viewer (relation)",
        "✓ group:eng#member (relation)",
        "✓ tuple with subject user:beth",
        "✗ doc:1#viewer (relation)",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    let denied = d
        .explain(&CheckRequest {
            subject_id: "rick",
            ..request
        })
        .unwrap();
    assert!(!denied.allowed);
    let text = denied.trace.as_ref().unwrap().to_string();
    assert!(text.contains("✗ group:eng#member (relation)"), "{text}");
    assert!(
        !text.contains('✓'),
        "a denial has no granting step:\n{text}"
    );
    let json = serde_json::to_value(&denied).unwrap();
    assert_eq!(json["allowed"], false);
    assert_eq!(json["trace"]["kind"], "permission");
    assert!(matches!(
        explanation.trace.unwrap().step,
        Step::Permission { .. }
    ));
}

#[test]
fn explain_reports_cycles() {
    let d = directory(
        DRIVE,
        &[
            "group:a#member@group:b#member",
            "group:b#member@group:a#member",
        ],
    );
    let explanation = d
        .explain(&CheckRequest {
            object_type: "group",
            object_id: "a",
            relation: "member",
            subject_type: "user",
            subject_id: "x",
            subject_relation: "",
        })
        .unwrap();
    assert!(!explanation.allowed);
    let text = explanation.trace.unwrap().to_string();
    assert!(text.contains("group:a#member again: cycle"), "{text}");
}

#[test]
fn lookups_agree_with_check_and_paginate() {
    let d = directory(
        DRIVE,
        &[
            "group:eng#member@user:beth",
            "folder:root#viewer@group:eng#member",
            "doc:1#parent@folder:root",
            "doc:2#parent@folder:root",
            "doc:3#viewer@user:beth",
            "doc:4#viewer@user:rick",
            "doc:5#owner@user:beth",
            "doc:2#banned@user:beth",
        ],
    );
    let request = LookupObjectsRequest {
        subject_type: "user",
        subject_id: "beth",
        subject_relation: "",
        permission: "can_read",
        object_type: "doc",
    };
    let all = d.lookup_objects(&request, Page::default()).unwrap();
    assert_eq!(all.ids, ["1", "2", "3", "5"]);
    assert_eq!(all.next, None);
    let safe = d
        .lookup_objects(
            &LookupObjectsRequest {
                permission: "can_view_safe",
                ..request
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(safe.ids, ["1", "3", "5"]);
    let first = d
        .lookup_objects(
            &request,
            Page {
                size: 2,
                after: None,
            },
        )
        .unwrap();
    assert_eq!(first.ids, ["1", "2"]);
    assert_eq!(first.next.as_deref(), Some("2"));
    let second = d
        .lookup_objects(
            &request,
            Page {
                size: 2,
                after: first.next.as_deref(),
            },
        )
        .unwrap();
    assert_eq!(second.ids, ["3", "5"]);
    assert_eq!(second.next, None);

    let subjects = d
        .lookup_subjects(
            &LookupSubjectsRequest {
                object_type: "doc",
                object_id: "1",
                permission: "can_read",
                subject_type: "user",
                subject_relation: "",
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(subjects.page.ids, ["beth"]);
    let sets = d
        .lookup_subjects(
            &LookupSubjectsRequest {
                object_type: "doc",
                object_id: "1",
                permission: "can_read",
                subject_type: "group",
                subject_relation: "member",
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(sets.page.ids, ["eng"]);
}

#[test]
fn lookup_subjects_with_wildcard_names_exclusions() {
    const MODEL: &str = r#"
model:
  version: 3
types:
  user: {}
  doc:
    relations:
      viewer: user | user:*
      banned: user
    permissions:
      can_view: viewer - banned
"#;
    let d = directory(
        MODEL,
        &[
            "doc:1#viewer@user:*",
            "doc:1#viewer@user:beth",
            "doc:1#banned@user:jerry",
        ],
    );
    let found = d
        .lookup_subjects(
            &LookupSubjectsRequest {
                object_type: "doc",
                object_id: "1",
                permission: "can_view",
                subject_type: "user",
                subject_relation: "",
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(found.page.ids, ["*", "beth"]);
    assert_eq!(found.excluded, ["jerry"]);
    assert!(!check(&d, "user:jerry", "can_view", "doc:1"));
    assert!(check(&d, "user:anyone", "can_view", "doc:1"));
}

#[test]
fn manifest_changes_list_what_they_would_strand() {
    let d = directory(
        DRIVE,
        &["doc:1#owner@user:beth", "doc:1#viewer@group:eng#member"],
    );
    let narrower = DRIVE.replace(
        "viewer: user | group#member\n      banned",
        "viewer: user\n      banned",
    );
    let parsed = lictor_model::parse_manifest(&narrower, "new.yaml").unwrap();
    let schema = lictor_directory::Schema::compile(parsed, narrower.clone(), d.schema().symbols());
    let (lines, total) = d.violations_under(&schema, 10);
    assert_eq!(total, 1);
    assert_eq!(
        lines,
        ["relation `doc:1#viewer@group:eng#member`: relation `doc#viewer` does not admit subject `group#member` (it admits: user)"]
    );
    let (_, total) = d.violations_under(d.schema(), 10);
    assert_eq!(total, 0);
}

#[test]
fn relations_of_an_object_cover_both_sides() {
    let d = directory(
        DRIVE,
        &[
            "group:eng#member@user:beth",
            "doc:1#viewer@group:eng#member",
            "group:eng#member@group:ops#member",
            "doc:2#owner@user:beth",
        ],
    );
    let mut found: Vec<String> = d
        .relations_of("group", "eng")
        .iter()
        .map(ToString::to_string)
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "doc:1#viewer@group:eng#member",
            "group:eng#member@group:ops#member",
            "group:eng#member@user:beth",
        ]
    );
}

#[test]
fn arrows_follow_members_of_subject_sets_like_topaz() {
    // folder#viewer holds group:eng#member; viewer->identifier reaches the identities of eng's members,
    // through nested groups, as Topaz's own gdrive assertions expect.
    const MODEL: &str = r#"
model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      viewer: user | group#member
    permissions:
      can_read: viewer | viewer->identifier
"#;
    let d = directory(
        MODEL,
        &[
            "user:rick#identifier@identity:rick@citadel",
            "group:eng#member@group:core#member",
            "group:core#member@user:rick",
            "folder:shared#viewer@group:eng#member",
        ],
    );
    assert!(check(
        &d,
        "identity:rick@citadel",
        "can_read",
        "folder:shared"
    ));
    assert!(!check(
        &d,
        "identity:morty@citadel",
        "can_read",
        "folder:shared"
    ));
    let found = d
        .lookup_objects(
            &LookupObjectsRequest {
                subject_type: "identity",
                subject_id: "rick@citadel",
                subject_relation: "",
                permission: "can_read",
                object_type: "folder",
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(found.ids, ["shared"]);
}
