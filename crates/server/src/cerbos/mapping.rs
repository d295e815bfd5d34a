//! The one mapping between Cerbos's protobuf messages (what both transports decode and encode) and
//! the engine's request and response types.

use lictor_cerbos::api;
use lictor_proto::cerbos::effect::v1::Effect;
use lictor_proto::cerbos::engine::v1 as engine;
use lictor_proto::cerbos::request::v1 as request;
use lictor_proto::cerbos::response::v1 as response;
use lictor_proto::cerbos::schema::v1::validation_error::Source;
use lictor_proto::cerbos::schema::v1::ValidationError;
use lictor_proto::wkt;
use response::check_resources_response::result_entry::{self, meta::EffectMeta};
use response::check_resources_response::ResultEntry;
use std::collections::HashMap;

/// A protobuf `Value` as plain JSON; a non-finite number becomes `null`, as in JSON.
pub fn json_of(value: &wkt::Value) -> serde_json::Value {
    use wkt::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(object_of(&s.fields)),
        Some(Kind::ListValue(l)) => {
            serde_json::Value::Array(l.values.iter().map(json_of).collect())
        }
    }
}

/// A protobuf map of `Value`s as a JSON object.
pub fn object_of(
    fields: &HashMap<String, wkt::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    fields
        .iter()
        .map(|(k, v)| (k.clone(), json_of(v)))
        .collect()
}

/// Plain JSON as a protobuf `Value`.
pub fn value_of(json: &serde_json::Value) -> wkt::Value {
    use wkt::value::Kind;
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(wkt::ListValue {
            values: items.iter().map(value_of).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(wkt::Struct {
            fields: map.iter().map(|(k, v)| (k.clone(), value_of(v))).collect(),
        }),
    };
    wkt::Value { kind: Some(kind) }
}

/// The engine's principal.
pub fn principal(principal: &engine::Principal) -> api::Principal {
    api::Principal {
        id: principal.id.clone(),
        policy_version: principal.policy_version.clone(),
        roles: principal.roles.clone(),
        attr: object_of(&principal.attr),
        scope: principal.scope.clone(),
    }
}

fn resource(resource: &engine::Resource) -> api::Resource {
    api::Resource {
        kind: resource.kind.clone(),
        policy_version: resource.policy_version.clone(),
        id: resource.id.clone(),
        attr: object_of(&resource.attr),
        scope: resource.scope.clone(),
    }
}

/// The engine's auxiliary data: the token named by `jwt` (the engine receives verified claims
/// separately).
fn aux_data(aux_data: &request::AuxData) -> api::AuxData {
    api::AuxData {
        jwt: aux_data.jwt.as_ref().map(|jwt| api::Jwt {
            token: jwt.token.clone(),
            key_set_id: jwt.key_set_id.clone(),
        }),
    }
}

/// The engine's CheckResources request (validated beforehand, so required parts are present).
pub fn check_request(request: &request::CheckResourcesRequest) -> api::CheckResourcesRequest {
    api::CheckResourcesRequest {
        request_id: request.request_id.clone(),
        principal: request
            .principal
            .as_ref()
            .map(principal)
            .unwrap_or_default(),
        resources: request
            .resources
            .iter()
            .map(|entry| api::ResourceEntry {
                actions: entry.actions.clone(),
                resource: entry.resource.as_ref().map(resource).unwrap_or_default(),
            })
            .collect(),
        aux_data: request.aux_data.as_ref().map(aux_data),
        include_meta: request.include_meta,
    }
}

/// The engine's PlanResources request (the deprecated single `action` kept apart from `actions`:
/// the answer names the one the request used).
#[allow(deprecated)]
pub fn plan_request(request: &request::PlanResourcesRequest) -> api::PlanResourcesRequest {
    api::PlanResourcesRequest {
        request_id: request.request_id.clone(),
        action: request.action.clone(),
        actions: request.actions.clone(),
        principal: request
            .principal
            .as_ref()
            .map(principal)
            .unwrap_or_default(),
        resource: request
            .resource
            .as_ref()
            .map(|r| api::PlanResource {
                kind: r.kind.clone(),
                attr: object_of(&r.attr),
                policy_version: r.policy_version.clone(),
                scope: r.scope.clone(),
            })
            .unwrap_or_default(),
        aux_data: request.aux_data.as_ref().map(aux_data),
        include_meta: request.include_meta,
    }
}

fn effect(effect: api::Effect) -> i32 {
    match effect {
        api::Effect::Unspecified => Effect::Unspecified as i32,
        api::Effect::Allow => Effect::Allow as i32,
        api::Effect::Deny => Effect::Deny as i32,
        api::Effect::NoMatch => Effect::NoMatch as i32,
    }
}

fn validation_error(error: &api::ValidationError) -> ValidationError {
    let source = match error.source {
        api::ValidationSource::Unspecified => Source::Unspecified,
        api::ValidationSource::Principal => Source::Principal,
        api::ValidationSource::Resource => Source::Resource,
    };
    ValidationError {
        path: error.path.clone(),
        message: error.message.clone(),
        source: source as i32,
    }
}

/// The protobuf CheckResources response.
pub fn check_response(answer: api::CheckResourcesResponse) -> response::CheckResourcesResponse {
    response::CheckResourcesResponse {
        request_id: answer.request_id,
        cerbos_call_id: answer.cerbos_call_id,
        results: answer
            .results
            .into_iter()
            .map(|result| ResultEntry {
                resource: Some(result_entry::Resource {
                    id: result.resource.id,
                    kind: result.resource.kind,
                    policy_version: result.resource.policy_version,
                    scope: result.resource.scope,
                }),
                actions: result
                    .actions
                    .into_iter()
                    .map(|(action, e)| (action, effect(e)))
                    .collect(),
                validation_errors: result
                    .validation_errors
                    .iter()
                    .map(validation_error)
                    .collect(),
                meta: result.meta.map(|meta| result_entry::Meta {
                    actions: meta
                        .actions
                        .into_iter()
                        .map(|(action, m)| {
                            (
                                action,
                                EffectMeta {
                                    matched_policy: m.matched_policy,
                                    matched_scope: m.matched_scope,
                                },
                            )
                        })
                        .collect(),
                    effective_derived_roles: meta.effective_derived_roles,
                }),
                outputs: result
                    .outputs
                    .into_iter()
                    .map(|output| engine::OutputEntry {
                        src: output.src,
                        val: output.val.as_ref().map(value_of),
                        action: output.action,
                        ..Default::default()
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn operand(operand: &api::Operand) -> engine::plan_resources_filter::expression::Operand {
    use engine::plan_resources_filter::expression::operand::Node;
    use engine::plan_resources_filter::Expression;
    let node = match operand {
        api::Operand::Value(value) => Node::Value(value_of(value)),
        api::Operand::Variable(name) => Node::Variable(name.clone()),
        api::Operand::Expression(expression) => Node::Expression(Expression {
            operator: expression.operator.clone(),
            operands: expression.operands.iter().map(self::operand).collect(),
        }),
    };
    engine::plan_resources_filter::expression::Operand { node: Some(node) }
}

/// The protobuf PlanResources response.
#[allow(deprecated)]
pub fn plan_response(answer: api::PlanResourcesResponse) -> response::PlanResourcesResponse {
    use engine::plan_resources_filter::Kind;
    response::PlanResourcesResponse {
        request_id: answer.request_id,
        action: answer.action,
        actions: answer.actions,
        resource_kind: answer.resource_kind,
        policy_version: answer.policy_version,
        filter: answer.filter.map(|filter| engine::PlanResourcesFilter {
            kind: match filter.kind {
                api::FilterKind::Unspecified => Kind::Unspecified,
                api::FilterKind::AlwaysAllowed => Kind::AlwaysAllowed,
                api::FilterKind::AlwaysDenied => Kind::AlwaysDenied,
                api::FilterKind::Conditional => Kind::Conditional,
            } as i32,
            condition: filter.condition.as_ref().map(operand),
        }),
        meta: answer
            .meta
            .map(|meta| response::plan_resources_response::Meta {
                filter_debug: meta.filter_debug,
                matched_scope: meta.matched_scope,
                matched_scopes: meta.matched_scopes.into_iter().collect(),
            }),
        validation_errors: answer
            .validation_errors
            .iter()
            .map(validation_error)
            .collect(),
        cerbos_call_id: answer.cerbos_call_id,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn json_survives_the_protobuf_value() {
        let original = json!({"a": [1.5, "x", true, null, {"b": {}}], "n": 2.0});
        let object = original.as_object().unwrap();
        let fields: HashMap<String, wkt::Value> = object
            .iter()
            .map(|(k, v)| (k.clone(), value_of(v)))
            .collect();
        assert_eq!(serde_json::Value::Object(object_of(&fields)), original);
    }

    #[test]
    #[allow(deprecated)]
    fn a_single_plan_action_stays_single() {
        let request = request::PlanResourcesRequest {
            action: "view".into(),
            ..Default::default()
        };
        let mapped = plan_request(&request);
        assert_eq!(mapped.action, "view");
        assert!(mapped.actions.is_empty());
    }
}
