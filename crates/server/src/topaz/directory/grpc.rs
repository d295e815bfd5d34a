//! Directory v3 over gRPC: the Reader, Writer, Model, Importer and Exporter services, translating
//! Topaz's messages to the directory service.

use crate::api_error::ApiError;
use crate::grpc::{access, object_message, object_record, relation_message, relation_record};
use crate::server::AppState;
use crate::service::directory::{self as service, PageRequest, RelationFilter};
use crate::tenant::Tenant;
use lictor_directory::{CheckRequest as Check, Directory};
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_proto::directory::common::v3 as common;
use lictor_proto::directory::exporter::v3 as exporter;
use lictor_proto::directory::importer::v3 as importer;
use lictor_proto::directory::model::v3 as model;
use lictor_proto::directory::reader::v3 as reader;
use lictor_proto::directory::writer::v3 as writer;
use lictor_proto::wkt;
use lictor_store::{ChangeApplied, ImportChange, ImportStage};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// A boxed response stream.
type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The directory services, sharing the server state.
#[derive(Clone)]
pub struct DirectoryGrpc {
    state: Arc<AppState>,
}

impl DirectoryGrpc {
    /// Services over the shared state.
    pub fn new(state: Arc<AppState>) -> DirectoryGrpc {
        DirectoryGrpc { state }
    }
}

fn page(page: Option<common::PaginationRequest>) -> PageRequest {
    page.map_or_else(PageRequest::default, |p| PageRequest {
        size: p.size,
        token: p.token,
    })
}

fn page_response(next_token: String) -> Option<common::PaginationResponse> {
    Some(common::PaginationResponse { next_token })
}

/// The objects of relations, keyed `type:id` as Topaz's `with_objects` returns them.
/// An object as its message, stamped from the tenant's store.
fn object_out(tenant: &Tenant, object: &ObjectRecord) -> common::Object {
    object_message(
        object,
        service::object_stamps(tenant, &object.object_type, &object.id),
    )
}

/// A relation as its message, stamped from the tenant's store.
fn relation_out(tenant: &Tenant, relation: &RelationRecord) -> common::Relation {
    relation_message(relation, service::relation_stamps(tenant, relation))
}

fn objects_of(
    tenant: &Tenant,
    directory: &Directory,
    relations: &[RelationRecord],
) -> HashMap<String, common::Object> {
    service::objects_of(directory, relations)
        .into_iter()
        .map(|(key, object)| (key, object_out(tenant, &object)))
        .collect()
}

fn check_response(allowed: bool, trace: Vec<String>) -> reader::CheckResponse {
    reader::CheckResponse {
        check: allowed,
        trace,
        context: Some(wkt::Struct::default()),
    }
}

impl DirectoryGrpc {
    async fn run_check(
        &self,
        access: &crate::access::Access,
        directory: &Directory,
        request: &reader::CheckRequest,
    ) -> Result<reader::CheckResponse, ApiError> {
        let check = Check {
            object_type: &request.object_type,
            object_id: &request.object_id,
            relation: &request.relation,
            subject_type: &request.subject_type,
            subject_id: &request.subject_id,
            subject_relation: "",
        };
        let started = std::time::Instant::now();
        let (allowed, trace) = service::check(directory, &check, request.trace)?;
        crate::audit::log_check(
            &self.state,
            access,
            directory,
            &check,
            allowed,
            started,
            "check",
        )
        .await;
        Ok(check_response(allowed, trace))
    }

    /// The deprecated CheckPermission and CheckRelation: a check answered without context.
    async fn legacy_check(
        &self,
        access: &crate::access::Access,
        check: &reader::CheckRequest,
    ) -> Result<(bool, Vec<String>), ApiError> {
        let directory = service::snapshot(&access.tenant);
        let response = self.run_check(access, &directory, check).await?;
        Ok((response.check, response.trace))
    }
}

/// Empty fields of a batch item taken from the batch's default, as Topaz fills them.
fn with_default(
    mut item: reader::CheckRequest,
    default: &reader::CheckRequest,
) -> reader::CheckRequest {
    let fill = |field: &mut String, from: &String| {
        if field.is_empty() {
            field.clone_from(from);
        }
    };
    fill(&mut item.object_type, &default.object_type);
    fill(&mut item.object_id, &default.object_id);
    fill(&mut item.relation, &default.relation);
    fill(&mut item.subject_type, &default.subject_type);
    fill(&mut item.subject_id, &default.subject_id);
    item.trace |= default.trace;
    item
}

#[tonic::async_trait]
impl reader::reader_server::Reader for DirectoryGrpc {
    async fn get_object(
        &self,
        request: Request<reader::GetObjectRequest>,
    ) -> Result<Response<reader::GetObjectResponse>, Status> {
        let access = access(&request)?;
        let request = request.into_inner();
        let directory = service::snapshot(&access.tenant);
        let (object, relations, next) = service::get_object(
            &directory,
            &request.object_type,
            &request.object_id,
            request.with_relations,
            &page(request.page),
        )?;
        Ok(Response::new(reader::GetObjectResponse {
            result: Some(object_out(&access.tenant, &object)),
            relations: relations
                .iter()
                .map(|r| relation_out(&access.tenant, r))
                .collect(),
            page: page_response(next),
        }))
    }

    async fn get_object_many(
        &self,
        request: Request<reader::GetObjectManyRequest>,
    ) -> Result<Response<reader::GetObjectManyResponse>, Status> {
        let access = access(&request)?;
        let ids: Vec<(String, String)> = request
            .into_inner()
            .param
            .into_iter()
            .map(|p| (p.object_type, p.object_id))
            .collect();
        let directory = service::snapshot(&access.tenant);
        let objects = service::get_object_many(&directory, &ids)?;
        Ok(Response::new(reader::GetObjectManyResponse {
            results: objects
                .iter()
                .map(|o| object_out(&access.tenant, o))
                .collect(),
        }))
    }

    async fn get_objects(
        &self,
        request: Request<reader::GetObjectsRequest>,
    ) -> Result<Response<reader::GetObjectsResponse>, Status> {
        let access = access(&request)?;
        let request = request.into_inner();
        let directory = service::snapshot(&access.tenant);
        let (objects, next) =
            service::get_objects(&directory, &request.object_type, &page(request.page))?;
        Ok(Response::new(reader::GetObjectsResponse {
            results: objects
                .iter()
                .map(|o| object_out(&access.tenant, o))
                .collect(),
            page: page_response(next),
        }))
    }

    async fn get_relation(
        &self,
        request: Request<reader::GetRelationRequest>,
    ) -> Result<Response<reader::GetRelationResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let directory = service::snapshot(&access.tenant);
        let relation = service::get_relation(
            &directory,
            &RelationRecord {
                object_type: r.object_type,
                object_id: r.object_id,
                relation: r.relation,
                subject_type: r.subject_type,
                subject_id: r.subject_id,
                subject_relation: r.subject_relation,
            },
        )?;
        let objects = if r.with_objects {
            objects_of(&access.tenant, &directory, std::slice::from_ref(&relation))
        } else {
            HashMap::new()
        };
        Ok(Response::new(reader::GetRelationResponse {
            result: Some(relation_out(&access.tenant, &relation)),
            objects,
        }))
    }

    async fn get_relations(
        &self,
        request: Request<reader::GetRelationsRequest>,
    ) -> Result<Response<reader::GetRelationsResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let directory = service::snapshot(&access.tenant);
        let filter = RelationFilter {
            object_type: r.object_type,
            object_id: r.object_id,
            relation: r.relation,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            subject_relation: r.subject_relation,
        };
        let (mut relations, next) = service::get_relations(&directory, &filter, &page(r.page))?;
        if r.with_empty_subject_relation && filter.subject_relation.is_empty() {
            relations.retain(|relation| relation.subject_relation.is_empty());
        }
        let objects = if r.with_objects {
            objects_of(&access.tenant, &directory, &relations)
        } else {
            HashMap::new()
        };
        Ok(Response::new(reader::GetRelationsResponse {
            results: relations
                .iter()
                .map(|r| relation_out(&access.tenant, r))
                .collect(),
            objects,
            page: page_response(next),
        }))
    }

    async fn check(
        &self,
        request: Request<reader::CheckRequest>,
    ) -> Result<Response<reader::CheckResponse>, Status> {
        let access = access(&request)?;
        let directory = service::snapshot(&access.tenant);
        let response = self
            .run_check(&access, &directory, request.get_ref())
            .await?;
        Ok(Response::new(response))
    }

    async fn checks(
        &self,
        request: Request<reader::ChecksRequest>,
    ) -> Result<Response<reader::ChecksResponse>, Status> {
        let access = access(&request)?;
        let request = request.into_inner();
        let default = request.default.unwrap_or_default();
        let directory = service::snapshot(&access.tenant);
        let mut checks = Vec::with_capacity(request.checks.len());
        for (i, item) in request.checks.into_iter().enumerate() {
            let item = with_default(item, &default);
            // Topaz answers a bad item in place rather than failing the batch.
            let response = match self.run_check(&access, &directory, &item).await {
                Ok(response) => response,
                Err(error) => {
                    let context = crate::grpc::to_struct(&serde_json::json!({
                        "error": format!("checks[{i}]: {}", error.message)
                    }));
                    reader::CheckResponse {
                        check: false,
                        trace: Vec::new(),
                        context,
                    }
                }
            };
            checks.push(response);
        }
        Ok(Response::new(reader::ChecksResponse { checks }))
    }

    async fn check_permission(
        &self,
        request: Request<reader::CheckPermissionRequest>,
    ) -> Result<Response<reader::CheckPermissionResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let check = reader::CheckRequest {
            object_type: r.object_type,
            object_id: r.object_id,
            relation: r.permission,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            trace: r.trace,
        };
        let (check, trace) = self.legacy_check(&access, &check).await?;
        Ok(Response::new(reader::CheckPermissionResponse {
            check,
            trace,
        }))
    }

    async fn check_relation(
        &self,
        request: Request<reader::CheckRelationRequest>,
    ) -> Result<Response<reader::CheckRelationResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let check = reader::CheckRequest {
            object_type: r.object_type,
            object_id: r.object_id,
            relation: r.relation,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            trace: r.trace,
        };
        let (check, trace) = self.legacy_check(&access, &check).await?;
        Ok(Response::new(reader::CheckRelationResponse {
            check,
            trace,
        }))
    }

    async fn get_graph(
        &self,
        request: Request<reader::GetGraphRequest>,
    ) -> Result<Response<reader::GetGraphResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        let directory = service::snapshot(&access.tenant);
        let filter = RelationFilter {
            object_type: r.object_type,
            object_id: r.object_id,
            relation: r.relation,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            subject_relation: r.subject_relation,
        };
        let results = service::get_graph(&directory, &filter)?;
        let explanation = if r.explain {
            let explained = service::explain_graph(&directory, &filter, &results)?;
            crate::grpc::to_struct(&serde_json::Value::Object(explained))
        } else {
            None
        };
        Ok(Response::new(reader::GetGraphResponse {
            results: results
                .into_iter()
                .map(|(object_type, object_id)| common::ObjectIdentifier {
                    object_type,
                    object_id,
                })
                .collect(),
            explanation,
            trace: Vec::new(),
        }))
    }
}

#[tonic::async_trait]
impl writer::writer_server::Writer for DirectoryGrpc {
    async fn set_object(
        &self,
        request: Request<writer::SetObjectRequest>,
    ) -> Result<Response<writer::SetObjectResponse>, Status> {
        let access = access(&request)?;
        let object = request
            .into_inner()
            .object
            .ok_or_else(|| Status::invalid_argument("object is required"))?;
        let stored = service::set_object(&access.tenant, &object_record(object)).await?;
        Ok(Response::new(writer::SetObjectResponse {
            result: Some(object_out(&access.tenant, &stored)),
        }))
    }

    async fn delete_object(
        &self,
        request: Request<writer::DeleteObjectRequest>,
    ) -> Result<Response<writer::DeleteObjectResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        service::delete_object(
            &access.tenant,
            &r.object_type,
            &r.object_id,
            r.with_relations,
        )
        .await?;
        Ok(Response::new(writer::DeleteObjectResponse {
            result: Some(wkt::Empty {}),
        }))
    }

    async fn set_relation(
        &self,
        request: Request<writer::SetRelationRequest>,
    ) -> Result<Response<writer::SetRelationResponse>, Status> {
        let access = access(&request)?;
        let relation = request
            .into_inner()
            .relation
            .ok_or_else(|| Status::invalid_argument("relation is required"))?;
        let (relation, etag) = relation_record(relation);
        let stored = service::set_relation(&access.tenant, &relation, &etag).await?;
        Ok(Response::new(writer::SetRelationResponse {
            result: Some(relation_out(&access.tenant, &stored)),
        }))
    }

    async fn delete_relation(
        &self,
        request: Request<writer::DeleteRelationRequest>,
    ) -> Result<Response<writer::DeleteRelationResponse>, Status> {
        let access = access(&request)?;
        let r = request.into_inner();
        service::delete_relation(
            &access.tenant,
            &RelationRecord {
                object_type: r.object_type,
                object_id: r.object_id,
                relation: r.relation,
                subject_type: r.subject_type,
                subject_id: r.subject_id,
                subject_relation: r.subject_relation,
            },
        )
        .await?;
        Ok(Response::new(writer::DeleteRelationResponse {
            result: Some(wkt::Empty {}),
        }))
    }
}

/// What a GetManifest call asks for, from its `aserto-manifest-request` metadata.
#[derive(Clone, Copy)]
struct ManifestParts {
    body: bool,
    model: bool,
}

#[tonic::async_trait]
impl model::model_server::Model for DirectoryGrpc {
    type GetManifestStream = ResponseStream<model::GetManifestResponse>;

    async fn get_manifest(
        &self,
        request: Request<model::GetManifestRequest>,
    ) -> Result<Response<Self::GetManifestStream>, Status> {
        use model::get_manifest_response::Msg;
        let access = access(&request)?;
        let parts = match request
            .metadata()
            .get("aserto-manifest-request")
            .and_then(|v| v.to_str().ok())
        {
            None | Some("") => ManifestParts {
                body: true,
                model: false,
            },
            Some("metadata-only") => ManifestParts {
                body: false,
                model: false,
            },
            Some("model-only") => ManifestParts {
                body: false,
                model: true,
            },
            Some("with-model") => ManifestParts {
                body: true,
                model: true,
            },
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                "aserto-manifest-request {other:?} is not metadata-only, model-only or with-model"
            )))
            }
        };
        let manifest = crate::manifest::current(&access.tenant)?;
        // A client holding the current etag gets the metadata alone, as from Topaz.
        let unchanged = request
            .metadata()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_matches('"') == manifest.etag);
        let parts = if unchanged {
            ManifestParts {
                body: false,
                model: false,
            }
        } else {
            parts
        };
        let mut messages = vec![Ok(model::GetManifestResponse {
            msg: Some(Msg::Metadata(model::Metadata {
                updated_at: manifest.updated_at,
                etag: manifest.etag.clone(),
            })),
        })];
        if parts.body {
            // Chunked as Topaz streams it, so large manifests stay under message limits.
            for chunk in manifest.source.as_bytes().chunks(crate::manifest::CHUNK) {
                messages.push(Ok(model::GetManifestResponse {
                    msg: Some(Msg::Body(model::Body {
                        data: chunk.to_vec(),
                    })),
                }));
            }
        }
        if parts.model {
            let model = crate::manifest::model_json(&manifest.source)?;
            messages.push(Ok(model::GetManifestResponse {
                msg: crate::grpc::to_struct(&model).map(Msg::Model),
            }));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(messages))))
    }

    async fn set_manifest(
        &self,
        request: Request<Streaming<model::SetManifestRequest>>,
    ) -> Result<Response<model::SetManifestResponse>, Status> {
        use model::set_manifest_request::Msg;
        let access = access(&request)?;
        let mut stream = request.into_inner();
        let mut source = Vec::new();
        while let Some(message) = stream.message().await? {
            if let Some(Msg::Body(body)) = message.msg {
                if source.len() + body.data.len() > crate::manifest::MAX_BYTES {
                    return Err(Status::invalid_argument(format!(
                        "the manifest is larger than {} bytes",
                        crate::manifest::MAX_BYTES
                    )));
                }
                source.extend_from_slice(&body.data);
            }
        }
        let source = String::from_utf8(source)
            .map_err(|e| Status::invalid_argument(format!("the manifest is not UTF-8: {e}")))?;
        crate::manifest::set(&access.tenant, &source, None)?;
        Ok(Response::new(model::SetManifestResponse {
            result: Some(wkt::Empty {}),
        }))
    }

    async fn delete_manifest(
        &self,
        request: Request<model::DeleteManifestRequest>,
    ) -> Result<Response<model::DeleteManifestResponse>, Status> {
        let access = access(&request)?;
        access
            .tenant
            .store
            .delete_manifest()
            .map_err(service::store_error)?;
        Ok(Response::new(model::DeleteManifestResponse {
            result: Some(wkt::Empty {}),
        }))
    }
}

/// Running counts of one record kind in an import.
#[derive(Default)]
struct Counter {
    recv: u64,
    set: u64,
    delete: u64,
    error: u64,
}

impl Counter {
    fn message(&self, kind: &str) -> importer::ImportCounter {
        importer::ImportCounter {
            recv: self.recv,
            set: self.set,
            delete: self.delete,
            error: self.error,
            r#type: kind.to_string(),
        }
    }
}

/// The counters of one import, objects and relations apart.
#[derive(Default)]
struct ImportCounters {
    objects: Counter,
    relations: Counter,
}

impl ImportCounters {
    fn of_request(&mut self, request: &importer::ImportRequest) -> &mut Counter {
        match request.msg {
            Some(importer::import_request::Msg::Relation(_)) => &mut self.relations,
            _ => &mut self.objects,
        }
    }

    fn of_change(&mut self, change: &ImportChange) -> &mut Counter {
        match change {
            ImportChange::SetObject(_) | ImportChange::DeleteObject { .. } => &mut self.objects,
            ImportChange::SetRelation(_) | ImportChange::DeleteRelation(_) => &mut self.relations,
        }
    }
}

/// The change an import message asks for; refused (as Topaz refuses it) when it carries nothing,
/// names no known op code, or lacks a field that identifies its object or relation.
fn import_change(request: &importer::ImportRequest) -> Result<ImportChange, ApiError> {
    use importer::import_request::Msg;
    use importer::Opcode;
    let op = Opcode::try_from(request.op_code).unwrap_or(Opcode::Unknown);
    match (&request.msg, op) {
        (Some(Msg::Object(object)), Opcode::Set) => {
            let object = object_record(object.clone());
            service::object_fields(&object)?;
            Ok(ImportChange::SetObject(object))
        }
        (Some(Msg::Object(object)), Opcode::Delete | Opcode::DeleteWithRelations) => {
            let object = object_record(object.clone());
            service::object_fields(&object)?;
            Ok(ImportChange::DeleteObject {
                object_type: object.object_type,
                object_id: object.id,
                with_relations: op == Opcode::DeleteWithRelations,
            })
        }
        (Some(Msg::Relation(relation)), Opcode::Set) => {
            let (relation, _) = relation_record(relation.clone());
            service::relation_fields(&relation, "relation.")?;
            Ok(ImportChange::SetRelation(relation))
        }
        (Some(Msg::Relation(relation)), Opcode::Delete | Opcode::DeleteWithRelations) => {
            let (relation, _) = relation_record(relation.clone());
            service::relation_fields(&relation, "relation.")?;
            Ok(ImportChange::DeleteRelation(relation))
        }
        (None, _) => Err(ApiError::invalid(
            "an import message needs an object or a relation",
        )),
        (Some(_), _) => Err(ApiError::invalid(format!(
            "op_code {} is not OPCODE_SET, OPCODE_DELETE or OPCODE_DELETE_WITH_RELATIONS",
            request.op_code
        ))),
    }
}

/// The import message that asked for `change`, to name it in a refusal found when applying.
fn import_request_of(change: ImportChange) -> importer::ImportRequest {
    use importer::import_request::Msg;
    use importer::Opcode;
    let (op, msg) = match change {
        ImportChange::SetObject(object) => {
            (Opcode::Set, Msg::Object(object_message(&object, None)))
        }
        ImportChange::DeleteObject {
            object_type,
            object_id,
            with_relations,
        } => (
            if with_relations {
                Opcode::DeleteWithRelations
            } else {
                Opcode::Delete
            },
            Msg::Object(common::Object {
                r#type: object_type,
                id: object_id,
                ..Default::default()
            }),
        ),
        ImportChange::SetRelation(relation) => (
            Opcode::Set,
            Msg::Relation(relation_message(&relation, None)),
        ),
        ImportChange::DeleteRelation(relation) => (
            Opcode::Delete,
            Msg::Relation(relation_message(&relation, None)),
        ),
    };
    importer::ImportRequest {
        op_code: op as i32,
        msg: Some(msg),
    }
}

/// A per-message failure, reported in the response stream as Topaz reports it.
fn import_status(error: ApiError, request: importer::ImportRequest) -> importer::ImportResponse {
    importer::ImportResponse {
        object: None,
        relation: None,
        msg: Some(importer::import_response::Msg::Status(
            importer::ImportStatus {
                code: u32::try_from(error.code as i32).unwrap_or(2),
                msg: error.message,
                req: Some(request),
            },
        )),
    }
}

type ImportSender = tokio::sync::mpsc::Sender<Result<importer::ImportResponse, Status>>;

/// Runs one import stream. Every message is checked as it arrives: one Topaz refuses is reported
/// in the response stream and counted, the others are staged. Only when the request stream ends
/// cleanly is the stage applied, in one revision; a stream that breaks (cancelled, reset, a message
/// that does not decode, an import over `limits.max_import_bytes`) returns its error and leaves
/// nothing.
async fn run_import(
    tenant: Arc<Tenant>,
    mut stream: Streaming<importer::ImportRequest>,
    sender: &ImportSender,
    stage_limit: usize,
) -> Result<(), Status> {
    use importer::import_response::Msg as Out;
    let mut counters = ImportCounters::default();
    let mut stage = ImportStage::new(stage_limit);
    let mut number = 0u64;
    while let Some(message) = stream.message().await? {
        number += 1;
        counters.of_request(&message).recv += 1;
        let change = import_change(&message).and_then(|change| {
            tenant
                .store
                .check_import_change(&change)
                .map(|()| change)
                .map_err(service::store_error)
        });
        match change {
            Ok(change) => stage
                .push(number, &change)
                .map_err(|error| Status::from(service::store_error(error)))?,
            Err(error) => {
                counters.of_request(&message).error += 1;
                if sender
                    .send(Ok(import_status(error, message)))
                    .await
                    .is_err()
                {
                    return Err(Status::cancelled("the client went away"));
                }
            }
        }
    }
    drop(stream);
    // Applying takes the store's writer and syncs to disk: off the async workers.
    let (counters, refusals) = tokio::task::spawn_blocking(move || {
        let mut refusals = Vec::new();
        let applied = tenant.store.apply_import(&stage, |_, change, result| {
            let counter = counters.of_change(&change);
            match result {
                Ok(ChangeApplied::Set) => counter.set += 1,
                Ok(ChangeApplied::Deleted) => counter.delete += 1,
                // The manifest changed between the check and the apply.
                Err(error) => {
                    counter.error += 1;
                    refusals.push(import_status(
                        service::store_error(error),
                        import_request_of(change),
                    ));
                }
            }
            Ok(())
        });
        applied.map(|_| (counters, refusals))
    })
    .await
    .map_err(|error| Status::internal(format!("the import was not applied: {error}")))?
    .map_err(|error| Status::from(service::store_error(error)))?;
    let summary = [
        Out::Counter(counters.objects.message("object")),
        Out::Counter(counters.relations.message("relation")),
    ]
    .into_iter()
    .map(|msg| importer::ImportResponse {
        object: None,
        relation: None,
        msg: Some(msg),
    });
    let totals = importer::ImportResponse {
        object: Some(counters.objects.message("object")),
        relation: Some(counters.relations.message("relation")),
        msg: None,
    };
    for response in refusals.into_iter().chain(summary).chain([totals]) {
        if sender.send(Ok(response)).await.is_err() {
            break;
        }
    }
    Ok(())
}

#[tonic::async_trait]
impl importer::importer_server::Importer for DirectoryGrpc {
    type ImportStream = ResponseStream<importer::ImportResponse>;

    async fn import(
        &self,
        request: Request<Streaming<importer::ImportRequest>>,
    ) -> Result<Response<Self::ImportStream>, Status> {
        let access = access(&request)?;
        let stream = request.into_inner();
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let stage_limit = self.state.config.limits.max_import_bytes;
        tokio::spawn(async move {
            if let Err(status) = run_import(access.tenant, stream, &sender, stage_limit).await {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}

/// Export option bits (Topaz's `Option` enum).
const EXPORT_OBJECTS: u32 = 8;
const EXPORT_RELATIONS: u32 = 16;
const EXPORT_STATS: u32 = 64;

#[tonic::async_trait]
impl exporter::exporter_server::Exporter for DirectoryGrpc {
    type ExportStream = ResponseStream<exporter::ExportResponse>;

    async fn export(
        &self,
        request: Request<exporter::ExportRequest>,
    ) -> Result<Response<Self::ExportStream>, Status> {
        use exporter::export_response::Msg;
        let access = access(&request)?;
        let options = request.get_ref().options;
        if options & (EXPORT_OBJECTS | EXPORT_RELATIONS | EXPORT_STATS) == 0 {
            return Err(Status::invalid_argument(
                "options must ask for OPTION_DATA_OBJECTS, OPTION_DATA_RELATIONS, OPTION_DATA or OPTION_STATS",
            ));
        }
        // An immutable snapshot: the export is consistent however long the client takes.
        let directory = service::snapshot(&access.tenant);
        let (sender, receiver) = tokio::sync::mpsc::channel(256);
        tokio::task::spawn_blocking(move || {
            let send = |msg: Msg| {
                sender
                    .blocking_send(Ok(exporter::ExportResponse { msg: Some(msg) }))
                    .is_ok()
            };
            if options & EXPORT_STATS != 0 {
                let stats = serde_json::json!({
                    "objects": directory.object_count(),
                    "relations": directory.relation_count(),
                    "revision": directory.revision(),
                });
                if let Some(stats) = crate::grpc::to_struct(&stats) {
                    if !send(Msg::Stats(stats)) {
                        return;
                    }
                }
            }
            if options & EXPORT_OBJECTS != 0 {
                for object in directory.objects() {
                    if !send(Msg::Object(object_message(&object, None))) {
                        return;
                    }
                }
            }
            if options & EXPORT_RELATIONS != 0 {
                for relation in directory.relations() {
                    if !send(Msg::Relation(relation_message(&relation, None))) {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
