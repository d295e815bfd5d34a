//! Lictor's own decision-log service on the API ports: `Ship` stores records other instances send,
//! `Tail` (gRPC) and `GET /api/v3/lictor/decisions/stream` (Server-Sent Events) follow every record
//! as it is written, resuming after a record id. A follower sees its own tenant's records only.

use crate::access::Access;
use crate::config::Scope;
use crate::decision_log::{DecisionLog, RecordKey, SharedLine};
use crate::grpc::access;
use crate::server::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use lictor_proto::lictor::decisions::v1 as proto;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt as _;
use tonic::{Request, Response, Status};

/// The gRPC service, sharing the server state.
#[derive(Clone)]
pub struct DecisionLogsGrpc {
    state: Arc<AppState>,
}

impl DecisionLogsGrpc {
    /// The service over the shared state, ready to route.
    pub fn server(
        state: Arc<AppState>,
    ) -> proto::decision_logs_server::DecisionLogsServer<DecisionLogsGrpc> {
        proto::decision_logs_server::DecisionLogsServer::new(DecisionLogsGrpc { state })
    }
}

#[tonic::async_trait]
impl proto::decision_logs_server::DecisionLogs for DecisionLogsGrpc {
    async fn ship(
        &self,
        request: Request<proto::ShipRequest>,
    ) -> Result<Response<proto::ShipResponse>, Status> {
        access(&request)?.require(Scope::Write)?;
        let mut records = Vec::new();
        for (n, record) in request.into_inner().records.into_iter().enumerate() {
            if record.id.is_empty() {
                return Err(Status::invalid_argument(format!("records[{n}]: empty id")));
            }
            if serde_json::from_str::<serde_json::Value>(&record.json)
                .map_or(true, |v| !v.is_object())
            {
                return Err(Status::invalid_argument(format!(
                    "records[{n}] (id {}): json is not a JSON object",
                    record.id
                )));
            }
            records.push((record.id, record.json.into_bytes()));
        }
        let (accepted, duplicates) = self
            .state
            .decision_log
            .receive(records)
            .await
            .map_err(Status::unavailable)?;
        let answer = proto::ShipResponse {
            accepted,
            duplicates,
        };
        Ok(Response::new(answer))
    }

    type TailStream = ReceiverStream<Result<proto::DecisionRecord, Status>>;

    async fn tail(
        &self,
        request: Request<proto::TailRequest>,
    ) -> Result<Response<Self::TailStream>, Status> {
        let access = access(&request)?;
        let request = request.into_inner();
        let lines = follow(
            &self.state.decision_log,
            &request.from_id,
            Filter {
                tenant: access.tenant.id.clone(),
                instance: request.instance,
            },
        );
        let (sender, receiver) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut lines = lines;
            loop {
                // A client that went away ends both tasks at once, not at the next record.
                let next = tokio::select! {
                    next = lines.recv() => next,
                    () = sender.closed() => return,
                };
                let Some(next) = next else { return };
                let item = next.and_then(|(key, line)| {
                    let json = std::str::from_utf8(line.strip_suffix(b"\n").unwrap_or(&line[..]))
                        .map_err(|_| Status::internal("a decision record is not UTF-8"))?
                        .to_string();
                    Ok(proto::DecisionRecord {
                        id: key.id,
                        instance: key.instance,
                        json,
                    })
                });
                if sender.send(item).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Which records a follower wants.
struct Filter {
    tenant: String,
    instance: String,
}

/// Full key of a line, with its tenant for filtering.
#[derive(Deserialize)]
struct TenantOf {
    #[serde(default)]
    tenant: String,
}

/// Lines after `from_id` and then each new one matching `filter`, as they are written; ends with
/// an error when the follower fell too far behind (it resumes from the last id it received).
fn follow(
    log: &DecisionLog,
    from_id: &str,
    filter: Filter,
) -> mpsc::Receiver<Result<(RecordKey, SharedLine), Status>> {
    let (backlog, mut announced) = log.follow(from_id);
    let (sender, receiver) = mpsc::channel(256);
    let wanted = move |line: &SharedLine| -> Option<RecordKey> {
        let key = RecordKey::of(line)?;
        let tenant: TenantOf = serde_json::from_slice(line).ok()?;
        (tenant.tenant == filter.tenant
            && (filter.instance.is_empty() || key.instance == filter.instance))
            .then_some(key)
    };
    tokio::spawn(async move {
        for line in backlog {
            if let Some(key) = wanted(&line) {
                if sender.send(Ok((key, line))).await.is_err() {
                    return;
                }
            }
        }
        loop {
            let line = tokio::select! {
                line = announced.recv() => line,
                () = sender.closed() => return,
            };
            let item = match line {
                Ok(line) => match wanted(&line) {
                    Some(key) => Ok((key, line)),
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => Err(Status::resource_exhausted(
                    format!("the follower fell {missed} records behind; resume from the last id received"),
                )),
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let stop = item.is_err();
            if sender.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    receiver
}

/// Query parameters of the event stream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamQuery {
    /// Resume after this record id (the `Last-Event-ID` header does the same).
    pub from: Option<String>,
    /// Only this instance's records.
    pub instance: Option<String>,
}

/// `GET /api/v3/lictor/decisions/stream`: each record as an event whose id is the record id.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    crate::rest::QueryParams(query): crate::rest::QueryParams<StreamQuery>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let from = query
        .from
        .or_else(|| {
            headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        })
        .unwrap_or_default();
    let lines = follow(
        &state.decision_log,
        &from,
        Filter {
            tenant: access.tenant.id.clone(),
            instance: query.instance.unwrap_or_default(),
        },
    );
    let events = ReceiverStream::new(lines).map(|item| {
        Ok(match item {
            Ok((key, line)) => {
                let json = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line[..]))
                    .into_owned();
                Event::default().id(key.id).data(json)
            }
            Err(status) => Event::default().event("error").data(status.message()),
        })
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Follows a center's decisions over gRPC, calling `print` with each record's JSON once, forever:
/// after a dropped connection or a restart of the center it resumes after the last id received.
pub async fn tail(
    target: &str,
    ca_cert: Option<&std::path::Path>,
    from: Option<String>,
    instance: Option<String>,
    api_key: Option<String>,
    mut print: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut last = from.unwrap_or_default();
    let mut printed = std::collections::HashSet::new();
    let mut warned = false;
    loop {
        let result: Result<(), String> = async {
            let mut client = crate::decision_ship::connect(target, ca_cert).await?;
            let mut request = Request::new(proto::TailRequest {
                from_id: last.clone(),
                instance: instance.clone().unwrap_or_default(),
            });
            if let Some(key) = &api_key {
                let value = format!("basic {key}")
                    .parse()
                    .map_err(|_| "the API key is not a valid header value".to_string())?;
                request.metadata_mut().insert("authorization", value);
            }
            let mut records = client
                .tail(request)
                .await
                .map_err(|s| format!("{}: {}", s.code(), s.message()))?
                .into_inner();
            warned = false;
            while let Some(record) = records
                .message()
                .await
                .map_err(|s| format!("{}: {}", s.code(), s.message()))?
            {
                if printed.insert(record.id.clone()) {
                    print(&record.json).map_err(|e| format!("writing: {e}"))?;
                }
                last = record.id;
            }
            Err("the center ended the stream".into())
        }
        .await;
        if let Err(error) = result {
            if error.starts_with("writing:") {
                return Err(error);
            }
            if !warned {
                tracing::warn!(%error, "decision stream interrupted; reconnecting");
                warned = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
