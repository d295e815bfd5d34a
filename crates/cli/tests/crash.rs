//! Crash safety: writers are killed with SIGKILL at random moments; after reopening, every acknowledged
//! write is there and no import is half-applied.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user | group#member\n";
const BATCH: usize = 3000;

fn lictor(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lictor"));
    command.arg("--data-dir").arg(dir);
    command
}

fn write_batch(path: &Path, batch: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for user in 0..BATCH {
        writeln!(
            file,
            r#"{{"relation":{{"object_type":"group","object_id":"batch{batch}","relation":"member","subject_type":"user","subject_id":"u{user}","subject_relation":""}}}}"#
        )
        .unwrap();
    }
}

/// Runs `command`, killing it with SIGKILL after `delay` unless it finished; returns whether it
/// finished successfully (the write was acknowledged) and its stdout.
fn run_or_kill(mut command: Command, delay: Duration) -> (bool, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
            return (status.success(), out);
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return (false, String::new());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_and_imports_are_atomic() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let manifest = work.path().join("manifest.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let status = lictor(&data)
        .args(["model", "set"])
        .arg(&manifest)
        .status()
        .unwrap();
    assert!(status.success());

    // How long an undisturbed import takes, to spread the kills over it.
    let probe = work.path().join("probe.jsonl");
    write_batch(&probe, 9999);
    let started = Instant::now();
    let (ok, _) = run_or_kill(
        {
            let mut c = lictor(&data);
            c.arg("import").arg(&probe);
            c
        },
        Duration::from_secs(60),
    );
    assert!(ok, "an undisturbed import must succeed");
    let import_time = started.elapsed();

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut batches: BTreeMap<usize, bool> = BTreeMap::new();
    let mut singles: Vec<(String, bool)> = Vec::new();
    for round in 0..24 {
        let file = work.path().join(format!("batch{round}.jsonl"));
        write_batch(&file, round);
        // Opening grows with the data: time it now, so the kill can land anywhere in the import.
        let started = Instant::now();
        let status = lictor(&data)
            .args(["check", "user:u1", "member", "group:batch9999"])
            .status()
            .unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "the store must open after every kill"
        );
        let open_time = started.elapsed();
        let delay = (open_time + import_time).mul_f64(rng.gen_range(0.0..1.5));
        let mut command = lictor(&data);
        command.arg("import").arg(&file);
        let (acknowledged, out) = run_or_kill(command, delay);
        if acknowledged {
            assert!(
                out.contains(&format!("imported 0 objects and {BATCH} relations")),
                "{out}"
            );
        }
        batches.insert(round, acknowledged);

        let user = format!("single{round}");
        let delay = open_time.mul_f64(rng.gen_range(0.0..1.6));
        let mut command = lictor(&data);
        command.args([
            "relation",
            "set",
            "group:singles",
            "member",
            &format!("user:{user}"),
        ]);
        let (acknowledged, out) = run_or_kill(command, delay);
        if acknowledged {
            assert!(out.starts_with("ok (revision "), "{out}");
        }
        singles.push((user, acknowledged));
    }

    let output = lictor(&data).arg("export").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut per_group: BTreeMap<String, usize> = BTreeMap::new();
    let mut members = std::collections::BTreeSet::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(relation) = record.get("relation") {
            let group = relation["object_id"].as_str().unwrap().to_string();
            if group == "singles" {
                members.insert(relation["subject_id"].as_str().unwrap().to_string());
            }
            *per_group.entry(group).or_default() += 1;
        }
    }
    let mut killed = 0;
    for (round, acknowledged) in &batches {
        let count = per_group
            .get(&format!("batch{round}"))
            .copied()
            .unwrap_or(0);
        assert!(
            count == 0 || count == BATCH,
            "import {round} is half-applied: {count} of {BATCH} relations"
        );
        if *acknowledged {
            assert_eq!(count, BATCH, "acknowledged import {round} lost");
        } else {
            killed += 1;
        }
    }
    for (user, acknowledged) in &singles {
        if *acknowledged {
            assert!(members.contains(user), "acknowledged write of {user} lost");
        }
    }
    let acknowledged = batches.values().filter(|a| **a).count();
    println!("{killed} imports killed before acknowledging, {acknowledged} acknowledged");
    assert!(killed > 0 && acknowledged > 0, "kills should land both before and after commits ({killed} killed, {acknowledged} acknowledged)");

    // The store still accepts writes and checks after all those kills.
    let status = lictor(&data)
        .args(["check", "user:u1", "member", "group:batch9999"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
