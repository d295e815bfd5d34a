//! The gRPC face of the API ports: Topaz's directory v3 and authorizer v2 services, gRPC health and
//! server reflection. Requests with a `application/grpc` content type are routed here; everything
//! else goes to the REST gateways on the same port.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::server::AppState;
use crate::service::directory::Stamps;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http_body_util::BodyExt as _;
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_proto::directory::common::v3 as common;
use lictor_proto::wkt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt as _;

/// The gRPC services of one API port.
#[derive(Clone)]
pub struct GrpcRoutes {
    router: Router,
}

impl GrpcRoutes {
    /// Builds every service over the shared state.
    pub fn new(state: &Arc<AppState>) -> Result<GrpcRoutes, ApiError> {
        use lictor_proto::authorizer::v2::authorizer_server::AuthorizerServer;
        use lictor_proto::directory::exporter::v3::exporter_server::ExporterServer;
        use lictor_proto::directory::importer::v3::importer_server::ImporterServer;
        use lictor_proto::directory::model::v3::model_server::ModelServer;
        use lictor_proto::directory::reader::v3::reader_server::ReaderServer;
        use lictor_proto::directory::writer::v3::writer_server::WriterServer;

        let directory = crate::topaz::directory::grpc::DirectoryGrpc::new(state.clone());
        let authorizer = crate::topaz::authorizer::grpc::AuthorizerGrpc::new(state.clone());
        let (health_reporter, health) = tonic_health::server::health_reporter();
        for service in [
            "aserto.directory.reader.v3.Reader",
            "aserto.directory.writer.v3.Writer",
            "aserto.directory.model.v3.Model",
            "aserto.directory.importer.v3.Importer",
            "aserto.directory.exporter.v3.Exporter",
            "aserto.authorizer.v2.Authorizer",
            "lictor.decisions.v1.DecisionLogs",
            "lictor.replication.v1.Replication",
        ] {
            // The reporter's channel has no other writer; this resolves at once.
            let reporter = health_reporter.clone();
            tokio::spawn(async move {
                reporter
                    .set_service_status(service, tonic_health::ServingStatus::Serving)
                    .await;
            });
        }
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(lictor_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_error = |e: tonic_reflection::server::Error| {
            ApiError::new(crate::api_error::Code::Internal, format!("reflection: {e}"))
        };
        let mut router = Router::new();
        if let Some(cerbos) = &state.cerbos {
            router = router.route_service(
                &format!("/{}/{{*method}}", crate::cerbos::SERVICE_NAME),
                crate::cerbos::grpc::CerbosGrpc::server(cerbos.clone()),
            );
            let reporter = health_reporter.clone();
            tokio::spawn(async move {
                reporter
                    .set_service_status(
                        crate::cerbos::SERVICE_NAME,
                        tonic_health::ServingStatus::Serving,
                    )
                    .await;
            });
        }
        let router = router
            .route_service(
                "/aserto.directory.reader.v3.Reader/{*method}",
                ReaderServer::new(directory.clone()),
            )
            .route_service(
                "/aserto.directory.writer.v3.Writer/{*method}",
                WriterServer::new(directory.clone()),
            )
            .route_service(
                "/aserto.directory.model.v3.Model/{*method}",
                ModelServer::new(directory.clone()),
            )
            .route_service(
                "/aserto.directory.importer.v3.Importer/{*method}",
                ImporterServer::new(directory.clone()),
            )
            .route_service(
                "/aserto.directory.exporter.v3.Exporter/{*method}",
                ExporterServer::new(directory),
            )
            .route_service(
                "/aserto.authorizer.v2.Authorizer/{*method}",
                AuthorizerServer::new(authorizer),
            )
            .route_service(
                "/lictor.decisions.v1.DecisionLogs/{*method}",
                crate::decision_service::DecisionLogsGrpc::server(state.clone()),
            )
            .route_service(
                "/lictor.replication.v1.Replication/{*method}",
                crate::replication::ReplicationGrpc::server(),
            )
            .route_service("/grpc.health.v1.Health/{*method}", health)
            .route_service(
                "/grpc.reflection.v1.ServerReflection/{*method}",
                reflection().build_v1().map_err(reflection_error)?,
            )
            .route_service(
                "/grpc.reflection.v1alpha.ServerReflection/{*method}",
                reflection().build_v1alpha().map_err(reflection_error)?,
            )
            .fallback(unknown_service);
        Ok(GrpcRoutes { router })
    }
}

async fn unknown_service(request: Request) -> Response {
    ApiError::new(
        crate::api_error::Code::Unimplemented,
        format!("unknown gRPC method {}", request.uri().path()),
    )
    .grpc_response()
}

/// Sends gRPC requests to the services and counts them; other requests pass on to REST.
pub async fn dispatch(
    State((state, grpc)): State<(Arc<AppState>, GrpcRoutes)>,
    request: Request,
    next: Next,
) -> Response {
    if !crate::access::is_grpc(request.headers()) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let started = Instant::now();
    let request = request
        .map(|body| axum::body::Body::new(body.map_err(|error| BrokenRequestStream::of(&error))));
    let response = match grpc.router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let route = if is_known_method(&path) {
        path
    } else {
        "unmatched".into()
    };
    // Unary errors come back trailers-only, with the status in the headers; any other answer has it
    // in the trailers, counted when they are sent.
    let trailers_only = crate::grpc_trailers::status_in(response.headers());
    let count = move |code: i32| {
        let code = crate::api_error::grpc_code_name(code);
        state.metrics.grpc_request(&route, code, started.elapsed());
    };
    match trailers_only {
        Some(code) => {
            count(code);
            response
        }
        None => response.map(|body| crate::grpc_trailers::report_status(body, count)),
    }
}

/// A request stream that broke off before its end: the client cancelled or reset it, or the
/// connection failed. tonic takes a request stream that the client cancelled for one that ended
/// cleanly, which would let a client-streaming call (Import, SetManifest) act on part of its input.
/// This error keeps the cause as text only, with no source for tonic to recognise, so that the
/// service sees the failure it is.
#[derive(Debug)]
struct BrokenRequestStream(String);

impl BrokenRequestStream {
    fn of(error: &axum::Error) -> BrokenRequestStream {
        BrokenRequestStream(crate::error::with_causes(error))
    }
}

impl std::fmt::Display for BrokenRequestStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request stream broke off: {}", self.0)
    }
}

impl std::error::Error for BrokenRequestStream {}

/// Whether `path` names a method of one of the services, so metrics labels stay bounded.
fn is_known_method(path: &str) -> bool {
    let Some((service, method)) = path.trim_start_matches('/').split_once('/') else {
        return false;
    };
    let known: &[(&str, &[&str])] = &[
        (
            "aserto.directory.reader.v3.Reader",
            &[
                "GetObject",
                "GetObjectMany",
                "GetObjects",
                "GetRelation",
                "GetRelations",
                "Check",
                "Checks",
                "CheckPermission",
                "CheckRelation",
                "GetGraph",
            ],
        ),
        (
            "aserto.directory.writer.v3.Writer",
            &["SetObject", "DeleteObject", "SetRelation", "DeleteRelation"],
        ),
        (
            "aserto.directory.model.v3.Model",
            &["GetManifest", "SetManifest", "DeleteManifest"],
        ),
        ("aserto.directory.importer.v3.Importer", &["Import"]),
        ("aserto.directory.exporter.v3.Exporter", &["Export"]),
        (
            "aserto.authorizer.v2.Authorizer",
            &[
                "DecisionTree",
                "Is",
                "Query",
                "Compile",
                "ListPolicies",
                "GetPolicy",
                "Info",
            ],
        ),
        (
            crate::cerbos::SERVICE_NAME,
            &["CheckResources", "PlanResources", "ServerInfo"],
        ),
        ("grpc.health.v1.Health", &["Check", "Watch"]),
        (
            "grpc.reflection.v1.ServerReflection",
            &["ServerReflectionInfo"],
        ),
        (
            "grpc.reflection.v1alpha.ServerReflection",
            &["ServerReflectionInfo"],
        ),
    ];
    known
        .iter()
        .any(|(s, methods)| *s == service && methods.contains(&method))
}

/// The caller's access, resolved by the access layer before any service runs.
pub fn access<T>(request: &tonic::Request<T>) -> Result<Access, tonic::Status> {
    request
        .extensions()
        .get::<Access>()
        .cloned()
        .ok_or_else(|| tonic::Status::internal("the request passed no access check"))
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> tonic::Status {
        use tonic_types::StatusExt as _;
        let code = tonic::Code::from_i32(error.code as i32);
        match error.reason {
            // The same google.rpc.ErrorInfo the REST body carries, in `grpc-status-details-bin`.
            Some(reason) => tonic::Status::with_error_details(
                code,
                error.message,
                tonic_types::ErrorDetails::with_error_info(
                    reason,
                    "lictor",
                    std::collections::HashMap::new(),
                ),
            ),
            None => tonic::Status::new(code, error.message),
        }
    }
}

/// A JSON object as a protobuf `Struct`; anything but an object gives an empty one.
pub fn to_struct(value: &Value) -> Option<wkt::Struct> {
    match value {
        Value::Object(_) => serde_json::from_value(value.clone()).ok(),
        _ => None,
    }
}

/// A protobuf `Struct` as JSON (`{}` when absent).
pub fn from_struct(value: Option<&wkt::Struct>) -> Value {
    value
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
}

/// Unix microseconds as a protobuf `Timestamp`.
pub fn timestamp(micros: u64) -> wkt::Timestamp {
    wkt::Timestamp {
        seconds: i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX),
        nanos: i32::try_from((micros % 1_000_000) * 1_000).unwrap_or(0),
    }
}

/// An object record as its message, with its timestamps when known.
pub fn object_message(object: &ObjectRecord, stamps: Option<Stamps>) -> common::Object {
    common::Object {
        r#type: object.object_type.clone(),
        id: object.id.clone(),
        display_name: object.display_name.clone(),
        properties: to_struct(&object.properties).or_else(|| Some(wkt::Struct::default())),
        created_at: stamps.map(|s| timestamp(s.created_at)),
        updated_at: stamps.map(|s| timestamp(s.updated_at)),
        etag: object.etag.clone(),
    }
}

/// An object message as a record.
pub fn object_record(object: common::Object) -> ObjectRecord {
    ObjectRecord {
        properties: from_struct(object.properties.as_ref()),
        object_type: object.r#type,
        id: object.id,
        display_name: object.display_name,
        etag: object.etag,
    }
}

/// A relation record as its message, with its timestamps when known.
pub fn relation_message(relation: &RelationRecord, stamps: Option<Stamps>) -> common::Relation {
    common::Relation {
        object_type: relation.object_type.clone(),
        object_id: relation.object_id.clone(),
        relation: relation.relation.clone(),
        subject_type: relation.subject_type.clone(),
        subject_id: relation.subject_id.clone(),
        subject_relation: relation.subject_relation.clone(),
        created_at: stamps.map(|s| timestamp(s.created_at)),
        updated_at: stamps.map(|s| timestamp(s.updated_at)),
        etag: relation.etag(),
    }
}

/// A relation message as a record, and the etag it carries.
pub fn relation_record(relation: common::Relation) -> (RelationRecord, String) {
    (
        RelationRecord {
            object_type: relation.object_type,
            object_id: relation.object_id,
            relation: relation.relation,
            subject_type: relation.subject_type,
            subject_id: relation.subject_id,
            subject_relation: relation.subject_relation,
        },
        relation.etag,
    )
}
