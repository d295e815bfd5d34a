//! Request validation as Cerbos does it before evaluating: the field rules its protos declare
//! (required principal and resource fields, non-empty unique actions and roles, the version and scope
//! patterns, ...) and the configured request limits. A refusal is `INVALID_ARGUMENT` listing every
//! violated rule with the field path at fault, in protovalidate's words.

use crate::api_error::ApiError;
use lictor_proto::cerbos::engine::v1 as engine;
use lictor_proto::cerbos::request::v1 as request;
use lictor_proto::wkt;
use std::collections::{HashMap, HashSet};
use std::fmt::Display;

/// The limits of `server.requestLimits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Most actions one resource entry may ask about.
    pub max_actions_per_resource: usize,
    /// Most resources one request may hold.
    pub max_resources_per_request: usize,
}

/// Most actions one PlanResources request may name (a rule of Cerbos's protos).
const MAX_PLAN_ACTIONS: usize = 20;

/// Violations found so far, each `field.path: what is wrong`.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, path: &dyn Display, message: &str) {
        self.0.push(format!("{path}: {message}"));
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut message = String::from("validation error:");
        for violation in &self.0 {
            message.push_str("\n - ");
            message.push_str(violation);
        }
        Err(ApiError::invalid(message))
    }

    fn non_empty(&mut self, path: &dyn Display, text: &str) {
        if text.is_empty() {
            self.add(path, "value length must be at least 1 characters");
        }
    }

    fn version(&mut self, path: &dyn Display, text: &str) {
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.add(path, "value does not match regex pattern `^[\\w]*$`");
        }
    }

    fn scope(&mut self, path: &dyn Display, text: &str) {
        if !is_scope(text) {
            self.add(
                path,
                "value does not match regex pattern `^(^$|\\.|[0-9a-zA-Z][\\w\\-]*(\\.\\w[\\w\\-]*)*)$`",
            );
        }
    }

    /// Non-empty, unique strings; `required` adds at least one.
    fn strings(&mut self, path: &dyn Display, items: &[String], required: bool) {
        if required && items.is_empty() {
            self.add(path, "value must contain at least 1 item(s)");
        }
        for (i, item) in items.iter().enumerate() {
            self.non_empty(&format_args!("{path}[{i}]"), item);
        }
        if !unique(items) {
            self.add(path, "repeated value must contain unique items");
        }
    }

    fn attribute_keys(&mut self, path: &dyn Display, attr: &HashMap<String, wkt::Value>) {
        if attr.keys().any(String::is_empty) {
            self.add(path, "map key value length must be at least 1 characters");
        }
    }

    fn principal(&mut self, principal: Option<&engine::Principal>) {
        let Some(principal) = principal else {
            self.add(&"principal", "value is required");
            return;
        };
        self.non_empty(&"principal.id", &principal.id);
        self.version(&"principal.policy_version", &principal.policy_version);
        self.strings(&"principal.roles", &principal.roles, true);
        self.attribute_keys(&"principal.attr", &principal.attr);
        self.scope(&"principal.scope", &principal.scope);
    }

    fn aux_data(&mut self, aux_data: Option<&request::AuxData>) {
        let Some(aux_data) = aux_data else { return };
        if let Some(jwt) = &aux_data.jwt {
            self.non_empty(&"aux_data.jwt.token", &jwt.token);
            if !aux_data.jwts.is_empty() {
                self.add(
                    &"aux_data",
                    "Only one of the jwt or jwts fields must be set",
                );
            }
        }
        for (name, jwt) in &aux_data.jwts {
            if name.is_empty() {
                self.add(
                    &"aux_data.jwts",
                    "map key value length must be at least 1 characters",
                );
            }
            self.non_empty(&format_args!("aux_data.jwts[{name:?}].token"), &jwt.token);
        }
    }
}

/// Whether no item repeats: compared pairwise for the few items a request usually names, through a
/// set beyond.
fn unique(items: &[String]) -> bool {
    if items.len() <= 16 {
        items
            .iter()
            .enumerate()
            .all(|(i, item)| !items.iter().take(i).any(|earlier| earlier == item))
    } else {
        let mut seen = HashSet::with_capacity(items.len());
        items.iter().all(|item| seen.insert(item.as_str()))
    }
}

/// Whether `text` matches Cerbos's scope pattern: empty, `.`, or dot-separated segments of letters,
/// digits, `_` and `-` (the first segment starting with a letter or digit, the others with a letter,
/// digit or `_`).
fn is_scope(text: &str) -> bool {
    if text.is_empty() || text == "." {
        return true;
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.split('.').enumerate().all(|(i, segment)| {
        let mut chars = segment.chars();
        let first_ok = match chars.next() {
            Some(first) if i == 0 => first.is_ascii_alphanumeric(),
            Some(first) => word(first),
            None => false,
        };
        first_ok && chars.all(|c| word(c) || c == '-')
    })
}

/// Checks a CheckResources request against Cerbos's rules and the limits.
pub fn check_resources(
    request: &request::CheckResourcesRequest,
    limits: RequestLimits,
) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    violations.principal(request.principal.as_ref());
    if request.resources.is_empty() {
        violations.add(&"resources", "value must contain at least 1 item(s)");
    }
    for (i, entry) in request.resources.iter().enumerate() {
        // Field paths are written out only for a violation: a valid request formats none.
        violations.strings(
            &format_args!("resources[{i}].actions"),
            &entry.actions,
            true,
        );
        let Some(resource) = &entry.resource else {
            violations.add(
                &format_args!("resources[{i}].resource"),
                "value is required",
            );
            continue;
        };
        violations.non_empty(
            &format_args!("resources[{i}].resource.kind"),
            &resource.kind,
        );
        violations.non_empty(&format_args!("resources[{i}].resource.id"), &resource.id);
        violations.version(
            &format_args!("resources[{i}].resource.policy_version"),
            &resource.policy_version,
        );
        violations.attribute_keys(
            &format_args!("resources[{i}].resource.attr"),
            &resource.attr,
        );
        violations.scope(
            &format_args!("resources[{i}].resource.scope"),
            &resource.scope,
        );
    }
    violations.aux_data(request.aux_data.as_ref());
    violations.into_result()?;

    if request.resources.len() > limits.max_resources_per_request {
        return Err(ApiError::invalid(format!(
            "number of resources in batch ({}) exceeds configured limit ({})",
            request.resources.len(),
            limits.max_resources_per_request
        )));
    }
    for entry in &request.resources {
        if entry.actions.len() > limits.max_actions_per_resource {
            return Err(ApiError::invalid(format!(
                "number of actions ({}) exceeds configured limit ({})",
                entry.actions.len(),
                limits.max_actions_per_resource
            )));
        }
    }
    Ok(())
}

/// Checks a PlanResources request against Cerbos's rules.
#[allow(deprecated)]
pub fn plan_resources(request: &request::PlanResourcesRequest) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    violations.principal(request.principal.as_ref());
    match &request.resource {
        None => violations.add(&"resource", "value is required"),
        Some(resource) => {
            violations.non_empty(&"resource.kind", &resource.kind);
            violations.version(&"resource.policy_version", &resource.policy_version);
            violations.attribute_keys(&"resource.attr", &resource.attr);
            violations.scope(&"resource.scope", &resource.scope);
        }
    }
    violations.strings(&"actions", &request.actions, false);
    if request.actions.len() > MAX_PLAN_ACTIONS {
        violations.add(
            &"actions",
            &format!("value must contain no more than {MAX_PLAN_ACTIONS} item(s)"),
        );
    }
    if request.action.is_empty() == request.actions.is_empty() {
        violations.add(
            &"",
            "Exactly one of 'action' or 'actions' field must be set",
        );
    }
    violations.aux_data(request.aux_data.as_ref());
    violations.into_result()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use lictor_proto::cerbos::request::v1::check_resources_request::ResourceEntry;

    const LIMITS: RequestLimits = RequestLimits {
        max_actions_per_resource: 3,
        max_resources_per_request: 2,
    };

    fn principal() -> engine::Principal {
        engine::Principal {
            id: "alice".into(),
            roles: vec!["user".into()],
            ..Default::default()
        }
    }

    fn entry(actions: &[&str]) -> ResourceEntry {
        ResourceEntry {
            actions: actions.iter().map(|a| (*a).to_string()).collect(),
            resource: Some(engine::Resource {
                kind: "album".into(),
                id: "a1".into(),
                ..Default::default()
            }),
        }
    }

    fn request(resources: Vec<ResourceEntry>) -> request::CheckResourcesRequest {
        request::CheckResourcesRequest {
            principal: Some(principal()),
            resources,
            ..Default::default()
        }
    }

    fn message(result: Result<(), ApiError>) -> String {
        result.unwrap_err().message
    }

    #[test]
    fn a_complete_request_passes() {
        check_resources(&request(vec![entry(&["view", "edit"])]), LIMITS).unwrap();
    }

    #[test]
    fn missing_fields_are_named() {
        let mut bad = request(vec![entry(&[]), entry(&["view", "view"])]);
        bad.principal = None;
        let text = message(check_resources(&bad, LIMITS));
        assert!(text.contains("principal: value is required"), "{text}");
        assert!(
            text.contains("resources[0].actions: value must contain at least 1"),
            "{text}"
        );
        assert!(
            text.contains("resources[1].actions: repeated value must contain unique items"),
            "{text}"
        );
        let text = message(check_resources(&request(vec![]), LIMITS));
        assert!(
            text.contains("resources: value must contain at least 1"),
            "{text}"
        );
        let mut no_id = request(vec![entry(&["view"])]);
        no_id.resources[0].resource.as_mut().unwrap().id.clear();
        no_id.principal.as_mut().unwrap().roles.clear();
        let text = message(check_resources(&no_id, LIMITS));
        assert!(text.contains("resources[0].resource.id"), "{text}");
        assert!(text.contains("principal.roles"), "{text}");
    }

    #[test]
    fn limits_are_enforced() {
        let text = message(check_resources(
            &request(vec![entry(&["a", "b", "c", "d"])]),
            LIMITS,
        ));
        assert_eq!(text, "number of actions (4) exceeds configured limit (3)");
        let text = message(check_resources(
            &request(vec![entry(&["a"]), entry(&["a"]), entry(&["a"])]),
            LIMITS,
        ));
        assert_eq!(
            text,
            "number of resources in batch (3) exceeds configured limit (2)"
        );
    }

    #[test]
    fn scopes_and_versions_follow_the_patterns() {
        for good in ["", ".", "acme", "acme.hr", "acme.hr-uk", "a._x", "0a"] {
            assert!(is_scope(good), "{good}");
        }
        for bad in ["acme.", ".acme", "-acme", "acme..hr", "acme.-x", "ac me"] {
            assert!(!is_scope(bad), "{bad}");
        }
        let mut bad = request(vec![entry(&["view"])]);
        bad.principal.as_mut().unwrap().policy_version = "v-1".into();
        let text = message(check_resources(&bad, LIMITS));
        assert!(text.contains("principal.policy_version"), "{text}");
    }

    #[test]
    #[allow(deprecated)]
    fn a_plan_names_exactly_one_of_action_and_actions() {
        let mut plan = request::PlanResourcesRequest {
            principal: Some(principal()),
            resource: Some(engine::plan_resources_input::Resource {
                kind: "album".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(message(plan_resources(&plan)).contains("Exactly one of"));
        plan.action = "view".into();
        plan_resources(&plan).unwrap();
        plan.actions = vec!["edit".into()];
        assert!(message(plan_resources(&plan)).contains("Exactly one of"));
        plan.action.clear();
        plan_resources(&plan).unwrap();
    }
}
