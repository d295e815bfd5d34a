//! How a tenant's AuthZEN requests are decided: an ordered list of mappings, each naming the
//! resource types and actions it covers and the decider (a directory check, a Rego package or a
//! Cerbos resource policy). The first mapping that covers a request decides it; none: a directory
//! check, the action being a relation or permission of the resource's type.

use serde::Deserialize;

/// The `authzen` section of the configuration (and of a tenant).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthzenSettings {
    /// Tried in order; the first that covers a request's resource type and action decides it.
    pub mappings: Vec<Mapping>,
}

/// One mapping: what it covers and what decides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// Resource types covered; empty: every type.
    pub resource_types: Vec<String>,
    /// Action names covered; empty: every action. Action search lists these.
    pub actions: Vec<String>,
    /// Decide by a directory check (the action is a relation or permission).
    pub directory: Option<DirectoryDecider>,
    /// Decide by a Rego policy.
    pub rego: Option<RegoDecider>,
    /// Decide by a Cerbos resource policy of the `cerbos` section's store.
    pub cerbos: Option<CerbosDecider>,
}

/// A directory check; it has no settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDecider {}

/// A Rego package decides: `package` itself (which reads `input.action.name`), or with
/// `package_per_action`, the package `<package>.<action name>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegoDecider {
    /// The package path (`authzen.todo`).
    pub package: String,
    /// One package per action, named `<package>.<action>`.
    pub package_per_action: bool,
    /// The boolean rule that is the decision; default `allowed`.
    pub decision: Option<String>,
}

impl RegoDecider {
    /// The rule read as the decision.
    pub fn decision(&self) -> &str {
        self.decision.as_deref().unwrap_or("allowed")
    }

    /// The package deciding `action`.
    pub fn package_for(&self, action: &str) -> String {
        if self.package_per_action {
            format!("{}.{action}", self.package)
        } else {
            self.package.clone()
        }
    }
}

/// A Cerbos resource policy decides: the resource type is the kind (unless `kind` says otherwise),
/// the action the action, the subject's properties the principal's attributes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CerbosDecider {
    /// The resource kind; default: the resource type.
    pub kind: Option<String>,
    /// The subject property holding the principal's roles (a string or a list of strings);
    /// default `roles`.
    pub roles_property: Option<String>,
    /// Roles of a subject without that property; default `["user"]`.
    pub default_roles: Option<Vec<String>>,
    /// The policy version; empty: the store's default.
    pub policy_version: String,
}

impl CerbosDecider {
    /// The subject property holding roles.
    pub fn roles_property(&self) -> &str {
        self.roles_property.as_deref().unwrap_or("roles")
    }

    /// Roles of a subject whose properties name none.
    pub fn default_roles(&self) -> Vec<String> {
        self.default_roles
            .clone()
            .unwrap_or_else(|| vec!["user".to_string()])
    }
}

/// What decides one request.
#[derive(Debug, Clone, Copy)]
pub enum Decider<'a> {
    /// A directory check.
    Directory,
    /// A Rego package.
    Rego(&'a RegoDecider),
    /// A Cerbos resource policy.
    Cerbos(&'a CerbosDecider),
}

impl Mapping {
    fn decider(&self) -> Decider<'_> {
        match (&self.rego, &self.cerbos) {
            (Some(rego), _) => Decider::Rego(rego),
            (None, Some(cerbos)) => Decider::Cerbos(cerbos),
            (None, None) => Decider::Directory,
        }
    }

    fn covers_type(&self, resource_type: &str) -> bool {
        self.resource_types.is_empty() || self.resource_types.iter().any(|t| t == resource_type)
    }

    fn covers(&self, resource_type: &str, action: &str) -> bool {
        self.covers_type(resource_type)
            && (self.actions.is_empty() || self.actions.iter().any(|a| a == action))
    }
}

impl AuthzenSettings {
    /// Reads an `authzen` section on its own (YAML text named `name` in errors), checked.
    pub fn from_yaml(text: &str, name: &str) -> Result<AuthzenSettings, String> {
        let settings: AuthzenSettings =
            serde_yaml_ng::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        settings.validate(name)?;
        Ok(settings)
    }

    /// The decider of a request on `resource_type` for `action`.
    pub fn decider(&self, resource_type: &str, action: &str) -> Decider<'_> {
        self.mappings
            .iter()
            .find(|m| m.covers(resource_type, action))
            .map_or(Decider::Directory, Mapping::decider)
    }

    /// The actions that mappings covering `resource_type` list, in order, without repeats; and
    /// whether some request on the type may still reach the directory (no mapping covers every
    /// action of the type with a policy).
    pub fn listed_actions(&self, resource_type: &str) -> (Vec<String>, bool) {
        let mut actions: Vec<String> = Vec::new();
        for mapping in self
            .mappings
            .iter()
            .filter(|m| m.covers_type(resource_type))
        {
            if mapping.actions.is_empty() {
                return (actions, matches!(mapping.decider(), Decider::Directory));
            }
            for action in &mapping.actions {
                if !actions.contains(action) {
                    actions.push(action.clone());
                }
            }
        }
        (actions, true)
    }

    /// Checks every mapping; the error names the field at fault under `prefix` (`authzen` or
    /// `tenants[0].authzen`).
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        for (i, mapping) in self.mappings.iter().enumerate() {
            let at = format!("{prefix}.mappings[{i}]");
            let deciders = [
                mapping.directory.is_some(),
                mapping.rego.is_some(),
                mapping.cerbos.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
            if deciders != 1 {
                return Err(format!(
                    "{at} must have exactly one of directory, rego or cerbos (it has {deciders})"
                ));
            }
            for (j, name) in mapping.resource_types.iter().enumerate() {
                if name.trim().is_empty() {
                    return Err(format!("{at}.resource_types[{j}] is empty"));
                }
            }
            for (j, name) in mapping.actions.iter().enumerate() {
                if name.trim().is_empty() {
                    return Err(format!("{at}.actions[{j}] is empty"));
                }
            }
            if let Some(rego) = &mapping.rego {
                let valid = |part: &str| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                };
                if !rego.package.split('.').all(valid) {
                    return Err(format!(
                        "{at}.rego.package {:?} is not a package path (names joined by '.')",
                        rego.package
                    ));
                }
                if !valid(rego.decision()) {
                    return Err(format!(
                        "{at}.rego.decision {:?} is not a rule name",
                        rego.decision()
                    ));
                }
                if rego.package_per_action {
                    if let Some(action) = mapping.actions.iter().find(|a| !valid(a)) {
                        return Err(format!(
                            "{at}.actions: {action:?} cannot name a package (rego.package_per_action)"
                        ));
                    }
                }
            }
            if let Some(cerbos) = &mapping.cerbos {
                if cerbos.kind.as_deref().is_some_and(str::is_empty) {
                    return Err(format!("{at}.cerbos.kind is empty"));
                }
                if cerbos.roles_property().is_empty() {
                    return Err(format!("{at}.cerbos.roles_property is empty"));
                }
                if cerbos.default_roles().iter().any(String::is_empty)
                    || cerbos.default_roles().is_empty()
                {
                    return Err(format!(
                        "{at}.cerbos.default_roles must be non-empty role names"
                    ));
                }
            }
        }
        Ok(())
    }
}
