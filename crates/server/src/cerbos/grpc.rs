//! Cerbos's gRPC service, `cerbos.svc.v1.CerbosService`, over the same service functions as REST.

use super::service::CerbosApi;
use lictor_proto::cerbos::request::v1 as request;
use lictor_proto::cerbos::response::v1 as response;
use lictor_proto::cerbos::svc::v1::cerbos_service_server::{CerbosService, CerbosServiceServer};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The gRPC face of [`CerbosApi`].
#[derive(Clone)]
pub struct CerbosGrpc(Arc<CerbosApi>);

impl CerbosGrpc {
    /// The tonic service over `api`.
    pub fn server(api: Arc<CerbosApi>) -> CerbosServiceServer<CerbosGrpc> {
        CerbosServiceServer::new(CerbosGrpc(api))
    }
}

#[tonic::async_trait]
impl CerbosService for CerbosGrpc {
    async fn check_resources(
        &self,
        request: Request<request::CheckResourcesRequest>,
    ) -> Result<Response<response::CheckResourcesResponse>, Status> {
        Ok(Response::new(
            self.0.check_resources(request.get_ref()).await?,
        ))
    }

    async fn server_info(
        &self,
        _request: Request<request::ServerInfoRequest>,
    ) -> Result<Response<response::ServerInfoResponse>, Status> {
        Ok(Response::new(self.0.server_info()))
    }

    async fn plan_resources(
        &self,
        request: Request<request::PlanResourcesRequest>,
    ) -> Result<Response<response::PlanResourcesResponse>, Status> {
        Ok(Response::new(self.0.plan_resources(request.get_ref())?))
    }
}
