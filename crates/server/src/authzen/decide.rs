//! One AuthZEN access evaluation, decided as the tenant's mappings say: a directory check, a Rego
//! package with `input` = subject, action, resource and context, or a Cerbos resource policy.
//!
//! For the policy deciders the subject and resource carry the properties of their directory object
//! (when there is one) under the request's own properties, which win; a `user` subject whose id is
//! not a user but an identity is resolved to its user, as Topaz resolves identities.

use super::config::{CerbosDecider, Decider, RegoDecider};
use crate::access::Access;
use crate::api_error::{ApiError, Code};
use crate::decision_log::{DecisionEntry, Outcomes, Resource, Text};
use crate::server::AppState;
use crate::service::authorizer;
use crate::service::directory as service;
use lictor_directory::{CheckRequest, Directory};
use lictor_policy::PolicySet;
use lictor_proto::cerbos::effect::v1::Effect;
use lictor_proto::cerbos::engine::v1 as engine;
use lictor_proto::cerbos::request::v1 as request;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Instant;

/// A subject or resource as the request names it: its type, its id (absent where a search asks
/// for it) and the whole object as sent (properties and any other fields).
#[derive(Debug, Clone)]
pub struct Entity {
    /// The type.
    pub kind: String,
    /// The id; empty where the search leaves it open.
    pub id: String,
    /// The object as sent.
    pub fields: Map<String, Value>,
}

/// One access evaluation, checked.
#[derive(Debug, Clone)]
pub struct Query {
    /// Who.
    pub subject: Entity,
    /// The action's name.
    pub action: String,
    /// The action as sent (name and properties).
    pub action_fields: Map<String, Value>,
    /// On what.
    pub resource: Entity,
    /// The context, `{}` when absent.
    pub context: Map<String, Value>,
}

fn string_field(object: &Map<String, Value>, key: &str, at: &str) -> Result<String, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ApiError::invalid(format!(
            "{at}.{key} must be a string, not {other}"
        ))),
    }
}

fn properties_field(object: &Map<String, Value>, at: &str) -> Result<(), ApiError> {
    match object.get("properties") {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(_) => Err(ApiError::invalid(format!(
            "{at}.properties must be an object"
        ))),
    }
}

/// Checks the types of what an entity or action under `at` has (`type`, `id` and `name` strings,
/// `properties` an object), required fields aside: a batch refuses a malformed item whole.
pub fn well_typed(object: Option<&Map<String, Value>>, at: &str) -> Result<(), ApiError> {
    let Some(object) = object else {
        return Ok(());
    };
    for key in ["type", "id", "name"] {
        string_field(object, key, at)?;
    }
    properties_field(object, at)
}

/// The entity under `at` (`subject`, `evaluations[1].resource`); its id is required unless
/// `id_required` is off (the searched-for entity).
pub fn entity(
    object: Option<&Map<String, Value>>,
    at: &str,
    id_required: bool,
) -> Result<Entity, ApiError> {
    let object = object.ok_or_else(|| ApiError::invalid(format!("{at} is required")))?;
    let kind = string_field(object, "type", at)?;
    if kind.is_empty() {
        return Err(ApiError::invalid(format!("{at}.type is required")));
    }
    let id = string_field(object, "id", at)?;
    if id_required && id.is_empty() {
        return Err(ApiError::invalid(format!("{at}.id is required")));
    }
    properties_field(object, at)?;
    Ok(Entity {
        kind,
        id,
        fields: object.clone(),
    })
}

/// The action's name under `at`.
pub fn action(object: Option<&Map<String, Value>>, at: &str) -> Result<String, ApiError> {
    let object = object.ok_or_else(|| ApiError::invalid(format!("{at} is required")))?;
    let name = string_field(object, "name", at)?;
    if name.is_empty() {
        return Err(ApiError::invalid(format!("{at}.name is required")));
    }
    properties_field(object, at)?;
    Ok(name)
}

/// A subject or resource with its directory object's properties beneath its own, and the user
/// a `user` (a user id or an identity of one) or an `identity` subject stands for.
struct Known {
    id: String,
    properties: Map<String, Value>,
    user: Option<Value>,
}

fn known(directory: &Directory, entity: &Entity) -> Known {
    let mut id = entity.id.clone();
    let mut properties = Map::new();
    let mut user = None;
    if let Some(object) = directory.get_object(&entity.kind, &entity.id) {
        if let Value::Object(stored) = object.properties {
            properties = stored;
        }
        if entity.kind == "user" {
            user = Some(json!({"type": "user", "id": object.id, "properties": properties}));
        }
    } else if entity.kind == "user" {
        // Not a user id: perhaps an identity of one.
        if let Ok(Some(found)) = lictor_policy::resolve_user(directory, &entity.id) {
            if let Some(found_id) = found.get("id").and_then(Value::as_str) {
                id = found_id.to_string();
            }
            if let Some(Value::Object(stored)) = found.get("properties") {
                properties.clone_from(stored);
            }
            user = Some(found);
        }
    }
    if entity.kind == "identity" {
        // An identity, as API gateways send the caller's token subject: the user it identifies.
        if let Ok(Some(found)) = lictor_policy::resolve_user(directory, &entity.id) {
            user = Some(found);
        }
    }
    if let Some(Value::Object(sent)) = entity.fields.get("properties") {
        for (key, value) in sent {
            properties.insert(key.clone(), value.clone());
        }
    }
    Known {
        id,
        properties,
        user,
    }
}

fn with_known(entity: &Entity, known: &Known) -> Value {
    let mut fields = entity.fields.clone();
    fields.insert("id".into(), Value::String(known.id.clone()));
    fields.insert("properties".into(), Value::Object(known.properties.clone()));
    Value::Object(fields)
}

/// Decides `query` as the tenant's mappings say; `logged` puts the decision in the decision log
/// (searches, which try many candidates, do not).
pub async fn decide(
    state: &AppState,
    access: &Access,
    directory: &Arc<Directory>,
    query: &Query,
    logged: bool,
) -> Result<bool, ApiError> {
    let settings = state.config.authzen_for(&access.tenant.id);
    let log = logged.then_some(access);
    match settings.decider(&query.resource.kind, &query.action) {
        Decider::Directory => by_directory(state, log, directory, query).await,
        Decider::Rego(rego) => by_rego(state, access, log, directory, query, rego).await,
        Decider::Cerbos(cerbos) => by_cerbos(state, access, log, directory, query, cerbos).await,
    }
}

async fn by_directory(
    state: &AppState,
    log: Option<&Access>,
    directory: &Directory,
    query: &Query,
) -> Result<bool, ApiError> {
    let request = CheckRequest {
        object_type: &query.resource.kind,
        object_id: &query.resource.id,
        relation: &query.action,
        subject_type: &query.subject.kind,
        subject_id: &query.subject.id,
        subject_relation: "",
    };
    let started = Instant::now();
    let (allowed, _) = service::check(directory, &request, false)?;
    if let Some(access) = log {
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
    }
    Ok(allowed)
}

async fn by_rego(
    state: &AppState,
    access: &Access,
    log: Option<&Access>,
    directory: &Arc<Directory>,
    query: &Query,
    rego: &RegoDecider,
) -> Result<bool, ApiError> {
    let started = Instant::now();
    let policies = authorizer::policies(&access.tenant)?;
    let subject = known(directory, &query.subject);
    let resource = known(directory, &query.resource);
    let input = json!({
        "subject": with_known(&query.subject, &subject),
        "action": query.action_fields,
        "resource": with_known(&query.resource, &resource),
        "context": query.context,
        "user": subject.user.clone().unwrap_or_else(|| json!({})),
    });
    let package = rego.package_for(&query.action);
    let ctx = authorizer::context(state, directory.clone(), input);
    let decisions = authorizer::evaluation_span(&package)
        .in_scope(|| policies.is(&ctx, &package, &[rego.decision().to_string()]))
        .map_err(|e| authorizer::policy_error(state, e))?;
    let allowed = decisions.iter().all(|(_, is)| *is) && !decisions.is_empty();
    record(
        state,
        log,
        query,
        &subject.id,
        &package,
        allowed,
        Some(&policies),
        directory.revision(),
        started,
    )
    .await;
    Ok(allowed)
}

fn roles(properties: &Map<String, Value>, cerbos: &CerbosDecider) -> Vec<String> {
    let roles: Vec<String> = match properties.get(cerbos.roles_property()) {
        Some(Value::String(role)) if !role.is_empty() => vec![role.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let mut unique: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !unique.contains(&role) {
            unique.push(role);
        }
    }
    if unique.is_empty() {
        cerbos.default_roles()
    } else {
        unique
    }
}

async fn by_cerbos(
    state: &AppState,
    access: &Access,
    log: Option<&Access>,
    directory: &Directory,
    query: &Query,
    cerbos: &CerbosDecider,
) -> Result<bool, ApiError> {
    let started = Instant::now();
    let api = state.cerbos.as_ref().ok_or_else(|| {
        ApiError::new(
            Code::FailedPrecondition,
            format!(
                "the AuthZEN mapping of resource type {:?} names cerbos, but no Cerbos policies are configured (the cerbos section)",
                query.resource.kind
            ),
        )
    })?;
    let subject = known(directory, &query.subject);
    let resource = known(directory, &query.resource);
    let attributes = |properties: &Map<String, Value>| {
        properties
            .iter()
            .map(|(k, v)| (k.clone(), crate::cerbos::mapping::value_of(v)))
            .collect()
    };
    let kind = cerbos
        .kind
        .clone()
        .unwrap_or_else(|| query.resource.kind.clone());
    let check = request::CheckResourcesRequest {
        request_id: access.request_id.to_string(),
        principal: Some(engine::Principal {
            id: subject.id.clone(),
            roles: roles(&subject.properties, cerbos),
            attr: attributes(&subject.properties),
            policy_version: cerbos.policy_version.clone(),
            ..Default::default()
        }),
        resources: vec![request::check_resources_request::ResourceEntry {
            actions: vec![query.action.clone()],
            resource: Some(engine::Resource {
                kind: kind.clone(),
                id: resource.id.clone(),
                attr: attributes(&resource.properties),
                policy_version: cerbos.policy_version.clone(),
                ..Default::default()
            }),
        }],
        ..Default::default()
    };
    let answer = api.check_resources(&check).await?;
    let allowed = answer
        .results
        .first()
        .and_then(|r| r.actions.get(&query.action))
        .is_some_and(|effect| *effect == Effect::Allow as i32);
    let path = format!("cerbos:{kind}");
    record(
        state,
        log,
        query,
        &subject.id,
        &path,
        allowed,
        None,
        directory.revision(),
        started,
    )
    .await;
    Ok(allowed)
}

/// Counts one policy-decided evaluation, and logs it when `log` names the request.
#[allow(clippy::too_many_arguments)]
async fn record(
    state: &AppState,
    log: Option<&Access>,
    query: &Query,
    user: &str,
    path: &str,
    allowed: bool,
    policies: Option<&PolicySet>,
    directory_revision: u64,
    started: Instant,
) {
    state
        .metrics
        .decisions("evaluation", usize::from(allowed), usize::from(!allowed));
    let Some(access) = log else {
        return;
    };
    if !state.decision_log.enabled() {
        return;
    }
    let subject = [query.subject.kind.as_str(), ":", query.subject.id.as_str()];
    let entry = DecisionEntry {
        tenant: &access.tenant.id,
        request_id: &access.request_id,
        kind: "evaluation",
        identity_type: "SUBJECT",
        identity: Text::Concat(&subject),
        user: Some(Text::Str(user)),
        path: Text::Str(path),
        resource: Resource::Object {
            object_type: &query.resource.kind,
            object_id: &query.resource.id,
            relation: &query.action,
        },
        decisions: Outcomes::One(&query.action, allowed),
        policy_revision: policies.map_or("", |p| p.revision()),
        provenance: policies.map(PolicySet::provenance),
        directory_revision,
        latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    };
    state.decision_log.log(&entry).await;
}
