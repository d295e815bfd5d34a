//! The OpenID AuthZEN Authorization API 1.0 on the REST ports: access evaluation (single and batch,
//! with defaults and the three evaluation semantics), subject, resource and action search with
//! pagination, and the PDP metadata document. Each evaluation is decided as the tenant's mappings
//! say (see [`super::config`]).

use super::decide::{self, Entity, Query};
use crate::access::Access;
use crate::api_error::{ApiError, Code};
use crate::rest::JsonBody;
use crate::server::AppState;
use crate::service::directory as service;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use lictor_directory::{
    Directory, DirectoryError, LookupObjectsRequest, LookupSubjectsRequest, Page,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The routes, to be merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/access/v1/evaluation", post(evaluation))
        .route("/access/v1/evaluations", post(evaluations))
        .route("/access/v1/search/subject", post(search_subject))
        .route("/access/v1/search/resource", post(search_resource))
        .route("/access/v1/search/action", post(search_action))
        .route("/.well-known/authzen-configuration", get(configuration))
}

type Object = Map<String, Value>;

/// One evaluation as sent; any part may come from the batch's defaults. Entities are read as
/// objects and checked by hand, so that every field the caller sent reaches the policies.
#[derive(Debug, Clone, Default, Deserialize)]
struct Evaluation {
    #[serde(default)]
    subject: Option<Object>,
    #[serde(default)]
    action: Option<Object>,
    #[serde(default)]
    resource: Option<Object>,
    #[serde(default)]
    context: Option<Object>,
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
    subject: Option<Object>,
    #[serde(default)]
    action: Option<Object>,
    #[serde(default)]
    resource: Option<Object>,
    #[serde(default)]
    context: Option<Object>,
    #[serde(default)]
    evaluations: Option<Vec<Evaluation>>,
    #[serde(default)]
    options: Option<Options>,
}

impl Evaluation {
    /// This evaluation with each absent entity (whole) taken from `defaults`.
    fn merged(self, defaults: &Evaluation) -> Evaluation {
        Evaluation {
            subject: self.subject.or_else(|| defaults.subject.clone()),
            action: self.action.or_else(|| defaults.action.clone()),
            resource: self.resource.or_else(|| defaults.resource.clone()),
            context: self.context.or_else(|| defaults.context.clone()),
        }
    }

    /// Checks the types of what the entities and the action have, under `prefix`.
    fn well_typed(&self, prefix: &str) -> Result<(), ApiError> {
        for (name, part) in [
            ("subject", &self.subject),
            ("action", &self.action),
            ("resource", &self.resource),
        ] {
            decide::well_typed(part.as_ref(), &format!("{prefix}{name}"))?;
        }
        Ok(())
    }

    /// The checked query; field names in errors start with `prefix` (empty or `evaluations[i].`).
    fn query(&self, prefix: &str) -> Result<Query, ApiError> {
        Ok(Query {
            subject: decide::entity(self.subject.as_ref(), &format!("{prefix}subject"), true)?,
            action: decide::action(self.action.as_ref(), &format!("{prefix}action"))?,
            action_fields: self.action.clone().unwrap_or_default(),
            resource: decide::entity(self.resource.as_ref(), &format!("{prefix}resource"), true)?,
            context: self.context.clone().unwrap_or_default(),
        })
    }
}

/// AuthZEN bodies are JSON: another declared content type is refused with 400.
fn json_content(headers: &HeaderMap) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match declared {
        Some(kind) if kind == "application/json" || kind.ends_with("+json") => Ok(()),
        Some(kind) => Err(ApiError::invalid(format!(
            "Content-Type {kind:?} is not application/json"
        ))),
        None => Err(ApiError::invalid(
            "Content-Type application/json is required",
        )),
    }
}

async fn evaluation(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Evaluation>,
) -> Result<Json<Value>, ApiError> {
    // The access layer echoes `x-request-id`, as AuthZEN asks.
    json_content(&headers)?;
    let directory = service::snapshot(&access.tenant);
    let query = body.query("")?;
    let allowed = decide::decide(&state, &access, &directory, &query, true).await?;
    Ok(Json(json!({ "decision": allowed })))
}

/// When a batch stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Semantic {
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

impl Semantic {
    fn parse(name: Option<&str>) -> Result<Semantic, ApiError> {
        match name.unwrap_or("execute_all") {
            "execute_all" => Ok(Semantic::ExecuteAll),
            "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
            "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
            other => Err(ApiError::invalid(format!(
                "options.evaluations_semantic {other:?} is not execute_all, deny_on_first_deny or permit_on_first_permit"
            ))),
        }
    }

    /// Whether a batch stops after an item decided `decision`.
    fn stops_after(self, decision: bool) -> bool {
        match self {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !decision,
            Semantic::PermitOnFirstPermit => decision,
        }
    }
}

async fn evaluations(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Batch>,
) -> Result<Json<Value>, ApiError> {
    json_content(&headers)?;
    let directory = service::snapshot(&access.tenant);
    let defaults = Evaluation {
        subject: body.subject,
        action: body.action,
        resource: body.resource,
        context: body.context,
    };
    let semantic = Semantic::parse(
        body.options
            .as_ref()
            .and_then(|o| o.evaluations_semantic.as_deref()),
    )?;
    // Wrong types anywhere refuse the whole batch; a missing field fails only its item.
    defaults.well_typed("")?;
    for (i, item) in body.evaluations.iter().flatten().enumerate() {
        item.well_typed(&format!("evaluations[{i}]."))?;
    }
    let Some(items) = body.evaluations.filter(|items| !items.is_empty()) else {
        // Without a list, the request is one evaluation.
        let query = defaults.query("")?;
        let allowed = decide::decide(&state, &access, &directory, &query, true).await?;
        return Ok(Json(json!({ "decision": allowed })));
    };
    let mut results = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("evaluations[{i}].");
        let decided = match item.merged(&defaults).query(&prefix) {
            Ok(query) => decide::decide(&state, &access, &directory, &query, true).await,
            Err(error) => Err(error),
        };
        // A failed item is denied, with the reason in its context; the others still run.
        let (decision, result) = match decided {
            Ok(allowed) => (allowed, json!({ "decision": allowed })),
            Err(error) => (
                false,
                json!({
                    "decision": false,
                    "context": { "error": { "status": error.code.http_status().as_u16(),
                                             "message": error.message } },
                }),
            ),
        };
        results.push(result);
        if semantic.stops_after(decision) {
            break;
        }
    }
    Ok(Json(json!({ "evaluations": results })))
}

#[derive(Debug, Default, Deserialize)]
struct SearchPage {
    /// The previous answer's `next_token`.
    #[serde(default)]
    token: Option<String>,
    /// Accepted as `token`, as Lictor's earlier answers named it.
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// A search: the evaluation's fields with one part left open, and paging.
#[derive(Debug, Default, Deserialize)]
struct Search {
    #[serde(default)]
    subject: Option<Object>,
    #[serde(default)]
    action: Option<Object>,
    #[serde(default)]
    resource: Option<Object>,
    #[serde(default)]
    context: Option<Object>,
    #[serde(default)]
    page: Option<SearchPage>,
}

/// The paging a search asked for.
struct Paging {
    /// Whether the request had a `page` (then the answer has one too).
    asked: bool,
    limit: usize,
    after: Option<String>,
}

impl Search {
    fn paging(&self) -> Paging {
        let page = self.page.as_ref();
        Paging {
            asked: page.is_some(),
            limit: page.and_then(|p| p.limit).unwrap_or(0),
            after: page
                .and_then(|p| p.token.clone().or_else(|| p.next_token.clone()))
                .filter(|t| !t.is_empty()),
        }
    }

    fn open_query(&self, subject: Entity, action: String, resource: Entity) -> Query {
        Query {
            subject,
            action,
            action_fields: self.action.clone().unwrap_or_default(),
            resource,
            context: self.context.clone().unwrap_or_default(),
        }
    }
}

/// The answer of a search: its results, with `page` when the request had one or more remain.
fn search_answer(results: Vec<Value>, next: Option<String>, paging: &Paging) -> Json<Value> {
    let next = next.unwrap_or_default();
    let mut answer = Map::new();
    if paging.asked || !next.is_empty() {
        answer.insert(
            "page".into(),
            json!({ "next_token": next, "count": results.len() }),
        );
    }
    answer.insert("results".into(), Value::Array(results));
    Json(Value::Object(answer))
}

/// Whether a directory error only says that a name is unknown: a search then finds nothing.
fn finds_nothing(error: &DirectoryError) -> bool {
    matches!(
        error,
        DirectoryError::UnknownType { .. } | DirectoryError::UnknownName { .. }
    )
}

/// Whether a failed candidate of a policy search is just not a result (names the directory or
/// the policy does not know) rather than a failure of the whole search.
fn skippable(error: &ApiError) -> bool {
    matches!(error.code, Code::InvalidArgument | Code::NotFound)
}

/// The ids of directory objects of `kind`, ascending, after `after`.
fn object_ids(directory: &Directory, kind: &str, after: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = directory
        .objects()
        .filter(|o| o.object_type == kind)
        .map(|o| o.id)
        .filter(|id| after.is_none_or(|after| id.as_str() > after))
        .collect();
    ids.sort();
    ids
}

/// Evaluates `candidates` in order with `query_for`, keeping the permitted ones, up to
/// `paging.limit` (0: all); answers them and the token of the next page.
async fn permitted<T: Clone>(
    state: &AppState,
    access: &Access,
    directory: &Arc<Directory>,
    candidates: &[T],
    key: impl Fn(&T) -> String,
    query_for: impl Fn(&T) -> Query,
    paging: &Paging,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut found = Vec::new();
    for candidate in candidates {
        let allowed =
            match decide::decide(state, access, directory, &query_for(candidate), false).await {
                Ok(allowed) => allowed,
                Err(error) if skippable(&error) => false,
                Err(error) => return Err(error),
            };
        if !allowed {
            continue;
        }
        if paging.limit > 0 && found.len() == paging.limit {
            let next = found.last().map(&key);
            return Ok((found, next));
        }
        found.push(candidate.clone());
    }
    Ok((found, None))
}

async fn search_subject(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Search>,
) -> Result<Json<Value>, ApiError> {
    json_content(&headers)?;
    let directory = service::snapshot(&access.tenant);
    let subject = decide::entity(body.subject.as_ref(), "subject", false)?;
    let action = decide::action(body.action.as_ref(), "action")?;
    let resource = decide::entity(body.resource.as_ref(), "resource", true)?;
    let paging = body.paging();
    let settings = state.config.authzen_for(&access.tenant.id);
    if let super::config::Decider::Directory = settings.decider(&resource.kind, &action) {
        let found = directory.lookup_subjects(
            &LookupSubjectsRequest {
                object_type: &resource.kind,
                object_id: &resource.id,
                permission: &action,
                subject_type: &subject.kind,
                subject_relation: "",
            },
            Page {
                size: paging.limit,
                after: paging.after.as_deref(),
            },
        );
        let found = match found {
            Ok(found) => found.page,
            Err(error) if finds_nothing(&error) => Default::default(),
            Err(error) => return Err(service::directory_error(error)),
        };
        let results = found
            .ids
            .iter()
            .map(|id| json!({"type": subject.kind, "id": id}))
            .collect();
        return Ok(search_answer(results, found.next, &paging));
    }
    // The searched-for subject's own properties are not the candidates': each candidate brings
    // its directory object's.
    let mut open = subject.clone();
    open.fields.remove("properties");
    let candidates = object_ids(&directory, &subject.kind, paging.after.as_deref());
    let (ids, next) = permitted(
        &state,
        &access,
        &directory,
        &candidates,
        Clone::clone,
        |id: &String| {
            let mut candidate = open.clone();
            candidate.id.clone_from(id);
            candidate
                .fields
                .insert("id".into(), Value::String(id.clone()));
            body.open_query(candidate, action.clone(), resource.clone())
        },
        &paging,
    )
    .await?;
    let results = ids
        .iter()
        .map(|id| json!({"type": subject.kind, "id": id}))
        .collect();
    Ok(search_answer(results, next, &paging))
}

async fn search_resource(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Search>,
) -> Result<Json<Value>, ApiError> {
    json_content(&headers)?;
    let directory = service::snapshot(&access.tenant);
    let subject = decide::entity(body.subject.as_ref(), "subject", true)?;
    let action = decide::action(body.action.as_ref(), "action")?;
    let resource = decide::entity(body.resource.as_ref(), "resource", false)?;
    let paging = body.paging();
    let settings = state.config.authzen_for(&access.tenant.id);
    if let super::config::Decider::Directory = settings.decider(&resource.kind, &action) {
        let found = directory.lookup_objects(
            &LookupObjectsRequest {
                subject_type: &subject.kind,
                subject_id: &subject.id,
                subject_relation: "",
                permission: &action,
                object_type: &resource.kind,
            },
            Page {
                size: paging.limit,
                after: paging.after.as_deref(),
            },
        );
        let found = match found {
            Ok(found) => found,
            Err(error) if finds_nothing(&error) => Default::default(),
            Err(error) => return Err(service::directory_error(error)),
        };
        let results = found
            .ids
            .iter()
            .map(|id| json!({"type": resource.kind, "id": id}))
            .collect();
        return Ok(search_answer(results, found.next, &paging));
    }
    // The searched-for resource's own properties are not the candidates': each candidate brings
    // its directory object's.
    let mut open = resource.clone();
    open.fields.remove("properties");
    let candidates = object_ids(&directory, &resource.kind, paging.after.as_deref());
    let (ids, next) = permitted(
        &state,
        &access,
        &directory,
        &candidates,
        Clone::clone,
        |id: &String| {
            let mut candidate = open.clone();
            candidate.id.clone_from(id);
            candidate
                .fields
                .insert("id".into(), Value::String(id.clone()));
            body.open_query(subject.clone(), action.clone(), candidate)
        },
        &paging,
    )
    .await?;
    let results = ids
        .iter()
        .map(|id| json!({"type": resource.kind, "id": id}))
        .collect();
    Ok(search_answer(results, next, &paging))
}

/// The actions an action search tries on `kind`: those the mappings list, then (when requests on
/// the type can reach the directory) the type's relations and permissions.
fn candidate_actions(
    state: &AppState,
    access: &Access,
    directory: &Directory,
    kind: &str,
) -> Vec<String> {
    let settings = state.config.authzen_for(&access.tenant.id);
    let (mut actions, directory_decides) = settings.listed_actions(kind);
    if directory_decides {
        let manifest = directory.schema().manifest();
        if let Some(definition) = manifest.types.iter().find(|t| t.name == kind) {
            let names = definition
                .relations
                .iter()
                .map(|r| r.name.clone())
                .chain(definition.permissions.iter().map(|p| p.name.clone()));
            for name in names {
                if !actions.contains(&name) {
                    actions.push(name);
                }
            }
        }
    }
    actions
}

async fn search_action(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Search>,
) -> Result<Json<Value>, ApiError> {
    json_content(&headers)?;
    let directory = service::snapshot(&access.tenant);
    let subject = decide::entity(body.subject.as_ref(), "subject", true)?;
    let resource = decide::entity(body.resource.as_ref(), "resource", true)?;
    let paging = body.paging();
    let mut candidates = candidate_actions(&state, &access, &directory, &resource.kind);
    if let Some(after) = &paging.after {
        let start = candidates
            .iter()
            .position(|a| a == after)
            .map_or(candidates.len(), |i| i + 1);
        candidates = candidates.split_off(start.min(candidates.len()));
    }
    let (names, next) = permitted(
        &state,
        &access,
        &directory,
        &candidates,
        Clone::clone,
        |name: &String| {
            let mut query = body.open_query(subject.clone(), name.clone(), resource.clone());
            query.action_fields =
                Map::from_iter([("name".to_string(), Value::String(name.clone()))]);
            query
        },
        &paging,
    )
    .await?;
    let results = names.iter().map(|name| json!({"name": name})).collect();
    Ok(search_answer(results, next, &paging))
}

/// The PDP metadata: where each API is, on the scheme and host the caller used.
async fn configuration(
    headers: HeaderMap,
    uri: axum::http::Uri,
    scheme: Option<Extension<crate::listener::Scheme>>,
) -> Json<Value> {
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the request's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str))
        .unwrap_or("127.0.0.1");
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v == "https" || *v == "http");
    let scheme = forwarded.unwrap_or(scheme.map_or("http", |Extension(s)| s.0));
    let base = format!("{scheme}://{host}");
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        "search_subject_endpoint": format!("{base}/access/v1/search/subject"),
        "search_resource_endpoint": format!("{base}/access/v1/search/resource"),
        "search_action_endpoint": format!("{base}/access/v1/search/action"),
    }))
}
