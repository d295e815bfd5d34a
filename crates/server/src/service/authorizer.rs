//! The authorizer service, independent of transport: resolves the caller's identity to a directory
//! user, builds Rego's `input` as Topaz does, and asks the tenant's policies for decisions.

use crate::api_error::{ApiError, Code};
use crate::decision_log::{DecisionEntry, IdentityRecord, Outcomes, Resource, Text};
use crate::server::AppState;
use crate::tenant::Tenant;
use lictor_directory::Directory;
use lictor_policy::{DecisionTree, EvalContext, LimitKind, PathSeparator, PolicyError, PolicySet};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// How the caller names its identity (Topaz's `IdentityType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentityType {
    /// Nobody: anonymous.
    #[default]
    None,
    /// A subject id resolved through the directory's identities.
    Sub,
    /// A JWT, verified, whose `sub` is resolved like [`IdentityType::Sub`].
    Jwt,
    /// An identity passed to the policy as-is, not resolved.
    Manual,
}

impl IdentityType {
    /// The enum name Topaz uses on the wire.
    pub fn name(self) -> &'static str {
        match self {
            IdentityType::None => "IDENTITY_TYPE_NONE",
            IdentityType::Sub => "IDENTITY_TYPE_SUB",
            IdentityType::Jwt => "IDENTITY_TYPE_JWT",
            IdentityType::Manual => "IDENTITY_TYPE_MANUAL",
        }
    }
}

/// The caller's identity as the request gives it.
#[derive(Debug, Clone, Default)]
pub struct IdentityContext {
    /// Its kind.
    pub kind: IdentityType,
    /// The subject id, token or manual value.
    pub identity: String,
}

/// A decision request, common to Is and DecisionTree.
#[derive(Debug, Clone, Default)]
pub struct DecisionRequest {
    /// Who asks.
    pub identity: IdentityContext,
    /// The policy path (Is) or root (DecisionTree).
    pub path: String,
    /// Decisions wanted (`allowed`, `visible`, …).
    pub decisions: Vec<String>,
    /// The resource context.
    pub resource: Value,
}

/// What identity resolution found.
struct Resolved {
    input_identity: Value,
    user: Option<Value>,
    record: IdentityRecord,
    /// How the user was found, for explanations.
    via: &'static str,
}

pub(crate) fn policy_error(state: &AppState, error: PolicyError) -> ApiError {
    let code = match &error {
        PolicyError::UnknownPolicy { .. } => Code::NotFound,
        PolicyError::InvalidPath { .. } | PolicyError::Query { .. } => Code::InvalidArgument,
        PolicyError::Identity { .. } => Code::FailedPrecondition,
        PolicyError::Limit { kind, .. } => {
            let (code, limit) = match kind {
                LimitKind::Time => (Code::DeadlineExceeded, "time"),
                LimitKind::Memory => (Code::ResourceExhausted, "memory"),
            };
            state.metrics.evaluation_limit(limit);
            code
        }
        _ => Code::Internal,
    };
    ApiError::new(code, error.to_string())
}

/// The span of one policy evaluation, for traces.
pub(crate) fn evaluation_span(target: &str) -> tracing::Span {
    tracing::debug_span!(target: crate::logging::TRACE_TARGET, "policy.evaluate", target)
}

/// An evaluation context on `directory` under the configured limits.
pub(crate) fn context(state: &AppState, directory: Arc<Directory>, input: Value) -> EvalContext {
    EvalContext::new(directory, input).with_limits(state.config.limits.evaluation())
}

/// The tenant's current policies, or an error saying none are loaded.
pub fn policies(tenant: &Tenant) -> Result<Arc<PolicySet>, ApiError> {
    tenant.policies.load_full().ok_or_else(|| {
        ApiError::new(
            Code::FailedPrecondition,
            "no policies are loaded (configure policies.dir or policies.bundle)",
        )
    })
}

fn resolve(
    state: &AppState,
    directory: &Directory,
    identity: &IdentityContext,
) -> Result<Resolved, ApiError> {
    let _span = tracing::debug_span!(
        target: crate::logging::TRACE_TARGET,
        "identity",
        kind = identity.kind.name()
    )
    .entered();
    let input_identity = json!({
        "type": identity.kind.name(),
        "identity": identity.identity,
    });
    let subject = match identity.kind {
        IdentityType::None => {
            return Ok(Resolved {
                input_identity,
                user: None,
                record: IdentityRecord {
                    kind: identity.kind.name().into(),
                    value: String::new(),
                },
                via: "anonymous: no user is looked up",
            })
        }
        IdentityType::Manual => {
            return Ok(Resolved {
                input_identity,
                user: None,
                record: IdentityRecord {
                    kind: identity.kind.name().into(),
                    value: identity.identity.clone(),
                },
                via: "manual: the identity is passed to the policy as given",
            })
        }
        IdentityType::Sub => {
            if identity.identity.is_empty() {
                return Err(ApiError::invalid(
                    "identity_context.identity is required for IDENTITY_TYPE_SUB",
                ));
            }
            (identity.identity.clone(), identity.identity.clone())
        }
        IdentityType::Jwt => {
            let token = state.tokens.verify(&identity.identity).map_err(|e| {
                ApiError::new(Code::Unauthenticated, e.to_string()).with_reason("INVALID_JWT")
            })?;
            // The audit trail keeps who signed and for whom, never the token.
            let logged = format!("{}|{}", token.issuer, token.subject);
            (token.subject, logged)
        }
    };
    let (subject, logged) = subject;
    let user =
        lictor_policy::resolve_user(directory, &subject).map_err(|e| policy_error(state, e))?;
    let mut via = "an identity object naming the subject, through its `identifier` relation";
    // A subject that is itself a user id resolves to that user when no identity names it.
    let user = user.or_else(|| {
        via = "the subject is a user's id (no identity object names it)";
        directory.get_object("user", &subject).map(|object| {
            json!({
                "type": object.object_type,
                "id": object.id,
                "display_name": object.display_name,
                "properties": object.properties,
                "etag": object.etag,
            })
        })
    });
    let Some(user) = user else {
        return Err(
            ApiError::not_found(format!("no user has the identity {subject:?}"))
                .with_reason("IDENTITY_NOT_FOUND"),
        );
    };
    Ok(Resolved {
        input_identity,
        user: Some(user),
        record: IdentityRecord {
            kind: identity.kind.name().into(),
            value: logged,
        },
        via: match identity.kind {
            IdentityType::Jwt => {
                if via.starts_with("the subject") {
                    "a verified JWT whose `sub` is a user's id"
                } else {
                    "a verified JWT whose `sub` an identity object names"
                }
            }
            _ => via,
        },
    })
}

fn input(resolved: &Resolved, request: &DecisionRequest) -> Value {
    let mut input = Map::new();
    input.insert("identity".into(), resolved.input_identity.clone());
    input.insert(
        "user".into(),
        resolved.user.clone().unwrap_or_else(|| json!({})),
    );
    input.insert(
        "policy".into(),
        json!({ "path": request.path, "decisions": request.decisions }),
    );
    let resource = match &request.resource {
        Value::Null => json!({}),
        other => other.clone(),
    };
    input.insert("resource".into(), resource);
    Value::Object(input)
}

fn user_id(resolved: &Resolved) -> Option<&str> {
    resolved
        .user
        .as_ref()
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
}

/// What an Is evaluates with: the policies, the snapshot, the resolved identity and the context.
struct IsEvaluation {
    policies: Arc<PolicySet>,
    directory: Arc<Directory>,
    resolved: Resolved,
    ctx: EvalContext,
}

/// Checks an Is request and prepares its evaluation.
fn is_evaluation(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
) -> Result<IsEvaluation, ApiError> {
    within_depth(&request.resource, "resource_context")?;
    if request.path.is_empty() {
        return Err(ApiError::invalid("policy_context.path is required"));
    }
    if request.decisions.is_empty() {
        return Err(ApiError::invalid("policy_context.decisions is required"));
    }
    let policies = policies(&access.tenant)?;
    let directory = access.tenant.store.snapshot();
    let resolved = resolve(state, &directory, &request.identity)?;
    let ctx = context(state, directory.clone(), input(&resolved, request));
    Ok(IsEvaluation {
        policies,
        directory,
        resolved,
        ctx,
    })
}

/// Topaz's Is: each requested decision of the policy at `path`.
pub async fn is(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
) -> Result<Vec<(String, bool)>, ApiError> {
    let started = Instant::now();
    let IsEvaluation {
        policies,
        directory,
        resolved,
        ctx,
    } = is_evaluation(state, access, request)?;
    let decisions = evaluation_span(&request.path)
        .in_scope(|| policies.is(&ctx, &request.path, &request.decisions))
        .map_err(|e| policy_error(state, e))?;
    let allowed = decisions.iter().filter(|(_, is)| *is).count();
    state
        .metrics
        .decisions("is", allowed, decisions.len() - allowed);
    log(
        state, access, "is", &resolved, request, &decisions, &policies, &directory, started,
    )
    .await;
    Ok(decisions)
}

/// An Is explained, for Lictor's own API and the console: the decisions, how the identity resolved,
/// every rule of the policy with its value, and each `ds.*` call with the directory's trace for the
/// checks. Not logged as a decision: it answers a person debugging, not an application.
pub async fn explain_is(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
) -> Result<Value, ApiError> {
    let IsEvaluation {
        policies,
        directory,
        resolved,
        ctx,
    } = is_evaluation(state, access, request)?;
    let explanation = evaluation_span(&request.path)
        .in_scope(|| policies.explain_is(&ctx, &request.path, &request.decisions))
        .map_err(|e| policy_error(state, e))?;
    let calls: Vec<Value> = explanation
        .calls
        .iter()
        .map(|call| {
            let mut answer = json!({
                "builtin": call.builtin,
                "argument": call.argument,
                "result": call.result,
                "error": call.error,
            });
            if let (Some(trace), Some(fields)) =
                (check_trace(&directory, call), answer.as_object_mut())
            {
                fields.insert("explanation".into(), trace);
            }
            answer
        })
        .collect();
    Ok(json!({
        "decisions": explanation
            .decisions
            .iter()
            .map(|(decision, is)| json!({ "decision": decision, "is": is }))
            .collect::<Vec<_>>(),
        "identity": {
            "type": request.identity.kind.name(),
            "identity": resolved.record.value,
            "user": resolved.user,
            "resolved_by": resolved.via,
        },
        "rules": explanation.rules,
        "calls": calls,
        "policy_revision": policies.revision(),
        "directory_revision": directory.revision(),
    }))
}

/// The directory's explanation of a `ds.check` (or `check_relation`, `check_permission`) call.
fn check_trace(directory: &Directory, call: &lictor_policy::BuiltinCall) -> Option<Value> {
    if !matches!(
        call.builtin,
        "ds.check" | "ds.check_relation" | "ds.check_permission"
    ) {
        return None;
    }
    let field = |name: &str| {
        call.argument
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let relation = match field("relation") {
        "" => field("permission"),
        relation => relation,
    };
    let request = lictor_directory::CheckRequest {
        object_type: field("object_type"),
        object_id: field("object_id"),
        relation,
        subject_type: field("subject_type"),
        subject_id: field("subject_id"),
        subject_relation: field("subject_relation"),
    };
    let explanation = directory.explain(&request).ok()?;
    Some(json!({
        "allowed": explanation.allowed,
        "trace": explanation.trace,
        "text": explanation.trace.as_ref().map(ToString::to_string).unwrap_or_default(),
    }))
}

/// Topaz's DecisionTree: the decisions of every policy under the root path.
pub async fn decision_tree(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
    separator: PathSeparator,
) -> Result<DecisionTree, ApiError> {
    let started = Instant::now();
    within_depth(&request.resource, "resource_context")?;
    if request.path.is_empty() {
        return Err(ApiError::invalid("policy_context.path is required"));
    }
    let policies = policies(&access.tenant)?;
    let directory = access.tenant.store.snapshot();
    let resolved = resolve(state, &directory, &request.identity)?;
    let ctx = context(state, directory.clone(), input(&resolved, request));
    let decisions = if request.decisions.is_empty() {
        vec!["*".to_string()]
    } else {
        request.decisions.clone()
    };
    let tree = evaluation_span(&request.path)
        .in_scope(|| policies.decision_tree_with(&ctx, &request.path, &decisions, separator))
        .map_err(|e| policy_error(state, e))?;
    let flat: Vec<(String, bool)> = tree
        .iter()
        .flat_map(|(path, d)| {
            d.iter()
                .map(move |(name, is)| (format!("{path}.{name}"), *is))
        })
        .collect();
    let allowed = flat.iter().filter(|(_, is)| *is).count();
    state
        .metrics
        .decisions("decisiontree", allowed, flat.len() - allowed);
    log(
        state,
        access,
        "decisiontree",
        &resolved,
        request,
        &flat,
        &policies,
        &directory,
        started,
    )
    .await;
    Ok(tree)
}

/// Refuses a context nested deeper than every transport can carry, so that REST and gRPC accept
/// the same requests.
fn within_depth(value: &Value, field: &str) -> Result<(), ApiError> {
    let depth = lictor_model::json_depth(value);
    if depth > lictor_model::MAX_JSON_DEPTH {
        return Err(ApiError::invalid(format!(
            "{field} nests {depth} levels deep; at most {} are accepted",
            lictor_model::MAX_JSON_DEPTH
        )));
    }
    Ok(())
}

/// What Query and Compile start from: a query that is there, the tenant's policies and a snapshot.
fn query_prologue(
    access: &crate::access::Access,
    query: &str,
    request: &DecisionRequest,
    explicit_input: Option<&Value>,
) -> Result<(Arc<PolicySet>, Arc<Directory>), ApiError> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid("query is required"));
    }
    within_depth(&request.resource, "resource_context")?;
    if let Some(input) = explicit_input {
        within_depth(input, "input")?;
    }
    Ok((policies(&access.tenant)?, access.tenant.store.snapshot()))
}

/// Runs an ad-hoc evaluation off the async workers, at most `limits.max_concurrent_queries` at
/// once, so that slow queries neither stall other requests nor pile up; each is still bounded by
/// the evaluation timeout, which also bounds the work of a caller that went away.
async fn ad_hoc<R: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&AppState) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    let wait = state.config.limits.evaluation().timeout;
    let permit = match tokio::time::timeout(wait, state.queries.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            state.metrics.evaluation_limit("concurrency");
            return Err(ApiError::new(
                Code::ResourceExhausted,
                format!(
                    "too many queries running (limits.max_concurrent_queries is {}); try again",
                    state.config.limits.concurrent_queries()
                ),
            ));
        }
    };
    let state = Arc::clone(state);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        span.in_scope(|| work(&state))
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("query evaluation failed: {e}")))?
}

/// Topaz's Query: an ad-hoc Rego query with the request's input.
pub async fn query(
    state: &Arc<AppState>,
    access: &crate::access::Access,
    query: &str,
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (access, query, request) = (access.clone(), query.to_string(), request.clone());
    ad_hoc(state, move |state| {
        query_now(state, &access, &query, &request, explicit_input)
    })
    .await
}

fn query_now(
    state: &AppState,
    access: &crate::access::Access,
    query: &str,
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (policies, directory) = query_prologue(access, query, request, explicit_input.as_ref())?;
    let input = match explicit_input {
        Some(input) => input,
        None => {
            let resolved = resolve(state, &directory, &request.identity)?;
            input(&resolved, request)
        }
    };
    let ctx = context(state, directory, input);
    evaluation_span(query)
        .in_scope(|| policies.query(&ctx, query))
        .map_err(|e| policy_error(state, e))
}

/// Topaz's Compile: the query partially evaluated with `unknowns` left open. `input` is the
/// explicit input, if any, with the identity, user, policy and resource contexts set over it.
pub async fn compile(
    state: &Arc<AppState>,
    access: &crate::access::Access,
    query: &str,
    unknowns: &[String],
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (access, query, unknowns, request) = (
        access.clone(),
        query.to_string(),
        unknowns.to_vec(),
        request.clone(),
    );
    ad_hoc(state, move |state| {
        compile_now(state, &access, &query, &unknowns, &request, explicit_input)
    })
    .await
}

fn compile_now(
    state: &AppState,
    access: &crate::access::Access,
    query: &str,
    unknowns: &[String],
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (policies, directory) = query_prologue(access, query, request, explicit_input.as_ref())?;
    let resolved = resolve(state, &directory, &request.identity)?;
    let mut input = match explicit_input {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => Map::new(),
        Some(_) => return Err(ApiError::invalid("input must be a JSON object")),
    };
    if let Value::Object(contexts) = self::input(&resolved, request) {
        for (key, value) in contexts {
            // An absent resource context leaves the explicit input's resource alone.
            if key == "resource" && request.resource.is_null() && input.contains_key("resource") {
                continue;
            }
            input.insert(key, value);
        }
    }
    let ctx = context(state, directory, Value::Object(input));
    evaluation_span(query)
        .in_scope(|| policies.compile(&ctx, query, unknowns))
        .map_err(|e| policy_error(state, e))
}

#[allow(clippy::too_many_arguments)]
async fn log(
    state: &AppState,
    access: &crate::access::Access,
    kind: &'static str,
    resolved: &Resolved,
    request: &DecisionRequest,
    decisions: &[(String, bool)],
    policies: &PolicySet,
    directory: &Directory,
    started: Instant,
) {
    if !state.decision_log.enabled() {
        return;
    }
    let entry = DecisionEntry {
        tenant: &access.tenant.id,
        request_id: &access.request_id,
        kind,
        identity_type: &resolved.record.kind,
        identity: Text::Str(&resolved.record.value),
        user: user_id(resolved).map(Text::Str),
        path: Text::Str(&request.path),
        resource: Resource::Context(&request.resource),
        decisions: Outcomes::Many(decisions),
        policy_revision: policies.revision(),
        provenance: Some(policies.provenance()),
        directory_revision: directory.revision(),
        latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    state.decision_log.log(&entry).await;
}
