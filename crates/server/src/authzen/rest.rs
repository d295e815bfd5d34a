//! The OpenID AuthZEN Authorization API on the REST ports: access evaluation (single and batch, with
//! the three evaluation semantics) and subject/resource search, an action name being a relation or
//! permission of the resource's type.

use crate::access::Access;
use crate::api_error::ApiError;
use crate::rest::JsonBody;
use crate::server::AppState;
use crate::service::directory::{self as service};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lictor_directory::{
    CheckRequest, Directory, LookupObjectsRequest, LookupSubjectsRequest, Page,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// The routes, to be merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/subject", post(search_subject))
        .route("/access/v1/search/resource", post(search_resource))
        .route("/.well-known/authzen-configuration", get(configuration))
}

/// A subject or resource: a type and an id (properties are accepted and not used by ReBAC checks).
#[derive(Debug, Clone, Default, Deserialize)]
struct Entity {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    // Read only so that a properties value that is not an object is refused, as the spec types it.
    #[serde(default, rename = "properties")]
    _properties: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Action {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "properties")]
    _properties: Option<Map<String, Value>>,
}

/// One evaluation, any part of which may come from the batch's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
struct Evaluation {
    #[serde(default)]
    subject: Option<Entity>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    resource: Option<Entity>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct Options {
    #[serde(default)]
    evaluations_semantic: Option<String>,
}

/// A batch: the top-level subject, action, resource and context are the items' defaults. Written
/// out rather than flattened, as serde reads flattened fields past the object-only reader.
#[derive(Debug, Default, Deserialize)]
struct Batch {
    #[serde(default)]
    subject: Option<Entity>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    resource: Option<Entity>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    evaluations: Option<Vec<Evaluation>>,
    #[serde(default)]
    options: Option<Options>,
}

/// The fields of an evaluation after defaults, checked.
struct Resolved {
    subject_type: String,
    subject_id: String,
    action: String,
    resource_type: String,
    resource_id: String,
}

fn field(value: Option<&String>, name: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::invalid(format!("{name} is required")))
}

impl Evaluation {
    fn merged(self, defaults: &Evaluation) -> Evaluation {
        Evaluation {
            subject: self.subject.or_else(|| defaults.subject.clone()),
            action: self.action.or_else(|| defaults.action.clone()),
            resource: self.resource.or_else(|| defaults.resource.clone()),
            context: self.context.or_else(|| defaults.context.clone()),
        }
    }

    fn resolve(&self) -> Result<Resolved, ApiError> {
        let subject = self.subject.clone().unwrap_or_default();
        let resource = self.resource.clone().unwrap_or_default();
        let action = self.action.clone().unwrap_or_default();
        Ok(Resolved {
            subject_type: field(subject.kind.as_ref(), "subject.type")?,
            subject_id: field(subject.id.as_ref(), "subject.id")?,
            action: field(action.name.as_ref(), "action.name")?,
            resource_type: field(resource.kind.as_ref(), "resource.type")?,
            resource_id: field(resource.id.as_ref(), "resource.id")?,
        })
    }
}

async fn decide(
    state: &AppState,
    access: &Access,
    directory: &Directory,
    evaluation: &Evaluation,
) -> Result<bool, ApiError> {
    let r = evaluation.resolve()?;
    let request = CheckRequest {
        object_type: &r.resource_type,
        object_id: &r.resource_id,
        relation: &r.action,
        subject_type: &r.subject_type,
        subject_id: &r.subject_id,
        subject_relation: "",
    };
    let started = Instant::now();
    let (allowed, _) = service::check(directory, &request, false)?;
    crate::audit::log_check(
        state,
        access,
        directory,
        &request,
        allowed,
        started,
        "evaluation",
    )
    .await;
    Ok(allowed)
}

async fn evaluation(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Evaluation>,
) -> Result<Json<Value>, ApiError> {
    // The access layer echoes `x-request-id`, as AuthZEN asks.
    let directory = service::snapshot(&access.tenant);
    let allowed = decide(&state, &access, &directory, &body).await?;
    Ok(Json(json!({ "decision": allowed })))
}

async fn evaluations(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Batch>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let defaults = Evaluation {
        subject: body.subject,
        action: body.action,
        resource: body.resource,
        context: body.context,
    };
    let Some(items) = body.evaluations.filter(|items| !items.is_empty()) else {
        // Without a list, the request is one evaluation.
        let allowed = decide(&state, &access, &directory, &defaults).await?;
        return Ok(Json(json!({ "decision": allowed })));
    };
    let semantic = body
        .options
        .and_then(|o| o.evaluations_semantic)
        .unwrap_or_else(|| "execute_all".to_string());
    let stop_on = match semantic.as_str() {
        "execute_all" => None,
        "deny_on_first_deny" => Some(false),
        "permit_on_first_permit" => Some(true),
        other => {
            return Err(ApiError::invalid(format!(
                "options.evaluations_semantic {other:?} is not execute_all, deny_on_first_deny or permit_on_first_permit"
            )))
        }
    };
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let item = item.merged(&defaults);
        let result = match decide(&state, &access, &directory, &item).await {
            Ok(allowed) => json!({ "decision": allowed }),
            Err(error) => json!({
                "decision": false,
                "context": { "error": { "status": error.code.http_status().as_u16(),
                                         "message": format!("evaluations[{i}]: {}", error.message) } },
            }),
        };
        let decision = result.get("decision").and_then(Value::as_bool);
        results.push(result);
        if stop_on.is_some() && decision == stop_on {
            break;
        }
    }
    Ok(Json(json!({ "evaluations": results })))
}

#[derive(Debug, Default, Deserialize)]
struct SearchPage {
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// A search: the evaluation's fields with one part left open, and paging.
#[derive(Debug, Default, Deserialize)]
struct Search {
    #[serde(default)]
    subject: Option<Entity>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    resource: Option<Entity>,
    #[serde(default, rename = "context")]
    _context: Option<Map<String, Value>>,
    #[serde(default)]
    page: Option<SearchPage>,
}

async fn search_resource(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Search>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let subject = body.subject.clone().unwrap_or_default();
    let resource = body.resource.clone().unwrap_or_default();
    let action = body.action.clone().unwrap_or_default();
    let subject_type = field(subject.kind.as_ref(), "subject.type")?;
    let subject_id = field(subject.id.as_ref(), "subject.id")?;
    let permission = field(action.name.as_ref(), "action.name")?;
    let object_type = field(resource.kind.as_ref(), "resource.type")?;
    let page = body.page.unwrap_or_default();
    let found = directory
        .lookup_objects(
            &LookupObjectsRequest {
                subject_type: &subject_type,
                subject_id: &subject_id,
                subject_relation: "",
                permission: &permission,
                object_type: &object_type,
            },
            Page {
                size: page.limit.unwrap_or(0),
                after: page.next_token.as_deref().filter(|t| !t.is_empty()),
            },
        )
        .map_err(service::directory_error)?;
    Ok(Json(json!({
        "results": found.ids.iter().map(|id| json!({"type": object_type, "id": id})).collect::<Vec<_>>(),
        "page": { "next_token": found.next.unwrap_or_default() },
    })))
}

async fn search_subject(
    Extension(access): Extension<Access>,
    JsonBody(body): JsonBody<Search>,
) -> Result<Json<Value>, ApiError> {
    let directory = service::snapshot(&access.tenant);
    let subject = body.subject.clone().unwrap_or_default();
    let resource = body.resource.clone().unwrap_or_default();
    let action = body.action.clone().unwrap_or_default();
    let subject_type = field(subject.kind.as_ref(), "subject.type")?;
    let permission = field(action.name.as_ref(), "action.name")?;
    let object_type = field(resource.kind.as_ref(), "resource.type")?;
    let object_id = field(resource.id.as_ref(), "resource.id")?;
    let page = body.page.unwrap_or_default();
    let found = directory
        .lookup_subjects(
            &LookupSubjectsRequest {
                object_type: &object_type,
                object_id: &object_id,
                permission: &permission,
                subject_type: &subject_type,
                subject_relation: "",
            },
            Page {
                size: page.limit.unwrap_or(0),
                after: page.next_token.as_deref().filter(|t| !t.is_empty()),
            },
        )
        .map_err(service::directory_error)?;
    Ok(Json(json!({
        "results": found.page.ids.iter().map(|id| json!({"type": subject_type, "id": id})).collect::<Vec<_>>(),
        "page": { "next_token": found.page.next.unwrap_or_default() },
    })))
}

async fn configuration(headers: HeaderMap) -> Json<Value> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}");
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_subject_endpoint": format!("{base}/access/v1/search/subject"),
        "search_resource_endpoint": format!("{base}/access/v1/search/resource"),
    }))
}
