//! Directory at scale: 1M relations. Reports bulk import time through the durable store, resident memory
//! per relation, check latency percentiles (direct, nested groups, arrow) and lookup latency.
//!
//! `cargo bench -p lictor-benches --bench scale` (add `-- --small` for a 100k-relation quick run).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use lictor_benches::{directory, jsonl_line, relations, Scale, MANIFEST};
use lictor_directory::{CheckRequest, Directory, LookupObjectsRequest, Page};
use lictor_store::Store;
use std::io::Write;
use std::time::{Duration, Instant};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.50), at(0.99))
}

fn time_checks(
    directory: &Directory,
    requests: &[CheckRequest<'_>],
    rounds: usize,
) -> (Duration, Duration, usize) {
    let mut samples = Vec::with_capacity(requests.len() * rounds);
    let mut allowed = 0;
    for _ in 0..rounds {
        for request in requests {
            let start = Instant::now();
            let result = directory.check(request).unwrap();
            samples.push(start.elapsed());
            allowed += usize::from(result);
        }
    }
    let (p50, p99) = percentiles(samples);
    (p50, p99, allowed)
}

fn timer_overhead() -> Duration {
    let mut samples = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let start = Instant::now();
        samples.push(start.elapsed());
    }
    percentiles(samples).0
}

fn req<'a>(ot: &'a str, oi: &'a str, rel: &'a str, si: &'a str) -> CheckRequest<'a> {
    CheckRequest {
        object_type: ot,
        object_id: oi,
        relation: rel,
        subject_type: "user",
        subject_id: si,
        subject_relation: "",
    }
}

fn main() {
    let small = std::env::args().any(|a| a == "--small");
    let scale = if small { Scale::SMALL } else { Scale::FULL };
    let data = relations(scale);
    println!("data set: {} relations generated", data.len());

    // Resident memory of the in-memory directory alone, measured first, before anything is freed.
    let before = resident_bytes();
    let dir = directory(&data);
    let after = resident_bytes();
    let count = dir.relation_count();
    println!(
        "memory: {} relations, {:.1} MiB resident, {:.0} bytes/relation",
        count,
        (after.saturating_sub(before)) as f64 / (1024.0 * 1024.0),
        after.saturating_sub(before) as f64 / count as f64
    );
    // Bulk import through the durable store, as `lictor import` does.
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("data.jsonl");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for relation in &data {
            writeln!(out, "{}", jsonl_line(relation)).unwrap();
        }
    }
    let store = Store::open(&work.path().join("store")).unwrap();
    store.set_manifest("bench.yaml", MANIFEST).unwrap();
    let start = Instant::now();
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file).unwrap());
    let summary = store.import(reader, |_| {}).unwrap();
    let import = start.elapsed();
    println!(
        "import: {} relations in {:.2} s ({:.0} relations/s), store revision {}",
        summary.relations,
        import.as_secs_f64(),
        summary.relations as f64 / import.as_secs_f64(),
        summary.revision
    );
    drop(store);

    let overhead = timer_overhead();
    println!("timer overhead per sample (p50, included below): {overhead:?}");

    // Pick requests that are answered through each kind of path.
    let snapshot = &dir;
    let users: Vec<String> = (0..200)
        .map(|u| format!("u{}", u * (scale.users / 200)))
        .collect();
    let direct: Vec<(String, String)> = (0..200)
        .filter_map(|i| {
            let doc = format!("d{}", i * (scale.documents / 200));
            let id = snapshot.object_id("document", &doc)?;
            let subjects = snapshot
                .index()
                .subjects(id, snapshot.schema().symbols().name_id("owner")?);
            let owner = subjects.first()?;
            let (_, user) = snapshot.index().object_key(owner.object)?;
            Some((doc, user.to_string()))
        })
        .collect();
    let direct_requests: Vec<CheckRequest<'_>> = direct
        .iter()
        .map(|(doc, user)| req("document", doc, "owner", user))
        .collect();
    let (p50, p99, allowed) = time_checks(snapshot, &direct_requests, 500);
    println!(
        "check direct relation (document#owner): p50 {p50:?}  p99 {p99:?}  ({allowed} allowed)"
    );

    // Nested groups: user -> leaf group -> middle group -> top group.
    let nested_requests: Vec<CheckRequest<'_>> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            req(
                "group",
                ["g0", "g1", "g2", "g3", "g4"][i % 5],
                "member",
                user,
            )
        })
        .collect();
    let (p50, p99, allowed) = time_checks(snapshot, &nested_requests, 500);
    println!(
        "check through 3 levels of nested groups (group#member): p50 {p50:?}  p99 {p99:?}  ({allowed} of {} allowed)",
        nested_requests.len() * 500
    );

    // Arrow: document can_read via parent folders, for the owner of a folder.
    let arrow: Vec<(String, String)> = (0..200)
        .filter_map(|i| {
            let doc = format!("d{}", i * (scale.documents / 200));
            let id = snapshot.object_id("document", &doc)?;
            let names = snapshot.schema().symbols();
            let parent = snapshot
                .index()
                .subjects(id, names.name_id("parent")?)
                .first()?;
            let owner = snapshot
                .index()
                .subjects(parent.object, names.name_id("owner")?)
                .first()?;
            let (_, user) = snapshot.index().object_key(owner.object)?;
            Some((doc, user.to_string()))
        })
        .collect();
    let arrow_requests: Vec<CheckRequest<'_>> = arrow
        .iter()
        .map(|(doc, user)| req("document", doc, "can_read", user))
        .collect();
    let (p50, p99, allowed) = time_checks(snapshot, &arrow_requests, 500);
    println!("check arrow permission (document#can_read via parent->can_read): p50 {p50:?}  p99 {p99:?}  ({allowed} allowed)");

    // Mixed can_read for arbitrary pairs, most of them denied after a full search.
    let mixed_requests: Vec<CheckRequest<'_>> = users
        .iter()
        .enumerate()
        .flat_map(|(i, user)| {
            direct
                .iter()
                .skip(i % 7)
                .step_by(20)
                .map(move |(doc, _)| req("document", doc, "can_read", user))
        })
        .collect();
    let (p50, p99, allowed) = time_checks(snapshot, &mixed_requests, 20);
    println!(
        "check can_read for arbitrary user/document pairs: p50 {p50:?}  p99 {p99:?}  ({allowed} of {} allowed)",
        mixed_requests.len() * 20
    );

    let mut samples = Vec::new();
    let mut found = 0;
    for user in users.iter().take(50) {
        let start = Instant::now();
        let page = snapshot
            .lookup_objects(
                &LookupObjectsRequest {
                    subject_type: "user",
                    subject_id: user,
                    subject_relation: "",
                    permission: "can_read",
                    object_type: "document",
                },
                Page::default(),
            )
            .unwrap();
        samples.push(start.elapsed());
        found += page.ids.len();
    }
    let (p50, p99) = percentiles(samples);
    println!(
        "lookup all documents a user can read: p50 {p50:?}  p99 {p99:?}  (avg {} documents per user)",
        found / 50
    );
}
