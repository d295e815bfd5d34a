//! Authorizer v2 over gRPC: Is, DecisionTree, Query, Compile, ListPolicies, GetPolicy and Info.

use crate::grpc::access;
use crate::server::AppState;
use lictor_proto::authorizer::v2 as authorizer;
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

#[tonic::async_trait]
impl authorizer::authorizer_server::Authorizer for AuthorizerGrpc {
    async fn decision_tree(
        &self,
        request: Request<authorizer::DecisionTreeRequest>,
    ) -> Result<Response<authorizer::DecisionTreeResponse>, Status> {
        let access = access(&request)?;
        let response = super::decision_tree(&self.state, &access, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn is(
        &self,
        request: Request<authorizer::IsRequest>,
    ) -> Result<Response<authorizer::IsResponse>, Status> {
        let access = access(&request)?;
        let response = super::is(&self.state, &access, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn query(
        &self,
        request: Request<authorizer::QueryRequest>,
    ) -> Result<Response<authorizer::QueryResponse>, Status> {
        let access = access(&request)?;
        let response = super::query(&self.state, &access, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn compile(
        &self,
        request: Request<authorizer::CompileRequest>,
    ) -> Result<Response<authorizer::CompileResponse>, Status> {
        let access = access(&request)?;
        let response = super::compile(&self.state, &access, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_policies(
        &self,
        request: Request<authorizer::ListPoliciesRequest>,
    ) -> Result<Response<authorizer::ListPoliciesResponse>, Status> {
        let access = access(&request)?;
        Ok(Response::new(super::list_policies(&access)?))
    }

    async fn get_policy(
        &self,
        request: Request<authorizer::GetPolicyRequest>,
    ) -> Result<Response<authorizer::GetPolicyResponse>, Status> {
        let access = access(&request)?;
        Ok(Response::new(super::get_policy(
            &access,
            request.get_ref(),
        )?))
    }

    async fn info(
        &self,
        _request: Request<authorizer::InfoRequest>,
    ) -> Result<Response<authorizer::InfoResponse>, Status> {
        Ok(Response::new(super::info()))
    }
}
