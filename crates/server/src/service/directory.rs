//! The directory service, independent of transport: reads on the tenant's current snapshot, writes
//! through its store. gRPC and REST adapters translate their messages to these calls.

use crate::api_error::{ApiError, Code};
use crate::tenant::Tenant;
use lictor_directory::{
    CheckRequest, Directory, DirectoryError, LookupObjectsRequest, LookupSubjectsRequest, Page,
};
use lictor_model::{ObjectRecord, RelationRecord};
use lictor_store::{SingleWrite, StoreError, Written};
use std::sync::Arc;

/// Largest page a caller may ask for, as in Topaz; a bigger ask is refused.
pub const MAX_PAGE: usize = 100;
/// Page size when none is asked (size 0, proto3's unset value), Topaz's default.
pub const DEFAULT_PAGE: usize = 100;

/// A page request: size and the previous page's token.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// At most this many; 0 means the default.
    pub size: i32,
    /// The `next_token` of the previous page, or empty.
    pub token: String,
}

impl PageRequest {
    fn size(&self) -> Result<usize, ApiError> {
        match usize::try_from(self.size) {
            Ok(0) => Ok(DEFAULT_PAGE),
            Ok(n) if n <= MAX_PAGE => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "page.size {} is not between 1 and {MAX_PAGE} (0 or none asks for {DEFAULT_PAGE})",
                self.size
            ))),
        }
    }
}

/// Filter of a relations query; empty fields match anything.
#[derive(Debug, Clone, Default)]
pub struct RelationFilter {
    /// Object type.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// Relation name.
    pub relation: String,
    /// Subject type.
    pub subject_type: String,
    /// Subject id.
    pub subject_id: String,
    /// Subject relation.
    pub subject_relation: String,
}

impl RelationFilter {
    fn matches(&self, r: &RelationRecord) -> bool {
        let field = |want: &str, have: &str| want.is_empty() || want == have;
        field(&self.object_type, &r.object_type)
            && field(&self.object_id, &r.object_id)
            && field(&self.relation, &r.relation)
            && field(&self.subject_type, &r.subject_type)
            && field(&self.subject_id, &r.subject_id)
            && field(&self.subject_relation, &r.subject_relation)
    }
}

/// Maps a directory error (bad names in a request) to an API error.
pub fn directory_error(error: DirectoryError) -> ApiError {
    ApiError::invalid(error.to_string())
}

/// Maps a store error to an API error with the matching code.
pub fn store_error(error: StoreError) -> ApiError {
    let code = match &error {
        StoreError::EtagMismatch { .. } => Code::FailedPrecondition,
        StoreError::Exists { .. } => Code::AlreadyExists,
        StoreError::ManifestStrandsData { .. } => Code::FailedPrecondition,
        StoreError::Rejected { .. }
        | StoreError::Manifest(_)
        | StoreError::Parse { .. }
        | StoreError::ImportRejected { .. }
        | StoreError::ImportLineRefused { .. }
        | StoreError::Nul { .. }
        | StoreError::TooDeep { .. } => Code::InvalidArgument,
        StoreError::ImportTooLarge { .. } => {
            return ApiError::new(
                Code::ResourceExhausted,
                format!("{error} (or raise limits.max_import_bytes)"),
            );
        }
        StoreError::Unavailable { .. } => Code::Unavailable,
        _ => Code::Internal,
    };
    ApiError::new(code, error.to_string())
}

/// Fails with `INVALID_ARGUMENT` naming `field` when `value` is empty.
pub fn required(value: &str, field: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        Err(ApiError::invalid(format!("{field} is required")))
    } else {
        Ok(())
    }
}

/// When a record was first and last written (unix microseconds).
#[derive(Debug, Clone, Copy)]
pub struct Stamps {
    /// First written.
    pub created_at: u64,
    /// Last written.
    pub updated_at: u64,
}

/// An object's timestamps from the durable store; `None` if it is not stored (or cannot be read:
/// timestamps decorate an answer, they never fail it).
pub fn object_stamps(tenant: &Tenant, object_type: &str, object_id: &str) -> Option<Stamps> {
    let stored = tenant
        .store
        .records()
        .get_object(object_type, object_id)
        .ok()??;
    Some(Stamps {
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    })
}

/// A relation's timestamps from the durable store, like [`object_stamps`].
pub fn relation_stamps(tenant: &Tenant, relation: &RelationRecord) -> Option<Stamps> {
    let meta = tenant.store.records().get_relation(relation).ok()??;
    Some(Stamps {
        created_at: meta.created_at,
        updated_at: meta.updated_at,
    })
}

/// The objects that relations name (both ends), keyed `type:id`, each once: what Topaz's
/// `with_objects` returns. Ends that are not stored objects are left out.
pub fn objects_of(
    directory: &Directory,
    relations: &[RelationRecord],
) -> std::collections::BTreeMap<String, ObjectRecord> {
    let mut objects = std::collections::BTreeMap::new();
    for r in relations {
        for (t, i) in [
            (&r.object_type, &r.object_id),
            (&r.subject_type, &r.subject_id),
        ] {
            if let std::collections::btree_map::Entry::Vacant(entry) =
                objects.entry(format!("{t}:{i}"))
            {
                if let Some(object) = directory.get_object(t, i) {
                    entry.insert(object);
                }
            }
        }
    }
    objects
}

/// The snapshot a read uses.
pub fn snapshot(tenant: &Tenant) -> Arc<Directory> {
    tenant.store.snapshot()
}

/// One object, with its relations (both directions) when asked.
pub fn get_object(
    directory: &Directory,
    object_type: &str,
    object_id: &str,
    with_relations: bool,
    page: &PageRequest,
) -> Result<(ObjectRecord, Vec<RelationRecord>, String), ApiError> {
    required(object_type, "object_type")?;
    required(object_id, "object_id")?;
    // A bad page is refused even when no relations are asked for, as Topaz validates it first.
    page.size()?;
    let object = directory
        .get_object(object_type, object_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("object {object_type}:{object_id} not found"))
        })?;
    if !with_relations {
        return Ok((object, Vec::new(), String::new()));
    }
    let mut relations = directory.relations_of(object_type, object_id);
    relations.sort();
    let (relations, next) = paginate(relations, page, relation_key)?;
    Ok((object, relations, next))
}

/// Objects of a type (or all objects), sorted by type and id, one page.
pub fn get_objects(
    directory: &Directory,
    object_type: &str,
    page: &PageRequest,
) -> Result<(Vec<ObjectRecord>, String), ApiError> {
    search_objects(directory, object_type, "", page)
}

/// Objects (of one type, or all) whose id or display name contains `text`, without regard to case;
/// every object when `text` is empty. Sorted and paged as [`get_objects`].
pub fn search_objects(
    directory: &Directory,
    object_type: &str,
    text: &str,
    page: &PageRequest,
) -> Result<(Vec<ObjectRecord>, String), ApiError> {
    let text = text.to_lowercase();
    let mut objects: Vec<ObjectRecord> = directory
        .objects()
        .filter(|o| object_type.is_empty() || o.object_type == object_type)
        .filter(|o| {
            text.is_empty()
                || o.id.to_lowercase().contains(&text)
                || o.display_name.to_lowercase().contains(&text)
        })
        .collect();
    objects.sort_by(|a, b| (&a.object_type, &a.id).cmp(&(&b.object_type, &b.id)));
    paginate(objects, page, |o| format!("{}\u{0}{}", o.object_type, o.id))
}

/// Several objects by identifier; any unknown one fails the call, naming it.
pub fn get_object_many(
    directory: &Directory,
    ids: &[(String, String)],
) -> Result<Vec<ObjectRecord>, ApiError> {
    ids.iter()
        .enumerate()
        .map(|(i, (object_type, object_id))| {
            required(object_type, &format!("param[{i}].object_type"))?;
            required(object_id, &format!("param[{i}].object_id"))?;
            directory.get_object(object_type, object_id).ok_or_else(|| {
                ApiError::not_found(format!("object {object_type}:{object_id} not found"))
            })
        })
        .collect()
}

fn relation_key(r: &RelationRecord) -> String {
    [
        r.object_type.as_str(),
        &r.object_id,
        &r.relation,
        &r.subject_type,
        &r.subject_id,
        &r.subject_relation,
    ]
    .join("\u{0}")
}

/// Relations matching the filter, sorted, one page.
pub fn get_relations(
    directory: &Directory,
    filter: &RelationFilter,
    page: &PageRequest,
) -> Result<(Vec<RelationRecord>, String), ApiError> {
    if !filter.object_id.is_empty() && filter.object_type.is_empty() {
        return Err(ApiError::invalid("object_id needs object_type"));
    }
    if !filter.subject_id.is_empty() && filter.subject_type.is_empty() {
        return Err(ApiError::invalid("subject_id needs subject_type"));
    }
    let mut relations: Vec<RelationRecord> = if !filter.object_id.is_empty() {
        directory.relations_of(&filter.object_type, &filter.object_id)
    } else if !filter.subject_id.is_empty() {
        directory.relations_of(&filter.subject_type, &filter.subject_id)
    } else {
        directory.relations().collect()
    };
    relations.retain(|r| filter.matches(r));
    relations.sort();
    relations.dedup();
    paginate(relations, page, relation_key)
}

/// One relation exactly as named; not found is an error.
pub fn get_relation(
    directory: &Directory,
    relation: &RelationRecord,
) -> Result<RelationRecord, ApiError> {
    required(&relation.object_type, "object_type")?;
    required(&relation.object_id, "object_id")?;
    required(&relation.relation, "relation")?;
    required(&relation.subject_type, "subject_type")?;
    required(&relation.subject_id, "subject_id")?;
    if directory.has_relation(relation) {
        Ok(relation.clone())
    } else {
        Err(ApiError::not_found(format!(
            "relation {relation} not found"
        )))
    }
}

/// Fails unless the check names its object, relation and subject.
pub fn require_check_fields(request: &CheckRequest<'_>) -> Result<(), ApiError> {
    required(request.object_type, "object_type")?;
    required(request.object_id, "object_id")?;
    required(request.relation, "relation")?;
    required(request.subject_type, "subject_type")?;
    required(request.subject_id, "subject_id")
}

/// A check, with the explain trace as text lines when asked.
pub fn check(
    directory: &Directory,
    request: &CheckRequest<'_>,
    trace: bool,
) -> Result<(bool, Vec<String>), ApiError> {
    require_check_fields(request)?;
    let _span = tracing::debug_span!(
        target: crate::logging::TRACE_TARGET,
        "directory.check",
        object_type = request.object_type,
        relation = request.relation,
    )
    .entered();
    if trace {
        let explanation = directory.explain(request).map_err(directory_error)?;
        let lines = explanation
            .trace
            .map(|t| t.to_string().lines().map(str::to_string).collect())
            .unwrap_or_default();
        Ok((explanation.allowed, lines))
    } else {
        let allowed = directory.check(request).map_err(directory_error)?;
        Ok((allowed, Vec::new()))
    }
}

/// The graph query of Topaz v3: with an object id, the subjects of `subject_type` holding the relation
/// on it; without one, the objects of `object_type` on which the subject holds it. Returns
/// `(type, id)` pairs.
pub fn get_graph(
    directory: &Directory,
    filter: &RelationFilter,
) -> Result<Vec<(String, String)>, ApiError> {
    required(&filter.object_type, "object_type")?;
    required(&filter.relation, "relation")?;
    required(&filter.subject_type, "subject_type")?;
    let all = Page::default();
    match (filter.object_id.is_empty(), filter.subject_id.is_empty()) {
        (true, false) => {
            let page = directory
                .lookup_objects(
                    &LookupObjectsRequest {
                        subject_type: &filter.subject_type,
                        subject_id: &filter.subject_id,
                        subject_relation: &filter.subject_relation,
                        permission: &filter.relation,
                        object_type: &filter.object_type,
                    },
                    all,
                )
                .map_err(directory_error)?;
            Ok(page
                .ids
                .into_iter()
                .map(|id| (filter.object_type.clone(), id))
                .collect())
        }
        (false, true) => {
            let found = directory
                .lookup_subjects(
                    &LookupSubjectsRequest {
                        object_type: &filter.object_type,
                        object_id: &filter.object_id,
                        permission: &filter.relation,
                        subject_type: &filter.subject_type,
                        subject_relation: &filter.subject_relation,
                    },
                    all,
                )
                .map_err(directory_error)?;
            Ok(found
                .page
                .ids
                .into_iter()
                .map(|id| (filter.subject_type.clone(), id))
                .collect())
        }
        (false, false) => {
            let (allowed, _) = check(
                directory,
                &CheckRequest {
                    object_type: &filter.object_type,
                    object_id: &filter.object_id,
                    relation: &filter.relation,
                    subject_type: &filter.subject_type,
                    subject_id: &filter.subject_id,
                    subject_relation: &filter.subject_relation,
                },
                false,
            )?;
            Ok(if allowed {
                vec![(filter.subject_type.clone(), filter.subject_id.clone())]
            } else {
                Vec::new()
            })
        }
        (true, true) => Err(ApiError::invalid(
            "either object_id or subject_id must be given",
        )),
    }
}

/// Refuses an object written without its type or id.
pub fn object_fields(object: &ObjectRecord) -> Result<(), ApiError> {
    required(&object.object_type, "object.type")?;
    required(&object.id, "object.id")
}

/// Refuses a relation without one of the fields that identify it; `prefix` is how the request
/// names the relation's fields (`relation.` in a body holding a relation, empty for a flat one).
pub fn relation_fields(relation: &RelationRecord, prefix: &str) -> Result<(), ApiError> {
    required(&relation.object_type, &format!("{prefix}object_type"))?;
    required(&relation.object_id, &format!("{prefix}object_id"))?;
    required(&relation.relation, &format!("{prefix}relation"))?;
    required(&relation.subject_type, &format!("{prefix}subject_type"))?;
    required(&relation.subject_id, &format!("{prefix}subject_id"))
}

/// Commits one single-record write together with the other writers' queued meanwhile; returns once
/// it is durable. Waiting holds no thread.
async fn write(tenant: &Tenant, write: SingleWrite) -> Result<Written, ApiError> {
    tenant
        .store
        .submit_async(write)
        .await
        .map(|(written, _)| written)
        .map_err(store_error)
}

/// The object a set or create stored.
fn stored_object(written: Written) -> Result<ObjectRecord, ApiError> {
    match written {
        Written::Object(stored) => Ok(stored),
        _ => Err(ApiError::new(
            Code::Internal,
            "the store answered an object write without the object",
        )),
    }
}

/// Creates or updates an object; a non-empty etag must match the stored one.
pub async fn set_object(
    tenant: &Arc<Tenant>,
    object: &ObjectRecord,
) -> Result<ObjectRecord, ApiError> {
    object_fields(object)?;
    stored_object(write(tenant, SingleWrite::SetObject(object.clone())).await?)
}

/// Creates an object that must not exist yet (ALREADY_EXISTS when it does).
pub async fn create_object(
    tenant: &Arc<Tenant>,
    object: &ObjectRecord,
) -> Result<ObjectRecord, ApiError> {
    object_fields(object)?;
    stored_object(write(tenant, SingleWrite::CreateObject(object.clone())).await?)
}

/// Deletes an object (and, when asked, every relation it is in).
pub async fn delete_object(
    tenant: &Arc<Tenant>,
    object_type: &str,
    object_id: &str,
    with_relations: bool,
) -> Result<(), ApiError> {
    required(object_type, "object_type")?;
    required(object_id, "object_id")?;
    let delete = SingleWrite::DeleteObject {
        object_type: object_type.to_string(),
        object_id: object_id.to_string(),
        with_relations,
    };
    write(tenant, delete).await?;
    Ok(())
}

/// Adds a relation (idempotent); a non-empty etag must match the stored relation's.
pub async fn set_relation(
    tenant: &Arc<Tenant>,
    relation: &RelationRecord,
    etag: &str,
) -> Result<RelationRecord, ApiError> {
    relation_fields(relation, "relation.")?;
    let set = SingleWrite::SetRelation {
        relation: relation.clone(),
        etag: Some(etag.to_string()),
    };
    write(tenant, set).await?;
    Ok(relation.clone())
}

/// Removes a relation; removing an absent one is not an error, as in Topaz.
pub async fn delete_relation(
    tenant: &Arc<Tenant>,
    relation: &RelationRecord,
) -> Result<(), ApiError> {
    relation_fields(relation, "")?;
    write(tenant, SingleWrite::DeleteRelation(relation.clone())).await?;
    Ok(())
}

/// Sorted items after the token's key, at most a page; returns the next token (empty at the end).
fn paginate<T>(
    items: Vec<T>,
    page: &PageRequest,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, String), ApiError> {
    let start = if page.token.is_empty() {
        0
    } else {
        let after = decode_token(&page.token)?;
        items.partition_point(|item| key(item) <= after)
    };
    let size = page.size()?;
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > size {
        rest.truncate(size);
        rest.last()
            .map(|last| encode_token(&key(last)))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Ok((rest, next))
}

fn encode_token(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::invalid("page.token is not a token this server issued"))
}

/// Why each graph result matches, as Topaz's `explain` gives it: keyed `type:id`, the paths of
/// relations (`type:id#relation@subject`) that grant it, read off the check's explain trace.
pub fn explain_graph(
    directory: &Directory,
    filter: &RelationFilter,
    results: &[(String, String)],
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut explanation = serde_json::Map::new();
    let subject_search = filter.subject_id.is_empty();
    for (result_type, result_id) in results {
        let (object_id, subject_id) = if subject_search {
            (filter.object_id.as_str(), result_id.as_str())
        } else {
            (result_id.as_str(), filter.subject_id.as_str())
        };
        let trace = directory
            .explain(&CheckRequest {
                object_type: &filter.object_type,
                object_id,
                relation: &filter.relation,
                subject_type: &filter.subject_type,
                subject_id,
                subject_relation: &filter.subject_relation,
            })
            .map_err(directory_error)?
            .trace;
        let mut paths = Vec::new();
        if let Some(trace) = &trace {
            granting_paths(trace, &mut Vec::new(), None, &mut paths);
        }
        explanation.insert(
            format!("{result_type}:{result_id}"),
            serde_json::Value::from(paths),
        );
    }
    Ok(explanation)
}

/// Collects every granting path under `trace`. `at` is the relation node (`type:id#relation`) whose
/// tuples are being followed; each hop from it to a subject becomes one edge of the path.
fn granting_paths(
    trace: &lictor_directory::Trace,
    path: &mut Vec<String>,
    at: Option<&str>,
    out: &mut Vec<Vec<String>>,
) {
    use lictor_directory::Step;
    if !trace.allowed {
        return;
    }
    match &trace.step {
        Step::Relation { node } => {
            let pushed = at.map(|from| path.push(format!("{from}@{node}"))).is_some();
            for child in &trace.children {
                granting_paths(child, path, Some(node), out);
            }
            if pushed {
                path.pop();
            }
        }
        Step::Tuple { subject } | Step::Wildcard { subject } | Step::SubjectSet { subject } => {
            let mut found = path.clone();
            if let Some(from) = at {
                found.push(format!("{from}@{subject}"));
            }
            out.push(found);
        }
        Step::Permission { .. }
        | Step::Union
        | Step::Intersection
        | Step::Exclusion
        | Step::Arrow { .. } => {
            for child in &trace.children {
                granting_paths(child, path, at, out);
            }
        }
        Step::Cycle { .. } => {}
    }
}
