//! Topaz's authorizer v2: Is, DecisionTree, Query, Compile, ListPolicies, GetPolicy and Info.
//!
//! Each operation maps its proto request to the authorizer service and the service's answer to its
//! proto response once, here; the REST and gRPC modules only decode requests and encode answers.

pub mod grpc;
pub mod rest;

use crate::access::Access;
use crate::api_error::{ApiError, Code};
use crate::proto_json::{proto_struct, struct_json};
use crate::server::AppState;
use crate::service::authorizer::{self as service, DecisionRequest, IdentityContext, IdentityType};
use lictor_policy::PathSeparator;
use lictor_proto::authorizer::v2 as authorizer;
use lictor_proto::authorizer::v2::api;
use lictor_proto::wkt;
use serde_json::{json, Value};
use std::sync::Arc;

/// Is: each requested decision of the policy at the request's path.
pub async fn is(
    state: &AppState,
    access: &Access,
    request: authorizer::IsRequest,
) -> Result<authorizer::IsResponse, ApiError> {
    let decision = decision_request(
        request.policy_context,
        request.identity_context.as_ref(),
        request.resource_context.as_ref(),
    )?;
    let decisions = service::is(state, access, &decision).await?;
    Ok(authorizer::IsResponse {
        decisions: decisions
            .into_iter()
            .map(|(decision, is)| authorizer::Decision { decision, is })
            .collect(),
    })
}

/// Lictor's explained Is: an Is request, answered with its explanation.
pub async fn explain_is(
    state: &AppState,
    access: &Access,
    request: authorizer::IsRequest,
) -> Result<serde_json::Value, ApiError> {
    let decision = decision_request(
        request.policy_context,
        request.identity_context.as_ref(),
        request.resource_context.as_ref(),
    )?;
    service::explain_is(state, access, &decision).await
}

/// DecisionTree: the decisions of every policy under the request's root path.
pub async fn decision_tree(
    state: &AppState,
    access: &Access,
    request: authorizer::DecisionTreeRequest,
) -> Result<authorizer::DecisionTreeResponse, ApiError> {
    let separator = match request.options.map(|o| o.path_separator) {
        Some(2) => PathSeparator::Slash,
        Some(0 | 1) | None => PathSeparator::Dot,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "options.path_separator {other} is not PATH_SEPARATOR_DOT or PATH_SEPARATOR_SLASH"
            )))
        }
    };
    let decision = decision_request(
        request.policy_context,
        request.identity_context.as_ref(),
        request.resource_context.as_ref(),
    )?;
    let tree = service::decision_tree(state, access, &decision, separator).await?;
    let path = serde_json::to_value(&tree)
        .map_err(|e| ApiError::new(Code::Internal, format!("decision tree: {e}")))?;
    Ok(authorizer::DecisionTreeResponse {
        path_root: decision.path,
        path: Some(proto_struct(path)),
    })
}

/// Query: an ad-hoc Rego query, with the request's contexts or its explicit input.
pub async fn query(
    state: &Arc<AppState>,
    access: &Access,
    request: authorizer::QueryRequest,
) -> Result<authorizer::QueryResponse, ApiError> {
    let decision = decision_request(
        request.policy_context,
        request.identity_context.as_ref(),
        request.resource_context.as_ref(),
    )?;
    let input = explicit_input(&request.input)?;
    let result = service::query(state, access, &request.query, &decision, input).await?;
    Ok(authorizer::QueryResponse {
        response: Some(proto_struct(json!({ "result": result }))),
        metrics: None,
        trace: Vec::new(),
        trace_summary: Vec::new(),
    })
}

/// Compile: the query partially evaluated with the request's unknowns left open.
pub async fn compile(
    state: &Arc<AppState>,
    access: &Access,
    request: authorizer::CompileRequest,
) -> Result<authorizer::CompileResponse, ApiError> {
    let decision = decision_request(
        request.policy_context,
        request.identity_context.as_ref(),
        request.resource_context.as_ref(),
    )?;
    let input = explicit_input(&request.input)?;
    let result = service::compile(
        state,
        access,
        &request.query,
        &request.unknowns,
        &decision,
        input,
    )
    .await?;
    Ok(authorizer::CompileResponse {
        result: Some(proto_struct(result)),
        metrics: Some(wkt::Struct::default()),
        trace: Vec::new(),
        trace_summary: Vec::new(),
    })
}

/// ListPolicies: every policy module of the caller's tenant.
pub fn list_policies(access: &Access) -> Result<authorizer::ListPoliciesResponse, ApiError> {
    let policies = service::policies(&access.tenant)?;
    Ok(authorizer::ListPoliciesResponse {
        result: policies.policies().iter().map(module_message).collect(),
    })
}

/// GetPolicy: one policy module of the caller's tenant, by id.
pub fn get_policy(
    access: &Access,
    request: &authorizer::GetPolicyRequest,
) -> Result<authorizer::GetPolicyResponse, ApiError> {
    let id = &request.id;
    let policies = service::policies(&access.tenant)?;
    let module = policies
        .policy(id)
        .ok_or_else(|| ApiError::not_found(format!("no policy module {id:?}")))?;
    Ok(authorizer::GetPolicyResponse {
        result: Some(module_message(module)),
    })
}

/// Info: the server's version and platform.
pub fn info() -> authorizer::InfoResponse {
    authorizer::InfoResponse {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: String::new(),
        date: String::new(),
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
    }
}

/// A module as Topaz lists it: the package path is the Rego reference, `data.` included.
fn module_message(module: &lictor_policy::PolicyModule) -> api::Module {
    api::Module {
        id: Some(module.id.clone()),
        raw: Some(module.source.clone()),
        package_path: Some(format!("data.{}", module.package_path)),
        ast: None,
        package_root: None,
    }
}

/// The `input` field of Query and Compile (a JSON document in a string), when given.
fn explicit_input(text: &str) -> Result<Option<Value>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("input is not JSON: {e}")))
}

fn identity(context: Option<&api::IdentityContext>) -> Result<IdentityContext, ApiError> {
    let Some(context) = context else {
        return Ok(IdentityContext::default());
    };
    let kind = match api::IdentityType::try_from(context.r#type) {
        Ok(api::IdentityType::None) => IdentityType::None,
        Ok(api::IdentityType::Sub) => IdentityType::Sub,
        Ok(api::IdentityType::Jwt) => IdentityType::Jwt,
        Ok(api::IdentityType::Manual) => IdentityType::Manual,
        Ok(api::IdentityType::Unknown) | Err(_) => {
            let given = api::IdentityType::try_from(context.r#type).map_or_else(
                |_| context.r#type.to_string(),
                |t| t.as_str_name().to_string(),
            );
            return Err(ApiError::invalid(format!(
                "identity_context.type {given} is not one of IDENTITY_TYPE_NONE, IDENTITY_TYPE_SUB, IDENTITY_TYPE_JWT, IDENTITY_TYPE_MANUAL"
            )));
        }
    };
    Ok(IdentityContext {
        kind,
        identity: context.identity.clone(),
    })
}

fn decision_request(
    policy: Option<api::PolicyContext>,
    identity_context: Option<&api::IdentityContext>,
    resource: Option<&wkt::Struct>,
) -> Result<DecisionRequest, ApiError> {
    let policy = policy.unwrap_or_default();
    Ok(DecisionRequest {
        identity: identity(identity_context)?,
        path: policy.path,
        decisions: policy.decisions,
        resource: resource.map_or(Value::Null, struct_json),
    })
}
