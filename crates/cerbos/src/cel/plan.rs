//! Partial evaluation for PlanResources: the principal, globals, constants, variables and the
//! resource attributes the request gives are known; the resource's id and its other attributes
//! are not. What is left is Cerbos's query-plan expression tree.
use std::collections::{BTreeSet, HashMap};

use ::cel::common::ast::{operators, CallExpr, Expr as Node, IdedExpr, LiteralValue};
use ::cel::common::types::{CelBool, CelList, CelMap};
use ::cel::common::value::Val;
use ::cel::{Context, Value};

pub use crate::api::{FilterExpression, Operand};

use super::bindings::{Bindings, RELATIONS_IDENT};
use super::convert::value_to_json;
use super::env::cerbos_env;
use super::expr::{children, children_mut, EvalError, Expr};
use super::functions::{PAIRS_FN, TIME_SINCE_FN, UTC_GETTER_PREFIX};

/// Cerbos's operator names (`eq`, `ne`, `lt`, `gt`, `le`, `ge`, `and`, `or`, `not`, `in`, `add`,
/// `sub`, `mult`, `div`, `mod`, `index`, `list`, `get-field`, `if`, `all`, `exists`,
/// `exists_one`, `map`, `filter`, `lambda`; other functions by their CEL name, the target first).
fn operation(operator: &str, operands: Vec<Operand>) -> Operand {
    Operand::Expression(FilterExpression {
        operator: operator.to_owned(),
        operands,
    })
}

/// What a condition reduces to when only some of the resource is known.
#[derive(Clone, Debug, PartialEq)]
pub enum Residual {
    /// True whatever the unknown parts are.
    True,
    /// False whatever the unknown parts are.
    False,
    /// True exactly for the resources this condition holds for.
    Condition(Operand),
}

/// Bindings for planning: the request holds the principal and the resource's known parts (kind,
/// scope, policy version and the attributes given); `variable_exprs` are the policy's variable
/// definitions, inlined where a condition reads them (as Cerbos does), since a variable may
/// depend on the unknown resource.
#[derive(Clone, Copy)]
pub struct PlanBindings<'a> {
    bindings: Bindings<'a>,
    variable_exprs: Option<&'a HashMap<String, Expr>>,
}

impl<'a> PlanBindings<'a> {
    /// Plans against `bindings`; their resource's attributes are the known ones.
    pub fn new(bindings: Bindings<'a>) -> Self {
        PlanBindings {
            bindings,
            variable_exprs: None,
        }
    }

    /// Inlines these variable definitions wherever `V.name` / `variables.name` is read.
    pub fn with_variable_exprs(mut self, variable_exprs: &'a HashMap<String, Expr>) -> Self {
        self.variable_exprs = Some(variable_exprs);
        self
    }
}

/// How deep variables may be inlined into each other (a guard against definitions that refer
/// to themselves).
const MAX_INLINE_DEPTH: usize = 32;

impl Expr {
    /// Partially evaluates the expression with the resource's id and unknown attributes left
    /// open.
    pub fn plan(&self, plan: &PlanBindings<'_>) -> Result<Residual, EvalError> {
        let mut ast = self.ast().clone();
        if let Some(definitions) = plan.variable_exprs {
            inline_variables(&mut ast, definitions, 0)?;
        }
        let planner = Planner {
            bindings: &plan.bindings,
            lambda_vars: BTreeSet::new(),
            locals: Vec::new(),
        };
        match planner.partial(&ast)? {
            Partial::Known(value) => match value.downcast_ref::<CelBool>() {
                Some(b) if *b.inner() => Ok(Residual::True),
                Some(_) => Ok(Residual::False),
                None => Err(EvalError::new(format!(
                    "expected a bool, got {}",
                    value.get_type().name()
                ))),
            },
            Partial::Unknown(operand) => Ok(Residual::Condition(operand)),
        }
    }
}

/// Replaces `V.x` / `variables.x` (and `V["x"]`) with the definition of `x`.
fn inline_variables(
    node: &mut IdedExpr,
    definitions: &HashMap<String, Expr>,
    depth: usize,
) -> Result<(), EvalError> {
    if let Some(definition) = super::expr::variable_name(node).and_then(|n| definitions.get(n)) {
        if depth >= MAX_INLINE_DEPTH {
            return Err(EvalError::new(
                "variables refer to each other too deeply (a cycle?)",
            ));
        }
        let mut inlined = definition.ast().clone();
        inline_variables(&mut inlined, definitions, depth + 1)?;
        *node = inlined;
        return Ok(());
    }
    for child in children_mut(node) {
        inline_variables(child, definitions, depth)?;
    }
    Ok(())
}

enum Partial<'v> {
    Known(Box<dyn Val + 'v>),
    Unknown(Operand),
}

struct Planner<'p, 'a> {
    bindings: &'p Bindings<'a>,
    /// Comprehension variables inside a lambda: unknown while planning.
    lambda_vars: BTreeSet<String>,
    /// Comprehension variables bound to known values while a comprehension over a known list
    /// is unrolled.
    locals: Vec<(String, Box<dyn Val + 'p>)>,
}

/// The names of a chain of field selections on an identifier, root first.
fn select_chain(node: &IdedExpr) -> Option<Vec<&str>> {
    match &node.expr {
        Node::Ident(name) => Some(vec![name.as_str()]),
        Node::Select(s) if !s.test => {
            let mut chain = select_chain(&s.operand)?;
            chain.push(s.field.as_str());
            Some(chain)
        }
        _ => None,
    }
}

/// Cerbos's operator name for a CEL function.
fn operator_name(function: &str) -> &str {
    match function {
        operators::EQUALS => "eq",
        operators::NOT_EQUALS => "ne",
        operators::GREATER => "gt",
        operators::GREATER_EQUALS => "ge",
        operators::LESS => "lt",
        operators::LESS_EQUALS => "le",
        operators::IN => "in",
        operators::ADD => "add",
        operators::SUBSTRACT => "sub",
        operators::MULTIPLY => "mult",
        operators::DIVIDE => "div",
        operators::MODULO => "mod",
        operators::INDEX => "index",
        operators::LOGICAL_AND => "and",
        operators::LOGICAL_OR => "or",
        operators::LOGICAL_NOT => "not",
        operators::CONDITIONAL => "if",
        other => other.strip_prefix(UTC_GETTER_PREFIX).unwrap_or(other),
    }
}

fn as_bool(value: &dyn Val) -> Option<bool> {
    value.downcast_ref::<CelBool>().map(|b| *b.inner())
}

fn known_bool<'v>(b: bool) -> Partial<'v> {
    Partial::Known(Box::new(CelBool::from(b)))
}

impl<'p> Planner<'p, '_> {
    /// The fields after `request.resource` when `chain` is rooted there (or at `R`).
    fn resource_fields<'c>(&self, chain: &'c [&'c str]) -> Option<&'c [&'c str]> {
        match chain {
            ["R", rest @ ..] if !self.lambda_vars.contains("R") => Some(rest),
            ["request", "resource", rest @ ..] if !self.lambda_vars.contains("request") => {
                Some(rest)
            }
            _ => None,
        }
    }

    /// The variable name an unknown chain stands for, if `node` is one.
    fn unknown_variable(&self, node: &IdedExpr) -> Option<String> {
        let chain = select_chain(node)?;
        if let Some(fields) = self.resource_fields(&chain) {
            let unknown = match fields {
                [] | ["id"] | ["attr"] => true,
                ["attr", name, ..] => !self.bindings.has_resource_attr(name),
                _ => false,
            };
            return unknown.then(|| {
                let mut name = "request.resource".to_owned();
                for field in fields {
                    name.push('.');
                    name.push_str(field);
                }
                name
            });
        }
        match chain.first() {
            Some(root) if self.lambda_vars.contains(*root) => Some(chain.join(".")),
            _ => None,
        }
    }

    /// Whether evaluating `node` needs something unknown.
    fn depends_on_unknown(&self, node: &IdedExpr) -> bool {
        if let Some(chain) = select_chain(node) {
            if self.resource_fields(&chain).is_some()
                || chain
                    .first()
                    .is_some_and(|root| self.lambda_vars.contains(*root))
            {
                return self.unknown_variable(node).is_some();
            }
        }
        if let Node::Comprehension(c) = &node.expr {
            if self.lambda_vars.contains(&c.iter_var) || self.lambda_vars.contains(&c.accu_var) {
                return true;
            }
        }
        children(node)
            .into_iter()
            .any(|child| self.depends_on_unknown(child))
    }

    fn evaluate(&self, node: &IdedExpr) -> Result<Box<dyn Val + 'p>, EvalError> {
        self.evaluate_with(node, Vec::new())
    }

    /// Evaluates `node`, with its direct subexpressions replaced by `values` when there are
    /// any, and the unrolled comprehension variables in scope.
    fn evaluate_with(
        &self,
        node: &IdedExpr,
        values: Vec<Box<dyn Val + 'p>>,
    ) -> Result<Box<dyn Val + 'p>, EvalError> {
        let mut shell;
        let mut evaluated = node;
        let names: Vec<String> = (0..values.len()).map(|i| format!("@known{i}")).collect();
        if !values.is_empty() {
            shell = node.clone();
            for (child, name) in children_mut(&mut shell).into_iter().zip(&names) {
                *child = IdedExpr {
                    id: child.id,
                    expr: Node::Ident(name.clone()),
                };
            }
            evaluated = &shell;
        }
        let env = cerbos_env().map_err(EvalError::new)?;
        let mut context = Context::with_env(env);
        context.set_variable_resolver(self.bindings);
        let mut scope = context.new_inner_scope();
        for (name, value) in &self.locals {
            scope.add_variable_as_val(name.clone(), value.clone_as_boxed());
        }
        for (name, value) in names.into_iter().zip(values) {
            scope.add_variable_as_val(name, value);
        }
        let value = Value::resolve_val(evaluated, &scope)?;
        Ok(value.into_owned().clone_as_boxed())
    }

    fn partial(&self, node: &IdedExpr) -> Result<Partial<'p>, EvalError> {
        if !self.depends_on_unknown(node) {
            return self.evaluate(node).map(Partial::Known);
        }
        if let Some(name) = self.unknown_variable(node) {
            return Ok(Partial::Unknown(Operand::Variable(name)));
        }
        match &node.expr {
            // Cerbos writes a presence test on an unknown field as true.
            Node::Select(s) if s.test => Ok(known_bool(true)),
            Node::Select(s) => match self.partial(&s.operand)? {
                Partial::Known(value) => self.evaluate_with(node, vec![value]).map(Partial::Known),
                Partial::Unknown(operand) => Ok(Partial::Unknown(operation(
                    "get-field",
                    vec![operand, Operand::Variable(s.field.clone())],
                ))),
            },
            Node::Call(c) => self.partial_call(node, c),
            Node::List(list) => {
                let parts = list
                    .elements
                    .iter()
                    .map(|e| self.partial(e))
                    .collect::<Result<Vec<_>, _>>()?;
                self.combine(node, "list", parts)
            }
            Node::Map(_) | Node::Struct(_) => Err(EvalError::new(
                "a map built from unknown resource attributes cannot be planned",
            )),
            Node::Comprehension(_) => self.partial_comprehension(node),
            Node::Ident(name) => Ok(Partial::Unknown(Operand::Variable(name.clone()))),
            Node::Literal(_) | Node::Unspecified => self.evaluate(node).map(Partial::Known),
        }
    }

    /// Evaluates `node` if every part is known, else writes `operator` over the parts.
    fn combine(
        &self,
        node: &IdedExpr,
        operator: &str,
        parts: Vec<Partial<'p>>,
    ) -> Result<Partial<'p>, EvalError> {
        if parts.iter().all(|p| matches!(p, Partial::Known(_))) {
            let values = parts
                .into_iter()
                .filter_map(|p| match p {
                    Partial::Known(v) => Some(v),
                    Partial::Unknown(_) => None,
                })
                .collect();
            return self.evaluate_with(node, values).map(Partial::Known);
        }
        let operands = parts
            .into_iter()
            .map(|p| p.into_operand())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Partial::Unknown(operation(operator, operands)))
    }

    fn partial_call(&self, node: &IdedExpr, c: &CallExpr) -> Result<Partial<'p>, EvalError> {
        let function = c.func_name.as_str();
        match (function, c.args.as_slice()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, [left, right]) => {
                let and = function == operators::LOGICAL_AND;
                // CEL's && and || absorb an error on one side when the other decides.
                let left = self.partial(left);
                let right = self.partial(right);
                let decides = |p: &Result<Partial<'p>, EvalError>| matches!(p, Ok(Partial::Known(v)) if as_bool(v.as_ref()) == Some(!and));
                if decides(&left) || decides(&right) {
                    return Ok(known_bool(!and));
                }
                match (left?, right?) {
                    (Partial::Known(v), other) | (other, Partial::Known(v))
                        if as_bool(v.as_ref()) == Some(and) =>
                    {
                        Ok(other)
                    }
                    (Partial::Known(v), _) | (_, Partial::Known(v)) => Err(EvalError::new(
                        format!("expected a bool, got {}", v.get_type().name()),
                    )),
                    (Partial::Unknown(l), Partial::Unknown(r)) => Ok(Partial::Unknown(operation(
                        if and { "and" } else { "or" },
                        vec![l, r],
                    ))),
                }
            }
            (operators::LOGICAL_NOT, [operand]) => match self.partial(operand)? {
                Partial::Known(v) => self.evaluate_with(node, vec![v]).map(Partial::Known),
                Partial::Unknown(o) => Ok(Partial::Unknown(operation("not", vec![o]))),
            },
            (operators::CONDITIONAL, [condition, then, otherwise]) => {
                match self.partial(condition)? {
                    Partial::Known(v) => match as_bool(v.as_ref()) {
                        Some(true) => self.partial(then),
                        Some(false) => self.partial(otherwise),
                        None => Err(EvalError::new("the condition of ?: is not a bool")),
                    },
                    Partial::Unknown(o) => Ok(Partial::Unknown(operation(
                        "if",
                        vec![
                            o,
                            self.partial(then)?.into_operand()?,
                            self.partial(otherwise)?.into_operand()?,
                        ],
                    ))),
                }
            }
            (TIME_SINCE_FN, [since, _now]) => match self.partial(since)? {
                Partial::Known(_) => self.evaluate(node).map(Partial::Known),
                Partial::Unknown(o) => Ok(Partial::Unknown(operation("timeSince", vec![o]))),
            },
            (
                operators::INDEX,
                [directory, IdedExpr {
                    expr: Node::List(list),
                    ..
                }],
            ) if matches!(&directory.expr, Node::Ident(n) if n == RELATIONS_IDENT) => {
                let parts = list
                    .elements
                    .iter()
                    .map(|e| self.partial(e)?.into_operand())
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Partial::Unknown(operation("lictor.check", parts)))
            }
            _ => {
                let parts = c
                    .target
                    .as_deref()
                    .into_iter()
                    .chain(c.args.iter())
                    .map(|e| self.partial(e))
                    .collect::<Result<Vec<_>, _>>()?;
                let parts = if function == operators::IN {
                    parts.into_iter().map(map_keys).collect()
                } else {
                    parts
                };
                self.combine(node, operator_name(function), parts)
            }
        }
    }

    /// Writes a comprehension the standard macros produced as Cerbos's lambda form:
    /// `{operator: all|exists|exists_one|map|filter, operands: [range, lambda(body, var)]}`.
    fn partial_comprehension(&self, node: &IdedExpr) -> Result<Partial<'p>, EvalError> {
        let Node::Comprehension(c) = &node.expr else {
            return Err(EvalError::new("not a comprehension"));
        };
        let unsupported = || EvalError::new("this comprehension cannot be planned");
        let accu = |e: &IdedExpr| matches!(&e.expr, Node::Ident(n) if *n == c.accu_var);
        let call_of = |e: &'_ IdedExpr, name: &str| -> Option<Vec<IdedExpr>> {
            match &e.expr {
                Node::Call(call) if call.func_name == name && call.target.is_none() => {
                    Some(call.args.clone())
                }
                _ => None,
            }
        };
        let (operator, body) = match (&c.accu_init.expr, &c.loop_step.expr) {
            (Node::Literal(LiteralValue::Boolean(init)), _) => {
                let connective = if *init.inner() {
                    operators::LOGICAL_AND
                } else {
                    operators::LOGICAL_OR
                };
                match call_of(&c.loop_step, connective).as_deref() {
                    Some([a, body]) if accu(a) => {
                        (if *init.inner() { "all" } else { "exists" }, body.clone())
                    }
                    _ => return Err(unsupported()),
                }
            }
            (Node::Literal(LiteralValue::Int(_)), _) => {
                match call_of(&c.loop_step, operators::CONDITIONAL).as_deref() {
                    Some([body, _, otherwise]) if accu(otherwise) => ("exists_one", body.clone()),
                    _ => return Err(unsupported()),
                }
            }
            (Node::List(init), _) if init.elements.is_empty() => {
                let append = |e: &IdedExpr| -> Option<IdedExpr> {
                    match call_of(e, operators::ADD).as_deref() {
                        Some(
                            [a, IdedExpr {
                                expr: Node::List(l),
                                ..
                            }],
                        ) if accu(a) => l.elements.first().cloned(),
                        _ => None,
                    }
                };
                if let Some(element) = append(&c.loop_step) {
                    ("map", element)
                } else {
                    match call_of(&c.loop_step, operators::CONDITIONAL).as_deref() {
                        Some([predicate, step, otherwise]) if accu(otherwise) => {
                            match append(step) {
                                Some(IdedExpr {
                                    expr: Node::Ident(v),
                                    ..
                                }) if *v == c.iter_var => ("filter", predicate.clone()),
                                _ => return Err(unsupported()),
                            }
                        }
                        _ => return Err(unsupported()),
                    }
                }
            }
            _ => return Err(unsupported()),
        };
        // A two-variable comprehension iterates over `@pairs(range)` with its variables bound
        // to each pair's parts around the body.
        if let Some(range) = pairs_range(&c.iter_range) {
            let (key, value, body) = unwrap_pair_binds(&body).ok_or_else(unsupported)?;
            let operator = match operator {
                "exists_one" => "existsOne",
                "map" => "transformList",
                "filter" => return Err(unsupported()),
                other => other,
            };
            let range = self.partial(range)?.into_operand()?;
            let body = self.lambda_body(&[key, value], body)?;
            return Ok(Partial::Unknown(operation(
                operator,
                vec![
                    range,
                    operation(
                        "lambda",
                        vec![
                            body,
                            Operand::Variable(key.to_owned()),
                            Operand::Variable(value.to_owned()),
                        ],
                    ),
                ],
            )));
        }
        let range = self.partial(&c.iter_range)?;
        if let (Partial::Known(items), "all" | "exists", true) =
            (&range, operator, self.lambda_vars.is_empty())
        {
            return self.unroll(items.as_ref(), &c.iter_var, operator == "all", &body);
        }
        let range = range.into_operand()?;
        let body = self.lambda_body(&[&c.iter_var], &body)?;
        Ok(Partial::Unknown(operation(
            operator,
            vec![
                range,
                operation("lambda", vec![body, Operand::Variable(c.iter_var.clone())]),
            ],
        )))
    }

    /// A lambda's body, planned with its variables unknown.
    fn lambda_body(&self, vars: &[&str], body: &IdedExpr) -> Result<Operand, EvalError> {
        let mut inner = Planner {
            bindings: self.bindings,
            lambda_vars: self.lambda_vars.clone(),
            locals: self
                .locals
                .iter()
                .filter(|(n, _)| !vars.contains(&n.as_str()))
                .map(|(n, v)| (n.clone(), v.clone_as_boxed()))
                .collect(),
        };
        inner
            .lambda_vars
            .extend(vars.iter().map(|v| (*v).to_owned()));
        inner.partial(body)?.into_operand()
    }
}

/// A known map on the right of `in` as the list of its keys, as Cerbos writes it (membership in
/// a map is membership among its keys).
fn map_keys(part: Partial<'_>) -> Partial<'_> {
    match part {
        Partial::Known(value) => match value.downcast_ref::<CelMap>() {
            Some(map) => {
                let mut keys: Vec<_> = map.inner().keys().collect();
                keys.sort();
                let keys: Vec<Box<dyn Val + '_>> = keys
                    .into_iter()
                    .map(|k| k.inner().clone_as_boxed())
                    .collect();
                Partial::Known(Box::new(CelList::from(keys)))
            }
            None => Partial::Known(value),
        },
        unknown => unknown,
    }
}

/// The range of a two-variable comprehension: `x` of `@pairs(x)`.
fn pairs_range(range: &IdedExpr) -> Option<&IdedExpr> {
    match &range.expr {
        Node::Call(c) if c.func_name == PAIRS_FN && c.target.is_none() => c.args.first(),
        _ => None,
    }
}

/// The variables and body of `bind(k, @pair[0], bind(v, @pair[1], body))`.
fn unwrap_pair_binds(body: &IdedExpr) -> Option<(&str, &str, &IdedExpr)> {
    fn bound(node: &IdedExpr) -> Option<(&str, &IdedExpr)> {
        match &node.expr {
            Node::Comprehension(c) => Some((c.accu_var.as_str(), &c.result)),
            _ => None,
        }
    }
    let (key, inner) = bound(body)?;
    let (value, body) = bound(inner)?;
    Some((key, value, body))
}

impl<'p> Planner<'p, '_> {
    /// `all` / `exists` over a known list with a body that reads the unknown resource: the body
    /// for each element, joined with `and` / `or`, as Cerbos writes it.
    fn unroll(
        &self,
        items: &(dyn Val + 'p),
        var: &str,
        all: bool,
        body: &IdedExpr,
    ) -> Result<Partial<'p>, EvalError> {
        let iterable = items
            .as_iterable()
            .ok_or_else(|| EvalError::new("a comprehension needs a list or a map"))?;
        let mut iterator = iterable.iter();
        let mut joined: Option<Operand> = None;
        while let Some(item) = iterator.next() {
            let mut locals: Vec<(String, Box<dyn Val + 'p>)> = self
                .locals
                .iter()
                .map(|(n, v)| (n.clone(), v.clone_as_boxed()))
                .collect();
            locals.push((var.to_owned(), item.clone_as_boxed()));
            let inner = Planner {
                bindings: self.bindings,
                lambda_vars: self.lambda_vars.clone(),
                locals,
            };
            match inner.partial(body)? {
                Partial::Known(v) => match as_bool(v.as_ref()) {
                    // This element decides the whole comprehension.
                    Some(b) if b != all => return Ok(known_bool(b)),
                    Some(_) => {}
                    None => {
                        return Err(EvalError::new("a comprehension's predicate is not a bool"))
                    }
                },
                Partial::Unknown(o) => {
                    joined = Some(match joined {
                        None => o,
                        Some(j) => operation(if all { "and" } else { "or" }, vec![j, o]),
                    });
                }
            }
        }
        Ok(match joined {
            None => known_bool(all),
            Some(o) => Partial::Unknown(o),
        })
    }
}

impl Partial<'_> {
    fn into_operand(self) -> Result<Operand, EvalError> {
        match self {
            Partial::Unknown(operand) => Ok(operand),
            Partial::Known(value) => {
                let value = Value::try_from(value.as_ref())?;
                let json = value_to_json(&value);
                // Cerbos writes known durations and timestamps as the call that makes them.
                Ok(match value {
                    Value::Duration(_) => operation("duration", vec![Operand::Value(json)]),
                    Value::Timestamp(_) => operation("timestamp", vec![Operand::Value(json)]),
                    _ => Operand::Value(json),
                })
            }
        }
    }
}
