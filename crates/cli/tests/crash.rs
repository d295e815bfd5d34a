//! Crash safety: writers are killed with SIGKILL while they write, at moments chosen from what they have
//! acknowledged or been fed rather than from a timing guess, and the store must then hold every
//! acknowledged write, and no import half-applied:
//! - single writes: a `lictor run` server takes relation writes from several clients at once and is
//!   killed as soon as it has acknowledged k of them (k varies by round), others still in flight;
//! - imports: `lictor import -` reads its records from a pipe and is killed after it was fed part of them
//!   (before its commit, certainly), or right after it was fed all (racing its commit), or after it
//!   acknowledged.
//!
//! A writer that exits on its own, with an error or not, fails the test: only SIGKILL counts as a kill.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const MANIFEST: &str = "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user | group#member\n";
const BATCH: usize = 3000;
const ROUNDS: usize = 12;
/// Clients writing to the server at once.
const WRITERS: usize = 4;
const SIGKILL: i32 = 9;
/// The longest wait for anything a round expects (a server ready, k writes acknowledged, an import).
const PATIENCE: Duration = Duration::from_secs(120);

fn lictor(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lictor"));
    command.arg("--data-dir").arg(dir);
    command
}

fn member_line(group: &str, user: &str) -> String {
    format!(
        r#"{{"relation":{{"object_type":"group","object_id":"{group}","relation":"member","subject_type":"user","subject_id":"{user}","subject_relation":""}}}}"#
    )
}

fn batch_lines(group: &str) -> Vec<String> {
    (0..BATCH)
        .map(|user| member_line(group, &format!("u{user}")) + "\n")
        .collect()
}

/// Kills `child` with SIGKILL unless it has already exited, and returns how it ended.
fn kill(child: &mut Child) -> ExitStatus {
    // Killing a child that has exited but is not yet reaped does nothing: `wait` then gives its own
    // exit status, which the callers tell from a kill.
    let _ = child.kill();
    child.wait().unwrap()
}

fn killed(status: ExitStatus) -> bool {
    status.signal() == Some(SIGKILL)
}

/// The store opens after every kill and answers a check on the data written before the kills.
fn assert_store_opens(data: &Path) {
    let status = lictor(data)
        .args(["check", "user:u1", "member", "group:probe"])
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the store must open after every kill"
    );
}

/// How an import round ends the import.
#[derive(Clone, Copy, Debug)]
enum ImportKill {
    /// Killed after being fed `fed` records of the batch, its input still open: before any commit.
    Midway { fed: usize },
    /// Fed every record, input closed, killed at once: the kill races the commit.
    AtEnd,
    /// Killed after it printed its acknowledgement.
    Acknowledged,
}

/// Runs `lictor import -` on the batch of `group`, ended as `how` says; returns whether the import
/// acknowledged (printed its summary).
fn import_round(data: &Path, group: &str, how: ImportKill) -> bool {
    let mut child = lictor(data)
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, acknowledgements) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = lines.send(line);
        }
    });
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let records = batch_lines(group);
    let fed = match how {
        ImportKill::Midway { fed } => fed,
        ImportKill::AtEnd | ImportKill::Acknowledged => BATCH,
    };
    // Past the pipe's buffer a write blocks until the import has read what came before: the kill then
    // lands after it has taken in nearly all the records fed.
    for line in &records[..fed] {
        stdin.write_all(line.as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    match how {
        ImportKill::Midway { .. } => {
            assert!(
                child.try_wait().unwrap().is_none(),
                "import of {group} exited before its input ended: {}",
                errors.join().unwrap()
            );
        }
        ImportKill::AtEnd => drop(stdin),
        ImportKill::Acknowledged => {
            drop(stdin);
            let line = acknowledgements.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!("import of {group} printed nothing within {PATIENCE:?}")
            });
            assert!(
                line.starts_with(&format!("imported 0 objects and {BATCH} relations")),
                "{line}"
            );
        }
    }
    let status = kill(&mut child);
    reader.join().unwrap();
    let error = errors.join().unwrap();
    let out: Vec<String> = acknowledgements.try_iter().collect();
    let acknowledged = matches!(how, ImportKill::Acknowledged)
        || out
            .iter()
            .any(|l| l.starts_with(&format!("imported 0 objects and {BATCH} relations")));
    assert!(
        killed(status) || (status.success() && acknowledged),
        "import of {group} ({how:?}) ended on its own, not by the kill: {status}, stdout {out:?}, stderr {error}"
    );
    if let ImportKill::Midway { .. } = how {
        assert!(
            killed(status),
            "a fed-midway import can only end by the kill"
        );
        assert!(!acknowledged, "an import with open input acknowledged");
    }
    acknowledged
}

/// A `lictor run` child on ephemeral ports over `data`, its output in files under `logs`.
struct Served {
    child: Child,
    rest: String,
    stderr: PathBuf,
}

fn serve(data: &Path, logs: &Path, round: usize) -> Served {
    let config = logs.join("lictor.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nlisten:\n  authorizer_grpc: 0\n  authorizer_rest: 0\n  directory_grpc: 0\n  directory_rest: 0\n  health: 0\n  metrics: 0\nconsole:\n  port: 0\n",
            data.display()
        ),
    )
    .unwrap();
    // Output goes to files: a pipe nobody reads would stall a server that logs.
    let stdout = logs.join(format!("server{round}.out"));
    let stderr = logs.join(format!("server{round}.err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(&stdout).unwrap();
        if text.lines().any(|l| l == "ready") {
            let rest = text
                .lines()
                .find_map(|l| l.strip_prefix("listening directory-rest "))
                .expect("the directory REST port is announced")
                .to_string();
            return Served {
                child,
                rest,
                stderr,
            };
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "server {round} exited before ready: {status}: {}",
                std::fs::read_to_string(&stderr).unwrap()
            );
        }
        assert!(Instant::now() < deadline, "server {round} not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes singles to a server from `WRITERS` clients and kills it once it has acknowledged `k`; returns
/// the users whose writes it acknowledged.
fn singles_round(data: &Path, logs: &Path, round: usize, k: usize) -> Vec<String> {
    let mut server = serve(data, logs, round);
    let url = format!("http://{}/api/v3/directory/relation", server.rest);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (url, acknowledged, count, refused) = (
                url.clone(),
                Arc::clone(&acknowledged),
                Arc::clone(&count),
                Arc::clone(&refused),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(PATIENCE)
                    .build()
                    .unwrap();
                for n in 0.. {
                    let user = format!("r{round}w{writer}n{n}");
                    let body = serde_json::json!({"relation": {
                        "object_type": "group", "object_id": "singles", "relation": "member",
                        "subject_type": "user", "subject_id": user}});
                    // A write cut off by the kill (no answer) is not acknowledged; the writer stops.
                    let Ok(response) = client.post(&url).json(&body).send() else {
                        return;
                    };
                    let status = response.status();
                    if status != 200 {
                        let text = response.text().unwrap_or_default();
                        refused
                            .lock()
                            .unwrap()
                            .push(format!("{user}: {status} {text}"));
                        return;
                    }
                    acknowledged.lock().unwrap().push(user);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while count.load(Ordering::SeqCst) < k {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "server {round} exited on its own: {status}: {}",
                std::fs::read_to_string(&server.stderr).unwrap()
            );
        }
        assert!(
            refused.lock().unwrap().is_empty(),
            "server {round} refused a write: {:?}",
            refused.lock().unwrap()
        );
        assert!(
            Instant::now() < deadline,
            "server {round}: {} of {k} writes acknowledged within {PATIENCE:?}",
            count.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let status = kill(&mut server.child);
    assert!(
        killed(status),
        "server {round} ended on its own, not by the kill: {status}: {}",
        std::fs::read_to_string(&server.stderr).unwrap()
    );
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        refused.lock().unwrap().is_empty(),
        "server {round} refused a write: {:?}",
        refused.lock().unwrap()
    );
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= k, "{} < {k}", acknowledged.len());
    acknowledged
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
    assert!(
        import_round(&data, "probe", ImportKill::Acknowledged),
        "an undisturbed import must succeed"
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut imports: BTreeMap<String, (ImportKill, bool)> = BTreeMap::new();
    let mut singles: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let group = format!("batch{round}");
        let how = match round % 3 {
            0 => ImportKill::Midway {
                fed: rng.gen_range(1..BATCH),
            },
            1 => ImportKill::AtEnd,
            _ => ImportKill::Acknowledged,
        };
        let acknowledged = import_round(&data, &group, how);
        imports.insert(group, (how, acknowledged));
        assert_store_opens(&data);

        let k = rng.gen_range(1..=40);
        singles.extend(singles_round(&data, work.path(), round, k));
        assert_store_opens(&data);
    }

    let output = lictor(&data).arg("export").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut per_group: BTreeMap<String, usize> = BTreeMap::new();
    let mut members = BTreeSet::new();
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
    for (group, (how, acknowledged)) in &imports {
        let count = per_group.get(group).copied().unwrap_or(0);
        assert!(
            count == 0 || count == BATCH,
            "import {group} ({how:?}) is half-applied: {count} of {BATCH} relations"
        );
        if *acknowledged {
            assert_eq!(count, BATCH, "acknowledged import {group} lost");
        }
        if let ImportKill::Midway { .. } = how {
            assert_eq!(
                count, 0,
                "import {group} killed before its input ended was applied"
            );
        }
    }
    let lost: Vec<&String> = singles.iter().filter(|u| !members.contains(*u)).collect();
    assert!(lost.is_empty(), "acknowledged single writes lost: {lost:?}");
    let killed_imports = imports.values().filter(|(_, a)| !a).count();
    println!(
        "{} single writes acknowledged and kept; imports: {killed_imports} killed before acknowledging, {} acknowledged",
        singles.len(),
        imports.len() - killed_imports
    );
}
