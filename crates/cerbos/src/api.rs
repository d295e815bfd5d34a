//! Cerbos REST API bodies as protojson writes and reads them: camelCase names (the proto names with
//! underscores are accepted on input too), enums as their names, empty fields omitted on output and
//! `null` read as the field's default.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads `null` as the type's default, as protojson does for every field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Attributes of a principal or resource: `map<string, google.protobuf.Value>`.
pub type Attributes = Map<String, Value>;

/// The principal making a request (`cerbos.engine.v1.Principal`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Principal {
    /// Principal identifier.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    /// Policy version of the principal policy to use; empty means the configured default.
    #[serde(
        alias = "policy_version",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    /// Static roles of the principal.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<String>,
    /// Principal attributes, `P.attr` in conditions.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub attr: Attributes,
    /// Dot-separated scope of the principal policy to use.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub scope: String,
}

/// A resource to check (`cerbos.engine.v1.Resource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    /// Resource kind, the name of its resource policy.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    /// Policy version of the resource policy to use; empty means the configured default.
    #[serde(
        alias = "policy_version",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    /// Resource identifier.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    /// Resource attributes, `R.attr` in conditions.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub attr: Attributes,
    /// Dot-separated scope of the resource policy to use.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub scope: String,
}

/// A JWT passed as auxiliary data (`cerbos.request.v1.AuxData.JWT`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Jwt {
    /// The encoded token.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub token: String,
    /// Identifier of the configured key set that verifies the token.
    #[serde(
        alias = "key_set_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub key_set_id: String,
}

/// Auxiliary data of a request (`cerbos.request.v1.AuxData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuxData {
    /// A JWT whose claims become `request.auxData.jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Jwt>,
}

/// One resource and the actions to check on it (`CheckResourcesRequest.ResourceEntry`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceEntry {
    /// Actions to check.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub actions: Vec<String>,
    /// The resource.
    #[serde(deserialize_with = "null_as_default")]
    pub resource: Resource,
}

/// Body of `POST /api/check/resources` (`cerbos.request.v1.CheckResourcesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckResourcesRequest {
    /// Caller-chosen identifier echoed in the response.
    #[serde(
        alias = "request_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub request_id: String,
    /// The principal.
    #[serde(deserialize_with = "null_as_default")]
    pub principal: Principal,
    /// Resources with their actions.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<ResourceEntry>,
    /// Auxiliary data.
    #[serde(alias = "aux_data", skip_serializing_if = "Option::is_none")]
    pub aux_data: Option<AuxData>,
    /// Whether the response carries evaluation metadata.
    #[serde(
        alias = "include_meta",
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub include_meta: bool,
}

/// A decision (`cerbos.effect.v1.Effect`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Effect {
    /// No effect given.
    #[default]
    #[serde(rename = "EFFECT_UNSPECIFIED")]
    Unspecified,
    /// The action is allowed.
    #[serde(rename = "EFFECT_ALLOW")]
    Allow,
    /// The action is denied.
    #[serde(rename = "EFFECT_DENY")]
    Deny,
    /// No rule matched (internal to policy evaluation; responses say DENY).
    #[serde(rename = "EFFECT_NO_MATCH")]
    NoMatch,
}

/// Where an invalid attribute came from (`cerbos.schema.v1.ValidationError.Source`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValidationSource {
    /// Not given.
    #[default]
    #[serde(rename = "SOURCE_UNSPECIFIED")]
    Unspecified,
    /// The principal's attributes.
    #[serde(rename = "SOURCE_PRINCIPAL")]
    Principal,
    /// The resource's attributes.
    #[serde(rename = "SOURCE_RESOURCE")]
    Resource,
}

impl ValidationSource {
    fn is_unspecified(&self) -> bool {
        *self == ValidationSource::Unspecified
    }
}

/// One schema violation (`cerbos.schema.v1.ValidationError`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ValidationError {
    /// JSON pointer-like path of the offending attribute.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub path: String,
    /// What is wrong.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub message: String,
    /// Principal or resource.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "ValidationSource::is_unspecified"
    )]
    pub source: ValidationSource,
}

/// The resource a result is about (`CheckResourcesResponse.ResultEntry.Resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultResource {
    /// Resource identifier.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub id: String,
    /// Resource kind.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    /// Policy version as requested.
    #[serde(
        alias = "policy_version",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    /// Scope as requested.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub scope: String,
}

/// Which policy decided an action (`ResultEntry.Meta.EffectMeta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EffectMeta {
    /// Identifier of the deciding policy, e.g. `resource.leave_request.vdefault/acme`.
    #[serde(
        alias = "matched_policy",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub matched_policy: String,
    /// Scope in which the decision was taken.
    #[serde(
        alias = "matched_scope",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub matched_scope: String,
}

/// Evaluation metadata of one resource (`ResultEntry.Meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultMeta {
    /// Per action, the deciding policy and scope.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub actions: BTreeMap<String, EffectMeta>,
    /// Derived roles that applied to the principal for this resource.
    #[serde(
        alias = "effective_derived_roles",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub effective_derived_roles: Vec<String>,
}

/// One rule output (`cerbos.engine.v1.OutputEntry`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutputEntry {
    /// Origin: `<policy id>#<rule name>`.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub src: String,
    /// The value; absent when the output expression failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val: Option<Value>,
    /// The action whose evaluation produced the output.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub action: String,
}

/// The decisions for one resource (`CheckResourcesResponse.ResultEntry`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckResult {
    /// The resource.
    #[serde(deserialize_with = "null_as_default")]
    pub resource: ResultResource,
    /// Effect per requested action; always present.
    #[serde(deserialize_with = "null_as_default")]
    pub actions: BTreeMap<String, Effect>,
    /// Schema violations of the inputs.
    #[serde(
        alias = "validation_errors",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub validation_errors: Vec<ValidationError>,
    /// Evaluation metadata, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<ResultMeta>,
    /// Outputs of the rules that were evaluated.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub outputs: Vec<OutputEntry>,
}

/// Response of `POST /api/check/resources` (`cerbos.response.v1.CheckResourcesResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckResourcesResponse {
    /// The request's identifier.
    #[serde(
        alias = "request_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub request_id: String,
    /// One entry per requested resource, in request order.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub results: Vec<CheckResult>,
    /// Identifier of this call in the audit log.
    #[serde(
        alias = "cerbos_call_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cerbos_call_id: String,
}

/// The resource of a plan request (`cerbos.engine.v1.PlanResourcesInput.Resource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanResource {
    /// Resource kind.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    /// Known attributes; the others become variables of the filter.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub attr: Attributes,
    /// Policy version; empty means the configured default.
    #[serde(
        alias = "policy_version",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    /// Dot-separated scope.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub scope: String,
}

/// Body of `POST /api/plan/resources` (`cerbos.request.v1.PlanResourcesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanResourcesRequest {
    /// Caller-chosen identifier echoed in the response.
    #[serde(
        alias = "request_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub request_id: String,
    /// The action to plan (deprecated in favour of `actions`).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub action: String,
    /// The actions to plan.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub actions: Vec<String>,
    /// The principal.
    #[serde(deserialize_with = "null_as_default")]
    pub principal: Principal,
    /// The resource kind and what is known of its attributes.
    #[serde(deserialize_with = "null_as_default")]
    pub resource: PlanResource,
    /// Auxiliary data.
    #[serde(alias = "aux_data", skip_serializing_if = "Option::is_none")]
    pub aux_data: Option<AuxData>,
    /// Whether the response carries evaluation metadata.
    #[serde(
        alias = "include_meta",
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub include_meta: bool,
}

/// Kind of a plan's filter (`PlanResourcesFilter.Kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FilterKind {
    /// Not given.
    #[default]
    #[serde(rename = "KIND_UNSPECIFIED")]
    Unspecified,
    /// Every resource of the kind is allowed.
    #[serde(rename = "KIND_ALWAYS_ALLOWED")]
    AlwaysAllowed,
    /// No resource of the kind is allowed.
    #[serde(rename = "KIND_ALWAYS_DENIED")]
    AlwaysDenied,
    /// Resources matching `condition` are allowed.
    #[serde(rename = "KIND_CONDITIONAL")]
    Conditional,
}

/// An operator applied to operands (`PlanResourcesFilter.Expression`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FilterExpression {
    /// Operator name, e.g. `and`, `eq`, `in`.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub operator: String,
    /// Its operands.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub operands: Vec<Operand>,
}

/// A node of a plan's filter (`PlanResourcesFilter.Expression.Operand`, a oneof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operand {
    /// A constant.
    Value(Value),
    /// A nested expression.
    Expression(FilterExpression),
    /// A variable such as `request.resource.attr.owner`.
    Variable(String),
}

/// The filter of a plan (`cerbos.engine.v1.PlanResourcesFilter`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanFilter {
    /// Always allowed, always denied or conditional.
    #[serde(deserialize_with = "null_as_default")]
    pub kind: FilterKind,
    /// The condition of a conditional filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Operand>,
}

/// Evaluation metadata of a plan (`PlanResourcesResponse.Meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanMeta {
    /// The filter in a human-readable form.
    #[serde(
        alias = "filter_debug",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub filter_debug: String,
    /// Scope of the deciding policy (single-action requests).
    #[serde(
        alias = "matched_scope",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub matched_scope: String,
    /// Per action, the scope of the deciding policy.
    #[serde(
        alias = "matched_scopes",
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub matched_scopes: BTreeMap<String, String>,
}

/// Response of `POST /api/plan/resources` (`cerbos.response.v1.PlanResourcesResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlanResourcesResponse {
    /// The request's identifier.
    #[serde(
        alias = "request_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub request_id: String,
    /// The planned action (single-action requests).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub action: String,
    /// The planned actions.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub actions: Vec<String>,
    /// The resource kind.
    #[serde(
        alias = "resource_kind",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub resource_kind: String,
    /// The policy version used.
    #[serde(
        alias = "policy_version",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    /// Which resources are allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<PlanFilter>,
    /// Evaluation metadata, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<PlanMeta>,
    /// Schema violations of the inputs.
    #[serde(
        alias = "validation_errors",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub validation_errors: Vec<ValidationError>,
    /// Identifier of this call in the audit log.
    #[serde(
        alias = "cerbos_call_id",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cerbos_call_id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    #[test]
    fn request_reads_camel_case_snake_case_and_null() {
        let request: CheckResourcesRequest = serde_json::from_value(json!({
            "requestId": "r1",
            "include_meta": true,
            "principal": {"id": "alice", "roles": ["user"], "policy_version": "v1", "attr": {"age": 3}},
            "resources": [{"actions": ["view", "edit"], "resource": {"kind": "doc", "id": "1", "scope": null}}],
            "auxData": {"jwt": {"token": "t", "keySetId": "ks"}}
        }))
        .unwrap();
        assert_eq!(request.request_id, "r1");
        assert!(request.include_meta);
        assert_eq!(request.principal.policy_version, "v1");
        assert_eq!(request.resources[0].actions, ["view", "edit"]);
        assert_eq!(request.resources[0].resource.scope, "");
        assert_eq!(request.aux_data.unwrap().jwt.unwrap().key_set_id, "ks");
    }

    #[test]
    fn response_omits_empty_fields_but_keeps_effects() {
        let response = CheckResourcesResponse {
            request_id: "r1".into(),
            results: vec![CheckResult {
                resource: ResultResource {
                    id: "1".into(),
                    kind: "doc".into(),
                    ..Default::default()
                },
                actions: BTreeMap::from([
                    ("view".to_owned(), Effect::Allow),
                    ("edit".to_owned(), Effect::Deny),
                ]),
                ..Default::default()
            }],
            cerbos_call_id: "c".into(),
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"requestId": "r1", "cerbosCallId": "c", "results": [{
                "resource": {"id": "1", "kind": "doc"},
                "actions": {"edit": "EFFECT_DENY", "view": "EFFECT_ALLOW"}
            }]})
        );
    }

    #[test]
    fn response_writes_meta_outputs_and_validation_errors() {
        let result = CheckResult {
            validation_errors: vec![ValidationError {
                path: "/age".into(),
                message: "expected number".into(),
                source: ValidationSource::Principal,
            }],
            meta: Some(ResultMeta {
                actions: BTreeMap::from([(
                    "view".to_owned(),
                    EffectMeta {
                        matched_policy: "resource.doc.vdefault".into(),
                        matched_scope: String::new(),
                    },
                )]),
                effective_derived_roles: vec!["owner".into()],
            }),
            outputs: vec![OutputEntry {
                src: "resource.doc.vdefault#r1".into(),
                val: None,
                action: "view".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({
                "resource": {}, "actions": {},
                "validationErrors": [{"path": "/age", "message": "expected number", "source": "SOURCE_PRINCIPAL"}],
                "meta": {"actions": {"view": {"matchedPolicy": "resource.doc.vdefault"}},
                         "effectiveDerivedRoles": ["owner"]},
                "outputs": [{"src": "resource.doc.vdefault#r1", "action": "view"}]
            })
        );
    }

    #[test]
    fn plan_operands_are_a_oneof() {
        let filter = PlanFilter {
            kind: FilterKind::Conditional,
            condition: Some(Operand::Expression(FilterExpression {
                operator: "eq".into(),
                operands: vec![
                    Operand::Variable("request.resource.attr.owner".into()),
                    Operand::Value(json!("bob")),
                ],
            })),
        };
        let written = serde_json::to_value(&filter).unwrap();
        assert_eq!(
            written,
            json!({"kind": "KIND_CONDITIONAL", "condition": {"expression": {"operator": "eq", "operands": [
                {"variable": "request.resource.attr.owner"}, {"value": "bob"}]}}})
        );
        assert_eq!(
            serde_json::from_value::<PlanFilter>(written).unwrap(),
            filter
        );
    }
}
