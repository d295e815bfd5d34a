//! The audit trail: every decision as one JSON line, written off the request path through a bounded
//! queue to a size-rotated file and/or standard output, with the most recent kept for queries and
//! followers. Every record carries the instance that made it and an id unique across instances, so
//! records shipped to a central Lictor (see [`crate::decision_ship`]) are stored there once.

use crate::config::{DecisionLogs, WhenFull};
use crate::ServerError;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// One logged decision, as the query endpoint returns it (read back from its JSON line).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecisionRecord {
    /// The record's id, unique across instances.
    #[serde(default)]
    pub id: String,
    /// The instance that made the decision.
    #[serde(default)]
    pub instance: String,
    /// When it was decided (RFC 3339, UTC).
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
    /// The OPA bundle revision of the policies, when they came from a bundle or image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_revision: Option<String>,
    /// The policy image the policies came from (`registry/repository:tag@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_image: Option<String>,
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

/// A decision as the request path hands it to the log. It borrows from the request and is encoded
/// into its JSON line at once, so logging costs one allocation per decision and the writer thread
/// only writes bytes.
pub struct DecisionEntry<'a> {
    /// The tenant; empty for the default tenant.
    pub tenant: &'a str,
    /// The request id.
    pub request_id: &'a str,
    /// `is`, `decisiontree`, `check`, `checks`, `evaluation`.
    pub kind: &'a str,
    /// The identity's type.
    pub identity_type: &'a str,
    /// The identity's value; for a JWT, `issuer|subject`, never the token.
    pub identity: Text<'a>,
    /// The directory user the identity resolved to, if any.
    pub user: Option<Text<'a>>,
    /// The policy path or `object_type#relation`.
    pub path: Text<'a>,
    /// The resource context or checked object, masked when written.
    pub resource: Resource<'a>,
    /// Each decision and its outcome.
    pub decisions: Outcomes<'a>,
    /// The policy set's revision.
    pub policy_revision: &'a str,
    /// Where the policy set came from (bundle revision, policy image), when a policy decided.
    pub provenance: Option<&'a lictor_policy::Provenance>,
    /// The directory revision the decision read.
    pub directory_revision: u64,
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
}

/// A string field of an entry: borrowed whole, or the concatenation of borrowed parts
/// (`user:rick#member`), written without building the string.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// One string.
    Str(&'a str),
    /// These parts, one after another.
    Concat(&'a [&'a str]),
}

/// What a decision was about.
#[derive(Clone, Copy)]
pub enum Resource<'a> {
    /// The resource context an authorizer call passed.
    Context(&'a Value),
    /// The object of a directory check.
    Object {
        /// The object's type.
        object_type: &'a str,
        /// The object's id.
        object_id: &'a str,
        /// The checked relation or permission.
        relation: &'a str,
    },
}

/// The decisions of an entry.
#[derive(Clone, Copy)]
pub enum Outcomes<'a> {
    /// One named decision.
    One(&'a str, bool),
    /// Several, as the policy answered them.
    Many(&'a [(String, bool)]),
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
    /// Only decisions made by this instance.
    pub instance: Option<String>,
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
    /// Records received from other instances and stored.
    pub received: AtomicU64,
    /// Records received again (resent after a lost answer) and skipped.
    pub duplicates: AtomicU64,
    /// Records acknowledged by the center this instance ships to.
    pub shipped: AtomicU64,
    /// Records not shipped because the shipping buffer was full.
    pub ship_dropped: AtomicU64,
    /// Records inserted into the PostgreSQL decision table.
    pub table_written: AtomicU64,
    /// Records left out of the decision table because its queue was full.
    pub table_dropped: AtomicU64,
}

/// A line on its way to the writer, with whom to tell once it is written and flushed.
struct Item {
    line: Vec<u8>,
    /// Set for records received from another instance: the sender is answered only once they are
    /// in the file, and they are not shipped on.
    written: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A written line as followers receive it.
pub type SharedLine = Arc<[u8]>;

/// Written lines kept for queries, and the channel that announces each new one.
struct Recent {
    lines: VecDeque<SharedLine>,
    announce: tokio::sync::broadcast::Sender<SharedLine>,
}

/// Ids of records held, so that one received again is skipped; the oldest are forgotten first.
struct Seen {
    ids: std::collections::HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    keep: usize,
}

impl Seen {
    /// Remembers `id`; false when it was already known.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        let id: Arc<str> = Arc::from(id);
        if self.order.len() >= self.keep {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.ids.insert(id.clone());
        self.order.push_back(id);
        true
    }

    fn forget(&mut self, id: &str) {
        self.ids.remove(id);
        self.order.retain(|known| &**known != id);
    }
}

/// Record ids of one process: a random prefix drawn at start and a sequence number, so ids never
/// repeat across instances or restarts and sort in the order the process made them.
struct RecordIds {
    prefix: String,
    next: AtomicU64,
}

impl RecordIds {
    fn new() -> RecordIds {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(crate::clock::unix_micros());
        hasher.write_u32(std::process::id());
        RecordIds {
            prefix: format!("{:016x}", hasher.finish()),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:010}", self.prefix)
    }
}

/// The id and instance of a line, read without decoding the rest.
#[derive(Deserialize)]
pub struct RecordKey {
    /// The record id.
    #[serde(default)]
    pub id: String,
    /// The instance that made it.
    #[serde(default)]
    pub instance: String,
}

impl RecordKey {
    /// The key of a JSON line, if it is one.
    pub fn of(line: &[u8]) -> Option<RecordKey> {
        serde_json::from_slice(line).ok()
    }
}

/// The sending side of the decision log; cheap to clone.
#[derive(Clone)]
pub struct DecisionLog {
    sender: Option<mpsc::Sender<Item>>,
    when_full: WhenFull,
    masks: Arc<[Mask]>,
    recent: Arc<Mutex<Recent>>,
    seen: Arc<Mutex<Seen>>,
    stats: Arc<DecisionLogStats>,
    capacity: usize,
    instance: Arc<str>,
    ids: Arc<RecordIds>,
    shipping: Option<Arc<crate::decision_ship::ShipBuffer>>,
    /// The PostgreSQL table records also go to, which queries then read.
    table: Option<Arc<crate::decision_table::DecisionTable>>,
}

/// A configured mask (`resource.ssn`) as the path under `resource`; other roots never match.
type Mask = Vec<String>;

/// Room reserved for one line; a typical check line is about 400 bytes.
const LINE_CAPACITY: usize = 512;

/// Ids remembered for skipping resent records.
const SEEN_IDS: usize = 1_000_000;

/// Room for announcements a slow follower has not read yet before it must resume by id.
const ANNOUNCE_CAPACITY: usize = 16_384;

impl DecisionLog {
    /// Starts the writer thread for `config`, logging as `instance`; a shipping buffer (when
    /// `ship_to` is set) lives under `data_dir`. A disabled log accepts records and drops them
    /// silently. When a file is configured, its newest records are read back for queries.
    pub fn start(
        config: &DecisionLogs,
        instance: &str,
        data_dir: &Path,
    ) -> Result<DecisionLog, ServerError> {
        let (announce, _) = tokio::sync::broadcast::channel(ANNOUNCE_CAPACITY);
        let recent = Arc::new(Mutex::new(Recent {
            lines: VecDeque::with_capacity(config.recent.min(1024)),
            announce,
        }));
        let seen = Arc::new(Mutex::new(Seen {
            ids: std::collections::HashSet::new(),
            order: VecDeque::new(),
            keep: SEEN_IDS,
        }));
        let stats = Arc::new(DecisionLogStats::default());
        let masks: Arc<[Mask]> = config
            .mask
            .iter()
            .filter_map(|m| m.strip_prefix("resource."))
            .map(|m| m.split('.').map(String::from).collect())
            .collect();
        let mut log = DecisionLog {
            sender: None,
            when_full: config.when_full,
            masks,
            recent,
            seen,
            stats,
            capacity: 0,
            instance: Arc::from(instance),
            ids: Arc::new(RecordIds::new()),
            shipping: None,
            table: None,
        };
        if !config.enabled {
            return Ok(log);
        }
        if let Some(url) = &config.postgres {
            log.table = Some(crate::decision_table::DecisionTable::start(
                url,
                log.stats.clone(),
            )?);
        }
        let file = match &config.file {
            Some(path) => {
                log.read_back(path, config.recent)?;
                Some(RotatingFile::open(
                    path,
                    config.max_file_bytes,
                    config.max_files,
                )?)
            }
            None => None,
        };
        if config.ship_to.is_some() {
            let dir = data_dir.join("decision-ship");
            log.shipping = Some(Arc::new(crate::decision_ship::ShipBuffer::open(
                &dir,
                config.ship_buffer_bytes,
            )?));
        }
        let capacity = config.queue_capacity.max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let writer = Writer {
            file,
            stdout: config.stdout,
            recent: log.recent.clone(),
            keep: config.recent,
            stats: log.stats.clone(),
            shipping: log.shipping.clone(),
            table: log.table.clone(),
            written: Vec::new(),
        };
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| ServerError::Io {
                path: PathBuf::from("decision-log thread"),
                source,
            })?;
        log.sender = Some(sender);
        log.capacity = capacity;
        Ok(log)
    }

    /// Reads the newest `keep` records of an existing log file back into memory, and every id in
    /// it, so a restarted center answers queries as before and still skips resent records.
    fn read_back(&self, path: &Path, keep: usize) -> Result<(), ServerError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(ServerError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for line in text.split_inclusive(|b| *b == b'\n') {
            if let Some(key) = RecordKey::of(line).filter(|k| !k.id.is_empty()) {
                seen.insert(&key.id);
            }
            if keep > 0 && line.ends_with(b"\n") {
                if recent.lines.len() >= keep {
                    recent.lines.pop_front();
                }
                recent.lines.push_back(Arc::from(line));
            }
        }
        Ok(())
    }

    /// The instance this log records decisions as.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The shipping buffer, when records are shipped to a center.
    pub fn shipping(&self) -> Option<&Arc<crate::decision_ship::ShipBuffer>> {
        self.shipping.as_ref()
    }

    /// Stores records (id, JSON line) received from another instance, skipping ids already held;
    /// answers how many were new and how many repeated, once the new ones are written. Waits for
    /// room rather than dropping them.
    pub async fn receive(&self, records: Vec<(String, Vec<u8>)>) -> Result<(u32, u32), String> {
        let Some(sender) = &self.sender else {
            return Err("this instance keeps no decision log".into());
        };
        let mut pending = Vec::with_capacity(records.len());
        let mut duplicates = 0;
        for (id, mut line) in records {
            let new = self
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(&id);
            if !new {
                duplicates += 1;
                continue;
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            let (done, written) = tokio::sync::oneshot::channel();
            let queued = sender
                .send(Item {
                    line,
                    written: Some(done),
                })
                .await
                .is_ok();
            pending.push((id, queued.then_some(written)));
        }
        // Every record is queued before any is awaited, so a batch costs one flush, not one each.
        let mut failed = false;
        let mut accepted = 0;
        for (id, written) in pending {
            let stored = match written {
                Some(written) => written.await.is_ok(),
                None => false,
            };
            if stored {
                accepted += 1;
            } else {
                failed = true;
                self.seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .forget(&id);
            }
        }
        self.stats
            .duplicates
            .fetch_add(u64::from(duplicates), Ordering::Relaxed);
        self.stats
            .received
            .fetch_add(u64::from(accepted), Ordering::Relaxed);
        if failed {
            return Err("the decision log writer has stopped".into());
        }
        Ok((accepted, duplicates))
    }

    /// The kept lines after the record `from_id` (all kept ones when it is empty or no longer
    /// kept), and a receiver of every line written after them.
    pub fn follow(
        &self,
        from_id: &str,
    ) -> (
        Vec<SharedLine>,
        tokio::sync::broadcast::Receiver<SharedLine>,
    ) {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = recent.announce.subscribe();
        let start = if from_id.is_empty() {
            0
        } else {
            recent
                .lines
                .iter()
                .rposition(|line| RecordKey::of(line).is_some_and(|k| k.id == from_id))
                .map_or(0, |at| at + 1)
        };
        (recent.lines.iter().skip(start).cloned().collect(), receiver)
    }

    /// Encodes and queues a decision; in `drop` mode never waits, in `block` mode waits for room.
    pub async fn log(&self, entry: &DecisionEntry<'_>) {
        let Some(sender) = &self.sender else {
            return;
        };
        let id = self.ids.next();
        let origin = Origin {
            id: &id,
            instance: &self.instance,
        };
        let Ok(bytes) = encode(entry, origin, crate::clock::unix_micros(), &self.masks) else {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let queued = match self.when_full {
            WhenFull::Drop => sender
                .try_send(Item {
                    line: bytes,
                    written: None,
                })
                .is_ok(),
            WhenFull::Block => sender
                .send(Item {
                    line: bytes,
                    written: None,
                })
                .await
                .is_ok(),
        };
        let counter = if queued {
            &self.stats.queued
        } else {
            &self.stats.dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
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

    /// Records matching the query, newest first: from the PostgreSQL table (every instance writing
    /// to it) when there is one, else from this instance's recent records.
    pub async fn query(
        &self,
        query: &DecisionQuery,
    ) -> Result<Vec<DecisionRecord>, crate::decision_table::QueryError> {
        match &self.table {
            Some(table) => table.query(query).await,
            None => self
                .query_recent(query)
                .map_err(crate::decision_table::QueryError::Invalid),
        }
    }

    /// Recent records matching the query, newest first.
    fn query_recent(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>, String> {
        let since = query.since.as_deref().map(parse_time).transpose()?;
        let until = query.until.as_deref().map(parse_time).transpose()?;
        let limit = query.limit.unwrap_or(100);
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        // Lines are read back only here: queries are rare, decisions are not.
        Ok(recent
            .lines
            .iter()
            .rev()
            .filter_map(|line| serde_json::from_slice::<DecisionRecord>(line).ok())
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
                    && query.instance.as_ref().is_none_or(|i| &r.instance == i)
                    && since.is_none_or(|s| r.time_us >= s)
                    && until.is_none_or(|u| r.time_us <= u)
            })
            .take(limit)
            .collect())
    }
}

/// Unix microseconds, or an RFC 3339 UTC time (`2026-11-22T10:00:00Z`, fractions allowed).
pub(crate) fn parse_time(text: &str) -> Result<u64, String> {
    if let Ok(us) = text.parse::<u64>() {
        return Ok(us);
    }
    crate::clock::parse_rfc3339(text)
        .ok_or_else(|| format!("time {text:?} is neither RFC 3339 (UTC) nor unix microseconds"))
}

/// The JSON line of an entry decided at `time_us`, masks applied, newline included.
fn encode(
    entry: &DecisionEntry<'_>,
    origin: Origin<'_>,
    time_us: u64,
    masks: &[Mask],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::with_capacity(LINE_CAPACITY);
    serde_json::to_writer(
        &mut bytes,
        &Line {
            entry,
            origin,
            time_us,
            masks,
        },
    )?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Where a record comes from: its id and the instance that made it.
#[derive(Clone, Copy)]
struct Origin<'a> {
    id: &'a str,
    instance: &'a str,
}

/// An entry with its time and the masks to apply: what one JSON line holds, in the field order of
/// [`DecisionRecord`].
struct Line<'e, 'a> {
    entry: &'e DecisionEntry<'a>,
    origin: Origin<'e>,
    time_us: u64,
    masks: &'e [Mask],
}

impl Serialize for Line<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.entry;
        let mut s = serializer.serialize_struct("DecisionRecord", 15)?;
        s.serialize_field("id", self.origin.id)?;
        s.serialize_field("instance", self.origin.instance)?;
        s.serialize_field("time", &Rfc3339(self.time_us))?;
        s.serialize_field("time_us", &self.time_us)?;
        s.serialize_field("tenant", e.tenant)?;
        s.serialize_field("request_id", e.request_id)?;
        s.serialize_field("kind", e.kind)?;
        s.serialize_field(
            "identity",
            &IdentityLine {
                kind: e.identity_type,
                value: e.identity,
            },
        )?;
        s.serialize_field("user", &e.user)?;
        s.serialize_field("path", &e.path)?;
        s.serialize_field(
            "resource",
            &MaskedResource {
                resource: e.resource,
                masks: self.masks,
            },
        )?;
        s.serialize_field("decisions", &e.decisions)?;
        s.serialize_field("policy_revision", e.policy_revision)?;
        if let Some(provenance) = e.provenance {
            if let Some(revision) = &provenance.bundle_revision {
                s.serialize_field("bundle_revision", revision)?;
            }
            if let Some(image) = &provenance.image {
                s.serialize_field("policy_image", image)?;
            }
        }
        s.serialize_field("directory_revision", &e.directory_revision)?;
        s.serialize_field("latency_us", &e.latency_us)?;
        s.end()
    }
}

/// A time written as RFC 3339 straight into the line.
struct Rfc3339(u64);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&crate::clock::rfc3339(self.0))
    }
}

#[derive(Serialize)]
struct IdentityLine<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    value: Text<'a>,
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Text::Str(text) => serializer.serialize_str(text),
            Text::Concat(parts) => serializer.collect_str(&Concat(parts)),
        }
    }
}

struct Concat<'a>(&'a [&'a str]);

impl std::fmt::Display for Concat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|part| f.write_str(part))
    }
}

impl Serialize for Outcomes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Outcome<'a> {
            decision: &'a str,
            is: bool,
        }
        match *self {
            Outcomes::One(decision, is) => serializer.collect_seq([Outcome { decision, is }]),
            Outcomes::Many(all) => serializer.collect_seq(
                all.iter()
                    .map(|(decision, is)| Outcome { decision, is: *is }),
            ),
        }
    }
}

/// A resource with the configured masks applied as it is written.
struct MaskedResource<'a> {
    resource: Resource<'a>,
    masks: &'a [Mask],
}

impl Serialize for MaskedResource<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.resource {
            Resource::Context(value) => {
                if self.masks.iter().any(|m| masked_slot(value, m).is_some()) {
                    let mut value = value.clone();
                    for path in self.masks {
                        mask(&mut value, path);
                    }
                    value.serialize(serializer)
                } else {
                    value.serialize(serializer)
                }
            }
            Resource::Object {
                object_type,
                object_id,
                relation,
            } => {
                let masked = |name: &str| {
                    self.masks
                        .iter()
                        .any(|m| matches!(m.as_slice(), [only] if only == name))
                };
                let shown = |name: &str, value| if masked(name) { MASKED } else { value };
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("object_id", shown("object_id", object_id))?;
                map.serialize_entry("object_type", shown("object_type", object_type))?;
                map.serialize_entry("relation", shown("relation", relation))?;
                map.end()
            }
        }
    }
}

/// What a masked field is replaced by.
const MASKED: &str = "***";

/// The value at `path` inside `value`, if there is one to mask.
fn masked_slot<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(key))
}

/// Replaces the value at `path` (under the resource) by [`MASKED`].
fn mask(value: &mut Value, path: &[String]) {
    let slot = path
        .iter()
        .try_fold(value, |v, key| v.as_object_mut()?.get_mut(key));
    if let Some(slot) = slot {
        *slot = Value::String(MASKED.into());
    }
}

/// How long the writer waits between batches while records keep coming.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

struct Writer {
    file: Option<RotatingFile>,
    stdout: bool,
    recent: Arc<Mutex<Recent>>,
    keep: usize,
    stats: Arc<DecisionLogStats>,
    shipping: Option<Arc<crate::decision_ship::ShipBuffer>>,
    table: Option<Arc<crate::decision_table::DecisionTable>>,
    /// Senders of received records waiting for the next flush.
    written: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Item>) {
        use mpsc::error::TryRecvError;
        // Blocks only when idle. While records keep coming it drains them in batches with a short
        // pause between, so a sender rarely finds the writer asleep and has to wake it.
        while let Some(first) = receiver.blocking_recv() {
            let mut next = Some(first);
            loop {
                while let Some(item) = next.take() {
                    self.handle(item);
                    next = receiver.try_recv().ok();
                }
                self.flush();
                std::thread::sleep(BATCH_PAUSE);
                match receiver.try_recv() {
                    Ok(item) => next = Some(item),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        }
        self.flush();
    }

    /// Writes, ships and remembers one line.
    fn handle(&mut self, item: Item) {
        self.write(&item.line);
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        match item.written {
            Some(done) => self.written.push(done),
            None => {
                if let Some(shipping) = &self.shipping {
                    if !shipping.append(&item.line) {
                        self.stats.ship_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        let line: SharedLine = Arc::from(item.line);
        if let Some(table) = &self.table {
            table.append(line.clone());
        }
        self.remember(line);
    }

    /// Makes what was written visible, then answers the senders of received records.
    fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            file.flush();
        }
        for done in self.written.drain(..) {
            let _ = done.send(());
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

    /// Keeps the line for queries and announces it to followers, under one lock so a follower
    /// that subscribes misses none and sees none twice.
    fn remember(&self, line: SharedLine) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if self.keep > 0 {
            if recent.lines.len() >= self.keep {
                recent.lines.pop_front();
            }
            recent.lines.push_back(line.clone());
        }
        // No follower is not an error.
        let _ = recent.announce.send(line);
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORIGIN: Origin<'static> = Origin {
        id: "id-1",
        instance: "test",
    };

    #[test]
    fn record_ids_are_unique_and_ordered_within_a_process_and_differ_across() {
        let (one, two) = (RecordIds::new(), RecordIds::new());
        let ids: Vec<String> = (0..3).map(|_| one.next()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(one.prefix, two.prefix);
    }

    #[test]
    fn seen_ids_skip_repeats_and_forget_the_oldest_beyond_the_bound() {
        let mut seen = Seen {
            ids: Default::default(),
            order: VecDeque::new(),
            keep: 2,
        };
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c"));
        assert!(seen.insert("a"), "the oldest id was forgotten");
        seen.forget("c");
        assert!(seen.insert("c"));
    }

    fn masks(paths: &[&str]) -> Vec<Mask> {
        paths
            .iter()
            .map(|p| p.split('.').map(String::from).collect())
            .collect()
    }

    #[test]
    fn a_check_line_reads_back_as_its_record() {
        let subject = ["user", ":", "rick@the-citadel.com", "#", "member"];
        let path = ["group", "#", "admin"];
        let entry = DecisionEntry {
            tenant: "acme",
            request_id: "r-1",
            kind: "check",
            identity_type: "SUBJECT",
            identity: Text::Concat(&subject),
            user: Some(Text::Concat(&subject)),
            path: Text::Concat(&path),
            resource: Resource::Object {
                object_type: "group",
                object_id: "admins \"quoted\"",
                relation: "member",
            },
            decisions: Outcomes::One("member", true),
            policy_revision: "",
            provenance: None,
            directory_revision: 7,
            latency_us: 12,
        };
        let origin = Origin {
            id: "0123456789abcdef-0000000001",
            instance: "edge-1",
        };
        let line = encode(
            &entry,
            origin,
            1_795_636_948_772_040,
            &masks(&["object_id"]),
        )
        .unwrap();
        assert_eq!(line.last(), Some(&b'\n'));
        let record: DecisionRecord = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            record,
            DecisionRecord {
                id: "0123456789abcdef-0000000001".into(),
                instance: "edge-1".into(),
                time: "2026-11-25T20:02:28.772040Z".into(),
                time_us: 1_795_636_948_772_040,
                tenant: "acme".into(),
                request_id: "r-1".into(),
                kind: "check".into(),
                identity: IdentityRecord {
                    kind: "SUBJECT".into(),
                    value: "user:rick@the-citadel.com#member".into(),
                },
                user: Some("user:rick@the-citadel.com#member".into()),
                path: "group#admin".into(),
                resource: json!({"object_type": "group", "object_id": "***", "relation": "member"}),
                decisions: vec![DecisionOutcome {
                    decision: "member".into(),
                    is: true,
                }],
                policy_revision: String::new(),
                bundle_revision: None,
                policy_image: None,
                directory_revision: 7,
                latency_us: 12,
            }
        );
    }

    #[test]
    fn masks_replace_nested_context_fields_and_leave_the_rest() {
        let context = json!({"ssn": "123-45-6789", "owner": {"card": "4111", "name": "rick"}});
        let decisions = vec![
            ("allowed".to_string(), false),
            ("visible".to_string(), true),
        ];
        let provenance = lictor_policy::Provenance {
            bundle_revision: Some("b7".to_string()),
            image: Some("localhost:5000/p:1@sha256:00".to_string()),
        };
        let entry = DecisionEntry {
            tenant: "",
            request_id: "r-2",
            kind: "is",
            identity_type: "IDENTITY_TYPE_SUB",
            identity: Text::Str("rick"),
            user: None,
            path: Text::Str("todoApp.GET.todos"),
            resource: Resource::Context(&context),
            decisions: Outcomes::Many(&decisions),
            policy_revision: "p1",
            provenance: Some(&provenance),
            directory_revision: 1,
            latency_us: 3,
        };
        let all = masks(&["ssn", "owner.card", "missing.field", "owner.name.deeper"]);
        let record: DecisionRecord =
            serde_json::from_slice(&encode(&entry, ORIGIN, 0, &all).unwrap()).unwrap();
        assert_eq!(
            record.resource,
            json!({"ssn": "***", "owner": {"card": "***", "name": "rick"}})
        );
        assert_eq!(record.user, None);
        assert_eq!(record.bundle_revision.as_deref(), Some("b7"));
        assert_eq!(
            record.policy_image.as_deref(),
            Some("localhost:5000/p:1@sha256:00")
        );
        assert_eq!(record.time, "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            record.decisions,
            vec![
                DecisionOutcome {
                    decision: "allowed".into(),
                    is: false
                },
                DecisionOutcome {
                    decision: "visible".into(),
                    is: true
                },
            ]
        );
        // Unmasked, the context is written as it came.
        let record: DecisionRecord =
            serde_json::from_slice(&encode(&entry, ORIGIN, 0, &[]).unwrap()).unwrap();
        assert_eq!(record.resource, context);
    }
}
