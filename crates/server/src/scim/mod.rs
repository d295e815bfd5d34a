//! A SCIM 2.0 service provider (RFC 7643 / RFC 7644) under `/scim/v2/`, so identity providers
//! (Okta, Entra ID, OneLogin, ...) push users and groups into the directory.
//!
//! By default (`scim:` in the configuration, per tenant too, names other types and relations) they
//! land as Topaz lays out IdP data: a `user` object whose id is the SCIM id and whose
//! properties are the SCIM attributes; an `identity` object for the userName, each email and the
//! externalId, linked by `user:U#identifier@identity:I`; a `group` object per group with
//! `group:G#member@user:U` and `group:G#member@group:H#member`. What SCIM wrote is marked
//! (`provisioned_by: scim` on users and groups, `provider: scim` on identities), so deleting a user
//! removes only what SCIM made and never a relation the application wrote. Callers need an API key
//! with the `scim` scope.

mod error;
mod filter;
mod patch;
mod schema;

pub use error::{ScimError, MEDIA_TYPE};

use crate::access::Access;
use crate::config::ScimMapping;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use filter::{field, AttrPath, Filter};
use lictor_directory::Directory;
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{Change, StoreError};
use schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The property that marks users and groups SCIM wrote.
const MARKER: &str = "provisioned_by";
/// The ListResponse message's schema.
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SearchRequest message's schema.
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Most resources one page returns (ServiceProviderConfig's `filter.maxResults`).
const MAX_RESULTS: usize = 200;
/// Largest SCIM request body.
const MAX_BODY: usize = 1 << 20;

/// SCIM writes are read-modify-write on a snapshot; one at a time keeps concurrent PATCHes of the
/// same resource from losing each other's changes.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The routes, merged into the API router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema_by_id))
        .route(
            "/scim/v2/Users",
            get(list_resources::<USERS>).post(create_resource::<USERS>),
        )
        .route("/scim/v2/Users/.search", post(search_resources::<USERS>))
        .route(
            "/scim/v2/Users/{id}",
            get(get_resource::<USERS>)
                .put(put_resource::<USERS>)
                .patch(patch_resource::<USERS>)
                .delete(delete_resource::<USERS>),
        )
        .route(
            "/scim/v2/Groups",
            get(list_resources::<GROUPS>).post(create_resource::<GROUPS>),
        )
        .route("/scim/v2/Groups/.search", post(search_resources::<GROUPS>))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_resource::<GROUPS>)
                .put(put_resource::<GROUPS>)
                .patch(patch_resource::<GROUPS>)
                .delete(delete_resource::<GROUPS>),
        )
        .route("/scim/v2/.search", post(search_everything))
        .route("/scim/v2/{*rest}", axum::routing::any(unknown))
}

/// Checks each tenant's SCIM mapping against its manifest at start. A configured mapping the manifest
/// cannot hold stops the start, naming what is missing; the default layout is only reported, since a
/// deployment may not use SCIM at all (its writes are refused, naming the relation, until it can).
pub fn check_mappings(
    config: &crate::config::Config,
    tenants: &crate::tenant::Tenants,
    config_path: &std::path::Path,
) -> Result<(), crate::ServerError> {
    for tenant in tenants.all() {
        let (mapping, configured) = config.scim_for(&tenant.id);
        let Err(problem) = fits(&mapping, &tenant.store.snapshot()) else {
            continue;
        };
        let section = match tenant.id.as_str() {
            "" => "scim".to_string(),
            id => format!("tenants[{id}].scim"),
        };
        if configured {
            return Err(crate::ServerError::Config {
                path: config_path.to_path_buf(),
                line: None,
                message: format!("{section}: {problem}"),
            });
        }
        tracing::info!(
            tenant = tenant.id.as_str(),
            "SCIM writes will be refused until the manifest can hold them: {problem}"
        );
    }
    Ok(())
}

/// Whether a directory's manifest holds what the mapping writes.
fn fits(m: &ScimMapping, directory: &Directory) -> Result<(), String> {
    // A tenant without a manifest yet (a new one) is checked when its writes come.
    if directory.schema().source().is_empty() {
        return Ok(());
    }
    for object_type in [&m.user_type, &m.group_type, &m.identity_type] {
        if directory.schema().declared_type(object_type).is_none() {
            return Err(format!("the manifest declares no type `{object_type}`"));
        }
    }
    let relations = [
        identifier(m, directory, "u", "i"),
        member_relation(m, "g", Kind::User, "u"),
        member_relation(m, "g", Kind::Group, "h"),
    ];
    for relation in relations {
        directory
            .validate_relation(&relation)
            .map_err(|error| format!("the manifest refuses {relation}: {error}"))?;
    }
    Ok(())
}

/// The two resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

/// A handler's resource type, as its const parameter names it: `/Users`.
const USERS: bool = false;
/// `/Groups`.
const GROUPS: bool = true;

impl Kind {
    fn of<const GROUP: bool>() -> Kind {
        if GROUP {
            Kind::Group
        } else {
            Kind::User
        }
    }

    fn core(self) -> &'static str {
        match self {
            Kind::User => CORE_USER,
            Kind::Group => CORE_GROUP,
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[ENTERPRISE_USER],
            Kind::Group => &[],
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// What a request needs besides its body: the tenant, how SCIM maps onto its directory, and the
/// base of `meta.location`.
struct Call {
    access: Access,
    mapping: ScimMapping,
    base: String,
}

/// The object type a resource type maps to.
fn type_of(mapping: &ScimMapping, kind: Kind) -> &str {
    match kind {
        Kind::User => &mapping.user_type,
        Kind::Group => &mapping.group_type,
    }
}

impl FromRequestParts<Arc<AppState>> for Call {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Call, ScimError> {
        let access = parts
            .extensions
            .get::<Access>()
            .cloned()
            .ok_or_else(|| ScimError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                scim_type: None,
                detail: "the request passed no access check".into(),
            })?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let scheme = parts
            .extensions
            .get::<crate::listener::Scheme>()
            .map_or("http", |s| s.0);
        let (mapping, _) = state.config.scim_for(&access.tenant.id);
        Ok(Call {
            access,
            mapping,
            base: format!("{scheme}://{host}/scim/v2"),
        })
    }
}

impl Call {
    fn directory(&self) -> Arc<Directory> {
        self.access.tenant.store.snapshot()
    }
}

// ----- responses -----

fn scim_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// A resource, with its ETag (and Location when created).
fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut response = scim_response(status, resource);
    let meta = resource.get("meta");
    if let Some(version) = meta.and_then(|m| m.get("version")).and_then(Value::as_str) {
        if let Ok(value) = HeaderValue::from_str(version) {
            response.headers_mut().insert(header::ETAG, value);
        }
    }
    if status == StatusCode::CREATED {
        if let Some(location) = meta.and_then(|m| m.get("location")).and_then(Value::as_str) {
            if let Ok(value) = HeaderValue::from_str(location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
        }
    }
    response
}

fn static_document(text: &str, base: &str) -> Result<Value, ScimError> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| ScimError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        scim_type: None,
        detail: format!("a built-in SCIM document does not parse: {e}"),
    })?;
    absolute_locations(&mut value, base);
    Ok(value)
}

/// `meta.location`s written relative to `/scim/v2` made absolute.
fn absolute_locations(value: &mut Value, base: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| absolute_locations(v, base)),
        Value::Object(fields) => {
            if let Some(Value::Object(meta)) = fields.get_mut("meta") {
                if let Some(Value::String(location)) = meta.get_mut("location") {
                    if let Some(rest) = location.strip_prefix("/scim/v2") {
                        *location = format!("{base}{rest}");
                    }
                }
            }
        }
        _ => {}
    }
}

fn list_response(resources: Vec<Value>, total: usize, start: usize) -> Response {
    scim_response(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

/// A search across every resource type (RFC 7644 section 3.4.3) is not offered: search `/Users` or
/// `/Groups`.
async fn search_everything() -> ScimError {
    ScimError {
        status: StatusCode::NOT_IMPLEMENTED,
        scim_type: None,
        detail: "searching every resource type at once is not supported: POST /Users/.search or /Groups/.search".into(),
    }
}

async fn unknown(Path(rest): Path<String>) -> ScimError {
    ScimError::not_found(format!(
        "/scim/v2/{rest} is not a SCIM endpoint this service provides"
    ))
}

// ----- discovery -----

async fn service_provider_config(call: Call) -> Result<Response, ScimError> {
    let document = static_document(schema::SERVICE_PROVIDER_CONFIG, &call.base)?;
    Ok(scim_response(StatusCode::OK, &document))
}

async fn resource_types(call: Call) -> Result<Response, ScimError> {
    listed(static_document(schema::RESOURCE_TYPES, &call.base)?)
}

async fn resource_type(call: Call, Path(id): Path<String>) -> Result<Response, ScimError> {
    one_of(
        static_document(schema::RESOURCE_TYPES, &call.base)?,
        &id,
        "resource type",
    )
}

async fn schemas(call: Call) -> Result<Response, ScimError> {
    listed(static_document(schema::SCHEMAS, &call.base)?)
}

async fn schema_by_id(call: Call, Path(id): Path<String>) -> Result<Response, ScimError> {
    one_of(static_document(schema::SCHEMAS, &call.base)?, &id, "schema")
}

fn listed(documents: Value) -> Result<Response, ScimError> {
    let items = documents.as_array().cloned().unwrap_or_default();
    let total = items.len();
    Ok(list_response(items, total, 1))
}

fn one_of(documents: Value, id: &str, what: &str) -> Result<Response, ScimError> {
    documents
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|item| item.get("id").and_then(Value::as_str) == Some(id))
        })
        .map(|item| scim_response(StatusCode::OK, item))
        .ok_or_else(|| ScimError::not_found(format!("no {what} has the id {id:?}")))
}

// ----- reading resources -----

/// Whether SCIM wrote this object.
fn provisioned(object: &ObjectRecord) -> bool {
    object.properties.get(MARKER).and_then(Value::as_str) == Some("scim")
}

/// A SCIM user or group as stored, if SCIM wrote it.
fn stored(m: &ScimMapping, directory: &Directory, kind: Kind, id: &str) -> Option<ObjectRecord> {
    directory
        .get_object(type_of(m, kind), id)
        .filter(provisioned)
}

/// The members of a group: `(type, id)` of each user and group SCIM made a member.
fn members(m: &ScimMapping, directory: &Directory, id: &str) -> Vec<RelationRecord> {
    directory
        .relations_of(&m.group_type, id)
        .into_iter()
        .filter(|r| {
            r.object_type == m.group_type && r.object_id == id && r.relation == m.member_relation
        })
        .filter(|r| {
            if r.subject_type == m.user_type && r.subject_relation.is_empty() {
                stored(m, directory, Kind::User, &r.subject_id).is_some()
            } else if r.subject_type == m.group_type && r.subject_relation == m.member_relation {
                stored(m, directory, Kind::Group, &r.subject_id).is_some()
            } else {
                false
            }
        })
        .collect()
}

/// The SCIM groups a user or group is a direct member of.
fn member_of(m: &ScimMapping, directory: &Directory, kind: Kind, id: &str) -> Vec<ObjectRecord> {
    let subject_relation = if kind == Kind::Group {
        m.member_relation.as_str()
    } else {
        ""
    };
    directory
        .relations_of(type_of(m, kind), id)
        .into_iter()
        .filter(|r| {
            r.object_type == m.group_type
                && r.relation == m.member_relation
                && r.subject_type == type_of(m, kind)
                && r.subject_id == id
                && r.subject_relation == subject_relation
        })
        .filter_map(|r| stored(m, directory, Kind::Group, &r.object_id))
        .collect()
}

/// The resource as SCIM renders it: schemas, id, attributes, derived attributes and meta.
fn render(call: &Call, directory: &Directory, kind: Kind, object: &ObjectRecord) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![Value::from(kind.core())];
    let mut attributes = object.properties.as_object().cloned().unwrap_or_default();
    attributes.remove(MARKER);
    for extension in kind.extensions() {
        if attributes.contains_key(*extension) {
            schemas.push(Value::from(*extension));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::from(object.id.as_str()));
    out.extend(attributes);
    let mut version_source = object.etag.clone();
    match kind {
        Kind::User => {
            let groups: Vec<Value> = member_of(&call.mapping, directory, Kind::User, &object.id)
                .iter()
                .map(|group| reference(call, Kind::Group, group, Some("direct")))
                .collect();
            if !groups.is_empty() {
                out.insert("groups".into(), Value::Array(groups));
            }
        }
        Kind::Group => {
            let mut listed = Vec::new();
            for relation in members(&call.mapping, directory, &object.id) {
                let member_kind = if relation.subject_type == call.mapping.user_type {
                    Kind::User
                } else {
                    Kind::Group
                };
                if let Some(member) =
                    stored(&call.mapping, directory, member_kind, &relation.subject_id)
                {
                    version_source.push_str(&relation.to_string());
                    // `display` is no sub-attribute of members in RFC 7643's Group schema.
                    let mut entry = reference(call, member_kind, &member, None);
                    if let Some(fields) = entry.as_object_mut() {
                        fields.remove("display");
                    }
                    listed.push(entry);
                }
            }
            if !listed.is_empty() {
                out.insert("members".into(), Value::Array(listed));
            }
        }
    }
    let stamps = crate::service::directory::object_stamps(
        &call.access.tenant,
        type_of(&call.mapping, kind),
        &object.id,
    );
    let mut meta = Map::new();
    meta.insert("resourceType".into(), kind.name().into());
    if let Some(stamps) = stamps {
        meta.insert(
            "created".into(),
            crate::clock::rfc3339(stamps.created_at).to_string().into(),
        );
        meta.insert(
            "lastModified".into(),
            crate::clock::rfc3339(stamps.updated_at).to_string().into(),
        );
    }
    meta.insert(
        "location".into(),
        format!("{}/{}/{}", call.base, kind.endpoint(), object.id).into(),
    );
    meta.insert(
        "version".into(),
        format!("W/\"{}\"", crate::manifest::etag(&version_source)).into(),
    );
    out.insert("meta".into(), Value::Object(meta));
    Value::Object(out)
}

/// A member or group reference: `value`, `$ref`, `display`, `type`.
fn reference(call: &Call, kind: Kind, object: &ObjectRecord, direct: Option<&str>) -> Value {
    let mut out = json!({
        "value": object.id,
        "$ref": format!("{}/{}/{}", call.base, kind.endpoint(), object.id),
        "display": object.display_name,
    });
    if let Some(fields) = out.as_object_mut() {
        fields.insert("type".into(), direct.unwrap_or(kind.name()).into());
    }
    out
}

fn find(call: &Call, kind: Kind, id: &str) -> Result<(Arc<Directory>, ObjectRecord), ScimError> {
    let directory = call.directory();
    let object = stored(&call.mapping, &directory, kind, id)
        .ok_or_else(|| ScimError::not_found(format!("no {} has the id {id:?}", kind.name())))?;
    Ok((directory, object))
}

// ----- query parameters -----

/// What a list or search asks for.
#[derive(Debug, Default)]
struct ListQuery {
    filter: Option<Filter>,
    start_index: usize,
    count: usize,
    sort_by: Option<AttrPath>,
    descending: bool,
    projection: Projection,
}

/// Which attributes an answer carries.
#[derive(Debug, Default, Clone)]
struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(AttrPath::parse)
        .collect()
}

fn number(name: &str, value: &str) -> Result<i64, ScimError> {
    value.trim().parse::<i64>().map_err(|_| {
        ScimError::bad(
            "invalidValue",
            format!("{name} {value:?} is not an integer"),
        )
    })
}

impl ListQuery {
    fn from_pairs<'a>(
        pairs: impl Iterator<Item = (String, &'a Value)>,
    ) -> Result<ListQuery, ScimError> {
        let mut query = ListQuery {
            start_index: 1,
            count: 100,
            ..ListQuery::default()
        };
        for (name, value) in pairs {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                other => other.to_string(),
            };
            match name.to_ascii_lowercase().as_str() {
                "filter" => query.filter = Some(Filter::parse(&text)?),
                "startindex" => {
                    query.start_index = number("startIndex", &text)?.max(1).try_into().unwrap_or(1)
                }
                "count" => query.count = number("count", &text)?.max(0).try_into().unwrap_or(0),
                "sortby" => query.sort_by = Some(AttrPath::parse(&text)?),
                "sortorder" => query.descending = text.eq_ignore_ascii_case("descending"),
                "attributes" => query.projection.attributes = paths(&text)?,
                "excludedattributes" => query.projection.excluded = paths(&text)?,
                "schemas" => {}
                other => {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("`{other}` is not a list or search parameter"),
                    ))
                }
            }
        }
        query.count = query.count.min(MAX_RESULTS);
        Ok(query)
    }

    fn from_url(raw: Option<&str>) -> Result<ListQuery, ScimError> {
        let pairs: Vec<(String, Value)> =
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
        ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.clone(), v)))
    }

    fn from_body(body: &Value) -> Result<ListQuery, ScimError> {
        let fields = body.as_object().ok_or_else(|| {
            ScimError::bad("invalidSyntax", "a search body must be a JSON object")
        })?;
        let listed = fields
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(SEARCH_REQUEST)));
        if !listed {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("a search body's `schemas` must list {SEARCH_REQUEST}"),
            ));
        }
        ListQuery::from_pairs(fields.iter().map(|(k, v)| (k.clone(), v)))
    }
}

impl Projection {
    fn from_url(raw: Option<&str>) -> Result<Projection, ScimError> {
        let mut projection = Projection::default();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if name.eq_ignore_ascii_case("attributes") {
                projection.attributes = paths(&value)?;
            } else if name.eq_ignore_ascii_case("excludedAttributes") {
                projection.excluded = paths(&value)?;
            }
        }
        Ok(projection)
    }

    /// The resource with only what was asked for; `schemas`, `id` (returned always) stay.
    fn apply(&self, kind: Kind, resource: Value) -> Value {
        let Value::Object(mut fields) = resource else {
            return resource;
        };
        let always = |name: &str| name == "schemas" || name == "id";
        let never_returned = |name: &str| !always(name) && kind == Kind::User && name == "password";
        fields.retain(|name, _| !never_returned(name));
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for (name, value) in fields {
                if always(&name) {
                    kept.insert(name, value);
                    continue;
                }
                let wanted: Vec<&AttrPath> = self
                    .attributes
                    .iter()
                    .filter(|p| match &p.schema {
                        Some(urn) => urn.eq_ignore_ascii_case(&name),
                        None => p.attr.eq_ignore_ascii_case(&name),
                    })
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let whole = wanted.iter().any(|p| p.schema.is_none() && p.sub.is_none());
                let value = if whole {
                    value
                } else {
                    // Only the named sub-attributes (or extension attributes).
                    let keep: Vec<&str> = wanted
                        .iter()
                        .map(|p| {
                            if p.schema.is_some() {
                                p.attr.as_str()
                            } else {
                                p.sub.as_deref().unwrap_or("")
                            }
                        })
                        .collect();
                    keep_fields(value, &keep)
                };
                kept.insert(name, value);
            }
            fields = kept;
        }
        for path in &self.excluded {
            let name = path.schema.as_deref().unwrap_or(&path.attr);
            let Some(key) = fields
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
            else {
                continue;
            };
            if always(&key) {
                continue;
            }
            match (&path.schema, &path.sub) {
                (None, None) => {
                    fields.remove(&key);
                }
                (Some(_), _) => {
                    if let Some(value) = fields.get_mut(&key) {
                        *value = drop_fields(value.take(), &path.attr);
                    }
                }
                (None, Some(sub)) => {
                    if let Some(value) = fields.get_mut(&key) {
                        *value = drop_fields(value.take(), sub);
                    }
                }
            }
        }
        Value::Object(fields)
    }
}

fn keep_fields(value: Value, keep: &[&str]) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(k, _)| keep.iter().any(|w| w.eq_ignore_ascii_case(k)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| keep_fields(v, keep)).collect())
        }
        other => other,
    }
}

fn drop_fields(value: Value, name: &str) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| drop_fields(v, name)).collect())
        }
        other => other,
    }
}

// ----- list and search -----

fn list(call: &Call, kind: Kind, query: &ListQuery) -> Result<Response, ScimError> {
    let directory = call.directory();
    let mut matched = Vec::new();
    for object in directory.objects() {
        if object.object_type != type_of(&call.mapping, kind) || !provisioned(&object) {
            continue;
        }
        let resource = render(call, &directory, kind, &object);
        let keep = match &query.filter {
            Some(filter) => filter.matches(&resource)?,
            None => true,
        };
        if keep {
            matched.push(resource);
        }
    }
    match &query.sort_by {
        Some(path) => {
            let key = |resource: &Value| sort_key(path, resource);
            matched.sort_by_cached_key(key);
            if query.descending {
                matched.reverse();
            }
        }
        // A stable order, so pages do not overlap.
        None => matched.sort_by(|a, b| {
            a.get("id")
                .map(Value::to_string)
                .cmp(&b.get("id").map(Value::to_string))
        }),
    }
    let total = matched.len();
    let page: Vec<Value> = matched
        .into_iter()
        .skip(query.start_index - 1)
        .take(query.count)
        .map(|resource| query.projection.apply(kind, resource))
        .collect();
    Ok(list_response(page, total, query.start_index))
}

async fn list_resources<const GROUP: bool>(
    call: Call,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    list(
        &call,
        Kind::of::<GROUP>(),
        &ListQuery::from_url(raw.as_deref())?,
    )
}

async fn search_resources<const GROUP: bool>(
    call: Call,
    body: Bytes,
) -> Result<Response, ScimError> {
    let query = ListQuery::from_body(&json_body(&body)?)?;
    list(&call, Kind::of::<GROUP>(), &query)
}

/// What a resource sorts by: its first value at the path, lowercased; absent sorts last.
fn sort_key(path: &AttrPath, resource: &Value) -> (bool, String) {
    let value = path.attribute(resource).and_then(|attribute| {
        let first = filter::elements(attribute).next()?;
        match &path.sub {
            Some(sub) => field(first, sub).cloned(),
            None if first.is_object() => field(first, "value").cloned(),
            None => Some(first.clone()),
        }
    });
    match value {
        Some(Value::String(text)) => (false, text.to_lowercase()),
        Some(other) => (false, other.to_string()),
        None => (true, String::new()),
    }
}

// ----- one resource -----

/// Fails unless `If-Match` (when given) names the resource's current version.
fn check_version(headers: &HeaderMap, current: &Value) -> Result<(), ScimError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let version = current
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let strip = |tag: &str| {
        tag.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    let matched = wanted
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == strip(version));
    if matched {
        Ok(())
    } else {
        Err(ScimError::stale(format!(
            "the resource is at version {version}, not {wanted}: read it again"
        )))
    }
}

async fn get_resource<const GROUP: bool>(
    call: Call,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let kind = Kind::of::<GROUP>();
    let (directory, object) = find(&call, kind, &id)?;
    let resource = render(&call, &directory, kind, &object);
    let version = resource
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .zip(version)
        .is_some_and(|(wanted, version)| wanted.split(',').any(|tag| tag.trim() == version));
    if unchanged {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let resource = Projection::from_url(raw.as_deref())?.apply(kind, resource);
    Ok(resource_response(StatusCode::OK, &resource))
}

fn json_body(body: &Bytes) -> Result<Value, ScimError> {
    if body.len() > MAX_BODY {
        return Err(ScimError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            scim_type: None,
            detail: format!("the body is larger than {MAX_BODY} bytes"),
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    }
    if lictor_model::json_depth(&value) > lictor_model::MAX_JSON_DEPTH {
        return Err(ScimError::bad(
            "invalidValue",
            format!(
                "the body nests deeper than {} levels",
                lictor_model::MAX_JSON_DEPTH
            ),
        ));
    }
    Ok(value)
}

/// The attributes a client sent, normalized, with the core schema checked and what the resource
/// must have present.
fn attributes_of(kind: Kind, body: &Value) -> Result<Map<String, Value>, ScimError> {
    let fields = body.as_object().cloned().unwrap_or_default();
    if let Some(schemas) = field(body, "schemas") {
        let listed = schemas.as_array().is_some_and(|s| {
            s.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(kind.core()))
            })
        });
        if !listed {
            return Err(ScimError::bad(
                "invalidValue",
                format!("`schemas` must list {}", kind.core()),
            ));
        }
    }
    let attributes = schema::normalize(kind.core(), kind.extensions(), &fields);
    let required = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    match attributes.get(required) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(attributes),
        _ => Err(ScimError::bad(
            "invalidValue",
            format!("`{required}` is required and must be a non-empty string"),
        )),
    }
}

/// What a user's attributes make into identities: `(identity id, kind)`.
fn identities_of(attributes: &Map<String, Value>) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mut push = |id: &str, kind: &'static str| {
        let id = id.trim();
        if !id.is_empty() && !out.iter().any(|(known, _)| known == id) {
            out.push((id.to_string(), kind));
        }
    };
    if let Some(name) = attributes.get("userName").and_then(Value::as_str) {
        push(name, "IDENTITY_KIND_USERNAME");
    }
    if let Some(Value::Array(emails)) = attributes.get("emails") {
        for email in emails {
            if let Some(value) = field(email, "value").and_then(Value::as_str) {
                push(value, "IDENTITY_KIND_EMAIL");
            }
        }
    }
    if let Some(external) = attributes.get("externalId").and_then(Value::as_str) {
        push(external, "IDENTITY_KIND_PID");
    }
    out
}

/// The identifier relation between a user and an identity, as the manifest declares it.
fn identifier(
    m: &ScimMapping,
    directory: &Directory,
    user: &str,
    identity: &str,
) -> RelationRecord {
    let on_user = directory.is_relation(&m.user_type, &m.identifier_relation)
        || !directory.is_relation(&m.identity_type, &m.identifier_relation);
    let (object_type, object_id, subject_type, subject_id) = if on_user {
        (&m.user_type, user, &m.identity_type, identity)
    } else {
        (&m.identity_type, identity, &m.user_type, user)
    };
    RelationRecord {
        object_type: object_type.clone(),
        object_id: object_id.into(),
        relation: m.identifier_relation.clone(),
        subject_type: subject_type.clone(),
        subject_id: subject_id.into(),
        subject_relation: String::new(),
    }
}

/// The user an identity is linked to, if any.
fn identity_owner(m: &ScimMapping, directory: &Directory, identity: &str) -> Option<String> {
    directory
        .relations_of(&m.identity_type, identity)
        .into_iter()
        .find(|r| r.relation == m.identifier_relation)
        .map(|r| {
            if r.object_type == m.user_type {
                r.object_id
            } else {
                r.subject_id
            }
        })
}

fn display_name(kind: Kind, attributes: &Map<String, Value>) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match kind {
        Kind::User => text(attributes.get("displayName"))
            .or_else(|| text(attributes.get("name").and_then(|n| field(n, "formatted"))))
            .or_else(|| text(attributes.get("userName")))
            .unwrap_or_default(),
        Kind::Group => text(attributes.get("displayName")).unwrap_or_default(),
    }
}

/// The changes that make the directory hold `attributes` for the resource `id` (created when
/// `previous` is none), and, for a group, exactly `members`.
fn changes_for(
    m: &ScimMapping,
    directory: &Directory,
    kind: Kind,
    id: &str,
    mut attributes: Map<String, Value>,
    previous: Option<&ObjectRecord>,
) -> Result<Vec<Change>, ScimError> {
    let mut changes = Vec::new();
    let wanted_members = match kind {
        Kind::Group => Some(
            attributes
                .remove("members")
                .unwrap_or(Value::Array(Vec::new())),
        ),
        Kind::User => None,
    };
    // A user's userName is unique among SCIM users, without regard to case (a group's
    // displayName need not be).
    if kind == Kind::User {
        let wanted = attributes
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let taken = directory.objects().any(|object| {
            object.object_type == m.user_type
                && object.id != id
                && provisioned(&object)
                && object
                    .properties
                    .get("userName")
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.eq_ignore_ascii_case(wanted))
        });
        if taken {
            return Err(ScimError::uniqueness(format!(
                "userName {wanted:?} is taken by another user"
            )));
        }
    }
    attributes.insert(MARKER.into(), "scim".into());
    changes.push(Change::SetObject {
        object: ObjectRecord {
            object_type: type_of(m, kind).into(),
            id: id.into(),
            display_name: display_name(kind, &attributes),
            properties: Value::Object(attributes.clone()),
            etag: String::new(),
        },
    });
    match kind {
        Kind::User => {
            let old: Vec<(String, &'static str)> = previous
                .and_then(|p| p.properties.as_object())
                .map(identities_of)
                .unwrap_or_default();
            let new = identities_of(&attributes);
            for (identity, identity_kind) in &new {
                if let Some(owner) =
                    identity_owner(m, directory, identity).filter(|owner| owner != id)
                {
                    return Err(ScimError::uniqueness(format!(
                        "the identity {identity:?} already belongs to user {owner:?}"
                    )));
                }
                if directory.get_object(&m.identity_type, identity).is_none() {
                    changes.push(Change::SetObject {
                        object: ObjectRecord {
                            object_type: m.identity_type.clone(),
                            id: identity.clone(),
                            display_name: String::new(),
                            properties: json!({"kind": identity_kind, "provider": "scim", "verified": true}),
                            etag: String::new(),
                        },
                    });
                }
                changes.push(Change::SetRelation {
                    relation: identifier(m, directory, id, identity),
                });
            }
            for (identity, _) in old.iter().filter(|(o, _)| !new.iter().any(|(n, _)| n == o)) {
                changes.extend(forget_identity(m, directory, id, identity));
            }
        }
        Kind::Group => {
            let listed: BTreeSet<String> = wanted_members
                .as_ref()
                .map(|members| {
                    filter::elements(members)
                        .filter_map(|m| field(m, "value").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let current = members(m, directory, id);
            for member in &listed {
                let relation = if stored(m, directory, Kind::User, member).is_some() {
                    member_relation(m, id, Kind::User, member)
                } else if stored(m, directory, Kind::Group, member).is_some() {
                    member_relation(m, id, Kind::Group, member)
                } else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("members: no user or group has the id {member:?}"),
                    ));
                };
                if !current.contains(&relation) {
                    changes.push(Change::SetRelation { relation });
                }
            }
            for relation in current
                .into_iter()
                .filter(|r| !listed.contains(&r.subject_id))
            {
                changes.push(Change::DeleteRelation { relation });
            }
        }
    }
    Ok(changes)
}

fn member_relation(m: &ScimMapping, group: &str, kind: Kind, member: &str) -> RelationRecord {
    RelationRecord {
        object_type: m.group_type.clone(),
        object_id: group.into(),
        relation: m.member_relation.clone(),
        subject_type: type_of(m, kind).into(),
        subject_id: member.into(),
        subject_relation: if kind == Kind::Group {
            m.member_relation.clone()
        } else {
            String::new()
        },
    }
}

/// Unlinks an identity from a user, and deletes it when SCIM made it.
fn forget_identity(
    m: &ScimMapping,
    directory: &Directory,
    user: &str,
    identity: &str,
) -> Vec<Change> {
    let mut changes = vec![Change::DeleteRelation {
        relation: identifier(m, directory, user, identity),
    }];
    let made_by_scim = directory
        .get_object(&m.identity_type, identity)
        .is_some_and(|o| o.properties.get("provider").and_then(Value::as_str) == Some("scim"));
    if made_by_scim {
        changes.push(Change::DeleteObject {
            object_type: m.identity_type.clone(),
            object_id: identity.into(),
        });
    }
    changes
}

/// Applies changes in one revision; a refusal changes nothing.
fn commit(call: &Call, changes: &[Change]) -> Result<(), ScimError> {
    if let Some(center) = &call.access.tenant.follows {
        return Err(ScimError {
            status: StatusCode::PRECONDITION_FAILED,
            scim_type: None,
            detail: format!(
                "this Lictor is an edge replica following {center}: provision the center"
            ),
        });
    }
    call.access
        .tenant
        .store
        .apply_changes(changes)
        .map(|_| ())
        .map_err(|error| match error {
        StoreError::Stored { record, source } => ScimError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            scim_type: None,
            detail: format!(
                "the directory's manifest refuses {record}: {source} (SCIM needs the types {}, {} and {}, {}#{} and {}#{})",
                call.mapping.user_type,
                call.mapping.identity_type,
                call.mapping.group_type,
                call.mapping.user_type,
                call.mapping.identifier_relation,
                call.mapping.group_type,
                call.mapping.member_relation,
            ),
        },
        other => ScimError::from(crate::service::directory::store_error(other)),
    })
}

async fn create_resource<const GROUP: bool>(
    call: Call,
    body: Bytes,
) -> Result<Response, ScimError> {
    let kind = Kind::of::<GROUP>();
    let body = json_body(&body)?;
    let attributes = attributes_of(kind, &body)?;
    let _writing = WRITES.lock().await;
    let directory = call.directory();
    let id = uuid::Uuid::new_v4().to_string();
    let changes = changes_for(&call.mapping, &directory, kind, &id, attributes, None)?;
    commit(&call, &changes)?;
    let (directory, object) = find(&call, kind, &id)?;
    Ok(resource_response(
        StatusCode::CREATED,
        &render(&call, &directory, kind, &object),
    ))
}

/// Replaces a resource's attributes with `attributes` (PUT, and PATCH once applied).
async fn replace(
    kind: Kind,
    call: &Call,
    headers: &HeaderMap,
    id: &str,
    next: impl FnOnce(&Value) -> Result<Map<String, Value>, ScimError>,
) -> Result<Response, ScimError> {
    let _writing = WRITES.lock().await;
    let (directory, object) = find(call, kind, id)?;
    let current = render(call, &directory, kind, &object);
    check_version(headers, &current)?;
    let attributes = next(&current)?;
    let changes = changes_for(
        &call.mapping,
        &directory,
        kind,
        id,
        attributes,
        Some(&object),
    )?;
    commit(call, &changes)?;
    let (directory, object) = find(call, kind, id)?;
    Ok(resource_response(
        StatusCode::OK,
        &render(call, &directory, kind, &object),
    ))
}

async fn put_resource<const GROUP: bool>(
    call: Call,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let kind = Kind::of::<GROUP>();
    let body = json_body(&body)?;
    replace(kind, &call, &headers, &id, |_| attributes_of(kind, &body)).await
}

async fn patch_resource<const GROUP: bool>(
    call: Call,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let kind = Kind::of::<GROUP>();
    let body = json_body(&body)?;
    replace(kind, &call, &headers, &id, |current| {
        let mut attributes = current.as_object().cloned().unwrap_or_default();
        for derived in ["groups", "meta"] {
            attributes.remove(derived);
        }
        patch::apply(kind.core(), kind.extensions(), &mut attributes, &body)?;
        attributes_of(kind, &Value::Object(attributes))
    })
    .await
}

/// Deletes a resource and what SCIM made for it: identities and memberships, never a relation the
/// application wrote.
async fn delete_resource<const GROUP: bool>(
    call: Call,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let kind = Kind::of::<GROUP>();
    let _writing = WRITES.lock().await;
    let (directory, object) = find(&call, kind, &id)?;
    check_version(&headers, &render(&call, &directory, kind, &object))?;
    let mut changes = Vec::new();
    if kind == Kind::User {
        if let Some(attributes) = object.properties.as_object() {
            for (identity, _) in identities_of(attributes) {
                changes.extend(forget_identity(&call.mapping, &directory, &id, &identity));
            }
        }
    } else {
        for relation in members(&call.mapping, &directory, &id) {
            changes.push(Change::DeleteRelation { relation });
        }
    }
    for group in member_of(&call.mapping, &directory, kind, &id) {
        changes.push(Change::DeleteRelation {
            relation: member_relation(&call.mapping, &group.id, kind, &id),
        });
    }
    changes.push(Change::DeleteObject {
        object_type: type_of(&call.mapping, kind).into(),
        object_id: id,
    });
    commit(&call, &changes)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
