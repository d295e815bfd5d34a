//! Compiles policy files into a rule table: flat rows indexed by version and scope, every CEL expression
//! compiled once, every problem reported by file, line and column.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Map;

use crate::api::Effect;
use crate::cel::{Constants, Expr};
use crate::disk::PolicyFile;
use crate::error::{CompileError, CompileErrors, Diagnostics};
use crate::names::{
    derived_roles_key, principal_policy_key, resource_policy_key, role_policy_key, sanitize,
    scope_parents, with_scope,
};
use crate::policy::{
    read_policy, ConditionDoc, ConstantsDoc, DerivedRolesDoc, Located, OutputDoc, PolicyBody,
    PolicyDoc, PrincipalPolicyDoc, ResourcePolicyDoc, RolePolicyDoc, SchemaRefDoc,
    ScopePermissions, VariablesDoc,
};
use crate::schema::SchemaSet;
use crate::source::{parse_documents, Position};

/// A compiled condition tree.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    Expr(Expr),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    None(Vec<Condition>),
}

/// Constants and ordered variables of one policy (or derived role set); `id` keys the per-request cache.
#[derive(Debug)]
pub(crate) struct Params {
    pub(crate) id: usize,
    pub(crate) constants: Constants,
    pub(crate) variables: Vec<(String, Expr)>,
}

/// A derived role definition as imported by a resource policy.
#[derive(Debug)]
pub(crate) struct DerivedRole {
    pub(crate) name: String,
    pub(crate) parent_roles: Vec<String>,
    pub(crate) condition: Option<Condition>,
    pub(crate) params: Arc<Params>,
}

/// Output expressions of a rule.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) rule_activated: Option<Expr>,
    pub(crate) condition_not_met: Option<Expr>,
}

/// Whether a row comes from a principal policy or applies to resources (resource and role policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    Principal,
    Resource,
}

/// One row of the rule table: a (role, action) pair of a rule.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) kind: RowKind,
    pub(crate) principal: String,
    pub(crate) resource: String,
    pub(crate) role: String,
    pub(crate) action: String,
    pub(crate) condition: Option<Arc<Condition>>,
    pub(crate) derived_role: Option<Arc<DerivedRole>>,
    pub(crate) effect: Effect,
    pub(crate) scope: String,
    pub(crate) version: String,
    pub(crate) output: Option<Arc<Output>>,
    /// `<policy key>#<rule name>`, the `src` of outputs.
    pub(crate) output_src: String,
    pub(crate) params: Option<Arc<Params>>,
    /// Rows with the same key share one condition result per request.
    pub(crate) evaluation_key: Arc<str>,
    /// For rows generated from role policies: the role policy's key, which a DENY is attributed to.
    pub(crate) role_policy_key: Option<Arc<str>>,
}

/// A rule of a role policy.
#[derive(Debug)]
pub(crate) struct RoleRule {
    pub(crate) role: String,
    pub(crate) resource: String,
    pub(crate) allow_actions: Vec<String>,
    /// `none: [condition]`, the DENY applied when the rule's condition fails.
    pub(crate) inverted_condition: Option<Arc<Condition>>,
    pub(crate) evaluation_key: Arc<str>,
}

/// Role policies of one (scope, version).
#[derive(Debug, Default)]
pub(crate) struct RoleScope {
    pub(crate) roles: HashSet<String>,
    pub(crate) rules: Vec<RoleRule>,
}

/// The schemas a resource policy names.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicySchemas {
    pub(crate) principal: Option<SchemaRef>,
    pub(crate) resource: Option<SchemaRef>,
}

/// One schema of a resource policy: its reference and the actions (globs) it is not checked for.
#[derive(Debug, Clone)]
pub(crate) struct SchemaRef {
    pub(crate) reference: String,
    pub(crate) ignore_actions: Vec<String>,
}

impl SchemaRef {
    /// Whether a request for `actions` is validated: unless every action matches an ignored glob.
    pub(crate) fn applies_to(&self, actions: &[String]) -> bool {
        actions.iter().any(|action| {
            !self
                .ignore_actions
                .iter()
                .any(|ignored| crate::glob::matches(ignored, action))
        })
    }
}

/// A compiled policy store, ready for checks.
#[derive(Debug, Default)]
pub struct PolicyStore {
    /// Principal rows by principal id.
    pub(crate) principal_rows: HashMap<String, Vec<Row>>,
    /// Resource rows by (version, scope).
    pub(crate) resource_rows: HashMap<(String, String), Vec<Row>>,
    /// Role policies by (version, scope).
    pub(crate) role_scopes: HashMap<(String, String), RoleScope>,
    /// Role policy parents by scope: role -> every ancestor role.
    pub(crate) parent_roles: HashMap<String, HashMap<String, Vec<String>>>,
    /// Scopes with principal policies, with their versions.
    pub(crate) principal_scopes: HashSet<String>,
    pub(crate) principal_versions: HashSet<(String, String)>,
    /// Scopes with resource or role policies.
    pub(crate) resource_scopes: HashSet<String>,
    pub(crate) scope_permissions: HashMap<String, ScopePermissions>,
    /// Derived roles referenced by each resource policy, by policy key.
    pub(crate) derived_roles: HashMap<String, Vec<Arc<DerivedRole>>>,
    /// Schemas by resource policy key (the root policy's schemas for every scope).
    pub(crate) policy_schemas: HashMap<String, PolicySchemas>,
    pub(crate) schemas: SchemaSet,
    pub(crate) params_count: usize,
    pub(crate) policy_count: usize,
}

impl PolicyStore {
    /// Number of executable (resource, principal, role) policies loaded.
    pub fn policy_count(&self) -> usize {
        self.policy_count
    }
}

/// Whether a file in the store is a policy (not a schema, test suite or ignored file).
pub fn is_policy_file(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| p.starts_with('.') || *p == "testdata")
        || parts.first() == Some(&"_schemas")
    {
        return false;
    }
    let name = parts.last().copied().unwrap_or_default();
    let stem = [".yaml", ".yml", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext));
    stem.is_some_and(|s| !s.ends_with("_test"))
}

struct Loaded {
    doc: PolicyDoc,
}

struct Compiler<'a> {
    errors: Vec<CompileError>,
    derived_role_sets: HashMap<String, &'a PolicyDoc>,
    export_variables: HashMap<String, &'a PolicyDoc>,
    export_constants: HashMap<String, &'a PolicyDoc>,
    compiled_derived_roles: HashMap<String, Option<HashMap<String, Arc<DerivedRole>>>>,
    params_count: usize,
}

fn err(file: &str, pos: Position, message: String) -> CompileError {
    CompileError {
        file: file.to_owned(),
        line: pos.line,
        column: pos.column,
        message,
    }
}

fn compile_expr(file: &str, src: &Located, errors: &mut Vec<CompileError>) -> Option<Expr> {
    match Expr::compile(&src.text) {
        Ok(e) => Some(e),
        Err(e) => {
            let line = src.pos.line + e.line.saturating_sub(1);
            // Multi-line expressions are block scalars, whose lines share the first line's indentation.
            let column = src.pos.column + e.column.saturating_sub(1);
            errors.push(CompileError {
                file: file.to_owned(),
                line,
                column,
                message: format!("invalid expression `{}`: {}", src.text.trim(), e.message),
            });
            None
        }
    }
}

fn compile_condition(
    file: &str,
    doc: &ConditionDoc,
    params: Option<&Params>,
    errors: &mut Vec<CompileError>,
) -> Option<Condition> {
    let list = |items: &[ConditionDoc], errors: &mut Vec<CompileError>| -> Option<Vec<Condition>> {
        items
            .iter()
            .map(|c| compile_condition(file, c, params, errors))
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    };
    Some(match doc {
        ConditionDoc::Expr(src) => Condition::Expr(compile_checked(file, src, params, errors)?),
        ConditionDoc::All(items) => Condition::All(list(items, errors)?),
        ConditionDoc::Any(items) => Condition::Any(list(items, errors)?),
        ConditionDoc::None(items) => Condition::None(list(items, errors)?),
    })
}

fn compile_output(
    file: &str,
    doc: &OutputDoc,
    params: &Params,
    errors: &mut Vec<CompileError>,
) -> Output {
    let mut compile = |src: &Option<Located>| {
        src.as_ref()
            .and_then(|s| compile_checked(file, s, Some(params), errors))
    };
    Output {
        rule_activated: compile(&doc.rule_activated),
        condition_not_met: compile(&doc.condition_not_met),
    }
}

/// Compiles an expression and checks that it reads only the variables `params` defines.
fn compile_checked(
    file: &str,
    src: &Located,
    params: Option<&Params>,
    errors: &mut Vec<CompileError>,
) -> Option<Expr> {
    let expr = compile_expr(file, src, errors)?;
    if let Some(params) = params {
        for name in expr.referenced_variables() {
            if !params.variables.iter().any(|(n, _)| *n == name) {
                errors.push(err(file, src.pos, format!("undefined variable `{name}`")));
            }
        }
    }
    Some(expr)
}

impl<'a> Compiler<'a> {
    fn next_params(&mut self, constants: Constants, variables: Vec<(String, Expr)>) -> Arc<Params> {
        self.params_count += 1;
        Arc::new(Params {
            id: self.params_count - 1,
            constants,
            variables,
        })
    }

    /// Builds a policy's constants and ordered variables from its local definitions and imports.
    fn params(
        &mut self,
        file: &str,
        top_variables: &[(Located, Located)],
        constants: &ConstantsDoc,
        variables: &VariablesDoc,
    ) -> Arc<Params> {
        let mut constant_values = Map::new();
        let mut constant_origin: HashMap<String, String> = HashMap::new();
        for import in &constants.import {
            let Some(doc) = self.export_constants.get(&import.text).copied() else {
                self.errors.push(err(
                    file,
                    import.pos,
                    format!("constants import `{}` cannot be found", import.text),
                ));
                continue;
            };
            if let PolicyBody::ExportConstants { definitions, .. } = &doc.body {
                for (name, value) in definitions {
                    if let Some(previous) =
                        constant_origin.insert(name.text.clone(), import.text.clone())
                    {
                        self.errors.push(err(
                            file,
                            import.pos,
                            format!(
                                "constant `{}` is defined in both `{previous}` and `{}`",
                                name.text, import.text
                            ),
                        ));
                    }
                    constant_values.insert(name.text.clone(), value.clone());
                }
            }
        }
        for (name, value) in &constants.local {
            if let Some(previous) = constant_origin.insert(name.text.clone(), "local".to_owned()) {
                self.errors.push(err(
                    file,
                    name.pos,
                    format!("constant `{}` is also defined in `{previous}`", name.text),
                ));
            }
            constant_values.insert(name.text.clone(), value.clone());
        }

        // Every variable definition with the file it comes from, for error positions.
        let mut definitions: Vec<(String, Located, String)> = Vec::new();
        for import in &variables.import {
            let Some(doc) = self.export_variables.get(&import.text).copied() else {
                self.errors.push(err(
                    file,
                    import.pos,
                    format!("variables import `{}` cannot be found", import.text),
                ));
                continue;
            };
            if let PolicyBody::ExportVariables {
                definitions: defs, ..
            } = &doc.body
            {
                for (name, expr) in defs {
                    definitions.push((name.text.clone(), expr.clone(), doc.file.clone()));
                }
            }
        }
        for (name, expr) in top_variables.iter().chain(&variables.local) {
            definitions.push((name.text.clone(), expr.clone(), file.to_owned()));
        }
        let mut by_name: BTreeMap<String, (Located, String, Option<Expr>)> = BTreeMap::new();
        for (name, src, origin) in definitions {
            if by_name.contains_key(&name) {
                self.errors.push(err(
                    file,
                    src.pos,
                    format!("variable `{name}` is defined more than once"),
                ));
                continue;
            }
            let expr = compile_expr(&origin, &src, &mut self.errors);
            by_name.insert(name, (src, origin, expr));
        }
        let ordered = self.order_variables(file, &by_name);
        self.next_params(Constants::from_json(&constant_values), ordered)
    }

    /// Orders variables so that each comes after the variables it reads; reports unknown names and cycles.
    fn order_variables(
        &mut self,
        file: &str,
        by_name: &BTreeMap<String, (Located, String, Option<Expr>)>,
    ) -> Vec<(String, Expr)> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit(
            name: &str,
            by_name: &BTreeMap<String, (Located, String, Option<Expr>)>,
            marks: &mut HashMap<String, Mark>,
            ordered: &mut Vec<(String, Expr)>,
            errors: &mut Vec<CompileError>,
            file: &str,
        ) {
            match marks.get(name) {
                Some(Mark::Done) => return,
                Some(Mark::Visiting) => {
                    if let Some((src, origin, _)) = by_name.get(name) {
                        errors.push(err(
                            origin,
                            src.pos,
                            format!("variable `{name}` depends on itself (cycle)"),
                        ));
                    }
                    return;
                }
                None => {}
            }
            let Some((src, origin, expr)) = by_name.get(name) else {
                return;
            };
            marks.insert(name.to_owned(), Mark::Visiting);
            if let Some(expr) = expr {
                for dep in expr.referenced_variables() {
                    if by_name.contains_key(&dep) {
                        visit(&dep, by_name, marks, ordered, errors, file);
                    } else {
                        errors.push(err(
                            origin,
                            src.pos,
                            format!("variable `{name}` reads undefined variable `{dep}` (in policy file {file})"),
                        ));
                    }
                }
                ordered.push((name.to_owned(), expr.clone()));
            }
            marks.insert(name.to_owned(), Mark::Done);
        }
        let mut marks = HashMap::new();
        let mut ordered = Vec::new();
        for name in by_name.keys() {
            visit(
                name,
                by_name,
                &mut marks,
                &mut ordered,
                &mut self.errors,
                file,
            );
        }
        ordered
    }

    fn derived_role_set(&mut self, name: &str) -> Option<HashMap<String, Arc<DerivedRole>>> {
        if let Some(compiled) = self.compiled_derived_roles.get(name) {
            return compiled.clone();
        }
        let doc = *self.derived_role_sets.get(name)?;
        let PolicyBody::DerivedRoles(set) = &doc.body else {
            return None;
        };
        let compiled = self.compile_derived_roles(doc, set);
        self.compiled_derived_roles
            .insert(name.to_owned(), compiled.clone());
        compiled
    }

    fn compile_derived_roles(
        &mut self,
        doc: &PolicyDoc,
        set: &DerivedRolesDoc,
    ) -> Option<HashMap<String, Arc<DerivedRole>>> {
        let before = self.errors.len();
        let params = self.params(
            &doc.file,
            &doc.top_variables,
            &set.constants,
            &set.variables,
        );
        let mut roles = HashMap::new();
        for def in &set.definitions {
            let condition = def
                .condition
                .as_ref()
                .and_then(|c| compile_condition(&doc.file, c, Some(&params), &mut self.errors));
            let parent_roles = if def.parent_roles.iter().any(|r| r == "*") {
                vec!["*".to_owned()]
            } else {
                def.parent_roles.clone()
            };
            roles.insert(
                def.name.clone(),
                Arc::new(DerivedRole {
                    name: def.name.clone(),
                    parent_roles,
                    condition,
                    params: Arc::clone(&params),
                }),
            );
        }
        (self.errors.len() == before).then_some(roles)
    }
}

fn dedup_roles(roles: &[String]) -> Vec<String> {
    if roles.iter().any(|r| r == "*") {
        return vec!["*".to_owned()];
    }
    let mut out: Vec<String> = Vec::new();
    for r in roles {
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

fn invert(condition: Condition) -> Condition {
    Condition::None(vec![condition])
}

fn compile_resource_policy(
    c: &mut Compiler<'_>,
    store: &mut PolicyStore,
    doc: &PolicyDoc,
    rp: &ResourcePolicyDoc,
) {
    let file = &doc.file;
    let before = c.errors.len();
    let params = c.params(file, &doc.top_variables, &rp.constants, &rp.variables);
    let mut imported: HashMap<String, Vec<(String, Arc<DerivedRole>)>> = HashMap::new();
    for import in &rp.import_derived_roles {
        if !c.derived_role_sets.contains_key(&import.text) {
            c.errors.push(err(
                file,
                import.pos,
                format!("derived roles import `{}` cannot be found", import.text),
            ));
            continue;
        }
        if let Some(set) = c.derived_role_set(&import.text) {
            for (name, role) in set {
                imported
                    .entry(name)
                    .or_default()
                    .push((import.text.clone(), role));
            }
        }
    }
    let sanitized = sanitize(&rp.resource);
    let key = resource_policy_key(&rp.resource, &rp.version, &rp.scope);
    let mut referenced: Vec<Arc<DerivedRole>> = Vec::new();
    let mut rows = Vec::new();
    let permissions = rp
        .scope_permissions
        .unwrap_or(ScopePermissions::OverrideParent);
    let consent = rp.scope_permissions == Some(ScopePermissions::RequireParentalConsentForAllows);
    for (i, rule) in rp.rules.iter().enumerate() {
        let name = rule
            .name
            .clone()
            .unwrap_or_else(|| format!("rule-{:03}", i + 1));
        if rule.roles.is_empty() && rule.derived_roles.is_empty() {
            c.errors.push(err(
                file,
                rule.pos,
                format!("rule `{name}` does not specify any roles or derived roles"),
            ));
        }
        let mut condition = rule
            .condition
            .as_ref()
            .and_then(|d| compile_condition(file, d, Some(&params), &mut c.errors));
        let mut effect = rule.effect;
        if consent && effect == Effect::Allow {
            if let Some(cond) = condition.take() {
                condition = Some(invert(cond));
                effect = Effect::Deny;
            }
        }
        let condition = condition.map(Arc::new);
        let output = rule
            .output
            .as_ref()
            .map(|o| Arc::new(compile_output(file, o, &params, &mut c.errors)));
        let output_src = format!("{key}#{name}");
        let evaluation_key: Arc<str> = Arc::from(format!("{key}#{key}#{name}"));
        let mut derived = Vec::new();
        for dr in &rule.derived_roles {
            match imported.get(&dr.text).map(Vec::as_slice) {
                Some([(_, role)]) => {
                    if !referenced.iter().any(|r| Arc::ptr_eq(r, role)) {
                        referenced.push(Arc::clone(role));
                    }
                    derived.push(Arc::clone(role));
                }
                Some(several) if several.len() > 1 => {
                    let sets: Vec<&str> = several.iter().map(|(s, _)| s.as_str()).collect();
                    c.errors.push(err(
                        file,
                        dr.pos,
                        format!(
                            "derived role `{}` is defined in more than one import: {}",
                            dr.text,
                            sets.join(", ")
                        ),
                    ));
                }
                _ => c.errors.push(err(
                    file,
                    dr.pos,
                    format!("derived role `{}` is not defined in any imports", dr.text),
                )),
            }
        }
        for action in &rule.actions {
            let base = Row {
                kind: RowKind::Resource,
                principal: String::new(),
                resource: sanitized.clone(),
                role: String::new(),
                action: action.clone(),
                condition: condition.clone(),
                derived_role: None,
                effect,
                scope: rp.scope.clone(),
                version: rp.version.clone(),
                output: output.clone(),
                output_src: output_src.clone(),
                params: Some(Arc::clone(&params)),
                evaluation_key: Arc::clone(&evaluation_key),
                role_policy_key: None,
            };
            for role in dedup_roles(&rule.roles) {
                rows.push(Row {
                    role,
                    ..base.clone()
                });
            }
            for role in &derived {
                let key: Arc<str> =
                    Arc::from(format!("{}#{key}#{name}", derived_roles_key(&role.name)));
                for parent in &role.parent_roles {
                    rows.push(Row {
                        role: parent.clone(),
                        derived_role: Some(Arc::clone(role)),
                        evaluation_key: Arc::clone(&key),
                        ..base.clone()
                    });
                }
            }
        }
    }
    if c.errors.len() > before {
        return;
    }
    if rp.rules.is_empty() {
        // A policy without rules still marks its scope as present, so evaluation falls through to the parent.
        rows.push(Row {
            kind: RowKind::Resource,
            principal: String::new(),
            resource: sanitized.clone(),
            role: String::new(),
            action: String::new(),
            condition: None,
            derived_role: None,
            effect: Effect::NoMatch,
            scope: rp.scope.clone(),
            version: rp.version.clone(),
            output: None,
            output_src: String::new(),
            params: None,
            evaluation_key: Arc::from(""),
            role_policy_key: None,
        });
    }
    store
        .scope_permissions
        .insert(rp.scope.clone(), permissions);
    store.resource_scopes.insert(rp.scope.clone());
    store
        .resource_rows
        .entry((rp.version.clone(), rp.scope.clone()))
        .or_default()
        .extend(rows);
    store.derived_roles.insert(key.clone(), referenced);
    store.policy_count += 1;
}

fn compile_principal_policy(
    c: &mut Compiler<'_>,
    store: &mut PolicyStore,
    doc: &PolicyDoc,
    pp: &PrincipalPolicyDoc,
) {
    let file = &doc.file;
    let before = c.errors.len();
    let params = c.params(file, &doc.top_variables, &pp.constants, &pp.variables);
    let key = principal_policy_key(&pp.principal, &pp.version, &pp.scope);
    let consent = pp.scope_permissions == Some(ScopePermissions::RequireParentalConsentForAllows);
    // Rules for the same resource replace earlier ones, as in Cerbos.
    let mut by_resource: Vec<(String, Vec<Row>)> = Vec::new();
    for rule in &pp.rules {
        let mut rows = Vec::new();
        for (i, action) in rule.actions.iter().enumerate() {
            let name = action
                .name
                .clone()
                .unwrap_or_else(|| format!("{}_rule-{:03}", rule.resource, i + 1));
            let mut condition = action
                .condition
                .as_ref()
                .and_then(|d| compile_condition(file, d, Some(&params), &mut c.errors));
            let mut effect = action.effect;
            if consent && effect == Effect::Allow {
                if let Some(cond) = condition.take() {
                    condition = Some(invert(cond));
                    effect = Effect::Deny;
                }
            }
            rows.push(Row {
                kind: RowKind::Principal,
                principal: pp.principal.clone(),
                resource: sanitize(&rule.resource),
                role: "*".to_owned(),
                action: action.action.clone(),
                condition: condition.map(Arc::new),
                derived_role: None,
                effect,
                scope: pp.scope.clone(),
                version: pp.version.clone(),
                output: action
                    .output
                    .as_ref()
                    .map(|o| Arc::new(compile_output(file, o, &params, &mut c.errors))),
                output_src: format!("{key}#{name}"),
                params: Some(Arc::clone(&params)),
                evaluation_key: Arc::from(format!("{key}#{key}#{name}")),
                role_policy_key: None,
            });
        }
        by_resource.retain(|(r, _)| *r != rule.resource);
        by_resource.push((rule.resource.clone(), rows));
    }
    if c.errors.len() > before {
        return;
    }
    let rows: Vec<Row> = by_resource.into_iter().flat_map(|(_, rows)| rows).collect();
    store.scope_permissions.insert(
        pp.scope.clone(),
        pp.scope_permissions
            .unwrap_or(ScopePermissions::OverrideParent),
    );
    store.principal_scopes.insert(pp.scope.clone());
    store
        .principal_versions
        .insert((pp.version.clone(), pp.scope.clone()));
    store
        .principal_rows
        .entry(pp.principal.clone())
        .or_default()
        .extend(rows);
    store.policy_count += 1;
}

fn compile_role_policy(
    c: &mut Compiler<'_>,
    store: &mut PolicyStore,
    doc: &PolicyDoc,
    rp: &RolePolicyDoc,
) {
    let file = &doc.file;
    let before = c.errors.len();
    let version = if rp.version.is_empty() {
        "default".to_owned()
    } else {
        rp.version.clone()
    };
    let key = role_policy_key(&rp.role, &version, &rp.scope);
    let mut rules = Vec::new();
    for (i, rule) in rp.rules.iter().enumerate() {
        let condition = rule
            .condition
            .as_ref()
            .and_then(|d| compile_condition(file, d, None, &mut c.errors));
        rules.push(RoleRule {
            role: rp.role.clone(),
            resource: rule.resource.clone(),
            allow_actions: rule.allow_actions.clone(),
            inverted_condition: condition.map(|c| Arc::new(invert(c))),
            evaluation_key: Arc::from(format!("{key}#{}_rule-{i:03}", rp.role)),
        });
    }
    if c.errors.len() > before {
        return;
    }
    if !rules.is_empty() {
        store.resource_scopes.insert(rp.scope.clone());
    }
    let scope = store
        .role_scopes
        .entry((version, rp.scope.clone()))
        .or_default();
    scope.roles.insert(rp.role.clone());
    scope.rules.extend(rules);
    store
        .parent_roles
        .entry(rp.scope.clone())
        .or_default()
        .insert(rp.role.clone(), rp.parent_roles.clone());
    store.policy_count += 1;
}

/// Expands each role's parents transitively within its scope.
fn close_parent_roles(store: &mut PolicyStore) {
    for roles in store.parent_roles.values_mut() {
        let direct = roles.clone();
        for (role, parents) in roles.iter_mut() {
            let mut seen: Vec<String> = Vec::new();
            let mut visited: HashSet<&str> = HashSet::from([role.as_str()]);
            let mut stack: Vec<&String> = direct
                .get(role)
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            while let Some(parent) = stack.pop() {
                if !seen.contains(parent) {
                    seen.push(parent.clone());
                }
                if visited.insert(parent) {
                    stack.extend(direct.get(parent).into_iter().flatten());
                }
            }
            *parents = seen;
        }
    }
}

fn policy_id(doc: &PolicyDoc) -> String {
    match &doc.body {
        PolicyBody::Resource(rp) => resource_policy_key(&rp.resource, &rp.version, &rp.scope),
        PolicyBody::Principal(pp) => principal_policy_key(&pp.principal, &pp.version, &pp.scope),
        PolicyBody::Role(rp) => {
            let version = if rp.version.is_empty() {
                "default"
            } else {
                rp.version.as_str()
            };
            role_policy_key(&rp.role, version, &rp.scope)
        }
        PolicyBody::DerivedRoles(set) => derived_roles_key(&set.name),
        PolicyBody::ExportVariables { name, .. } => format!("export_variables.{}", sanitize(name)),
        PolicyBody::ExportConstants { name, .. } => format!("export_constants.{}", sanitize(name)),
    }
}

/// Scoped resource and principal policies need a policy in every ancestor scope (a role policy covering the
/// resource also counts for resource policies).
fn check_ancestors(docs: &[Loaded], errors: &mut Vec<CompileError>) {
    let mut ids: HashSet<String> = HashSet::new();
    let mut role_cover: Vec<(&str, &str, String)> = Vec::new();
    for l in docs {
        ids.insert(policy_id(&l.doc));
        if let PolicyBody::Role(rp) = &l.doc.body {
            let version = if rp.version.is_empty() {
                "default".to_owned()
            } else {
                rp.version.clone()
            };
            for rule in &rp.rules {
                role_cover.push((rule.resource.as_str(), rp.scope.as_str(), version.clone()));
            }
        }
    }
    for l in docs {
        let (scope, base, kind_version) = match &l.doc.body {
            PolicyBody::Resource(rp) => (
                &rp.scope,
                resource_policy_key(&rp.resource, &rp.version, ""),
                Some((rp.resource.as_str(), rp.version.as_str())),
            ),
            PolicyBody::Principal(pp) => (
                &pp.scope,
                principal_policy_key(&pp.principal, &pp.version, ""),
                None,
            ),
            _ => continue,
        };
        if scope.is_empty() {
            continue;
        }
        for parent in scope_parents(scope) {
            let ancestor = with_scope(&base, parent);
            if ids.contains(&ancestor) {
                continue;
            }
            let covered = kind_version.is_some_and(|(kind, version)| {
                role_cover.iter().any(|(glob, s, v)| {
                    *s == parent && v == version && crate::glob::matches(glob, &sanitize(kind))
                })
            });
            if !covered {
                errors.push(err(
                    &l.doc.file,
                    l.doc.pos,
                    format!(
                        "missing ancestor policy `{ancestor}` of `{}`",
                        policy_id(&l.doc)
                    ),
                ));
            }
        }
    }
}

/// Policies sharing a scope must agree on `scopePermissions` (an omitted value differs from an explicit one).
fn check_scope_permissions(docs: &[Loaded], errors: &mut Vec<CompileError>) {
    let mut seen: HashMap<&str, (Option<ScopePermissions>, &str)> = HashMap::new();
    for l in docs {
        let (scope, permissions) = match &l.doc.body {
            PolicyBody::Resource(rp) => (rp.scope.as_str(), rp.scope_permissions),
            PolicyBody::Principal(pp) => (pp.scope.as_str(), pp.scope_permissions),
            _ => continue,
        };
        match seen.get(scope) {
            Some((first, first_file)) if *first != permissions => errors.push(err(
                &l.doc.file,
                l.doc.pos,
                format!("policies sharing scope `{scope}` have conflicting scopePermissions (see {first_file})"),
            )),
            Some(_) => {}
            None => {
                seen.insert(scope, (permissions, &l.doc.file));
            }
        }
    }
}

/// Compiles a store's files: policies, `_schemas/` and nothing else (test suites and hidden files are skipped).
pub fn compile(files: &[PolicyFile]) -> Result<PolicyStore, CompileErrors> {
    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    let mut schema_files = Vec::new();
    for file in files {
        if let Some(rest) = file.path.strip_prefix("_schemas/") {
            if !rest.split('/').any(|p| p.starts_with('.')) {
                schema_files.push(file);
            }
            continue;
        }
        if !is_policy_file(&file.path) {
            continue;
        }
        let documents = match parse_documents(&file.text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(err(
                    &file.path,
                    e.pos,
                    format!("invalid YAML: {}", e.message),
                ));
                continue;
            }
        };
        for node in documents {
            let mut diags = Diagnostics::new(&file.path);
            if let Some(doc) = read_policy(&file.path, &node, &mut diags) {
                if !doc.disabled {
                    loaded.push(Loaded { doc });
                }
            }
            errors.extend(diags.into_errors());
        }
    }
    let schemas = SchemaSet::load(&schema_files);

    let mut first_seen: HashMap<String, &PolicyDoc> = HashMap::new();
    for l in &loaded {
        let id = policy_id(&l.doc);
        if let Some(first) = first_seen.get(&id) {
            errors.push(err(
                &l.doc.file,
                l.doc.pos,
                format!(
                    "duplicate policy `{id}` (also defined in {}:{})",
                    first.file, first.pos.line
                ),
            ));
        } else {
            first_seen.insert(id, &l.doc);
        }
    }
    check_ancestors(&loaded, &mut errors);
    check_scope_permissions(&loaded, &mut errors);

    let mut compiler = Compiler {
        errors: Vec::new(),
        derived_role_sets: HashMap::new(),
        export_variables: HashMap::new(),
        export_constants: HashMap::new(),
        compiled_derived_roles: HashMap::new(),
        params_count: 0,
    };
    for l in &loaded {
        match &l.doc.body {
            PolicyBody::DerivedRoles(set) => {
                compiler.derived_role_sets.insert(set.name.clone(), &l.doc);
            }
            PolicyBody::ExportVariables { name, .. } => {
                compiler.export_variables.insert(name.clone(), &l.doc);
            }
            PolicyBody::ExportConstants { name, .. } => {
                compiler.export_constants.insert(name.clone(), &l.doc);
            }
            _ => {}
        }
    }
    let mut store = PolicyStore::default();
    let mut schema_refs: Vec<(String, Position, String)> = Vec::new();
    for l in &loaded {
        match &l.doc.body {
            PolicyBody::Resource(rp) => {
                compile_resource_policy(&mut compiler, &mut store, &l.doc, rp);
                let schema_ref = |doc: &SchemaRefDoc| SchemaRef {
                    reference: doc.reference.text.clone(),
                    ignore_actions: doc.ignore_actions.clone(),
                };
                let refs = PolicySchemas {
                    principal: rp.schemas.principal.as_ref().map(schema_ref),
                    resource: rp.schemas.resource.as_ref().map(schema_ref),
                };
                for r in rp
                    .schemas
                    .principal
                    .iter()
                    .chain(rp.schemas.resource.iter())
                {
                    let r = &r.reference;
                    schema_refs.push((l.doc.file.clone(), r.pos, r.text.clone()));
                }
                if rp.scope.is_empty() {
                    let base = resource_policy_key(&rp.resource, &rp.version, "");
                    store.policy_schemas.insert(base, refs);
                }
            }
            PolicyBody::Principal(pp) => {
                compile_principal_policy(&mut compiler, &mut store, &l.doc, pp)
            }
            PolicyBody::Role(rp) => compile_role_policy(&mut compiler, &mut store, &l.doc, rp),
            PolicyBody::DerivedRoles(set) => {
                // Compile every set, imported or not, so that its errors are reported.
                compiler.derived_role_set(&set.name);
            }
            PolicyBody::ExportVariables { definitions, .. } => {
                for (_, src) in definitions {
                    compile_expr(&l.doc.file, src, &mut compiler.errors);
                }
            }
            PolicyBody::ExportConstants { .. } => {}
        }
    }
    for (file, pos, reference) in schema_refs {
        if let Err(message) = schemas.resolve(&reference) {
            errors.push(err(&file, pos, message));
        }
    }
    errors.extend(compiler.errors);
    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        errors.dedup();
        return Err(CompileErrors(errors));
    }
    close_parent_roles(&mut store);
    store.schemas = schemas;
    store.params_count = compiler.params_count;
    Ok(store)
}
