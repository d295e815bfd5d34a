//! [`Directory`]: one immutable revision of the manifest, objects and relations, with its queries.
//! Writers clone it (cheaply: copy-on-write shards), change the clone, and publish it as the next revision.

use crate::check::{Evaluator, MemoTable, ResolvedSubject, UNSEEN_OBJECT};
use crate::explain::{NoRecorder, Recorder, Trace, TraceRecorder};
use crate::index::{Node, ObjectData, ObjectId, RelationIndex, Subject};
use crate::schema::{Definition, NameId, Schema, TypeId, NO_NAME};
use crate::DirectoryError;
use lictor_model::{ObjectRecord, RelationRecord, SubjectType};
use std::cell::RefCell;
use std::sync::Arc;

/// Default for how deep a check may walk before it answers with [`DirectoryError::DepthExceeded`].
pub const DEFAULT_DEPTH_LIMIT: u32 = 100;

/// Memo capacity a thread keeps between checks.
const MEMO_CAPACITY_KEPT: usize = 4096;

thread_local! {
    static MEMO: RefCell<MemoTable> = RefCell::new(MemoTable::default());
}

/// A check: may `subject_type:subject_id[#subject_relation]` `relation` on `object_type:object_id`?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckRequest<'a> {
    /// Type of the object.
    pub object_type: &'a str,
    /// Id of the object.
    pub object_id: &'a str,
    /// Relation or permission on the object's type.
    pub relation: &'a str,
    /// Type of the subject.
    pub subject_type: &'a str,
    /// Id of the subject.
    pub subject_id: &'a str,
    /// Relation on the subject for a subject set, else empty.
    pub subject_relation: &'a str,
}

/// The answer of a check with the trace that proved or refuted it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The decision.
    pub allowed: bool,
    /// What was evaluated; absent when the object is unknown to the directory.
    pub trace: Option<Trace>,
}

/// One revision of the directory.
#[derive(Clone)]
pub struct Directory {
    schema: Arc<Schema>,
    index: RelationIndex,
    revision: u64,
    depth_limit: u32,
}

impl Default for Directory {
    fn default() -> Self {
        Directory {
            schema: Arc::new(Schema::default()),
            index: RelationIndex::default(),
            revision: 0,
            depth_limit: DEFAULT_DEPTH_LIMIT,
        }
    }
}

/// A check with every name resolved.
pub(crate) struct Resolved {
    pub node: Option<Node>,
    pub subject: ResolvedSubject,
}

impl Directory {
    /// An empty directory with an empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// The revision this snapshot represents.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Sets the revision, when publishing.
    pub fn set_revision(&mut self, revision: u64) {
        self.revision = revision;
    }

    /// The compiled manifest.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The relation index.
    pub fn index(&self) -> &RelationIndex {
        &self.index
    }

    /// Sets how deep a check may walk.
    pub fn set_depth_limit(&mut self, limit: u32) {
        self.depth_limit = limit;
    }

    /// Number of objects.
    pub fn object_count(&self) -> usize {
        self.index.object_count()
    }

    /// Number of relation tuples.
    pub fn relation_count(&self) -> usize {
        self.index.relation_count()
    }

    /// Releases spare capacity after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
    }

    // ----- manifest -----

    /// What the stored data would break under `schema`: one line per stranded object or relation
    /// (at most `limit` lines) and the total count.
    pub fn violations_under(&self, schema: &Schema, limit: usize) -> (Vec<String>, usize) {
        let mut lines = Vec::new();
        let mut total = 0usize;
        let mut note = |line: String| {
            total += 1;
            if lines.len() < limit {
                lines.push(line);
            }
        };
        for (object, _) in self.index.objects() {
            if let Some(record) = self.object_record(object) {
                if schema.manifest().type_def(&record.object_type).is_none() {
                    note(format!(
                        "object `{}:{}`: type `{}` is not in the new manifest",
                        record.object_type, record.id, record.object_type
                    ));
                }
            }
        }
        for relation in self.relations() {
            if let Err(error) = validate_relation(schema, &relation) {
                note(format!("relation `{relation}`: {error}"));
            }
        }
        (lines, total)
    }

    /// Installs a new compiled manifest; the caller has checked [`Directory::violations_under`].
    pub fn replace_schema(&mut self, schema: Arc<Schema>) {
        self.schema = schema;
    }

    // ----- writes -----

    /// Checks an object against the manifest.
    pub fn validate_object(&self, object: &ObjectRecord) -> Result<(), DirectoryError> {
        validate_object(&self.schema, object)
    }

    /// Checks a relation against the manifest.
    pub fn validate_relation(&self, relation: &RelationRecord) -> Result<(), DirectoryError> {
        validate_relation(&self.schema, relation)
    }

    /// Creates or replaces an object; returns whether it is new.
    pub fn set_object(&mut self, object: &ObjectRecord) -> Result<bool, DirectoryError> {
        self.validate_object(object)?;
        let object_type = self.type_id(&object.object_type)?;
        let id = self.index.intern(object_type, &object.id);
        let properties = match &object.properties {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            other => other.clone(),
        };
        let data = ObjectData {
            display_name: object.display_name.clone(),
            etag: ObjectRecord {
                properties: properties.clone(),
                etag: String::new(),
                ..object.clone()
            }
            .content_etag(),
            properties,
        };
        Ok(self.index.set_object_data(id, data))
    }

    /// Deletes an object (not its relations); returns whether it existed.
    pub fn delete_object(&mut self, object_type: &str, object_id: &str) -> bool {
        match self.object_id(object_type, object_id) {
            Some(id) => self.index.remove_object_data(id),
            None => false,
        }
    }

    /// Adds a relation tuple; returns whether it is new.
    pub fn set_relation(&mut self, relation: &RelationRecord) -> Result<bool, DirectoryError> {
        self.validate_relation(relation)?;
        let (node, subject) = self.intern_relation(relation)?;
        Ok(self.index.insert(node, subject))
    }

    /// Removes a relation tuple; returns whether it existed.
    pub fn delete_relation(&mut self, relation: &RelationRecord) -> bool {
        match self.find_relation(relation) {
            Some((node, subject)) => self.index.remove(node, subject),
            None => false,
        }
    }

    fn intern_relation(
        &mut self,
        relation: &RelationRecord,
    ) -> Result<(Node, Subject), DirectoryError> {
        let object_type = self.type_id(&relation.object_type)?;
        let subject_type = self.type_id(&relation.subject_type)?;
        let name = self.name_id(&relation.object_type, &relation.relation)?;
        let subject_relation = self.name_id(&relation.subject_type, &relation.subject_relation)?;
        let object = self.index.intern(object_type, &relation.object_id);
        let subject = self.index.intern(subject_type, &relation.subject_id);
        Ok((
            Node {
                object,
                relation: name,
            },
            Subject {
                relation: subject_relation,
                object: subject,
            },
        ))
    }

    fn find_relation(&self, relation: &RelationRecord) -> Option<(Node, Subject)> {
        let symbols = self.schema.symbols();
        let object = self.object_id(&relation.object_type, &relation.object_id)?;
        let subject = self.object_id(&relation.subject_type, &relation.subject_id)?;
        Some((
            Node {
                object,
                relation: symbols.name_id(&relation.relation)?,
            },
            Subject {
                relation: symbols.name_id(&relation.subject_relation)?,
                object: subject,
            },
        ))
    }

    // ----- reads -----

    /// The interned id of `type:id`, if the directory has seen it.
    pub fn object_id(&self, object_type: &str, object_id: &str) -> Option<ObjectId> {
        let ty = self.schema.symbols().type_id(object_type)?;
        self.index.object_id(ty, object_id)
    }

    /// An object that was set.
    pub fn get_object(&self, object_type: &str, object_id: &str) -> Option<ObjectRecord> {
        self.object_record(self.object_id(object_type, object_id)?)
    }

    fn object_record(&self, object: ObjectId) -> Option<ObjectRecord> {
        let data = self.index.object_data(object)?;
        let (ty, id) = self.index.object_key(object)?;
        Some(ObjectRecord {
            object_type: self.schema.symbols().type_name(ty).to_string(),
            id: id.to_string(),
            display_name: data.display_name.clone(),
            properties: data.properties.clone(),
            etag: data.etag.clone(),
        })
    }

    /// Every object that was set, in no particular order.
    pub fn objects(&self) -> impl Iterator<Item = ObjectRecord> + '_ {
        self.index
            .objects()
            .filter_map(|(object, _)| self.object_record(object))
    }

    /// Whether the tuple is stored.
    pub fn has_relation(&self, relation: &RelationRecord) -> bool {
        self.find_relation(relation).is_some_and(|(node, subject)| {
            self.index
                .subjects(node.object, node.relation)
                .binary_search(&subject)
                .is_ok()
        })
    }

    /// Every relation tuple, in no particular order.
    pub fn relations(&self) -> impl Iterator<Item = RelationRecord> + '_ {
        self.index.nodes().flat_map(move |(node, subjects)| {
            subjects
                .iter()
                .filter_map(move |subject| self.relation_record(*node, *subject))
        })
    }

    /// Every tuple in which `type:id` is the object or the subject (what deleting it with its relations removes).
    pub fn relations_of(&self, object_type: &str, object_id: &str) -> Vec<RelationRecord> {
        let Some(object) = self.object_id(object_type, object_id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in 0..self.schema.symbols().name_count() {
            let node = Node {
                object,
                relation: name,
            };
            for subject in self.index.subjects(object, name) {
                out.extend(self.relation_record(node, *subject));
            }
            for back in self.index.appearances(object, name) {
                let node = Node {
                    object: back.object,
                    relation: back.relation,
                };
                if node.object != object {
                    let subject = Subject {
                        relation: name,
                        object,
                    };
                    out.extend(self.relation_record(node, subject));
                }
            }
        }
        out
    }

    fn relation_record(&self, node: Node, subject: Subject) -> Option<RelationRecord> {
        let symbols = self.schema.symbols();
        let (object_type, object_id) = self.index.object_key(node.object)?;
        let (subject_type, subject_id) = self.index.object_key(subject.object)?;
        Some(RelationRecord {
            object_type: symbols.type_name(object_type).to_string(),
            object_id: object_id.to_string(),
            relation: symbols.name(node.relation).to_string(),
            subject_type: symbols.type_name(subject_type).to_string(),
            subject_id: subject_id.to_string(),
            subject_relation: symbols.name(subject.relation).to_string(),
        })
    }

    // ----- checks -----

    /// Resolves the names of a check; unknown types and names are errors, unknown objects are not.
    pub(crate) fn resolve(&self, request: &CheckRequest<'_>) -> Result<Resolved, DirectoryError> {
        let object_type = self.type_id(request.object_type)?;
        let relation = self.name_id(request.object_type, request.relation)?;
        if request.relation.is_empty() {
            return Err(DirectoryError::EmptyField { field: "relation" });
        }
        let subject_type = self.type_id(request.subject_type)?;
        let subject_relation = self.name_id(request.subject_type, request.subject_relation)?;
        let subject = ResolvedSubject {
            object: self.index.object_id(subject_type, request.subject_id),
            relation: subject_relation,
            wildcard: self.index.object_id(subject_type, "*"),
        };
        let node = self
            .index
            .object_id(object_type, request.object_id)
            .map(|object| Node { object, relation });
        Ok(Resolved { node, subject })
    }

    /// Whether the subject holds the relation or permission on the object.
    pub fn check(&self, request: &CheckRequest<'_>) -> Result<bool, DirectoryError> {
        let resolved = self.resolve(request)?;
        let Some(node) = resolved.node else {
            return match self.own_subject_set(request)? {
                Some(node) => self
                    .evaluate_unseen(node, resolved.subject, NoRecorder)
                    .map(|(allowed, _)| allowed),
                None => Ok(false),
            };
        };
        MEMO.with(|memo| match memo.try_borrow_mut() {
            Ok(mut memo) => {
                let result = self.check_node(node, resolved.subject, &mut memo);
                // Clearing costs O(capacity): don't let one huge walk slow every later check.
                if memo.capacity() > MEMO_CAPACITY_KEPT {
                    *memo = MemoTable::default();
                }
                result
            }
            Err(_) => self.check_node(node, resolved.subject, &mut MemoTable::default()),
        })
    }

    pub(crate) fn check_node(
        &self,
        node: Node,
        subject: ResolvedSubject,
        memo: &mut MemoTable,
    ) -> Result<bool, DirectoryError> {
        let mut evaluator = self.evaluator(subject, memo);
        let result = evaluator.run(node);
        evaluator.recycle();
        result
    }

    pub(crate) fn evaluator<'a>(
        &'a self,
        subject: ResolvedSubject,
        memo: &'a mut MemoTable,
    ) -> Evaluator<'a, NoRecorder> {
        Evaluator {
            schema: &self.schema,
            index: &self.index,
            subject,
            memo,
            depth_limit: self.depth_limit,
            recorder: NoRecorder,
            unseen_type: TypeId::MAX,
            closure: None,
            subtracted_at: None,
        }
    }

    /// For a check on an object the directory has never seen: the node to evaluate when the subject is a
    /// set of that same object (which may hold the object's permissions through its own relations).
    fn own_subject_set(
        &self,
        request: &CheckRequest<'_>,
    ) -> Result<Option<(Node, TypeId)>, DirectoryError> {
        if request.subject_relation.is_empty()
            || request.subject_type != request.object_type
            || request.subject_id != request.object_id
        {
            return Ok(None);
        }
        let relation = self.name_id(request.object_type, request.relation)?;
        let node = Node {
            object: UNSEEN_OBJECT,
            relation,
        };
        Ok(Some((node, self.type_id(request.object_type)?)))
    }

    /// Evaluates `node` on [`UNSEEN_OBJECT`] of `object_type`, for a subject set of that object.
    pub(crate) fn evaluate_unseen<R: Recorder>(
        &self,
        (node, object_type): (Node, TypeId),
        subject: ResolvedSubject,
        recorder: R,
    ) -> Result<(bool, R), DirectoryError> {
        let mut memo = MemoTable::default();
        let mut evaluator = Evaluator {
            schema: &self.schema,
            index: &self.index,
            subject: ResolvedSubject {
                object: Some(UNSEEN_OBJECT),
                wildcard: None,
                ..subject
            },
            memo: &mut memo,
            depth_limit: self.depth_limit,
            recorder,
            unseen_type: object_type,
            closure: None,
            subtracted_at: None,
        };
        let allowed = evaluator.run(node)?;
        Ok((allowed, evaluator.recorder))
    }

    /// Like [`Directory::check`], with the trace of what was evaluated.
    pub fn explain(&self, request: &CheckRequest<'_>) -> Result<Explanation, DirectoryError> {
        let resolved = self.resolve(request)?;
        let Some(node) = resolved.node else {
            return match self.own_subject_set(request)? {
                Some(node) => {
                    let (allowed, recorder) =
                        self.evaluate_unseen(node, resolved.subject, TraceRecorder::default())?;
                    Ok(Explanation {
                        allowed,
                        trace: recorder.finish(),
                    })
                }
                None => Ok(Explanation {
                    allowed: false,
                    trace: None,
                }),
            };
        };
        let mut evaluator = Evaluator {
            schema: &self.schema,
            index: &self.index,
            subject: resolved.subject,
            memo: &mut MemoTable::default(),
            depth_limit: self.depth_limit,
            recorder: TraceRecorder::default(),
            unseen_type: TypeId::MAX,
            closure: None,
            subtracted_at: None,
        };
        let allowed = evaluator.run(node)?;
        Ok(Explanation {
            allowed,
            trace: evaluator.recorder.finish(),
        })
    }

    // ----- name resolution -----

    pub(crate) fn type_id(&self, object_type: &str) -> Result<TypeId, DirectoryError> {
        if object_type.is_empty() {
            return Err(DirectoryError::EmptyField {
                field: "object_type",
            });
        }
        self.schema
            .declared_type(object_type)
            .ok_or_else(|| DirectoryError::UnknownType {
                object_type: object_type.to_string(),
            })
    }

    /// The id of a relation or permission declared on a type (`""` resolves to [`NO_NAME`]).
    pub(crate) fn name_id(&self, object_type: &str, name: &str) -> Result<NameId, DirectoryError> {
        if name.is_empty() {
            return Ok(NO_NAME);
        }
        let unknown = || DirectoryError::UnknownName {
            object_type: object_type.to_string(),
            name: name.to_string(),
        };
        let ty = self.type_id(object_type)?;
        let id = self.schema.symbols().name_id(name).ok_or_else(unknown)?;
        self.schema.definition(ty, id).ok_or_else(unknown)?;
        Ok(id)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn validate_object(schema: &Schema, object: &ObjectRecord) -> Result<(), DirectoryError> {
    if object.object_type.is_empty() {
        return Err(DirectoryError::EmptyField { field: "type" });
    }
    if object.id.is_empty() {
        return Err(DirectoryError::EmptyField { field: "id" });
    }
    if schema.manifest().type_def(&object.object_type).is_none() {
        return Err(DirectoryError::UnknownType {
            object_type: object.object_type.clone(),
        });
    }
    if object.id == "*" {
        return Err(DirectoryError::ReservedId {
            object_type: object.object_type.clone(),
        });
    }
    if !matches!(
        object.properties,
        serde_json::Value::Object(_) | serde_json::Value::Null
    ) {
        return Err(DirectoryError::PropertiesNotObject {
            object: format!("{}:{}", object.object_type, object.id),
            found: json_kind(&object.properties),
        });
    }
    Ok(())
}

/// Checks a tuple against a manifest: its relation exists and admits its subject.
pub(crate) fn validate_relation(
    schema: &Schema,
    relation: &RelationRecord,
) -> Result<(), DirectoryError> {
    for (field, value) in [
        ("object_type", &relation.object_type),
        ("object_id", &relation.object_id),
        ("relation", &relation.relation),
        ("subject_type", &relation.subject_type),
        ("subject_id", &relation.subject_id),
    ] {
        if value.is_empty() {
            return Err(DirectoryError::EmptyField { field });
        }
    }
    let unknown_type = |name: &str| DirectoryError::UnknownType {
        object_type: name.to_string(),
    };
    let object_type = schema
        .declared_type(&relation.object_type)
        .ok_or_else(|| unknown_type(&relation.object_type))?;
    let subject_type = schema
        .declared_type(&relation.subject_type)
        .ok_or_else(|| unknown_type(&relation.subject_type))?;
    if relation.object_id == "*" {
        return Err(DirectoryError::ReservedId {
            object_type: relation.object_type.clone(),
        });
    }
    let name = schema.symbols().name_id(&relation.relation);
    let plan = match name.and_then(|name| schema.definition(object_type, name)) {
        Some(Definition::Relation(plan)) => plan,
        Some(Definition::Permission(_)) => {
            return Err(DirectoryError::NotARelation {
                object_type: relation.object_type.clone(),
                name: relation.relation.clone(),
            })
        }
        None => {
            return Err(DirectoryError::UnknownName {
                object_type: relation.object_type.clone(),
                name: relation.relation.clone(),
            })
        }
    };
    let wildcard = relation.subject_id == "*";
    let admitted = if relation.subject_relation.is_empty() {
        if wildcard {
            plan.wildcards.contains(&subject_type)
        } else {
            plan.direct.contains(&subject_type)
        }
    } else {
        !wildcard
            && schema
                .symbols()
                .name_id(&relation.subject_relation)
                .is_some_and(|set| plan.sets.contains(&(subject_type, set)))
    };
    if admitted {
        return Ok(());
    }
    let definition = schema
        .manifest()
        .type_def(&relation.object_type)
        .and_then(|ty| ty.relation(&relation.relation))
        .map(|rel| rel.subjects.as_slice())
        .unwrap_or_default();
    let subject = if wildcard {
        format!("{}:*", relation.subject_type)
    } else if relation.subject_relation.is_empty() {
        relation.subject_type.clone()
    } else {
        format!("{}#{}", relation.subject_type, relation.subject_relation)
    };
    let admitted = definition
        .iter()
        .map(|s| match s {
            SubjectType::Direct { object_type } => object_type.clone(),
            SubjectType::Set {
                object_type,
                relation,
            } => format!("{object_type}#{relation}"),
            SubjectType::Wildcard { object_type } => format!("{object_type}:*"),
        })
        .collect::<Vec<_>>()
        .join(" | ");
    Err(DirectoryError::SubjectNotAdmitted {
        relation: format!("{}#{}", relation.object_type, relation.relation),
        subject,
        admitted,
    })
}

impl Directory {
    /// Whether `name` is a relation (stored) rather than a permission on `object_type`.
    pub fn is_relation(&self, object_type: &str, name: &str) -> bool {
        let Ok(ty) = self.type_id(object_type) else {
            return false;
        };
        let Some(id) = self.schema.symbols().name_id(name) else {
            return false;
        };
        matches!(
            self.schema.definition(ty, id),
            Some(Definition::Relation(_))
        )
    }
}
