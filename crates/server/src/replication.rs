//! The center's side of edge replication: `lictor.replication.v1.Replication/Watch` streams the
//! caller's tenant's directory to an edge replica, as a snapshot when the edge has nothing (or asks
//! from a revision no longer kept), then every revision's changes from the store's journal as they
//! commit. Heartbeats carry the center's revision while nothing changes, so an edge knows its lag.

use crate::config::Scope;
use crate::grpc::access;
use crate::tenant::Tenant;
use lictor_proto::lictor::replication::v1 as proto;
use proto::watch_event::Event;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// How often an idle stream says the center's revision.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Records in one snapshot message.
const SNAPSHOT_CHUNK: usize = 1_000;

/// Events queued for one follower before the producer waits for it.
const QUEUED_EVENTS: usize = 16;

/// The gRPC service.
#[derive(Clone)]
pub struct ReplicationGrpc;

impl ReplicationGrpc {
    /// The service, ready to route.
    pub fn server() -> proto::replication_server::ReplicationServer<ReplicationGrpc> {
        proto::replication_server::ReplicationServer::new(ReplicationGrpc)
    }
}

type Events = mpsc::Sender<Result<proto::WatchEvent, Status>>;

#[tonic::async_trait]
impl proto::replication_server::Replication for ReplicationGrpc {
    type WatchStream = ReceiverStream<Result<proto::WatchEvent, Status>>;

    async fn watch(
        &self,
        request: Request<proto::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let access = access(&request)?;
        access.require(Scope::Read)?;
        let after = request.into_inner().after_revision;
        let (sender, receiver) = mpsc::channel(QUEUED_EVENTS);
        tokio::spawn(follow(access.tenant, after, sender));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Feeds one follower until it goes away.
async fn follow(tenant: Arc<Tenant>, after: u64, events: Events) {
    // Subscribed before reading the journal, so no revision falls between the two.
    let mut published = tenant.store.journal().subscribe();
    // An edge that is ahead of this store followed another one (or this one before its data was
    // replaced): it starts over too.
    let mut at = (after > 0 && after <= tenant.store.revision()).then_some(after);
    loop {
        let Some(applied) = at else {
            match snapshot(tenant.clone(), events.clone()).await {
                Some(revision) => at = Some(revision),
                None => return,
            }
            continue;
        };
        match tenant.store.journal().since(applied) {
            None => at = None,
            Some(revisions) => {
                for (revision, changes) in revisions {
                    let changes = changes
                        .iter()
                        .filter_map(|c| serde_json::to_string(c).ok())
                        .collect();
                    let event = Event::Changes(proto::Changes { revision, changes });
                    if !send(&events, event).await {
                        return;
                    }
                    at = Some(revision);
                }
                tokio::select! {
                    changed = published.changed() => if changed.is_err() { return },
                    () = tokio::time::sleep(HEARTBEAT) => {
                        let revision = tenant.store.revision();
                        if !send(&events, Event::Heartbeat(proto::Heartbeat { revision })).await {
                            return;
                        }
                    }
                    () = events.closed() => return,
                }
            }
        }
    }
}

async fn send(events: &Events, event: Event) -> bool {
    events
        .send(Ok(proto::WatchEvent { event: Some(event) }))
        .await
        .is_ok()
}

/// Streams the current snapshot; answers its revision, or `None` when the follower went away.
async fn snapshot(tenant: Arc<Tenant>, events: Events) -> Option<u64> {
    // Reading the in-memory snapshot is blocking work; the bounded channel paces it to the follower.
    tokio::task::spawn_blocking(move || {
        let directory = tenant.store.snapshot();
        let revision = directory.revision();
        let schema = directory.schema();
        let source = schema.source().to_string();
        let begin = Event::SnapshotBegin(proto::SnapshotBegin {
            revision,
            manifest_file: if source.is_empty() {
                String::new()
            } else {
                "manifest.yaml".to_string()
            },
            manifest_source: source,
        });
        let send = |event: Event| {
            events
                .blocking_send(Ok(proto::WatchEvent { event: Some(event) }))
                .is_ok()
        };
        if !send(begin) {
            return None;
        }
        let mut chunk = proto::SnapshotRecords::default();
        let flush = |chunk: &mut proto::SnapshotRecords| {
            send(Event::SnapshotRecords(std::mem::take(chunk)))
        };
        for object in directory.objects() {
            chunk
                .objects
                .push(serde_json::to_string(&object).unwrap_or_default());
            if chunk.objects.len() >= SNAPSHOT_CHUNK && !flush(&mut chunk) {
                return None;
            }
        }
        for relation in directory.relations() {
            chunk
                .relations
                .push(serde_json::to_string(&relation).unwrap_or_default());
            if chunk.relations.len() + chunk.objects.len() >= SNAPSHOT_CHUNK && !flush(&mut chunk) {
                return None;
            }
        }
        let pending = !(chunk.objects.is_empty() && chunk.relations.is_empty());
        if pending && !flush(&mut chunk) {
            return None;
        }
        send(Event::SnapshotEnd(proto::SnapshotEnd { revision })).then_some(revision)
    })
    .await
    .ok()
    .flatten()
}
