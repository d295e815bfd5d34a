//! Concurrent single-record writes are committed in groups: every acknowledged write is durable, every
//! refused one leaves no trace and does not take the rest of its group down with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{SingleWrite, Store, StoreError, Written};
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

#[test]
fn writes_from_tasks_and_threads_commit_together_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = 200;
    let threads = 4;
    let (first_revision, final_revision) = {
        let store = Arc::new(Store::open(dir.path()).unwrap());
        store.set_manifest("manifest.yaml", MANIFEST).unwrap();
        let first = store.revision();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // Threads write through the blocking path at the same time as the tasks.
        let blocking: Vec<_> = (0..threads)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..20 {
                        store
                            .set_relation(&member(1, 10_000 + t * 20 + i), None)
                            .unwrap();
                    }
                })
            })
            .collect();
        runtime.block_on(async {
            let handles: Vec<_> = (0..tasks)
                .map(|user| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move {
                        let relation = if user % 5 == 4 {
                            // Refused alone; the rest of its group commits.
                            RelationRecord {
                                relation: "owner".into(),
                                ..member(0, user)
                            }
                        } else {
                            member(0, user)
                        };
                        let outcome = store
                            .submit_async(SingleWrite::SetRelation {
                                relation: relation.clone(),
                                etag: None,
                            })
                            .await;
                        match (user % 5, outcome) {
                            (4, Err(StoreError::Rejected { .. })) => {}
                            (4, other) => panic!("u{user}: {other:?}"),
                            (_, Ok((Written::Done, revision))) => {
                                assert!(store.revision() >= revision);
                                assert!(store.snapshot().has_relation(&relation));
                            }
                            (_, other) => panic!("u{user}: {other:?}"),
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
        });
        for thread in blocking {
            thread.join().unwrap();
        }
        (first, store.revision())
    };
    let writes = (tasks / 5 * 4 + threads * 20) as u64;
    let revisions = final_revision - first_revision;
    eprintln!("{writes} acknowledged writes in {revisions} revisions");
    assert!(
        revisions * 2 <= writes,
        "{revisions} revisions for {writes} writes: the writes were not grouped"
    );

    let store = Store::open(dir.path()).unwrap();
    let snapshot = store.snapshot();
    for user in 0..tasks {
        assert_eq!(
            snapshot.has_relation(&member(0, user)),
            user % 5 != 4,
            "u{user}"
        );
    }
    for user in 10_000..10_000 + threads * 20 {
        assert!(snapshot.has_relation(&member(1, user)), "u{user}");
    }
}

#[test]
fn a_write_whose_task_is_dropped_before_its_commit_is_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    store.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let (holding, held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    // An import holds the writer lock until told to finish.
    let import = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let line = "{\"object\": {\"type\": \"user\", \"id\": \"u0\"}}\n";
            store
                .import(line.as_bytes(), |_| {
                    let _ = holding.send(());
                    let _ = released.recv();
                })
                .unwrap();
        })
    };
    held.recv().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let abandoned = runtime.block_on(async {
        let write = store.submit_async(SingleWrite::SetRelation {
            relation: member(0, 1),
            etag: None,
        });
        tokio::time::timeout(std::time::Duration::from_millis(50), write).await
    });
    assert!(
        abandoned.is_err(),
        "the write could not commit under the import"
    );
    release.send(()).unwrap();
    import.join().unwrap();
    // The next writer leads; it must not commit the abandoned write in its place.
    store.set_relation(&member(0, 2), None).unwrap();
    let snapshot = store.snapshot();
    assert!(snapshot.has_relation(&member(0, 2)));
    assert!(!snapshot.has_relation(&member(0, 1)));
}
