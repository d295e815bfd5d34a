//! Hostile and careless input against `lictor run`: unbounded queries, deep JSON, and what the
//! server's own log says about it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Server;
use lictor_proto::directory::common::v3 as types;
use lictor_proto::directory::reader::v3 as reader;
use lictor_proto::directory::writer::v3 as writer;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
}

fn post(url: &str, body: Value) -> (u16, Value) {
    let response = client(Duration::from_secs(30))
        .post(url)
        .json(&body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

/// The metric's value in the exposition, 0 when absent.
fn metric(server: &Server, line_start: &str) -> f64 {
    let text = client(Duration::from_secs(5))
        .get(server.url("metrics", "/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |value| value.parse().unwrap())
}

/// CPU seconds the process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn queries_are_bounded_in_size_and_time_and_counted() {
    let server = Server::start("limits:\n  evaluation_timeout_ms: 500\n", true);
    let query = server.url("authorizer-rest", "/api/v2/authz/query");

    // A range that would take gigabytes is refused before it is built.
    let (status, body) = post(
        &query,
        json!({"query": "x := count(numbers.range(1, 200000000))"}),
    );
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 8, "RESOURCE_EXHAUSTED: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("numbers.range would create 200000000 elements"),
        "{message}"
    );
    assert_eq!(
        metric(&server, "lictor_evaluation_limits_total{limit=\"memory\"}"),
        1.0
    );

    // The same built-in within the bound still answers.
    let (status, body) = post(&query, json!({"query": "x := count(numbers.range(1, 10))"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["result"][0]["bindings"]["x"], 10);
    let (status, body) = post(
        &query,
        json!({"query": "x := numbers.range_step(10, 1, 4)"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["response"]["result"][0]["bindings"]["x"],
        json!([10, 6, 2])
    );

    // A quadratic comprehension runs into the time bound.
    let started = Instant::now();
    let (status, body) = post(
        &query,
        json!({"query": "r := numbers.range(1, 12000); x := count({1 | r[_]; r[_]})"}),
    );
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], 4, "DEADLINE_EXCEEDED: {body}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        metric(&server, "lictor_evaluation_limits_total{limit=\"time\"}"),
        1.0
    );

    // A caller that gives up leaves no work behind once the bound has passed.
    let gave_up = client(Duration::from_millis(100))
        .post(&query)
        .json(&json!({"query": "r := numbers.range(1, 12000); x := count({1 | r[_]; r[_]})"}))
        .send();
    assert!(gave_up.is_err(), "the client timed out");
    std::thread::sleep(Duration::from_millis(1000));
    let pid = server.child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let busy = cpu_seconds(pid) - before;
    assert!(busy < 0.3, "the server kept {busy} CPU seconds busy");

    // The server is alive and answers as before.
    let (status, body) = post(
        &server.rest("/api/v3/directory/check"),
        json!({"object_type": "group", "object_id": "admin", "relation": "member",
               "subject_type": "user", "subject_id": "rick@the-citadel.com"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["check"], true);
}

/// `{"a": {"a": ... {"leaf": true}}}` with `depth` levels of objects.
fn nested(depth: usize) -> Value {
    let mut value = json!({"leaf": true});
    for _ in 1..depth {
        value = json!({ "a": value });
    }
    value
}

/// The same as a protobuf Struct.
fn nested_struct(depth: usize) -> lictor_proto::wkt::Struct {
    serde_json::from_value(nested(depth)).unwrap()
}

#[test]
fn json_nesting_has_one_limit_on_every_transport() {
    let server = Server::start("", true);
    let set = |id: &str, depth: usize| {
        post(
            &server.rest("/api/v3/directory/object"),
            json!({"object": {"type": "user", "id": id, "properties": nested(depth)}}),
        )
    };
    let (status, body) = set("deep@x", 32);
    assert_eq!(status, 200, "{body}");
    let (status, body) = set("deeper@x", 33);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert_eq!(
        body["message"],
        "object user:deeper@x: properties nest 33 levels deep; at most 32 are accepted"
    );
    let (status, body) = set("deepest@x", 120);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");

    let (status, body) = post(
        &server.url("authorizer-rest", "/api/v2/authz/is"),
        json!({
            "identity_context": {"type": "IDENTITY_TYPE_NONE"},
            "policy_context": {"path": "rebac.check", "decisions": ["allowed"]},
            "resource_context": nested(40),
        }),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 3, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("resource_context nests 40 levels deep"),
        "{body}"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!(
            "http://{}",
            server.ports["directory-grpc"]
        ))
        .unwrap()
        .connect()
        .await
        .unwrap();
        let mut read = reader::reader_client::ReaderClient::new(channel.clone());
        let mut write = writer::writer_client::WriterClient::new(channel);

        // What REST wrote at the limit reads back over gRPC.
        let object = read
            .get_object(reader::GetObjectRequest {
                object_type: "user".into(),
                object_id: "deep@x".into(),
                with_relations: false,
                page: None,
            })
            .await
            .unwrap()
            .into_inner()
            .result
            .unwrap();
        assert_eq!(object.properties.unwrap(), nested_struct(32));

        let set = |id: &str, depth: usize| writer::SetObjectRequest {
            object: Some(types::Object {
                r#type: "user".into(),
                id: id.into(),
                properties: Some(nested_struct(depth)),
                ..Default::default()
            }),
        };
        write.set_object(set("grpc@x", 32)).await.unwrap();
        let refused = write
            .set_object(set("grpc-deeper@x", 33))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert_eq!(
            refused.message(),
            "object user:grpc-deeper@x: properties nest 33 levels deep; at most 32 are accepted"
        );
        // Past what the protobuf decoder takes at all: still the caller's fault.
        let refused = write
            .set_object(set("grpc-deepest@x", 60))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("does not decode"), "{refused:?}");
    });
}

/// Lines the server writes to standard error, read on a thread.
fn stderr_lines(server: &mut Server) -> mpsc::Receiver<String> {
    let stderr = server.child.stderr.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

/// The first line that `matches`, within 10 s.
fn wait_for_line(lines: &mpsc::Receiver<String>, matches: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if matches(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no such log line; saw:\n{}", seen.join("\n"));
}

#[test]
fn requests_are_logged_as_json_lines_with_id_tenant_status_and_latency() {
    let mut server = Server::start("log:\n  format: json\n", true);
    let lines = stderr_lines(&mut server);
    let response = client(Duration::from_secs(5))
        .post(server.rest("/api/v3/directory/check"))
        .header("x-request-id", "probe-4711")
        .json(
            &json!({"object_type": "group", "object_id": "nobody", "relation": "member",
                      "subject_type": "user", "subject_id": "x"}),
        )
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let line = wait_for_line(&lines, |line| line.contains("probe-4711"));
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["level"], "INFO", "{record}");
    assert_eq!(record["target"], "lictor::request", "{record}");
    assert_eq!(record["request_id"], "probe-4711", "{record}");
    assert_eq!(record["tenant"], "", "the default tenant: {record}");
    assert_eq!(record["transport"], "rest", "{record}");
    assert_eq!(record["method"], "POST", "{record}");
    assert_eq!(record["path"], "/api/v3/directory/check", "{record}");
    assert_eq!(record["status"], status, "{record}");
    assert!(record["latency_us"].as_u64().is_some(), "{record}");
}

#[test]
fn a_refused_policy_change_is_logged_with_its_file_and_line() {
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(
        policies.path().join("one.rego"),
        "package one\n\ndefault allowed := true\n",
    )
    .unwrap();
    let mut server = Server::start(
        &format!(
            "policies:\n  dir: {}\n  reload_seconds: 1\nlog:\n  level: warn\n",
            policies.path().display()
        ),
        false,
    );
    let lines = stderr_lines(&mut server);
    std::fs::write(
        policies.path().join("one.rego"),
        "package one\n\nallowed if {\n",
    )
    .unwrap();
    let line = wait_for_line(&lines, |line| line.contains("policy change rejected"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("one.rego:4:1: expecting expression"),
        "{line}"
    );
}

/// Spans an OTLP/gRPC collector received: (name, trace id as hex).
#[derive(Clone, Default)]
struct Collector(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Collector
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let trace: String = span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                    spans.push((span.name, trace));
                }
            }
        }
        Ok(tonic::Response::new(Default::default()))
    }
}

#[test]
fn requests_are_traced_over_otlp_with_the_callers_trace_id() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let collector = Collector::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let server = Server::start(
        &format!("traces:\n  otlp_endpoint: http://{address}\n  export_delay_ms: 100\n"),
        true,
    );
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = client(Duration::from_secs(5))
        .post(server.url("authorizer-rest", "/api/v2/authz/is"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&json!({
            "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": "beth@the-smiths.com"},
            "policy_context": {"path": "todoApp.POST.todos", "decisions": ["allowed"]},
        }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = client(Duration::from_secs(5))
        .post(server.rest("/api/v3/directory/check"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(
            &json!({"object_type": "group", "object_id": "admin", "relation": "member",
                      "subject_type": "user", "subject_id": "rick@the-citadel.com"}),
        )
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let wanted = [
        "request",
        "identity",
        "policy.evaluate",
        "directory",
        "directory.check",
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans = collector.0.lock().unwrap().clone();
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|name| !spans.iter().any(|(n, t)| n == name && t == trace))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans missing from trace {trace}: {missing:?}; received {spans:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
}

/// `view` needs every item of the resource to occur once: quadratic in the caller's data.
const QUADRATIC_POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: album
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.items.all(x, R.attr.items.filter(y, y == x).size() == 1)
";

#[test]
fn cerbos_conditions_are_bounded_in_time_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("album.yaml"), QUADRATIC_POLICY).unwrap();
    let server = Server::start(
        &format!(
            "limits:\n  evaluation_timeout_ms: 300\ncerbos:\n  server:\n    httpListenAddr: 127.0.0.1:0\n    grpcListenAddr: \"\"\n  storage:\n    driver: disk\n    disk:\n      directory: {}\n",
            dir.path().display()
        ),
        false,
    );
    let url = server.url("authorizer-rest", "/api/check/resources");
    let body = |items: usize| {
        json!({"requestId": "r1",
               "principal": {"id": "alice", "roles": ["user"]},
               "resources": [{"actions": ["view"],
                              "resource": {"kind": "album", "id": "a1",
                                           "attr": {"items": (0..items).collect::<Vec<_>>()}}}]})
    };

    let (status, answer) = post(&url, body(20));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["actions"]["view"], "EFFECT_ALLOW");

    // 100,000 items: 10^10 comparisons, hours without the bound.
    let started = Instant::now();
    let (status, answer) = post(&url, body(100_000));
    assert_eq!(status, 504, "{answer}");
    assert_eq!(answer["code"], 4, "DEADLINE_EXCEEDED: {answer}");
    assert_eq!(
        answer["message"],
        "CheckResources: the policies' conditions took longer than the evaluation time limit of 300 ms (limits.evaluation_timeout_ms); nothing was decided"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        metric(
            &server,
            "lictor_evaluation_limits_total{limit=\"cel_time\"}"
        ),
        1.0
    );

    let plan = server.url("authorizer-rest", "/api/plan/resources");
    let (status, answer) = post(
        &plan,
        json!({"requestId": "p1", "action": "view",
               "principal": {"id": "alice", "roles": ["user"]},
               "resource": {"kind": "album", "attr": {"items": (0..100_000).collect::<Vec<_>>()}}}),
    );
    assert_eq!(status, 504, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("PlanResources: the policies' conditions took longer"),
        "{answer}"
    );
    assert_eq!(
        metric(
            &server,
            "lictor_evaluation_limits_total{limit=\"cel_time\"}"
        ),
        2.0
    );

    // Nothing keeps running once the answer is given.
    let pid = server.child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let busy = cpu_seconds(pid) - before;
    assert!(busy < 0.3, "the server kept {busy} CPU seconds busy");
}

#[test]
fn an_import_over_the_configured_stage_limit_is_refused_naming_the_setting() {
    let server = Server::start("limits:\n  max_import_bytes: 2000\n", true);
    let url = server.rest("/api/v3/lictor/import");
    let lines = |count: usize| {
        (0..count)
            .map(|i| {
                json!({"object": {"type": "user", "id": format!("staged-{i}@example.com")}})
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let import = |body: String| {
        let response = client(Duration::from_secs(30))
            .post(&url)
            .body(body)
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let exists = |id: &str| {
        client(Duration::from_secs(5))
            .get(server.rest(&format!("/api/v3/directory/object/user/{id}")))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };

    let (status, body) = import(lines(200));
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], 8, "RESOURCE_EXHAUSTED: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("larger than the 2000 bytes one import may stage")
            && message.contains("limits.max_import_bytes"),
        "{message}"
    );
    assert_eq!(
        exists("staged-0@example.com"),
        404,
        "a refused import left objects"
    );

    let (status, body) = import(lines(3));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objects"], 3);
    assert_eq!(exists("staged-2@example.com"), 200);
}

#[test]
fn a_grpc_error_sent_in_trailers_is_logged_with_its_code() {
    use lictor_proto::directory::importer::v3 as importer;
    let mut server = Server::start(
        "log:\n  format: json\nlimits:\n  max_import_bytes: 2000\n",
        true,
    );
    let lines = stderr_lines(&mut server);
    let status = current_thread().block_on(async {
        let mut client = importer_client(&server).await;
        let messages: Vec<importer::ImportRequest> = (0..200)
            .map(|i| importer::ImportRequest {
                op_code: importer::Opcode::Set as i32,
                msg: Some(importer::import_request::Msg::Object(types::Object {
                    r#type: "user".into(),
                    id: format!("staged-{i}@example.com"),
                    ..Default::default()
                })),
            })
            .collect();
        let mut request = tonic::Request::new(tokio_stream::iter(messages));
        request
            .metadata_mut()
            .insert("x-request-id", "import-4712".parse().unwrap());
        // The answer's headers go out at once; the error ends the stream, in its trailers.
        let mut answers = client.import(request).await.unwrap().into_inner();
        loop {
            match answers.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("an import over the stage limit was applied"),
                Err(status) => break status,
            }
        }
    });
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let line = wait_for_line(&lines, |line| line.contains("import-4712"));
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["transport"], "grpc", "{record}");
    assert_eq!(
        record["method"], "/aserto.directory.importer.v3.Importer/Import",
        "{record}"
    );
    assert_eq!(
        record["grpc_code"], 8,
        "RESOURCE_EXHAUSTED, from the trailers: {record}"
    );
    // The request counter reads the same status, not the 200 of the answer's headers.
    let counted = r#"lictor_requests_total{method="/aserto.directory.importer.v3.Importer/Import",transport="grpc",code="resource_exhausted"}"#;
    assert_eq!(metric(&server, counted), 1.0, "{counted}");
    let as_ok = r#"lictor_requests_total{method="/aserto.directory.importer.v3.Importer/Import",transport="grpc",code="ok"}"#;
    assert_eq!(metric(&server, as_ok), 0.0, "{as_ok}");
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A gRPC Importer client on the server's directory port.
async fn importer_client(
    server: &Server,
) -> lictor_proto::directory::importer::v3::importer_client::ImporterClient<tonic::transport::Channel>
{
    let channel = tonic::transport::Channel::from_shared(format!(
        "http://{}",
        server.ports["directory-grpc"]
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    lictor_proto::directory::importer::v3::importer_client::ImporterClient::new(channel)
}

/// Reads from `stream` until the server closes it, or 10 s pass (then panics); returns what it read.
fn read_until_closed(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&answer).into_owned()
            }
            Err(error) => panic!(
                "still open after 10 s ({error}); read so far: {}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
}

#[test]
fn clients_that_stall_are_cut_off() {
    use std::io::Write;
    let server = Server::start(
        "limits:\n  handshake_timeout_ms: 400\n  body_idle_timeout_ms: 400\n",
        true,
    );
    let address = server.ports["directory-rest"].clone();

    // A connection that never sends a byte.
    let started = Instant::now();
    let mut silent = std::net::TcpStream::connect(&address).unwrap();
    read_until_closed(&mut silent);
    assert!(started.elapsed() < Duration::from_secs(5));

    // HTTP/1 headers that never end (slowloris).
    let started = Instant::now();
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /api/v3/directory/objects HTTP/1.1\r\nHost: lictor\r\n")
        .unwrap();
    let answer = read_until_closed(&mut slow);
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A body that stops halfway: refused with the error body, and nothing written.
    let body = r#"{"object":{"type":"user","id":"stalled@example.com","display_name":"Stalled"}}"#;
    let mut stalled = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stalled,
        "POST /api/v3/directory/object HTTP/1.1\r\nHost: lictor\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..20]
    )
    .unwrap();
    let answer = read_until_closed(&mut stalled);
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert_eq!(status, "400", "INVALID_ARGUMENT: {answer}");
    assert!(
        answer.contains("\"code\":3") && answer.contains("sent nothing for 400 ms"),
        "{answer}"
    );
    let exists = client(Duration::from_secs(5))
        .get(server.rest("/api/v3/directory/object/user/stalled@example.com"))
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(exists, 404);

    // A gRPC import stream that stalls after one message fails, and applies nothing.
    use lictor_proto::directory::importer::v3 as importer;
    let status = current_thread().block_on(async {
        let mut client = importer_client(&server).await;
        let first = importer::ImportRequest {
            op_code: importer::Opcode::Set as i32,
            msg: Some(importer::import_request::Msg::Object(types::Object {
                r#type: "user".into(),
                id: "stalled-import@example.com".into(),
                ..Default::default()
            })),
        };
        let messages =
            tokio_stream::StreamExt::chain(tokio_stream::iter([first]), tokio_stream::pending());
        let call = async {
            let mut answers = client.import(messages).await?.into_inner();
            while answers.message().await?.is_some() {}
            Ok::<(), tonic::Status>(())
        };
        tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("the stalled import is cut off within 10 s")
    });
    let status = status.expect_err("a stalled import fails");
    assert!(
        status.message().contains("sent nothing for 400 ms"),
        "{status:?}"
    );
    let exists = client(Duration::from_secs(5))
        .get(server.rest("/api/v3/directory/object/user/stalled-import@example.com"))
        .send()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(exists, 404, "a stalled import applied its first message");
}
