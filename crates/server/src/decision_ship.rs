//! Shipping decision records to a central Lictor. The writer appends every record it writes to a
//! bounded file buffer; a task sends the buffer's records in batches over gRPC and forgets them only
//! once the center has acknowledged them. Delivery is at least once (a batch whose answer was lost
//! is sent again; the center skips ids it holds), and what is buffered survives restarts of this
//! instance and outages of the center.

use crate::config::DecisionLogs;
use crate::decision_log::{DecisionLog, RecordKey};
use crate::ServerError;
use lictor_proto::lictor::decisions::v1 as proto;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Records sent in one request at most.
const BATCH_RECORDS: usize = 1_000;

/// Bytes read from the buffer for one batch at most.
const BATCH_BYTES: u64 = 4 << 20;

/// Longest wait between attempts while the center is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The on-disk buffer: `records.jsonl` holds records, `acknowledged` the byte offset up to which
/// the center has them. When everything is acknowledged the file is emptied.
pub struct ShipBuffer {
    dir: PathBuf,
    state: Mutex<BufferState>,
    max_bytes: u64,
    appended: Notify,
}

struct BufferState {
    file: File,
    len: u64,
    acknowledged: u64,
}

impl ShipBuffer {
    /// Opens (or creates) the buffer in `dir`, holding at most `max_bytes` unacknowledged bytes.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<ShipBuffer, ServerError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ServerError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let records = dir.join("records.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&records)
            .map_err(io(&records))?;
        let len = file.metadata().map_err(io(&records))?.len();
        // Past the end only when the buffer was emptied just before a crash: nothing is pending.
        let acknowledged = std::fs::read_to_string(dir.join("acknowledged"))
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|at| *at <= len)
            .unwrap_or(0);
        Ok(ShipBuffer {
            dir: dir.to_path_buf(),
            state: Mutex::new(BufferState {
                file,
                len,
                acknowledged,
            }),
            max_bytes: max_bytes.max(1024),
            appended: Notify::new(),
        })
    }

    /// Appends one line; false when the buffer is full or the write failed (the line is not
    /// shipped).
    pub fn append(&self, line: &[u8]) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = state.len - state.acknowledged;
        if pending + line.len() as u64 > self.max_bytes {
            return false;
        }
        if let Err(error) = state.file.write_all(line) {
            tracing::error!(dir = %self.dir.display(), %error, "shipping buffer write failed");
            return false;
        }
        state.len += line.len() as u64;
        drop(state);
        self.appended.notify_one();
        true
    }

    /// Bytes waiting to be acknowledged.
    pub fn pending_bytes(&self) -> u64 {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.len - state.acknowledged
    }

    /// The oldest unacknowledged lines (whole lines only) and the offset just after them.
    fn batch(&self) -> Result<(Vec<Vec<u8>>, u64), std::io::Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let start = state.acknowledged;
        let want = (state.len - start).min(BATCH_BYTES);
        if want == 0 {
            return Ok((Vec::new(), start));
        }
        let mut bytes = Vec::new();
        state.file.seek(SeekFrom::Start(start))?;
        (&mut state.file).take(want).read_to_end(&mut bytes)?;
        let mut lines = Vec::new();
        let mut end = start;
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            if !line.ends_with(b"\n") || lines.len() >= BATCH_RECORDS {
                break;
            }
            end += line.len() as u64;
            lines.push(line.to_vec());
        }
        Ok((lines, end))
    }

    /// Forgets everything before `end`, emptying the file once nothing is pending.
    fn acknowledge(&self, end: u64) -> Result<(), std::io::Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.acknowledged = end.min(state.len);
        if state.acknowledged == state.len {
            state.file.set_len(0)?;
            state.len = 0;
            state.acknowledged = 0;
        }
        let temporary = self.dir.join("acknowledged.tmp");
        std::fs::write(&temporary, state.acknowledged.to_string())?;
        std::fs::rename(&temporary, self.dir.join("acknowledged"))
    }
}

/// Starts the shipping task when `config` names a center; it ends when `shutdown` turns true.
pub fn spawn(
    config: &DecisionLogs,
    log: &DecisionLog,
    shutdown: &watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let target = config.ship_to.clone()?;
    let buffer = log.shipping()?.clone();
    let shipper = Shipper {
        target,
        api_key: config.ship_api_key.clone(),
        ca_cert: config.ship_ca_cert.clone(),
        buffer,
        log: log.clone(),
    };
    Some(tokio::spawn(shipper.run(shutdown.clone())))
}

struct Shipper {
    target: String,
    api_key: Option<String>,
    ca_cert: Option<PathBuf>,
    buffer: Arc<ShipBuffer>,
    log: DecisionLog,
}

type Client = proto::decision_logs_client::DecisionLogsClient<tonic::transport::Channel>;

impl Shipper {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut client: Option<Client> = None;
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let sent = match self.buffer.batch() {
                Ok((lines, _)) if lines.is_empty() => {
                    tokio::select! {
                        _ = self.buffer.appended.notified() => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
                Ok((lines, end)) => self.send(&mut client, lines, end).await,
                Err(error) => Err(format!("reading the shipping buffer: {error}")),
            };
            match sent {
                Ok(()) => {
                    if failing {
                        tracing::info!(center = %self.target, "shipping decision records again");
                    }
                    failing = false;
                    backoff = Duration::from_millis(100);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(center = %self.target, %error, "cannot ship decision records; they stay buffered");
                    }
                    failing = true;
                    client = None;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn send(
        &self,
        client: &mut Option<Client>,
        lines: Vec<Vec<u8>>,
        end: u64,
    ) -> Result<(), String> {
        let records = lines
            .into_iter()
            .filter_map(|mut line| {
                // A line that is not a record cannot be shipped; it is skipped, not retried forever.
                let key = RecordKey::of(&line).filter(|k| !k.id.is_empty())?;
                line.pop();
                Some(proto::DecisionRecord {
                    id: key.id,
                    instance: key.instance,
                    json: String::from_utf8(line).ok()?,
                })
            })
            .collect::<Vec<_>>();
        let count = records.len() as u64;
        let mut connected = match client.take() {
            Some(connected) => connected,
            None => connect(&self.target, self.ca_cert.as_deref()).await?,
        };
        let mut request = tonic::Request::new(proto::ShipRequest { records });
        if let Some(key) = &self.api_key {
            let value = format!("basic {key}")
                .parse()
                .map_err(|_| "ship_api_key is not a valid header value".to_string())?;
            request.metadata_mut().insert("authorization", value);
        }
        connected
            .ship(request)
            .await
            .map_err(|status| format!("{}: {}", status.code(), status.message()))?;
        *client = Some(connected);
        self.buffer
            .acknowledge(end)
            .map_err(|e| format!("recording acknowledged records: {e}"))?;
        self.log.stats().shipped.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}

/// Connects to a center's API port.
pub async fn connect(target: &str, ca_cert: Option<&Path>) -> Result<Client, String> {
    let channel = crate::grpc_client::channel(target, ca_cert).await?;
    Ok(proto::decision_logs_client::DecisionLogsClient::new(
        channel,
    ))
}
