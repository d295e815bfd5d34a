//! PlanResources: for a principal, a resource kind and actions, the condition on the resource that makes
//! every action allowed, following Cerbos 0.51's combination of rules (resource policies, then principal
//! policies; roles OR-ed; a scope's ALLOWs OR-ed with its parents' unless parental consent is required;
//! DENYs negated and AND-ed at the top).

use std::collections::BTreeMap;

use crate::api::{
    Effect, FilterExpression, FilterKind, Operand, PlanFilter, PlanMeta, PlanResourcesRequest,
    PlanResourcesResponse, Resource, ValidationSource,
};
use crate::cel::{self, Bindings, Globals, PlanBindings, RequestValues, Residual};
use crate::compile::{Condition, Params, PolicyStore, Row, RowKind};
use crate::engine::{
    add_parent_roles, all_scopes, row_matches, CheckOptions, EngineConfig, SchemaEnforcement,
    NO_POLICY_MATCH,
};
use crate::names::{principal_policy_key, resource_policy_key, sanitize};
use crate::policy::ScopePermissions;

/// A partially evaluated condition.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Const(bool),
    Residual(cel::Operand),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    fn constant(&self) -> Option<bool> {
        match self {
            Node::Const(b) => Some(*b),
            _ => None,
        }
    }

    fn and(a: Node, b: Node) -> Node {
        match (a, b) {
            (Node::Const(false), _) | (_, Node::Const(false)) => Node::Const(false),
            (Node::Const(true), other) | (other, Node::Const(true)) => other,
            (Node::And(mut items), Node::And(more)) => {
                items.extend(more);
                Node::And(items)
            }
            (Node::And(mut items), other) => {
                items.push(other);
                Node::And(items)
            }
            (a, b) => Node::And(vec![a, b]),
        }
    }

    fn or(a: Node, b: Node) -> Node {
        match (a, b) {
            (Node::Const(true), _) | (_, Node::Const(true)) => Node::Const(true),
            (Node::Const(false), other) | (other, Node::Const(false)) => other,
            (Node::Or(mut items), Node::Or(more)) => {
                items.extend(more);
                Node::Or(items)
            }
            (Node::Or(mut items), other) => {
                items.push(other);
                Node::Or(items)
            }
            (a, b) => Node::Or(vec![a, b]),
        }
    }

    fn not(node: Node) -> Node {
        match node {
            Node::Const(b) => Node::Const(!b),
            Node::Not(inner) => *inner,
            other => Node::Not(Box::new(other)),
        }
    }

    fn into_operand(self) -> Operand {
        let expression = |operator: &str, operands: Vec<Operand>| {
            Operand::Expression(FilterExpression {
                operator: operator.to_owned(),
                operands,
            })
        };
        match self {
            Node::Const(b) => Operand::Value(serde_json::Value::Bool(b)),
            Node::Residual(op) => residual_operand(op),
            Node::And(items) => {
                expression("and", items.into_iter().map(Node::into_operand).collect())
            }
            Node::Or(items) => {
                expression("or", items.into_iter().map(Node::into_operand).collect())
            }
            Node::Not(inner) => expression("not", vec![inner.into_operand()]),
        }
    }
}

fn residual_operand(op: cel::Operand) -> Operand {
    match op {
        cel::Operand::Value(v) => Operand::Value(v),
        cel::Operand::Variable(v) => Operand::Variable(v),
        cel::Operand::Expression(e) => Operand::Expression(FilterExpression {
            operator: e.operator,
            operands: e.operands.into_iter().map(residual_operand).collect(),
        }),
    }
}

/// `Some(a OR b)`, or whichever is present.
fn add_or(current: Option<Node>, next: Option<Node>) -> Option<Node> {
    match (current, next) {
        (Some(a), Some(b)) => Some(Node::or(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Cerbos's debug rendering of a filter condition: `(op arg ...)`, variables bare, values as JSON.
fn debug_string(operand: &Operand) -> String {
    match operand {
        Operand::Value(v) => v.to_string(),
        Operand::Variable(v) => v.clone(),
        Operand::Expression(e) => {
            let mut parts = vec![e.operator.clone()];
            parts.extend(e.operands.iter().map(debug_string));
            format!("({})", parts.join(" "))
        }
    }
}

struct Planner<'a> {
    request: &'a RequestValues<'a>,
    globals: &'a Globals,
}

impl Planner<'_> {
    fn plan(&self, condition: Option<&Condition>, params: Option<&Params>) -> Node {
        let Some(condition) = condition else {
            return Node::Const(true);
        };
        match condition {
            Condition::Expr(expr) => {
                let mut bindings = Bindings::new(self.request).with_globals(self.globals);
                if let Some(p) = params {
                    bindings = bindings.with_constants(&p.constants);
                }
                let mut plan = PlanBindings::new(bindings);
                if let Some(p) = params {
                    plan = plan.with_variable_exprs(&p.variable_exprs);
                }
                match expr.plan(&plan) {
                    Ok(Residual::True) => Node::Const(true),
                    // An evaluation error makes the condition false, as when checking.
                    Ok(Residual::False) | Err(_) => Node::Const(false),
                    Ok(Residual::Condition(op)) => Node::Residual(op),
                }
            }
            Condition::All(items) => items.iter().fold(Node::Const(true), |acc, c| {
                Node::and(acc, self.plan(Some(c), params))
            }),
            Condition::Any(items) => items.iter().fold(Node::Const(false), |acc, c| {
                Node::or(acc, self.plan(Some(c), params))
            }),
            Condition::None(items) => items.iter().fold(Node::Const(true), |acc, c| {
                Node::and(acc, Node::not(self.plan(Some(c), params)))
            }),
        }
    }

    fn row_node(&self, row: &Row) -> Node {
        let node = self.plan(row.condition.as_deref(), row.params.as_deref());
        match row.derived_role.as_ref().filter(|r| r.condition.is_some()) {
            Some(role) => {
                let role_node = self.plan(role.condition.as_ref(), Some(&role.params));
                if row.condition.is_none() {
                    role_node
                } else {
                    Node::and(node, role_node)
                }
            }
            None => node,
        }
    }
}

/// The filter of one action, or `None` when no rule applied.
fn filter_of(root: Option<Node>, has_allow: bool) -> Option<Node> {
    let root = root?;
    Some(if has_allow { root } else { Node::Const(false) })
}

impl PolicyStore {
    /// Answers a PlanResources request. `cerbosCallId` is left empty for the caller to fill.
    pub fn plan_resources(
        &self,
        config: &EngineConfig,
        request: &PlanResourcesRequest,
        options: CheckOptions<'_>,
    ) -> PlanResourcesResponse {
        let mut actions = request.actions.clone();
        if actions.is_empty() && !request.action.is_empty() {
            actions.push(request.action.clone());
        }
        let principal = &request.principal;
        let default_version = |v: &str| {
            if v.is_empty() {
                config.default_policy_version.clone()
            } else {
                v.to_owned()
            }
        };
        let principal_version = default_version(&principal.policy_version);
        let resource_version = default_version(&request.resource.policy_version);
        let resource = Resource {
            kind: request.resource.kind.clone(),
            policy_version: request.resource.policy_version.clone(),
            id: String::new(),
            attr: request.resource.attr.clone(),
            scope: request.resource.scope.clone(),
        };
        let mut response = PlanResourcesResponse {
            request_id: request.request_id.clone(),
            action: request.action.clone(),
            actions: actions.clone(),
            resource_kind: request.resource.kind.clone(),
            policy_version: resource_version.clone(),
            ..Default::default()
        };
        let always_denied = PlanFilter {
            kind: FilterKind::AlwaysDenied,
            condition: None,
        };
        let mut meta = PlanMeta {
            filter_debug: NO_POLICY_MATCH.to_owned(),
            ..Default::default()
        };

        let kind = sanitize(&resource.kind);
        let lenient = config.lenient_scope_search;
        let principal_scope = principal
            .scope
            .strip_prefix('.')
            .unwrap_or(&principal.scope);
        let resource_scope = resource.scope.strip_prefix('.').unwrap_or(&resource.scope);
        let (principal_scopes, _) =
            all_scopes(&self.principal_scopes, principal_scope, lenient, |s| {
                principal_policy_key(&principal.id, &principal_version, s)
            });
        let (resource_scopes, resource_key) =
            all_scopes(&self.resource_scopes, resource_scope, lenient, |s| {
                resource_policy_key(&resource.kind, &resource_version, s)
            });

        'plan: {
            if principal_scopes.is_empty() && resource_scopes.is_empty() {
                response.filter = Some(always_denied);
                break 'plan;
            }
            let mut errors = self.validate(config, principal, &resource, &resource_key);
            // Only the attributes a plan request knows are checked, so missing resource attributes are fine.
            errors.retain(|e| {
                !(e.source == ValidationSource::Resource
                    && e.message.starts_with("missing properties"))
            });
            let reject =
                !errors.is_empty() && config.schema_enforcement == SchemaEnforcement::Reject;
            response.validation_errors = errors;
            if reject {
                response.filter = Some(always_denied);
                meta.filter_debug = debug_string(&Node::Const(false).into_operand());
                break 'plan;
            }

            let all_roles = add_parent_roles(self, resource_scope, &principal.roles);
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
                                        && crate::glob::matches(&r.resource, &kind)
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
                    self.role_policy_rows(&resource_version, scope, &kind, &all_roles, &actions)
                })
                .collect();
            let resource_rows: Vec<(String, Vec<&Row>)> = resource_scopes
                .iter()
                .zip(&generated)
                .map(|(scope, generated)| {
                    let mut rows = self.static_rows(&resource_version, scope, &kind);
                    rows.extend(generated);
                    (scope.clone(), rows)
                })
                .collect();
            if principal_rows
                .iter()
                .chain(&resource_rows)
                .all(|(_, rows)| rows.is_empty())
            {
                response.filter = Some(always_denied);
                break 'plan;
            }

            let request_values = RequestValues::new(
                principal,
                &resource,
                options.aux_data,
                options.now,
                options.relations,
            );
            let globals = Globals::from_json(&config.globals);
            let planner = Planner {
                request: &request_values,
                globals: &globals,
            };
            let role_parents: Vec<Vec<String>> = principal
                .roles
                .iter()
                .map(|role| add_parent_roles(self, resource_scope, std::slice::from_ref(role)))
                .collect();

            let mut policy_match = false;
            let mut combined: Option<Node> = None;
            let mut matched_scopes = BTreeMap::new();
            for action in &actions {
                let mut matched_scope = String::new();
                let mut root: Option<Node> = None;
                let mut has_allow = false;
                for kind_of_rows in [RowKind::Resource, RowKind::Principal] {
                    let scoped_rows = match kind_of_rows {
                        RowKind::Principal => &principal_rows,
                        RowKind::Resource => &resource_rows,
                    };
                    let mut type_allow: Option<Node> = None;
                    let mut type_deny: Option<Node> = None;
                    for (i, parents) in role_parents.iter().enumerate() {
                        if i > 0 && kind_of_rows == RowKind::Principal {
                            break;
                        }
                        let mut role_allow: Option<Node> = None;
                        let mut role_deny: Option<Node> = None;
                        let mut role_deny_role_policy: Option<Node> = None;
                        let mut pending_allow = false;
                        for (scope, rows) in scoped_rows {
                            let mut scope_allow: Option<Node> = None;
                            let mut scope_deny: Option<Node> = None;
                            let mut scope_deny_role_policy: Option<Node> = None;
                            for row in rows {
                                if !row_matches(row, kind_of_rows, action, &principal.id, parents) {
                                    continue;
                                }
                                let node = planner.row_node(row);
                                match row.effect {
                                    Effect::Allow => scope_allow = add_or(scope_allow, Some(node)),
                                    Effect::Deny if node.constant() == Some(false) => {}
                                    Effect::Deny if row.role_policy_key.is_some() => {
                                        scope_deny_role_policy =
                                            add_or(scope_deny_role_policy, Some(node));
                                    }
                                    Effect::Deny => scope_deny = add_or(scope_deny, Some(node)),
                                    Effect::Unspecified | Effect::NoMatch => {}
                                }
                            }
                            let decided = scope_allow.is_some()
                                || scope_deny.is_some()
                                || scope_deny_role_policy.is_some();
                            role_deny = add_or(role_deny, scope_deny);
                            role_deny_role_policy =
                                add_or(role_deny_role_policy, scope_deny_role_policy);
                            let permissions = self.scope_permissions.get(scope.as_str()).copied();
                            if let Some(allow) = scope_allow {
                                role_allow = Some(match role_allow.take() {
                                    None => allow,
                                    Some(previous) if pending_allow => {
                                        pending_allow = false;
                                        Node::and(previous, allow)
                                    }
                                    Some(previous) => Node::or(previous, allow),
                                });
                                if permissions
                                    == Some(ScopePermissions::RequireParentalConsentForAllows)
                                {
                                    pending_allow = true;
                                }
                            }
                            if decided && permissions == Some(ScopePermissions::OverrideParent) {
                                matched_scope = scope.clone();
                            }
                        }
                        if pending_allow {
                            role_allow = None;
                        }
                        let deny_is_true = role_deny.as_ref().and_then(Node::constant)
                            == Some(true)
                            || role_deny_role_policy.as_ref().and_then(Node::constant)
                                == Some(true);
                        if deny_is_true {
                            role_allow = Some(Node::Const(false));
                            role_deny = None;
                            role_deny_role_policy = None;
                        } else if role_deny.is_none()
                            && role_deny_role_policy.is_none()
                            && role_allow.as_ref().and_then(Node::constant) == Some(true)
                        {
                            type_allow = role_allow;
                            type_deny = None;
                            break;
                        }
                        // An ALLOW of this role holds only where its role policy does not deny.
                        if let Some(deny) = role_deny_role_policy {
                            role_allow = role_allow.map(|allow| Node::and(allow, Node::not(deny)));
                        }
                        type_allow = add_or(type_allow, role_allow);
                        type_deny = add_or(type_deny, role_deny);
                    }
                    if let Some(allow) = type_allow {
                        has_allow = true;
                        root = Some(match root.take() {
                            None => allow,
                            Some(previous) => Node::or(allow, previous),
                        });
                    }
                    if let Some(deny) = type_deny {
                        let inverted = Node::not(deny);
                        root = Some(match root.take() {
                            None => inverted,
                            Some(previous) => Node::and(inverted, previous),
                        });
                    }
                }
                policy_match |= root.is_some();
                let filter = filter_of(root, has_allow).unwrap_or(Node::Const(false));
                combined = Some(match combined.take() {
                    None => filter,
                    Some(previous) => Node::and(previous, filter),
                });
                matched_scopes.insert(action.clone(), matched_scope);
            }
            let filter = combined.unwrap_or(Node::Const(false));
            response.filter = Some(match filter.constant() {
                Some(true) => PlanFilter {
                    kind: FilterKind::AlwaysAllowed,
                    condition: None,
                },
                Some(false) => always_denied,
                None => PlanFilter {
                    kind: FilterKind::Conditional,
                    condition: Some(filter.clone().into_operand()),
                },
            });
            meta.filter_debug = if policy_match {
                match response.filter.as_ref().map(|f| f.kind) {
                    Some(FilterKind::AlwaysAllowed) => "(true)".to_owned(),
                    Some(FilterKind::Conditional) => debug_string(&filter.into_operand()),
                    _ => "(false)".to_owned(),
                }
            } else {
                NO_POLICY_MATCH.to_owned()
            };
            if let [only] = actions.as_slice() {
                meta.matched_scope = matched_scopes.get(only).cloned().unwrap_or_default();
            }
            meta.matched_scopes = matched_scopes;
        }
        if request.include_meta {
            response.meta = Some(meta);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use crate::disk::PolicyFile;
    use serde_json::json;

    const POLICY: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: R.attr.owner == P.id
    - actions: [list]
      effect: EFFECT_ALLOW
      roles: [user]
    - actions: [view, list]
      effect: EFFECT_DENY
      roles: [user]
      condition:
        match:
          expr: R.attr.archived == true
";

    fn plan(actions: &[&str], roles: &[&str]) -> PlanResourcesResponse {
        let store = crate::compile(&[PolicyFile {
            path: "doc.yaml".into(),
            text: POLICY.into(),
        }])
        .unwrap();
        let request: PlanResourcesRequest = serde_json::from_value(json!({
            "requestId": "p", "actions": actions, "includeMeta": true,
            "principal": {"id": "alice", "roles": roles},
            "resource": {"kind": "doc"}
        }))
        .unwrap();
        store.plan_resources(&EngineConfig::default(), &request, CheckOptions::now())
    }

    #[test]
    fn conditional_allow_and_deny_combine() {
        let response = plan(&["view"], &["user"]);
        let filter = response.filter.unwrap();
        assert_eq!(filter.kind, FilterKind::Conditional);
        let debug = response.meta.unwrap().filter_debug;
        assert!(debug.starts_with("(and (not "), "{debug}");
        assert!(debug.contains("request.resource.attr.owner"), "{debug}");
        assert!(debug.contains("request.resource.attr.archived"), "{debug}");
    }

    #[test]
    fn unknown_role_or_kind_is_always_denied() {
        let response = plan(&["view"], &["guest"]);
        assert_eq!(response.filter.unwrap().kind, FilterKind::AlwaysDenied);
        assert_eq!(response.meta.unwrap().filter_debug, "NO_MATCH");
    }
}
