//! Authorizer v2 over gRPC: Is, DecisionTree, Query, Compile, ListPolicies, GetPolicy and Info.

use crate::api_error::{ApiError, Code};
use crate::grpc::{access, from_struct, to_struct};
use crate::server::AppState;
use crate::service::authorizer::{self as service, DecisionRequest, IdentityContext, IdentityType};
use lictor_policy::PathSeparator;
use lictor_proto::authorizer::v2 as authorizer;
use lictor_proto::authorizer::v2::api;
use serde_json::Value;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The authorizer service, sharing the server state.
#[derive(Clone)]
pub struct AuthorizerGrpc {
    state: Arc<AppState>,
}

impl AuthorizerGrpc {
    /// The service over the shared state.
    pub fn new(state: Arc<AppState>) -> AuthorizerGrpc {
        AuthorizerGrpc { state }
    }
}

/// The `input` field of Query and Compile (a JSON document in a string), when given.
fn explicit_input(text: &str) -> Result<Option<serde_json::Value>, Status> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("input is not JSON: {e}")))
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
            return Err(ApiError::invalid(format!(
                "identity_context.type {} is not one of IDENTITY_TYPE_NONE, IDENTITY_TYPE_SUB, IDENTITY_TYPE_JWT, IDENTITY_TYPE_MANUAL",
                context.r#type
            )))
        }
    };
    Ok(IdentityContext {
        kind,
        identity: context.identity.clone(),
    })
}

fn decision_request(
    policy: Option<&api::PolicyContext>,
    identity_context: Option<&api::IdentityContext>,
    resource: Option<&lictor_proto::wkt::Struct>,
) -> Result<DecisionRequest, ApiError> {
    Ok(DecisionRequest {
        identity: identity(identity_context)?,
        path: policy.map(|p| p.path.clone()).unwrap_or_default(),
        decisions: policy.map(|p| p.decisions.clone()).unwrap_or_default(),
        resource: resource.map_or(Value::Null, |r| from_struct(Some(r))),
    })
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

#[tonic::async_trait]
impl authorizer::authorizer_server::Authorizer for AuthorizerGrpc {
    async fn decision_tree(
        &self,
        request: Request<authorizer::DecisionTreeRequest>,
    ) -> Result<Response<authorizer::DecisionTreeResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let decision = decision_request(
            r.policy_context.as_ref(),
            r.identity_context.as_ref(),
            r.resource_context.as_ref(),
        )?;
        let separator = match r.options.map(|o| o.path_separator) {
            Some(2) => PathSeparator::Slash,
            Some(0 | 1) | None => PathSeparator::Dot,
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                "options.path_separator {other} is not PATH_SEPARATOR_DOT or PATH_SEPARATOR_SLASH"
            )))
            }
        };
        let tree = service::decision_tree(&self.state, &access, &decision, separator).await?;
        let path = serde_json::to_value(&tree)
            .map_err(|e| ApiError::new(Code::Internal, format!("decision tree: {e}")))?;
        Ok(Response::new(authorizer::DecisionTreeResponse {
            path_root: decision.path,
            path: to_struct(&path),
        }))
    }

    async fn is(
        &self,
        request: Request<authorizer::IsRequest>,
    ) -> Result<Response<authorizer::IsResponse>, Status> {
        let access = access(&request)?;
        let r = request.get_ref();
        let decision = decision_request(
            r.policy_context.as_ref(),
            r.identity_context.as_ref(),
            r.resource_context.as_ref(),
        )?;
        let decisions = service::is(&self.state, &access, &decision).await?;
        Ok(Response::new(authorizer::IsResponse {
            decisions: decisions
                .into_iter()
                .map(|(decision, is)| authorizer::Decision { decision, is })
                .collect(),
        }))
    }

    async fn query(
        &self,
        request: Request<authorizer::QueryRequest>,
    ) -> Result<Response<authorizer::QueryResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let decision = decision_request(
            r.policy_context.as_ref(),
            r.identity_context.as_ref(),
            r.resource_context.as_ref(),
        )?;
        let input = explicit_input(&r.input)?;
        let result = service::query(&self.state, &access, &r.query, &decision, input).await?;
        Ok(Response::new(authorizer::QueryResponse {
            response: to_struct(&serde_json::json!({ "result": result })),
            metrics: None,
            trace: Vec::new(),
            trace_summary: Vec::new(),
        }))
    }

    async fn compile(
        &self,
        request: Request<authorizer::CompileRequest>,
    ) -> Result<Response<authorizer::CompileResponse>, Status> {
        let access = access(&request)?;
        let r = request.get_ref();
        let decision = decision_request(
            r.policy_context.as_ref(),
            r.identity_context.as_ref(),
            r.resource_context.as_ref(),
        )?;
        let input = explicit_input(&r.input)?;
        let result = service::compile(
            &self.state,
            &access,
            &r.query,
            &r.unknowns,
            &decision,
            input,
        )
        .await?;
        Ok(Response::new(authorizer::CompileResponse {
            result: to_struct(&result),
            metrics: to_struct(&serde_json::json!({})),
            trace: Vec::new(),
            trace_summary: Vec::new(),
        }))
    }

    async fn list_policies(
        &self,
        request: Request<authorizer::ListPoliciesRequest>,
    ) -> Result<Response<authorizer::ListPoliciesResponse>, Status> {
        let access = access(&request)?;
        let policies = service::policies(&access.tenant)?;
        Ok(Response::new(authorizer::ListPoliciesResponse {
            result: policies.policies().iter().map(module_message).collect(),
        }))
    }

    async fn get_policy(
        &self,
        request: Request<authorizer::GetPolicyRequest>,
    ) -> Result<Response<authorizer::GetPolicyResponse>, Status> {
        let access = access(&request)?;
        let id = &request.get_ref().id;
        let policies = service::policies(&access.tenant)?;
        let module = policies
            .policy(id)
            .ok_or_else(|| Status::not_found(format!("no policy module {id:?}")))?;
        Ok(Response::new(authorizer::GetPolicyResponse {
            result: Some(module_message(module)),
        }))
    }

    async fn info(
        &self,
        _request: Request<authorizer::InfoRequest>,
    ) -> Result<Response<authorizer::InfoResponse>, Status> {
        Ok(Response::new(authorizer::InfoResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: String::new(),
            date: String::new(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }))
    }
}
