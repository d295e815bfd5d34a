//! CheckResources evaluation over a compiled store, with Cerbos 0.51's semantics: scope search, principal
//! policies before resource policies, role policies, per-role evaluation where the first ALLOW wins and
//! a DENY ends a role's scope walk, scope permissions, derived roles, outputs and schema validation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::api::{
    CheckResourcesRequest, CheckResourcesResponse, CheckResult, Effect, EffectMeta, OutputEntry,
    Principal, Resource, ResultMeta, ResultResource, ValidationError, ValidationSource,
};
use crate::cel::{
    value_to_json, Bindings, Constants, Globals, RelationCheck, RequestValues, Variables,
};
use crate::compile::{Condition, Params, PolicyStore, Row, RowKind};
use crate::explain::{
    ConditionTrace, DerivedRoleTrace, LeafTrace, PolicyKind, ResourceTrace, RuleStep, ScopeStep,
    Step,
};
use crate::glob;
use crate::names::{
    principal_policy_key, resource_policy_key, role_policy_key, sanitize, scope_parents,
};
use crate::policy::ScopePermissions;
use crate::schema;

/// `meta.matchedPolicy` of an action no policy decided.
pub(crate) const NO_POLICY_MATCH: &str = "NO_MATCH";

/// How schema violations of the inputs are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchemaEnforcement {
    /// Schemas are not checked.
    #[default]
    None,
    /// Violations are reported; evaluation goes on.
    Warn,
    /// Violations are reported and every action is denied.
    Reject,
}

/// Engine settings (Cerbos's `engine` and `schema` configuration).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `engine.defaultPolicyVersion`: the version used when a request names none.
    pub default_policy_version: String,
    /// `engine.lenientScopeSearch`: an unknown request scope falls back to its nearest known ancestor.
    pub lenient_scope_search: bool,
    /// `engine.globals`, readable as `G` / `globals`.
    pub globals: Map<String, Json>,
    /// `schema.enforcement`.
    pub schema_enforcement: SchemaEnforcement,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_policy_version: "default".to_owned(),
            lenient_scope_search: false,
            globals: Map::new(),
            schema_enforcement: SchemaEnforcement::None,
        }
    }
}

/// Per-request inputs that are not part of the request body.
#[derive(Clone, Copy)]
pub struct CheckOptions<'a> {
    /// The request's time, `now()` in conditions.
    pub now: chrono::DateTime<chrono::FixedOffset>,
    /// `request.aux_data` (e.g. `{"jwt": {claims}}`), already verified by the caller.
    pub aux_data: Option<&'a Json>,
    /// Lictor's directory for relation checks in conditions.
    pub relations: Option<&'a dyn RelationCheck>,
}

impl CheckOptions<'_> {
    /// Options with the current time and nothing else.
    pub fn now() -> CheckOptions<'static> {
        CheckOptions {
            now: chrono::Utc::now().fixed_offset(),
            aux_data: None,
            relations: None,
        }
    }
}

#[derive(Debug, Clone)]
struct EffectInfo {
    effect: Effect,
    policy: String,
    scope: String,
}

/// The scopes of a kind of policy to walk for a request scope, nearest first, and the key of the first one.
pub(crate) fn all_scopes(
    known: &HashSet<String>,
    scope: &str,
    lenient: bool,
    key: impl Fn(&str) -> String,
) -> (Vec<String>, String) {
    let mut scopes = Vec::new();
    let mut first = String::new();
    if known.contains(scope) {
        first = key(scope);
        scopes.push(scope.to_owned());
    } else if !lenient {
        return (scopes, first);
    }
    for parent in scope_parents(scope) {
        if known.contains(parent) {
            if first.is_empty() {
                first = key(parent);
            }
            scopes.push(parent.to_owned());
        }
    }
    (scopes, first)
}

/// Where one request looks its policies up: the versions (the default one when the request names
/// none), the kind as policies name it, and the scopes to walk, nearest first.
pub(crate) struct PolicyLookup<'a> {
    /// The principal policies' version.
    pub principal_version: String,
    /// The resource policies' version.
    pub resource_version: String,
    /// The resource kind, sanitized as policy keys spell it.
    pub kind: String,
    /// The resource's scope, without a leading `.`.
    pub resource_scope: &'a str,
    /// The principal policy scopes to walk.
    pub principal_scopes: Vec<String>,
    /// The key of the nearest principal policy.
    pub principal_key: String,
    /// The resource policy scopes to walk.
    pub resource_scopes: Vec<String>,
    /// The key of the nearest resource policy.
    pub resource_key: String,
}

impl PolicyStore {
    /// The lookup for a principal and a resource's kind, version and scope.
    pub(crate) fn lookup<'a>(
        &self,
        config: &EngineConfig,
        principal: &Principal,
        resource_kind: &str,
        resource_version: &str,
        resource_scope: &'a str,
    ) -> PolicyLookup<'a> {
        let default_version = |v: &str| {
            if v.is_empty() {
                config.default_policy_version.clone()
            } else {
                v.to_owned()
            }
        };
        let principal_version = default_version(&principal.policy_version);
        let resource_version = default_version(resource_version);
        let lenient = config.lenient_scope_search;
        // A leading `.` is accepted and dropped: `.` names the root scope.
        let principal_scope = principal
            .scope
            .strip_prefix('.')
            .unwrap_or(&principal.scope);
        let resource_scope = resource_scope.strip_prefix('.').unwrap_or(resource_scope);
        let (principal_scopes, principal_key) =
            all_scopes(&self.principal_scopes, principal_scope, lenient, |s| {
                principal_policy_key(&principal.id, &principal_version, s)
            });
        let (resource_scopes, resource_key) =
            all_scopes(&self.resource_scopes, resource_scope, lenient, |s| {
                resource_policy_key(resource_kind, &resource_version, s)
            });
        PolicyLookup {
            principal_version,
            resource_version,
            kind: sanitize(resource_kind),
            resource_scope,
            principal_scopes,
            principal_key,
            resource_scopes,
            resource_key,
        }
    }
}

/// What every resource of one request shares.
#[derive(Clone, Copy)]
struct RequestContext<'a> {
    config: &'a EngineConfig,
    globals: &'a Globals,
    include_meta: bool,
    options: CheckOptions<'a>,
}

/// Per-resource evaluation state.
struct Evaluation<'a> {
    request: &'a RequestValues<'a>,
    globals: &'a Globals,
    variables: HashMap<usize, Arc<Variables>>,
    conditions: HashMap<Arc<str>, bool>,
    effective_derived_roles: Vec<String>,
    empty_constants: Constants,
}

impl<'a> Evaluation<'a> {
    fn bindings<'b>(&'b self, constants: &'b Constants, variables: &'b Variables) -> Bindings<'b> {
        Bindings::new(self.request)
            .with_globals(self.globals)
            .with_constants(constants)
            .with_variables(variables)
            .with_effective_derived_roles(&self.effective_derived_roles)
    }

    /// A policy's variables for this request, evaluated once; a failing variable is left out.
    fn variables(&mut self, params: &Params) -> Arc<Variables> {
        if let Some(v) = self.variables.get(&params.id) {
            return Arc::clone(v);
        }
        let mut values = Variables::new();
        for (name, expr) in &params.variables {
            let result = expr.eval(&self.bindings(&params.constants, &values));
            // A variable that fails to evaluate (or to convert) is left out, as in Cerbos.
            if let Ok(value) = result {
                values.insert(name, value).ok();
            }
        }
        let values = Arc::new(values);
        self.variables.insert(params.id, Arc::clone(&values));
        values
    }

    /// Evaluates a condition tree; an evaluation error makes only its own expression false. Each
    /// expression evaluated is recorded in `leaves` when given.
    fn satisfies(
        &self,
        condition: &Condition,
        constants: &Constants,
        variables: &Variables,
        mut leaves: Option<&mut Vec<LeafTrace>>,
    ) -> bool {
        match condition {
            Condition::Expr(expr) => {
                let bindings = self.bindings(constants, variables);
                let result = expr.eval_bool(&bindings);
                if let Some(leaves) = leaves {
                    leaves.push(LeafTrace::new(expr, &result, &bindings));
                }
                result.unwrap_or(false)
            }
            Condition::All(items) => items
                .iter()
                .all(|c| self.satisfies(c, constants, variables, leaves.as_deref_mut())),
            Condition::Any(items) => items
                .iter()
                .any(|c| self.satisfies(c, constants, variables, leaves.as_deref_mut())),
            Condition::None(items) => !items
                .iter()
                .any(|c| self.satisfies(c, constants, variables, leaves.as_deref_mut())),
        }
    }

    /// Evaluates a condition, returning its trace too when `traced`.
    fn satisfies_traced(
        &self,
        condition: &Condition,
        constants: &Constants,
        variables: &Variables,
        traced: bool,
    ) -> (bool, Option<ConditionTrace>) {
        if !traced {
            return (self.satisfies(condition, constants, variables, None), None);
        }
        let mut leaves = Vec::new();
        let holds = self.satisfies(condition, constants, variables, Some(&mut leaves));
        let trace = ConditionTrace {
            holds,
            cached: false,
            leaves,
        };
        (holds, Some(trace))
    }

    fn output(
        &self,
        expr: &crate::cel::Expr,
        constants: &Constants,
        variables: &Variables,
    ) -> Option<Json> {
        expr.eval(&self.bindings(constants, variables))
            .ok()
            .map(|v| value_to_json(&v))
    }

    /// Whether a row's derived role and own condition hold, cached per evaluation key; the
    /// conditions' evaluation is recorded in `trace` when given.
    fn row_satisfied(
        &mut self,
        row: &Row,
        mut trace: Option<&mut RuleStep>,
    ) -> (bool, Arc<Variables>) {
        let variables = match &row.params {
            Some(p) => self.variables(p),
            None => Arc::new(Variables::new()),
        };
        if let Some(cached) = self.conditions.get(&row.evaluation_key) {
            if let Some(trace) = trace {
                if row.condition.is_some() || row.derived_role.is_some() {
                    trace.condition = Some(ConditionTrace {
                        holds: *cached,
                        cached: true,
                        leaves: Vec::new(),
                    });
                }
            }
            return (*cached, variables);
        }
        let traced = trace.is_some();
        if let Some(role) = &row.derived_role {
            if let Some(condition) = &role.condition {
                let role_variables = self.variables(&role.params);
                let (holds, condition_trace) = self.satisfies_traced(
                    condition,
                    &role.params.constants,
                    &role_variables,
                    traced,
                );
                if let Some(trace) = trace.as_deref_mut() {
                    trace.derived_role_condition = condition_trace;
                }
                if !holds {
                    self.conditions
                        .insert(Arc::clone(&row.evaluation_key), false);
                    return (false, variables);
                }
            }
        }
        let satisfied = match &row.condition {
            None => true,
            Some(condition) => {
                let constants = row
                    .params
                    .as_ref()
                    .map_or(&self.empty_constants, |p| &p.constants);
                let (holds, condition_trace) =
                    self.satisfies_traced(condition, constants, &variables, traced);
                if let Some(trace) = trace {
                    trace.condition = condition_trace;
                }
                holds
            }
        };
        self.conditions
            .insert(Arc::clone(&row.evaluation_key), satisfied);
        (satisfied, variables)
    }
}

pub(crate) fn add_parent_roles(store: &PolicyStore, scope: &str, roles: &[String]) -> Vec<String> {
    let mut all = roles.to_vec();
    if let Some(parents) = store.parent_roles.get(scope) {
        for role in roles {
            if let Some(p) = parents.get(role) {
                all.extend(p.iter().cloned());
            }
        }
    }
    all
}

pub(crate) fn row_matches(
    row: &Row,
    kind: RowKind,
    action: &str,
    principal_id: &str,
    roles: &[String],
) -> bool {
    row.kind == kind
        && (kind != RowKind::Principal || row.principal == principal_id)
        && (row.role == "*" || roles.contains(&row.role))
        && glob::matches(&row.action, action)
}

impl PolicyStore {
    /// Answers a CheckResources request. `cerbosCallId` is left empty for the caller to fill.
    pub fn check_resources(
        &self,
        config: &EngineConfig,
        request: &CheckResourcesRequest,
        options: CheckOptions<'_>,
    ) -> CheckResourcesResponse {
        let globals = Globals::from_json(&config.globals);
        let context = RequestContext {
            config,
            globals: &globals,
            include_meta: request.include_meta,
            options,
        };
        let results = request
            .resources
            .iter()
            .map(|entry| {
                self.check_resource(
                    &context,
                    &request.principal,
                    &entry.resource,
                    &entry.actions,
                    None,
                )
            })
            .collect();
        CheckResourcesResponse {
            request_id: request.request_id.clone(),
            results,
            cerbos_call_id: String::new(),
        }
    }

    /// Evaluates a CheckResources request as [`PolicyStore::check_resources`] does (with `meta`),
    /// recording how each resource's decisions were reached.
    pub(crate) fn check_traced(
        &self,
        config: &EngineConfig,
        request: &CheckResourcesRequest,
        options: CheckOptions<'_>,
    ) -> Vec<(CheckResult, ResourceTrace)> {
        let globals = Globals::from_json(&config.globals);
        let context = RequestContext {
            config,
            globals: &globals,
            include_meta: true,
            options,
        };
        request
            .resources
            .iter()
            .map(|entry| {
                let mut trace = ResourceTrace::default();
                let result = self.check_resource(
                    &context,
                    &request.principal,
                    &entry.resource,
                    &entry.actions,
                    Some(&mut trace),
                );
                (result, trace)
            })
            .collect()
    }

    /// Resource and role policy rows of one scope that apply to the kind.
    pub(crate) fn static_rows(&self, version: &str, scope: &str, kind: &str) -> Vec<&Row> {
        let key = (version.to_owned(), scope.to_owned());
        self.resource_rows
            .get(&key)
            .map(|rows| {
                rows.iter()
                    .filter(|r| glob::matches(&r.resource, kind))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The DENY rows role policies of one scope imply: every action a role's policy does not allow, and
    /// the failing condition of a conditional allow.
    pub(crate) fn role_policy_rows(
        &self,
        version: &str,
        scope: &str,
        kind: &str,
        all_roles: &[String],
        actions: &[String],
    ) -> Vec<Row> {
        let key = (version.to_owned(), scope.to_owned());
        let mut rows = Vec::new();
        let Some(role_scope) = self.role_scopes.get(&key) else {
            return rows;
        };
        let mut seen_roles: HashSet<&str> = HashSet::new();
        for role in all_roles {
            if !seen_roles.insert(role) || !role_scope.rules.iter().any(|r| r.role == *role) {
                continue;
            }
            let policy_key: Arc<str> = Arc::from(role_policy_key(role, version, scope));
            let applicable: Vec<_> = role_scope
                .rules
                .iter()
                .filter(|r| r.role == *role && glob::matches(&r.resource, kind))
                .collect();
            for action in actions {
                let matched: Vec<_> = applicable
                    .iter()
                    .filter(|r| r.allow_actions.iter().any(|a| glob::matches(a, action)))
                    .collect();
                let deny = |condition, evaluation_key| Row {
                    kind: RowKind::Resource,
                    principal: String::new(),
                    resource: kind.to_owned(),
                    role: role.clone(),
                    action: action.clone(),
                    condition,
                    derived_role: None,
                    effect: Effect::Deny,
                    scope: scope.to_owned(),
                    version: version.to_owned(),
                    output: None,
                    output_src: String::new(),
                    params: None,
                    evaluation_key,
                    role_policy_key: Some(Arc::clone(&policy_key)),
                };
                if matched.is_empty() {
                    rows.push(deny(None, Arc::from("")));
                } else {
                    for rule in matched {
                        if let Some(inverted) = &rule.inverted_condition {
                            rows.push(deny(
                                Some(Arc::clone(inverted)),
                                Arc::clone(&rule.evaluation_key),
                            ));
                        }
                    }
                }
            }
        }
        rows
    }

    fn scoped_resource_exists(&self, version: &str, kind: &str, scopes: &[String]) -> bool {
        scopes.iter().any(|scope| {
            let key = (version.to_owned(), scope.clone());
            self.resource_rows
                .get(&key)
                .is_some_and(|rows| rows.iter().any(|r| glob::matches(&r.resource, kind)))
                || self
                    .role_scopes
                    .get(&key)
                    .is_some_and(|rs| rs.rules.iter().any(|r| glob::matches(&r.resource, kind)))
        })
    }

    pub(crate) fn validate(
        &self,
        config: &EngineConfig,
        principal: &Principal,
        resource: &Resource,
        resource_policy: &str,
        actions: &[String],
    ) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if config.schema_enforcement == SchemaEnforcement::None
            || !self.derived_roles.contains_key(resource_policy)
        {
            return errors;
        }
        let root_key = resource_policy.split('/').next().unwrap_or_default();
        let Some(schemas) = self.policy_schemas.get(root_key) else {
            return errors;
        };
        if let Some(validator) = schemas
            .principal
            .as_ref()
            .filter(|r| r.applies_to(actions))
            .and_then(|r| self.schemas.resolve(&r.reference).ok())
        {
            let attr = Json::Object(principal.attr.clone());
            schema::validate(&validator, &attr, ValidationSource::Principal, &mut errors);
        }
        if let Some(validator) = schemas
            .resource
            .as_ref()
            .filter(|r| r.applies_to(actions))
            .and_then(|r| self.schemas.resolve(&r.reference).ok())
        {
            let attr = Json::Object(resource.attr.clone());
            schema::validate(&validator, &attr, ValidationSource::Resource, &mut errors);
        }
        errors
    }

    fn check_resource(
        &self,
        context: &RequestContext<'_>,
        principal: &Principal,
        resource: &Resource,
        actions: &[String],
        mut trace: Option<&mut ResourceTrace>,
    ) -> CheckResult {
        let RequestContext {
            config,
            globals,
            include_meta,
            options,
        } = *context;
        let PolicyLookup {
            principal_version,
            resource_version,
            kind,
            resource_scope,
            principal_scopes,
            principal_key,
            resource_scopes,
            resource_key,
        } = self.lookup(
            config,
            principal,
            &resource.kind,
            &resource.policy_version,
            &resource.scope,
        );

        let mut effects: BTreeMap<String, EffectInfo> = BTreeMap::new();
        let mut validation_errors = Vec::new();
        let mut derived_roles_seen: BTreeSet<String> = BTreeSet::new();
        let mut outputs = Vec::new();

        'evaluate: {
            if principal_scopes.is_empty() && resource_scopes.is_empty() {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.note =
                        "no principal or resource policy exists in the request's scopes".to_owned();
                }
                break 'evaluate;
            }
            validation_errors = self.validate(config, principal, resource, &resource_key, actions);
            if !validation_errors.is_empty()
                && config.schema_enforcement == SchemaEnforcement::Reject
            {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.note = "the inputs violate their schemas, which are enforced".to_owned();
                }
                for action in actions {
                    let info = EffectInfo {
                        effect: Effect::Deny,
                        policy: resource_key.clone(),
                        scope: String::new(),
                    };
                    effects.insert(action.clone(), info);
                }
                break 'evaluate;
            }
            let scoped_principal_exists = principal_scopes.iter().any(|s| {
                self.principal_versions
                    .contains(&(principal_version.clone(), s.clone()))
            });
            let scoped_resource_exists =
                self.scoped_resource_exists(&resource_version, &kind, &resource_scopes);
            if !scoped_principal_exists && !scoped_resource_exists {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.note = format!(
                        "no policy for principal {:?} or resource kind {:?} in the request's scopes",
                        principal.id, resource.kind
                    );
                }
                break 'evaluate;
            }
            let all_roles = add_parent_roles(self, resource_scope, &principal.roles);
            let all_roles_set: HashSet<&str> = all_roles.iter().map(String::as_str).collect();

            let principal_rows: Vec<(String, Vec<&Row>)> = principal_scopes
                .iter()
                .map(|scope| {
                    let rows = self
                        .principal_rows
                        .get(&principal.id)
                        .map(|rows| {
                            rows.iter()
                                .filter(|r| {
                                    r.scope == *scope
                                        && r.version == resource_version
                                        && glob::matches(&r.resource, &kind)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (scope.clone(), rows)
                })
                .collect();
            let generated: Vec<Vec<Row>> = resource_scopes
                .iter()
                .map(|scope| {
                    self.role_policy_rows(&resource_version, scope, &kind, &all_roles, actions)
                })
                .collect();
            let resource_rows: Vec<(String, Vec<&Row>)> = resource_scopes
                .iter()
                .zip(&generated)
                .map(|(scope, generated)| {
                    // Role policies' DENY rows come first, as in Cerbos's rule table: a DENY they
                    // imply ends the scope walk before any later rule's output is evaluated.
                    let mut rows: Vec<&Row> = generated.iter().collect();
                    rows.extend(self.static_rows(&resource_version, scope, &kind));
                    (scope.clone(), rows)
                })
                .collect();

            let request_values = RequestValues::new(
                principal,
                resource,
                options.aux_data,
                options.now,
                options.relations,
            );
            let mut eval = Evaluation {
                request: &request_values,
                globals,
                variables: HashMap::new(),
                conditions: HashMap::new(),
                effective_derived_roles: Vec::new(),
                empty_constants: Constants::default(),
            };
            let mut processed_scopes: HashSet<&str> = HashSet::new();
            let role_parents: Vec<Vec<String>> = principal
                .roles
                .iter()
                .map(|role| add_parent_roles(self, resource_scope, std::slice::from_ref(role)))
                .collect();

            for action in actions {
                if effects.contains_key(action) {
                    continue;
                }
                let mut action_effect = EffectInfo {
                    effect: Effect::NoMatch,
                    policy: String::new(),
                    scope: String::new(),
                };
                let mut steps: Option<Vec<Step>> = trace.is_some().then(Vec::new);
                for kind_of_rows in [RowKind::Principal, RowKind::Resource] {
                    let (main_key, scoped_rows, exists) = match kind_of_rows {
                        RowKind::Principal => {
                            (&principal_key, &principal_rows, scoped_principal_exists)
                        }
                        RowKind::Resource => {
                            (&resource_key, &resource_rows, scoped_resource_exists)
                        }
                    };
                    action_effect.effect = Effect::NoMatch;
                    for i in 0..principal.roles.len() {
                        if i > 0 && kind_of_rows == RowKind::Principal {
                            break;
                        }
                        let mut has_allow = false;
                        let mut role_effect = EffectInfo {
                            effect: Effect::NoMatch,
                            policy: if exists {
                                main_key.clone()
                            } else {
                                NO_POLICY_MATCH.to_owned()
                            },
                            scope: String::new(),
                        };
                        let parent_roles = role_parents.get(i).map_or(&[][..], Vec::as_slice);
                        'scopes: for (scope, rows) in scoped_rows {
                            if kind_of_rows == RowKind::Resource
                                && processed_scopes.insert(scope.as_str())
                            {
                                let mut scope_roles = BTreeSet::new();
                                let key =
                                    resource_policy_key(&resource.kind, &resource_version, scope);
                                for role in self.derived_roles.get(&key).into_iter().flatten() {
                                    let applies = role
                                        .parent_roles
                                        .iter()
                                        .any(|p| p == "*" || all_roles_set.contains(p.as_str()));
                                    if !applies {
                                        continue;
                                    }
                                    let variables = eval.variables(&role.params);
                                    let (holds, condition) = match &role.condition {
                                        None => (true, None),
                                        Some(c) => eval.satisfies_traced(
                                            c,
                                            &role.params.constants,
                                            &variables,
                                            trace.is_some(),
                                        ),
                                    };
                                    if let Some(trace) = trace.as_deref_mut() {
                                        trace.derived_roles.push(DerivedRoleTrace {
                                            scope: scope.clone(),
                                            name: role.name.clone(),
                                            parent_roles: role.parent_roles.clone(),
                                            activated: holds,
                                            condition,
                                        });
                                    }
                                    if holds {
                                        scope_roles.insert(role.name.clone());
                                        derived_roles_seen.insert(role.name.clone());
                                    }
                                }
                                eval.effective_derived_roles = scope_roles.into_iter().collect();
                            }
                            if role_effect.effect != Effect::NoMatch {
                                break;
                            }
                            if let Some(steps) = steps.as_mut() {
                                steps.push(Step::Scope(ScopeStep {
                                    policy_kind: policy_kind(kind_of_rows),
                                    role: match kind_of_rows {
                                        RowKind::Principal => String::new(),
                                        RowKind::Resource => {
                                            principal.roles.get(i).cloned().unwrap_or_default()
                                        }
                                    },
                                    scope: scope.clone(),
                                }));
                            }
                            for row in rows {
                                if !row_matches(
                                    row,
                                    kind_of_rows,
                                    action,
                                    &principal.id,
                                    parent_roles,
                                ) {
                                    continue;
                                }
                                let mut step_trace = steps.is_some().then(|| rule_step(row));
                                let (satisfied, variables) =
                                    eval.row_satisfied(row, step_trace.as_mut());
                                if let (Some(steps), Some(mut step)) = (steps.as_mut(), step_trace)
                                {
                                    step.applied = satisfied;
                                    steps.push(Step::Rule(step));
                                }
                                let constants = row
                                    .params
                                    .as_ref()
                                    .map_or(&eval.empty_constants, |p| &p.constants);
                                let output_expr = row.output.as_ref().and_then(|o| {
                                    if satisfied {
                                        o.rule_activated.as_ref()
                                    } else {
                                        o.condition_not_met.as_ref()
                                    }
                                });
                                if let Some(expr) = output_expr {
                                    outputs.push(OutputEntry {
                                        src: row.output_src.clone(),
                                        val: eval.output(expr, constants, &variables),
                                        action: action.clone(),
                                    });
                                }
                                if !satisfied {
                                    continue;
                                }
                                match row.effect {
                                    Effect::Deny => {
                                        role_effect.effect = Effect::Deny;
                                        role_effect.scope = scope.clone();
                                        if let Some(key) = &row.role_policy_key {
                                            role_effect.policy = key.to_string();
                                        }
                                        break 'scopes;
                                    }
                                    Effect::Allow => has_allow = true,
                                    Effect::Unspecified | Effect::NoMatch => {}
                                }
                            }
                            if has_allow {
                                match self.scope_permissions.get(scope.as_str()) {
                                    Some(ScopePermissions::RequireParentalConsentForAllows) => {
                                        has_allow = false
                                    }
                                    Some(ScopePermissions::OverrideParent) => {
                                        role_effect.effect = Effect::Allow;
                                        role_effect.scope = scope.clone();
                                        break 'scopes;
                                    }
                                    None => {}
                                }
                            }
                        }
                        if action_effect.effect == Effect::NoMatch {
                            action_effect = role_effect.clone();
                        }
                        if role_effect.effect == Effect::Allow {
                            action_effect = role_effect;
                            break;
                        }
                    }
                    if matches!(action_effect.effect, Effect::Allow | Effect::Deny) {
                        break;
                    }
                }
                if action_effect.effect == Effect::NoMatch {
                    action_effect.effect = Effect::Deny;
                }
                if let (Some(trace), Some(steps)) = (trace.as_deref_mut(), steps) {
                    trace.steps.insert(action.clone(), steps);
                }
                effects.insert(action.clone(), action_effect);
            }
        }

        let mut result_actions = BTreeMap::new();
        let mut meta_actions = BTreeMap::new();
        for action in actions {
            let info = effects.get(action).cloned().unwrap_or(EffectInfo {
                effect: Effect::Deny,
                policy: NO_POLICY_MATCH.to_owned(),
                scope: String::new(),
            });
            result_actions.insert(action.clone(), info.effect);
            meta_actions.insert(
                action.clone(),
                EffectMeta {
                    matched_policy: info.policy,
                    matched_scope: info.scope,
                },
            );
        }
        CheckResult {
            resource: ResultResource {
                id: resource.id.clone(),
                kind: resource.kind.clone(),
                policy_version: resource_version_echo(resource, config),
                scope: resource.scope.clone(),
            },
            actions: result_actions,
            validation_errors,
            meta: include_meta.then(|| ResultMeta {
                actions: meta_actions,
                effective_derived_roles: derived_roles_seen.into_iter().collect(),
            }),
            outputs,
        }
    }
}

fn policy_kind(kind: RowKind) -> PolicyKind {
    match kind {
        RowKind::Principal => PolicyKind::Principal,
        RowKind::Resource => PolicyKind::Resource,
    }
}

/// A row's step in an explanation, before its conditions are evaluated.
fn rule_step(row: &Row) -> RuleStep {
    let (policy, rule) = match &row.role_policy_key {
        // Rows generated from role policies: a DENY for an action the role's rules do not allow, or
        // for the failed condition of a conditional allow.
        Some(key) => {
            let rule = match row.evaluation_key.rsplit_once('#') {
                Some((_, name)) if row.condition.is_some() => format!("{name} (condition failed)"),
                _ => "(action not allowed for the role)".to_owned(),
            };
            (key.to_string(), rule)
        }
        None => match row.output_src.rsplit_once('#') {
            Some((policy, rule)) => (policy.to_owned(), rule.to_owned()),
            None => (row.output_src.clone(), String::new()),
        },
    };
    RuleStep {
        policy_kind: policy_kind(row.kind),
        policy,
        scope: row.scope.clone(),
        rule,
        effect: row.effect,
        role: row.role.clone(),
        derived_role: row.derived_role.as_ref().map(|r| r.name.clone()),
        derived_role_condition: None,
        condition: None,
        applied: false,
    }
}

/// The resource's policy version as the response echoes it (the default version when none was given).
fn resource_version_echo(resource: &Resource, config: &EngineConfig) -> String {
    if resource.policy_version.is_empty() {
        config.default_policy_version.clone()
    } else {
        resource.policy_version.clone()
    }
}
