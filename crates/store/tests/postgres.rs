//! Several stores on one PostgreSQL database, as replicas are: gap-free revisions in commit order,
//! each replica replaying the others' changes, refused writes leaving nothing, the schema versioned.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use lictor_directory::CheckRequest;
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{Store, StoreError, StoreLocation};
use std::time::{Duration, Instant};
use support::TestDatabase;

mod support;

const MANIFEST: &str =
    "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user\n";

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

fn open(database: &TestDatabase) -> Store {
    Store::open_at(&StoreLocation::Postgres(database.url.clone())).unwrap()
}

fn is_member(store: &Store, group: &str, user: &str) -> bool {
    store
        .snapshot()
        .check(&CheckRequest {
            object_type: "group",
            object_id: group,
            relation: "member",
            subject_type: "user",
            subject_id: user,
            subject_relation: "",
        })
        .unwrap()
}

fn export(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn writers_on_two_replicas_take_gap_free_revisions_and_both_replay_everything() {
    let database = TestDatabase::new();
    let (a, b) = (open(&database), open(&database));
    a.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let per_writer = 40;
    let revisions = std::thread::scope(|scope| {
        let writers: Vec<_> = [(&a, "a"), (&b, "b")]
            .into_iter()
            .map(|(store, name)| {
                scope.spawn(move || {
                    (0..per_writer)
                        .map(|i| {
                            store
                                .set_relation(&member("eng", &format!("{name}{i}")), None)
                                .unwrap()
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<u64>>()
    });
    let mut sorted = revisions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (2..2 + 2 * per_writer).collect::<Vec<u64>>());
    for store in [&a, &b] {
        assert_eq!(store.catch_up().unwrap(), 1 + 2 * per_writer);
        assert_eq!(store.snapshot().relation_count(), 2 * per_writer as usize);
        assert!(is_member(store, "eng", "a7") && is_member(store, "eng", "b39"));
        assert_eq!(store.lag(), 0);
    }
    let reopened = open(&database);
    assert_eq!(reopened.revision(), 1 + 2 * per_writer);
    assert_eq!(export(&reopened), export(&a));
}

#[test]
fn a_replica_follows_another_ones_writes_by_itself() {
    let database = TestDatabase::new();
    let (a, b) = (open(&database), open(&database));
    a.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let revision = a.set_relation(&member("ops", "carol"), None).unwrap();
    // The follower is woken by a notification, or at the latest by its timer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.revision() < revision && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.revision(), revision);
    assert!(is_member(&b, "ops", "carol"));
    assert!(b.delete_relation(&member("ops", "carol")).unwrap().0);
    a.catch_up().unwrap();
    assert!(!is_member(&a, "ops", "carol"));
}

#[test]
fn a_write_on_one_replica_checks_etags_against_the_others_writes() {
    let database = TestDatabase::new();
    let (a, b) = (open(&database), open(&database));
    a.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let user = ObjectRecord {
        object_type: "user".to_string(),
        id: "dana".to_string(),
        display_name: "Dana".to_string(),
        properties: serde_json::json!({"level": 1}),
        etag: String::new(),
    };
    let (stored, _) = a.set_object(&user).unwrap();
    // `b` has not replayed `a`'s write yet; its write still sees it, inside the transaction.
    let update = ObjectRecord {
        properties: serde_json::json!({"level": 2}),
        etag: stored.etag.clone(),
        ..user.clone()
    };
    b.set_object(&update).unwrap();
    let stale = ObjectRecord {
        properties: serde_json::json!({"level": 3}),
        ..update
    };
    a.catch_up().unwrap();
    assert!(matches!(
        a.set_object(&stale),
        Err(StoreError::EtagMismatch { .. })
    ));
    let stored = b.records().get_object("user", "dana").unwrap().unwrap();
    assert_eq!(stored.record.properties, serde_json::json!({"level": 2}));
}

#[test]
fn a_refused_write_changes_nothing_and_gives_its_revision_back() {
    let database = TestDatabase::new();
    let store = open(&database);
    store.set_manifest("manifest.yaml", MANIFEST).unwrap();
    let before = export(&store);
    let bad = RelationRecord {
        object_type: "folder".to_string(),
        ..member("eng", "x")
    };
    assert!(store.set_relation(&bad, None).is_err());
    let nul = member("eng", "bad\0id");
    assert!(matches!(
        store.set_relation(&nul, None),
        Err(StoreError::Nul { .. })
    ));
    assert_eq!(store.records().revision().unwrap(), 1);
    assert_eq!(export(&store), before);
    assert_eq!(store.set_relation(&member("eng", "ok"), None).unwrap(), 2);
}

#[test]
fn a_schema_newer_than_this_build_is_refused_by_name() {
    let database = TestDatabase::new();
    drop(open(&database));
    database.sql("INSERT INTO lictor_schema (version) VALUES (99)");
    let error = Store::open_at(&StoreLocation::Postgres(database.url.clone()))
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(matches!(error, StoreError::SchemaTooNew { found: 99, .. }));
    assert!(message.contains(&database.name), "{message}");
}

#[test]
fn an_unreachable_database_fails_writes_as_unavailable() {
    let database = TestDatabase::new();
    let store = open(&database);
    store.set_manifest("manifest.yaml", MANIFEST).unwrap();
    store.set_relation(&member("eng", "erin"), None).unwrap();
    // Cut every connection of this database and keep new ones out.
    support::allow_connections(&database.name, false);
    support::terminate(&database.name);
    let error = store
        .set_relation(&member("eng", "frank"), None)
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
    // Checks answer from memory meanwhile.
    assert!(is_member(&store, "eng", "erin"));
    support::allow_connections(&database.name, true);
    store.set_relation(&member("eng", "frank"), None).unwrap();
    assert!(is_member(&store, "eng", "frank"));
}
