//! Who may call what: the `aserto-tenant-id` header picks the tenant, the `authorization` header's
//! API key (`basic <key>` or `Bearer <key>`) grants scopes within its tenant. A layer around both
//! transports; handlers read the result from the request's extensions.

use crate::api_error::{ApiError, Code};
use crate::config::{ApiKey, Scope};
use crate::consistency;
use crate::tenant::{Tenant, Tenants};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

/// The header naming the tenant.
pub const TENANT_HEADER: &str = "aserto-tenant-id";

/// What a request may do, for which tenant.
#[derive(Clone)]
pub struct Access {
    /// The tenant the request acts on.
    pub tenant: Arc<Tenant>,
    /// Scopes granted (every scope when no keys are configured).
    pub scopes: Vec<Scope>,
    /// The request id, for logs.
    pub request_id: Arc<str>,
}

impl Access {
    /// Fails unless `scope` (or admin) was granted.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::PermissionDenied,
                format!("the API key lacks the {scope:?} scope").to_lowercase(),
            ))
        }
    }
}

/// The keys and tenants a request is checked against.
pub struct AccessPolicy {
    keys: HashMap<String, ApiKey>,
    tenants: Arc<Tenants>,
    revision_wait: Duration,
}

impl AccessPolicy {
    /// Keys from the configuration.
    pub fn new(keys: &[ApiKey], tenants: Arc<Tenants>) -> AccessPolicy {
        AccessPolicy {
            keys: keys.iter().map(|k| (k.key.clone(), k.clone())).collect(),
            tenants,
            revision_wait: Duration::from_secs(1),
        }
    }

    /// Sets how long a request naming a revision (`x-lictor-min-revision`) waits for it.
    pub fn with_revision_wait(mut self, wait: Duration) -> AccessPolicy {
        self.revision_wait = wait;
        self
    }

    /// Resolves the tenant and the granted scopes of a request's headers.
    pub fn resolve(&self, headers: &HeaderMap) -> Result<(Arc<Tenant>, Vec<Scope>), ApiError> {
        let named = headers
            .get(TENANT_HEADER)
            .map(|v| {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| ApiError::invalid(format!("{TENANT_HEADER} is not ASCII")))
            })
            .transpose()?
            .filter(|v| !v.is_empty());
        if self.keys.is_empty() {
            let tenant = self.tenant(named)?;
            return Ok((
                tenant,
                vec![Scope::Read, Scope::Write, Scope::Admin, Scope::Scim],
            ));
        }
        let credential = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthenticated,
                    "missing authorization header (basic <api-key> or Bearer <api-key>)",
                )
            })?;
        let key = credential
            .split_once(' ')
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("bearer")
            })
            .map(|(_, key)| key.trim())
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthenticated,
                    "authorization header must be basic <api-key> or Bearer <api-key>",
                )
            })?;
        let Some(grant) = self.keys.get(key) else {
            return Err(ApiError::new(Code::Unauthenticated, "unknown API key"));
        };
        match named {
            Some(name) if name != grant.tenant => Err(ApiError::new(
                Code::PermissionDenied,
                format!("the API key does not belong to tenant {name:?}"),
            )),
            _ => Ok((self.tenant(Some(&grant.tenant))?, grant.scopes.clone())),
        }
    }

    fn tenant(&self, name: Option<&str>) -> Result<Arc<Tenant>, ApiError> {
        match name.filter(|n| !n.is_empty()) {
            None => Ok(self.tenants.default_tenant()),
            Some(name) => self
                .tenants
                .get(name)
                .ok_or_else(|| ApiError::not_found(format!("unknown tenant {name:?}"))),
        }
    }
}

/// Whether a request spoke gRPC, so errors can answer in kind.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// The scope a call needs, from its gRPC or REST path.
pub fn required_scope(method: &Method, path: &str) -> Scope {
    if let Some(grpc) = path.strip_prefix('/').filter(|p| p.starts_with("aserto.")) {
        return if grpc.starts_with("aserto.directory.writer.")
            || grpc.starts_with("aserto.directory.importer.")
        {
            Scope::Write
        } else if grpc.starts_with("aserto.directory.model.") && !grpc.ends_with("/GetManifest") {
            Scope::Admin
        } else {
            Scope::Read
        };
    }
    if path.starts_with("/scim/") {
        return Scope::Scim;
    }
    let writes = *method != Method::GET && *method != Method::HEAD;
    if path.starts_with("/api/v3/directory/manifest") && writes {
        Scope::Admin
    } else if (path.starts_with("/api/v3/directory/object")
        || path.starts_with("/api/v3/directory/relation")
        || path.starts_with("/api/v3/directory/import")
        || path.starts_with("/api/v3/lictor/import"))
        && writes
    {
        Scope::Write
    } else {
        Scope::Read
    }
}

/// The layer: resolves access, checks the path's scope, and stores [`Access`] for handlers.
pub async fn layer(
    State(policy): State<Arc<AccessPolicy>>,
    mut request: Request,
    next: Next,
) -> Response {
    let grpc = is_grpc(request.headers());
    // Health and reflection are public, as in Topaz: probes and tools carry no key.
    let path = request.uri().path();
    if grpc && (path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")) {
        return next.run(request).await;
    }
    // The caller's request id (bounded, printable) or a new one; every answer carries it back.
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(new_request_id, Arc::from);
    // What the request's log line needs, kept only when that line will be written.
    let logged = tracing::enabled!(target: "lictor::request", tracing::Level::INFO).then(|| {
        (
            std::time::Instant::now(),
            request.method().clone(),
            request.uri().path().to_string(),
        )
    });
    let scope = required_scope(request.method(), request.uri().path());
    // SCIM clients read SCIM's error bodies.
    let scim = scope == Scope::Scim;
    let resolved = policy
        .resolve(request.headers())
        .and_then(|(tenant, scopes)| {
            let access = Access {
                tenant,
                scopes,
                request_id: request_id.clone(),
            };
            access.require(scope)?;
            if let (Scope::Write | Scope::Admin, Some(center)) = (scope, &access.tenant.follows) {
                // An edge replica's directory is the center's copy: a write here would be lost.
                return Err(ApiError::new(
                    Code::FailedPrecondition,
                    format!("this Lictor is an edge replica following {center}: write to the center, and the change arrives here"),
                ));
            }
            Ok(access)
        });
    let tenant = resolved
        .as_ref()
        .ok()
        .map(|access| Arc::clone(&access.tenant));
    let mut response = match resolved {
        Ok(access) => {
            let span = crate::logging::request_span(request.headers(), request.uri().path());
            span.record("request_id", &*request_id);
            span.record("tenant", access.tenant.id.as_str());
            let tenant = Arc::clone(&access.tenant);
            let fresh = match consistency::min_revision(request.headers()) {
                Ok(Some(wanted)) => {
                    consistency::wait_for(&tenant, wanted, policy.revision_wait).await
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            request.extensions_mut().insert(access);
            match fresh {
                Ok(()) => {
                    let mut response = next.run(request).instrument(span).await;
                    if matches!(scope, Scope::Write | Scope::Admin) && succeeded(&response) {
                        // The revision published after the write, which holds it.
                        response.headers_mut().insert(
                            consistency::REVISION_HEADER,
                            consistency::revision_value(tenant.store.revision()),
                        );
                        if grpc && crate::grpc_trailers::status_in(response.headers()).is_none() {
                            // A stream's write commits after its headers: its trailers say when.
                            let tenant = Arc::clone(&tenant);
                            response = response.map(|body| {
                                crate::grpc_trailers::add_revision_trailer(body, move || {
                                    tenant.store.revision().to_string()
                                })
                            });
                        }
                    }
                    response
                }
                Err(error) if grpc => error.grpc_response(),
                Err(error) if scim => crate::scim::ScimError::from(error).into_response(),
                Err(error) => error.into_response(),
            }
        }
        Err(error) if grpc => error.grpc_response(),
        Err(error) if scim => crate::scim::ScimError::from(error).into_response(),
        Err(error) => error.into_response(),
    };
    if let Ok(value) = axum::http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if let Some((started, method, path)) = logged {
        let tenant = tenant.as_ref().map_or("-", |t| t.id.as_str()).to_string();
        let line = RequestLine {
            request_id,
            tenant,
            method,
            path,
            status: response.status().as_u16(),
            started,
        };
        let trailers_only = crate::grpc_trailers::status_in(response.headers());
        match (grpc, trailers_only) {
            (false, _) => line.rest(),
            (true, Some(code)) => line.grpc(code),
            // The status comes in the trailers, after the body: logged when they are sent.
            (true, None) => {
                response = response.map(|body| {
                    crate::grpc_trailers::report_status(body, move |code| line.grpc(code))
                });
            }
        }
    }
    response
}

/// Whether an answer is a success: a 2xx status without an error status in gRPC's headers.
fn succeeded(response: &Response) -> bool {
    let headers = response.headers();
    response.status().is_success()
        && (!headers.contains_key("grpc-status")
            || crate::grpc_trailers::status_in(headers) == Some(0))
}

/// What the one log line of a request says.
struct RequestLine {
    request_id: Arc<str>,
    tenant: String,
    method: Method,
    path: String,
    status: u16,
    started: std::time::Instant,
}

impl RequestLine {
    fn latency_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A gRPC request's line, with its final status code (from the headers of a trailers-only
    /// answer, or from the trailers); the latency runs to that status.
    fn grpc(self, code: i32) {
        tracing::info!(
            target: "lictor::request",
            request_id = &*self.request_id,
            tenant = self.tenant,
            transport = "grpc",
            method = self.path,
            status = self.status,
            grpc_code = code,
            latency_us = self.latency_us(),
            "request"
        );
    }

    fn rest(self) {
        tracing::info!(
            target: "lictor::request",
            request_id = &*self.request_id,
            tenant = self.tenant,
            transport = "rest",
            method = %self.method,
            path = self.path,
            status = self.status,
            latency_us = self.latency_us(),
            "request"
        );
    }
}

fn new_request_id() -> Arc<str> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    Arc::from(format!(
        "{:x}-{:x}",
        crate::clock::unix_micros(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}
