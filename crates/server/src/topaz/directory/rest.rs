//! The directory v3 REST gateway: Topaz's paths and JSON (proto field names) over the directory
//! service, plus Lictor's own lookup and explain paths under `/api/v3/lictor/`.
//!
//! As in Topaz's protojson and its gateway's query parameters, a field is read under its proto name
//! (`object_type`) or its JSON name (`objectType`), never both; answers use proto names.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::rest::{JsonBody, PathParams, QueryParams};
use crate::server::AppState;
use crate::service::directory::{self as service, PageRequest, RelationFilter};
use crate::tenant::Tenant;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lictor_directory::{CheckRequest, LookupObjectsRequest, LookupSubjectsRequest, Page};
use lictor_model::{ObjectRecord, RelationRecord};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The routes, to be merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v3/directory/object/{object_type}/{object_id}",
            get(get_object).delete(delete_object),
        )
        .route("/api/v3/directory/object", post(set_object))
        .route("/api/v3/directory/objects", get(get_objects))
        // GetObjectMany has no HTTP annotation; this is the gateway's default route for it.
        .route(
            "/aserto.directory.reader.v3.Reader/GetObjectMany",
            post(get_object_many),
        )
        .route(
            "/api/v3/directory/relation",
            get(get_relation)
                .post(set_relation)
                .delete(delete_relation_by_query),
        )
        .route("/api/v3/directory/relations", get(get_relations))
        .route("/api/v3/directory/check", post(check))
        .route("/api/v3/directory/checks", post(checks))
        .route("/api/v3/directory/check/permission", post(check_permission))
        .route("/api/v3/directory/check/relation", post(check_relation))
        .route(
            "/api/v3/directory/graph/{object_type}/{relation}/{subject_type}",
            get(get_graph),
        )
        .route(
            "/api/v3/directory/manifest",
            get(get_manifest).post(set_manifest).delete(delete_manifest),
        )
        .route("/api/v3/lictor/explain", post(explain))
        .route("/api/v3/lictor/objects", get(search_objects))
        .route("/api/v3/lictor/lookup/objects", post(lookup_objects))
        .route("/api/v3/lictor/lookup/subjects", post(lookup_subjects))
}

/// Paging as query parameters (`page.size`, `page.token`).
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    #[serde(default, rename = "page.size")]
    size: Option<String>,
    #[serde(default, rename = "page.token")]
    token: Option<String>,
}

impl PageQuery {
    fn request(&self) -> Result<PageRequest, ApiError> {
        let size = match self.size.as_deref() {
            None => 0,
            Some(text) => text
                .parse()
                .map_err(|_| ApiError::invalid(format!("page.size {text:?} is not a number")))?,
        };
        Ok(PageRequest {
            size,
            token: self.token.clone().unwrap_or_default(),
        })
    }
}

fn page_json(next: String) -> Value {
    json!({ "next_token": next })
}

/// An object as Topaz's JSON shows it.
fn object_json(tenant: &Tenant, object: &ObjectRecord) -> Value {
    let stamps = service::object_stamps(tenant, &object.object_type, &object.id);
    json!({
        "type": object.object_type,
        "id": object.id,
        "display_name": object.display_name,
        "properties": object.properties,
        "created_at": stamps.map(|s| rfc3339(s.created_at)),
        "updated_at": stamps.map(|s| rfc3339(s.updated_at)),
        "etag": object.etag,
    })
}

/// Unix microseconds as protojson writes a `Timestamp`.
fn rfc3339(micros: u64) -> Value {
    serde_json::to_value(crate::grpc::timestamp(micros)).unwrap_or(Value::Null)
}

/// A relation as Topaz's JSON shows it.
fn relation_json(tenant: &Tenant, relation: &RelationRecord) -> Value {
    let stamps = service::relation_stamps(tenant, relation);
    json!({
        "object_type": relation.object_type,
        "object_id": relation.object_id,
        "relation": relation.relation,
        "subject_type": relation.subject_type,
        "subject_id": relation.subject_id,
        "subject_relation": relation.subject_relation,
        "created_at": stamps.map(|s| rfc3339(s.created_at)),
        "updated_at": stamps.map(|s| rfc3339(s.updated_at)),
        "etag": relation.etag(),
    })
}

/// A boolean query parameter, spelled as grpc-gateway accepts it (Go's `strconv.ParseBool`).
fn flag(value: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("false" | "False" | "FALSE" | "f" | "F" | "0") => Ok(false),
        Some("true" | "True" | "TRUE" | "t" | "T" | "1") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}

#[derive(Deserialize)]
struct GetObjectQuery {
    #[serde(default, alias = "withRelations")]
    with_relations: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn get_object(
    Extension(access): Extension<Access>,
    PathParams((object_type, object_id)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<GetObjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let with_relations = flag(query.with_relations.as_deref(), "with_relations")?;
    let (object, relations, next) = service::get_object(
        &directory,
        &object_type,
        &object_id,
        with_relations,
        &query.page.request()?,
    )?;
    Ok(Json(json!({
        "result": object_json(&access.tenant, &object),
        "relations": relations.iter().map(|r| relation_json(&access.tenant, r)).collect::<Vec<_>>(),
        "page": page_json(next),
    })))
}

#[derive(Deserialize)]
struct GetObjectsQuery {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(flatten)]
    page: PageQuery,
}

/// Lictor's object search: objects whose id or display name contains `q`.
#[derive(Deserialize)]
struct SearchObjectsQuery {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default)]
    q: String,
    #[serde(flatten)]
    page: PageQuery,
}

async fn search_objects(
    Extension(access): Extension<Access>,
    QueryParams(query): QueryParams<SearchObjectsQuery>,
) -> Result<Json<Value>, ApiError> {
    objects_page(&access, &query.object_type, &query.q, &query.page)
}

async fn get_objects(
    Extension(access): Extension<Access>,
    QueryParams(query): QueryParams<GetObjectsQuery>,
) -> Result<Json<Value>, ApiError> {
    objects_page(&access, &query.object_type, "", &query.page)
}

/// A page of objects of a type (or all) whose id or display name contains `text`.
fn objects_page(
    access: &Access,
    object_type: &str,
    text: &str,
    page: &PageQuery,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let (objects, next) = service::search_objects(&directory, object_type, text, &page.request()?)?;
    Ok(Json(json!({
        "results": objects.iter().map(|o| object_json(&access.tenant, o)).collect::<Vec<_>>(),
        "page": page_json(next),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectIdentifier {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetObjectManyBody {
    #[serde(default)]
    param: Vec<ObjectIdentifier>,
}

async fn get_object_many(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<GetObjectManyBody>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let ids: Vec<(String, String)> = body
        .param
        .into_iter()
        .map(|p| (p.object_type, p.object_id))
        .collect();
    let objects = service::get_object_many(&directory, &ids)?;
    Ok(Json(json!({
        "results": objects.iter().map(|o| object_json(&access.tenant, o)).collect::<Vec<_>>(),
    })))
}

#[derive(Default, Deserialize)]
struct RelationQuery {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default)]
    relation: String,
    #[serde(default, alias = "subjectType")]
    subject_type: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default, alias = "subjectRelation")]
    subject_relation: String,
    #[serde(default, alias = "withObjects")]
    with_objects: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

impl RelationQuery {
    fn filter(&self) -> RelationFilter {
        RelationFilter {
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            relation: self.relation.clone(),
            subject_type: self.subject_type.clone(),
            subject_id: self.subject_id.clone(),
            subject_relation: self.subject_relation.clone(),
        }
    }

    fn record(&self) -> RelationRecord {
        RelationRecord {
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            relation: self.relation.clone(),
            subject_type: self.subject_type.clone(),
            subject_id: self.subject_id.clone(),
            subject_relation: self.subject_relation.clone(),
        }
    }
}

/// The objects of relations, keyed `type:id` as Topaz's `with_objects` returns them.
fn objects_of(
    tenant: &Tenant,
    directory: &lictor_directory::Directory,
    relations: &[RelationRecord],
) -> Value {
    let objects = service::objects_of(directory, relations)
        .into_iter()
        .map(|(key, object)| (key, object_json(tenant, &object)))
        .collect();
    Value::Object(objects)
}

async fn get_relation(
    Extension(access): Extension<Access>,
    QueryParams(query): QueryParams<RelationQuery>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let relation = service::get_relation(&directory, &query.record())?;
    let with_objects = flag(query.with_objects.as_deref(), "with_objects")?;
    let objects = if with_objects {
        objects_of(&access.tenant, &directory, std::slice::from_ref(&relation))
    } else {
        json!({})
    };
    Ok(Json(json!({
        "result": relation_json(&access.tenant, &relation),
        "objects": objects,
    })))
}

async fn get_relations(
    Extension(access): Extension<Access>,
    QueryParams(query): QueryParams<RelationQuery>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let (relations, next) =
        service::get_relations(&directory, &query.filter(), &query.page.request()?)?;
    let with_objects = flag(query.with_objects.as_deref(), "with_objects")?;
    let objects = if with_objects {
        objects_of(&access.tenant, &directory, &relations)
    } else {
        json!({})
    };
    Ok(Json(json!({
        "results": relations.iter().map(|r| relation_json(&access.tenant, r)).collect::<Vec<_>>(),
        "objects": objects,
        "page": page_json(next),
    })))
}

/// A check as Topaz's JSON carries it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default)]
    relation: String,
    #[serde(default, alias = "subjectType")]
    subject_type: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default, alias = "subjectRelation")]
    subject_relation: String,
    #[serde(default)]
    trace: bool,
}

impl CheckBody {
    fn request(&self) -> CheckRequest<'_> {
        CheckRequest {
            object_type: &self.object_type,
            object_id: &self.object_id,
            relation: &self.relation,
            subject_type: &self.subject_type,
            subject_id: &self.subject_id,
            subject_relation: &self.subject_relation,
        }
    }

    /// Empty fields taken from `default`, as Topaz's Checks fills them.
    fn with_default(mut self, default: &CheckBody) -> CheckBody {
        let fill = |field: &mut String, from: &String| {
            if field.is_empty() {
                field.clone_from(from);
            }
        };
        fill(&mut self.object_type, &default.object_type);
        fill(&mut self.object_id, &default.object_id);
        fill(&mut self.relation, &default.relation);
        fill(&mut self.subject_type, &default.subject_type);
        fill(&mut self.subject_id, &default.subject_id);
        fill(&mut self.subject_relation, &default.subject_relation);
        self.trace |= default.trace;
        self
    }
}

fn check_json(allowed: bool, trace: Vec<String>) -> Value {
    json!({ "check": allowed, "trace": trace, "context": {} })
}

async fn check(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let (allowed, trace) = logged_check(&state, &access, &body).await?;
    Ok(Json(check_json(allowed, trace)))
}

/// One check on the current snapshot, logged as a decision.
async fn logged_check(
    state: &AppState,
    access: &Access,
    body: &CheckBody,
) -> Result<(bool, Vec<String>), ApiError> {
    let directory = service::snapshot(&access.tenant);
    let started = std::time::Instant::now();
    let (allowed, trace) = service::check(&directory, &body.request(), body.trace)?;
    crate::audit::log_check(
        state,
        access,
        &directory,
        &body.request(),
        allowed,
        started,
        "check",
    )
    .await;
    Ok((allowed, trace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksBody {
    #[serde(default)]
    default: CheckBody,
    #[serde(default)]
    checks: Vec<CheckBody>,
}

async fn checks(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<ChecksBody>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let mut results = Vec::with_capacity(body.checks.len());
    for (i, item) in body.checks.into_iter().enumerate() {
        let item = item.with_default(&body.default);
        let started = std::time::Instant::now();
        // Topaz answers a bad item in place rather than failing the batch.
        match service::check(&directory, &item.request(), item.trace) {
            Ok((allowed, trace)) => {
                crate::audit::log_check(
                    &state,
                    &access,
                    &directory,
                    &item.request(),
                    allowed,
                    started,
                    "check",
                )
                .await;
                results.push(check_json(allowed, trace));
            }
            Err(error) => results.push(json!({
                "check": false,
                "trace": [],
                "context": { "error": format!("checks[{i}]: {}", error.message) },
            })),
        }
    }
    Ok(Json(json!({ "checks": results })))
}

/// The deprecated CheckPermission body: `permission` names the permission.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckPermissionBody {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default)]
    permission: String,
    #[serde(default, alias = "subjectType")]
    subject_type: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default)]
    trace: bool,
}

async fn check_permission(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<CheckPermissionBody>,
) -> Result<Json<Value>, ApiError> {
    let body = CheckBody {
        object_type: body.object_type,
        object_id: body.object_id,
        relation: body.permission,
        subject_type: body.subject_type,
        subject_id: body.subject_id,
        subject_relation: String::new(),
        trace: body.trace,
    };
    let (check, trace) = logged_check(&state, &access, &body).await?;
    Ok(Json(json!({ "check": check, "trace": trace })))
}

/// CheckRelation answers `{check, trace}`, without Check's context.
async fn check_relation(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let (check, trace) = logged_check(&state, &access, &body).await?;
    Ok(Json(json!({ "check": check, "trace": trace })))
}

#[derive(Deserialize)]
struct GraphQuery {
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default, alias = "subjectRelation")]
    subject_relation: String,
    #[serde(default)]
    explain: Option<String>,
}

async fn get_graph(
    Extension(access): Extension<Access>,
    PathParams((object_type, relation, subject_type)): PathParams<(String, String, String)>,
    QueryParams(query): QueryParams<GraphQuery>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let filter = RelationFilter {
        object_type,
        object_id: query.object_id,
        relation,
        subject_type,
        subject_id: query.subject_id,
        subject_relation: query.subject_relation,
    };
    let results = service::get_graph(&directory, &filter)?;
    let explanation = if flag(query.explain.as_deref(), "explain")? {
        service::explain_graph(&directory, &filter, &results)?
    } else {
        Map::new()
    };
    Ok(Json(json!({
        "results": results
            .into_iter()
            .map(|(t, i)| json!({"object_type": t, "object_id": i}))
            .collect::<Vec<_>>(),
        "explanation": explanation,
        "trace": [],
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetObjectBody {
    object: Option<ObjectRecord>,
}

async fn set_object(
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetObjectBody>,
) -> Result<Json<Value>, ApiError> {
    let object = body
        .object
        .ok_or_else(|| ApiError::invalid("object is required"))?;
    if !object.properties.is_object() {
        return Err(ApiError::invalid("object.properties must be a JSON object"));
    }
    // `If-None-Match: *` creates only: an object already stored is refused, not replaced.
    let create_only = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*");
    let stored = if create_only {
        service::create_object(&access.tenant, &object).await?
    } else {
        service::set_object(&access.tenant, &object).await?
    };
    Ok(Json(
        json!({ "result": object_json(&access.tenant, &stored) }),
    ))
}

#[derive(Deserialize)]
struct DeleteObjectQuery {
    #[serde(default, alias = "withRelations")]
    with_relations: Option<String>,
}

async fn delete_object(
    Extension(access): Extension<Access>,
    PathParams((object_type, object_id)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<DeleteObjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let with_relations = flag(query.with_relations.as_deref(), "with_relations")?;
    service::delete_object(&access.tenant, &object_type, &object_id, with_relations).await?;
    Ok(Json(json!({ "result": {} })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationBody {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default)]
    relation: String,
    #[serde(default, alias = "subjectType")]
    subject_type: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default, alias = "subjectRelation")]
    subject_relation: String,
    #[serde(default)]
    etag: String,
    // Timestamps are the server's to set; accepted so that a read relation can be written back.
    #[serde(default, rename = "created_at", alias = "createdAt")]
    _created_at: serde::de::IgnoredAny,
    #[serde(default, rename = "updated_at", alias = "updatedAt")]
    _updated_at: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRelationBody {
    relation: Option<RelationBody>,
}

async fn set_relation(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<SetRelationBody>,
) -> Result<Json<Value>, ApiError> {
    let body = body
        .relation
        .ok_or_else(|| ApiError::invalid("relation is required"))?;
    let relation = RelationRecord {
        object_type: body.object_type,
        object_id: body.object_id,
        relation: body.relation,
        subject_type: body.subject_type,
        subject_id: body.subject_id,
        subject_relation: body.subject_relation,
    };
    let stored = service::set_relation(&access.tenant, &relation, &body.etag).await?;
    Ok(Json(
        json!({ "result": relation_json(&access.tenant, &stored) }),
    ))
}

async fn delete_relation_by_query(
    Extension(access): Extension<Access>,
    QueryParams(query): QueryParams<RelationQuery>,
) -> Result<Json<Value>, ApiError> {
    service::delete_relation(&access.tenant, &query.record()).await?;
    Ok(Json(json!({ "result": {} })))
}

async fn get_manifest(
    Extension(access): Extension<Access>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let manifest = crate::manifest::current(&access.tenant)?;
    let etag = format!("\"{}\"", manifest.etag);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag || t.trim() == manifest.etag)
        });
    if unchanged {
        return Ok((axum::http::StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml".to_string()),
            (header::ETAG, etag),
        ],
        manifest.source,
    )
        .into_response())
}

async fn set_manifest(
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Json<Value>, ApiError> {
    // An oversize or non-UTF-8 body is answered like every other error, not as axum's plain text.
    let body =
        body.map_err(|e| crate::rest::body_error("manifest body", e.status(), &e.body_text()))?;
    // Topaz's gateway also takes the manifest wrapped as JSON: {"body": {"data": "<yaml>"}}.
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let source = if is_json {
        let value: Value = serde_json::from_str(&body)
            .map_err(|e| ApiError::invalid(format!("manifest JSON: {e}")))?;
        value
            .pointer("/body/data")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::invalid("body.data (the manifest YAML) is required"))?
    } else {
        body
    };
    // `If-Match` makes the write conditional on the manifest the caller read (its GET's ETag).
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    let revision = crate::manifest::set(&access.tenant, &source, if_match)?;
    Ok(Json(json!({ "result": {}, "revision": revision })))
}

async fn delete_manifest(Extension(access): Extension<Access>) -> Result<Json<Value>, ApiError> {
    access
        .tenant
        .store
        .delete_manifest()
        .map_err(service::store_error)?;
    Ok(Json(json!({ "result": {} })))
}

async fn explain(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    service::require_check_fields(&body.request())?;
    let directory = service::snapshot(&access.tenant);
    let explanation = directory
        .explain(&body.request())
        .map_err(service::directory_error)?;
    Ok(Json(json!({
        "allowed": explanation.allowed,
        "trace": explanation.trace,
        "text": explanation.trace.as_ref().map(ToString::to_string).unwrap_or_default(),
        "revision": directory.revision(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    #[serde(default, alias = "objectType")]
    object_type: String,
    #[serde(default, alias = "objectId")]
    object_id: String,
    #[serde(default)]
    permission: String,
    #[serde(default, alias = "subjectType")]
    subject_type: String,
    #[serde(default, alias = "subjectId")]
    subject_id: String,
    #[serde(default, alias = "subjectRelation")]
    subject_relation: String,
    #[serde(default, alias = "pageSize")]
    page_size: usize,
    #[serde(default)]
    after: Option<String>,
}

async fn lookup_objects(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<LookupBody>,
) -> Result<Json<Value>, ApiError> {
    service::required(&body.subject_type, "subject_type")?;
    service::required(&body.subject_id, "subject_id")?;
    service::required(&body.permission, "permission")?;
    service::required(&body.object_type, "object_type")?;
    let directory = service::snapshot(&access.tenant);
    let page = directory
        .lookup_objects(
            &LookupObjectsRequest {
                subject_type: &body.subject_type,
                subject_id: &body.subject_id,
                subject_relation: &body.subject_relation,
                permission: &body.permission,
                object_type: &body.object_type,
            },
            Page {
                size: body.page_size,
                after: body.after.as_deref(),
            },
        )
        .map_err(service::directory_error)?;
    Ok(Json(json!({
        "object_type": body.object_type,
        "ids": page.ids,
        "next": page.next,
        "revision": directory.revision(),
    })))
}

async fn lookup_subjects(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<LookupBody>,
) -> Result<Json<Value>, ApiError> {
    service::required(&body.object_type, "object_type")?;
    service::required(&body.object_id, "object_id")?;
    service::required(&body.permission, "permission")?;
    service::required(&body.subject_type, "subject_type")?;
    let directory = service::snapshot(&access.tenant);
    let found = directory
        .lookup_subjects(
            &LookupSubjectsRequest {
                object_type: &body.object_type,
                object_id: &body.object_id,
                permission: &body.permission,
                subject_type: &body.subject_type,
                subject_relation: &body.subject_relation,
            },
            Page {
                size: body.page_size,
                after: body.after.as_deref(),
            },
        )
        .map_err(service::directory_error)?;
    Ok(Json(json!({
        "subject_type": body.subject_type,
        "ids": found.page.ids,
        "excluded": found.excluded,
        "next": found.page.next,
        "revision": directory.revision(),
    })))
}
