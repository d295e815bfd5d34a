//! PostgreSQL restarted under load: replicas on a private PostgreSQL server (its own data folder and
//! port, so the shared test server is left alone) keep answering checks from memory while it is down,
//! writes fail with UNAVAILABLE in bounded time instead of hanging, and everything resumes by itself
//! when it is back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A PostgreSQL server of the test's own, run as the `postgres` user.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// Initialises and starts one; `None` (the test skipped, saying why) where this process cannot
    /// run PostgreSQL as another user (not root, or no `postgres` user or binaries), except under CI.
    fn start(test: &str) -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                let mut all: Vec<PathBuf> = versions.filter_map(|v| Some(v.ok()?.path())).collect();
                all.sort();
                all.pop()
            })
            .map(|version| version.join("bin"));
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let user = Command::new("id")
            .arg("postgres")
            .output()
            .is_ok_and(|o| o.status.success());
        let Some(bin) = bin.filter(|b| b.join("initdb").exists() && root && user) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true") || !root,
                "{test}: PostgreSQL's binaries and user are required under CI"
            );
            eprintln!("skipping {test}: needs root, the postgres user and PostgreSQL's binaries");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let port = common::free_port();
        let server = PrivatePostgres { dir, bin, port };
        server.as_postgres(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        server.up();
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
    }
}

fn create_database(url: &str, name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn relation(user: &str) -> serde_json::Value {
    json!({"object_type": "group", "object_id": "eng", "relation": "member",
        "subject_type": "user", "subject_id": user})
}

/// One write: its HTTP status and how long it took.
fn write(server: &Server, user: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = client()
        .post(server.rest("/api/v3/directory/relation"))
        .json(&json!({ "relation": relation(user) }))
        .send()
        .map_or(0, |r| r.status().as_u16());
    (status, started.elapsed())
}

fn check(server: &Server, user: &str) -> Result<bool, String> {
    let response = client()
        .post(server.rest("/api/v3/directory/check"))
        .json(&relation(user))
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: serde_json::Value = response.json().map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(body["check"] == json!(true))
}

#[test]
fn replicas_ride_out_a_postgresql_restart_under_load() {
    let Some(postgres) =
        PrivatePostgres::start("replicas_ride_out_a_postgresql_restart_under_load")
    else {
        return;
    };
    create_database(&postgres.url("postgres"), "lictor");
    let url = postgres.url("lictor");
    let manifest = postgres.dir.path().join("manifest.yaml");
    std::fs::write(
        &manifest,
        "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user\n",
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_lictor"))
        .args(["--store", &url, "model", "set"])
        .arg(&manifest)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let a = Arc::new(Server::start(&format!("store: {url}\n"), false));
    let b = Arc::new(Server::start(&format!("store: {url}\n"), false));
    assert_eq!(write(&a, "before").0, 200);

    // Load: checks on B, writes on A, all through the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let check_errors = Arc::new(Mutex::new(Vec::new()));
    let checks = {
        let (stop, errors, b) = (stop.clone(), check_errors.clone(), b.clone());
        std::thread::spawn(move || {
            let mut count = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Err(error) = check(&b, "before") {
                    errors.lock().unwrap().push(error);
                }
                count += 1;
            }
            count
        })
    };
    let writes = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, writes, a) = (stop.clone(), writes.clone(), a.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let outcome = write(&a, &format!("load-{n}"));
                writes.lock().unwrap().push((n, outcome));
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    postgres.down();
    std::thread::sleep(Duration::from_secs(3));
    // While it is down, B still answers from memory.
    assert_eq!(check(&b, "before"), Ok(true));
    postgres.up();
    // Everything resumes by itself: a write on A is taken and reaches B.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if write(&a, "after").0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "writes never resumed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while check(&b, "after") != Ok(true) {
        assert!(
            Instant::now() < deadline,
            "B never applied the write made after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let checked = checks.join().unwrap();
    writer.join().unwrap();

    let errors = check_errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "checks failed: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(checked > 100, "the check loop ran: {checked}");
    let writes = writes.lock().unwrap();
    let statuses: std::collections::BTreeSet<u16> = writes.iter().map(|(_, (s, _))| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "writes answered OK or UNAVAILABLE only: {statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "some write met the outage: {statuses:?}"
    );
    let slowest = writes.iter().map(|(_, (_, d))| *d).max().unwrap();
    println!(
        "{checked} checks, {} writes ({} UNAVAILABLE), slowest write {slowest:?}",
        writes.len(),
        writes.iter().filter(|(_, (s, _))| *s == 503).count()
    );
    assert!(
        slowest < Duration::from_secs(30),
        "a write hung for {slowest:?}"
    );
    // Every acknowledged write is on both replicas.
    for (n, (status, _)) in writes.iter() {
        if *status == 200 {
            let user = format!("load-{n}");
            assert_eq!(check(&a, &user), Ok(true), "{user} on A");
            assert_eq!(check(&b, &user), Ok(true), "{user} on B");
        }
    }
}
