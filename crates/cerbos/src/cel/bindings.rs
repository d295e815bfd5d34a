//! What an expression's names are bound to: the request (converted once), globals, constants,
//! variables and the runtime's derived roles.
use std::collections::HashMap;

use ::cel::common::traits::Indexer;
use ::cel::common::types::{
    CelBool, CelList, CelMap, CelMapKey, CelString, CelTimestamp, Kind, Type,
};
use ::cel::common::value::{CowVal, Val};
use ::cel::context::VariableResolver;
use ::cel::{ExecutionError, Value};
use chrono::{DateTime, FixedOffset};

use super::convert::{json_to_val, json_to_value, value_to_val};
use super::expr::EvalError;
use crate::api;

/// Lictor's directory, as `lictor.check(subject, relation, object)` sees it.
///
/// Subjects and objects are `"type:id"` strings; `relation` names a relation or a permission.
pub trait RelationCheck: Sync {
    /// Whether `subject` has `relation` on `object`.
    fn check(&self, subject: &str, relation: &str, object: &str) -> bool;
}

/// The parts of a request every expression of that request reads, converted to CEL values once.
pub struct RequestValues<'a> {
    principal: Box<dyn Val + 'a>,
    resource: Box<dyn Val + 'a>,
    aux_data: Box<dyn Val + 'a>,
    now: CelTimestamp,
    relations: Relations<'a>,
}

impl<'a> RequestValues<'a> {
    /// Converts a request's principal and resource; `aux_data` is Cerbos's `auxData` object
    /// (`{"jwt": {...claims}}`), `now` the instant `now()` answers for the whole request, and
    /// `relations` the directory `lictor.check` asks (none: `lictor.check` is false).
    pub fn new(
        principal: &'a api::Principal,
        resource: &'a api::Resource,
        aux_data: Option<&'a serde_json::Value>,
        now: DateTime<FixedOffset>,
        relations: Option<&'a dyn RelationCheck>,
    ) -> Self {
        RequestValues {
            principal: principal_val(principal),
            resource: resource_val(ResourceParts {
                kind: &resource.kind,
                id: &resource.id,
                attr: &resource.attr,
                policy_version: &resource.policy_version,
                scope: &resource.scope,
            }),
            aux_data: aux_data_val(aux_data),
            now: CelTimestamp::from(now),
            relations: Relations(relations),
        }
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
        RequestValues {
            principal: principal_val(principal),
            resource: resource_val(ResourceParts {
                kind: &resource.kind,
                id: "",
                attr: &resource.attr,
                policy_version: &resource.policy_version,
                scope: &resource.scope,
            }),
            aux_data: aux_data_val(aux_data),
            now: CelTimestamp::from(now),
            relations: Relations(relations),
        }
    }

    /// Whether the resource has the attribute `name` (planning treats the others as unknown).
    pub(super) fn has_resource_attr(&self, name: &str) -> bool {
        self.resource
            .as_indexer()
            .and_then(|resource| resource.get(&CelString::from("attr")).ok())
            .and_then(|attr| {
                attr.as_indexer()
                    .map(|attr| attr.get(&CelString::from(name)).is_ok())
            })
            .unwrap_or(false)
    }

    /// The instant `now()` answers.
    pub fn now(&self) -> DateTime<FixedOffset> {
        *self.now.inner()
    }
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

fn attr_val<'a>(
    attr: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
) -> Box<dyn Val + 'a> {
    let map: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = attr
        .into_iter()
        .map(|(name, value)| (key(name), json_to_val(value)))
        .collect();
    Box::new(CelMap::from(map))
}

fn principal_val(principal: &api::Principal) -> Box<dyn Val + '_> {
    let mut map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::with_capacity(6);
    map.insert(key("id"), string_val(&principal.id));
    map.insert(key("roles"), strings_val(&principal.roles));
    map.insert(key("attr"), attr_val(principal.attr.iter()));
    map.insert(key("policyVersion"), string_val(&principal.policy_version));
    map.insert(key("policy_version"), string_val(&principal.policy_version));
    map.insert(key("scope"), string_val(&principal.scope));
    Box::new(CelMap::from(map))
}

/// The fields of a resource, from a check or a plan request.
struct ResourceParts<'a> {
    kind: &'a str,
    id: &'a str,
    attr: &'a api::Attributes,
    policy_version: &'a str,
    scope: &'a str,
}

fn resource_val(resource: ResourceParts<'_>) -> Box<dyn Val + '_> {
    let mut map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::with_capacity(6);
    map.insert(key("kind"), string_val(resource.kind));
    map.insert(key("id"), string_val(resource.id));
    map.insert(key("attr"), attr_val(resource.attr.iter()));
    map.insert(key("policyVersion"), string_val(resource.policy_version));
    map.insert(key("policy_version"), string_val(resource.policy_version));
    map.insert(key("scope"), string_val(resource.scope));
    Box::new(CelMap::from(map))
}

fn aux_data_val(aux_data: Option<&serde_json::Value>) -> Box<dyn Val + '_> {
    match aux_data {
        Some(value @ serde_json::Value::Object(_)) => json_to_val(value),
        _ => {
            // Cerbos answers `request.auxData.jwt` with an empty map when no token was sent.
            let mut map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = HashMap::new();
            map.insert(key("jwt"), Box::new(CelMap::from(HashMap::new())));
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
    request: &'a RequestValues<'a>,
    globals: Option<&'a Globals>,
    constants: Option<&'a Constants>,
    variables: Option<&'a Variables>,
    effective_derived_roles: &'a [String],
}

impl<'a> Bindings<'a> {
    /// Binds the request, with no globals, constants, variables or derived roles.
    pub fn new(request: &'a RequestValues<'a>) -> Self {
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

    /// The request these bindings read.
    pub fn request(&self) -> &'a RequestValues<'a> {
        self.request
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

/// The names only the compiler writes: they start with `@`, which no identifier can.
pub(super) const NOW_IDENT: &str = "@now";
pub(super) const RELATIONS_IDENT: &str = "@relations";

impl VariableResolver for Bindings<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let request = self.request;
        match name {
            "P" | "request.principal" => Some(CowVal::Borrowed(request.principal.as_ref())),
            "R" | "request.resource" => Some(CowVal::Borrowed(request.resource.as_ref())),
            "request.auxData" | "request.aux_data" => {
                Some(CowVal::Borrowed(request.aux_data.as_ref()))
            }
            "request" => {
                let mut map: HashMap<CelMapKey<'b>, Box<dyn Val + 'b>> = HashMap::with_capacity(4);
                map.insert(key("principal"), request.principal.clone_as_boxed());
                map.insert(key("resource"), request.resource.clone_as_boxed());
                map.insert(key("auxData"), request.aux_data.clone_as_boxed());
                map.insert(key("aux_data"), request.aux_data.clone_as_boxed());
                Some(CowVal::owned(CelMap::from(map)))
            }
            "V" | "variables" => Some(named_map(self.variables.map(|v| &v.0))),
            "C" | "constants" => Some(named_map(self.constants.map(|c| &c.0))),
            "G" | "globals" => Some(named_map(self.globals.map(|g| &g.0))),
            "runtime" => Some(CowVal::Owned(runtime_val(self.effective_derived_roles))),
            "runtime.effectiveDerivedRoles" | "runtime.effective_derived_roles" => {
                Some(CowVal::Owned(strings_val(self.effective_derived_roles)))
            }
            NOW_IDENT => Some(CowVal::Borrowed(&request.now)),
            RELATIONS_IDENT => Some(CowVal::Borrowed(&request.relations)),
            _ => {
                if let Some(field) = field_of(name, &["V", "variables"]) {
                    named_entry(self.variables.map(|v| &v.0), field)
                } else if let Some(field) = field_of(name, &["C", "constants"]) {
                    named_entry(self.constants.map(|c| &c.0), field)
                } else if let Some(field) = field_of(name, &["G", "globals"]) {
                    named_entry(self.globals.map(|g| &g.0), field)
                } else {
                    None
                }
            }
        }
    }
}
