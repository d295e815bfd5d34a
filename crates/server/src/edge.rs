//! The edge side of replication: a task that keeps the default tenant's embedded store a copy of a
//! central Lictor's directory, fed by the center's `Replication/Watch` stream. Each snapshot and each
//! revision of changes is applied in one local write; the center's revision it reached is then kept
//! in `DATA_DIR/follow.json`, so a restart or a dropped connection resumes where it stopped. Should a
//! crash fall between the two, the revision is applied again on resumption, which leaves the same
//! state: every change sets or deletes a whole record.

use crate::config::Follow;
use crate::tenant::Tenant;
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_proto::lictor::replication::v1 as proto;
use lictor_store::Change;
use proto::watch_event::Event;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Longest wait between attempts while the center is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What an edge knows of its center, for `/healthz`.
#[derive(Debug)]
pub struct EdgeStatus {
    /// The center followed.
    pub url: String,
    /// Whether a watch stream is open now.
    pub connected: AtomicBool,
    /// The center's revision the local copy holds.
    pub applied: AtomicU64,
    /// The center's latest revision, as last heard.
    pub central: AtomicU64,
}

impl EdgeStatus {
    /// Revisions the copy is behind the center, as last heard.
    pub fn lag(&self) -> u64 {
        self.central
            .load(Ordering::Relaxed)
            .saturating_sub(self.applied.load(Ordering::Relaxed))
    }
}

/// Where the copy stands, kept between runs.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct FollowState {
    url: String,
    tenant: String,
    revision: u64,
}

/// Starts following; the task ends when `shutdown` turns true.
pub fn spawn(
    follow: &Follow,
    tenant: Arc<Tenant>,
    data_dir: &Path,
    shutdown: watch::Receiver<bool>,
) -> (JoinHandle<()>, Arc<EdgeStatus>) {
    let path = data_dir.join("follow.json");
    let state = read_state(&path);
    let resumes =
        state.url == follow.url && state.tenant == follow.tenant.clone().unwrap_or_default();
    let status = Arc::new(EdgeStatus {
        url: follow.url.clone(),
        connected: AtomicBool::new(false),
        applied: AtomicU64::new(if resumes { state.revision } else { 0 }),
        central: AtomicU64::new(if resumes { state.revision } else { 0 }),
    });
    let edge = Edge {
        follow: follow.clone(),
        tenant,
        path,
        status: status.clone(),
    };
    (tokio::spawn(edge.run(shutdown)), status)
}

struct Edge {
    follow: Follow,
    tenant: Arc<Tenant>,
    path: PathBuf,
    status: Arc<EdgeStatus>,
}

impl Edge {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        let mut failing = false;
        loop {
            let outcome = tokio::select! {
                outcome = self.session() => outcome,
                _ = shutdown.changed() => return,
            };
            if self.status.connected.swap(false, Ordering::Relaxed) {
                // The stream was open: the next attempt starts quickly, and a failure is news.
                backoff = Duration::from_millis(100);
                failing = false;
            }
            if let Err(error) = outcome {
                if !failing {
                    tracing::warn!(center = %self.follow.url, %error,
                        "edge replica: the center cannot be followed now; the local copy keeps serving");
                }
                failing = true;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One watch stream, until it ends or fails.
    async fn session(&self) -> Result<(), String> {
        let mut client = self.connect().await?;
        let after = self.status.applied.load(Ordering::Relaxed);
        let mut request = tonic::Request::new(proto::WatchRequest {
            after_revision: after,
        });
        if let Some(key) = &self.follow.api_key {
            let value = format!("basic {key}")
                .parse()
                .map_err(|_| "follow.api_key is not a valid header value".to_string())?;
            request.metadata_mut().insert("authorization", value);
        }
        if let Some(tenant) = &self.follow.tenant {
            let value = tenant
                .parse()
                .map_err(|_| "follow.tenant is not a valid header value".to_string())?;
            request.metadata_mut().insert("aserto-tenant-id", value);
        }
        let mut stream = client
            .watch(request)
            .await
            .map_err(|status| format!("Watch: {}: {}", status.code(), status.message()))?
            .into_inner();
        self.status.connected.store(true, Ordering::Relaxed);
        tracing::info!(center = %self.follow.url, after, "edge replica: following the center");
        let mut snapshot: Option<Snapshot> = None;
        while let Some(event) = stream
            .message()
            .await
            .map_err(|status| format!("Watch: {}: {}", status.code(), status.message()))?
        {
            match event.event {
                Some(Event::SnapshotBegin(begin)) => {
                    snapshot = Some(Snapshot {
                        revision: begin.revision,
                        manifest: (!begin.manifest_source.is_empty())
                            .then_some((begin.manifest_file, begin.manifest_source)),
                        objects: Vec::new(),
                        relations: Vec::new(),
                    });
                }
                Some(Event::SnapshotRecords(records)) => {
                    let pending = snapshot
                        .as_mut()
                        .ok_or("snapshot records outside a snapshot")?;
                    for object in records.objects {
                        pending.objects.push(parse(&object, "object")?);
                    }
                    for relation in records.relations {
                        pending.relations.push(parse(&relation, "relation")?);
                    }
                }
                Some(Event::SnapshotEnd(end)) => {
                    let pending = snapshot
                        .take()
                        .ok_or("a snapshot end without its beginning")?;
                    if pending.revision != end.revision {
                        return Err(format!(
                            "a snapshot began at revision {} and ended at {}",
                            pending.revision, end.revision
                        ));
                    }
                    let tenant = self.tenant.clone();
                    let count = pending.objects.len() + pending.relations.len();
                    blocking(move || {
                        let manifest = pending
                            .manifest
                            .as_ref()
                            .map(|(file, source)| (file.as_str(), source.as_str()));
                        tenant
                            .store
                            .replace_all(manifest, &pending.objects, &pending.relations)
                    })
                    .await?;
                    self.applied(end.revision)?;
                    tracing::info!(center = %self.follow.url, revision = end.revision, records = count,
                        "edge replica: snapshot applied");
                }
                Some(Event::Changes(changes)) => {
                    let parsed: Vec<Change> = changes
                        .changes
                        .iter()
                        .map(|c| parse(c, "change"))
                        .collect::<Result<_, _>>()?;
                    let tenant = self.tenant.clone();
                    blocking(move || tenant.store.apply_changes(&parsed)).await?;
                    self.applied(changes.revision)?;
                }
                Some(Event::Heartbeat(heartbeat)) => {
                    self.status
                        .central
                        .fetch_max(heartbeat.revision, Ordering::Relaxed);
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Records that the copy holds the center's `revision`.
    fn applied(&self, revision: u64) -> Result<(), String> {
        self.status.applied.store(revision, Ordering::Relaxed);
        self.status.central.fetch_max(revision, Ordering::Relaxed);
        let state = FollowState {
            url: self.follow.url.clone(),
            tenant: self.follow.tenant.clone().unwrap_or_default(),
            revision,
        };
        let bytes = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
        let temporary = self.path.with_extension("json.partial");
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, &self.path))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    async fn connect(
        &self,
    ) -> Result<proto::replication_client::ReplicationClient<tonic::transport::Channel>, String>
    {
        let channel =
            crate::grpc_client::channel(&self.follow.url, self.follow.ca_cert.as_deref()).await?;
        Ok(proto::replication_client::ReplicationClient::new(channel)
            .max_decoding_message_size(64 << 20))
    }
}

/// A snapshot being received.
struct Snapshot {
    revision: u64,
    manifest: Option<(String, String)>,
    objects: Vec<ObjectRecord>,
    relations: Vec<RelationRecord>,
}

fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("the center sent an unreadable {what}: {e}"))
}

/// Runs a store write off the async threads.
async fn blocking(
    write: impl FnOnce() -> Result<u64, lictor_store::StoreError> + Send + 'static,
) -> Result<u64, String> {
    tokio::task::spawn_blocking(write)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("applying the center's changes: {e}"))
}

fn read_state(path: &Path) -> FollowState {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
