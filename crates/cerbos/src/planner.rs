//! PlanResources: which resources of a kind a principal may act on, as a filter over the resource's
//! unknown attributes.
//!
//! The policy selection is CheckResources's (principal policies before resource and role policies,
//! scopes nearest first, scope permissions, versions, derived roles). Each rule's condition is
//! partially evaluated with the resource's attributes unknown, and the rows are combined so that the
//! filter holds for a resource exactly when CheckResources would allow the action on it: per role, the
//! nearest scope that decides wins (a DENY before an ALLOW), an ALLOW from any role allows, and a
//! decision of the principal policies comes before the resource policies. The filter of several actions
//! is the conjunction of their filters.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;

use crate::api::{
    Effect, FilterExpression, FilterKind, Operand, PlanFilter, PlanMeta, PlanResourcesRequest,
    PlanResourcesResponse, Resource, ValidationError, ValidationSource,
};
use crate::cel::{Bindings, Constants, Expr, Globals, PlanBindings, RequestValues, Residual};
use crate::compile::{Condition, Params, PolicyStore, Row, RowKind};
use crate::engine::{
    add_parent_roles, row_matches, CheckOptions, EngineConfig, PolicyLookup, SchemaEnforcement,
    NO_POLICY_MATCH,
};
use crate::glob;
use crate::names::resource_policy_key;
use crate::policy::ScopePermissions;

/// `filterDebug` of a filter that always denies.
const ALWAYS_DENIED_DEBUG: &str = "(false)";
/// `filterDebug` of a filter that always allows.
const ALWAYS_ALLOWED_DEBUG: &str = "(true)";

fn expression(operator: &str, operands: Vec<Operand>) -> Residual {
    Residual::Condition(Operand::Expression(FilterExpression {
        operator: operator.to_owned(),
        operands,
    }))
}

/// The operands of `operand` when it is an `operator` expression.
fn operands_of<'o>(operand: &'o Operand, operator: &str) -> Option<&'o [Operand]> {
    match operand {
        Operand::Expression(e) if e.operator == operator => Some(&e.operands),
        _ => None,
    }
}

/// Conjunction: true parts dropped, a false part decides, repeated parts kept once.
fn all_of(parts: impl IntoIterator<Item = Residual>) -> Residual {
    let mut operands: Vec<Operand> = Vec::new();
    for part in parts {
        match part {
            Residual::True => {}
            Residual::False => return Residual::False,
            Residual::Condition(o) => {
                if !operands.contains(&o) {
                    operands.push(o);
                }
            }
        }
    }
    match operands.len() {
        0 => Residual::True,
        1 => operands.pop().map_or(Residual::True, Residual::Condition),
        _ => expression("and", operands),
    }
}

/// Disjunction: false parts dropped, a true part decides, repeated parts kept once. When every part is
/// a conjunction with the same first operand (the negated DENY conditions shared by several roles),
/// that operand is factored out, as Cerbos writes `and(not(deny), or(allows...))`.
fn any_of(parts: impl IntoIterator<Item = Residual>) -> Residual {
    let mut operands: Vec<Operand> = Vec::new();
    for part in parts {
        match part {
            Residual::False => {}
            Residual::True => return Residual::True,
            Residual::Condition(o) => {
                if !operands.contains(&o) {
                    operands.push(o);
                }
            }
        }
    }
    if operands.len() > 1 {
        let shared = operands
            .first()
            .and_then(|o| operands_of(o, "and"))
            .and_then(|first| first.first().cloned());
        if let Some(shared) = shared {
            let rests: Option<Vec<Residual>> = operands
                .iter()
                .map(|o| match operands_of(o, "and") {
                    Some([head, rest @ ..]) if *head == shared => {
                        Some(all_of(rest.iter().cloned().map(Residual::Condition)))
                    }
                    _ => None,
                })
                .collect();
            if let Some(rests) = rests {
                return all_of([Residual::Condition(shared), any_of(rests)]);
            }
        }
    }
    match operands.len() {
        0 => Residual::False,
        1 => operands.pop().map_or(Residual::False, Residual::Condition),
        _ => expression("or", operands),
    }
}

/// Negation; a negated negation is its operand.
fn negate(residual: Residual) -> Residual {
    match residual {
        Residual::True => Residual::False,
        Residual::False => Residual::True,
        Residual::Condition(o) => match operands_of(&o, "not") {
            Some([inner]) => Residual::Condition(inner.clone()),
            _ => expression("not", vec![o]),
        },
    }
}

/// A JSON number that is a whole double written as an integer, as protobuf's JSON mapping does.
fn normalise_value(value: Json) -> Json {
    match value {
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // Exact: a whole double below 2^53 converts to i64 without loss.
                Json::from(f as i64)
            }
            _ => Json::Number(n),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(normalise_value).collect()),
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalise_value(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Cerbos's final clean-up of a filter: `x in [v]` is `x == v`, `x in []` is false, constants fold
/// through `and` / `or` / `not`, repeated operands of `and` / `or` go.
fn normalise(operand: Operand) -> Residual {
    let expr = match operand {
        Operand::Value(Json::Bool(true)) => return Residual::True,
        Operand::Value(Json::Bool(false)) => return Residual::False,
        Operand::Value(v) => return Residual::Condition(Operand::Value(normalise_value(v))),
        Operand::Variable(name) => return Residual::Condition(Operand::Variable(name)),
        Operand::Expression(expr) => expr,
    };
    let FilterExpression {
        mut operator,
        operands,
    } = expr;
    let mut operands: Vec<Operand> = operands;
    if operator == "in" {
        if let Some(Operand::Value(container)) = operands.get(1) {
            let single = match container {
                Json::Array(items) if items.is_empty() => return Residual::False,
                Json::Object(map) if map.is_empty() => return Residual::False,
                Json::Array(items) if items.len() == 1 => items.first().cloned(),
                Json::Object(map) if map.len() == 1 => {
                    map.keys().next().map(|k| Json::String(k.clone()))
                }
                Json::Array(_) | Json::Object(_) => None,
                scalar => Some(scalar.clone()),
            };
            if let Some(single) = single {
                operator = "eq".to_owned();
                if let Some(slot) = operands.get_mut(1) {
                    *slot = Operand::Value(single);
                }
            }
        }
    }
    let parts = operands.into_iter().map(normalise);
    match operator.as_str() {
        "and" => all_of(parts),
        "or" => any_of_plain(parts),
        "not" => {
            let mut parts: Vec<Residual> = parts.collect();
            if parts.len() == 1 {
                parts.pop().map_or(Residual::False, negate)
            } else {
                expression("not", parts.into_iter().map(into_operand).collect())
            }
        }
        _ => expression(&operator, parts.map(into_operand).collect()),
    }
}

/// Disjunction without factoring (for the clean-up of conditions as written).
fn any_of_plain(parts: impl IntoIterator<Item = Residual>) -> Residual {
    let mut operands: Vec<Operand> = Vec::new();
    for part in parts {
        match part {
            Residual::False => {}
            Residual::True => return Residual::True,
            Residual::Condition(o) => {
                if !operands.contains(&o) {
                    operands.push(o);
                }
            }
        }
    }
    match operands.len() {
        0 => Residual::False,
        1 => operands.pop().map_or(Residual::False, Residual::Condition),
        _ => expression("or", operands),
    }
}

fn into_operand(residual: Residual) -> Operand {
    match residual {
        Residual::True => Operand::Value(Json::Bool(true)),
        Residual::False => Operand::Value(Json::Bool(false)),
        Residual::Condition(o) => o,
    }
}

/// A JSON value as Cerbos's filter text writes it: compact, object keys sorted.
fn value_text(value: &Json, out: &mut String) {
    match value {
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value_text(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                value_text(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&normalise_value(scalar.clone()).to_string()),
    }
}

fn operand_text(operand: &Operand, out: &mut String) {
    match operand {
        Operand::Value(v) => value_text(v, out),
        Operand::Variable(name) => out.push_str(name),
        Operand::Expression(e) => {
            out.push('(');
            out.push_str(&e.operator);
            out.push(' ');
            for (i, o) in e.operands.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                operand_text(o, out);
            }
            out.push(')');
        }
    }
}

/// `meta.filterDebug`: `(true)`, `(false)` or the condition as `(operator operand ...)`.
pub fn filter_debug(filter: &PlanFilter) -> String {
    match (filter.kind, &filter.condition) {
        (FilterKind::AlwaysAllowed, _) => ALWAYS_ALLOWED_DEBUG.to_owned(),
        (FilterKind::AlwaysDenied, _) => ALWAYS_DENIED_DEBUG.to_owned(),
        (FilterKind::Conditional, Some(condition)) => {
            let mut out = String::new();
            operand_text(condition, &mut out);
            out
        }
        _ => String::new(),
    }
}

fn filter_of(residual: Residual) -> PlanFilter {
    match residual {
        Residual::True => PlanFilter {
            kind: FilterKind::AlwaysAllowed,
            condition: None,
        },
        Residual::False => PlanFilter {
            kind: FilterKind::AlwaysDenied,
            condition: None,
        },
        Residual::Condition(o) => PlanFilter {
            kind: FilterKind::Conditional,
            condition: Some(o),
        },
    }
}

/// The filters of several actions joined with `and`: an always-denied filter decides, always-allowed
/// ones drop out, conditions are kept once each, ordered by their text.
fn merge_with_and(filters: Vec<PlanFilter>) -> PlanFilter {
    let mut conditions: BTreeMap<String, Operand> = BTreeMap::new();
    for filter in filters {
        match (filter.kind, filter.condition) {
            (FilterKind::Conditional, Some(condition)) => {
                let mut text = String::new();
                operand_text(&condition, &mut text);
                conditions.insert(text, condition);
            }
            (FilterKind::AlwaysAllowed, _) => {}
            _ => return filter_of(Residual::False),
        }
    }
    let mut operands: Vec<Operand> = conditions.into_values().collect();
    match operands.len() {
        0 => filter_of(Residual::True),
        1 => filter_of(operands.pop().map_or(Residual::True, Residual::Condition)),
        _ => filter_of(expression("and", operands)),
    }
}

/// One scope's rows for a kind of policy.
struct ScopeRows<'r> {
    scope: String,
    rows: Vec<&'r Row>,
}

/// What a role (or the principal policies) decides across its scopes.
struct Decision {
    allow: Residual,
    deny: Residual,
}

/// Per-request planning state: the request's values and caches of planned conditions.
struct Plan<'a> {
    store: &'a PolicyStore,
    request: &'a RequestValues<'a>,
    globals: &'a Globals,
    empty_constants: Constants,
    variable_exprs: HashMap<usize, Arc<HashMap<String, Expr>>>,
    conditions: HashMap<Arc<str>, Residual>,
    effective_derived_roles: Vec<String>,
}

impl<'a> Plan<'a> {
    fn variable_exprs(&mut self, params: Option<&Params>) -> Arc<HashMap<String, Expr>> {
        let Some(params) = params else {
            return Arc::new(HashMap::new());
        };
        Arc::clone(self.variable_exprs.entry(params.id).or_insert_with(|| {
            Arc::new(
                params
                    .variables
                    .iter()
                    .map(|(name, expr)| (name.clone(), expr.clone()))
                    .collect(),
            )
        }))
    }

    /// The residual of a condition tree; an expression that fails to plan counts as false at its own
    /// leaf, as a failing evaluation does in CheckResources.
    fn condition(&mut self, condition: &Condition, params: Option<&Params>) -> Residual {
        let variables = self.variable_exprs(params);
        let constants = params.map_or(&self.empty_constants, |p| &p.constants);
        let bindings = Bindings::new(self.request)
            .with_globals(self.globals)
            .with_constants(constants)
            .with_effective_derived_roles(&self.effective_derived_roles);
        let plan = PlanBindings::new(bindings).with_variable_exprs(&variables);
        plan_condition(condition, &plan)
    }

    /// The residual of a row: its own condition and its derived role's.
    fn row(&mut self, row: &Row) -> Residual {
        let cacheable = !row.evaluation_key.is_empty();
        if cacheable {
            if let Some(cached) = self.conditions.get(&row.evaluation_key) {
                return cached.clone();
            }
        }
        let own = match &row.condition {
            Some(condition) => self.condition(condition, row.params.as_deref()),
            None => Residual::True,
        };
        let derived = match row.derived_role.as_ref().map(|r| (&r.condition, &r.params)) {
            Some((Some(condition), params)) => self.condition(condition, Some(params)),
            _ => Residual::True,
        };
        let residual = all_of([own, derived]);
        if cacheable {
            self.conditions
                .insert(Arc::clone(&row.evaluation_key), residual.clone());
        }
        residual
    }
}

fn plan_condition(condition: &Condition, plan: &PlanBindings<'_>) -> Residual {
    match condition {
        Condition::Expr(expr) => expr.plan(plan).unwrap_or(Residual::False),
        Condition::All(items) => all_of(items.iter().map(|c| plan_condition(c, plan))),
        Condition::Any(items) => any_of_plain(items.iter().map(|c| plan_condition(c, plan))),
        Condition::None(items) => all_of(items.iter().map(|c| negate(plan_condition(c, plan)))),
    }
}

/// The request's resource as CheckResources sees it, for schema validation.
fn resource_of(request: &PlanResourcesRequest) -> Resource {
    Resource {
        kind: request.resource.kind.clone(),
        policy_version: request.resource.policy_version.clone(),
        id: String::new(),
        attr: request.resource.attr.clone(),
        scope: request.resource.scope.clone(),
    }
}

impl PolicyStore {
    /// Answers a PlanResources request. `cerbosCallId` is left empty for the caller to fill.
    pub fn plan_resources(
        &self,
        config: &EngineConfig,
        request: &PlanResourcesRequest,
        options: CheckOptions<'_>,
    ) -> PlanResourcesResponse {
        let actions: Vec<String> = if request.action.is_empty() {
            request.actions.clone()
        } else {
            vec![request.action.clone()]
        };
        let outcome = self.plan_actions(config, request, &actions, options);
        let mut response = PlanResourcesResponse {
            request_id: request.request_id.clone(),
            resource_kind: request.resource.kind.clone(),
            policy_version: request.resource.policy_version.clone(),
            filter: Some(outcome.filter),
            validation_errors: outcome.validation_errors,
            ..Default::default()
        };
        if request.include_meta {
            let mut meta = PlanMeta {
                filter_debug: outcome.filter_debug,
                ..Default::default()
            };
            if request.action.is_empty() {
                meta.matched_scopes = outcome.matched_scopes;
            } else {
                meta.matched_scope = outcome
                    .matched_scopes
                    .get(&request.action)
                    .cloned()
                    .unwrap_or_default();
            }
            response.meta = Some(meta);
        }
        if request.action.is_empty() {
            response.actions = actions;
        } else {
            response.action = request.action.clone();
        }
        response
    }

    fn plan_actions(
        &self,
        config: &EngineConfig,
        request: &PlanResourcesRequest,
        actions: &[String],
        options: CheckOptions<'_>,
    ) -> PlanOutcome {
        let principal = &request.principal;
        let resource = &request.resource;
        let PolicyLookup {
            resource_version,
            kind,
            resource_scope,
            principal_scopes,
            resource_scopes,
            resource_key,
            ..
        } = self.lookup(
            config,
            principal,
            &resource.kind,
            &resource.policy_version,
            &resource.scope,
        );
        if (principal_scopes.is_empty() && resource_scopes.is_empty()) || actions.is_empty() {
            return PlanOutcome::no_match(Vec::new());
        }

        let validation_errors: Vec<ValidationError> = self
            .validate(
                config,
                principal,
                &resource_of(request),
                &resource_key,
                actions,
            )
            .into_iter()
            // The resource's attributes are partial when planning: missing ones are not errors.
            .filter(|e| {
                !(e.source == ValidationSource::Resource
                    && e.message.starts_with("missing properties: "))
            })
            .collect();
        if !validation_errors.is_empty() && config.schema_enforcement == SchemaEnforcement::Reject {
            return PlanOutcome {
                filter: filter_of(Residual::False),
                filter_debug: ALWAYS_DENIED_DEBUG.to_owned(),
                matched_scopes: BTreeMap::new(),
                validation_errors,
            };
        }

        let all_roles = add_parent_roles(self, resource_scope, &principal.roles);
        let principal_rows: Vec<ScopeRows<'_>> = principal_scopes
            .iter()
            .map(|scope| ScopeRows {
                scope: scope.clone(),
                rows: self
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
                    .unwrap_or_default(),
            })
            .collect();
        let generated: Vec<Vec<Row>> = resource_scopes
            .iter()
            .map(|scope| {
                self.role_policy_rows(&resource_version, scope, &kind, &all_roles, actions)
            })
            .collect();
        let resource_rows: Vec<ScopeRows<'_>> = resource_scopes
            .iter()
            .zip(&generated)
            .map(|(scope, generated)| {
                let mut rows = self.static_rows(&resource_version, scope, &kind);
                rows.extend(generated);
                ScopeRows {
                    scope: scope.clone(),
                    rows,
                }
            })
            .collect();

        let globals = Globals::from_json(&config.globals);
        let request_values = RequestValues::for_plan(
            principal,
            resource,
            options.aux_data,
            options.now,
            options.relations,
        );
        let mut plan = Plan {
            store: self,
            request: &request_values,
            globals: &globals,
            empty_constants: Constants::default(),
            variable_exprs: HashMap::new(),
            conditions: HashMap::new(),
            effective_derived_roles: Vec::new(),
        };
        let role_parents: Vec<Vec<String>> = principal
            .roles
            .iter()
            .map(|role| add_parent_roles(self, resource_scope, std::slice::from_ref(role)))
            .collect();
        let derived_roles_by_scope: HashMap<&str, Vec<String>> = resource_scopes
            .iter()
            .map(|scope| {
                let key = resource_policy_key(&resource.kind, &resource_version, scope);
                (scope.as_str(), plan.certain_derived_roles(&key, &all_roles))
            })
            .collect();

        let mut filters = Vec::new();
        let mut matched_scopes = BTreeMap::new();
        let mut policy_match = false;
        for action in actions {
            // Scopes that had rules for the action and override their parent, in Cerbos's walk order
            // (resource policies, then principal policies; roles; nearest scope first): the last one is
            // reported.
            let mut deciding_scopes: Vec<((usize, usize, usize), &str)> = Vec::new();
            let mut decisions: Vec<Decision> = Vec::new();
            for (row_kind, scoped_rows) in [
                (RowKind::Principal, &principal_rows),
                (RowKind::Resource, &resource_rows),
            ] {
                let role_count = if row_kind == RowKind::Principal {
                    principal.roles.len().min(1)
                } else {
                    principal.roles.len()
                };
                let mut allows = Vec::new();
                let mut denies = Vec::new();
                let walk_order = usize::from(row_kind == RowKind::Principal);
                for (role_index, parent_roles) in role_parents.iter().take(role_count).enumerate() {
                    let mut decision = Decision {
                        allow: Residual::False,
                        deny: Residual::False,
                    };
                    // Walk from the farthest scope to the nearest: a nearer scope that decides hides
                    // what the farther ones say.
                    for (scope_index, scope_rows) in scoped_rows.iter().enumerate().rev() {
                        if row_kind == RowKind::Resource {
                            plan.effective_derived_roles = derived_roles_by_scope
                                .get(scope_rows.scope.as_str())
                                .cloned()
                                .unwrap_or_default();
                        }
                        let mut allow = Vec::new();
                        let mut deny = Vec::new();
                        for row in &scope_rows.rows {
                            if !row_matches(row, row_kind, action, &principal.id, parent_roles) {
                                continue;
                            }
                            let residual = plan.row(row);
                            match row.effect {
                                Effect::Allow => allow.push(residual),
                                Effect::Deny if residual != Residual::False => deny.push(residual),
                                _ => continue,
                            }
                            policy_match = true;
                            if self.scope_permissions.get(scope_rows.scope.as_str())
                                == Some(&ScopePermissions::OverrideParent)
                            {
                                deciding_scopes.push((
                                    (walk_order, role_index, scope_index),
                                    scope_rows.scope.as_str(),
                                ));
                            }
                        }
                        let scope_deny = any_of(deny);
                        // Under parental consent an ALLOW only passes the decision to the parent scope.
                        let scope_allow =
                            match self.scope_permissions.get(scope_rows.scope.as_str()) {
                                Some(ScopePermissions::OverrideParent) => any_of(allow),
                                _ => Residual::False,
                            };
                        decision = Decision {
                            allow: all_of([
                                negate(scope_deny.clone()),
                                any_of([scope_allow.clone(), decision.allow]),
                            ]),
                            deny: any_of([
                                scope_deny,
                                all_of([negate(scope_allow), decision.deny]),
                            ]),
                        };
                    }
                    allows.push(decision.allow);
                    denies.push(decision.deny);
                }
                decisions.push(Decision {
                    allow: any_of(allows),
                    deny: any_of(denies),
                });
            }
            let filter = match decisions.as_slice() {
                [principal_decision, resource_decision] => any_of([
                    principal_decision.allow.clone(),
                    all_of([
                        negate(principal_decision.deny.clone()),
                        resource_decision.allow.clone(),
                    ]),
                ]),
                _ => Residual::False,
            };
            // An action no policy rule decided has no entry, as in Cerbos (not an empty scope).
            if let Some((_, scope)) = deciding_scopes.iter().max_by_key(|(order, _)| *order) {
                matched_scopes.insert(action.clone(), (*scope).to_owned());
            }
            let normalised = match filter {
                Residual::Condition(o) => normalise(o),
                constant => constant,
            };
            filters.push(filter_of(normalised));
        }
        let filter = merge_with_and(filters);
        let filter_debug = if policy_match {
            filter_debug(&filter)
        } else {
            NO_POLICY_MATCH.to_owned()
        };
        PlanOutcome {
            filter,
            filter_debug,
            matched_scopes,
            validation_errors,
        }
    }
}

impl Plan<'_> {
    /// The derived roles of a resource policy that hold whatever the resource is, for
    /// `runtime.effectiveDerivedRoles`.
    fn certain_derived_roles(&mut self, policy_key: &str, all_roles: &[String]) -> Vec<String> {
        let store = self.store;
        let mut names: Vec<String> = Vec::new();
        for role in store.derived_roles.get(policy_key).into_iter().flatten() {
            let applies = role
                .parent_roles
                .iter()
                .any(|p| p == "*" || all_roles.contains(p));
            if !applies {
                continue;
            }
            let holds = match &role.condition {
                None => true,
                Some(condition) => self.condition(condition, Some(&role.params)) == Residual::True,
            };
            if holds {
                names.push(role.name.clone());
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The parts of a response the planner decides.
struct PlanOutcome {
    filter: PlanFilter,
    filter_debug: String,
    matched_scopes: BTreeMap<String, String>,
    validation_errors: Vec<ValidationError>,
}

impl PlanOutcome {
    fn no_match(validation_errors: Vec<ValidationError>) -> Self {
        PlanOutcome {
            filter: filter_of(Residual::False),
            filter_debug: NO_POLICY_MATCH.to_owned(),
            matched_scopes: BTreeMap::new(),
            validation_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    fn var(name: &str) -> Residual {
        Residual::Condition(Operand::Variable(name.to_owned()))
    }

    fn text(residual: Residual) -> String {
        filter_debug(&filter_of(residual))
    }

    #[test]
    fn connectives_fold_constants_and_repeats() {
        assert_eq!(all_of([Residual::True, var("a")]), var("a"));
        assert_eq!(all_of([var("a"), Residual::False]), Residual::False);
        assert_eq!(any_of([var("a"), var("a")]), var("a"));
        assert_eq!(negate(negate(var("a"))), var("a"));
        assert_eq!(text(any_of([var("a"), var("b")])), "(or a b)");
    }

    #[test]
    fn a_shared_deny_is_factored_out_of_role_alternatives() {
        let deny = negate(var("d"));
        let joined = any_of([all_of([deny.clone(), var("a")]), all_of([deny, var("b")])]);
        assert_eq!(text(joined), "(and (not d) (or a b))");
    }

    #[test]
    fn in_with_one_or_no_element_becomes_eq_or_false() {
        let single = Operand::Expression(FilterExpression {
            operator: "in".into(),
            operands: vec![Operand::Variable("x".into()), Operand::Value(json!(["a"]))],
        });
        assert_eq!(text(normalise(single)), r#"(eq x "a")"#);
        let empty = Operand::Expression(FilterExpression {
            operator: "or".into(),
            operands: vec![
                Operand::Expression(FilterExpression {
                    operator: "in".into(),
                    operands: vec![Operand::Variable("x".into()), Operand::Value(json!([]))],
                }),
                Operand::Variable("y".into()),
            ],
        });
        assert_eq!(text(normalise(empty)), "y");
    }

    #[test]
    fn whole_doubles_print_as_integers() {
        let eq = Operand::Expression(FilterExpression {
            operator: "eq".into(),
            operands: vec![Operand::Variable("x".into()), Operand::Value(json!(3.0))],
        });
        assert_eq!(text(normalise(eq)), "(eq x 3)");
    }

    #[test]
    fn merged_filters_are_sorted_by_text_and_a_denial_decides() {
        let merged = merge_with_and(vec![filter_of(var("b")), filter_of(var("a"))]);
        assert_eq!(filter_debug(&merged), "(and a b)");
        let denied = merge_with_and(vec![filter_of(var("a")), filter_of(Residual::False)]);
        assert_eq!(denied.kind, FilterKind::AlwaysDenied);
    }
}
