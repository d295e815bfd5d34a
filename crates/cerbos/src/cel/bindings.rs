//! What an expression's names are bound to: the request (converted once), globals, constants,
//! variables and the runtime's derived roles.
use std::collections::HashMap;
use std::sync::OnceLock;

use ::cel::common::traits::Indexer;
use ::cel::common::types::{
    CelBool, CelList, CelMap, CelMapKey, CelString, CelTimestamp, Kind, Type,
};
use ::cel::common::value::{CowVal, Val};
use ::cel::context::VariableResolver;
use ::cel::{ExecutionError, Value};
use chrono::{DateTime, FixedOffset};

use super::convert::{json_to_owned_val, json_to_val, json_to_value, value_to_val};
use super::deadline::Deadline;
use super::expr::EvalError;
use crate::api;

/// Lictor's directory, as `lictor.check(subject, relation, object)` sees it.
///
/// Subjects and objects are `"type:id"` strings; `relation` names a relation or a permission.
pub trait RelationCheck: Sync {
    /// Whether `subject` has `relation` on `object`.
    fn check(&self, subject: &str, relation: &str, object: &str) -> bool;
}

/// The parts of a request every expression of that request reads. Nothing is converted up
/// front: a field or attribute an expression names (`P.id`, `R.attr.owner`) is converted when
/// read, and the whole principal, resource or auxiliary data only when an expression needs it
/// as a value (`P`, `R.attr`, a missing attribute), then once per request.
pub struct RequestValues<'a> {
    principal: &'a api::Principal,
    resource: ResourceParts<'a>,
    aux_data: Option<&'a serde_json::Value>,
    principal_val: OnceLock<Box<dyn Val>>,
    resource_val: OnceLock<Box<dyn Val>>,
    aux_data_val: OnceLock<Box<dyn Val>>,
    now: CelTimestamp,
    relations: Relations<'a>,
    deadline: Option<&'a Deadline>,
}

impl<'a> RequestValues<'a> {
    /// Binds a request's principal and resource; `aux_data` is Cerbos's `auxData` object
    /// (`{"jwt": {...claims}}`), `now` the instant `now()` answers for the whole request, and
    /// `relations` the directory `lictor.check` asks (none: `lictor.check` is false).
    pub fn new(
        principal: &'a api::Principal,
        resource: &'a api::Resource,
        aux_data: Option<&'a serde_json::Value>,
        now: DateTime<FixedOffset>,
        relations: Option<&'a dyn RelationCheck>,
    ) -> Self {
        Self::with_resource(
            principal,
            ResourceParts {
                kind: &resource.kind,
                id: &resource.id,
                attr: &resource.attr,
                policy_version: &resource.policy_version,
                scope: &resource.scope,
            },
            aux_data,
            now,
            relations,
        )
    }

    /// The values for planning: the resource's id is unknown (empty) and only the attributes
    /// `resource` gives are known.
    pub fn for_plan(
        principal: &'a api::Principal,
        resource: &'a api::PlanResource,
        aux_data: Option<&'a serde_json::Value>,
        now: DateTime<FixedOffset>,
        relations: Option<&'a dyn RelationCheck>,
    ) -> Self {
        Self::with_resource(
            principal,
            ResourceParts {
                kind: &resource.kind,
                id: "",
                attr: &resource.attr,
                policy_version: &resource.policy_version,
                scope: &resource.scope,
            },
            aux_data,
            now,
            relations,
        )
    }

    fn with_resource(
        principal: &'a api::Principal,
        resource: ResourceParts<'a>,
        aux_data: Option<&'a serde_json::Value>,
        now: DateTime<FixedOffset>,
        relations: Option<&'a dyn RelationCheck>,
    ) -> Self {
        RequestValues {
            principal,
            resource,
            aux_data,
            principal_val: OnceLock::new(),
            resource_val: OnceLock::new(),
            aux_data_val: OnceLock::new(),
            now: CelTimestamp::from(now),
            relations: Relations(relations),
            deadline: None,
        }
    }

    /// Bounds the request's evaluation: once `deadline` has passed, every name an expression reads
    /// fails to resolve, so conditions stop early and evaluate to errors.
    pub fn with_deadline(mut self, deadline: Option<&'a Deadline>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether the resource has the attribute `name` (planning treats the others as unknown).
    pub(super) fn has_resource_attr(&self, name: &str) -> bool {
        self.resource.attr.contains_key(name)
    }

    /// The instant `now()` answers.
    pub fn now(&self) -> DateTime<FixedOffset> {
        *self.now.inner()
    }

    fn principal(&self) -> &dyn Val {
        self.principal_val
            .get_or_init(|| principal_val(self.principal))
            .as_ref()
    }

    fn resource(&self) -> &dyn Val {
        self.resource_val
            .get_or_init(|| resource_val(self.resource))
            .as_ref()
    }

    fn aux_data(&self) -> &dyn Val {
        self.aux_data_val
            .get_or_init(|| aux_data_val(self.aux_data))
            .as_ref()
    }

    /// A field of the principal (`id`, `attr.name`, ...) read without converting the rest.
    fn principal_field(&self, field: &str) -> Option<Box<dyn Val + 'a>> {
        let p = self.principal;
        match field {
            "id" => Some(string_val(&p.id)),
            "roles" => Some(strings_val(&p.roles)),
            "policyVersion" | "policy_version" => Some(string_val(&p.policy_version)),
            "scope" => Some(string_val(&p.scope)),
            _ => attribute(&p.attr, field),
        }
    }

    /// A field of the resource read without converting the rest.
    fn resource_field(&self, field: &str) -> Option<Box<dyn Val + 'a>> {
        let r = self.resource;
        match field {
            "kind" => Some(string_val(r.kind)),
            "id" => Some(string_val(r.id)),
            "policyVersion" | "policy_version" => Some(string_val(r.policy_version)),
            "scope" => Some(string_val(r.scope)),
            _ => attribute(r.attr, field),
        }
    }
}

/// `attr.name` of a principal or resource: that attribute alone, if present.
fn attribute<'a>(attr: &'a api::Attributes, field: &str) -> Option<Box<dyn Val + 'a>> {
    let name = field.strip_prefix("attr.")?;
    if name.contains('.') {
        return None;
    }
    attr.get(name).map(json_to_val)
}

fn key(name: &str) -> CelMapKey<'_> {
    CelMapKey::from(name)
}

fn string_val(s: &str) -> Box<dyn Val + '_> {
    Box::new(CelString::from(s))
}

fn strings_val(items: &[String]) -> Box<dyn Val + '_> {
    Box::new(CelList::from(
        items.iter().map(|s| string_val(s)).collect::<Vec<_>>(),
    ))
}

/// An owned copy of `s` as a CEL string.
fn owned_string_val(s: &str) -> Box<dyn Val> {
    Box::new(CelString::from(s.to_owned()))
}

fn owned_strings_val(items: &[String]) -> Box<dyn Val> {
    Box::new(CelList::from(
        items
            .iter()
            .map(|s| owned_string_val(s))
            .collect::<Vec<_>>(),
    ))
}

fn owned_attr_val(attr: &api::Attributes) -> Box<dyn Val> {
    let map: HashMap<CelMapKey<'static>, Box<dyn Val>> = attr
        .iter()
        .map(|(name, value)| (CelMapKey::from(name.clone()), json_to_owned_val(value)))
        .collect();
    Box::new(CelMap::from(map))
}

fn owned_key(name: &str) -> CelMapKey<'static> {
    CelMapKey::from(name.to_owned())
}

/// The whole principal as a CEL value. It owns copies of the request's data, so that caching it
/// keeps `RequestValues` covariant in the data's lifetime.
fn principal_val(principal: &api::Principal) -> Box<dyn Val> {
    let mut map: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::with_capacity(6);
    map.insert(owned_key("id"), owned_string_val(&principal.id));
    map.insert(owned_key("roles"), owned_strings_val(&principal.roles));
    map.insert(owned_key("attr"), owned_attr_val(&principal.attr));
    map.insert(
        owned_key("policyVersion"),
        owned_string_val(&principal.policy_version),
    );
    map.insert(
        owned_key("policy_version"),
        owned_string_val(&principal.policy_version),
    );
    map.insert(owned_key("scope"), owned_string_val(&principal.scope));
    Box::new(CelMap::from(map))
}

/// The fields of a resource, from a check or a plan request.
#[derive(Clone, Copy)]
struct ResourceParts<'a> {
    kind: &'a str,
    id: &'a str,
    attr: &'a api::Attributes,
    policy_version: &'a str,
    scope: &'a str,
}

/// The whole resource as a CEL value owning copies (see [`principal_val`]).
fn resource_val(resource: ResourceParts<'_>) -> Box<dyn Val> {
    let mut map: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::with_capacity(6);
    map.insert(owned_key("kind"), owned_string_val(resource.kind));
    map.insert(owned_key("id"), owned_string_val(resource.id));
    map.insert(owned_key("attr"), owned_attr_val(resource.attr));
    map.insert(
        owned_key("policyVersion"),
        owned_string_val(resource.policy_version),
    );
    map.insert(
        owned_key("policy_version"),
        owned_string_val(resource.policy_version),
    );
    map.insert(owned_key("scope"), owned_string_val(resource.scope));
    Box::new(CelMap::from(map))
}

/// The auxiliary data as a CEL value owning copies (see [`principal_val`]).
fn aux_data_val(aux_data: Option<&serde_json::Value>) -> Box<dyn Val> {
    match aux_data {
        Some(value @ serde_json::Value::Object(_)) => json_to_owned_val(value),
        _ => {
            // Cerbos answers `request.auxData.jwt` with an empty map when no token was sent.
            let mut map: HashMap<CelMapKey<'static>, Box<dyn Val>> = HashMap::new();
            map.insert(owned_key("jwt"), Box::new(CelMap::from(HashMap::new())));
            Box::new(CelMap::from(map))
        }
    }
}

/// The directory behind `lictor.check`, bound as a hidden variable that is indexed with
/// `[subject, relation, object]` (the compiler rewrites each call to that).
#[derive(Clone, Copy)]
pub(super) struct Relations<'a>(Option<&'a dyn RelationCheck>);

impl std::fmt::Debug for Relations<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lictor.directory")
    }
}

static RELATIONS_TYPE: Type = Type::simple_type(Kind::Opaque, "lictor.directory");

impl Val for Relations<'_> {
    fn get_type(&self) -> &Type {
        &RELATIONS_TYPE
    }

    fn cel_type() -> &'static Type {
        &RELATIONS_TYPE
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(*self)
    }
}

impl Relations<'_> {
    fn check(&self, triple: &dyn Val) -> Result<bool, ExecutionError> {
        let wrong = || {
            ExecutionError::function_error(
                "lictor.check",
                "expects three strings: subject (\"type:id\"), relation, object (\"type:id\")",
            )
        };
        let items = triple.downcast_ref::<CelList>().ok_or_else(wrong)?.inner();
        let strings: Vec<&str> = items
            .iter()
            .map(|item| item.downcast_ref::<CelString>().map(|s| s.inner()))
            .collect::<Option<_>>()
            .ok_or_else(wrong)?;
        let [subject, relation, object] = strings.as_slice() else {
            return Err(wrong());
        };
        Ok(self
            .0
            .is_some_and(|directory| directory.check(subject, relation, object)))
    }
}

impl Indexer for Relations<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.check(idx).map(|b| CowVal::owned(CelBool::from(b)))
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.check(idx)
            .map(|b| Box::new(CelBool::from(b)) as Box<dyn Val + 'v>)
    }
}

/// Named values as one CEL map (what `V`, `C` and `G` evaluate to).
#[derive(Clone, Debug)]
struct NamedValues {
    map: CelMap<'static>,
}

impl Default for NamedValues {
    fn default() -> Self {
        NamedValues {
            map: CelMap::from(HashMap::new()),
        }
    }
}

impl NamedValues {
    fn insert_val(&mut self, name: &str, value: Box<dyn Val>) {
        let mut map = std::mem::replace(&mut self.map, CelMap::from(HashMap::new())).into_inner();
        map.insert(CelMapKey::from(name.to_owned()), value);
        self.map = CelMap::from(map);
    }

    fn get(&self, name: &str) -> Option<CowVal<'_, '_>> {
        Indexer::get(&self.map, &CelString::from(name)).ok()
    }

    fn value(&self, name: &str) -> Option<Value> {
        self.get(name)
            .and_then(|v| Value::try_from(v.as_ref()).ok())
    }

    fn len(&self) -> usize {
        self.map.inner().len()
    }
}

macro_rules! named_values {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $name(NamedValues);

        impl $name {
            /// No values.
            pub fn new() -> Self {
                Self::default()
            }

            /// Values from JSON (numbers become doubles, as in Cerbos).
            pub fn from_json<'j>(
                values: impl IntoIterator<Item = (&'j String, &'j serde_json::Value)>,
            ) -> Self {
                let mut named = Self::default();
                for (name, value) in values {
                    named.insert_json(name, value);
                }
                named
            }

            /// Binds `name` to a JSON value (numbers become doubles, as in Cerbos).
            pub fn insert_json(&mut self, name: &str, value: &serde_json::Value) {
                match value_to_val(json_to_value(value)) {
                    Ok(val) => self.0.insert_val(name, val),
                    // Every JSON value has a CEL counterpart; nothing to bind otherwise.
                    Err(_) => {}
                }
            }

            #[doc = concat!("Binds `name` to a value, e.g. the result of evaluating ", $what, ".")]
            pub fn insert(&mut self, name: &str, value: Value) -> Result<(), EvalError> {
                let val = value_to_val(value).map_err(|e| EvalError::new(format!("{name}: {e}")))?;
                self.0.insert_val(name, val);
                Ok(())
            }

            /// The value bound to `name`.
            pub fn get(&self, name: &str) -> Option<Value> {
                self.0.value(name)
            }

            /// How many names are bound.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether no name is bound.
            pub fn is_empty(&self) -> bool {
                self.0.len() == 0
            }
        }
    };
}

named_values!(
    /// The engine's global values (`globals` / `G`), set once for the whole engine.
    Globals,
    "an engine setting"
);
named_values!(
    /// A policy's constants (`constants` / `C`), built once per policy.
    Constants,
    "a constant's definition"
);
named_values!(
    /// A policy's variables (`variables` / `V`) for one request. A variable whose expression
    /// failed is left out, so an expression that reads it fails too.
    Variables,
    "the variable's expression"
);

/// Everything an expression's names are bound to for one evaluation.
#[derive(Clone, Copy)]
pub struct Bindings<'a> {
    request: &'a (dyn RequestLookup + 'a),
    globals: Option<&'a Globals>,
    constants: Option<&'a Constants>,
    variables: Option<&'a Variables>,
    effective_derived_roles: &'a [String],
}

impl<'a> Bindings<'a> {
    /// Binds the request, with no globals, constants, variables or derived roles.
    pub fn new<'r: 'a>(request: &'a RequestValues<'r>) -> Self {
        Bindings {
            request,
            globals: None,
            constants: None,
            variables: None,
            effective_derived_roles: &[],
        }
    }

    /// Binds `globals` / `G`.
    pub fn with_globals(mut self, globals: &'a Globals) -> Self {
        self.globals = Some(globals);
        self
    }

    /// Binds `constants` / `C`.
    pub fn with_constants(mut self, constants: &'a Constants) -> Self {
        self.constants = Some(constants);
        self
    }

    /// Binds `variables` / `V`.
    pub fn with_variables(mut self, variables: &'a Variables) -> Self {
        self.variables = Some(variables);
        self
    }

    /// Binds `runtime.effectiveDerivedRoles`.
    pub fn with_effective_derived_roles(mut self, roles: &'a [String]) -> Self {
        self.effective_derived_roles = roles;
        self
    }

    /// Whether the request's resource has the attribute `name`.
    pub(super) fn has_resource_attr(&self, name: &str) -> bool {
        self.request.has_resource_attr(name)
    }
}

/// The value of one of the named-value maps, or an empty map.
fn named_map<'b>(values: Option<&'b NamedValues>) -> CowVal<'b, 'b> {
    match values {
        Some(values) => CowVal::Borrowed(&values.map),
        None => CowVal::owned(CelMap::from(HashMap::new())),
    }
}

fn named_entry<'b>(values: Option<&'b NamedValues>, name: &str) -> Option<CowVal<'b, 'b>> {
    values?.get(name)
}

fn runtime_val(roles: &[String]) -> Box<dyn Val + '_> {
    let mut map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::with_capacity(2);
    map.insert(key("effectiveDerivedRoles"), strings_val(roles));
    map.insert(key("effective_derived_roles"), strings_val(roles));
    Box::new(CelMap::from(map))
}

/// Splits `name` into the part after one of `prefixes` and a dot; only a single name.
fn field_of<'n>(name: &'n str, prefixes: &[&str]) -> Option<&'n str> {
    prefixes.iter().find_map(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|rest| !rest.contains('.'))
    })
}

/// The part of `name` after one of `prefixes` and a dot.
fn path_of<'n>(name: &'n str, prefixes: &[&str]) -> Option<&'n str> {
    prefixes.iter().find_map(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
    })
}

/// The names only the compiler writes: they start with `@`, which no identifier can.
pub(super) const NOW_IDENT: &str = "@now";
pub(super) const RELATIONS_IDENT: &str = "@relations";

/// What [`Bindings`] read from a [`RequestValues`], whatever the lifetime of the request's data
/// (its lazily converted values make `RequestValues` invariant in that lifetime).
trait RequestLookup: Sync {
    /// The value of a request name (`P`, `R.attr.x`, `request.auxData`, `@now`, ...).
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>>;
    /// Whether the resource has the attribute `name`.
    fn has_resource_attr(&self, name: &str) -> bool;
    /// Whether the request's time bound has passed.
    fn expired(&self) -> bool;
}

impl RequestLookup for RequestValues<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        match name {
            "P" | "request.principal" => Some(CowVal::Borrowed(self.principal())),
            "R" | "request.resource" => Some(CowVal::Borrowed(self.resource())),
            "request.auxData" | "request.aux_data" => Some(CowVal::Borrowed(self.aux_data())),
            "request" => {
                let mut map: HashMap<CelMapKey<'b>, Box<dyn Val + 'b>> = HashMap::with_capacity(4);
                map.insert(key("principal"), self.principal().clone_as_boxed());
                map.insert(key("resource"), self.resource().clone_as_boxed());
                map.insert(key("auxData"), self.aux_data().clone_as_boxed());
                map.insert(key("aux_data"), self.aux_data().clone_as_boxed());
                Some(CowVal::owned(CelMap::from(map)))
            }
            NOW_IDENT => Some(CowVal::Borrowed(&self.now)),
            RELATIONS_IDENT => Some(CowVal::Borrowed(&self.relations)),
            _ => {
                if let Some(field) = path_of(name, &["P", "request.principal"]) {
                    self.principal_field(field).map(CowVal::Owned)
                } else if let Some(field) = path_of(name, &["R", "request.resource"]) {
                    self.resource_field(field).map(CowVal::Owned)
                } else {
                    None
                }
            }
        }
    }

    fn has_resource_attr(&self, name: &str) -> bool {
        RequestValues::has_resource_attr(self, name)
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(Deadline::expired)
    }
}

impl VariableResolver for Bindings<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        if self.request.expired() {
            return None;
        }
        match name {
            "V" | "variables" => Some(named_map(self.variables.map(|v| &v.0))),
            "C" | "constants" => Some(named_map(self.constants.map(|c| &c.0))),
            "G" | "globals" => Some(named_map(self.globals.map(|g| &g.0))),
            "runtime" => Some(CowVal::Owned(runtime_val(self.effective_derived_roles))),
            "runtime.effectiveDerivedRoles" | "runtime.effective_derived_roles" => {
                Some(CowVal::Owned(strings_val(self.effective_derived_roles)))
            }
            _ => {
                if let Some(field) = field_of(name, &["V", "variables"]) {
                    named_entry(self.variables.map(|v| &v.0), field)
                } else if let Some(field) = field_of(name, &["C", "constants"]) {
                    named_entry(self.constants.map(|c| &c.0), field)
                } else if let Some(field) = field_of(name, &["G", "globals"]) {
                    named_entry(self.globals.map(|g| &g.0), field)
                } else {
                    self.request.resolve(name)
                }
            }
        }
    }
}
