//! Decision records in a PostgreSQL table (`decision_logs.postgres`). Every instance that names the
//! same database writes its records there (and the records shipped to it), so the query API of any of
//! them answers across all. Writing is off the request path: the log's writer hands each line to a
//! thread of its own that inserts them in batches, keeps a batch while the database is unreachable,
//! and inserts each id once (a record written again is skipped).

use crate::decision_log::{DecisionLogStats, DecisionQuery, DecisionRecord};
use crate::ServerError;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Lines waiting for the database before new ones are dropped (and counted).
const QUEUED_LINES: usize = 100_000;
/// Rows in one insert at most.
const BATCH_ROWS: usize = 1_000;
/// How long a batch waits for more lines.
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Longest pause between attempts while the database is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Most records one query of the table answers: it may hold every instance's history.
const MAX_QUERY_LIMIT: usize = 10_000;
/// Bound on connecting and on each statement.
const TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS lictor_decisions (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    tenant TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    path TEXT NOT NULL,
    user_id TEXT,
    identity TEXT NOT NULL,
    allowed BOOLEAN NOT NULL,
    denied BOOLEAN NOT NULL,
    record JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS lictor_decisions_by_time ON lictor_decisions (tenant, time_us DESC);";

const INSERT: &str = "INSERT INTO lictor_decisions
    (id, instance, tenant, time_us, path, user_id, identity, allowed, denied, record)
    SELECT i, n, t, u, p, s, d, a, x, r::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                $7::text[], $8::bool[], $9::bool[], $10::text[]) AS v(i, n, t, u, p, s, d, a, x, r)
    ON CONFLICT (id) DO NOTHING";

const QUERY: &str = "SELECT record::text FROM lictor_decisions
    WHERE ($1::text IS NULL OR tenant = $1)
      AND ($2::text IS NULL OR user_id = $2 OR identity = $2)
      AND ($3::text IS NULL OR path = $3)
      AND ($4::bool IS NULL OR ($4 AND allowed) OR (NOT $4 AND denied))
      AND ($5::bigint IS NULL OR time_us >= $5)
      AND ($6::bigint IS NULL OR time_us <= $6)
      AND ($7::text IS NULL OR instance = $7)
    ORDER BY time_us DESC, id DESC
    LIMIT $8";

/// The table, and the queue into it.
pub struct DecisionTable {
    config: tokio_postgres::Config,
    lines: SyncSender<Arc<[u8]>>,
    stats: Arc<DecisionLogStats>,
}

impl DecisionTable {
    /// Starts the inserting thread for the database at `url` (connected to when it first inserts).
    pub fn start(
        url: &str,
        stats: Arc<DecisionLogStats>,
    ) -> Result<Arc<DecisionTable>, ServerError> {
        let config =
            tokio_postgres::Config::from_str(url).map_err(|error| ServerError::Config {
                path: PathBuf::from("decision_logs.postgres"),
                line: None,
                message: format!("not a PostgreSQL URL: {error}"),
            })?;
        let (lines, receiver) = std::sync::mpsc::sync_channel(QUEUED_LINES);
        let inserter = Inserter {
            config: config.clone(),
            stats: stats.clone(),
        };
        std::thread::Builder::new()
            .name("decision-log-postgres".into())
            .spawn(move || inserter.run(&receiver))
            .map_err(|source| ServerError::Io {
                path: PathBuf::from("decision-log-postgres thread"),
                source,
            })?;
        Ok(Arc::new(DecisionTable {
            config,
            lines,
            stats,
        }))
    }

    /// Queues a written line for the table; when the queue is full the line is counted and left out.
    pub fn append(&self, line: Arc<[u8]>) {
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.table_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The records matching the query across every instance writing to the table, newest first.
    pub async fn query(&self, query: &DecisionQuery) -> Result<Vec<DecisionRecord>, QueryError> {
        let time = |text: &Option<String>| {
            text.as_deref()
                .map(crate::decision_log::parse_time)
                .transpose()
                .map_err(QueryError::Invalid)
        };
        let (since, until) = (time(&query.since)?, time(&query.until)?);
        let limit = query.limit.unwrap_or(100);
        if limit > MAX_QUERY_LIMIT {
            return Err(QueryError::Invalid(format!(
                "limit {limit} is more than the {MAX_QUERY_LIMIT} records one query of the decision table answers"
            )));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let to_i64 = |us: u64| i64::try_from(us).unwrap_or(i64::MAX);
        let unavailable = QueryError::Unavailable;
        let client = connect(&self.config).await.map_err(unavailable)?;
        // A table no instance has written to yet is made here, and answers nothing.
        tokio::time::timeout(TIMEOUT, client.batch_execute(SCHEMA))
            .await
            .map_err(|_| unavailable("creating the decision table timed out".to_string()))?
            .map_err(|e| unavailable(format!("creating the decision table: {}", db_error(&e))))?;
        let rows = tokio::time::timeout(
            TIMEOUT,
            client.query(
                QUERY,
                &[
                    &query.tenant,
                    &query.user,
                    &query.path,
                    &query.outcome,
                    &since.map(to_i64),
                    &until.map(to_i64),
                    &query.instance,
                    &limit,
                ],
            ),
        )
        .await
        .map_err(|_| unavailable("the decision table did not answer in time".to_string()))?
        .map_err(|e| unavailable(format!("querying the decision table: {}", db_error(&e))))?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get(0).map_err(|e| unavailable(e.to_string()))?;
                serde_json::from_str(&text).map_err(|e| {
                    unavailable(format!("a stored decision record does not read back: {e}"))
                })
            })
            .collect()
    }
}

/// Why a query of the decision log has no answer.
#[derive(Debug)]
pub enum QueryError {
    /// The query itself is wrong (a time that does not parse).
    Invalid(String),
    /// The decision table cannot be read now.
    Unavailable(String),
}

/// A database error with the server's own message, which the error's display leaves out.
fn db_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio::time::timeout(TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| "connecting to the decision table timed out".to_string())?
        .map_err(|e| format!("connecting to the decision table: {}", db_error(&e)))?;
    tokio::spawn(async move {
        // Ends with an error when the server goes away; the next use connects again.
        let _ = connection.await;
    });
    Ok(client)
}

/// The thread that inserts.
struct Inserter {
    config: tokio_postgres::Config,
    stats: Arc<DecisionLogStats>,
}

/// One batch as the insert takes it, column by column.
#[derive(Default)]
struct Rows {
    ids: Vec<String>,
    instances: Vec<String>,
    tenants: Vec<String>,
    times: Vec<i64>,
    paths: Vec<String>,
    users: Vec<Option<String>>,
    identities: Vec<String>,
    allowed: Vec<bool>,
    denied: Vec<bool>,
    records: Vec<String>,
}

impl Rows {
    fn len(&self) -> usize {
        self.ids.len()
    }

    /// Adds a line; one that is not a record (it cannot be, as the log wrote it) is skipped.
    fn push(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let Ok(record) = serde_json::from_str::<DecisionRecord>(text) else {
            return;
        };
        self.ids.push(record.id);
        self.instances.push(record.instance);
        self.tenants.push(record.tenant);
        self.times
            .push(i64::try_from(record.time_us).unwrap_or(i64::MAX));
        self.paths.push(record.path);
        self.users.push(record.user);
        self.identities.push(record.identity.value);
        self.allowed.push(record.decisions.iter().any(|d| d.is));
        self.denied.push(record.decisions.iter().any(|d| !d.is));
        self.records.push(text.trim_end().to_string());
    }
}

impl Inserter {
    fn run(self, lines: &Receiver<Arc<[u8]>>) {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            tracing::error!(
                "decision table: no runtime to insert with; records stay in the other sinks"
            );
            return;
        };
        let mut client: Option<tokio_postgres::Client> = None;
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        let mut rows = Rows::default();
        loop {
            // Waits for a first line, then gathers what comes within the batch window.
            if rows.len() == 0 {
                match lines.recv() {
                    Ok(line) => rows.push(&line),
                    Err(_) => return,
                }
            }
            let deadline = std::time::Instant::now() + BATCH_WAIT;
            while rows.len() < BATCH_ROWS {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match lines.recv_timeout(left) {
                    Ok(line) => rows.push(&line),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            if rows.len() == 0 {
                continue;
            }
            let inserted = runtime.block_on(async {
                if client
                    .as_ref()
                    .is_none_or(tokio_postgres::Client::is_closed)
                {
                    let connected = connect(&self.config).await?;
                    tokio::time::timeout(TIMEOUT, connected.batch_execute(SCHEMA))
                        .await
                        .map_err(|_| "creating the decision table timed out".to_string())?
                        .map_err(|e| format!("creating the decision table: {}", db_error(&e)))?;
                    client = Some(connected);
                }
                let Some(connected) = client.as_ref() else {
                    return Err("no connection".to_string());
                };
                tokio::time::timeout(
                    TIMEOUT,
                    connected.execute(
                        INSERT,
                        &[
                            &rows.ids,
                            &rows.instances,
                            &rows.tenants,
                            &rows.times,
                            &rows.paths,
                            &rows.users,
                            &rows.identities,
                            &rows.allowed,
                            &rows.denied,
                            &rows.records,
                        ],
                    ),
                )
                .await
                .map_err(|_| "inserting decision records timed out".to_string())?
                .map_err(|e| format!("inserting decision records: {}", db_error(&e)))
            });
            match inserted {
                Ok(_) => {
                    self.stats
                        .table_written
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                    rows = Rows::default();
                    backoff = Duration::from_millis(100);
                    if failing {
                        tracing::info!("decision table: inserting again");
                        failing = false;
                    }
                }
                Err(error) => {
                    // The batch is kept and tried again; lines keep queueing meanwhile.
                    client = None;
                    if !failing {
                        tracing::warn!(%error, "decision table: records wait for the database");
                        failing = true;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
