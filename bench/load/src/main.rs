//! `lictor-load`: the one load generator of the benchmarks. Every worker keeps its connection alive,
//! as an application's client would; after a warm-up it counts what completes in a bounded window and
//! prints requests per second and latency percentiles.
//!
//! * `lictor-load demo`: Check or Is against `lictor run --demo`, over HTTP/1.1 or gRPC.
//! * `lictor-load http`: POSTs the JSON bodies of a file to any HTTP endpoint (Lictor or a peer) and
//!   prints one JSON line, with the server's CPU time per 1,000 decisions when given its pid.
//! * `lictor-load answers`: sends each body once and prints each answer, for agreement checks.

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lictor_proto::authorizer::v2 as authorizer;
use lictor_proto::authorizer::v2::authorizer_client::AuthorizerClient;
use lictor_proto::directory::reader::v3 as reader;
use lictor_proto::directory::reader::v3::reader_client::ReaderClient;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// What each request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// Directory check (`group:admin#member` for alternating users), REST.
    CheckHttp,
    /// Authorizer Is (`todoApp.POST.todos`, a ds.check inside), REST.
    IsHttp,
    /// Directory check over gRPC.
    CheckGrpc,
    /// Authorizer Is over gRPC.
    IsGrpc,
    /// The check's request over REST, sent to a server that answers every request with the same
    /// static body: the baseline the others are compared with (nginx, one worker).
    Static,
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for Lictor and the systems it is compared with")]
enum Command {
    /// Check or Is against `lictor run --demo`.
    Demo(DemoArgs),
    /// POST the bodies of a file to an HTTP endpoint under load; prints one JSON line.
    Http(HttpArgs),
    /// POST each body of a file once and print each answer on its own line.
    Answers(TargetArgs),
}

/// How long and how hard.
#[derive(Debug, clap::Args)]
struct Shape {
    /// Requests in flight at once (one keep-alive connection each over HTTP).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// HTTP/2 connections the gRPC workloads share between the requests in flight (at most one per
    /// request in flight).
    #[arg(long, default_value_t = 4)]
    grpc_connections: usize,
    /// A label printed with the result (e.g. "logging on").
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// The server's API address (`host:port`), plaintext.
    #[arg(long)]
    address: SocketAddr,
    /// The workload.
    #[arg(long, value_enum)]
    workload: Workload,
    #[command(flatten)]
    shape: Shape,
}

/// Where requests go and what they carry.
#[derive(Debug, clap::Args)]
struct TargetArgs {
    /// `http://host:port/path`.
    #[arg(long)]
    url: String,
    /// JSON bodies, one per line; worker `w` starts at line `w` and steps by the concurrency.
    #[arg(long)]
    bodies: std::path::PathBuf,
    /// Extra request headers, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct HttpArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    shape: Shape,
    /// The server's pid, to report its CPU seconds (utime + stime) spent in the measured window.
    #[arg(long)]
    pid: Option<u32>,
    /// Decisions each request asks for (e.g. 150 for a batch of 50 resources × 3 actions).
    #[arg(long, default_value_t = 1)]
    decisions: u32,
}

/// Users the requests rotate through: allowed and denied answers both.
const USERS: [&str; 4] = [
    "rick@the-citadel.com",
    "beth@the-smiths.com",
    "morty@the-citadel.com",
    "jerry@the-smiths.com",
];

/// The `i`-th user, round-robin.
fn user(i: usize) -> &'static str {
    USERS.get(i % USERS.len()).copied().unwrap_or_default()
}

/// What one worker measured.
#[derive(Default)]
pub(crate) struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

fn main() -> Result<()> {
    let command = Command::parse();
    let threads = match &command {
        Command::Demo(args) => args.shape.threads,
        Command::Http(args) => args.shape.threads,
        Command::Answers(_) => 1,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Demo(args) => demo(args).await,
            Command::Http(args) => crate::http::load(args).await,
            Command::Answers(args) => crate::http::answers(args).await,
        }
    })
}

mod http;

async fn demo(args: DemoArgs) -> Result<()> {
    let shape = &args.shape;
    let warm_until = Instant::now() + Duration::from_secs_f64(shape.warmup);
    let stop_at = warm_until + Duration::from_secs_f64(shape.seconds);
    let grpc = match args.workload {
        Workload::CheckGrpc | Workload::IsGrpc => {
            // HTTP/2 connections shared by the workers, as a pooled gRPC client would.
            let mut channels = Vec::new();
            for _ in 0..shape.grpc_connections.clamp(1, shape.concurrency.max(1)) {
                channels.push(
                    Channel::from_shared(format!("http://{}", args.address))?
                        .connect()
                        .await
                        .context("connecting over gRPC")?,
                );
            }
            channels
        }
        Workload::CheckHttp | Workload::IsHttp | Workload::Static => Vec::new(),
    };
    let mut workers = Vec::new();
    for worker in 0..shape.concurrency {
        let channel = grpc.get(worker % grpc.len().max(1)).cloned();
        let (address, workload, concurrency) = (args.address, args.workload, shape.concurrency);
        let spread = Spread {
            worker,
            concurrency,
        };
        workers.push(tokio::spawn(async move {
            match channel {
                Some(channel) => grpc_worker(channel, workload, spread, warm_until, stop_at).await,
                None => http_worker(address, workload, spread, warm_until, stop_at).await,
            }
        }));
    }
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.await??;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
    }
    if all.latencies_us.is_empty() {
        bail!("no request completed ({} errors)", all.errors);
    }
    all.latencies_us.sort_unstable();
    let count = all.latencies_us.len();
    println!(
        "{:<11} {:<12} concurrency {:>3}  {:>9.0} req/s  p50 {:>5} µs  p99 {:>5} µs  errors {}",
        format!("{:?}", args.workload).to_lowercase(),
        shape.label,
        shape.concurrency,
        count as f64 / shape.seconds,
        percentile(&all.latencies_us, 0.50),
        percentile(&all.latencies_us, 0.99),
        all.errors
    );
    Ok(())
}

/// The `q`-quantile (0..=1) of sorted latencies.
fn percentile(sorted: &[u32], q: f64) -> u32 {
    let index = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(index).copied().unwrap_or(0)
}

/// Distinct Is requests the workers send between them (users × resource contexts), so that no
/// single cached answer could serve the workload.
const DISTINCT_IS_REQUESTS: usize = 10_000;

/// Which worker of how many: worker `w` sends requests `w`, `w + concurrency`, ...
#[derive(Debug, Clone, Copy)]
struct Spread {
    worker: usize,
    concurrency: usize,
}

impl Spread {
    /// The numbers of the requests this worker sends, in order, out of `distinct`: a share of
    /// them when there are more than workers, else every one, starting at its own.
    fn requests(self, distinct: usize) -> Vec<usize> {
        if distinct > self.concurrency {
            (self.worker..distinct)
                .step_by(self.concurrency.max(1))
                .collect()
        } else {
            (0..distinct)
                .map(|i| (self.worker + i) % distinct)
                .collect()
        }
    }
}

fn check_body(k: usize) -> serde_json::Value {
    serde_json::json!({
        "object_type": "group", "object_id": "admin", "relation": "member",
        "subject_type": "user", "subject_id": user(k),
    })
}

/// The `k`-th distinct Is request: a user and a todo id, whose pairs do not repeat below
/// [`DISTINCT_IS_REQUESTS`].
fn is_request(k: usize) -> (&'static str, String) {
    (user(k), format!("todo-{}", k / USERS.len()))
}

fn is_body(k: usize) -> serde_json::Value {
    let (user, todo) = is_request(k);
    serde_json::json!({
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": user},
        "policy_context": {"path": "todoApp.POST.todos", "decisions": ["allowed"]},
        "resource_context": {"object_id": todo},
    })
}

/// Records one request's latency once warm-up is over.
pub(crate) fn record(tally: &mut Tally, started: Instant, ok: bool, warm_until: Instant) {
    if started < warm_until {
        return;
    }
    if ok {
        let micros = started.elapsed().as_micros();
        tally
            .latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
    } else {
        tally.errors += 1;
    }
}

async fn http_worker(
    address: SocketAddr,
    workload: Workload,
    spread: Spread,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Tally> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (path, body, distinct): (&str, fn(usize) -> serde_json::Value, usize) = match workload {
        Workload::IsHttp => ("/api/v2/authz/is", is_body, DISTINCT_IS_REQUESTS),
        _ => ("/api/v3/directory/check", check_body, USERS.len()),
    };
    // Bodies are built before the clock starts, so the generator's JSON work is not measured.
    let bodies: Vec<Bytes> = spread
        .requests(distinct)
        .into_iter()
        .map(|k| Bytes::from(body(k).to_string()))
        .collect();
    let mut tally = Tally::default();
    let mut n = 0usize;
    while Instant::now() < stop_at {
        let payload = bodies.get(n % bodies.len()).cloned().unwrap_or_default();
        n += 1;
        let request = hyper::Request::post(path)
            .header("host", address.to_string())
            .header("content-type", "application/json")
            .body(Full::new(payload))?;
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        record(&mut tally, started, ok, warm_until);
    }
    Ok(tally)
}

async fn grpc_worker(
    channel: Channel,
    workload: Workload,
    spread: Spread,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Tally> {
    let mut readers = ReaderClient::new(channel.clone());
    let mut authorizers = AuthorizerClient::new(channel);
    // Requests are built before the clock starts, as the HTTP bodies are.
    let requests: Vec<GrpcRequest> = if workload == Workload::IsGrpc {
        let numbers = spread.requests(DISTINCT_IS_REQUESTS).into_iter();
        numbers.map(|k| GrpcRequest::Is(is_message(k))).collect()
    } else {
        let numbers = spread.requests(USERS.len()).into_iter();
        numbers
            .map(|k| GrpcRequest::Check(check_message(k)))
            .collect()
    };
    let mut tally = Tally::default();
    let mut n = 0usize;
    while Instant::now() < stop_at {
        n += 1;
        let started = Instant::now();
        let ok = match requests.get(n % requests.len().max(1)) {
            Some(GrpcRequest::Is(request)) => authorizers.is(request.clone()).await.is_ok(),
            Some(GrpcRequest::Check(request)) => readers.check(request.clone()).await.is_ok(),
            None => bail!("no request to send"),
        };
        record(&mut tally, started, ok, warm_until);
    }
    Ok(tally)
}

/// One request of a gRPC workload.
enum GrpcRequest {
    Check(reader::CheckRequest),
    Is(authorizer::IsRequest),
}

fn check_message(k: usize) -> reader::CheckRequest {
    reader::CheckRequest {
        object_type: "group".into(),
        object_id: "admin".into(),
        relation: "member".into(),
        subject_type: "user".into(),
        subject_id: user(k).into(),
        trace: false,
    }
}

fn is_message(k: usize) -> authorizer::IsRequest {
    let (user, todo) = is_request(k);
    let mut resource = lictor_proto::wkt::Struct::default();
    resource.fields.insert(
        "object_id".into(),
        lictor_proto::wkt::Value {
            kind: Some(lictor_proto::wkt::value::Kind::StringValue(todo)),
        },
    );
    authorizer::IsRequest {
        policy_context: Some(authorizer::api::PolicyContext {
            path: "todoApp.POST.todos".into(),
            decisions: vec!["allowed".into()],
        }),
        identity_context: Some(authorizer::api::IdentityContext {
            identity: user.into(),
            r#type: authorizer::api::IdentityType::Sub as i32,
        }),
        resource_context: Some(resource),
        policy_instance: None,
    }
}
