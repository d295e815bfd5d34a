//! Explanations of CheckResources decisions: for each resource and action, the effect together with the
//! scopes walked, every candidate rule, the derived roles activated and the value of each condition
//! leaf with the request attributes it read. Produced by the evaluator itself, with a trace attached.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::api::{CheckResourcesRequest, Effect, ResultResource, ValidationError};
use crate::cel::{value_to_json, Bindings, EvalError, Expr};
use crate::compile::PolicyStore;
use crate::engine::{CheckOptions, EngineConfig};

/// The explanation of a whole CheckResources request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainResponse {
    /// The request's `requestId`, echoed.
    pub request_id: String,
    /// One explanation per resource, in request order.
    pub results: Vec<ResourceExplanation>,
}

/// How the actions on one resource were decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceExplanation {
    /// The resource, as CheckResources echoes it.
    pub resource: ResultResource,
    /// The decision and its trace per requested action.
    pub actions: BTreeMap<String, ActionExplanation>,
    /// Every derived role considered, in evaluation order, with whether it was activated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived_roles: Vec<DerivedRoleTrace>,
    /// Schema violations of the inputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<ValidationError>,
    /// Why no rule was evaluated at all, when that is the case.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The decision for one action and the steps that led to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionExplanation {
    /// The effect, the same as CheckResources answers.
    pub effect: Effect,
    /// The policy the effect is attributed to (`meta.matchedPolicy`).
    pub matched_policy: String,
    /// The scope of the deciding rule (`meta.matchedScope`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub matched_scope: String,
    /// Scopes walked and candidate rules, in evaluation order.
    pub steps: Vec<Step>,
}

/// Which kind of policy a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicyKind {
    /// Principal policies, evaluated first.
    Principal,
    /// Resource and role policies.
    Resource,
}

/// One step of an action's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// A scope's rules are about to be evaluated.
    Scope(ScopeStep),
    /// A rule matched the action and role; its conditions were evaluated.
    Rule(RuleStep),
}

/// Entering a scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeStep {
    /// Principal or resource policies.
    pub policy_kind: PolicyKind,
    /// The principal's role this walk is for (resource policies are walked once per role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// The scope (empty for the root scope).
    pub scope: String,
}

/// A candidate rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleStep {
    /// Principal or resource policies.
    pub policy_kind: PolicyKind,
    /// The policy's key, e.g. `resource.leave_request.vdefault/acme`.
    pub policy: String,
    /// The rule's scope.
    pub scope: String,
    /// The rule's name (its generated name when it has none).
    pub rule: String,
    /// The rule's effect.
    pub effect: Effect,
    /// The role through which the rule applied (`*` for every role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    /// The derived role through which the rule applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_role: Option<String>,
    /// The derived role's condition, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_role_condition: Option<ConditionTrace>,
    /// The rule's own condition, when it has one and it was evaluated; when the rule's result was
    /// reused (`cached`), the result of its derived role and condition together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionTrace>,
    /// Whether the rule applied (its derived role and condition held).
    pub applied: bool,
}

/// A derived role considered for a scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedRoleTrace {
    /// The scope of the resource policy importing it.
    pub scope: String,
    /// The derived role's name.
    pub name: String,
    /// Its parent roles.
    pub parent_roles: Vec<String>,
    /// Whether it was activated for the principal.
    pub activated: bool,
    /// Its condition, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionTrace>,
}

/// A condition's evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionTrace {
    /// Whether the condition held.
    pub holds: bool,
    /// The result was reused from an earlier evaluation in the same request, so no leaves are listed.
    #[serde(skip_serializing_if = "is_false")]
    pub cached: bool,
    /// The expressions evaluated, in order (`all`, `any` and `none` stop at the first decisive one).
    pub leaves: Vec<LeafTrace>,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// One expression of a condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafTrace {
    /// The expression's text.
    pub expr: String,
    /// `true`, `false`, or `{"error": message}` (an error counts as false).
    pub result: LeafResult,
    /// The paths the expression reads, with their values.
    pub values: Vec<ReadValue>,
}

/// The result of a condition expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LeafResult {
    /// It evaluated to a boolean.
    Bool(bool),
    /// It failed.
    Error {
        /// What went wrong.
        error: String,
    },
}

/// A path an expression reads and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadValue {
    /// The path, e.g. `R.attr.owner`.
    pub path: String,
    /// Its value, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Json>,
    /// Why it could not be read (e.g. no such key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LeafTrace {
    /// The trace of `expr`, which evaluated to `result` against `bindings`.
    pub(crate) fn new(
        expr: &Expr,
        result: &Result<bool, EvalError>,
        bindings: &Bindings<'_>,
    ) -> Self {
        let values = expr
            .read_values(bindings)
            .into_iter()
            .map(|(path, value)| match value {
                Ok(v) => ReadValue {
                    path,
                    value: Some(value_to_json(&v)),
                    error: None,
                },
                Err(e) => ReadValue {
                    path,
                    value: None,
                    error: Some(e.message),
                },
            })
            .collect();
        LeafTrace {
            expr: expr.source().to_owned(),
            result: match result {
                Ok(b) => LeafResult::Bool(*b),
                Err(e) => LeafResult::Error {
                    error: e.message.clone(),
                },
            },
            values,
        }
    }
}

/// What the evaluator records for one resource while it decides.
#[derive(Debug, Default)]
pub(crate) struct ResourceTrace {
    pub(crate) steps: BTreeMap<String, Vec<Step>>,
    pub(crate) derived_roles: Vec<DerivedRoleTrace>,
    pub(crate) note: String,
}

impl PolicyStore {
    /// Answers a CheckResources request with an explanation of every decision; the effects are those
    /// [`PolicyStore::check_resources`] gives, computed by the same evaluation.
    pub fn explain_resources(
        &self,
        config: &EngineConfig,
        request: &CheckResourcesRequest,
        options: CheckOptions<'_>,
    ) -> ExplainResponse {
        let results = self
            .check_traced(config, request, options)
            .into_iter()
            .map(|(result, mut trace)| {
                let actions = result
                    .actions
                    .iter()
                    .map(|(action, effect)| {
                        let meta = result
                            .meta
                            .as_ref()
                            .and_then(|m| m.actions.get(action))
                            .cloned()
                            .unwrap_or_default();
                        let explanation = ActionExplanation {
                            effect: *effect,
                            matched_policy: meta.matched_policy,
                            matched_scope: meta.matched_scope,
                            steps: trace.steps.remove(action).unwrap_or_default(),
                        };
                        (action.clone(), explanation)
                    })
                    .collect();
                ResourceExplanation {
                    resource: result.resource,
                    actions,
                    derived_roles: trace.derived_roles,
                    validation_errors: result.validation_errors,
                    note: trace.note,
                }
            })
            .collect();
        ExplainResponse {
            request_id: request.request_id.clone(),
            results,
        }
    }
}
