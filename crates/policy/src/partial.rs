//! Partial evaluation for Topaz's `Compile`: a query is evaluated with some of `input` unknown
//! (`input.resource`), and what cannot be decided is returned as residual queries in OPA's AST JSON,
//! the shape data-filtering adapters turn into SQL or ORM filters.
//!
//! It covers the data-filtering subset of Rego: rule references (inlined, one residual query per
//! rule body), comparisons, `in`, `some … in` and `x[_]` over known collections, `:=`/`=`, `not` of a
//! single condition, and calls whose arguments are known or which stand as a condition. Everything
//! that does not touch an unknown is evaluated by the engine itself, `ds.*` built-ins included.
//! Anything else is refused with an error naming the construct and its `file:line:column`.

use crate::error::PolicyError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How deep rule references may nest before the evaluation gives up (recursion is not Rego).
const MAX_DEPTH: usize = 32;

/// Evaluates known expressions and rules with the full engine.
pub(crate) trait KnownEval {
    /// The value of the rule at `path` (`data.a.b`), `None` when undefined.
    fn rule(&self, path: &str) -> Result<Option<Value>, PolicyError>;
    /// The value of a Rego expression written with literal arguments, `None` when undefined.
    fn expression(&self, text: &str) -> Result<Option<Value>, PolicyError>;
}

/// The parsed modules, as the engine's AST JSON.
pub(crate) struct Program {
    modules: Vec<Module>,
}

struct Module {
    file: String,
    contents: String,
    package: Vec<String>,
    /// Import aliases: `bar` for `import data.foo.bar`, mapped to the imported reference.
    imports: HashMap<String, Vec<String>>,
    rules: Vec<Value>,
}

impl Program {
    /// Reads the engine's AST JSON.
    pub(crate) fn from_ast_json(text: &str) -> Result<Program, String> {
        let all: Vec<Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut modules = Vec::with_capacity(all.len());
        for entry in all {
            let file = entry
                .f("source")
                .f("file")
                .as_str()
                .unwrap_or("")
                .to_string();
            let contents = entry
                .f("source")
                .f("contents")
                .as_str()
                .unwrap_or("")
                .to_string();
            let ast = entry.f("ast");
            let package = ref_path(ast.f("package").f("refr")).ok_or("unreadable package")?;
            let mut imports = HashMap::new();
            for import in ast.f("imports").as_array().into_iter().flatten() {
                let Some(path) = ref_path(import.f("refr")) else {
                    continue;
                };
                let alias = import
                    .f("as")
                    .as_str()
                    .map(String::from)
                    .or_else(|| path.last().cloned());
                if let (Some(alias), Some(root)) = (alias, path.first()) {
                    if root == "data" || root == "input" {
                        imports.insert(alias, path);
                    }
                }
            }
            let rules = ast.f("rules").as_array().cloned().unwrap_or_default();
            modules.push(Module {
                file,
                contents,
                package,
                imports,
                rules,
            });
        }
        Ok(Program { modules })
    }

    /// Every rule of every module, once per definition: its file, package (below `data`), name
    /// (`None` for a head that is not a plain name), line, and whether it is a function.
    pub(crate) fn rule_heads(&self) -> impl Iterator<Item = RuleHead<'_>> {
        self.modules.iter().flat_map(|module| {
            module.rules.iter().map(move |rule| {
                let (_, node) = variant(rule).unwrap_or(("", &Value::Null));
                let has_args = node
                    .f("args")
                    .as_array()
                    .is_some_and(|args| !args.is_empty());
                let function = variant(node.f("head")).is_some_and(|(kind, _)| kind == "Func");
                RuleHead {
                    file: &module.file,
                    package: &module.package,
                    name: rule_name(rule),
                    line: node.f("span").f("line").as_u64().unwrap_or(0),
                    function: function || has_args,
                }
            })
        })
    }
}

/// One rule definition, as [`Program::rule_heads`] lists it.
pub(crate) struct RuleHead<'p> {
    pub file: &'p str,
    pub package: &'p [String],
    pub name: Option<&'p str>,
    pub line: u64,
    pub function: bool,
}

/// A value during partial evaluation.
#[derive(Clone, Debug)]
enum Term {
    /// Known: a JSON value.
    Known(Value),
    /// Not known: an OPA AST term (a reference into an unknown, or a variable).
    Residual(Value),
}

/// One way a body can succeed so far: local bindings and the conditions left undecided.
#[derive(Clone, Default)]
struct Branch {
    locals: BTreeMap<String, Term>,
    residual: Vec<Value>,
}

/// A rule's value under some conditions.
struct Alternative {
    residual: Vec<Value>,
    value: Term,
}

/// The partial evaluation of one query.
pub(crate) struct Partial<'p> {
    program: &'p Program,
    input: &'p Value,
    unknowns: Vec<Vec<String>>,
    known: &'p dyn KnownEval,
    depends: std::cell::RefCell<HashMap<String, bool>>,
}

impl<'p> Partial<'p> {
    /// A partial evaluation over `program` with `input` and these unknowns (`input.resource`).
    pub(crate) fn new(
        program: &'p Program,
        input: &'p Value,
        unknowns: &[String],
        known: &'p dyn KnownEval,
    ) -> Result<Self, PolicyError> {
        let mut paths = Vec::new();
        for unknown in unknowns {
            let path: Vec<String> = unknown.split('.').map(String::from).collect();
            if path.first().map(String::as_str) != Some("input") || path.len() < 2 {
                return Err(query_error(format!(
                    "unknown {unknown:?}: only references below input (input.resource) can be unknown"
                )));
            }
            paths.push(path);
        }
        Ok(Partial {
            program,
            input,
            unknowns: paths,
            known,
            depends: Default::default(),
        })
    }

    /// Partially evaluates the parsed query (the body of the wrapper module's only rule) and answers
    /// OPA's `{"queries": [...]}` (`{}` when the query can never be true).
    pub(crate) fn run(&self, query: &Program) -> Result<Value, PolicyError> {
        let module = query
            .modules
            .first()
            .ok_or_else(|| query_error("empty query".into()))?;
        let body = module
            .rules
            .first()
            .and_then(|r| {
                r.f("Spec")
                    .f("bodies")
                    .i(0)
                    .f("query")
                    .f("stmts")
                    .as_array()
            })
            .ok_or_else(|| query_error("empty query".into()))?;
        let scope = Scope { module, depth: 0 };
        let branches = self.body(&scope, body, Branch::default())?;
        let mut queries: Vec<Value> = Vec::new();
        for branch in branches {
            let exprs: Vec<Value> = branch
                .residual
                .into_iter()
                .enumerate()
                .map(|(index, mut expr)| {
                    set_field(&mut expr, "index", json!(index));
                    expr
                })
                .collect();
            if exprs.is_empty() {
                // Unconditionally true: nothing else matters.
                return Ok(json!({ "queries": [[]] }));
            }
            let query = Value::Array(exprs);
            if !queries.contains(&query) {
                queries.push(query);
            }
        }
        if queries.is_empty() {
            Ok(json!({}))
        } else {
            Ok(json!({ "queries": queries }))
        }
    }

    /// Every way the statements can succeed from `start`.
    fn body(
        &self,
        scope: &Scope,
        stmts: &[Value],
        start: Branch,
    ) -> Result<Vec<Branch>, PolicyError> {
        let mut branches = vec![start];
        for stmt in stmts {
            if stmt
                .get("with_mods")
                .is_some_and(|w| !w.as_array().is_some_and(Vec::is_empty))
            {
                return Err(scope.unsupported(stmt, "`with` modifiers"));
            }
            let mut next = Vec::new();
            for branch in branches {
                next.extend(self.literal(scope, stmt.f("literal"), branch)?);
            }
            branches = next;
            if branches.is_empty() {
                break;
            }
        }
        Ok(branches)
    }

    fn literal(
        &self,
        scope: &Scope,
        literal: &Value,
        branch: Branch,
    ) -> Result<Vec<Branch>, PolicyError> {
        let (kind, node) =
            variant(literal).ok_or_else(|| scope.unsupported(literal, "this statement"))?;
        match kind {
            "Expr" => self.condition(scope, node.f("expr"), branch),
            "NotExpr" => self.negation(scope, node.f("expr"), branch),
            "SomeVars" => Ok(vec![branch]),
            "SomeIn" => {
                if !node.f("key").is_null() {
                    return Err(scope.unsupported(node, "`some k, v in`"));
                }
                let name = var_name(node.f("value"))
                    .ok_or_else(|| scope.unsupported(node, "a pattern in `some … in`"))?;
                let mut out = Vec::new();
                for (branch, collection) in self.term(scope, node.f("collection"), branch)? {
                    match collection {
                        Term::Known(value) => {
                            for item in elements(&value) {
                                let mut b = branch.clone();
                                b.locals.insert(name.to_string(), Term::Known(item));
                                out.push(b);
                            }
                        }
                        Term::Residual(_) => {
                            return Err(
                                scope.unsupported(node, "`some … in` over an unknown collection")
                            )
                        }
                    }
                }
                Ok(out)
            }
            _ => Err(scope.unsupported(node, "this statement")),
        }
    }

    /// A statement that must hold.
    fn condition(
        &self,
        scope: &Scope,
        expr: &Value,
        branch: Branch,
    ) -> Result<Vec<Branch>, PolicyError> {
        let (kind, node) =
            variant(expr).ok_or_else(|| scope.unsupported(expr, "this expression"))?;
        match kind {
            "AssignExpr" => self.assign(scope, node, branch),
            "BoolExpr" => {
                let op = node.f("op").as_str().unwrap_or("");
                self.binary(
                    scope,
                    [node.f("lhs"), node.f("rhs")],
                    branch,
                    &[operator(op)],
                    |l, r| self.compare(op, l, r),
                )
            }
            "Membership" if node.f("key").is_null() => self.binary(
                scope,
                [node.f("value"), node.f("collection")],
                branch,
                &["internal", "member_2"],
                |item, collection| Ok(elements(collection).iter().any(|e| equal(e, item))),
            ),
            "Call" => {
                let name =
                    ref_path(node.f("fcn")).ok_or_else(|| scope.unsupported(node, "this call"))?;
                let mut out = Vec::new();
                for (mut b, args) in self.terms(
                    scope,
                    node.f("params").as_array().map_or(&[][..], Vec::as_slice),
                    branch,
                )? {
                    if args.iter().all(|a| matches!(a, Term::Known(_))) {
                        if truthy(&self.call(scope, node, &name, &args)?) {
                            out.push(b);
                        }
                    } else if self.user_function(scope, &name) {
                        return Err(scope
                            .unsupported(node, "a user-defined function with unknown arguments"));
                    } else {
                        let name: Vec<&str> = name.iter().map(String::as_str).collect();
                        let refs: Vec<&Term> = args.iter().collect();
                        b.residual.push(call_expr(&name, &refs));
                        out.push(b);
                    }
                }
                Ok(out)
            }
            _ => {
                let mut out = Vec::new();
                for (mut b, value) in self.term(scope, expr, branch)? {
                    match value {
                        Term::Known(v) => {
                            if truthy(&Some(v)) {
                                out.push(b);
                            }
                        }
                        Term::Residual(term) => {
                            b.residual.push(json!({ "terms": term }));
                            out.push(b);
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// A condition on two operands: decided by `holds` when both are known, else kept as the call
    /// `operator(lhs, rhs)`.
    fn binary(
        &self,
        scope: &Scope,
        operands: [&Value; 2],
        branch: Branch,
        operator: &[&str],
        holds: impl Fn(&Value, &Value) -> Result<bool, PolicyError>,
    ) -> Result<Vec<Branch>, PolicyError> {
        let [lhs_expr, rhs_expr] = operands;
        let mut out = Vec::new();
        for (b, lhs) in self.term(scope, lhs_expr, branch)? {
            for (mut b, rhs) in self.term(scope, rhs_expr, b)? {
                match (&lhs, &rhs) {
                    (Term::Known(l), Term::Known(r)) => {
                        if holds(l, r)? {
                            out.push(b);
                        }
                    }
                    _ => {
                        b.residual.push(call_expr(operator, &[&lhs, &rhs]));
                        out.push(b);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `not <condition>`: decided when known, else one negated residual condition.
    fn negation(
        &self,
        scope: &Scope,
        expr: &Value,
        branch: Branch,
    ) -> Result<Vec<Branch>, PolicyError> {
        let before = branch.residual.len();
        let outcomes = self.condition(scope, expr, branch.clone())?;
        if outcomes.is_empty() {
            return Ok(vec![branch]);
        }
        if outcomes.iter().any(|b| b.residual.len() == before) {
            return Ok(Vec::new());
        }
        match outcomes.as_slice() {
            [only] if only.residual.len() == before + 1 => {
                let mut negated = only.residual.last().cloned().unwrap_or(Value::Null);
                set_field(&mut negated, "negated", json!(true));
                let mut b = branch;
                b.residual.push(negated);
                Ok(vec![b])
            }
            _ => Err(scope.unsupported(
                expr,
                "`not` of a condition that is more than one unknown condition",
            )),
        }
    }

    fn assign(
        &self,
        scope: &Scope,
        node: &Value,
        branch: Branch,
    ) -> Result<Vec<Branch>, PolicyError> {
        let unify = node.f("op").as_str() == Some("Eq");
        let mut out = Vec::new();
        for (mut b, rhs) in self.term(scope, node.f("rhs"), branch)? {
            if let Some(name) = var_name(node.f("lhs")) {
                if !unify || (!b.locals.contains_key(name) && !self.is_global(scope, name)) {
                    b.locals.insert(name.to_string(), rhs);
                    out.push(b);
                    continue;
                }
            }
            if !unify {
                return Err(scope.unsupported(node, "destructuring `:=`"));
            }
            if let (Some(name), Term::Residual(_)) = (var_name(node.f("rhs")), &rhs) {
                // `input.resource.x = y` with `y` unbound binds `y`.
                if !b.locals.contains_key(name) {
                    let lhs = self.term(scope, node.f("lhs"), b.clone())?;
                    for (mut b, l) in lhs {
                        b.locals.insert(name.to_string(), l);
                        out.push(b);
                    }
                    continue;
                }
            }
            for (mut b, lhs) in self.term(scope, node.f("lhs"), b)? {
                match (&lhs, &rhs) {
                    (Term::Known(l), Term::Known(r)) => {
                        if equal(l, r) {
                            out.push(b);
                        }
                    }
                    _ => {
                        b.residual.push(call_expr(&["eq"], &[&lhs, &rhs]));
                        out.push(b);
                    }
                }
            }
        }
        Ok(out)
    }

    fn terms(
        &self,
        scope: &Scope,
        exprs: &[Value],
        branch: Branch,
    ) -> Result<Vec<(Branch, Vec<Term>)>, PolicyError> {
        let mut partial = vec![(branch, Vec::new())];
        for expr in exprs {
            let mut next = Vec::new();
            for (b, done) in partial {
                for (b, t) in self.term(scope, expr, b)? {
                    let mut done = done.clone();
                    done.push(t);
                    next.push((b, done));
                }
            }
            partial = next;
        }
        Ok(partial)
    }

    /// The values an expression can take, each with the branch it extends.
    fn term(
        &self,
        scope: &Scope,
        expr: &Value,
        branch: Branch,
    ) -> Result<Vec<(Branch, Term)>, PolicyError> {
        let (kind, node) =
            variant(expr).ok_or_else(|| scope.unsupported(expr, "this expression"))?;
        match kind {
            "String" | "RawString" | "Number" | "Bool" | "Null" => {
                Ok(vec![(branch, Term::Known(node.f("value").clone()))])
            }
            "Var" | "RefDot" | "RefBrack" => self.reference(scope, expr, branch),
            "Object" => {
                let mut out = Vec::new();
                let fields = node.f("fields").as_array().map_or(&[][..], Vec::as_slice);
                let mut exprs = Vec::with_capacity(fields.len() * 2);
                for field in fields {
                    exprs.push(field.i(1).clone());
                    exprs.push(field.i(2).clone());
                }
                for (b, values) in self.terms(scope, &exprs, branch)? {
                    let mut object = serde_json::Map::new();
                    for pair in values.chunks(2) {
                        match pair {
                            [Term::Known(Value::String(key)), Term::Known(value)] => {
                                object.insert(key.clone(), value.clone());
                            }
                            _ => {
                                return Err(scope.unsupported(
                                    node,
                                    "an object with unknown or non-string keys or values",
                                ))
                            }
                        }
                    }
                    out.push((b, Term::Known(Value::Object(object))));
                }
                Ok(out)
            }
            "Array" | "Set" => {
                let items = node.f("items").as_array().map_or(&[][..], Vec::as_slice);
                let mut out = Vec::new();
                for (b, values) in self.terms(scope, items, branch)? {
                    let known: Option<Vec<Value>> = values
                        .into_iter()
                        .map(|t| match t {
                            Term::Known(v) => Some(v),
                            Term::Residual(_) => None,
                        })
                        .collect();
                    let known = known
                        .ok_or_else(|| scope.unsupported(node, "a collection holding unknowns"))?;
                    out.push((b, Term::Known(Value::Array(known))));
                }
                Ok(out)
            }
            "Call" => {
                let name =
                    ref_path(node.f("fcn")).ok_or_else(|| scope.unsupported(node, "this call"))?;
                let mut out = Vec::new();
                for (b, args) in self.terms(
                    scope,
                    node.f("params").as_array().map_or(&[][..], Vec::as_slice),
                    branch,
                )? {
                    if !args.iter().all(|a| matches!(a, Term::Known(_))) {
                        return Err(
                            scope.unsupported(node, "a call on unknown values used as a value")
                        );
                    }
                    if let Some(value) = self.call(scope, node, &name, &args)? {
                        out.push((b, Term::Known(value)));
                    }
                }
                Ok(out)
            }
            "BoolExpr" | "Membership" => {
                // A condition used as a value: known only.
                let mut out = Vec::new();
                for b in self.condition(scope, expr, branch.clone())? {
                    if b.residual.len() != branch.residual.len() {
                        return Err(scope
                            .unsupported(node, "a comparison on unknown values used as a value"));
                    }
                    out.push((b, Term::Known(Value::Bool(true))));
                }
                if out.is_empty() {
                    out.push((branch, Term::Known(Value::Bool(false))));
                }
                Ok(out)
            }
            _ => Err(scope.unsupported(node, "this expression with unknowns")),
        }
    }

    /// A reference: a local, `input` (known or not), a rule, or an index into one of them.
    fn reference(
        &self,
        scope: &Scope,
        expr: &Value,
        branch: Branch,
    ) -> Result<Vec<(Branch, Term)>, PolicyError> {
        let (kind, node) =
            variant(expr).ok_or_else(|| scope.unsupported(expr, "this reference"))?;
        if kind == "Var" {
            let name = node.f("value").as_str().unwrap_or("");
            return self.variable(scope, node, name, branch);
        }
        // A chain of fields over a data path is a rule reference.
        if let Some(path) = ref_path(expr) {
            if let Some(rest) = self.input_path(scope, &path, &branch) {
                return Ok(vec![(branch, self.input_term(&rest))]);
            }
            if let Some(target) = self.rule_target(scope, &path, &branch) {
                return self.rule_value(scope, node, &target, branch);
            }
        }
        let mut out = Vec::new();
        for (b, base) in self.reference(scope, node.f("refr"), branch)? {
            let steps: Vec<(Branch, Term)> = if kind == "RefDot" {
                vec![(b, Term::Known(node.f("field").i(1).clone()))]
            } else if let Some(name) = var_name(node.f("index"))
                .filter(|n| *n == "_" || (!b.locals.contains_key(*n) && !self.is_global(scope, n)))
            {
                // An unbound index enumerates a known collection.
                match &base {
                    Term::Known(value) => {
                        let mut each = Vec::new();
                        for (key, item) in entries(value) {
                            let mut b = b.clone();
                            if name != "_" {
                                b.locals.insert(name.to_string(), Term::Known(key.clone()));
                            }
                            each.push((b, Term::Known(item)));
                        }
                        out.extend(each);
                        continue;
                    }
                    Term::Residual(term) => {
                        let mut term = term.clone();
                        push_step(&mut term, json!({"type": "var", "value": name}));
                        out.push((b, Term::Residual(term)));
                        continue;
                    }
                }
            } else {
                self.term(scope, node.f("index"), b)?
            };
            for (b, key) in steps {
                match (&base, key) {
                    (Term::Known(value), Term::Known(key)) => {
                        if let Some(item) = index(value, &key) {
                            out.push((b, Term::Known(item)));
                        }
                    }
                    (Term::Residual(term), key) => {
                        let mut term = term.clone();
                        push_step(
                            &mut term,
                            match key {
                                Term::Known(k) => opa_term(&k),
                                Term::Residual(t) => t,
                            },
                        );
                        out.push((b, Term::Residual(term)));
                    }
                    (Term::Known(_), Term::Residual(_)) => {
                        return Err(scope.unsupported(node, "an index by an unknown value"));
                    }
                }
            }
        }
        Ok(out)
    }

    fn variable(
        &self,
        scope: &Scope,
        node: &Value,
        name: &str,
        branch: Branch,
    ) -> Result<Vec<(Branch, Term)>, PolicyError> {
        if let Some(value) = branch.locals.get(name).cloned() {
            return Ok(vec![(branch, value)]);
        }
        if let Some(rest) = self.input_path(scope, &[name.to_string()], &branch) {
            return Ok(vec![(branch, self.input_term(&rest))]);
        }
        if let Some(target) = self.rule_target(scope, &[name.to_string()], &branch) {
            return self.rule_value(scope, node, &target, branch);
        }
        if name == "data" {
            return Err(scope.unsupported(node, "a reference to the whole of data"));
        }
        // An unbound variable: it stands for any value (OPA keeps it as a variable).
        Ok(vec![(
            branch,
            Term::Residual(json!({"type": "var", "value": name})),
        )])
    }

    /// The path below `input` a reference names (through an import alias too), if it is one.
    fn input_path(&self, scope: &Scope, path: &[String], branch: &Branch) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        if branch.locals.contains_key(first) {
            return None;
        }
        if first == "input" {
            return Some(rest.to_vec());
        }
        let import = scope.module.imports.get(first)?;
        let (root, below) = import.split_first()?;
        (root == "input").then(|| below.iter().chain(rest).cloned().collect())
    }

    /// `input` below `path`: known, or a residual reference when it reaches an unknown.
    fn input_term(&self, path: &[String]) -> Term {
        let overlaps = self.unknowns.iter().any(|u| {
            let below = u.iter().skip(1);
            below.zip(path.iter()).all(|(a, b)| a == b)
        });
        if overlaps {
            let mut steps = vec![json!({"type": "var", "value": "input"})];
            steps.extend(path.iter().map(|s| json!({"type": "string", "value": s})));
            return Term::Residual(json!({"type": "ref", "value": steps}));
        }
        let mut value = self.input.clone();
        for step in path {
            value = value.get(step).cloned().unwrap_or(Value::Null);
        }
        Term::Known(value)
    }

    fn is_global(&self, scope: &Scope, name: &str) -> bool {
        name == "input"
            || name == "data"
            || scope.module.imports.contains_key(name)
            || scope.rule_names().any(|r| r == name)
    }

    fn user_function(&self, scope: &Scope, name: &[String]) -> bool {
        self.rule_target(scope, name, &Branch::default()).is_some()
    }

    /// The rule a reference names: `(package, rule)` with the modules that define it.
    fn rule_target(
        &self,
        scope: &Scope,
        path: &[String],
        branch: &Branch,
    ) -> Option<(Vec<String>, String)> {
        let first = path.first()?;
        if branch.locals.contains_key(first) {
            return None;
        }
        let absolute: Vec<String> = if first == "data" {
            path.iter().skip(1).cloned().collect()
        } else if let Some(import) = scope.module.imports.get(first) {
            if import.first().map(String::as_str) != Some("data") {
                return None;
            }
            import
                .iter()
                .skip(1)
                .chain(path.iter().skip(1))
                .cloned()
                .collect()
        } else if scope.rule_names().any(|r| r == first) {
            scope
                .module
                .package
                .iter()
                .chain(path.iter())
                .cloned()
                .collect()
        } else {
            return None;
        };
        // The longest package prefix that declares the next segment as a rule.
        for split in (1..absolute.len()).rev() {
            let (package, rest) = absolute.split_at(split);
            let Some(rule) = rest.first() else { continue };
            let defined = self
                .program
                .modules
                .iter()
                .any(|m| m.package == package && rules_named(m, rule).next().is_some());
            if defined {
                if rest.len() > 1 {
                    return None;
                }
                return Some((package.to_vec(), rule.clone()));
            }
        }
        None
    }

    /// The values a rule takes; each alternative's conditions join the branch.
    fn rule_value(
        &self,
        scope: &Scope,
        node: &Value,
        target: &(Vec<String>, String),
        branch: Branch,
    ) -> Result<Vec<(Branch, Term)>, PolicyError> {
        let alternatives = self.rule(scope, node, target)?;
        Ok(alternatives
            .into_iter()
            .map(|alt| {
                let mut b = branch.clone();
                b.residual.extend(alt.residual);
                (b, alt.value)
            })
            .collect())
    }

    fn rule(
        &self,
        scope: &Scope,
        node: &Value,
        target: &(Vec<String>, String),
    ) -> Result<Vec<Alternative>, PolicyError> {
        let (package, name) = target;
        let full = format!("data.{}.{}", package.join("."), name);
        if scope.depth >= MAX_DEPTH {
            return Err(scope.unsupported(node, "rule references nested this deep"));
        }
        if !self.depends(package, name, &mut HashSet::new()) {
            return Ok(match self.known.rule(&full)? {
                Some(value) => vec![Alternative {
                    residual: Vec::new(),
                    value: Term::Known(value),
                }],
                None => Vec::new(),
            });
        }
        let mut alternatives = Vec::new();
        let mut default = None;
        for module in self
            .program
            .modules
            .iter()
            .filter(|m| &m.package == package)
        {
            let inner = Scope {
                module,
                depth: scope.depth + 1,
            };
            for rule in rules_named(module, name) {
                if let Some(d) = rule.get("Default") {
                    default = Some(d.f("value").clone());
                    continue;
                }
                let spec = rule.f("Spec");
                let head = spec.f("head");
                let (head_kind, head_node) =
                    variant(head).ok_or_else(|| inner.unsupported(spec, "this rule head"))?;
                if head_kind != "Compr" {
                    return Err(inner.unsupported(
                        head_node,
                        "partial set, object or function rules over unknowns",
                    ));
                }
                let mut previous_conditional = false;
                for body in spec.f("bodies").as_array().into_iter().flatten() {
                    if body.f("is_else").as_bool() == Some(true) && previous_conditional {
                        return Err(
                            inner.unsupported(body, "`else` after a body that depends on unknowns")
                        );
                    }
                    let stmts = body
                        .f("query")
                        .f("stmts")
                        .as_array()
                        .map_or(&[][..], Vec::as_slice);
                    let assign = if body.f("assign").is_null() {
                        head_node.f("assign")
                    } else {
                        body.f("assign")
                    };
                    let branches = self.body(&inner, stmts, Branch::default())?;
                    previous_conditional = branches.iter().any(|b| !b.residual.is_empty());
                    let succeeded = !branches.is_empty();
                    for b in branches {
                        let values = if assign.is_null() {
                            vec![(b, Term::Known(Value::Bool(true)))]
                        } else {
                            self.term(&inner, assign.f("value"), b)?
                        };
                        for (b, value) in values {
                            alternatives.push(Alternative {
                                residual: b.residual,
                                value,
                            });
                        }
                    }
                    if succeeded
                        && !previous_conditional
                        && body.f("is_else").as_bool() != Some(true)
                    {
                        // An unconditional body: later `else` bodies never apply.
                        break;
                    }
                }
            }
        }
        if let Some(default) = default {
            let inner = Scope {
                module: scope.module,
                depth: scope.depth + 1,
            };
            let value = self.term(&inner, &default, Branch::default())?;
            let unconditional = alternatives.iter().any(|a| a.residual.is_empty());
            if !unconditional {
                if let [(_, Term::Known(value))] = value.as_slice() {
                    if truthy(&Some(value.clone())) {
                        return Err(scope.unsupported(node, &format!("{full}: a default that is true while its bodies depend on unknowns")));
                    }
                    if alternatives.is_empty() {
                        alternatives.push(Alternative {
                            residual: Vec::new(),
                            value: Term::Known(value.clone()),
                        });
                    }
                }
            }
        }
        Ok(alternatives)
    }

    /// Whether a rule reads an unknown, directly or through other rules.
    fn depends(&self, package: &[String], name: &str, seen: &mut HashSet<String>) -> bool {
        let key = format!("{}.{}", package.join("."), name);
        if let Some(known) = self.depends.borrow().get(&key) {
            return *known;
        }
        if !seen.insert(key.clone()) {
            return false;
        }
        let mut result = false;
        for module in self.program.modules.iter().filter(|m| m.package == package) {
            let scope = Scope { module, depth: 0 };
            for rule in rules_named(module, name) {
                let mut refs = Vec::new();
                collect_refs(rule, &mut refs);
                for path in refs {
                    let reads_unknown = match path.first().map(String::as_str) {
                        Some("input") => self
                            .input_term(path.get(1..).unwrap_or_default())
                            .is_residual(),
                        Some(alias)
                            if module.imports.get(alias).is_some_and(|i| {
                                i.first().map(String::as_str) == Some("input")
                            }) =>
                        {
                            true
                        }
                        _ => self
                            .rule_target(&scope, &path, &Branch::default())
                            .is_some_and(|(p, r)| self.depends(&p, &r, seen)),
                    };
                    if reads_unknown {
                        result = true;
                        break;
                    }
                }
            }
        }
        self.depends.borrow_mut().insert(key, result);
        result
    }

    fn call(
        &self,
        scope: &Scope,
        node: &Value,
        name: &[String],
        args: &[Term],
    ) -> Result<Option<Value>, PolicyError> {
        if self.user_function(scope, name) {
            return Err(scope.unsupported(node, "user-defined functions"));
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| match a {
                Term::Known(v) => v.to_string(),
                Term::Residual(_) => String::new(),
            })
            .collect();
        self.known
            .expression(&format!("{}({})", name.join("."), args.join(", ")))
    }

    fn compare(&self, op: &str, lhs: &Value, rhs: &Value) -> Result<bool, PolicyError> {
        match op {
            "Eq" => Ok(equal(lhs, rhs)),
            "Ne" => Ok(!equal(lhs, rhs)),
            _ => {
                let symbol = match op {
                    "Lt" => "<",
                    "Le" => "<=",
                    "Gt" => ">",
                    _ => ">=",
                };
                let answer = self.known.expression(&format!("{lhs} {symbol} {rhs}"))?;
                Ok(truthy(&answer))
            }
        }
    }
}

/// The module a statement belongs to, for names and error positions.
struct Scope<'m> {
    module: &'m Module,
    depth: usize,
}

impl Scope<'_> {
    fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.module.rules.iter().filter_map(rule_name)
    }

    /// An error naming the construct and where it is.
    fn unsupported(&self, node: &Value, what: &str) -> PolicyError {
        let span = find_span(node);
        let (line, column) = span.map_or((0, 0), |s| {
            (
                s.f("line").as_u64().unwrap_or(0),
                s.f("col").as_u64().unwrap_or(0),
            )
        });
        let text = span
            .and_then(|s| {
                let start = usize::try_from(s.f("start").as_u64()?).ok()?;
                let end = usize::try_from(s.f("end").as_u64()?).ok()?;
                self.module.contents.get(start..end)
            })
            .map(|t| format!(" (`{}`)", t.lines().next().unwrap_or("")))
            .unwrap_or_default();
        query_error(format!(
            "{}:{line}:{column}: partial evaluation does not support {what}{text}",
            self.module.file
        ))
    }
}

impl Term {
    fn is_residual(&self) -> bool {
        matches!(self, Term::Residual(_))
    }
}

fn query_error(message: String) -> PolicyError {
    PolicyError::Query { message }
}

/// The single `Tag` and body of an externally tagged enum value.
fn variant(value: &Value) -> Option<(&str, &Value)> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn var_name(expr: &Value) -> Option<&str> {
    expr.get("Var")?.get("value")?.as_str()
}

/// `a.b.c` (only dotted fields and string indexes) as its segments.
fn ref_path(expr: &Value) -> Option<Vec<String>> {
    let (kind, node) = variant(expr)?;
    match kind {
        "Var" => Some(vec![node.f("value").as_str()?.to_string()]),
        "RefDot" => {
            let mut path = ref_path(node.f("refr"))?;
            path.push(node.f("field").i(1).as_str()?.to_string());
            Some(path)
        }
        "RefBrack" => {
            let mut path = ref_path(node.f("refr"))?;
            path.push(node.f("index").f("String").f("value").as_str()?.to_string());
            Some(path)
        }
        _ => None,
    }
}

/// Every reference path inside a node (the readable prefix of each whole reference).
fn collect_refs(node: &Value, out: &mut Vec<Vec<String>>) {
    if let Some((kind, inner)) = variant(node) {
        if matches!(kind, "Var" | "RefDot" | "RefBrack") {
            if let Some(path) = longest_path(node) {
                out.push(path);
            }
            // Only the indexes inside a reference hold further references.
            collect_indexes(node, out);
            return;
        }
        collect_refs(inner, out);
        return;
    }
    match node {
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn collect_indexes(reference: &Value, out: &mut Vec<Vec<String>>) {
    if let Some((kind, node)) = variant(reference) {
        if kind == "RefBrack" {
            collect_refs(node.f("index"), out);
        }
        if kind != "Var" {
            collect_indexes(node.f("refr"), out);
        }
    }
}

/// The longest readable prefix of a reference (`input.resource` of `input.resource[x].y`).
fn longest_path(expr: &Value) -> Option<Vec<String>> {
    ref_path(expr).or_else(|| {
        let (_, node) = variant(expr)?;
        longest_path(node.get("refr")?)
    })
}

fn rule_name(rule: &Value) -> Option<&str> {
    if let Some(default) = rule.get("Default") {
        return var_name(default.f("refr"));
    }
    let (_, head) = variant(rule.f("Spec").f("head"))?;
    var_name(head.f("refr"))
}

fn rules_named<'m>(module: &'m Module, name: &'m str) -> impl Iterator<Item = &'m Value> {
    module
        .rules
        .iter()
        .filter(move |r| rule_name(r) == Some(name))
}

fn find_span(node: &Value) -> Option<&Value> {
    if let Some(span) = node.get("span") {
        return Some(span);
    }
    let (_, inner) = variant(node)?;
    inner.get("span")
}

/// Rego equality: numbers by value, everything else structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Whether a known value satisfies a condition: defined and not `false`.
fn truthy(value: &Option<Value>) -> bool {
    !matches!(value, None | Some(Value::Bool(false)))
}

fn elements(value: &Value) -> Vec<Value> {
    entries(value).into_iter().map(|(_, v)| v).collect()
}

fn entries(value: &Value) -> Vec<(Value, Value)> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (json!(i), v.clone()))
            .collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (json!(k), v.clone())).collect(),
        _ => Vec::new(),
    }
}

fn index(value: &Value, key: &Value) -> Option<Value> {
    match (value, key) {
        (Value::Object(map), Value::String(k)) => map.get(k).cloned(),
        (Value::Array(items), Value::Number(n)) => {
            items.get(usize::try_from(n.as_u64()?).ok()?).cloned()
        }
        _ => None,
    }
}

fn push_step(term: &mut Value, step: Value) {
    if let Some(steps) = term.get_mut("value").and_then(Value::as_array_mut) {
        steps.push(step);
    }
}

/// OPA's operator name for a comparison.
fn operator(op: &str) -> &'static str {
    match op {
        "Eq" => "equal",
        "Ne" => "neq",
        "Lt" => "lt",
        "Le" => "lte",
        "Gt" => "gt",
        _ => "gte",
    }
}

/// An OPA call expression: the operator reference and its operands.
fn call_expr(name: &[&str], args: &[&Term]) -> Value {
    let mut steps = Vec::with_capacity(name.len());
    for (i, part) in name.iter().enumerate() {
        let kind = if i == 0 { "var" } else { "string" };
        steps.push(json!({"type": kind, "value": part}));
    }
    let mut terms = vec![json!({"type": "ref", "value": steps})];
    terms.extend(args.iter().map(|a| match a {
        Term::Known(v) => opa_term(v),
        Term::Residual(t) => t.clone(),
    }));
    json!({ "terms": terms })
}

/// A known value as an OPA AST term.
fn opa_term(value: &Value) -> Value {
    match value {
        Value::Null => json!({"type": "null"}),
        Value::Bool(b) => json!({"type": "boolean", "value": b}),
        Value::Number(n) => json!({"type": "number", "value": n}),
        Value::String(s) => json!({"type": "string", "value": s}),
        Value::Array(items) => {
            json!({"type": "array", "value": items.iter().map(opa_term).collect::<Vec<_>>()})
        }
        Value::Object(map) => {
            let pairs: Vec<Value> = map
                .iter()
                .map(|(k, v)| json!([opa_term(&json!(k)), opa_term(v)]))
                .collect();
            json!({"type": "object", "value": pairs})
        }
    }
}

/// Reading a syntax tree: a missing field or item reads as `null`, never a panic.
trait Node {
    fn f(&self, key: &str) -> &Value;
    fn i(&self, index: usize) -> &Value;
}

impl Node for Value {
    fn f(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&Value::Null)
    }

    fn i(&self, index: usize) -> &Value {
        self.get(index).unwrap_or(&Value::Null)
    }
}

fn set_field(target: &mut Value, key: &str, value: Value) {
    if let Some(object) = target.as_object_mut() {
        object.insert(key.to_string(), value);
    }
}
