//! Imports into `lictor run` are all or nothing, over gRPC and REST, at a million relations: a clean
//! import is applied whole in one revision; a stream cut midway or a body with a bad line leaves the
//! directory as it was. The gRPC client here sends every message in a DATA frame of its own, as
//! gRPC clients in other languages do, and keeps to HTTP/2 flow control.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::Bytes;
use common::Server;
use lictor_proto::directory::common::v3 as types;
use lictor_proto::directory::exporter::v3 as exporter;
use lictor_proto::directory::importer::v3 as importer;
use lictor_proto::directory::model::v3 as model;
use prost::Message as _;
use std::time::Duration;
use tonic::transport::Channel;

const MILLION: usize = 1_000_000;

const MANIFEST: &str = "model:
  version: 3
types:
  user: {}
  document:
    relations:
      viewer: user
";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A server with the test manifest and one relation (`document:kept#viewer@user:kept`).
fn server() -> Server {
    let server = Server::start("", false);
    runtime().block_on(async {
        let channel = channel(&server).await;
        let body = model::SetManifestRequest {
            msg: Some(model::set_manifest_request::Msg::Body(model::Body {
                data: MANIFEST.as_bytes().to_vec(),
            })),
        };
        model::model_client::ModelClient::new(channel.clone())
            .set_manifest(tokio_stream::iter([body]))
            .await
            .unwrap();
    });
    let response = reqwest::blocking::Client::new()
        .post(server.rest("/api/v3/directory/relation"))
        .json(&serde_json::json!({"relation": {
            "object_type": "document", "object_id": "kept", "relation": "viewer",
            "subject_type": "user", "subject_id": "kept"}}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    server
}

async fn channel(server: &Server) -> Channel {
    Channel::from_shared(format!("http://{}", server.ports["directory-grpc"]))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn viewer(i: usize) -> types::Relation {
    types::Relation {
        object_type: "document".into(),
        object_id: format!("doc-{i}"),
        relation: "viewer".into(),
        subject_type: "user".into(),
        subject_id: format!("user-{i}"),
        ..Default::default()
    }
}

fn set(relation: types::Relation) -> importer::ImportRequest {
    importer::ImportRequest {
        op_code: importer::Opcode::Set as i32,
        msg: Some(importer::import_request::Msg::Relation(relation)),
    }
}

/// What the directory holds: `(objects, relations, revision)` from the exporter's statistics.
async fn stats(server: &Server) -> (u64, u64, u64) {
    let mut stream = exporter::exporter_client::ExporterClient::new(channel(server).await)
        .export(exporter::ExportRequest {
            options: 64,
            start_from: None,
        })
        .await
        .unwrap()
        .into_inner();
    let Some(exporter::export_response::Msg::Stats(stats)) =
        stream.message().await.unwrap().unwrap().msg
    else {
        panic!("the export did not open with statistics");
    };
    let number = |name: &str| match stats.fields[name].kind {
        Some(lictor_proto::wkt::value::Kind::NumberValue(n)) => n as u64,
        ref other => panic!("{name} is {other:?}"),
    };
    (number("objects"), number("relations"), number("revision"))
}

/// Exports every relation and checks that they are exactly `document:kept#viewer@user:kept` and
/// `document:doc-i#viewer@user:user-i` for every `i < count`.
async fn expect_exported_relations(server: &Server, count: usize) {
    let mut stream = exporter::exporter_client::ExporterClient::new(channel(server).await)
        .export(exporter::ExportRequest {
            options: 16,
            start_from: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = vec![false; count];
    let (mut kept, mut total) = (false, 0usize);
    while let Some(message) = stream.message().await.unwrap() {
        let Some(exporter::export_response::Msg::Relation(r)) = message.msg else {
            panic!("only relations were asked for");
        };
        total += 1;
        if r.object_id == "kept" {
            kept = true;
            continue;
        }
        let i: usize = r.object_id.strip_prefix("doc-").unwrap().parse().unwrap();
        assert_eq!(r.subject_id, format!("user-{i}"));
        assert_eq!(
            (r.relation.as_str(), r.subject_type.as_str()),
            ("viewer", "user")
        );
        assert!(!seen[i], "doc-{i} exported twice");
        seen[i] = true;
    }
    assert!(kept, "the relation stored before the import is still there");
    assert_eq!(total, count + 1);
    assert!(seen.iter().all(|s| *s));
}

/// The outcome of a gRPC call read off the wire: its messages and `grpc-status`.
struct GrpcOutcome {
    responses: Vec<importer::ImportResponse>,
    status: String,
    message: String,
}

/// One Import call over a raw HTTP/2 connection.
struct FramedImport {
    send: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
    connection: tokio::task::JoinHandle<Result<(), h2::Error>>,
}

impl FramedImport {
    async fn open(server: &Server) -> FramedImport {
        let address = &server.ports["directory-grpc"];
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        let connection = tokio::spawn(connection);
        let mut client = client.ready().await.unwrap();
        let request = http::Request::post(format!(
            "http://{address}/aserto.directory.importer.v3.Importer/Import"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
        let (response, send) = client.send_request(request, false).unwrap();
        FramedImport {
            send,
            response,
            connection,
        }
    }

    /// Sends `message` in a DATA frame of its own once flow control lets it.
    async fn send(&mut self, message: &importer::ImportRequest) -> Result<(), String> {
        send_frame(&mut self.send, message).await
    }

    /// Ends the request stream and reads the whole answer.
    async fn finish(mut self) -> Result<GrpcOutcome, String> {
        self.send
            .send_data(Bytes::new(), true)
            .map_err(|e| e.to_string())?;
        read_outcome(self.response).await
    }
}

/// Sends `message` on `send` in a DATA frame of its own once flow control lets it.
async fn send_frame(
    send: &mut h2::SendStream<Bytes>,
    message: &importer::ImportRequest,
) -> Result<(), String> {
    let len = message.encoded_len();
    let mut frame = Vec::with_capacity(5 + len);
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    message.encode(&mut frame).unwrap();
    send.reserve_capacity(frame.len());
    while send.capacity() < frame.len() {
        match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("the stream closed".to_string()),
        }
    }
    send.send_data(Bytes::from(frame), false)
        .map_err(|e| e.to_string())
}

async fn read_outcome(response: h2::client::ResponseFuture) -> Result<GrpcOutcome, String> {
    let response = response.await.map_err(|e| e.to_string())?;
    let (head, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        body.flow_control().release_capacity(chunk.len()).unwrap();
        bytes.extend_from_slice(&chunk);
    }
    // A call that fails before answering anything sends its status in the headers alone.
    let trailers = body
        .trailers()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or(head.headers);
    let header = |name: &str| {
        trailers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let mut responses = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        responses.push(importer::ImportResponse::decode(&rest[5..5 + len]).unwrap());
        rest = &rest[5 + len..];
    }
    Ok(GrpcOutcome {
        responses,
        status: header("grpc-status"),
        message: header("grpc-message"),
    })
}

/// The final totals of an import's answer: `(objects, relations)` counters, and the status
/// messages before them.
fn totals(
    outcome: &GrpcOutcome,
) -> (
    importer::ImportCounter,
    importer::ImportCounter,
    Vec<importer::ImportStatus>,
) {
    let mut statuses = Vec::new();
    let mut totals = None;
    for response in &outcome.responses {
        match &response.msg {
            Some(importer::import_response::Msg::Status(status)) => statuses.push(status.clone()),
            Some(importer::import_response::Msg::Counter(_)) => {}
            None => {
                totals = Some((
                    response.object.clone().unwrap(),
                    response.relation.clone().unwrap(),
                ))
            }
        }
    }
    let (objects, relations) = totals.expect("a final totals message");
    (objects, relations, statuses)
}

fn counter(kind: &str, recv: u64, set: u64, error: u64) -> importer::ImportCounter {
    importer::ImportCounter {
        recv,
        set,
        delete: 0,
        error,
        r#type: kind.to_string(),
    }
}

#[test]
fn a_million_relations_in_one_grpc_stream_of_small_frames_are_imported_in_one_revision() {
    let server = server();
    runtime().block_on(async {
        let (objects, relations, revision) = stats(&server).await;
        assert_eq!((objects, relations), (0, 1));
        let started = std::time::Instant::now();
        let mut import = FramedImport::open(&server).await;
        for i in 0..MILLION {
            import
                .send(&set(viewer(i)))
                .await
                .unwrap_or_else(|e| panic!("message {i}: {e}"));
        }
        let outcome = import.finish().await.unwrap();
        eprintln!("1M relations imported over gRPC in {:?}", started.elapsed());
        assert_eq!(outcome.status, "0", "{}", outcome.message);
        let (objects, relations, statuses) = totals(&outcome);
        assert!(statuses.is_empty(), "{statuses:?}");
        assert_eq!(objects, counter("object", 0, 0, 0));
        assert_eq!(
            relations,
            counter("relation", MILLION as u64, MILLION as u64, 0)
        );
        assert_eq!(
            stats(&server).await,
            (0, MILLION as u64 + 1, revision + 1),
            "every relation, in one revision"
        );
        expect_exported_relations(&server, MILLION).await;
    });
}

#[test]
fn a_grpc_import_cut_midway_leaves_revision_and_contents_unchanged() {
    let server = server();
    runtime().block_on(async {
        let before = stats(&server).await;

        // The client cancels the call (RST_STREAM) after 20,000 messages.
        let mut import = FramedImport::open(&server).await;
        for i in 0..20_000 {
            import.send(&set(viewer(i))).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        import.send.send_reset(h2::Reason::CANCEL);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(stats(&server).await, before, "after a cancelled import");

        // The connection drops after 20,000 messages.
        let mut import = FramedImport::open(&server).await;
        for i in 0..20_000 {
            import.send(&set(viewer(i))).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        import.connection.abort();
        drop(import);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(stats(&server).await, before, "after a dropped connection");

        // A message that does not decode breaks the stream too.
        let mut import = FramedImport::open(&server).await;
        for i in 0..20_000 {
            import.send(&set(viewer(i))).await.unwrap();
        }
        import
            .send
            .send_data(Bytes::from_static(&[0, 0, 0, 0, 2, 0xff, 0xff]), false)
            .unwrap();
        let outcome = import.finish().await.unwrap();
        assert_eq!(outcome.status, "3", "INVALID_ARGUMENT: {}", outcome.message);
        assert!(outcome.message.contains("decode"), "{}", outcome.message);
        assert_eq!(stats(&server).await, before, "after an undecodable message");

        // The server still imports a stream that ends cleanly.
        let mut import = FramedImport::open(&server).await;
        for i in 0..10 {
            import.send(&set(viewer(i))).await.unwrap();
        }
        let outcome = import.finish().await.unwrap();
        assert_eq!(outcome.status, "0", "{}", outcome.message);
        let (objects, relations, revision) = before;
        assert_eq!(
            stats(&server).await,
            (objects, relations + 10, revision + 1)
        );
        expect_exported_relations(&server, 10).await;
    });
}

#[test]
fn refused_messages_are_reported_in_the_stream_and_a_client_reading_them_late_is_slowed_not_cut() {
    const MESSAGES: usize = 200_000;
    let server = server();
    runtime().block_on(async {
        let (objects, relations, revision) = stats(&server).await;
        let FramedImport {
            mut send,
            response,
            connection: _connection,
        } = FramedImport::open(&server).await;
        // Every other message names a relation the manifest lacks; each refusal is answered in the
        // stream. The client reads nothing for two seconds, so the server must stop reading it
        // (flow control) rather than buffer its frames past h2's limits.
        let sender = tokio::spawn(async move {
            for i in 0..MESSAGES {
                let mut relation = viewer(i);
                if i % 2 == 1 {
                    relation.relation = "owner".into();
                }
                send_frame(&mut send, &set(relation))
                    .await
                    .unwrap_or_else(|e| panic!("message {i}: {e}"));
            }
            send.send_data(Bytes::new(), true).unwrap();
            send
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let outcome = read_outcome(response).await.unwrap();
        sender.await.unwrap();
        assert_eq!(outcome.status, "0", "{}", outcome.message);
        let (object_totals, relation_totals, statuses) = totals(&outcome);
        let half = MESSAGES as u64 / 2;
        assert_eq!(object_totals, counter("object", 0, 0, 0));
        assert_eq!(
            relation_totals,
            counter("relation", MESSAGES as u64, half, half)
        );
        assert_eq!(statuses.len(), MESSAGES / 2);
        let first = &statuses[0];
        assert_eq!(first.code, 3);
        assert_eq!(
            first.msg,
            "relation document:doc-1#owner@user:user-1: type `document` has no relation or permission `owner`"
        );
        assert_eq!(first.req.as_ref().unwrap(), &set(types::Relation {
            relation: "owner".into(),
            ..viewer(1)
        }));
        assert_eq!(
            stats(&server).await,
            (objects, relations + half, revision + 1)
        );
    });
}

/// `count` relations as JSON Lines, `bad` replacing line `at` (1-based) when given.
fn jsonl(count: usize, bad: Option<(usize, &str)>) -> Vec<u8> {
    let mut body = Vec::with_capacity(count * 120);
    for i in 0..count {
        match bad {
            Some((at, line)) if at == i + 1 => body.extend_from_slice(line.as_bytes()),
            _ => body.extend_from_slice(
                format!(
                    r#"{{"relation":{{"object_type":"document","object_id":"doc-{i}","relation":"viewer","subject_type":"user","subject_id":"user-{i}"}}}}"#
                )
                .as_bytes(),
            ),
        }
        body.push(b'\n');
    }
    body
}

fn post_import(server: &Server, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
        .post(server.rest("/api/v3/lictor/import"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn a_million_relations_in_one_rest_import_are_imported_in_one_revision() {
    let server = server();
    let (objects, relations, revision) = runtime().block_on(stats(&server));
    let started = std::time::Instant::now();
    let (status, body) = post_import(&server, jsonl(MILLION, None));
    eprintln!("1M relations imported over REST in {:?}", started.elapsed());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"objects": 0, "relations": MILLION, "revision": revision + 1})
    );
    runtime().block_on(async {
        assert_eq!(
            stats(&server).await,
            (objects, relations + MILLION as u64, revision + 1)
        );
        expect_exported_relations(&server, MILLION).await;
    });
}

#[test]
fn a_rest_import_with_a_bad_line_in_the_middle_leaves_revision_and_contents_unchanged() {
    let server = server();
    let before = runtime().block_on(stats(&server));
    let malformed = r#"{"relation": {"object_type": "document", "object_id": "#;
    let (status, body) = post_import(&server, jsonl(MILLION, Some((500_001, malformed))));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("line 500001: "), "{message}");
    assert_eq!(runtime().block_on(stats(&server)), before);

    // Refused on its first line, while the client still has most of the body to send: it gets
    // the answer, not a connection closed under its upload.
    let (status, body) = post_import(&server, jsonl(MILLION, Some((1, malformed))));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("line 1: "),
        "{body}"
    );
    assert_eq!(runtime().block_on(stats(&server)), before);

    let refused = r#"{"relation":{"object_type":"document","object_id":"doc-x","relation":"owner","subject_type":"user","subject_id":"user-x"}}"#;
    let (status, body) = post_import(&server, jsonl(MILLION, Some((999_999, refused))));
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "line 999999: relation document:doc-x#owner@user:user-x: type `document` has no relation or permission `owner`",
        "{body}"
    );
    assert_eq!(runtime().block_on(stats(&server)), before);
}
