//! Topaz's directory built-ins (`ds.check`, `ds.object`, ...), answered from the directory snapshot bound
//! to the evaluation running on the current thread.
//!
//! Extensions registered on a regorus engine are plain functions with no evaluation context, so the
//! snapshot travels in a thread-local slot: [`bind`] fills it for the duration of one evaluation and
//! restores what was there before when its guard drops. An evaluation runs on one thread from start to
//! end, so concurrent evaluations on other threads each see their own slot and never another's snapshot.
//!
//! Shapes follow Topaz's directory v3 reader as its built-ins render them (protobuf JSON with proto field
//! names and default values emitted): an object is `{type, id, display_name, properties, etag}`, a
//! relation is `{object_type, object_id, relation, subject_type, subject_id, subject_relation, etag}`.

use lictor_directory::{
    CheckRequest, Directory, LookupObjectsRequest, LookupSubjectsRequest, Page,
};
use lictor_model::{ObjectRecord, RelationRecord};
use regorus::value::Object;
use regorus::{Engine, Value};
use serde_json::{json, Map};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one evaluation's built-ins read: the snapshot, how to treat their errors, and a memo.
struct Binding {
    directory: Arc<Directory>,
    lenient: bool,
    /// Built-in answers within this evaluation, keyed by built-in and argument (Topaz memoizes them too).
    memo: BTreeMap<(&'static str, Value), Value>,
    /// Every distinct call made, in order, when the evaluation is being explained.
    calls: Option<Vec<BuiltinCall>>,
}

/// One distinct `ds.*` call an explained evaluation made.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuiltinCall {
    /// The built-in's Rego name (`ds.check`).
    pub builtin: &'static str,
    /// Its argument as JSON.
    pub argument: serde_json::Value,
    /// What it answered (null when it failed or was undefined).
    pub result: serde_json::Value,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

thread_local! {
    static BOUND: RefCell<Option<Binding>> = const { RefCell::new(None) };
}

/// Keeps a snapshot bound to the current thread's evaluation; restores the previous binding on drop.
pub(crate) struct BindGuard {
    previous: Option<Binding>,
    /// Whether this guard installed a binding (and so must restore the previous one).
    installed: bool,
}

/// Binds `directory` to evaluations on this thread until the guard drops.
///
/// With `lenient`, a built-in's error makes its call undefined (as OPA does by default) instead of
/// failing the evaluation. With `record`, the calls are kept for [`BindGuard::take_calls`].
pub(crate) fn bind(directory: Arc<Directory>, lenient: bool, record: bool) -> BindGuard {
    let binding = Binding {
        directory,
        lenient,
        memo: BTreeMap::new(),
        calls: record.then(Vec::new),
    };
    BOUND.with(|slot| match slot.try_borrow_mut() {
        Ok(mut slot) => BindGuard {
            previous: slot.replace(binding),
            installed: true,
        },
        // Only reachable from inside a built-in, which never evaluates policies itself; the
        // evaluation then finds no directory and its built-ins fail rather than see another's.
        Err(_) => BindGuard {
            previous: None,
            installed: false,
        },
    })
}

impl BindGuard {
    /// The calls recorded so far by the binding this guard installed.
    pub(crate) fn take_calls(&self) -> Vec<BuiltinCall> {
        if !self.installed {
            return Vec::new();
        }
        BOUND.with(|slot| {
            slot.try_borrow_mut()
                .ok()
                .and_then(|mut slot| slot.as_mut().and_then(|b| b.calls.take()))
                .unwrap_or_default()
        })
    }
}

impl Drop for BindGuard {
    fn drop(&mut self) {
        if !self.installed {
            return;
        }
        let previous = self.previous.take();
        BOUND.with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                *slot = previous;
            }
        });
    }
}

/// A built-in: its Rego name and what answers it.
type Handler = fn(&Directory, &Value) -> Result<Value, String>;

/// Every built-in with its Rego name.
const BUILTINS: &[(&str, Handler)] = &[
    ("ds.check", ds_check),
    ("ds.checks", ds_checks),
    ("ds.check_relation", ds_check),
    ("ds.check_permission", ds_check_permission),
    ("ds.graph", ds_graph),
    ("ds.identity", ds_identity),
    ("ds.object", ds_object),
    ("ds.relation", ds_relation),
    ("ds.relations", ds_relations),
    ("ds.user", ds_user),
];

/// The names of the built-ins this crate provides.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}

/// Registers every built-in on `engine`.
pub(crate) fn register(engine: &mut Engine) -> anyhow::Result<()> {
    for &(name, handler) in BUILTINS {
        engine.add_extension(
            name.to_string(),
            1,
            Box::new(move |args: Vec<Value>| call(name, handler, args)),
        )?;
    }
    Ok(())
}

fn call(name: &'static str, handler: Handler, args: Vec<Value>) -> anyhow::Result<Value> {
    let arg = args.into_iter().next().unwrap_or(Value::Undefined);
    BOUND.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| anyhow::anyhow!("{name}: called re-entrantly"))?;
        let binding = slot
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("{name}: no directory is bound to this evaluation"))?;
        let key = (name, arg);
        if let Some(value) = binding.memo.get(&key) {
            return Ok(value.clone());
        }
        // The same target and level as the server's spans, which traces export.
        let _span =
            tracing::debug_span!(target: "lictor::trace", "directory", builtin = name).entered();
        let answer = handler(&binding.directory, &key.1);
        if let Some(calls) = binding.calls.as_mut() {
            calls.push(BuiltinCall {
                builtin: name,
                argument: crate::set::to_json(&key.1),
                result: answer
                    .as_ref()
                    .map_or(serde_json::Value::Null, crate::set::to_json),
                error: answer.as_ref().err().cloned(),
            });
        }
        let value = match answer {
            Ok(value) => value,
            Err(_) if binding.lenient => Value::Undefined,
            Err(message) => return Err(anyhow::anyhow!("{name}: {message}")),
        };
        binding.memo.insert(key, value.clone());
        Ok(value)
    })
}

// ----- argument reading -----

/// The JSON kind of a Rego value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Set(_) => "a set",
        Value::Object(_) => "an object",
        Value::Undefined => "undefined",
    }
}

/// The argument object of a built-in.
fn object_arg(arg: &Value) -> Result<&Object, String> {
    match arg {
        Value::Object(object) => Ok(object),
        other => Err(format!("argument must be an object, not {}", kind(other))),
    }
}

/// A string field; absent or null reads as empty.
fn str_field<'a>(object: &'a Object, field: &str) -> Result<&'a str, String> {
    match object.get(&Value::from(field)) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!(
            "field `{field}` must be a string, not {}",
            kind(other)
        )),
    }
}

/// A boolean field; absent or null reads as false.
fn bool_field(object: &Object, field: &str) -> Result<bool, String> {
    match object.get(&Value::from(field)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(format!(
            "field `{field}` must be a boolean, not {}",
            kind(other)
        )),
    }
}

/// Fails naming the first of `fields` that is empty.
fn require(fields: &[(&str, &str)]) -> Result<(), String> {
    match fields.iter().find(|(_, value)| value.is_empty()) {
        Some((name, _)) => Err(format!("field `{name}` is required")),
        None => Ok(()),
    }
}

/// Fails unless the manifest declares the type.
fn known_type(directory: &Directory, object_type: &str) -> Result<(), String> {
    if directory.schema().declared_type(object_type).is_some() {
        Ok(())
    } else {
        Err(format!(
            "unknown object type `{object_type}` (not declared in the manifest)"
        ))
    }
}

fn help(text: &str) -> Value {
    Value::from(text)
}

fn to_value(json: serde_json::Value) -> Value {
    Value::from(json)
}

fn empty_object() -> Value {
    Value::new_object()
}

// ----- result shapes -----

/// An object as Topaz renders a directory object.
pub(crate) fn object_json(object: &ObjectRecord) -> serde_json::Value {
    let properties = match &object.properties {
        serde_json::Value::Null => serde_json::Value::Object(Map::new()),
        other => other.clone(),
    };
    json!({
        "type": object.object_type,
        "id": object.id,
        "display_name": object.display_name,
        "properties": properties,
        "etag": object.etag,
    })
}

/// A relation as Topaz renders a directory relation.
fn relation_json(relation: &RelationRecord) -> serde_json::Value {
    json!({
        "object_type": relation.object_type,
        "object_id": relation.object_id,
        "relation": relation.relation,
        "subject_type": relation.subject_type,
        "subject_id": relation.subject_id,
        "subject_relation": relation.subject_relation,
        "etag": relation.etag(),
    })
}

/// The objects at both ends of the relations, keyed `type:id`, for `with_objects`.
fn objects_of<'a>(
    directory: &Directory,
    relations: impl IntoIterator<Item = &'a RelationRecord>,
) -> serde_json::Value {
    let mut objects = Map::new();
    for relation in relations {
        for (object_type, object_id) in [
            (&relation.object_type, &relation.object_id),
            (&relation.subject_type, &relation.subject_id),
        ] {
            let key = format!("{object_type}:{object_id}");
            if !objects.contains_key(&key) {
                if let Some(object) = directory.get_object(object_type, object_id) {
                    objects.insert(key, object_json(&object));
                }
            }
        }
    }
    serde_json::Value::Object(objects)
}

// ----- checks -----

/// The fields of a check request.
#[derive(Default, Clone, Copy)]
struct CheckArgs<'a> {
    object_type: &'a str,
    object_id: &'a str,
    relation: &'a str,
    subject_type: &'a str,
    subject_id: &'a str,
    subject_relation: &'a str,
}

impl<'a> CheckArgs<'a> {
    /// Reads a check request; `relation_field` is `relation` or, for `ds.check_permission`, `permission`.
    fn read(arg: &'a Value, relation_field: &str) -> Result<Self, String> {
        let object = object_arg(arg)?;
        // `trace` is accepted and ignored: the answer carries no trace.
        bool_field(object, "trace")?;
        Ok(CheckArgs {
            object_type: str_field(object, "object_type")?,
            object_id: str_field(object, "object_id")?,
            relation: str_field(object, relation_field)?,
            subject_type: str_field(object, "subject_type")?,
            subject_id: str_field(object, "subject_id")?,
            subject_relation: str_field(object, "subject_relation")?,
        })
    }

    fn is_empty(&self) -> bool {
        [
            self.object_type,
            self.object_id,
            self.relation,
            self.subject_type,
            self.subject_id,
            self.subject_relation,
        ]
        .iter()
        .all(|field| field.is_empty())
    }

    /// Fills every empty field from `default`.
    fn or(self, default: CheckArgs<'a>) -> Self {
        let pick = |own: &'a str, other: &'a str| if own.is_empty() { other } else { own };
        CheckArgs {
            object_type: pick(self.object_type, default.object_type),
            object_id: pick(self.object_id, default.object_id),
            relation: pick(self.relation, default.relation),
            subject_type: pick(self.subject_type, default.subject_type),
            subject_id: pick(self.subject_id, default.subject_id),
            subject_relation: pick(self.subject_relation, default.subject_relation),
        }
    }

    fn run(&self, directory: &Directory, relation_field: &str) -> Result<bool, String> {
        require(&[
            ("object_type", self.object_type),
            ("object_id", self.object_id),
            (relation_field, self.relation),
            ("subject_type", self.subject_type),
            ("subject_id", self.subject_id),
        ])?;
        directory
            .check(&CheckRequest {
                object_type: self.object_type,
                object_id: self.object_id,
                relation: self.relation,
                subject_type: self.subject_type,
                subject_id: self.subject_id,
                subject_relation: self.subject_relation,
            })
            .map_err(|error| error.to_string())
    }
}

const CHECK_HELP: &str = r#"ds.check({"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": ""})"#;

/// `ds.check({object_type, object_id, relation, subject_type, subject_id})` → boolean.
fn ds_check(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let args = CheckArgs::read(arg, "relation")?;
    if args.is_empty() {
        return Ok(help(CHECK_HELP));
    }
    args.run(directory, "relation").map(Value::from)
}

const CHECK_PERMISSION_HELP: &str = r#"ds.check_permission({"object_type": "", "object_id": "", "permission": "", "subject_type": "", "subject_id": ""})"#;

/// `ds.check_permission({object_type, object_id, permission, subject_type, subject_id})` → boolean
/// (the older name, kept for policies written for it).
fn ds_check_permission(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let args = CheckArgs::read(arg, "permission")?;
    if args.is_empty() {
        return Ok(help(CHECK_PERMISSION_HELP));
    }
    args.run(directory, "permission").map(Value::from)
}

const CHECKS_HELP: &str = r#"ds.checks({"default": {"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": ""}, "checks": [{"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": ""}]})"#;

/// `ds.checks({default, checks: [...]})` → `[{"check": bool, "trace": []}, ...]`, one per check in
/// order, each field left empty taken from `default`. A check that cannot run answers false with
/// `context.reason`, as Topaz does.
fn ds_checks(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let object = object_arg(arg)?;
    let default_value = object.get(&Value::from("default"));
    let default = match default_value {
        None | Some(Value::Null) => CheckArgs::default(),
        Some(value) => CheckArgs::read(value, "relation").map_err(|e| format!("default: {e}"))?,
    };
    let checks: Vec<&Value> = match object.get(&Value::from("checks")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => {
            return Err(format!(
                "field `checks` must be an array, not {}",
                kind(other)
            ))
        }
    };
    if checks.is_empty() && default.is_empty() {
        return Ok(help(CHECKS_HELP));
    }
    let mut results = Vec::with_capacity(checks.len());
    for (index, item) in checks.into_iter().enumerate() {
        let check = CheckArgs::read(item, "relation")
            .map_err(|e| format!("checks[{index}]: {e}"))?
            .or(default);
        results.push(match check.run(directory, "relation") {
            Ok(allowed) => json!({"check": allowed, "trace": []}),
            Err(reason) => json!({"check": false, "trace": [], "context": {"reason": reason}}),
        });
    }
    Ok(to_value(serde_json::Value::Array(results)))
}

// ----- users and identities -----

const IDENTITY_HELP: &str = r#"ds.identity({"id": ""})"#;

/// `ds.identity({id})` → the id of the user the identity belongs to; `{}` when none does.
fn ds_identity(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let identity = str_field(object_arg(arg)?, "id")?;
    if identity.is_empty() {
        return Ok(help(IDENTITY_HELP));
    }
    Ok(match resolve_identity(directory, identity)? {
        Some(user) => Value::from(user),
        None => empty_object(),
    })
}

/// The user an identity belongs to: `user:U#identifier@identity:I` under a v3 manifest, or the older
/// `identity:I#identifier@user:U` when the manifest declares the identifier on identities instead.
pub(crate) fn resolve_identity(
    directory: &Directory,
    identity: &str,
) -> Result<Option<String>, String> {
    let users: Vec<String> = if directory.is_relation("user", "identifier") {
        directory
            .relations_of("identity", identity)
            .into_iter()
            .filter(|r| {
                r.object_type == "user"
                    && r.relation == "identifier"
                    && r.subject_type == "identity"
                    && r.subject_id == identity
                    && r.subject_relation.is_empty()
            })
            .map(|r| r.object_id)
            .collect()
    } else if directory.is_relation("identity", "identifier") {
        directory
            .relations_of("identity", identity)
            .into_iter()
            .filter(|r| {
                r.object_type == "identity"
                    && r.object_id == identity
                    && r.relation == "identifier"
                    && r.subject_type == "user"
            })
            .map(|r| r.subject_id)
            .collect()
    } else {
        Vec::new()
    };
    let mut users = users.into_iter();
    match (users.next(), users.next()) {
        (None, _) => Ok(None),
        (Some(user), None) => Ok(Some(user)),
        (Some(first), Some(second)) => Err(format!(
            "identity `{identity}` belongs to more than one user (`{first}`, `{second}`)"
        )),
    }
}

/// The user an identity belongs to, in the shape Topaz puts in `input.user` (the directory's `user`
/// object), or `None` when no user has this identity. An identity shared by several users is an
/// error.
pub fn resolve_user(
    directory: &Directory,
    identity: &str,
) -> Result<Option<serde_json::Value>, crate::PolicyError> {
    let user =
        resolve_identity(directory, identity).map_err(|message| crate::PolicyError::Identity {
            identity: identity.to_string(),
            message,
        })?;
    Ok(user.map(|id| match directory.get_object("user", &id) {
        Some(object) => object_json(&object),
        None => json!({"type": "user", "id": id}),
    }))
}

const USER_HELP: &str = r#"ds.user({"id": ""})"#;

/// `ds.user({id})` → the `user` object with that id; `{}` when there is none.
fn ds_user(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let id = str_field(object_arg(arg)?, "id")?;
    if id.is_empty() {
        return Ok(help(USER_HELP));
    }
    if directory.schema().declared_type("user").is_none() {
        return Ok(empty_object());
    }
    Ok(match directory.get_object("user", id) {
        Some(user) => to_value(object_json(&user)),
        None => empty_object(),
    })
}

// ----- objects and relations -----

const OBJECT_HELP: &str =
    r#"ds.object({"object_type": "", "object_id": "", "with_relations": false})"#;

/// `ds.object({object_type, object_id, with_relations})` → the object with a `relations` array (the
/// tuples it is the subject of, then those it is the object of, when `with_relations`; else empty);
/// `{}` when there is no such object.
fn ds_object(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let object = object_arg(arg)?;
    let object_type = str_field(object, "object_type")?;
    let object_id = str_field(object, "object_id")?;
    let with_relations = bool_field(object, "with_relations")?;
    if object_type.is_empty() && object_id.is_empty() && !with_relations {
        return Ok(help(OBJECT_HELP));
    }
    require(&[("object_type", object_type), ("object_id", object_id)])?;
    known_type(directory, object_type)?;
    let Some(record) = directory.get_object(object_type, object_id) else {
        return Ok(empty_object());
    };
    let mut result = object_json(&record);
    let relations = if with_relations {
        let all = directory.relations_of(object_type, object_id);
        let is_object =
            |r: &RelationRecord| r.object_type == object_type && r.object_id == object_id;
        let (mut outgoing, mut incoming): (Vec<_>, Vec<_>) = all.into_iter().partition(is_object);
        incoming.sort();
        outgoing.sort();
        incoming
            .iter()
            .chain(outgoing.iter())
            .map(relation_json)
            .collect()
    } else {
        Vec::new()
    };
    if let serde_json::Value::Object(fields) = &mut result {
        fields.insert("relations".to_string(), serde_json::Value::Array(relations));
    }
    Ok(to_value(result))
}

/// A relation filter: empty fields match anything.
struct Filter<'a> {
    object_type: &'a str,
    object_id: &'a str,
    relation: &'a str,
    subject_type: &'a str,
    subject_id: &'a str,
    subject_relation: &'a str,
    /// An empty `subject_relation` matches only tuples without one.
    exact_subject_relation: bool,
}

impl<'a> Filter<'a> {
    fn read(object: &'a Object) -> Result<Self, String> {
        Ok(Filter {
            object_type: str_field(object, "object_type")?,
            object_id: str_field(object, "object_id")?,
            relation: str_field(object, "relation")?,
            subject_type: str_field(object, "subject_type")?,
            subject_id: str_field(object, "subject_id")?,
            subject_relation: str_field(object, "subject_relation")?,
            exact_subject_relation: bool_field(object, "with_empty_subject_relation")?,
        })
    }

    fn is_empty(&self) -> bool {
        [
            self.object_type,
            self.object_id,
            self.relation,
            self.subject_type,
            self.subject_id,
            self.subject_relation,
        ]
        .iter()
        .all(|field| field.is_empty())
    }

    fn validate(&self, directory: &Directory) -> Result<(), String> {
        if !self.object_id.is_empty() && self.object_type.is_empty() {
            return Err("field `object_type` is required with `object_id`".to_string());
        }
        if !self.subject_id.is_empty() && self.subject_type.is_empty() {
            return Err("field `subject_type` is required with `subject_id`".to_string());
        }
        for object_type in [self.object_type, self.subject_type] {
            if !object_type.is_empty() {
                known_type(directory, object_type)?;
            }
        }
        Ok(())
    }

    fn matches(&self, r: &RelationRecord) -> bool {
        let field = |want: &str, have: &str| want.is_empty() || want == have;
        field(self.object_type, &r.object_type)
            && field(self.object_id, &r.object_id)
            && field(self.relation, &r.relation)
            && field(self.subject_type, &r.subject_type)
            && field(self.subject_id, &r.subject_id)
            && if self.exact_subject_relation {
                self.subject_relation == r.subject_relation
            } else {
                field(self.subject_relation, &r.subject_relation)
            }
    }

    /// Every matching tuple, sorted; walks only one object's tuples when an end is pinned.
    fn find(&self, directory: &Directory) -> Vec<RelationRecord> {
        let mut found: Vec<RelationRecord> = if !self.object_id.is_empty() {
            directory
                .relations_of(self.object_type, self.object_id)
                .into_iter()
                .filter(|r| self.matches(r))
                .collect()
        } else if !self.subject_id.is_empty() {
            directory
                .relations_of(self.subject_type, self.subject_id)
                .into_iter()
                .filter(|r| self.matches(r))
                .collect()
        } else {
            directory.relations().filter(|r| self.matches(r)).collect()
        };
        found.sort();
        found.dedup();
        found
    }
}

const RELATION_HELP: &str = r#"ds.relation({"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": "", "subject_relation": "", "with_objects": false})"#;

/// `ds.relation({filters..., with_objects})` → `{"result": relation, "objects": {...}}` for the one
/// matching tuple; `{}` when none matches; an error when several do.
fn ds_relation(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let object = object_arg(arg)?;
    let filter = Filter::read(object)?;
    let with_objects = bool_field(object, "with_objects")?;
    if filter.is_empty() && !with_objects {
        return Ok(help(RELATION_HELP));
    }
    filter.validate(directory)?;
    let found = filter.find(directory);
    let relation = match found.as_slice() {
        [] => return Ok(empty_object()),
        [one] => one,
        more => {
            return Err(format!(
                "{} relations match; narrow the filter to one",
                more.len()
            ))
        }
    };
    let objects = if with_objects {
        objects_of(directory, [relation])
    } else {
        serde_json::Value::Object(Map::new())
    };
    Ok(to_value(
        json!({"result": relation_json(relation), "objects": objects}),
    ))
}

const RELATIONS_HELP: &str = r#"ds.relations({"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": "", "subject_relation": "", "with_objects": false, "with_empty_subject_relation": false})"#;

/// `ds.relations({filters..., with_objects, with_empty_subject_relation})` →
/// `{"results": [relation...], "objects": {...}}`, every matching tuple; `{}` when none matches (as
/// Topaz renders an empty answer).
fn ds_relations(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let object = object_arg(arg)?;
    let filter = Filter::read(object)?;
    let with_objects = bool_field(object, "with_objects")?;
    if filter.is_empty() && !with_objects && !filter.exact_subject_relation {
        return Ok(help(RELATIONS_HELP));
    }
    filter.validate(directory)?;
    let found = filter.find(directory);
    if found.is_empty() {
        return Ok(empty_object());
    }
    let objects = if with_objects {
        objects_of(directory, &found)
    } else {
        serde_json::Value::Object(Map::new())
    };
    let results: Vec<serde_json::Value> = found.iter().map(relation_json).collect();
    Ok(to_value(json!({"results": results, "objects": objects})))
}

// ----- graph -----

const GRAPH_HELP: &str = r#"ds.graph({"object_type": "", "object_id": "", "relation": "", "subject_type": "", "subject_id": "", "subject_relation": ""})"#;

/// `ds.graph({object_type, object_id, relation, subject_type, subject_id, subject_relation})` →
/// `{"results": [{"object_type", "object_id"}, ...]}`: with `object_id` empty, the objects of
/// `object_type` on which the subject holds `relation`; with `subject_id` empty, the subjects of
/// `subject_type` (or subject sets `subject_type#subject_relation`) that hold it on the object.
fn ds_graph(directory: &Directory, arg: &Value) -> Result<Value, String> {
    let object = object_arg(arg)?;
    let filter = Filter::read(object)?;
    bool_field(object, "explain")?;
    bool_field(object, "trace")?;
    if filter.is_empty() {
        return Ok(help(GRAPH_HELP));
    }
    require(&[
        ("object_type", filter.object_type),
        ("relation", filter.relation),
        ("subject_type", filter.subject_type),
    ])?;
    let results: Vec<serde_json::Value> =
        match (filter.object_id.is_empty(), filter.subject_id.is_empty()) {
            (true, false) => directory
                .lookup_objects(
                    &LookupObjectsRequest {
                        subject_type: filter.subject_type,
                        subject_id: filter.subject_id,
                        subject_relation: filter.subject_relation,
                        permission: filter.relation,
                        object_type: filter.object_type,
                    },
                    Page::default(),
                )
                .map_err(|e| e.to_string())?
                .ids
                .into_iter()
                .map(|id| json!({"object_type": filter.object_type, "object_id": id}))
                .collect(),
            (false, true) => directory
                .lookup_subjects(
                    &LookupSubjectsRequest {
                        object_type: filter.object_type,
                        object_id: filter.object_id,
                        permission: filter.relation,
                        subject_type: filter.subject_type,
                        subject_relation: filter.subject_relation,
                    },
                    Page::default(),
                )
                .map_err(|e| e.to_string())?
                .page
                .ids
                .into_iter()
                .map(|id| json!({"object_type": filter.subject_type, "object_id": id}))
                .collect(),
            _ => {
                return Err(
                    "exactly one of `object_id` and `subject_id` must be empty (it is what the graph finds)"
                        .to_string(),
                )
            }
        };
    Ok(to_value(json!({ "results": results })))
}
