//! Generic HTTP/JSON load: the same generator drives Lictor and every peer, so their figures compare.

use crate::{percentile, HttpArgs, TargetArgs};
use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where requests go.
struct Target {
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Target {
    fn from(args: &TargetArgs) -> Result<Target> {
        let rest = args
            .url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("--url {}: only http:// URLs are supported", args.url))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let headers = args
            .headers
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| anyhow!("--header wants 'Name: value', not {h:?}"))
            })
            .collect::<Result<_>>()?;
        Ok(Target {
            authority: authority.to_string(),
            path: path.to_string(),
            headers,
        })
    }
}

fn read_bodies(args: &TargetArgs) -> Result<Vec<Bytes>> {
    let file = &args.bodies;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let bodies: Vec<Bytes> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Bytes::from(l.to_string()))
        .collect();
    if bodies.is_empty() {
        bail!("{} has no request bodies", file.display());
    }
    Ok(bodies)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(target: &Target) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .with_context(|| format!("connecting to {}", target.authority))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One POST: the status and the whole answer.
async fn post(sender: &mut Sender, target: &Target, body: Bytes) -> Result<(u16, Bytes)> {
    let mut builder = hyper::Request::post(target.path.as_str())
        .header("host", target.authority.as_str())
        .header("content-type", "application/json");
    for (name, value) in &target.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    sender.ready().await?;
    let response = sender.send_request(builder.body(Full::new(body))?).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// utime + stime of a process, in seconds (Linux, USER_HZ = 100).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) start after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// What one worker saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

/// Load at a fixed concurrency; prints one JSON line with the figures.
pub async fn load(args: HttpArgs) -> Result<()> {
    let target = Arc::new(Target::from(&args.target)?);
    let bodies = Arc::new(read_bodies(&args.target)?);
    let shape = &args.shape;
    let concurrency = shape.concurrency.max(1);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (target, bodies) = (target.clone(), bodies.clone());
        let (measuring, stop) = (measuring.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut sender = connect(&target).await?;
            let mut line = worker % bodies.len();
            while !stop.load(Ordering::Relaxed) {
                let body = bodies.get(line).cloned().unwrap_or_default();
                line = (line + concurrency) % bodies.len();
                let started = Instant::now();
                let result = post(&mut sender, &target, body).await;
                let elapsed = started.elapsed();
                let ok = matches!(&result, Ok((200, _)));
                if !ok && seen.first_error.is_none() {
                    seen.first_error = Some(match &result {
                        Ok((status, body)) => {
                            format!("status {status}: {}", String::from_utf8_lossy(body))
                        }
                        Err(error) => error.to_string(),
                    });
                }
                if result.is_err() {
                    // The connection may be gone: open another.
                    sender = connect(&target).await?;
                }
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    if ok {
                        seen.latencies_us
                            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                    } else {
                        seen.errors += 1;
                    }
                }
            }
            Ok::<_, anyhow::Error>(seen)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(shape.warmup)).await;
    let cpu_before = args.pid.and_then(cpu_seconds);
    let started = Instant::now();
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(shape.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = args.pid.and_then(cpu_seconds);
    let mut all = Seen::default();
    for worker in workers {
        let seen = worker.await??;
        all.latencies_us.extend(seen.latencies_us);
        all.errors += seen.errors;
        all.first_error = all.first_error.or(seen.first_error);
    }
    all.latencies_us.sort_unstable();
    let requests = all.latencies_us.len() as f64;
    let decisions = requests * f64::from(args.decisions);
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| after - before);
    let report = serde_json::json!({
        "label": shape.label,
        "requests": all.latencies_us.len(),
        "errors": all.errors,
        "first_error": all.first_error,
        "seconds": elapsed,
        "rps": requests / elapsed,
        "decisions_per_s": decisions / elapsed,
        "p50_us": percentile(&all.latencies_us, 0.50),
        "p99_us": percentile(&all.latencies_us, 0.99),
        "server_cpu_s": cpu,
        "cpu_s_per_1k_decisions": cpu.filter(|_| decisions > 0.0).map(|c| c / decisions * 1000.0),
        "concurrency": concurrency,
    });
    println!("{report}");
    Ok(())
}

/// Sends every body once, in order, and prints each answer (or `{"__error": ...}`) on its own line.
pub async fn answers(args: TargetArgs) -> Result<()> {
    let target = Target::from(&args)?;
    let bodies = read_bodies(&args)?;
    let mut sender = connect(&target).await?;
    let mut out = String::new();
    for body in bodies {
        let line = match post(&mut sender, &target, body).await {
            Ok((200, bytes)) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(value) => value.to_string(),
                Err(e) => serde_json::json!({ "__error": format!("not JSON: {e}") }).to_string(),
            },
            Ok((status, bytes)) => serde_json::json!({
                "__error": format!("status {status}: {}", String::from_utf8_lossy(&bytes))
            })
            .to_string(),
            Err(error) => {
                sender = connect(&target).await?;
                serde_json::json!({ "__error": error.to_string() }).to_string()
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}
