//! Concurrent single-record writes are committed in groups: every acknowledged write is durable, every
//! refused one leaves no trace and does not take the rest of its group down with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{Store, StoreError};
use std::sync::Arc;

const MANIFEST: &str =
    "model:\n  version: 3\n\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user\n";

fn member(group: usize, user: usize) -> RelationRecord {
    RelationRecord {
        object_type: "group".into(),
        object_id: format!("g{group}"),
        relation: "member".into(),
        subject_type: "user".into(),
        subject_id: format!("u{user}"),
        subject_relation: String::new(),
    }
}

#[test]
fn concurrent_writes_with_refusals_commit_exactly_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let threads = 16;
    let per_thread = 60;
    let first_revision;
    let final_revision;
    {
        let store = Arc::new(Store::open(dir.path()).unwrap());
        store.set_manifest("manifest.yaml", MANIFEST).unwrap();
        first_revision = store.revision();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut refused = 0;
                    for i in 0..per_thread {
                        let user = t * per_thread + i;
                        match i % 4 {
                            // A relation the manifest refuses: its group's others still commit.
                            3 => {
                                let mut bad = member(t, user);
                                bad.relation = "owner".into();
                                let error = store.set_relation(&bad, None).unwrap_err();
                                assert!(matches!(error, StoreError::Rejected { .. }), "{error}");
                                refused += 1;
                            }
                            // An object written with a stale etag: refused, naming both.
                            2 => {
                                let object = ObjectRecord {
                                    object_type: "user".into(),
                                    id: format!("u{user}"),
                                    display_name: String::new(),
                                    properties: serde_json::json!({"n": user}),
                                    etag: "stale".into(),
                                };
                                let error = store.set_object(&object).unwrap_err();
                                assert!(
                                    matches!(error, StoreError::EtagMismatch { .. }),
                                    "{error}"
                                );
                                refused += 1;
                            }
                            _ => {
                                let object = ObjectRecord {
                                    object_type: "user".into(),
                                    id: format!("u{user}"),
                                    display_name: format!("user {user}"),
                                    properties: serde_json::json!({"n": user}),
                                    etag: String::new(),
                                };
                                let (stored, revision) = store.set_object(&object).unwrap();
                                assert_eq!(stored.display_name, format!("user {user}"));
                                let after = store.set_relation(&member(t, user), None).unwrap();
                                assert!(after > revision);
                                // Acknowledged means visible to readers now.
                                assert!(store.snapshot().has_relation(&member(t, user)));
                            }
                        }
                    }
                    refused
                })
            })
            .collect();
        let refused: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(refused, threads * per_thread / 2);
        final_revision = store.revision();
    }
    let writes = (threads * per_thread / 2 * 2) as u64;
    let revisions = final_revision - first_revision;
    assert!(
        revisions <= writes,
        "{revisions} revisions for {writes} writes"
    );
    eprintln!("{writes} acknowledged writes in {revisions} revisions");

    // After a restart exactly the acknowledged writes are there.
    let store = Store::open(dir.path()).unwrap();
    let snapshot = store.snapshot();
    for t in 0..threads {
        for i in 0..per_thread {
            let user = t * per_thread + i;
            let written = i % 4 < 2;
            assert_eq!(snapshot.has_relation(&member(t, user)), written, "u{user}");
            assert_eq!(
                snapshot.get_object("user", &format!("u{user}")).is_some(),
                written,
                "u{user}"
            );
        }
    }
}
