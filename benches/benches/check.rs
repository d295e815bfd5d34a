//! Check and lookup micro-benchmarks on the 100k-relation data set (divan).
//!
//! `cargo bench -p lictor-benches --bench check`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use lictor_benches::{directory, relations, Scale};
use lictor_directory::{CheckRequest, Directory, LookupObjectsRequest, Page};
use std::sync::LazyLock;

static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| directory(&relations(Scale::SMALL)));

fn main() {
    divan::main();
}

fn user_request<'a>(
    object_type: &'a str,
    object_id: &'a str,
    relation: &'a str,
    user: &'a str,
) -> CheckRequest<'a> {
    CheckRequest {
        object_type,
        object_id,
        relation,
        subject_type: "user",
        subject_id: user,
        subject_relation: "",
    }
}

#[divan::bench]
fn nested_group_member(bencher: divan::Bencher) {
    let directory = &*DIRECTORY;
    bencher.bench(|| {
        directory.check(divan::black_box(&user_request(
            "group", "g0", "member", "u10",
        )))
    });
}

#[divan::bench]
fn document_can_read(bencher: divan::Bencher) {
    let directory = &*DIRECTORY;
    bencher.bench(|| {
        directory.check(divan::black_box(&user_request(
            "document", "d100", "can_read", "u10",
        )))
    });
}

#[divan::bench]
fn lookup_documents(bencher: divan::Bencher) {
    let directory = &*DIRECTORY;
    bencher.bench(|| {
        directory.lookup_objects(
            divan::black_box(&LookupObjectsRequest {
                subject_type: "user",
                subject_id: "u10",
                subject_relation: "",
                permission: "can_read",
                object_type: "document",
            }),
            Page::default(),
        )
    });
}
