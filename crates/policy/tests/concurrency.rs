//! Evaluations on different threads against different snapshots never see each other's snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{decisions, demo_directory, tuple};
use lictor_policy::{EvalContext, PolicySet};
use serde_json::json;
use std::sync::{Arc, Barrier};

#[test]
fn threads_see_only_their_own_snapshot() {
    let policies = PolicySet::from_modules(vec![(
        "p.rego".to_string(),
        "package p\n\ndefault allowed := false\n\nallowed if ds.check({\"object_type\": \"group\", \"object_id\": \"admin\", \"relation\": \"member\", \"subject_type\": \"user\", \"subject_id\": input.user})\n".to_string(),
    )])
    .unwrap();
    // Two revisions: in `with_jerry` jerry is an admin, in `without` he is not.
    let without = Arc::new(demo_directory());
    let mut changed = demo_directory();
    changed
        .set_relation(&tuple("group:admin#member@user:jerry@the-smiths.com"))
        .unwrap();
    let with_jerry = Arc::new(changed);

    let rounds = 2000;
    let barrier = Arc::new(Barrier::new(2));
    let run = |directory: Arc<lictor_directory::Directory>, expected: bool| {
        let policies = policies.clone();
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            let ctx = EvalContext::new(directory, json!({"user": "jerry@the-smiths.com"}));
            let allowed = decisions(&["allowed"]);
            barrier.wait();
            for round in 0..rounds {
                let answer = policies.is(&ctx, "p", &allowed).unwrap();
                assert_eq!(answer[0].1, expected, "round {round}");
            }
        })
    };
    let a = run(Arc::clone(&with_jerry), true);
    let b = run(Arc::clone(&without), false);
    a.join().unwrap();
    b.join().unwrap();

    // One thread alternating snapshots: each evaluation binds its own.
    let allowed = decisions(&["allowed"]);
    for _ in 0..10 {
        for (directory, expected) in [(&with_jerry, true), (&without, false)] {
            let ctx = EvalContext::new(
                Arc::clone(directory),
                json!({"user": "jerry@the-smiths.com"}),
            );
            assert_eq!(policies.is(&ctx, "p", &allowed).unwrap()[0].1, expected);
        }
    }
}

#[test]
fn many_policy_sets_on_one_thread() {
    let directory = Arc::new(demo_directory());
    let sets: Vec<PolicySet> = (0..6)
        .map(|n| {
            PolicySet::from_modules(vec![(
                "n.rego".to_string(),
                format!("package n\n\nvalue := {n}\n\nallowed if value == input.n\n"),
            )])
            .unwrap()
        })
        .collect();
    for _ in 0..3 {
        for (n, set) in sets.iter().enumerate() {
            let ctx = EvalContext::new(Arc::clone(&directory), json!({"n": n}));
            assert!(set.is(&ctx, "n", &decisions(&["allowed"])).unwrap()[0].1);
        }
    }
}
