//! [`PostgresRecords`]: the directory's records in PostgreSQL, shared by any number of Lictor processes.
//!
//! Every write is one transaction that first increments the one-row revision counter: the row lock
//! serialises writers, so revisions are gap-free and in commit order, and a rolled-back write gives its
//! revision back. The write's changes go to `lictor_changes` under its revision; other processes replay
//! them in order (woken by NOTIFY, and on a timer so that a lost notification loses nothing).
//!
//! The SQL sticks to what CockroachDB accepts as well (no advisory locks, no stored procedures);
//! `pg_notify`/LISTEN is PostgreSQL's only: without it followers still catch up on their timer.
//!
//! The driver is asynchronous and the store is not: the backend runs its own small runtime and every
//! call waits for its task, so it may be called from any thread, inside an async runtime or not.

use crate::backend::{Backend, Change, LoadSink, RecordWrites, WriteBody};
use crate::error::StoreError;
use crate::records::{check_object_key, check_relation_key, RelationMeta, StoredObject};
use futures_util::{Stream, StreamExt};
use lictor_model::{ObjectRecord, RelationRecord};
use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Client, NoTls, Row};

/// The schema versions this build knows, oldest first; each is applied once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("postgres/001_initial.sql"))];

/// The channel writes notify and followers listen on.
const CHANNEL: &str = "lictor_changes";
/// How long one statement or commit may take before the write fails UNAVAILABLE.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many statement timeouts reading the change log may take.
const CHANGE_LOG_READ_FACTOR: u32 = 12;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per statement of a bulk write, to bound one message's size.
const CHUNK: usize = 5000;

/// Records in a PostgreSQL database.
pub struct PostgresRecords {
    config: tokio_postgres::Config,
    /// The database as named in errors (no password).
    name: String,
    runtime: Option<tokio::runtime::Runtime>,
    /// One connection for writes (they are serialised anyway) and one for reads.
    writer: Mutex<Option<Arc<Client>>>,
    reader: Mutex<Option<Arc<Client>>>,
    /// Wakes the follower when a notification arrives.
    wake: Mutex<std_mpsc::Receiver<()>>,
}

type PgResult<T> = Result<T, tokio_postgres::Error>;

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl PostgresRecords {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`), creating or migrating its
    /// schema; refuses a schema newer than this build knows.
    pub fn open(url: &str) -> Result<PostgresRecords, StoreError> {
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|error| StoreError::Location {
                location: url.to_string(),
                message: error.to_string(),
            })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("lictor");
        let name = describe(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lictor-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("starting the PostgreSQL client runtime", e))?;
        let (notify, wake) = std_mpsc::channel();
        let records = PostgresRecords {
            config,
            name,
            runtime: Some(runtime),
            writer: Mutex::new(None),
            reader: Mutex::new(None),
            wake: Mutex::new(wake),
        };
        records.migrate()?;
        if let Some(runtime) = &records.runtime {
            runtime.spawn(listen(records.config.clone(), notify));
        }
        Ok(records)
    }

    /// A refusal of the statement is the caller's to see; a lost connection, a server shutting down or
    /// out of resources, or a retryable conflict is UNAVAILABLE: the write did not happen, try again.
    fn failed(&self, context: &str, error: tokio_postgres::Error) -> StoreError {
        let refused = error.as_db_error().is_some_and(|db| {
            let class = db.code().code().get(..2).unwrap_or_default();
            !matches!(class, "08" | "40" | "53" | "57") && context != "connecting"
        });
        if refused {
            StoreError::Postgres {
                database: self.name.clone(),
                context: context.to_string(),
                source: error,
            }
        } else {
            StoreError::Unavailable {
                database: self.name.clone(),
                message: format!("{context}: {error}"),
            }
        }
    }

    fn unavailable(&self, message: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            database: self.name.clone(),
            message: message.into(),
        }
    }

    /// Runs `task` on the backend's runtime and waits for it, at most `timeout`.
    fn run<T: Send + 'static>(
        &self,
        context: &str,
        timeout: Option<Duration>,
        task: impl Future<Output = PgResult<T>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(runtime) = &self.runtime else {
            return Err(self.unavailable("the client runtime has stopped"));
        };
        let (done, result) = std_mpsc::channel();
        runtime.spawn(async move {
            let outcome = match timeout {
                Some(limit) => tokio::time::timeout(limit, task).await.ok(),
                None => Some(task.await),
            };
            let _ = done.send(outcome);
        });
        match result.recv() {
            Ok(Some(Ok(value))) => Ok(value),
            Ok(Some(Err(error))) => Err(self.failed(context, error)),
            Ok(None) => Err(self.unavailable(format!(
                "{context}: no answer within {} s",
                timeout.unwrap_or_default().as_secs()
            ))),
            Err(_) => Err(self.unavailable(format!("{context}: the client runtime stopped"))),
        }
    }

    /// The connection in `slot`, reconnecting when it is closed.
    fn client(&self, slot: &Mutex<Option<Arc<Client>>>) -> Result<Arc<Client>, StoreError> {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.connect()?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Drops the connection in `slot`: after a statement that timed out or failed mid-transaction the
    /// connection may still hold that transaction open, and a later `BEGIN` would run inside it. Closing
    /// it makes the server roll the transaction back; the next call reconnects.
    fn discard(&self, slot: &Mutex<Option<Arc<Client>>>) {
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let config = self.config.clone();
        self.run("connecting", Some(CONNECT_TIMEOUT * 2), async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                // The connection ends with an error when the server goes away; the next call reconnects.
                let _ = connection.await;
            });
            Ok(client)
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let client = self.client(&self.writer)?;
        let known = MIGRATIONS.last().map_or(0, |(version, _)| *version);
        for (version, sql) in MIGRATIONS {
            let c = client.clone();
            let current = self.run(
                "reading the schema version",
                Some(STATEMENT_TIMEOUT),
                async move {
                    c.batch_execute(
                        "CREATE TABLE IF NOT EXISTS lictor_schema (version BIGINT PRIMARY KEY)",
                    )
                    .await?;
                    let row = c
                        .query_one("SELECT COALESCE(MAX(version), 0) FROM lictor_schema", &[])
                        .await?;
                    row.try_get::<_, i64>(0)
                },
            )?;
            if current > known {
                return Err(StoreError::SchemaTooNew {
                    database: self.name.clone(),
                    found: current,
                    known,
                });
            }
            if current >= *version {
                continue;
            }
            let c = client.clone();
            let (version, sql) = (*version, *sql);
            let applied = self.run(
                "migrating the schema",
                Some(STATEMENT_TIMEOUT),
                async move {
                    let outcome = async {
                        c.batch_execute("BEGIN").await?;
                        c.batch_execute(sql).await?;
                        c.execute(
                            "INSERT INTO lictor_schema (version) VALUES ($1)",
                            &[&version],
                        )
                        .await?;
                        c.batch_execute("COMMIT").await
                    }
                    .await;
                    if outcome.is_err() {
                        let _ = c.batch_execute("ROLLBACK").await;
                    }
                    Ok(outcome)
                },
            )?;
            if let Err(error) = applied {
                // Another process may have applied it at the same moment; only then is this fine.
                let c = client.clone();
                let now = self.run(
                    "reading the schema version",
                    Some(STATEMENT_TIMEOUT),
                    async move {
                        let row = c
                            .query_one("SELECT COALESCE(MAX(version), 0) FROM lictor_schema", &[])
                            .await?;
                        row.try_get::<_, i64>(0)
                    },
                )?;
                if now < version {
                    return Err(self.failed(&format!("applying schema version {version}"), error));
                }
            }
        }
        Ok(())
    }

    /// Streams what `produce` sends, calling `each` on this thread as items arrive.
    fn stream<T: Send + 'static, F>(
        &self,
        context: &str,
        produce: impl FnOnce(Arc<Client>, Batcher<T>) -> F,
        mut each: impl FnMut(T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>
    where
        F: Future<Output = PgResult<()>> + Send + 'static,
    {
        let Some(runtime) = &self.runtime else {
            return Err(self.unavailable("the client runtime has stopped"));
        };
        let client = Arc::new(self.connect()?);
        // A plain channel: the caller may be on an async runtime's thread, where tokio's own blocking
        // receive refuses to run.
        let (sender, receiver) = std_mpsc::sync_channel(4);
        let task = runtime.spawn(produce(
            client,
            Batcher {
                sender,
                items: Vec::with_capacity(BATCH),
            },
        ));
        let mut failure = None;
        'receiving: while let Ok(items) = receiver.recv() {
            for item in items {
                if let Err(error) = each(item) {
                    failure = Some(error);
                    break 'receiving;
                }
            }
        }
        drop(receiver);
        let (done, result) = std_mpsc::channel();
        runtime.spawn(async move {
            let _ = done.send(task.await);
        });
        if let Some(error) = failure {
            return Err(error);
        }
        match result.recv() {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(self.failed(context, error)),
            _ => Err(self.unavailable(format!("{context}: the reading task stopped"))),
        }
    }

    fn read_one<T: Send + 'static>(
        &self,
        context: &str,
        sql: &'static str,
        params: Vec<String>,
        decode: fn(&Row) -> PgResult<T>,
    ) -> Result<Option<T>, StoreError> {
        let client = self.client(&self.reader)?;
        self.run(context, Some(STATEMENT_TIMEOUT), async move {
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            match client.query_opt(sql, &refs).await? {
                Some(row) => decode(&row).map(Some),
                None => Ok(None),
            }
        })
    }
}

impl Drop for PostgresRecords {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which an async caller may not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `postgres://user@host:port/db`, without the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

/// Listens for change notifications and wakes the follower on each, reconnecting after a failure (and
/// waking the follower then too, as notifications sent meanwhile are lost).
async fn listen(config: tokio_postgres::Config, wake: std_mpsc::Sender<()>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let listening = async {
                client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
                let _ = wake.send(());
                PgResult::Ok(())
            };
            let (listened, ()) = tokio::join!(listening, forward(&mut messages, &wake));
            let _ = listened;
        }
        if wake.send(()).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn forward(
    messages: &mut (impl Stream<Item = PgResult<AsyncMessage>> + Unpin),
    wake: &std_mpsc::Sender<()>,
) {
    while let Some(Ok(message)) = messages.next().await {
        if matches!(message, AsyncMessage::Notification(_)) && wake.send(()).is_err() {
            return;
        }
    }
}

fn decode_object(row: &Row) -> PgResult<StoredObject> {
    let properties: String = row.try_get(3)?;
    let mut record = ObjectRecord {
        object_type: row.try_get(0)?,
        id: row.try_get(1)?,
        display_name: row.try_get(2)?,
        properties: serde_json::from_str(&properties).unwrap_or(serde_json::Value::Null),
        etag: String::new(),
    };
    record.etag = record.content_etag();
    Ok(StoredObject {
        record,
        created_at: to_u64(row.try_get(4)?),
        updated_at: to_u64(row.try_get(5)?),
    })
}

fn decode_relation(row: &Row) -> PgResult<RelationRecord> {
    Ok(RelationRecord {
        object_type: row.try_get(0)?,
        object_id: row.try_get(1)?,
        relation: row.try_get(2)?,
        subject_type: row.try_get(3)?,
        subject_id: row.try_get(4)?,
        subject_relation: row.try_get(5)?,
    })
}

const SELECT_OBJECTS: &str =
    "SELECT object_type, object_id, display_name, properties, created_at, \
     updated_at FROM lictor_objects ORDER BY object_type, object_id";
const SELECT_RELATIONS: &str = "SELECT object_type, object_id, relation, subject_type, subject_id, \
     subject_relation FROM lictor_relations ORDER BY object_type, object_id, relation, subject_type, \
     subject_id, subject_relation";

/// Items on their way from the runtime to the thread that asked for them, in batches.
struct Batcher<T> {
    sender: std_mpsc::SyncSender<Vec<T>>,
    items: Vec<T>,
}

/// Items per batch handed from the runtime to the caller.
const BATCH: usize = 1024;

impl<T: Send> Batcher<T> {
    /// Queues `item`; `false` once the receiver has gone.
    fn send(&mut self, item: T) -> bool {
        self.items.push(item);
        self.items.len() < BATCH || self.flush()
    }

    /// Hands the queued items over, waiting while the receiver is behind; `false` once it has gone.
    fn flush(&mut self) -> bool {
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(BATCH));
        // The receiver applies each batch as it comes; waiting for it parks this worker only.
        tokio::task::block_in_place(|| self.sender.send(items).is_ok())
    }
}

impl<T> Drop for Batcher<T> {
    fn drop(&mut self) {
        if !self.items.is_empty() {
            let items = std::mem::take(&mut self.items);
            let _ = tokio::task::block_in_place(|| self.sender.send(items));
        }
    }
}

/// Sends the rows of `sql`, decoded, as they arrive.
async fn send_rows<T: Send>(
    client: &Client,
    sql: &str,
    decode: fn(&Row) -> PgResult<T>,
    mut sender: Batcher<T>,
) -> PgResult<()> {
    let rows = client
        .query_raw(
            sql,
            std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.next().await {
        let item = decode(&row?)?;
        if !sender.send(item) {
            break;
        }
    }
    Ok(())
}

/// One item of a snapshot load.
enum Loaded {
    Manifest(String, String),
    Object(ObjectRecord),
    Relation(RelationRecord),
    Revision(i64),
}

impl Backend for PostgresRecords {
    fn load(&self, sink: LoadSink<'_>) -> Result<u64, StoreError> {
        let mut revision = 0;
        self.stream(
            "loading the directory",
            |client, mut sender| async move {
                client
                    .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                let row = client
                    .query_one("SELECT revision FROM lictor_revision WHERE id = 1", &[])
                    .await?;
                if !sender.send(Loaded::Revision(row.try_get(0)?)) {
                    return Ok(());
                }
                if let Some(row) = client
                    .query_opt("SELECT file, source FROM lictor_manifest WHERE id = 1", &[])
                    .await?
                {
                    let manifest = Loaded::Manifest(row.try_get(0)?, row.try_get(1)?);
                    if !sender.send(manifest) {
                        return Ok(());
                    }
                }
                let objects = client
                    .query_raw(
                        SELECT_OBJECTS,
                        std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
                    )
                    .await?;
                let mut objects = std::pin::pin!(objects);
                while let Some(row) = objects.next().await {
                    let object = decode_object(&row?)?.record;
                    if !sender.send(Loaded::Object(object)) {
                        return Ok(());
                    }
                }
                let relations = client
                    .query_raw(
                        SELECT_RELATIONS,
                        std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
                    )
                    .await?;
                let mut relations = std::pin::pin!(relations);
                while let Some(row) = relations.next().await {
                    let relation = decode_relation(&row?)?;
                    if !sender.send(Loaded::Relation(relation)) {
                        return Ok(());
                    }
                }
                client.batch_execute("COMMIT").await
            },
            |item| match item {
                Loaded::Revision(value) => {
                    revision = to_u64(value);
                    Ok(())
                }
                Loaded::Manifest(file, source) => (sink.manifest)(&file, &source),
                Loaded::Object(object) => (sink.object)(object),
                Loaded::Relation(relation) => (sink.relation)(relation),
            },
        )?;
        Ok(revision)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        let value = self.read_one(
            "reading the revision",
            "SELECT revision FROM lictor_revision WHERE id = 1",
            Vec::new(),
            |row| row.try_get::<_, i64>(0),
        )?;
        Ok(value.map_or(0, to_u64))
    }

    fn manifest_updated_at(&self) -> Result<Option<u64>, StoreError> {
        let value = self.read_one(
            "reading the manifest",
            "SELECT updated_at FROM lictor_manifest WHERE id = 1",
            Vec::new(),
            |row| row.try_get::<_, i64>(0),
        )?;
        Ok(value.map(to_u64))
    }

    fn for_each_object(&self, each: &mut dyn FnMut(ObjectRecord)) -> Result<(), StoreError> {
        self.stream(
            "reading the objects",
            |client, sender| async move {
                send_rows(&client, SELECT_OBJECTS, decode_object, sender).await
            },
            |object| {
                each(object.record);
                Ok(())
            },
        )
    }

    fn for_each_relation(&self, each: &mut dyn FnMut(RelationRecord)) -> Result<(), StoreError> {
        self.stream(
            "reading the relations",
            |client, sender| async move {
                send_rows(&client, SELECT_RELATIONS, decode_relation, sender).await
            },
            |relation| {
                each(relation);
                Ok(())
            },
        )
    }

    fn get_object(&self, object_type: &str, id: &str) -> Result<Option<StoredObject>, StoreError> {
        check_object_key(object_type, id)?;
        self.read_one(
            "reading an object",
            "SELECT object_type, object_id, display_name, properties, created_at, updated_at \
             FROM lictor_objects WHERE object_type = $1 AND object_id = $2",
            vec![object_type.to_string(), id.to_string()],
            decode_object,
        )
    }

    fn get_relation(&self, relation: &RelationRecord) -> Result<Option<RelationMeta>, StoreError> {
        check_relation_key(relation)?;
        self.read_one(
            "reading a relation",
            "SELECT created_at, updated_at FROM lictor_relations WHERE object_type = $1 AND \
             object_id = $2 AND relation = $3 AND subject_type = $4 AND subject_id = $5 AND \
             subject_relation = $6",
            relation_fields(relation),
            |row| {
                Ok(RelationMeta {
                    created_at: to_u64(row.try_get(0)?),
                    updated_at: to_u64(row.try_get(1)?),
                })
            },
        )
    }

    fn object_count(&self) -> Result<u64, StoreError> {
        let value = self.read_one(
            "counting objects",
            "SELECT COUNT(*) FROM lictor_objects",
            Vec::new(),
            |row| row.try_get::<_, i64>(0),
        )?;
        Ok(value.map_or(0, to_u64))
    }

    fn relation_count(&self) -> Result<u64, StoreError> {
        let value = self.read_one(
            "counting relations",
            "SELECT COUNT(*) FROM lictor_relations",
            Vec::new(),
            |row| row.try_get::<_, i64>(0),
        )?;
        Ok(value.map_or(0, to_u64))
    }

    fn write(&self, applied: u64, body: &mut WriteBody<'_>) -> Result<u64, StoreError> {
        let client = self.client(&self.writer)?;
        let c = client.clone();
        let started = self.run("starting a write", Some(STATEMENT_TIMEOUT), async move {
            let outcome = async {
                c.batch_execute("BEGIN").await?;
                let row = c
                    .query_one(
                        "UPDATE lictor_revision SET revision = revision + 1 WHERE id = 1 \
                         RETURNING revision",
                        &[],
                    )
                    .await?;
                let revision: i64 = row.try_get(0)?;
                let rows = c
                    .query(
                        "SELECT revision, change FROM lictor_changes WHERE revision > $1 \
                         ORDER BY revision, seq",
                        &[&to_i64(applied)],
                    )
                    .await?;
                let mut pending = Vec::with_capacity(rows.len());
                for row in rows {
                    pending.push((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?));
                }
                PgResult::Ok((revision, pending))
            }
            .await;
            if outcome.is_err() {
                let _ = c.batch_execute("ROLLBACK").await;
            }
            outcome
        });
        let (revision, pending) = match started {
            Ok(started) => started,
            Err(error) => {
                self.discard(&self.writer);
                return Err(error);
            }
        };
        let rollback = || {
            let c = client.clone();
            let rolled_back = self.run("rolling back", Some(STATEMENT_TIMEOUT), async move {
                c.batch_execute("ROLLBACK").await
            });
            if rolled_back.is_err() {
                self.discard(&self.writer);
            }
        };
        let pending = match decode_changes(pending) {
            Ok(pending) => pending,
            Err(error) => {
                rollback();
                return Err(error);
            }
        };
        let mut batch = ChangeBatch::default();
        if let Err(error) = body(&pending, &mut batch) {
            rollback();
            return Err(error);
        }
        let changes = batch.changes;
        // A bulk write runs one statement per chunk: each gets the statement timeout.
        let statements = u32::try_from(changes.len().div_ceil(CHUNK)).unwrap_or(u32::MAX);
        let limit = STATEMENT_TIMEOUT.saturating_mul(statements.saturating_mul(2).max(1));
        let c = client.clone();
        let committed = self.run(
            &format!("committing revision {revision}"),
            Some(limit),
            async move {
                let outcome = async {
                    apply(&c, &changes, revision).await?;
                    c.execute(
                        "SELECT pg_notify($1, $2)",
                        &[&CHANNEL, &revision.to_string()],
                    )
                    .await?;
                    c.batch_execute("COMMIT").await
                }
                .await;
                if outcome.is_err() {
                    let _ = c.batch_execute("ROLLBACK").await;
                }
                outcome
            },
        );
        if committed.is_err() {
            self.discard(&self.writer);
        }
        committed?;
        Ok(to_u64(revision))
    }

    fn changes_since(&self, applied: u64) -> Result<(Vec<(u64, Change)>, u64), StoreError> {
        let client = self.client(&self.reader)?;
        // One revision may hold an import of millions of changes: reading them gets a longer bound.
        let read = self.run(
            "reading the change log",
            Some(STATEMENT_TIMEOUT.saturating_mul(CHANGE_LOG_READ_FACTOR)),
            async move {
                let outcome = async {
                    client
                        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                        .await?;
                    let row = client
                        .query_one("SELECT revision FROM lictor_revision WHERE id = 1", &[])
                        .await?;
                    let revision: i64 = row.try_get(0)?;
                    let rows = client
                        .query(
                            "SELECT revision, change FROM lictor_changes WHERE revision > $1 \
                             ORDER BY revision, seq",
                            &[&to_i64(applied)],
                        )
                        .await?;
                    client.batch_execute("COMMIT").await?;
                    let mut changes = Vec::with_capacity(rows.len());
                    for row in rows {
                        changes.push((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?));
                    }
                    PgResult::Ok((revision, changes))
                }
                .await;
                if outcome.is_err() {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                outcome
            },
        );
        let (revision, rows) = match read {
            Ok(read) => read,
            Err(error) => {
                // A read cut off mid-transaction would leave its snapshot open for the next one.
                self.discard(&self.reader);
                return Err(error);
            }
        };
        Ok((decode_changes(rows)?, to_u64(revision)))
    }

    fn shared(&self) -> bool {
        true
    }

    fn wait_for_changes(&self, timeout: Duration) -> bool {
        let wake = self.wake.lock().unwrap_or_else(|p| p.into_inner());
        let woken = wake.recv_timeout(timeout).is_ok();
        // Several notifications may have queued up; one catch-up serves them all.
        while wake.try_recv().is_ok() {}
        woken
    }
}

fn decode_changes(rows: Vec<(i64, String)>) -> Result<Vec<(u64, Change)>, StoreError> {
    rows.into_iter()
        .map(|(revision, text)| {
            serde_json::from_str(&text)
                .map(|change| (to_u64(revision), change))
                .map_err(|e| StoreError::Corrupt {
                    key: format!("change log revision {revision}"),
                    message: e.to_string(),
                })
        })
        .collect()
}

fn relation_fields(relation: &RelationRecord) -> Vec<String> {
    vec![
        relation.object_type.clone(),
        relation.object_id.clone(),
        relation.relation.clone(),
        relation.subject_type.clone(),
        relation.subject_id.clone(),
        relation.subject_relation.clone(),
    ]
}

/// The changes of one write, kept until the transaction applies them.
#[derive(Default)]
struct ChangeBatch {
    changes: Vec<Change>,
}

impl RecordWrites for ChangeBatch {
    fn put_object(&mut self, object: &ObjectRecord) -> Result<(), StoreError> {
        check_object_key(&object.object_type, &object.id)?;
        if object.display_name.contains('\0') {
            return Err(StoreError::Nul {
                field: "display_name",
                value: object.display_name.replace('\0', "\\0"),
            });
        }
        let depth = lictor_model::json_depth(&object.properties);
        if depth > lictor_model::MAX_JSON_DEPTH {
            return Err(StoreError::TooDeep {
                object: format!("{}:{}", object.object_type, object.id),
                depth,
                limit: lictor_model::MAX_JSON_DEPTH,
            });
        }
        let mut object = object.clone();
        object.etag.clear();
        if object.properties.is_null() {
            object.properties = serde_json::Value::Object(serde_json::Map::new());
        }
        self.changes.push(Change::SetObject { object });
        Ok(())
    }

    fn delete_object(&mut self, object_type: &str, id: &str) -> Result<(), StoreError> {
        check_object_key(object_type, id)?;
        self.changes.push(Change::DeleteObject {
            object_type: object_type.to_string(),
            object_id: id.to_string(),
        });
        Ok(())
    }

    fn put_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        check_relation_key(relation)?;
        self.changes.push(Change::SetRelation {
            relation: relation.clone(),
        });
        Ok(())
    }

    fn delete_relation(&mut self, relation: &RelationRecord) -> Result<(), StoreError> {
        check_relation_key(relation)?;
        self.changes.push(Change::DeleteRelation {
            relation: relation.clone(),
        });
        Ok(())
    }

    fn set_manifest(&mut self, file: &str, source: &str) -> Result<(), StoreError> {
        self.changes.push(Change::SetManifest {
            file: file.to_string(),
            source: source.to_string(),
        });
        Ok(())
    }

    fn delete_manifest(&mut self) -> Result<(), StoreError> {
        self.changes.push(Change::DeleteManifest);
        Ok(())
    }
}

/// Which statement a change belongs to; consecutive changes of one kind go in one statement.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    SetObject,
    DeleteObject,
    SetRelation,
    DeleteRelation,
    Manifest,
}

fn kind(change: &Change) -> Kind {
    match change {
        Change::SetObject { .. } => Kind::SetObject,
        Change::DeleteObject { .. } => Kind::DeleteObject,
        Change::SetRelation { .. } => Kind::SetRelation,
        Change::DeleteRelation { .. } => Kind::DeleteRelation,
        Change::SetManifest { .. } | Change::DeleteManifest => Kind::Manifest,
    }
}

const UPSERT_OBJECTS: &str = "INSERT INTO lictor_objects (object_type, object_id, display_name, \
     properties, created_at, updated_at) SELECT t, i, n, p, $5, $5 FROM unnest($1::TEXT[], $2::TEXT[], \
     $3::TEXT[], $4::TEXT[]) AS u(t, i, n, p) ON CONFLICT (object_type, object_id) DO UPDATE SET \
     display_name = EXCLUDED.display_name, properties = EXCLUDED.properties, updated_at = \
     EXCLUDED.updated_at";
const DELETE_OBJECTS: &str = "DELETE FROM lictor_objects WHERE (object_type, object_id) IN \
     (SELECT t, i FROM unnest($1::TEXT[], $2::TEXT[]) AS u(t, i))";
const UPSERT_RELATIONS: &str = "INSERT INTO lictor_relations (object_type, object_id, relation, \
     subject_type, subject_id, subject_relation, created_at, updated_at) SELECT a, b, c, d, e, f, $7, \
     $7 FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) AS \
     u(a, b, c, d, e, f) ON CONFLICT (object_type, object_id, relation, subject_type, subject_id, \
     subject_relation) DO UPDATE SET updated_at = EXCLUDED.updated_at";
const DELETE_RELATIONS: &str = "DELETE FROM lictor_relations WHERE (object_type, object_id, \
     relation, subject_type, subject_id, subject_relation) IN (SELECT a, b, c, d, e, f FROM \
     unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) AS \
     u(a, b, c, d, e, f))";
const INSERT_CHANGES: &str = "INSERT INTO lictor_changes (revision, seq, change) SELECT $1, s, c \
     FROM unnest($2::INT[], $3::TEXT[]) AS u(s, c)";

/// Applies `changes` in order in the open transaction and logs them under `revision`.
async fn apply(client: &Client, changes: &[Change], revision: i64) -> PgResult<()> {
    let now = now_micros();
    let mut start = 0;
    while let Some(first) = changes.get(start) {
        let run_kind = kind(first);
        let run_len = changes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take(CHUNK)
            .take_while(|change| kind(change) == run_kind)
            .count();
        let run = changes.get(start..start + run_len).unwrap_or_default();
        apply_run(client, run_kind, run, now).await?;
        start += run_len.max(1);
    }
    for (chunk_index, chunk) in changes.chunks(CHUNK).enumerate() {
        let base = i32::try_from(chunk_index * CHUNK).unwrap_or(i32::MAX);
        let seqs: Vec<i32> = (0..chunk.len())
            .map(|i| base.saturating_add(i32::try_from(i).unwrap_or(i32::MAX)))
            .collect();
        let texts: Vec<String> = chunk
            .iter()
            .map(|change| serde_json::to_string(change).unwrap_or_default())
            .collect();
        client
            .execute(INSERT_CHANGES, &[&revision, &seqs, &texts])
            .await?;
    }
    Ok(())
}

/// Applies a run of changes of one kind in one statement. Within the run, the last write of a key
/// wins (a statement may not touch one row twice).
async fn apply_run(client: &Client, run_kind: Kind, run: &[Change], now: i64) -> PgResult<()> {
    match run_kind {
        Kind::SetObject => {
            let mut latest: HashMap<(&str, &str), &ObjectRecord> = HashMap::new();
            let mut order = Vec::new();
            for change in run {
                if let Change::SetObject { object } = change {
                    let key = (object.object_type.as_str(), object.id.as_str());
                    if latest.insert(key, object).is_none() {
                        order.push(key);
                    }
                }
            }
            let (mut types, mut ids, mut names, mut properties) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for key in order {
                if let Some(object) = latest.get(&key) {
                    types.push(object.object_type.clone());
                    ids.push(object.id.clone());
                    names.push(object.display_name.clone());
                    properties.push(serde_json::to_string(&object.properties).unwrap_or_default());
                }
            }
            client
                .execute(UPSERT_OBJECTS, &[&types, &ids, &names, &properties, &now])
                .await?;
        }
        Kind::DeleteObject => {
            let (mut types, mut ids) = (Vec::new(), Vec::new());
            for change in run {
                if let Change::DeleteObject {
                    object_type,
                    object_id,
                } = change
                {
                    types.push(object_type.clone());
                    ids.push(object_id.clone());
                }
            }
            client.execute(DELETE_OBJECTS, &[&types, &ids]).await?;
        }
        Kind::SetRelation | Kind::DeleteRelation => {
            let mut seen = std::collections::HashSet::new();
            let mut columns: [Vec<&str>; 6] = Default::default();
            for change in run {
                let (Change::SetRelation { relation } | Change::DeleteRelation { relation }) =
                    change
                else {
                    continue;
                };
                if !seen.insert(relation) {
                    continue;
                }
                let fields = [
                    relation.object_type.as_str(),
                    relation.object_id.as_str(),
                    relation.relation.as_str(),
                    relation.subject_type.as_str(),
                    relation.subject_id.as_str(),
                    relation.subject_relation.as_str(),
                ];
                for (column, field) in columns.iter_mut().zip(fields) {
                    column.push(field);
                }
            }
            let [a, b, c, d, e, f] = &columns;
            if run_kind == Kind::SetRelation {
                client
                    .execute(UPSERT_RELATIONS, &[a, b, c, d, e, f, &now])
                    .await?;
            } else {
                client
                    .execute(DELETE_RELATIONS, &[a, b, c, d, e, f])
                    .await?;
            }
        }
        Kind::Manifest => {
            for change in run {
                match change {
                    Change::SetManifest { file, source } => {
                        client
                            .execute(
                                "INSERT INTO lictor_manifest (id, file, source, updated_at) \
                                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET file = \
                                 EXCLUDED.file, source = EXCLUDED.source, updated_at = \
                                 EXCLUDED.updated_at",
                                &[file, source, &now],
                            )
                            .await?;
                    }
                    _ => {
                        client
                            .execute("DELETE FROM lictor_manifest WHERE id = 1", &[])
                            .await?;
                    }
                }
            }
        }
    }
    Ok(())
}
