//! Staged imports: applied in one revision, refused changes left out and reported, an abandoned
//! import leaving nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{ChangeApplied, ImportChange, ImportStage, Store, StoreError};
use support::Kind;

mod support;

on_both_backends!(
    changes_apply_in_one_revision_and_refused_ones_are_reported_and_left_out,
    an_import_abandoned_by_its_outcome_leaves_revision_and_contents_unchanged,
    a_change_is_checked_against_the_current_manifest_and_key_encoding_before_it_is_staged,
);

const MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user | group#member\n";

fn relation(group: &str, user: &str) -> RelationRecord {
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

fn store(kind: Kind) -> (support::Backing, Store) {
    let (dir, store) = support::open(kind);
    store.set_manifest("manifest.yaml", MANIFEST).unwrap();
    store.set_relation(&relation("eng", "kept"), None).unwrap();
    (dir, store)
}

fn changes_apply_in_one_revision_and_refused_ones_are_reported_and_left_out(kind: Kind) {
    let (_dir, store) = store(kind);
    let before = store.revision();
    let mut stage = ImportStage::new(1 << 20);
    let unknown_type = RelationRecord {
        object_type: "folder".to_string(),
        ..relation("eng", "beth")
    };
    let nul = relation("eng", "bad\0id");
    let changes = [
        ImportChange::SetObject(user("beth")),
        ImportChange::SetRelation(relation("eng", "beth")),
        ImportChange::SetRelation(unknown_type),
        ImportChange::SetRelation(nul),
        ImportChange::DeleteRelation(relation("eng", "kept")),
        ImportChange::SetRelation(relation("ops", "beth")),
        ImportChange::DeleteObject {
            object_type: "group".to_string(),
            object_id: "ops".to_string(),
            with_relations: true,
        },
    ];
    for (index, change) in changes.iter().enumerate() {
        stage.push(index as u64 + 1, change).unwrap();
    }
    let mut heard = Vec::new();
    let revision = store
        .apply_import(&stage, |origin, _, result| {
            heard.push((origin, result.map_err(|e| e.to_string())));
            Ok(())
        })
        .unwrap();
    assert_eq!(revision, before + 1, "one revision for the whole import");
    assert_eq!(
        heard,
        vec![
            (1, Ok(ChangeApplied::Set)),
            (2, Ok(ChangeApplied::Set)),
            (
                3,
                Err("relation folder:eng#member@user:beth: unknown object type `folder` (not declared in the manifest)"
                    .to_string())
            ),
            (
                4,
                Err("subject_id `bad\\0id` contains a NUL character, which names and ids may not contain".to_string())
            ),
            (5, Ok(ChangeApplied::Deleted)),
            (6, Ok(ChangeApplied::Set)),
            (7, Ok(ChangeApplied::Deleted)),
        ]
    );
    let directory = store.snapshot();
    assert_eq!(directory.revision(), revision);
    assert!(directory.has_relation(&relation("eng", "beth")));
    assert!(!directory.has_relation(&relation("eng", "kept")));
    assert!(!directory.has_relation(&relation("ops", "beth")));
    assert_eq!(directory.relation_count(), 1);
    assert_eq!(
        directory.get_object("user", "beth").unwrap().display_name,
        "BETH"
    );
    // The durable records agree with the published snapshot.
    assert_eq!(store.records().relation_count().unwrap(), 1);
    assert_eq!(store.records().object_count().unwrap(), 1);
    assert_eq!(store.records().revision().unwrap(), revision);
}

fn an_import_abandoned_by_its_outcome_leaves_revision_and_contents_unchanged(kind: Kind) {
    let (_dir, store) = store(kind);
    let before = store.revision();
    let mut stage = ImportStage::new(1 << 20);
    for i in 0..1000 {
        stage
            .push(
                i + 1,
                &ImportChange::SetRelation(relation("eng", &format!("u{i}"))),
            )
            .unwrap();
    }
    stage
        .push(1001, &ImportChange::DeleteRelation(relation("eng", "kept")))
        .unwrap();
    let error = store
        .apply_import(&stage, |origin, _, _| {
            if origin == 1001 {
                Err(StoreError::ImportTooLarge { limit: 0 })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(
        matches!(error, StoreError::ImportTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(store.revision(), before);
    assert_eq!(store.records().revision().unwrap(), before);
    assert_eq!(store.snapshot().relation_count(), 1);
    assert_eq!(store.records().relation_count().unwrap(), 1);
    assert!(store.snapshot().has_relation(&relation("eng", "kept")));
}

fn a_change_is_checked_against_the_current_manifest_and_key_encoding_before_it_is_staged(
    kind: Kind,
) {
    let (_dir, store) = store(kind);
    assert!(store
        .check_import_change(&ImportChange::SetRelation(relation("eng", "beth")))
        .is_ok());
    assert!(store
        .check_import_change(&ImportChange::SetObject(user("beth")))
        .is_ok());
    let unknown = RelationRecord {
        relation: "owner".to_string(),
        ..relation("eng", "beth")
    };
    assert_eq!(
        store
            .check_import_change(&ImportChange::SetRelation(unknown))
            .unwrap_err()
            .to_string(),
        "relation group:eng#owner@user:beth: type `group` has no relation or permission `owner`"
    );
    let error = store
        .check_import_change(&ImportChange::DeleteObject {
            object_type: "user".to_string(),
            object_id: "a\0b".to_string(),
            with_relations: false,
        })
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Nul { field: "id", .. }),
        "{error:?}"
    );
    // Checking stages nothing.
    assert_eq!(store.snapshot().relation_count(), 1);
}
