//! Starting and stopping the server: open tenants, bind every port, serve until told to stop.

use crate::access::{self, AccessPolicy};
use crate::config::Config;
use crate::decision_log::DecisionLog;
use crate::jwt::TokenVerifier;
use crate::listener::{self, Transport};
use crate::metrics::Metrics;
use crate::tenant::Tenants;
use crate::{tls, ServerError};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// State every handler shares.
pub struct AppState {
    /// The configuration the server started with.
    pub config: Config,
    /// Tenants and their stores.
    pub tenants: Arc<Tenants>,
    /// The audit trail.
    pub decision_log: DecisionLog,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// JWT verification.
    pub tokens: TokenVerifier,
    /// When the server started.
    pub started: Instant,
    /// Room for ad-hoc Query and Compile evaluations running at once.
    pub queries: Arc<tokio::sync::Semaphore>,
    /// Cerbos's API, when the configuration has a `cerbos` section.
    pub cerbos: Option<Arc<crate::cerbos::CerbosApi>>,
    /// What an edge replica knows of the center it follows.
    pub edge: Option<Arc<crate::edge::EdgeStatus>>,
}

/// A listening port and what it is for.
#[derive(Debug, Clone)]
pub struct BoundPort {
    /// `authorizer-grpc`, `directory-rest`, `health`, …
    pub name: &'static str,
    /// Where it listens.
    pub address: SocketAddr,
}

/// A started server.
pub struct Running {
    /// The bound ports.
    pub ports: Vec<BoundPort>,
    /// The CA certificate clients may trust, when TLS is on.
    pub ca_cert: Option<PathBuf>,
    /// Shared state.
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets open requests finish, and returns when every listener is closed.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// How the API router is built from the shared state; supplied by the transport modules.
pub type ApiRoutes = fn(Arc<AppState>) -> Result<Router, ServerError>;

/// The shared state and the API router over it, without listeners: what [`start`] serves, and what
/// an in-process caller (`lictor test`) sends requests to.
pub struct Service {
    /// Shared state.
    pub state: Arc<AppState>,
    /// The API router with the access layer and body limit, as every API port serves it.
    pub api: Router,
    shutdown: watch::Sender<bool>,
    /// Policy reloading, key refresh, decision shipping.
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Serves one request in process, as an API port would.
    pub async fn call(&self, request: axum::extract::Request) -> axum::response::Response {
        match tower::ServiceExt::oneshot(self.api.clone(), request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// Stops the background tasks and returns when they have ended.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens everything the configuration names (tenants, policies, decision log, token keys) and
/// builds the API router, binding no port.
pub async fn open(
    config: Config,
    config_path: PathBuf,
    api_routes: ApiRoutes,
) -> Result<Service, ServerError> {
    let tenants = Arc::new(Tenants::open(&config)?);
    crate::scim::check_mappings(&config, &tenants, &config_path)?;
    let (shutdown, watcher) = watch::channel(false);
    let counters = Metrics::new();
    let reload_tasks =
        crate::policy_source::load_all(&config, &tenants, &watcher, &counters.policy_reloads())
            .await?;
    let decision_log = DecisionLog::start(
        &config.decision_logs,
        &config.instance_name(),
        &config.data_dir,
    )?;
    let ship_task = crate::decision_ship::spawn(&config.decision_logs, &decision_log, &watcher);
    let tokens = TokenVerifier::new(&config.jwt, &config_path)?;
    let key_refresh: Vec<_> = tokens
        .remote_keys()
        .into_iter()
        .map(|remote| tokio::spawn(remote.refresh(watcher.clone())))
        .collect();
    let cerbos = match &config.cerbos {
        Some(settings) => {
            crate::cerbos::warn_ignored(settings);
            let settings = crate::cerbos::CerbosSettings {
                evaluation_timeout: config.limits.evaluation().timeout,
                ..settings.clone()
            };
            let api = crate::cerbos::CerbosApi::new(
                settings,
                decision_log.clone(),
                Some(tenants.default_tenant()),
                counters.evaluation_limits(),
            )
            .map_err(crate::cerbos::start_error)?;
            Some(Arc::new(api))
        }
        None => None,
    };
    let (edge_task, edge) = match &config.follow {
        Some(follow) => {
            let (task, status) = crate::edge::spawn(
                follow,
                tenants.default_tenant(),
                &config.data_dir,
                watcher.clone(),
            );
            (Some(task), Some(status))
        }
        None => (None, None),
    };
    let state = Arc::new(AppState {
        cerbos,
        edge,
        tenants: tenants.clone(),
        decision_log,
        metrics: counters,
        tokens,
        started: Instant::now(),
        queries: Arc::new(tokio::sync::Semaphore::new(
            config.limits.concurrent_queries(),
        )),
        config,
    });
    let config = &state.config;
    let access_policy = Arc::new(
        AccessPolicy::new(&config.api_keys, tenants).with_revision_wait(
            std::time::Duration::from_millis(config.limits.min_revision_wait_ms),
        ),
    );
    let api = api_routes(state.clone())?
        .layer(axum::middleware::from_fn_with_state(
            access_policy,
            access::layer,
        ))
        .layer(DefaultBodyLimit::max(config.listen.max_body_bytes));
    let sync_tasks = crate::idp_sync::spawn(
        &config.sync,
        &state.tenants.default_tenant(),
        &config.data_dir,
        &watcher,
    );
    let tasks = reload_tasks
        .into_iter()
        .chain(key_refresh)
        .chain(ship_task)
        .chain(edge_task)
        .chain(sync_tasks)
        .collect();
    Ok(Service {
        state,
        api,
        shutdown,
        tasks,
    })
}

/// Opens everything the configuration names and starts serving.
pub async fn start(
    config: Config,
    config_path: PathBuf,
    api_routes: ApiRoutes,
) -> Result<Running, ServerError> {
    let Service {
        state,
        api,
        shutdown,
        tasks: service_tasks,
    } = open(config, config_path.clone(), api_routes).await?;
    let watcher = shutdown.subscribe();
    let config = &state.config;

    let (tls_config, ca_cert) = if config.tls.enabled {
        let (cert, key, ca) = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), None),
            (None, None) => {
                let paths = tls::generate(&config.data_dir.join("certs"), false)?;
                (paths.cert, paths.key, Some(paths.ca))
            }
            _ => {
                return Err(ServerError::Config {
                    path: config_path,
                    line: None,
                    message: "tls.cert_file and tls.key_file must be given together".into(),
                })
            }
        };
        (Some(tls::server_config(&cert, &key)?), ca)
    } else {
        (None, None)
    };
    let api_transport = Transport {
        tls: tls_config,
        plaintext: config.tls.plaintext || !config.tls.enabled,
        limits: config.limits.connections(),
    };
    let plain = Transport {
        tls: None,
        plaintext: true,
        limits: config.limits.connections(),
    };

    // Topaz's health port speaks gRPC health (for grpc_health_probe and Kubernetes gRPC probes);
    // `/healthz` serves HTTP probes.
    let (_, grpc_health) = tonic_health::server::health_reporter();
    let health = Router::new()
        .route("/healthz", get(healthz))
        .route("/health", get(healthz))
        .route_service("/grpc.health.v1.Health/{*method}", grpc_health)
        .with_state(state.clone());
    let metrics = Router::new()
        .route("/metrics", get(metrics))
        .with_state(state.clone());

    let listen = &config.listen;
    let at = |port: u16| SocketAddr::new(listen.address, port);
    let console = config
        .console
        .enabled
        .then(|| crate::console::routes(&config.console, api.clone()));
    let mut plan: Vec<(&'static str, u16, &Router, &Transport)> = vec![
        (
            "authorizer-grpc",
            listen.authorizer_grpc,
            &api,
            &api_transport,
        ),
        (
            "authorizer-rest",
            listen.authorizer_rest,
            &api,
            &api_transport,
        ),
        (
            "directory-grpc",
            listen.directory_grpc,
            &api,
            &api_transport,
        ),
        (
            "directory-rest",
            listen.directory_rest,
            &api,
            &api_transport,
        ),
        ("health", listen.health, &health, &plain),
        ("metrics", listen.metrics, &metrics, &plain),
    ];
    if let Some(console) = &console {
        plan.push(("console", config.console.port, console, &api_transport));
    }
    let mut ports = Vec::new();
    let mut bound = Vec::new();
    for (name, port, router, transport) in plan {
        let socket = listener::bind(at(port)).await?;
        let address = socket.local_addr().map_err(|source| ServerError::Bind {
            address: at(port),
            source,
        })?;
        ports.push(BoundPort { name, address });
        bound.push((socket, router.clone(), transport.clone()));
    }
    let mut cerbos_tasks = Vec::new();
    if let Some(cerbos) = &state.cerbos {
        let (cerbos_ports, tasks) = crate::cerbos::serve_ports(cerbos, &watcher).await?;
        ports.extend(cerbos_ports);
        cerbos_tasks = tasks;
    }
    let tasks = service_tasks
        .into_iter()
        .chain(cerbos_tasks)
        .chain(bound.into_iter().map(|(socket, router, transport)| {
            tokio::spawn(listener::serve(
                socket,
                router,
                transport,
                watcher.clone(),
                Duration::from_secs(10),
            ))
        }))
        .collect();
    Ok(Running {
        ports,
        ca_cert,
        state,
        shutdown,
        tasks,
    })
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let tenant = state.tenants.default_tenant();
    let mut health = serde_json::json!({
        "status": "SERVING",
        "uptime_seconds": state.started.elapsed().as_secs(),
        "directory_revision": tenant.store.revision(),
        "directory_lag": tenant.store.lag(),
    });
    if let (Some(edge), Some(fields)) = (&state.edge, health.as_object_mut()) {
        use std::sync::atomic::Ordering;
        fields.insert(
            "follow".to_string(),
            serde_json::json!({
                "center": edge.url,
                "connected": edge.connected.load(Ordering::Relaxed),
                "applied_revision": edge.applied.load(Ordering::Relaxed),
                "center_revision": edge.central.load(Ordering::Relaxed),
                "lag": edge.lag(),
            }),
        );
    }
    axum::Json(health)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state
            .metrics
            .render(&state.decision_log, &state.tenants.default_tenant().store),
    )
}
