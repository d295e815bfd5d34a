//! The Cerbos policy model as written in YAML or JSON, read from the positioned tree with every unknown
//! field and malformed value reported by file, line and column.

use serde_json::Value as Json;

use crate::api::Effect;
use crate::error::Diagnostics;
use crate::source::{Node, NodeValue, Position};

/// A string with the position of its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) text: String,
    pub(crate) pos: Position,
}

/// Scope permissions of a scoped resource or principal policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScopePermissions {
    OverrideParent,
    RequireParentalConsentForAllows,
}

/// A condition tree (`condition.match`).
#[derive(Debug, Clone)]
pub(crate) enum ConditionDoc {
    Expr(Located),
    All(Vec<ConditionDoc>),
    Any(Vec<ConditionDoc>),
    None(Vec<ConditionDoc>),
}

/// A rule's output expressions.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputDoc {
    pub(crate) rule_activated: Option<Located>,
    pub(crate) condition_not_met: Option<Located>,
}

/// Constants of a policy: local values and imported `exportConstants` names.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConstantsDoc {
    pub(crate) import: Vec<Located>,
    pub(crate) local: Vec<(Located, Json)>,
}

/// Variables of a policy: local expressions and imported `exportVariables` names.
#[derive(Debug, Clone, Default)]
pub(crate) struct VariablesDoc {
    pub(crate) import: Vec<Located>,
    pub(crate) local: Vec<(Located, Located)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceRuleDoc {
    pub(crate) pos: Position,
    pub(crate) name: Option<String>,
    pub(crate) actions: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) derived_roles: Vec<Located>,
    pub(crate) effect: Effect,
    pub(crate) condition: Option<ConditionDoc>,
    pub(crate) output: Option<OutputDoc>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SchemasDoc {
    pub(crate) principal: Option<SchemaRefDoc>,
    pub(crate) resource: Option<SchemaRefDoc>,
}

/// A schema reference and the actions (globs) whose requests it does not validate.
#[derive(Debug, Clone)]
pub(crate) struct SchemaRefDoc {
    pub(crate) reference: Located,
    pub(crate) ignore_actions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourcePolicyDoc {
    pub(crate) resource: String,
    pub(crate) version: String,
    pub(crate) scope: String,
    pub(crate) scope_permissions: Option<ScopePermissions>,
    pub(crate) import_derived_roles: Vec<Located>,
    pub(crate) schemas: SchemasDoc,
    pub(crate) constants: ConstantsDoc,
    pub(crate) variables: VariablesDoc,
    pub(crate) rules: Vec<ResourceRuleDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalActionDoc {
    pub(crate) action: String,
    pub(crate) name: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) condition: Option<ConditionDoc>,
    pub(crate) output: Option<OutputDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalRuleDoc {
    pub(crate) resource: String,
    pub(crate) actions: Vec<PrincipalActionDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalPolicyDoc {
    pub(crate) principal: String,
    pub(crate) version: String,
    pub(crate) scope: String,
    pub(crate) scope_permissions: Option<ScopePermissions>,
    pub(crate) constants: ConstantsDoc,
    pub(crate) variables: VariablesDoc,
    pub(crate) rules: Vec<PrincipalRuleDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct DerivedRoleDoc {
    pub(crate) name: String,
    pub(crate) parent_roles: Vec<String>,
    pub(crate) condition: Option<ConditionDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct DerivedRolesDoc {
    pub(crate) name: String,
    pub(crate) constants: ConstantsDoc,
    pub(crate) variables: VariablesDoc,
    pub(crate) definitions: Vec<DerivedRoleDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct RoleRuleDoc {
    pub(crate) resource: String,
    pub(crate) allow_actions: Vec<String>,
    pub(crate) condition: Option<ConditionDoc>,
}

#[derive(Debug, Clone)]
pub(crate) struct RolePolicyDoc {
    pub(crate) role: String,
    pub(crate) version: String,
    pub(crate) scope: String,
    pub(crate) parent_roles: Vec<String>,
    pub(crate) rules: Vec<RoleRuleDoc>,
}

/// The kind-specific part of a policy.
#[derive(Debug, Clone)]
pub(crate) enum PolicyBody {
    Resource(ResourcePolicyDoc),
    Principal(PrincipalPolicyDoc),
    DerivedRoles(DerivedRolesDoc),
    ExportVariables {
        name: String,
        definitions: Vec<(Located, Located)>,
    },
    ExportConstants {
        name: String,
        definitions: Vec<(Located, Json)>,
    },
    Role(RolePolicyDoc),
}

/// One policy document of a file.
#[derive(Debug, Clone)]
pub(crate) struct PolicyDoc {
    pub(crate) file: String,
    pub(crate) pos: Position,
    pub(crate) disabled: bool,
    /// The deprecated top-level `variables` map.
    pub(crate) top_variables: Vec<(Located, Located)>,
    pub(crate) body: PolicyBody,
}

/// Reads the fields of one mapping node, reporting unknown ones.
struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node, Position, bool)>,
}

impl<'a> Fields<'a> {
    fn new(node: &'a Node, what: &str, diags: &mut Diagnostics) -> Option<Fields<'a>> {
        match &node.value {
            NodeValue::Map(entries) => Some(Fields {
                entries: entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default(), v, k.pos, false))
                    .collect(),
            }),
            _ if node.is_null() => Some(Fields {
                entries: Vec::new(),
            }),
            _ => {
                diags.push(node.pos, format!("{what} must be a mapping"));
                None
            }
        }
    }

    fn take(&mut self, name: &str) -> Option<&'a Node> {
        let entry = self
            .entries
            .iter_mut()
            .find(|(k, _, _, used)| *k == name && !used)?;
        entry.3 = true;
        Some(entry.1).filter(|n| !n.is_null())
    }

    fn finish(self, what: &str, diags: &mut Diagnostics) {
        for (name, _, pos, used) in self.entries {
            if !used {
                diags.push(pos, format!("unknown field `{name}` in {what}"));
            }
        }
    }
}

fn string(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> String {
    match node {
        None => String::new(),
        Some(n) => match n.as_str() {
            Some(s) => s.to_owned(),
            None => {
                diags.push(n.pos, format!("`{field}` must be a string"));
                String::new()
            }
        },
    }
}

fn located(node: &Node, field: &str, diags: &mut Diagnostics) -> Option<Located> {
    match node.as_str() {
        Some(s) => Some(Located {
            text: s.to_owned(),
            pos: node.pos,
        }),
        None => {
            diags.push(node.pos, format!("`{field}` must be a string"));
            None
        }
    }
}

fn located_list(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> Vec<Located> {
    match node.map(|n| (&n.value, n.pos)) {
        None => Vec::new(),
        Some((NodeValue::Seq(items), _)) => items
            .iter()
            .filter_map(|i| located(i, field, diags))
            .collect(),
        Some((_, pos)) => {
            diags.push(pos, format!("`{field}` must be a list of strings"));
            Vec::new()
        }
    }
}

fn string_list(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> Vec<String> {
    located_list(node, field, diags)
        .into_iter()
        .map(|l| l.text)
        .collect()
}

fn required(node: Option<&Node>, field: &str, at: Position, diags: &mut Diagnostics) -> String {
    let value = string(node, field, diags);
    if value.is_empty() {
        diags.push(node.map_or(at, |n| n.pos), format!("`{field}` is required"));
    }
    value
}

fn effect(node: Option<&Node>, at: Position, diags: &mut Diagnostics) -> Effect {
    match node.and_then(Node::as_str) {
        Some("EFFECT_ALLOW") => Effect::Allow,
        Some("EFFECT_DENY") => Effect::Deny,
        _ => {
            diags.push(
                node.map_or(at, |n| n.pos),
                "`effect` must be EFFECT_ALLOW or EFFECT_DENY".to_owned(),
            );
            Effect::Deny
        }
    }
}

fn scope_permissions(node: Option<&Node>, diags: &mut Diagnostics) -> Option<ScopePermissions> {
    let node = node?;
    match node.as_str() {
        Some("SCOPE_PERMISSIONS_OVERRIDE_PARENT") => Some(ScopePermissions::OverrideParent),
        Some("SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS") => {
            Some(ScopePermissions::RequireParentalConsentForAllows)
        }
        Some("SCOPE_PERMISSIONS_UNSPECIFIED") => None,
        _ => {
            diags.push(node.pos, "unknown `scopePermissions` value".to_owned());
            None
        }
    }
}

fn expression_map(
    node: Option<&Node>,
    field: &str,
    diags: &mut Diagnostics,
) -> Vec<(Located, Located)> {
    let Some(node) = node else { return Vec::new() };
    let NodeValue::Map(entries) = &node.value else {
        diags.push(
            node.pos,
            format!("`{field}` must be a mapping of names to expressions"),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| Some((located(k, field, diags)?, located(v, field, diags)?)))
        .collect()
}

fn value_map(node: Option<&Node>, field: &str, diags: &mut Diagnostics) -> Vec<(Located, Json)> {
    let Some(node) = node else { return Vec::new() };
    let NodeValue::Map(entries) = &node.value else {
        diags.push(node.pos, format!("`{field}` must be a mapping"));
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| Some((located(k, field, diags)?, v.to_json())))
        .collect()
}

fn constants(node: Option<&Node>, diags: &mut Diagnostics) -> ConstantsDoc {
    let Some(node) = node else {
        return ConstantsDoc::default();
    };
    let Some(mut fields) = Fields::new(node, "constants", diags) else {
        return ConstantsDoc::default();
    };
    let doc = ConstantsDoc {
        import: located_list(fields.take("import"), "constants.import", diags),
        local: value_map(fields.take("local"), "constants.local", diags),
    };
    fields.finish("constants", diags);
    doc
}

fn variables(node: Option<&Node>, diags: &mut Diagnostics) -> VariablesDoc {
    let Some(node) = node else {
        return VariablesDoc::default();
    };
    let Some(mut fields) = Fields::new(node, "variables", diags) else {
        return VariablesDoc::default();
    };
    let doc = VariablesDoc {
        import: located_list(fields.take("import"), "variables.import", diags),
        local: expression_map(fields.take("local"), "variables.local", diags),
    };
    fields.finish("variables", diags);
    doc
}

fn condition_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<ConditionDoc> {
    let Some(mut fields) = Fields::new(node, what, diags) else {
        return Vec::new();
    };
    let list = match fields.take("of").map(|n| (&n.value, n.pos)) {
        Some((NodeValue::Seq(items), _)) => {
            items.iter().filter_map(|i| match_node(i, diags)).collect()
        }
        Some((_, pos)) => {
            diags.push(pos, format!("`{what}.of` must be a list"));
            Vec::new()
        }
        None => {
            diags.push(node.pos, format!("`{what}.of` is required"));
            Vec::new()
        }
    };
    fields.finish(what, diags);
    list
}

fn match_node(node: &Node, diags: &mut Diagnostics) -> Option<ConditionDoc> {
    let mut fields = Fields::new(node, "match", diags)?;
    let mut found = Vec::new();
    if let Some(expr) = fields.take("expr") {
        found.extend(located(expr, "expr", diags).map(ConditionDoc::Expr));
    }
    if let Some(all) = fields.take("all") {
        found.push(ConditionDoc::All(condition_list(all, "all", diags)));
    }
    if let Some(any) = fields.take("any") {
        found.push(ConditionDoc::Any(condition_list(any, "any", diags)));
    }
    if let Some(none) = fields.take("none") {
        found.push(ConditionDoc::None(condition_list(none, "none", diags)));
    }
    fields.finish("match", diags);
    if found.len() != 1 {
        diags.push(
            node.pos,
            "a match needs exactly one of `expr`, `all`, `any`, `none`".to_owned(),
        );
    }
    found.into_iter().next()
}

fn condition(node: Option<&Node>, diags: &mut Diagnostics) -> Option<ConditionDoc> {
    let node = node?;
    let mut fields = Fields::new(node, "condition", diags)?;
    let result = match fields.take("match") {
        Some(m) => match_node(m, diags),
        None => {
            diags.push(node.pos, "`condition.match` is required".to_owned());
            None
        }
    };
    fields.finish("condition", diags);
    result
}

fn output(node: Option<&Node>, diags: &mut Diagnostics) -> Option<OutputDoc> {
    let node = node?;
    let mut fields = Fields::new(node, "output", diags)?;
    let mut doc = OutputDoc::default();
    if let Some(expr) = fields.take("expr") {
        doc.rule_activated = located(expr, "output.expr", diags);
    }
    if let Some(when) = fields.take("when") {
        if let Some(mut when_fields) = Fields::new(when, "output.when", diags) {
            if let Some(activated) = when_fields.take("ruleActivated") {
                doc.rule_activated = located(activated, "output.when.ruleActivated", diags);
            }
            if let Some(not_met) = when_fields.take("conditionNotMet") {
                doc.condition_not_met = located(not_met, "output.when.conditionNotMet", diags);
            }
            when_fields.finish("output.when", diags);
        }
    }
    fields.finish("output", diags);
    Some(doc)
}

fn seq<'a>(node: Option<&'a Node>, field: &str, diags: &mut Diagnostics) -> &'a [Node] {
    match node.map(|n| &n.value) {
        Some(NodeValue::Seq(items)) => items,
        Some(_) => {
            if let Some(n) = node {
                diags.push(n.pos, format!("`{field}` must be a list"));
            }
            &[]
        }
        None => &[],
    }
}

fn resource_policy(node: &Node, diags: &mut Diagnostics) -> Option<ResourcePolicyDoc> {
    let mut f = Fields::new(node, "resourcePolicy", diags)?;
    let resource = required(f.take("resource"), "resource", node.pos, diags);
    let version = required(f.take("version"), "version", node.pos, diags);
    let scope = string(f.take("scope"), "scope", diags);
    let scope_permissions = scope_permissions(f.take("scopePermissions"), diags);
    let import_derived_roles =
        located_list(f.take("importDerivedRoles"), "importDerivedRoles", diags);
    let mut schemas = SchemasDoc::default();
    if let Some(s) = f.take("schemas") {
        if let Some(mut sf) = Fields::new(s, "schemas", diags) {
            for (field, slot) in [
                ("principalSchema", &mut schemas.principal),
                ("resourceSchema", &mut schemas.resource),
            ] {
                if let Some(schema) = sf.take(field) {
                    if let Some(mut rf) = Fields::new(schema, field, diags) {
                        let reference = rf.take("ref").and_then(|r| located(r, "ref", diags));
                        let mut ignore_actions = Vec::new();
                        if let Some(ignore) = rf.take("ignoreWhen") {
                            if let Some(mut inf) = Fields::new(ignore, "ignoreWhen", diags) {
                                ignore_actions = string_list(inf.take("actions"), "actions", diags);
                                inf.finish("ignoreWhen", diags);
                            }
                        }
                        *slot = reference.map(|reference| SchemaRefDoc {
                            reference,
                            ignore_actions,
                        });
                        rf.finish(field, diags);
                    }
                }
            }
            sf.finish("schemas", diags);
        }
    }
    let constants = constants(f.take("constants"), diags);
    let variables = variables(f.take("variables"), diags);
    let mut rules = Vec::new();
    for rule in seq(f.take("rules"), "rules", diags) {
        let Some(mut rf) = Fields::new(rule, "rule", diags) else {
            continue;
        };
        let actions = string_list(rf.take("actions"), "actions", diags);
        if actions.is_empty() {
            diags.push(rule.pos, "a rule needs at least one action".to_owned());
        }
        rules.push(ResourceRuleDoc {
            pos: rule.pos,
            name: rf.take("name").and_then(Node::as_str).map(str::to_owned),
            actions,
            roles: string_list(rf.take("roles"), "roles", diags),
            derived_roles: located_list(rf.take("derivedRoles"), "derivedRoles", diags),
            effect: effect(rf.take("effect"), rule.pos, diags),
            condition: condition(rf.take("condition"), diags),
            output: output(rf.take("output"), diags),
        });
        rf.finish("rule", diags);
    }
    f.finish("resourcePolicy", diags);
    Some(ResourcePolicyDoc {
        resource,
        version,
        scope,
        scope_permissions,
        import_derived_roles,
        schemas,
        constants,
        variables,
        rules,
    })
}

fn principal_policy(node: &Node, diags: &mut Diagnostics) -> Option<PrincipalPolicyDoc> {
    let mut f = Fields::new(node, "principalPolicy", diags)?;
    let principal = required(f.take("principal"), "principal", node.pos, diags);
    let version = required(f.take("version"), "version", node.pos, diags);
    let scope = string(f.take("scope"), "scope", diags);
    let scope_permissions = scope_permissions(f.take("scopePermissions"), diags);
    let constants = constants(f.take("constants"), diags);
    let variables = variables(f.take("variables"), diags);
    let mut rules = Vec::new();
    for rule in seq(f.take("rules"), "rules", diags) {
        let Some(mut rf) = Fields::new(rule, "rule", diags) else {
            continue;
        };
        let resource = required(rf.take("resource"), "resource", rule.pos, diags);
        let mut actions = Vec::new();
        for action in seq(rf.take("actions"), "actions", diags) {
            let Some(mut af) = Fields::new(action, "action", diags) else {
                continue;
            };
            actions.push(PrincipalActionDoc {
                action: required(af.take("action"), "action", action.pos, diags),
                name: af.take("name").and_then(Node::as_str).map(str::to_owned),
                effect: effect(af.take("effect"), action.pos, diags),
                condition: condition(af.take("condition"), diags),
                output: output(af.take("output"), diags),
            });
            af.finish("action rule", diags);
        }
        rf.finish("principal rule", diags);
        rules.push(PrincipalRuleDoc { resource, actions });
    }
    f.finish("principalPolicy", diags);
    Some(PrincipalPolicyDoc {
        principal,
        version,
        scope,
        scope_permissions,
        constants,
        variables,
        rules,
    })
}

fn derived_roles(node: &Node, diags: &mut Diagnostics) -> Option<DerivedRolesDoc> {
    let mut f = Fields::new(node, "derivedRoles", diags)?;
    let name = required(f.take("name"), "name", node.pos, diags);
    let constants = constants(f.take("constants"), diags);
    let variables = variables(f.take("variables"), diags);
    let mut definitions = Vec::new();
    for def in seq(f.take("definitions"), "definitions", diags) {
        let Some(mut df) = Fields::new(def, "derived role", diags) else {
            continue;
        };
        definitions.push(DerivedRoleDoc {
            name: required(df.take("name"), "name", def.pos, diags),
            parent_roles: string_list(df.take("parentRoles"), "parentRoles", diags),
            condition: condition(df.take("condition"), diags),
        });
        df.finish("derived role", diags);
    }
    f.finish("derivedRoles", diags);
    Some(DerivedRolesDoc {
        name,
        constants,
        variables,
        definitions,
    })
}

fn role_policy(node: &Node, diags: &mut Diagnostics) -> Option<RolePolicyDoc> {
    let mut f = Fields::new(node, "rolePolicy", diags)?;
    let role = required(f.take("role"), "role", node.pos, diags);
    let version = string(f.take("version"), "version", diags);
    let scope = string(f.take("scope"), "scope", diags);
    let parent_roles = string_list(f.take("parentRoles"), "parentRoles", diags);
    let mut rules = Vec::new();
    for rule in seq(f.take("rules"), "rules", diags) {
        let Some(mut rf) = Fields::new(rule, "role rule", diags) else {
            continue;
        };
        rules.push(RoleRuleDoc {
            resource: required(rf.take("resource"), "resource", rule.pos, diags),
            allow_actions: string_list(rf.take("allowActions"), "allowActions", diags),
            condition: condition(rf.take("condition"), diags),
        });
        rf.finish("role rule", diags);
    }
    f.finish("rolePolicy", diags);
    Some(RolePolicyDoc {
        role,
        version,
        scope,
        parent_roles,
        rules,
    })
}

fn export(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<(String, Node)> {
    let mut f = Fields::new(node, what, diags)?;
    let name = required(f.take("name"), "name", node.pos, diags);
    let definitions = f.take("definitions").cloned().unwrap_or(Node {
        value: NodeValue::Map(Vec::new()),
        pos: node.pos,
    });
    f.finish(what, diags);
    Some((name, definitions))
}

/// Reads one policy document; `None` when it has errors (already reported).
pub(crate) fn read_policy(file: &str, node: &Node, diags: &mut Diagnostics) -> Option<PolicyDoc> {
    let before = diags.len();
    let mut f = Fields::new(node, "policy", diags)?;
    match f.take("apiVersion").and_then(Node::as_str) {
        Some("api.cerbos.dev/v1") => {}
        _ => diags.push(
            node.pos,
            "`apiVersion` must be api.cerbos.dev/v1".to_owned(),
        ),
    }
    let disabled = matches!(f.take("disabled").and_then(Node::as_str), Some("true"));
    f.take("description");
    f.take("metadata");
    f.take("$schema");
    let top_variables = expression_map(f.take("variables"), "variables", diags);
    let mut bodies = Vec::new();
    if let Some(n) = f.take("resourcePolicy") {
        bodies.extend(resource_policy(n, diags).map(PolicyBody::Resource));
    }
    if let Some(n) = f.take("principalPolicy") {
        bodies.extend(principal_policy(n, diags).map(PolicyBody::Principal));
    }
    if let Some(n) = f.take("derivedRoles") {
        bodies.extend(derived_roles(n, diags).map(PolicyBody::DerivedRoles));
    }
    if let Some(n) = f.take("rolePolicy") {
        bodies.extend(role_policy(n, diags).map(PolicyBody::Role));
    }
    if let Some(n) = f.take("exportVariables") {
        if let Some((name, defs)) = export(n, "exportVariables", diags) {
            let definitions = expression_map(Some(&defs), "exportVariables.definitions", diags);
            bodies.push(PolicyBody::ExportVariables { name, definitions });
        }
    }
    if let Some(n) = f.take("exportConstants") {
        if let Some((name, defs)) = export(n, "exportConstants", diags) {
            let definitions = value_map(Some(&defs), "exportConstants.definitions", diags);
            bodies.push(PolicyBody::ExportConstants { name, definitions });
        }
    }
    f.finish("policy", diags);
    if bodies.len() != 1 {
        diags.push(node.pos, "a policy needs exactly one of resourcePolicy, principalPolicy, derivedRoles, rolePolicy, exportVariables, exportConstants".to_owned());
    }
    if diags.len() > before {
        return None;
    }
    let body = bodies.into_iter().next()?;
    Some(PolicyDoc {
        file: file.to_owned(),
        pos: node.pos,
        disabled,
        top_variables,
        body,
    })
}
