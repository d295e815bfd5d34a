//! Decision records in PostgreSQL (`decision_logs.postgres`): two instances write to one table, and
//! the query API of either answers across both, with every filter, also after one is gone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The PostgreSQL server the tests use (`LICTOR_TEST_POSTGRES`, by default the local one).
fn server_url() -> String {
    std::env::var("LICTOR_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs each statement on the server; `Err` only when the server cannot be reached (a statement
/// that fails panics).
fn admin(statements: &[&str]) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        for statement in statements {
            client
                .batch_execute(statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        Ok(())
    })
}

/// A database of its own, dropped afterwards; `None` (the test skipped) when no server answers,
/// except under CI, where the test command starts one.
struct Database {
    name: String,
}

impl Database {
    fn create(test: &str) -> Option<Database> {
        let name = format!("lictor_decisions_{}", std::process::id());
        let drop = format!("DROP DATABASE IF EXISTS {name}");
        match admin(&[&drop, &format!("CREATE DATABASE {name}")]) {
            Ok(()) => Some(Database { name }),
            Err(error) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "PostgreSQL is required under CI: {error}"
                );
                eprintln!(
                    "skipping {test}: no PostgreSQL at {}: {error}",
                    server_url()
                );
                None
            }
        }
    }

    fn url(&self) -> String {
        let base = server_url();
        let (server, _) = base.rsplit_once('/').unwrap();
        format!("{server}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = admin(&[&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )]);
    }
}

fn check(client: &reqwest::blocking::Client, server: &Server, user: &str) {
    let response = client
        .post(server.rest("/api/v3/directory/check"))
        .json(
            &json!({"object_type": "group", "object_id": "admin", "relation": "member",
            "subject_type": "user", "subject_id": user}),
        )
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

fn records(client: &reqwest::blocking::Client, server: &Server, query: &str) -> Vec<Value> {
    let body: Value = client
        .get(server.rest(&format!("/api/v3/lictor/decisions?{query}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

#[test]
fn instances_writing_to_one_table_are_queried_as_one() {
    let Some(database) = Database::create("instances_writing_to_one_table_are_queried_as_one")
    else {
        return;
    };
    let config = |instance: &str| {
        format!(
            "instance: {instance}\ntenants:\n  - id: acme\ndecision_logs:\n  postgres: {}\n",
            database.url()
        )
    };
    let a = Server::start(&config("replica-a"), true);
    let b = Server::start(&config("replica-b"), true);
    let client = reqwest::blocking::Client::new();
    for _ in 0..5 {
        check(&client, &a, "rick@the-citadel.com");
    }
    for _ in 0..3 {
        check(&client, &b, "beth@the-smiths.com");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while records(&client, &a, "limit=100").len() < 8 {
        assert!(
            Instant::now() < deadline,
            "the records never reached the table"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = records(&client, &b, "limit=100");
    assert_eq!(all.len(), 8, "either instance answers for both");
    let times: Vec<u64> = all.iter().map(|r| r["time_us"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(records(&client, &a, "instance=replica-b").len(), 3);
    assert_eq!(
        records(&client, &a, "user=user:beth@the-smiths.com&outcome=false").len(),
        3,
        "beth is not in admin"
    );
    assert_eq!(records(&client, &a, "outcome=true").len(), 5);
    assert_eq!(records(&client, &a, "limit=2").len(), 2);
    let since = times[2];
    assert_eq!(
        records(&client, &a, &format!("since={since}")).len(),
        times.iter().filter(|t| **t >= since).count()
    );
    // A record reads back as it was written.
    let record = &records(&client, &a, "instance=replica-a&limit=1")[0];
    assert_eq!(record["kind"], "check");
    assert_eq!(record["path"], "group#member");
    assert_eq!(record["decisions"][0]["is"], true);

    // What an instance wrote outlives it.
    drop(b);
    assert_eq!(records(&client, &a, "instance=replica-b").len(), 3);
    // Another tenant's caller sees none of them.
    let other: Value = client
        .get(a.rest("/api/v3/lictor/decisions"))
        .header("aserto-tenant-id", "acme")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(other["results"], json!([]), "{other}");
}
