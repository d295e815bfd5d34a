//! `lictor-load`: drives a running Lictor with one workload (Check or Is, over HTTP/1.1 or gRPC) at a
//! fixed concurrency for a bounded time, after a warm-up, and prints requests per second and latency
//! percentiles. Every worker keeps its connection alive, as an application's client would.

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
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for a running Lictor")]
struct Args {
    /// The server's API address (`host:port`), plaintext.
    #[arg(long)]
    address: SocketAddr,
    /// The workload.
    #[arg(long, value_enum)]
    workload: Workload,
    /// Requests in flight at once (one keep-alive connection each over HTTP).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// A label printed with the result (e.g. "logging on").
    #[arg(long, default_value = "")]
    label: String,
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
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let warm_until = Instant::now() + Duration::from_secs(args.warmup);
    let stop_at = warm_until + Duration::from_secs(args.seconds);
    let grpc = match args.workload {
        Workload::CheckGrpc | Workload::IsGrpc => {
            // A few HTTP/2 connections shared by the workers, as a pooled gRPC client would.
            let mut channels = Vec::new();
            for _ in 0..args.concurrency.clamp(1, 4) {
                channels.push(
                    Channel::from_shared(format!("http://{}", args.address))?
                        .connect()
                        .await
                        .context("connecting over gRPC")?,
                );
            }
            channels
        }
        Workload::CheckHttp | Workload::IsHttp => Vec::new(),
    };
    let mut workers = Vec::new();
    for worker in 0..args.concurrency {
        let channel = grpc.get(worker % grpc.len().max(1)).cloned();
        let (address, workload) = (args.address, args.workload);
        workers.push(tokio::spawn(async move {
            match channel {
                Some(channel) => grpc_worker(channel, workload, worker, warm_until, stop_at).await,
                None => http_worker(address, workload, worker, warm_until, stop_at).await,
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
    let at = |q: f64| {
        let index = ((count as f64 - 1.0) * q).round() as usize;
        all.latencies_us.get(index).copied().unwrap_or(0)
    };
    println!(
        "{:<11} {:<12} concurrency {:>3}  {:>9.0} req/s  p50 {:>5} µs  p99 {:>5} µs  errors {}",
        format!("{:?}", args.workload).to_lowercase(),
        args.label,
        args.concurrency,
        count as f64 / args.seconds as f64,
        at(0.50),
        at(0.99),
        all.errors
    );
    Ok(())
}

fn check_body(worker: usize, n: usize) -> serde_json::Value {
    serde_json::json!({
        "object_type": "group", "object_id": "admin", "relation": "member",
        "subject_type": "user", "subject_id": user(worker + n),
    })
}

fn is_body(worker: usize, n: usize) -> serde_json::Value {
    serde_json::json!({
        "identity_context": {"type": "IDENTITY_TYPE_SUB", "identity": user(worker + n)},
        "policy_context": {"path": "todoApp.POST.todos", "decisions": ["allowed"]},
        "resource_context": {},
    })
}

/// Records one request's latency once warm-up is over.
fn record(tally: &mut Tally, started: Instant, ok: bool, warm_until: Instant) {
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
    worker: usize,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Tally> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (path, body): (&str, fn(usize, usize) -> serde_json::Value) = match workload {
        Workload::IsHttp => ("/api/v2/authz/is", is_body),
        _ => ("/api/v3/directory/check", check_body),
    };
    // Bodies are built before the clock starts, so the generator's JSON work is not measured.
    let bodies: Vec<Bytes> = (0..USERS.len())
        .map(|n| Bytes::from(body(worker, n).to_string()))
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
    worker: usize,
    warm_until: Instant,
    stop_at: Instant,
) -> Result<Tally> {
    let mut readers = ReaderClient::new(channel.clone());
    let mut authorizers = AuthorizerClient::new(channel);
    let mut tally = Tally::default();
    let mut n = 0usize;
    while Instant::now() < stop_at {
        let user = user(worker + n).to_string();
        n += 1;
        let started = Instant::now();
        let ok = match workload {
            Workload::IsGrpc => authorizers
                .is(authorizer::IsRequest {
                    policy_context: Some(authorizer::api::PolicyContext {
                        path: "todoApp.POST.todos".into(),
                        decisions: vec!["allowed".into()],
                    }),
                    identity_context: Some(authorizer::api::IdentityContext {
                        identity: user,
                        r#type: authorizer::api::IdentityType::Sub as i32,
                    }),
                    resource_context: None,
                    policy_instance: None,
                })
                .await
                .is_ok(),
            _ => readers
                .check(reader::CheckRequest {
                    object_type: "group".into(),
                    object_id: "admin".into(),
                    relation: "member".into(),
                    subject_type: "user".into(),
                    subject_id: user,
                    trace: false,
                })
                .await
                .is_ok(),
        };
        record(&mut tally, started, ok, warm_until);
    }
    Ok(tally)
}
