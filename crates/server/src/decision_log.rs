//! The audit trail: every decision as one JSON line, written off the request path through a bounded
//! queue to a size-rotated file and/or standard output, with the most recent kept for queries.

use crate::config::{DecisionLogs, WhenFull};
use crate::ServerError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// One logged decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionRecord {
    /// When it was decided (RFC 3339, UTC); left empty by producers, filled from `time_us` by the writer.
    pub time: String,
    /// Unix time in microseconds, for range queries.
    pub time_us: u64,
    /// The tenant; empty for the default tenant.
    pub tenant: String,
    /// The request id (from `x-request-id` or generated).
    pub request_id: String,
    /// `is`, `decisiontree`, `check`, `checks`, `evaluation`.
    pub kind: String,
    /// The identity as presented; a JWT is reduced to its issuer and subject.
    pub identity: IdentityRecord,
    /// The directory user the identity resolved to, if any.
    pub user: Option<String>,
    /// The policy path (authorizer) or `object_type#relation` (directory check).
    pub path: String,
    /// The resource context or checked object, after masking.
    pub resource: Value,
    /// Each decision and its outcome.
    pub decisions: Vec<DecisionOutcome>,
    /// The policy set's revision.
    pub policy_revision: String,
    /// The directory revision the decision read.
    pub directory_revision: u64,
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
}

/// The identity part of a record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdentityRecord {
    /// `IDENTITY_TYPE_SUB`, `IDENTITY_TYPE_JWT`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The identity value; for a JWT, `issuer|subject`, never the token.
    pub value: String,
}

/// One decision's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionOutcome {
    /// `allowed`, `visible`, a permission name, …
    pub decision: String,
    /// The answer.
    pub is: bool,
}

/// A query over recent decisions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DecisionQuery {
    /// Only this resolved user (or identity value).
    pub user: Option<String>,
    /// Only this policy path or permission.
    pub path: Option<String>,
    /// Only decisions with this outcome (any decision of the record).
    pub outcome: Option<bool>,
    /// Only from this time (RFC 3339 or unix microseconds).
    pub since: Option<String>,
    /// Only until this time.
    pub until: Option<String>,
    /// Only this tenant.
    pub tenant: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<usize>,
}

/// Counters of the log's queue.
#[derive(Debug, Default)]
pub struct DecisionLogStats {
    /// Records accepted into the queue.
    pub queued: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Records written.
    pub written: AtomicU64,
}

/// The sending side of the decision log; cheap to clone.
#[derive(Clone)]
pub struct DecisionLog {
    sender: Option<mpsc::Sender<DecisionRecord>>,
    when_full: WhenFull,
    recent: Arc<Mutex<VecDeque<DecisionRecord>>>,
    stats: Arc<DecisionLogStats>,
    capacity: usize,
}

impl DecisionLog {
    /// Starts the writer thread for `config`; a disabled log accepts records and drops them silently.
    pub fn start(config: &DecisionLogs) -> Result<DecisionLog, ServerError> {
        let recent = Arc::new(Mutex::new(VecDeque::with_capacity(config.recent.min(1024))));
        let stats = Arc::new(DecisionLogStats::default());
        if !config.enabled {
            return Ok(DecisionLog {
                sender: None,
                when_full: config.when_full,
                recent,
                stats,
                capacity: 0,
            });
        }
        let file = match &config.file {
            Some(path) => Some(RotatingFile::open(
                path,
                config.max_file_bytes,
                config.max_files,
            )?),
            None => None,
        };
        let capacity = config.queue_capacity.max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let writer = Writer {
            file,
            stdout: config.stdout,
            mask: config
                .mask
                .iter()
                .map(|m| m.split('.').map(String::from).collect())
                .collect(),
            recent: recent.clone(),
            keep: config.recent,
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| ServerError::Io {
                path: PathBuf::from("decision-log thread"),
                source,
            })?;
        Ok(DecisionLog {
            sender: Some(sender),
            when_full: config.when_full,
            recent,
            stats,
            capacity,
        })
    }

    /// Queues a record; in `drop` mode never waits, in `block` mode waits for room.
    pub async fn log(&self, record: DecisionRecord) {
        let Some(sender) = &self.sender else {
            return;
        };
        match self.when_full {
            WhenFull::Drop => match sender.try_send(record) {
                Ok(()) => {
                    self.stats.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            },
            WhenFull::Block => {
                if sender.send(record).await.is_ok() {
                    self.stats.queued.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether records are kept at all.
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Records waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.sender
            .as_ref()
            .map_or(0, |s| self.capacity.saturating_sub(s.capacity()))
    }

    /// The queue's counters.
    pub fn stats(&self) -> &DecisionLogStats {
        &self.stats
    }

    /// Recent records matching the query, newest first.
    pub fn query(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>, String> {
        let since = query.since.as_deref().map(parse_time).transpose()?;
        let until = query.until.as_deref().map(parse_time).transpose()?;
        let limit = query.limit.unwrap_or(100);
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(recent
            .iter()
            .rev()
            .filter(|r| {
                query
                    .user
                    .as_ref()
                    .is_none_or(|u| r.user.as_ref() == Some(u) || &r.identity.value == u)
                    && query.path.as_ref().is_none_or(|p| &r.path == p)
                    && query
                        .outcome
                        .is_none_or(|o| r.decisions.iter().any(|d| d.is == o))
                    && query.tenant.as_ref().is_none_or(|t| &r.tenant == t)
                    && since.is_none_or(|s| r.time_us >= s)
                    && until.is_none_or(|u| r.time_us <= u)
            })
            .take(limit)
            .cloned()
            .collect())
    }
}

/// Unix microseconds, or an RFC 3339 UTC time (`2026-11-22T10:00:00Z`, fractions allowed).
fn parse_time(text: &str) -> Result<u64, String> {
    if let Ok(us) = text.parse::<u64>() {
        return Ok(us);
    }
    crate::clock::parse_rfc3339(text)
        .ok_or_else(|| format!("time {text:?} is neither RFC 3339 (UTC) nor unix microseconds"))
}

/// How long the writer waits between batches while records keep coming.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

struct Writer {
    file: Option<RotatingFile>,
    stdout: bool,
    mask: Vec<Vec<String>>,
    recent: Arc<Mutex<VecDeque<DecisionRecord>>>,
    keep: usize,
    stats: Arc<DecisionLogStats>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<DecisionRecord>) {
        use mpsc::error::TryRecvError;
        let mut line = Vec::with_capacity(1024);
        // Blocks only when idle. While records keep coming it drains them in batches with a short
        // pause between, so a sender rarely finds the writer asleep and has to wake it.
        while let Some(first) = receiver.blocking_recv() {
            let mut next = Some(first);
            loop {
                while let Some(record) = next.take() {
                    self.handle(record, &mut line);
                    next = receiver.try_recv().ok();
                }
                self.flush();
                std::thread::sleep(BATCH_PAUSE);
                match receiver.try_recv() {
                    Ok(record) => next = Some(record),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        }
        self.flush();
    }

    /// Masks, writes and remembers one record.
    fn handle(&mut self, mut record: DecisionRecord, line: &mut Vec<u8>) {
        if record.time.is_empty() {
            record.time = crate::clock::rfc3339(record.time_us);
        }
        for path in &self.mask {
            mask(&mut record, path);
        }
        line.clear();
        if serde_json::to_writer(&mut *line, &record).is_ok() {
            line.push(b'\n');
            self.write(line);
        }
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        self.remember(record);
    }

    /// Makes what was written visible.
    fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            file.flush();
        }
    }

    fn write(&mut self, line: &[u8]) {
        if let Some(file) = &mut self.file {
            file.write(line);
        }
        if self.stdout {
            let mut out = std::io::stdout().lock();
            if out.write_all(line).is_err() {
                tracing::warn!("decision log: standard output is closed");
            }
        }
    }

    fn remember(&self, record: DecisionRecord) {
        if self.keep == 0 {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() >= self.keep {
            recent.pop_front();
        }
        recent.push_back(record);
    }
}

/// Replaces the value at a dotted path (`resource.ssn`) of the record by `"***"`.
fn mask(record: &mut DecisionRecord, path: &[String]) {
    let Some((root, rest)) = path.split_first() else {
        return;
    };
    if root != "resource" {
        return;
    }
    let mut value = &mut record.resource;
    let Some((last, parents)) = rest.split_last() else {
        return;
    };
    for key in parents {
        match value.get_mut(key.as_str()) {
            Some(next) => value = next,
            None => return,
        }
    }
    if let Some(slot) = value.as_object_mut().and_then(|o| o.get_mut(last.as_str())) {
        *slot = Value::String("***".into());
    }
}

/// A JSON Lines file that is renamed to `NAME.1` (and older ones shifted) when it grows past a size.
struct RotatingFile {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    max_bytes: u64,
    keep: usize,
}

impl RotatingFile {
    fn open(path: &Path, max_bytes: u64, keep: usize) -> Result<RotatingFile, ServerError> {
        let io = |source| ServerError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            size,
            max_bytes: max_bytes.max(1024),
            keep,
        })
    }

    fn write(&mut self, line: &[u8]) {
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate();
        }
        match self.out.write_all(line) {
            Ok(()) => self.size += line.len() as u64,
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "decision log write failed")
            }
        }
    }

    fn flush(&mut self) {
        if let Err(error) = self.out.flush() {
            tracing::error!(path = %self.path.display(), %error, "decision log flush failed");
        }
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) {
        self.flush();
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(self.rotated(self.keep));
            for n in (1..self.keep).rev() {
                let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
            }
            let _ = std::fs::rename(&self.path, self.rotated(1));
        }
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(file) => {
                self.out = BufWriter::new(file);
                self.size = 0;
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "decision log rotation failed")
            }
        }
    }
}
