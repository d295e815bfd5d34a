//! Compiled expressions: parse once, rewrite the request-bound calls, evaluate many times.
use std::collections::BTreeSet;
use std::sync::Arc;

use ::cel::common::ast::{
    operators, CallExpr, EntryExpr, Expr as Node, IdedExpr, ListExpr, LiteralValue,
};
use ::cel::common::types::CelBool;
use ::cel::{Context, Value};

use super::bindings::{Bindings, NOW_IDENT, RELATIONS_IDENT};
use super::env::cerbos_env;
use super::functions::{MAP_KEY_FN, TIME_SINCE_FN, UTC_GETTER_PREFIX};

/// An expression that does not compile, with where (1-based, within the expression) it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct CelError {
    /// What is wrong.
    pub message: String,
    /// The line of the expression at fault, from 1.
    pub line: usize,
    /// The column (in characters) at fault, from 1.
    pub column: usize,
}

/// An evaluation that failed (Cerbos counts such a condition as not satisfied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What went wrong.
    pub message: String,
}

impl EvalError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl From<::cel::ExecutionError> for EvalError {
    fn from(error: ::cel::ExecutionError) -> Self {
        EvalError::new(error.to_string())
    }
}

/// A compiled CEL expression; cheap to clone and shareable between threads.
#[derive(Clone, Debug)]
pub struct Expr {
    ast: Arc<IdedExpr>,
    source: Arc<str>,
    variables: Arc<[String]>,
}

/// Timestamp getters that, called without a time zone, read the time in UTC in Cerbos.
const ZONED_GETTERS: [&str; 10] = [
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

impl Expr {
    /// Parses `source`, expanding macros and binding Cerbos's request-bound functions.
    pub fn compile(source: &str) -> Result<Expr, CelError> {
        let env = cerbos_env().map_err(|message| CelError {
            message,
            line: 1,
            column: 1,
        })?;
        let (mut ast, source_info) =
            env.parser()
                .parse_with_source_info(source)
                .map_err(|errors| {
                    let first = errors.errors.first();
                    let (line, column) = first.map(|e| e.pos).unwrap_or((0, 0));
                    CelError {
                        message: first
                            .map(|e| e.msg.clone())
                            .unwrap_or_else(|| errors.to_string()),
                        line: usize::try_from(line).unwrap_or(0).max(1),
                        column: usize::try_from(column).unwrap_or(0).max(1),
                    }
                })?;
        if let Some((id, name)) = undeclared_identifier(&ast, &mut Vec::new()) {
            let offset = source_info
                .offset_for(id)
                .map(|(start, _)| start)
                .unwrap_or(0);
            let (line, column) = line_and_column(source, usize::try_from(offset).unwrap_or(0));
            return Err(CelError {
                message: format!("undeclared reference to '{name}'"),
                line,
                column,
            });
        }
        rewrite(&mut ast);
        let mut variables = BTreeSet::new();
        collect_variables(&ast, &mut variables);
        Ok(Expr {
            ast: Arc::new(ast),
            source: Arc::from(source),
            variables: variables.into_iter().collect(),
        })
    }

    /// The expression's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(super) fn ast(&self) -> &IdedExpr {
        &self.ast
    }

    /// Evaluates the expression.
    pub fn eval(&self, bindings: &Bindings<'_>) -> Result<Value, EvalError> {
        let env = cerbos_env().map_err(EvalError::new)?;
        let mut context = Context::with_env(env);
        context.set_variable_resolver(bindings);
        let result = Value::resolve_val(&self.ast, &context)?;
        Ok(Value::try_from(result.as_ref())?)
    }

    /// Evaluates the expression as a condition: anything but a boolean is an error.
    pub fn eval_bool(&self, bindings: &Bindings<'_>) -> Result<bool, EvalError> {
        let env = cerbos_env().map_err(EvalError::new)?;
        let mut context = Context::with_env(env);
        context.set_variable_resolver(bindings);
        let result = Value::resolve_val(&self.ast, &context)?;
        match result.downcast_ref::<CelBool>() {
            Some(b) => Ok(*b.inner()),
            None => Err(EvalError::new(format!(
                "expected a bool, got {}",
                result.get_type().name()
            ))),
        }
    }

    /// The request, variable, constant and global paths the expression reads (`R.attr.owner`,
    /// `V.x`, `P.attr["team"]`), each with its value for `bindings`, in the order they first appear.
    pub fn read_values(&self, bindings: &Bindings<'_>) -> Vec<(String, Result<Value, EvalError>)> {
        let mut paths = Vec::new();
        collect_paths(&self.ast, &mut paths);
        let mut seen = BTreeSet::new();
        paths
            .into_iter()
            .filter(|(text, _)| seen.insert(text.clone()))
            .map(|(text, node)| {
                let path = Expr {
                    ast: Arc::new(node.clone()),
                    source: Arc::from(text.as_str()),
                    variables: Arc::from([]),
                };
                let value = path.eval(bindings);
                (text, value)
            })
            .collect()
    }

    /// The policy variables (`V.x`, `variables.x`, `V["x"]`) the expression reads, sorted.
    pub fn referenced_variables(&self) -> Vec<String> {
        self.variables.to_vec()
    }
}

fn ident(id: u64, name: &str) -> IdedExpr {
    IdedExpr {
        id,
        expr: Node::Ident(name.to_owned()),
    }
}

fn call(id: u64, func_name: &str, target: Option<IdedExpr>, args: Vec<IdedExpr>) -> IdedExpr {
    IdedExpr {
        id,
        expr: Node::Call(CallExpr {
            func_name: func_name.to_owned(),
            target: target.map(Box::new),
            args,
        }),
    }
}

/// Rewrites, bottom-up, the calls that need the request: `now()` reads the request's instant,
/// `timeSince(t)` subtracts `t` from that instant, a timestamp getter without a time zone reads UTC, and
/// `lictor.check(s, r, o)` indexes the bound directory with `[s, r, o]`.
fn rewrite(node: &mut IdedExpr) {
    children_mut(node).into_iter().for_each(rewrite);
    let id = node.id;
    if let Node::Map(map) = &mut node.expr {
        for entry in &mut map.entries {
            if let EntryExpr::MapEntry(e) = &mut entry.expr {
                if !matches!(e.key.expr, Node::Literal(_)) {
                    let key = std::mem::take(&mut e.key);
                    e.key = call(key.id, MAP_KEY_FN, None, vec![key]);
                }
            }
        }
        return;
    }
    let Node::Call(c) = &mut node.expr else {
        return;
    };
    let replacement = match (c.func_name.as_str(), c.target.as_deref(), c.args.len()) {
        ("now", None, 0) => Some(ident(id, NOW_IDENT)),
        ("timeSince", None, 1) => {
            let args = std::mem::take(&mut c.args);
            let mut args = args.into_iter();
            args.next()
                .map(|t| call(id, TIME_SINCE_FN, None, vec![t, ident(id, NOW_IDENT)]))
        }
        ("timeSince", Some(_), 0) => c
            .target
            .take()
            .map(|t| call(id, TIME_SINCE_FN, None, vec![*t, ident(id, NOW_IDENT)])),
        (
            "check",
            Some(IdedExpr {
                expr: Node::Ident(ns),
                ..
            }),
            3,
        ) if ns == "lictor" => {
            let args = std::mem::take(&mut c.args);
            Some(call(
                id,
                operators::INDEX,
                None,
                vec![
                    ident(id, RELATIONS_IDENT),
                    IdedExpr {
                        id,
                        expr: Node::List(ListExpr::new(args)),
                    },
                ],
            ))
        }
        (getter, Some(_), 0) if ZONED_GETTERS.contains(&getter) => {
            c.func_name = format!("{UTC_GETTER_PREFIX}{getter}");
            None
        }
        _ => None,
    };
    if let Some(replacement) = replacement {
        *node = replacement;
    }
}

/// The names an expression may use without declaring them: Cerbos's top-level identifiers, the
/// namespaces of qualified functions, and type names.
const DECLARED_IDENTIFIERS: [&str; 30] = [
    "request",
    "P",
    "R",
    "V",
    "variables",
    "C",
    "constants",
    "G",
    "globals",
    "runtime",
    "base64",
    "cel",
    "ip",
    "json",
    "lictor",
    "lists",
    "math",
    "optional",
    "regex",
    "sets",
    "strings",
    "google",
    "bool",
    "bytes",
    "double",
    "int",
    "uint",
    "string",
    "list",
    "map",
];

/// Further type names.
const TYPE_NAMES: [&str; 4] = ["null_type", "type", "dyn", "hierarchy"];

/// The first identifier (its node id and name) neither declared nor bound by a comprehension.
fn undeclared_identifier<'n>(
    node: &'n IdedExpr,
    bound: &mut Vec<&'n str>,
) -> Option<(u64, &'n str)> {
    match &node.expr {
        Node::Ident(name) => {
            let known = DECLARED_IDENTIFIERS.contains(&name.as_str())
                || TYPE_NAMES.contains(&name.as_str())
                || bound.contains(&name.as_str());
            (!known).then_some((node.id, name.as_str()))
        }
        Node::Comprehension(c) => undeclared_identifier(&c.iter_range, bound)
            .or_else(|| undeclared_identifier(&c.accu_init, bound))
            .or_else(|| {
                let depth = bound.len();
                bound.push(&c.iter_var);
                bound.push(&c.accu_var);
                if let Some(second) = &c.iter_var2 {
                    bound.push(second);
                }
                let found = [&c.loop_cond, &c.loop_step, &c.result]
                    .into_iter()
                    .find_map(|part| undeclared_identifier(part, bound));
                bound.truncate(depth);
                found
            }),
        _ => children(node)
            .into_iter()
            .find_map(|child| undeclared_identifier(child, bound)),
    }
}

/// The 1-based line and column (in characters) of a character offset in `source`.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The name `V.x`, `variables.x`, `V["x"]` or `variables["x"]` reads, if `node` is one.
pub(super) fn variable_name(node: &IdedExpr) -> Option<&str> {
    let is_root =
        |n: &IdedExpr| matches!(&n.expr, Node::Ident(name) if name == "V" || name == "variables");
    match &node.expr {
        Node::Select(s) if !s.test && is_root(&s.operand) => Some(&s.field),
        Node::Call(c) if c.func_name == operators::INDEX && c.args.len() == 2 => {
            match (c.args.first(), c.args.get(1)) {
                (
                    Some(root),
                    Some(IdedExpr {
                        expr: Node::Literal(LiteralValue::String(name)),
                        ..
                    }),
                ) if is_root(root) => Some(name.inner()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Top-level names whose paths an explanation reports.
const PATH_ROOTS: [&str; 9] = [
    "request",
    "P",
    "R",
    "V",
    "variables",
    "C",
    "constants",
    "G",
    "globals",
];

/// The text of `node` if it is a field path under one of [`PATH_ROOTS`] (`R.attr.owner`,
/// `R.attr["owner"]`), at least one step below its root.
fn path_text(node: &IdedExpr) -> Option<String> {
    fn walk(node: &IdedExpr) -> Option<String> {
        match &node.expr {
            Node::Ident(name) if PATH_ROOTS.contains(&name.as_str()) => Some(name.clone()),
            Node::Select(s) if !s.test => {
                walk(&s.operand).map(|base| format!("{base}.{}", s.field))
            }
            Node::Call(c) if c.func_name == operators::INDEX && c.args.len() == 2 => {
                match (c.args.first(), c.args.get(1)) {
                    (
                        Some(base),
                        Some(IdedExpr {
                            expr: Node::Literal(LiteralValue::String(key)),
                            ..
                        }),
                    ) => walk(base).map(|base| format!("{base}[{:?}]", key.inner())),
                    _ => None,
                }
            }
            _ => None,
        }
    }
    if matches!(node.expr, Node::Ident(_)) {
        return None;
    }
    walk(node)
}

/// The longest field paths in `node`, outermost first.
fn collect_paths<'n>(node: &'n IdedExpr, paths: &mut Vec<(String, &'n IdedExpr)>) {
    if let Some(text) = path_text(node) {
        paths.push((text, node));
        return;
    }
    children(node)
        .into_iter()
        .for_each(|child| collect_paths(child, paths));
}

fn collect_variables(node: &IdedExpr, names: &mut BTreeSet<String>) {
    if let Some(name) = variable_name(node) {
        names.insert(name.to_owned());
        return;
    }
    children(node)
        .into_iter()
        .for_each(|child| collect_variables(child, names));
}

/// The direct subexpressions of `node`.
pub(super) fn children(node: &IdedExpr) -> Vec<&IdedExpr> {
    match &node.expr {
        Node::Call(c) => c
            .target
            .as_deref()
            .into_iter()
            .chain(c.args.iter())
            .collect(),
        Node::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Node::List(list) => list.elements.iter().collect(),
        Node::Map(::cel::common::ast::MapExpr { entries })
        | Node::Struct(::cel::common::ast::StructExpr { entries, .. }) => entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Node::Select(s) => vec![&s.operand],
        Node::Ident(_) | Node::Literal(_) | Node::Unspecified => Vec::new(),
    }
}

/// The direct subexpressions of `node`, to change.
pub(super) fn children_mut(node: &mut IdedExpr) -> Vec<&mut IdedExpr> {
    match &mut node.expr {
        Node::Call(c) => c
            .target
            .as_deref_mut()
            .into_iter()
            .chain(c.args.iter_mut())
            .collect(),
        Node::Comprehension(c) => vec![
            &mut c.iter_range,
            &mut c.accu_init,
            &mut c.loop_cond,
            &mut c.loop_step,
            &mut c.result,
        ],
        Node::List(list) => list.elements.iter_mut().collect(),
        Node::Map(::cel::common::ast::MapExpr { entries })
        | Node::Struct(::cel::common::ast::StructExpr { entries, .. }) => entries
            .iter_mut()
            .flat_map(|entry| match &mut entry.expr {
                EntryExpr::MapEntry(e) => vec![&mut e.key, &mut e.value],
                EntryExpr::StructField(f) => vec![&mut f.value],
            })
            .collect(),
        Node::Select(s) => vec![&mut s.operand],
        Node::Ident(_) | Node::Literal(_) | Node::Unspecified => Vec::new(),
    }
}
