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
    let database = common::TestDatabase::create("lictor_decisions");
    let config = |instance: &str| {
        format!(
            "instance: {instance}\ntenants:\n  - id: acme\ndecision_logs:\n  postgres: {}\n",
            database.url
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

    // One query answers at most 10,000 records: more is refused, naming the parameter.
    let refused = client
        .get(a.rest("/api/v3/lictor/decisions?limit=10001"))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().unwrap().contains("limit 10001"));
    assert_eq!(records(&client, &a, "limit=10000").len(), 8);

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
