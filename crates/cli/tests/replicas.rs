//! Replicas: several `lictor run --store postgres://…` processes on one database. Writes through any of
//! them reach all, a replica killed with SIGKILL in the middle of writes loses no acknowledged one, and
//! checks on a replica never need the database.
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

const MANIFEST: &str =
    "model:\n  version: 3\ntypes:\n  user: {}\n  group:\n    relations:\n      member: user\n";
/// The longest wait for a replica to apply a revision (its follower wakes on NOTIFY or every second).
const PATIENCE: Duration = Duration::from_secs(30);

/// A database of its own with the manifest set, dropped at the end.
struct Database {
    database: common::TestDatabase,
}

impl Database {
    fn new() -> Database {
        let database = common::TestDatabase::create("lictor_replicas");
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("manifest.yaml");
        std::fs::write(&manifest, MANIFEST).unwrap();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_lictor"))
            .args(["--store", &database.url, "model", "set"])
            .arg(&manifest)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        Database { database }
    }

    fn replica(&self) -> Server {
        Server::start(&format!("store: {}\n", self.database.url), false)
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn add_member(server: &Server, user: &str) -> Result<(), String> {
    let response = client()
        .post(server.rest("/api/v3/directory/relation"))
        .json(
            &json!({"relation": {"object_type": "group", "object_id": "eng", "relation": "member",
                                   "subject_type": "user", "subject_id": user}}),
        )
        .send()
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(response.text().unwrap_or_default())
    }
}

fn is_member(server: &Server, user: &str) -> bool {
    check_member(server, user, None).json::<Value>().unwrap()["check"] == json!(true)
}

/// Asks whether `user` is a member of eng, at least as fresh as `min_revision` when given.
fn check_member(
    server: &Server,
    user: &str,
    min_revision: Option<&str>,
) -> reqwest::blocking::Response {
    let mut request = client().post(server.rest("/api/v3/directory/check")).json(
        &json!({"object_type": "group", "object_id": "eng", "relation": "member",
                  "subject_type": "user", "subject_id": user}),
    );
    if let Some(revision) = min_revision {
        request = request.header("x-lictor-min-revision", revision);
    }
    request.send().unwrap()
}

fn revision(server: &Server) -> u64 {
    let body: Value = client()
        .get(server.url("health", "/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["directory_revision"].as_u64().unwrap()
}

/// Waits until every replica has applied the same revision, the newest, and returns it.
fn converge(replicas: &[&Server]) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let revisions: Vec<u64> = replicas.iter().map(|r| revision(r)).collect();
        if revisions.windows(2).all(|w| w[0] == w[1]) {
            return revisions[0];
        }
        assert!(Instant::now() < deadline, "replicas at {revisions:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn members(server: &Server) -> Value {
    client()
        .get(server.rest("/api/v3/directory/relations?object_type=group&page.size=100"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn writes_through_three_replicas_reach_all_of_them() {
    let database = Database::new();
    let replicas = [database.replica(), database.replica(), database.replica()];
    let mut written = Vec::new();
    for i in 0..30 {
        let user = format!("u{i}");
        add_member(&replicas[i % 3], &user).unwrap();
        // A write is visible on its own replica when acknowledged.
        assert!(is_member(&replicas[i % 3], &user));
        written.push(user);
    }
    let all: Vec<&Server> = replicas.iter().collect();
    assert_eq!(converge(&all), 31);
    let listing = members(&replicas[0]);
    for replica in &replicas {
        for user in &written {
            assert!(is_member(replica, user), "{user}");
        }
        assert_eq!(members(replica), listing);
    }
}

#[test]
fn a_replica_killed_during_writes_loses_no_acknowledged_one() {
    let database = Database::new();
    let steady = database.replica();
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        let mut victim = database.replica();
        let mut next = 0;
        // Kill after a number of acknowledged writes that varies by round, with writes in flight.
        let kill_after = 5 + round * 7;
        let (sender, receiver) = std::sync::mpsc::channel();
        let base = victim.rest("");
        let writer = std::thread::spawn(move || {
            let client = client();
            for i in 0.. {
                let user = format!("r{round}-{i}");
                let sent = client
                    .post(format!("{base}/api/v3/directory/relation"))
                    .json(
                        &json!({"relation": {"object_type": "group", "object_id": "eng",
                        "relation": "member", "subject_type": "user", "subject_id": user}}),
                    )
                    .send();
                match sent {
                    Ok(response) if response.status().is_success() => {
                        if sender.send(user).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });
        while next < kill_after {
            acknowledged.push(receiver.recv_timeout(PATIENCE).unwrap());
            next += 1;
        }
        let _ = victim.child.kill();
        let _ = victim.child.wait();
        writer.join().unwrap();
        acknowledged.extend(receiver.try_iter());
    }
    let restarted = database.replica();
    converge(&[&steady, &restarted]);
    for replica in [&steady, &restarted] {
        for user in &acknowledged {
            assert!(is_member(replica, user), "{user} acknowledged but missing");
        }
    }
}

/// `x-lictor-revision` of a write's answer.
fn written_revision(response: &reqwest::blocking::Response) -> u64 {
    response.headers()["x-lictor-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_write_token_makes_another_replica_read_the_write() {
    let database = Database::new();
    let writer = database.replica();
    let reader = Server::start(
        &format!(
            "store: {}\nlimits:\n  min_revision_wait_ms: 300\n",
            database.database.url
        ),
        false,
    );
    let client = client();
    let mut last = 0;
    for i in 0..200 {
        let user = format!("t{i}");
        let response = client
            .post(writer.rest("/api/v3/directory/relation"))
            .json(
                &json!({"relation": {"object_type": "group", "object_id": "eng", "relation": "member",
                                       "subject_type": "user", "subject_id": user}}),
            )
            .send()
            .unwrap();
        assert!(response.status().is_success());
        let token = written_revision(&response);
        assert!(token > last, "revision {token} after {last}");
        last = token;
        // Read at once on the other replica, whose follower may not have woken yet.
        let body: Value = check_member(&reader, &user, Some(&token.to_string()))
            .json()
            .unwrap();
        assert_eq!(body["check"], json!(true), "{user} at revision {token}");
    }

    // A deletion answers its revision too, and reads honour it.
    let response = client
        .delete(writer.rest(
            "/api/v3/directory/relation?object_type=group&object_id=eng&relation=member&subject_type=user&subject_id=t0",
        ))
        .send()
        .unwrap();
    assert!(response.status().is_success());
    let token = written_revision(&response);
    assert!(token > last);
    let body: Value = check_member(&reader, "t0", Some(&token.to_string()))
        .json()
        .unwrap();
    assert_eq!(body["check"], json!(false));

    // A revision no replica has: UNAVAILABLE after the configured wait, naming what the replica holds.
    let started = Instant::now();
    let response = check_member(&reader, "t1", Some(&(token + 1_000).to_string()));
    let waited = started.elapsed();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().unwrap();
    assert_eq!(body["code"], json!(14));
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("revision {}", token + 1_000))
            && message.contains(&format!("this replica is at revision {token}")),
        "{message}"
    );
    assert!(waited >= Duration::from_millis(300), "{waited:?}");

    // A token that is not a revision number is refused, naming the header.
    let response = check_member(&reader, "t1", Some("abc"));
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("x-lictor-min-revision"));

    // Reads answer no token: only writes do.
    let response = client
        .get(reader.rest("/api/v3/directory/relations?object_type=group"))
        .send()
        .unwrap();
    assert!(response.headers().get("x-lictor-revision").is_none());
}

#[test]
fn write_tokens_travel_as_grpc_metadata() {
    use lictor_proto::directory::common::v3 as types;
    use lictor_proto::directory::reader::v3 as reader;
    use lictor_proto::directory::writer::v3 as writer;

    let database = Database::new();
    let first = database.replica();
    let second = database.replica();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = |server: &Server| {
            tonic::transport::Endpoint::from_shared(server.url("directory-grpc", ""))
                .unwrap()
                .connect_lazy()
        };
        let mut write = writer::writer_client::WriterClient::new(channel(&first));
        let mut read = reader::reader_client::ReaderClient::new(channel(&second));
        let answer = write
            .set_relation(writer::SetRelationRequest {
                relation: Some(types::Relation {
                    object_type: "group".into(),
                    object_id: "eng".into(),
                    relation: "member".into(),
                    subject_type: "user".into(),
                    subject_id: "grpc".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let token: u64 = answer
            .metadata()
            .get("x-lictor-revision")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let check = |revision: u64| {
            let mut request = tonic::Request::new(reader::CheckRequest {
                object_type: "group".into(),
                object_id: "eng".into(),
                relation: "member".into(),
                subject_type: "user".into(),
                subject_id: "grpc".into(),
                trace: false,
            });
            request.metadata_mut().insert(
                "x-lictor-min-revision",
                revision.to_string().parse().unwrap(),
            );
            request
        };
        assert!(read.check(check(token)).await.unwrap().into_inner().check);
        let refused = read.check(check(token + 1_000)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
        assert!(
            refused
                .message()
                .contains(&format!("revision {}", token + 1_000)),
            "{}",
            refused.message()
        );
    });
}
