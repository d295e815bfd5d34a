//! The authorizer service, independent of transport: resolves the caller's identity to a directory
//! user, builds Rego's `input` as Topaz does, and asks the tenant's policies for decisions.

use crate::api_error::{ApiError, Code};
use crate::decision_log::{DecisionEntry, IdentityRecord, Outcomes, Resource, Text};
use crate::server::AppState;
use crate::tenant::Tenant;
use lictor_directory::Directory;
use lictor_policy::{DecisionTree, EvalContext, PathSeparator, PolicyError, PolicySet};
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

    /// From the wire name or number; `IDENTITY_TYPE_UNKNOWN` (0) is refused as Topaz does.
    pub fn parse(value: &Value) -> Result<IdentityType, ApiError> {
        let kind = match value {
            Value::Null => return Ok(IdentityType::None),
            Value::String(name) => match name.as_str() {
                "IDENTITY_TYPE_NONE" => Some(IdentityType::None),
                "IDENTITY_TYPE_SUB" => Some(IdentityType::Sub),
                "IDENTITY_TYPE_JWT" => Some(IdentityType::Jwt),
                "IDENTITY_TYPE_MANUAL" => Some(IdentityType::Manual),
                _ => None,
            },
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(IdentityType::None),
                Some(2) => Some(IdentityType::Sub),
                Some(3) => Some(IdentityType::Jwt),
                Some(4) => Some(IdentityType::Manual),
                _ => None,
            },
            _ => None,
        };
        kind.ok_or_else(|| {
            ApiError::invalid(format!(
                "identity_context.type {value} is not one of IDENTITY_TYPE_NONE, IDENTITY_TYPE_SUB, IDENTITY_TYPE_JWT, IDENTITY_TYPE_MANUAL"
            ))
        })
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
}

fn policy_error(error: PolicyError) -> ApiError {
    let code = match &error {
        PolicyError::UnknownPolicy { .. } => Code::NotFound,
        PolicyError::InvalidPath { .. } | PolicyError::Query { .. } => Code::InvalidArgument,
        PolicyError::Identity { .. } => Code::FailedPrecondition,
        _ => Code::Internal,
    };
    ApiError::new(code, error.to_string())
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
    let user = lictor_policy::resolve_user(directory, &subject).map_err(policy_error)?;
    // A subject that is itself a user id resolves to that user when no identity names it.
    let user = user.or_else(|| {
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

/// Topaz's Is: each requested decision of the policy at `path`.
pub async fn is(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
) -> Result<Vec<(String, bool)>, ApiError> {
    let started = Instant::now();
    if request.path.is_empty() {
        return Err(ApiError::invalid("policy_context.path is required"));
    }
    if request.decisions.is_empty() {
        return Err(ApiError::invalid("policy_context.decisions is required"));
    }
    let policies = policies(&access.tenant)?;
    let directory = access.tenant.store.snapshot();
    let resolved = resolve(state, &directory, &request.identity)?;
    let ctx = EvalContext::new(directory.clone(), input(&resolved, request));
    let decisions = policies
        .is(&ctx, &request.path, &request.decisions)
        .map_err(policy_error)?;
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

/// Topaz's DecisionTree: the decisions of every policy under the root path.
pub async fn decision_tree(
    state: &AppState,
    access: &crate::access::Access,
    request: &DecisionRequest,
    separator: PathSeparator,
) -> Result<DecisionTree, ApiError> {
    let started = Instant::now();
    if request.path.is_empty() {
        return Err(ApiError::invalid("policy_context.path is required"));
    }
    let policies = policies(&access.tenant)?;
    let directory = access.tenant.store.snapshot();
    let resolved = resolve(state, &directory, &request.identity)?;
    let ctx = EvalContext::new(directory.clone(), input(&resolved, request));
    let decisions = if request.decisions.is_empty() {
        vec!["*".to_string()]
    } else {
        request.decisions.clone()
    };
    let tree = policies
        .decision_tree_with(&ctx, &request.path, &decisions, separator)
        .map_err(policy_error)?;
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

/// What Query and Compile start from: a query that is there, the tenant's policies and a snapshot.
fn query_prologue(
    access: &crate::access::Access,
    query: &str,
) -> Result<(Arc<PolicySet>, Arc<Directory>), ApiError> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid("query is required"));
    }
    Ok((policies(&access.tenant)?, access.tenant.store.snapshot()))
}

/// Topaz's Query: an ad-hoc Rego query with the request's input.
pub fn query(
    state: &AppState,
    access: &crate::access::Access,
    query: &str,
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (policies, directory) = query_prologue(access, query)?;
    let input = match explicit_input {
        Some(input) => input,
        None => {
            let resolved = resolve(state, &directory, &request.identity)?;
            input(&resolved, request)
        }
    };
    let ctx = EvalContext::new(directory, input);
    policies.query(&ctx, query).map_err(policy_error)
}

/// Topaz's Compile: the query partially evaluated with `unknowns` left open. `input` is the
/// explicit input, if any, with the identity, user, policy and resource contexts set over it.
pub fn compile(
    state: &AppState,
    access: &crate::access::Access,
    query: &str,
    unknowns: &[String],
    request: &DecisionRequest,
    explicit_input: Option<Value>,
) -> Result<Value, ApiError> {
    let (policies, directory) = query_prologue(access, query)?;
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
    let ctx = EvalContext::new(directory, Value::Object(input));
    policies
        .compile(&ctx, query, unknowns)
        .map_err(policy_error)
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
        directory_revision: directory.revision(),
        latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    state.decision_log.log(&entry).await;
}
