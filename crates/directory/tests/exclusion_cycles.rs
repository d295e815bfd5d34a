//! Cycles through the subtracted side of an exclusion: a node whose answer depends on its own negation is
//! undecidable, and undecidable is never a grant. Plain cycles (through unions, intersections, arrows and
//! relations only) keep answering "not granted on this path".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{check, directory};
use lictor_directory::{
    CheckRequest, Directory, LookupObjectsRequest, LookupSubjectsRequest, Page, Step,
};

/// OpenFGA's self-referential exclusion: `viewer` is excluded by `restricted`, which admits `viewer`.
const RESTRICTED: &str = r#"
model:
  version: 3
types:
  user: {}
  document:
    relations:
      owner: user
      viewer_direct: user
      restricted: user | document#viewer
      exempt: user
      flagged: user
      restricted_nested: user | document#viewer_nested
      restricted_flagged: user | document#flagged_viewer
    permissions:
      viewer: viewer_direct - restricted
      viewer_or_owner: (viewer_direct - restricted) | owner
      viewer_nested: viewer_direct - (restricted_nested - exempt)
      flagged_viewer: viewer_flagged & flagged
      viewer_flagged: viewer_direct - restricted_flagged
"#;

fn restricted_directory() -> Directory {
    directory(
        RESTRICTED,
        &[
            "document:1#viewer_direct@user:anne",
            "document:1#restricted@document:1#viewer",
            "document:1#viewer_direct@user:bob",
            "document:1#restricted@user:bob",
            "document:2#viewer_direct@user:anne",
        ],
    )
}

#[test]
fn a_permission_excluded_through_itself_is_denied() {
    let d = restricted_directory();
    // viewer = viewer_direct and not viewer: no answer is consistent, so it is denied, as OpenFGA does.
    assert!(!check(&d, "user:anne", "viewer", "document:1"));
    // restricted holds viewer, which is undecidable: restricted is undecidable too, and not granted.
    assert!(!check(&d, "user:anne", "restricted", "document:1"));
    // A definite exclusion still decides: bob is restricted directly.
    assert!(!check(&d, "user:bob", "viewer", "document:1"));
    // Without the self-referencing tuple, the same model grants.
    assert!(check(&d, "user:anne", "viewer", "document:2"));
    // Someone not in viewer_direct is denied before the exclusion is looked at.
    assert!(!check(&d, "user:carl", "viewer", "document:1"));
}

#[test]
fn another_granting_branch_still_grants() {
    let mut d = restricted_directory();
    assert!(!check(&d, "user:anne", "viewer_or_owner", "document:1"));
    d.set_relation(&common::tuple("document:1#owner@user:anne"))
        .unwrap();
    // Undecidable or granted is granted: the union does not need the undecidable side.
    assert!(check(&d, "user:anne", "viewer_or_owner", "document:1"));
    assert!(!check(&d, "user:anne", "viewer", "document:1"));
}

#[test]
fn a_nested_exclusion_decides_only_when_its_answer_is_known() {
    let mut d = directory(
        RESTRICTED,
        &[
            "document:1#viewer_direct@user:anne",
            "document:1#restricted_nested@document:1#viewer_nested",
        ],
    );
    // restricted_nested - exempt is undecidable for anne, so viewer_nested is too.
    assert!(!check(&d, "user:anne", "viewer_nested", "document:1"));
    d.set_relation(&common::tuple("document:1#exempt@user:anne"))
        .unwrap();
    // Exempt: `undecidable - granted` is a definite denial, so nothing is subtracted from viewer_direct.
    assert!(check(&d, "user:anne", "viewer_nested", "document:1"));
}

#[test]
fn a_cycle_through_an_intersection_is_undecidable_unless_another_side_denies() {
    let d = directory(
        RESTRICTED,
        &[
            "document:1#viewer_direct@user:anne",
            "document:1#viewer_direct@user:bob",
            "document:1#flagged@user:anne",
            "document:1#restricted_flagged@document:1#flagged_viewer",
        ],
    );
    // anne: restricted_flagged = viewer_flagged & flagged = undecidable & granted: undecidable.
    assert!(!check(&d, "user:anne", "viewer_flagged", "document:1"));
    assert!(!check(&d, "user:anne", "flagged_viewer", "document:1"));
    // bob is not flagged: the intersection is denied whatever viewer_flagged is, so bob views.
    assert!(check(&d, "user:bob", "viewer_flagged", "document:1"));
    assert!(!check(&d, "user:bob", "flagged_viewer", "document:1"));
}

const FOLDERS: &str = r#"
model:
  version: 3
types:
  user: {}
  folder:
    relations:
      parent: folder
      viewer_direct: user
      blocked: user | folder#viewer
    permissions:
      viewer: (viewer_direct | parent->viewer) - blocked
"#;

#[test]
fn a_cycle_through_an_arrow_is_undecidable() {
    // a inherits viewer from b; b blocks a's viewers: a views iff b does, and b views iff a does not.
    let d = directory(
        FOLDERS,
        &[
            "folder:a#parent@folder:b",
            "folder:b#viewer_direct@user:anne",
            "folder:b#blocked@folder:a#viewer",
            "folder:c#parent@folder:b",
        ],
    );
    assert!(!check(&d, "user:anne", "viewer", "folder:a"));
    assert!(!check(&d, "user:anne", "viewer", "folder:b"));
    // c inherits from b, whose answer is undecidable: not granted either.
    assert!(!check(&d, "user:anne", "viewer", "folder:c"));
}

const TEAMS: &str = r#"
model:
  version: 3
types:
  user: {}
  team:
    relations:
      parent: team
      member: user
    permissions:
      everyone: member | parent->everyone
  group:
    relations:
      member: user | group#member
  document:
    relations:
      viewer: user
      banned: user | group#member | team#everyone
    permissions:
      can_view: viewer - banned
"#;

#[test]
fn plain_cycles_below_an_exclusion_still_decide() {
    // Both cycles lie wholly inside the subtracted side: they never reach can_view again, so they
    // answer "not a member" as before, and the exclusion decides.
    let d = directory(
        TEAMS,
        &[
            "group:a#member@group:b#member",
            "group:b#member@group:a#member",
            "group:b#member@user:eve",
            "team:x#parent@team:y",
            "team:y#parent@team:x",
            "team:y#member@user:ted",
            "document:1#banned@group:a#member",
            "document:1#banned@team:x#everyone",
            "document:1#viewer@user:anne",
            "document:1#viewer@user:eve",
            "document:1#viewer@user:ted",
        ],
    );
    assert!(check(&d, "user:anne", "can_view", "document:1"));
    assert!(!check(&d, "user:eve", "can_view", "document:1"));
    assert!(!check(&d, "user:ted", "can_view", "document:1"));
    assert!(check(&d, "user:ted", "everyone", "team:x"));
    assert!(!check(&d, "user:anne", "everyone", "team:x"));
}

#[test]
fn lookups_leave_out_undecidable_answers() {
    let d = restricted_directory();
    let objects = d
        .lookup_objects(
            &LookupObjectsRequest {
                subject_type: "user",
                subject_id: "anne",
                subject_relation: "",
                permission: "viewer",
                object_type: "document",
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(objects.ids, vec!["2".to_string()]);
    for (object_id, expected) in [("1", Vec::<String>::new()), ("2", vec!["anne".to_string()])] {
        let subjects = d
            .lookup_subjects(
                &LookupSubjectsRequest {
                    object_type: "document",
                    object_id,
                    permission: "viewer",
                    subject_type: "user",
                    subject_relation: "",
                },
                Page::default(),
            )
            .unwrap();
        assert_eq!(subjects.page.ids, expected, "document:{object_id}");
        assert!(subjects.excluded.is_empty());
    }
}

#[test]
fn explain_names_the_cycle_that_makes_the_answer_undecidable() {
    let d = restricted_directory();
    let explanation = d
        .explain(&CheckRequest {
            object_type: "document",
            object_id: "1",
            relation: "viewer",
            subject_type: "user",
            subject_id: "anne",
            subject_relation: "",
        })
        .unwrap();
    assert!(!explanation.allowed);
    let trace = explanation.trace.unwrap();
    let text = trace.to_string();
    for expected in [
        "? document:1#viewer (permission)",
        "✓ document:1#viewer_direct (relation)",
        "? document:1#restricted (relation)",
        "? denied: document:1#restricted depends on document:1#viewer, which is being decided \
         (a cycle through the subtracted side of an exclusion: undecidable)",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    assert!(trace.undecidable);
    let json = serde_json::to_value(&trace).unwrap();
    assert_eq!(json["kind"], "permission");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["undecidable"], true);
    let exclusion = &json["children"][0];
    assert_eq!(exclusion["kind"], "exclusion");
    let restricted = &exclusion["children"][1];
    assert_eq!(restricted["node"], "document:1#restricted");
    let cycle = &restricted["children"][0];
    assert_eq!(cycle["kind"], "cycle");
    assert_eq!(cycle["node"], "document:1#viewer");
    assert_eq!(cycle["dependent"], "document:1#restricted");
    assert!(matches!(
        &trace.children[0].children[1].children[0].step,
        Step::Cycle {
            dependent: Some(dependent),
            ..
        } if dependent == "document:1#restricted"
    ));
}

#[test]
fn a_plain_cycle_is_not_marked_undecidable() {
    let d = directory(TEAMS, &["team:x#parent@team:y", "team:y#parent@team:x"]);
    let explanation = d
        .explain(&CheckRequest {
            object_type: "team",
            object_id: "x",
            relation: "everyone",
            subject_type: "user",
            subject_id: "anne",
            subject_relation: "",
        })
        .unwrap();
    assert!(!explanation.allowed);
    let trace = explanation.trace.unwrap();
    let text = trace.to_string();
    assert!(
        text.contains("✗ team:x#everyone again: cycle, not granted on this path"),
        "{text}"
    );
    assert!(!text.contains('?'), "{text}");
    let json = serde_json::to_value(&trace).unwrap();
    assert!(json.get("undecidable").is_none(), "{json}");
}
