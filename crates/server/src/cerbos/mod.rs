//! Cerbos's policy decision API (`cerbos.svc.v1.CerbosService` over gRPC and REST) served from a
//! Cerbos disk store: its configuration, the service layer, the transports and the listeners of
//! Cerbos's own ports (where, as in Cerbos, the HTTP port answers gRPC too).

pub mod aux_data;
pub mod config;
pub mod engine;
pub mod explain;
pub mod grpc;
pub(crate) mod mapping;
mod relations;
pub mod rest;
pub mod service;
pub mod store;
pub mod validate;

pub use config::CerbosSettings;
pub use service::CerbosApi;

use crate::api_error::{ApiError, Code};
use crate::listener::{self, ConnectionLimits, Transport};
use crate::server::BoundPort;
use crate::ServerError;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// The full name of Cerbos's service.
pub const SERVICE_NAME: &str = "cerbos.svc.v1.CerbosService";

/// The gRPC services of a Cerbos port: `CerbosService`, gRPC health and server reflection.
pub fn grpc_routes(api: &Arc<CerbosApi>) -> Result<Router, ServerError> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        health_reporter
            .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    });
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(lictor_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_error =
        |e: tonic_reflection::server::Error| ServerError::Grpc(format!("reflection: {e}"));
    Ok(Router::new()
        .route_service(
            &format!("/{SERVICE_NAME}/{{*method}}"),
            grpc::CerbosGrpc::server(api.clone()),
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
        .fallback(unknown_grpc_method))
}

async fn unknown_grpc_method(request: Request) -> Response {
    ApiError::new(
        Code::Unimplemented,
        format!("unknown gRPC method {}", request.uri().path()),
    )
    .grpc_response()
}

async fn unknown_path(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no REST path {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// The router of a Cerbos port: gRPC requests (by content type) to the gRPC services, the others to
/// the REST routes.
pub fn port_router(api: &Arc<CerbosApi>) -> Result<Router, ServerError> {
    let grpc = grpc_routes(api)?;
    let rest = rest::routes(api.clone()).fallback(unknown_path);
    Ok(
        Router::new().fallback_service(tower::service_fn(move |request: Request| {
            let target = if crate::access::is_grpc(request.headers()) {
                grpc.clone()
            } else {
                rest.clone()
            };
            async move { target.oneshot(request).await }
        })),
    )
}

/// Binds Cerbos's configured ports (`server.httpListenAddr`, `server.grpcListenAddr`) and serves
/// them, and starts the policy watcher when `watchForChanges` is on; everything ends when `shutdown`
/// turns true.
pub async fn serve_ports(
    api: &Arc<CerbosApi>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(Vec<BoundPort>, Vec<JoinHandle<()>>), ServerError> {
    let router = port_router(api)?;
    let settings = api.settings();
    let plan = [
        ("cerbos-http", settings.http_listen),
        ("cerbos-grpc", settings.grpc_listen),
    ];
    let mut ports = Vec::new();
    let mut sockets = Vec::new();
    for (name, address) in plan {
        let Some(address) = address else { continue };
        let socket = listener::bind(address).await?;
        let address = socket
            .local_addr()
            .map_err(|source| ServerError::Bind { address, source })?;
        ports.push(BoundPort { name, address });
        sockets.push(socket);
    }
    let plain = Transport {
        tls: None,
        plaintext: true,
        limits: ConnectionLimits::default(),
    };
    let mut tasks: Vec<JoinHandle<()>> = sockets
        .into_iter()
        .map(|socket| {
            tokio::spawn(listener::serve(
                socket,
                router.clone(),
                plain.clone(),
                shutdown.clone(),
                Duration::from_secs(10),
            ))
        })
        .collect();
    tasks.extend(api.store().watch(shutdown.clone()));
    Ok((ports, tasks))
}

/// A server of Cerbos's API alone, started by [`start`].
pub struct CerbosServer {
    /// The bound ports.
    pub ports: Vec<BoundPort>,
    /// The service.
    pub api: Arc<CerbosApi>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl CerbosServer {
    /// Stops accepting, lets open requests finish, and returns when every listener is closed.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Serves Cerbos's API alone, as `cerbos server` does: its ports only, no directory. Decisions go
/// to a decision log of `decision_logs` when `audit.enabled` is on.
pub async fn start(
    settings: CerbosSettings,
    decision_logs: &crate::config::DecisionLogs,
) -> Result<CerbosServer, ServerError> {
    warn_ignored(&settings);
    let decision_logs = crate::config::DecisionLogs {
        enabled: settings.audit_enabled,
        // Standalone Cerbos serving has no shipping task.
        ship_to: None,
        ..decision_logs.clone()
    };
    let decision_log = crate::decision_log::DecisionLog::start(
        &decision_logs,
        &crate::Config::default().instance_name(),
        std::path::Path::new("lictor-data"),
    )?;
    let limits = crate::metrics::EvaluationLimits::default();
    let api = Arc::new(CerbosApi::new(settings, decision_log, None, limits).map_err(start_error)?);
    let (shutdown, watcher) = watch::channel(false);
    let (ports, tasks) = serve_ports(&api, &watcher).await?;
    Ok(CerbosServer {
        ports,
        api,
        shutdown,
        tasks,
    })
}

/// Logs one warning per configuration key Lictor does not act on.
pub fn warn_ignored(settings: &CerbosSettings) {
    for key in &settings.ignored_keys {
        tracing::warn!(key = %key, "Cerbos configuration key not supported by Lictor; ignored");
    }
}

/// The start-up error of a Cerbos API that could not be built.
pub fn start_error(error: service::CerbosStartError) -> ServerError {
    ServerError::Cerbos(error.to_string())
}
