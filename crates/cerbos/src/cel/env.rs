//! The CEL environment every expression compiles and runs in: the standard library, cel-go's
//! extensions Cerbos enables, Cerbos's functions and macros. Built once per process.
use std::sync::{Arc, OnceLock};

use ::cel::common::ast::{
    operators, CallExpr, ComprehensionExpr, Expr as Node, IdedExpr, ListExpr, LiteralValue, MapExpr,
};
use ::cel::parser::{Macro, MacroExprHelper};
use ::cel::{extensions, DeclarationError, Env, ParseError};

use super::functions::{self, MAP_INSERT_FN, MAP_MERGE_FN, PAIRS_FN};
use super::{hierarchy, network, paths, spiffe, text};

static ENV: OnceLock<Result<Arc<Env>, String>> = OnceLock::new();

/// The shared environment, or why it could not be built (a programming error, reported rather
/// than panicking).
pub(super) fn cerbos_env() -> Result<Arc<Env>, String> {
    ENV.get_or_init(|| {
        build()
            .map(Arc::new)
            .map_err(|e| format!("the CEL environment cannot be built: {e}"))
    })
    .clone()
}

fn build() -> Result<Env, DeclarationError> {
    let mut env = Env::stdlib();
    env.add_extension(extensions::strings)?;
    env.add_extension(extensions::lists)?;
    env.add_extension(extensions::math)?;
    env.add_extension(extensions::encoders)?;
    hierarchy::register(&mut env)?;
    functions::register(&mut env)?;
    paths::register(&mut env)?;
    network::register(&mut env)?;
    text::register(&mut env)?;
    spiffe::register(&mut env)?;
    env.add_macro(Macro::receiver("bind", 3, bind_macro))?;
    for name in ["all", "exists", "existsOne", "exists_one"] {
        env.add_macro(Macro::receiver(name, 3, move |helper, target, args| {
            two_var_predicate(name, helper, target, args)
        }))?;
    }
    for name in ["transformList", "transformMap", "transformMapEntry"] {
        for arity in [3, 4] {
            env.add_macro(Macro::receiver(name, arity, move |helper, target, args| {
                two_var_transform(name, helper, target, args)
            }))?;
        }
    }
    Ok(env)
}

type Expansion = Result<Option<IdedExpr>, ParseError>;

fn ident_name(helper: &MacroExprHelper<'_>, expr: &IdedExpr) -> Result<String, ParseError> {
    match &expr.expr {
        Node::Ident(name) => Ok(name.clone()),
        _ => Err(helper.new_error(expr.id, "argument must be a simple name")),
    }
}

/// `name` bound to `value` in `body`: a comprehension over nothing whose accumulator is `name`.
fn bind(
    helper: &mut MacroExprHelper<'_>,
    name: String,
    value: IdedExpr,
    body: IdedExpr,
) -> IdedExpr {
    let comprehension = ComprehensionExpr {
        iter_range: helper.next_expr(Node::List(ListExpr::new(Vec::new()))),
        iter_var: "#unused".to_owned(),
        iter_var2: None,
        accu_var: name.clone(),
        accu_init: value,
        loop_cond: helper.next_expr(Node::Literal(LiteralValue::Boolean(false.into()))),
        loop_step: helper.next_expr(Node::Ident(name)),
        result: body,
    };
    helper.next_expr(Node::Comprehension(Box::new(comprehension)))
}

/// `cel.bind(name, value, body)`.
fn bind_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Node::Ident(ns)) if ns == "cel") {
        return Ok(None);
    }
    let (Some(body), Some(value), Some(name)) = (args.pop(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let name = ident_name(helper, &name)?;
    Ok(Some(bind(helper, name, value, body)))
}

fn call(helper: &mut MacroExprHelper<'_>, func_name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    helper.next_expr(Node::Call(CallExpr {
        func_name: func_name.to_owned(),
        target: None,
        args,
    }))
}

fn ident(helper: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    helper.next_expr(Node::Ident(name.to_owned()))
}

fn literal(helper: &mut MacroExprHelper<'_>, value: LiteralValue) -> IdedExpr {
    helper.next_expr(Node::Literal(value))
}

const PAIR: &str = "@pair";
const RESULT: &str = "@result";

/// `pair[index]`, the key (0) or value (1) of the current pair.
fn pair_part(helper: &mut MacroExprHelper<'_>, index: i64) -> IdedExpr {
    let pair = ident(helper, PAIR);
    let index = literal(helper, LiteralValue::Int(index.into()));
    call(helper, operators::INDEX, vec![pair, index])
}

/// `body` with the two iteration variables bound to the current pair's parts.
fn with_pair(helper: &mut MacroExprHelper<'_>, key: &str, value: &str, body: IdedExpr) -> IdedExpr {
    let value_part = pair_part(helper, 1);
    let inner = bind(helper, value.to_owned(), value_part, body);
    let key_part = pair_part(helper, 0);
    bind(helper, key.to_owned(), key_part, inner)
}

/// The iteration variables and the pairs to iterate over, taken from a two-variable call.
fn take_vars(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<(String, String, IdedExpr)>, ParseError> {
    let (Some(key), Some(value)) = (args.first(), args.get(1)) else {
        return Ok(None);
    };
    let value_id = value.id;
    let key = ident_name(helper, key)?;
    let value = ident_name(helper, value)?;
    if key == value {
        return Err(helper.new_error(value_id, "duplicate variable name"));
    }
    let Some(range) = target.take() else {
        return Ok(None);
    };
    args.drain(..2);
    let pairs = call(helper, PAIRS_FN, vec![range]);
    Ok(Some((key, value, pairs)))
}

fn comprehension(
    helper: &mut MacroExprHelper<'_>,
    iter_range: IdedExpr,
    accu_init: IdedExpr,
    loop_cond: IdedExpr,
    loop_step: IdedExpr,
    result: IdedExpr,
) -> IdedExpr {
    helper.next_expr(Node::Comprehension(Box::new(ComprehensionExpr {
        iter_range,
        iter_var: PAIR.to_owned(),
        iter_var2: None,
        accu_var: RESULT.to_owned(),
        accu_init,
        loop_cond,
        loop_step,
        result,
    })))
}

/// `all(k, v, p)`, `exists(k, v, p)`, `existsOne(k, v, p)` over a list (index, element) or a map
/// (key, value).
fn two_var_predicate(
    name: &str,
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let Some((key, value, pairs)) = take_vars(helper, target, args)? else {
        return Ok(None);
    };
    let Some(predicate) = args.pop() else {
        return Ok(None);
    };
    let predicate = with_pair(helper, &key, &value, predicate);
    let expansion = match name {
        "all" | "exists" => {
            let all = name == "all";
            let init = literal(helper, LiteralValue::Boolean(all.into()));
            let accu = ident(helper, RESULT);
            let running = if all {
                accu
            } else {
                call(helper, operators::LOGICAL_NOT, vec![accu])
            };
            let cond = call(helper, operators::NOT_STRICTLY_FALSE, vec![running]);
            let accu = ident(helper, RESULT);
            let connective = if all {
                operators::LOGICAL_AND
            } else {
                operators::LOGICAL_OR
            };
            let step = call(helper, connective, vec![accu, predicate]);
            let result = ident(helper, RESULT);
            comprehension(helper, pairs, init, cond, step, result)
        }
        _ => {
            let init = literal(helper, LiteralValue::Int(0.into()));
            let cond = literal(helper, LiteralValue::Boolean(true.into()));
            let accu = ident(helper, RESULT);
            let one = literal(helper, LiteralValue::Int(1.into()));
            let incremented = call(helper, operators::ADD, vec![accu, one]);
            let unchanged = ident(helper, RESULT);
            let step = call(
                helper,
                operators::CONDITIONAL,
                vec![predicate, incremented, unchanged],
            );
            let accu = ident(helper, RESULT);
            let one = literal(helper, LiteralValue::Int(1.into()));
            let result = call(helper, operators::EQUALS, vec![accu, one]);
            comprehension(helper, pairs, init, cond, step, result)
        }
    };
    Ok(Some(expansion))
}

/// `transformList(k, v, [filter,] f)`, `transformMap(k, v, [filter,] f)` and
/// `transformMapEntry(k, v, [filter,] entry)`.
fn two_var_transform(
    name: &str,
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let Some((key, value, pairs)) = take_vars(helper, target, args)? else {
        return Ok(None);
    };
    let Some(transform) = args.pop() else {
        return Ok(None);
    };
    let filter = args.pop();
    let transform = with_pair(helper, &key, &value, transform);
    let accu = ident(helper, RESULT);
    let (init, step) = match name {
        "transformList" => {
            let init = helper.next_expr(Node::List(ListExpr::new(Vec::new())));
            let element = helper.next_expr(Node::List(ListExpr::new(vec![transform])));
            (init, call(helper, operators::ADD, vec![accu, element]))
        }
        "transformMap" => {
            let init = helper.next_expr(Node::Map(MapExpr {
                entries: Vec::new(),
            }));
            let key_part = pair_part(helper, 0);
            (
                init,
                call(helper, MAP_INSERT_FN, vec![accu, key_part, transform]),
            )
        }
        _ => {
            let init = helper.next_expr(Node::Map(MapExpr {
                entries: Vec::new(),
            }));
            (init, call(helper, MAP_MERGE_FN, vec![accu, transform]))
        }
    };
    let step = match filter {
        Some(filter) => {
            let filter = with_pair(helper, &key, &value, filter);
            let unchanged = ident(helper, RESULT);
            call(
                helper,
                operators::CONDITIONAL,
                vec![filter, step, unchanged],
            )
        }
        None => step,
    };
    let cond = literal(helper, LiteralValue::Boolean(true.into()));
    let result = ident(helper, RESULT);
    Ok(Some(comprehension(helper, pairs, init, cond, step, result)))
}
