//! The change journal an edge replica follows: every write's changes by revision, and a copy kept
//! equal by a snapshot then the changes after it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{Change, Store};
use support::Kind;

mod support;

on_both_backends!(
    every_write_is_journaled_by_revision,
    a_copy_made_from_a_snapshot_and_the_journal_exports_the_same,
);

const MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user | group#member\n";

fn member(group: &str, user: &str) -> RelationRecord {
    RelationRecord {
        object_type: "group".to_string(),
        object_id: group.to_string(),
        relation: "member".to_string(),
        subject_type: "user".to_string(),
        subject_id: user.to_string(),
        subject_relation: String::new(),
    }
}

fn user(id: &str) -> ObjectRecord {
    ObjectRecord {
        object_type: "user".to_string(),
        id: id.to_string(),
        display_name: id.to_uppercase(),
        properties: serde_json::json!({"n": 1}),
        etag: String::new(),
    }
}

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    // Etags and stamps belong to each store; the records are what must agree.
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in ["etag", "created_at", "updated_at"] {
                if let Some(object) = value.as_object_mut() {
                    object.remove(key);
                }
                if let Some(object) = value.get_mut("object").and_then(|o| o.as_object_mut()) {
                    object.remove(key);
                }
                if let Some(object) = value.get_mut("relation").and_then(|o| o.as_object_mut()) {
                    object.remove(key);
                }
            }
            value.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn every_write_is_journaled_by_revision(kind: Kind) {
    let (_dir, store) = support::open(kind);
    let start = store.revision();
    let mut published = store.journal().subscribe();
    let manifest_at = store.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let (_, user_at) = store.set_object(&user("beth")).unwrap();
    let relation_at = store.set_relation(&member("eng", "beth"), None).unwrap();
    assert_eq!(*published.borrow_and_update(), relation_at);
    let since = store.journal().since(start).unwrap();
    let revisions: Vec<u64> = since.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions, [manifest_at, user_at, relation_at]);
    assert!(matches!(since[0].1[0], Change::SetManifest { .. }));
    assert!(matches!(&since[1].1[0], Change::SetObject { object } if object.id == "beth"));
    assert!(
        matches!(&since[2].1[0], Change::SetRelation { relation } if relation.subject_id == "beth")
    );
    // A refused write journals nothing.
    assert!(store.set_relation(&member("eng", "bad\0id"), None).is_err());
    assert_eq!(store.journal().since(relation_at).unwrap().len(), 0);
}

fn a_copy_made_from_a_snapshot_and_the_journal_exports_the_same(kind: Kind) {
    let (_dir, central) = support::open(kind);
    central.set_manifest("manifest.yaml", MANIFEST).unwrap();
    for name in ["beth", "rick", "morty"] {
        central.set_object(&user(name)).unwrap();
        central.set_relation(&member("eng", name), None).unwrap();
    }
    // An edge subscribes before it takes the snapshot, as the Watch stream does.
    let _following = central.journal().subscribe();
    let (_edge_dir, edge) = support::open(Kind::Redb);
    // Something of its own first, which the snapshot replaces.
    edge.set_manifest("old.yaml", "model:\n  version: 3\ntypes:\n  doc: {}\n")
        .unwrap();
    let snapshot = central.snapshot();
    let at = snapshot.revision();
    let objects: Vec<ObjectRecord> = snapshot.objects().collect();
    let relations: Vec<RelationRecord> = snapshot.relations().collect();
    let source = snapshot.schema().source().to_string();
    edge.replace_all(Some(("manifest.yaml", &source)), &objects, &relations)
        .unwrap();
    assert_eq!(export(&edge), export(&central));

    central.delete_relation(&member("eng", "rick")).unwrap();
    central.delete_object("user", "rick", false).unwrap();
    central.set_object(&user("summer")).unwrap();
    for (_, changes) in central.journal().since(at).unwrap() {
        edge.apply_changes(&changes).unwrap();
    }
    assert_eq!(export(&edge), export(&central));
    assert_eq!(edge.manifest_source(), central.manifest_source());
}
