//! Bounds on one evaluation: a wall-clock limit, enforced by regorus's cooperative execution timer,
//! and a cap on the collections a built-in may create from a few bytes of query
//! (`numbers.range(1, 200000000)` would otherwise allocate gigabytes before any check runs).

use regorus::utils::limits::{ExecutionTimerConfig, LimitError};
use regorus::{Engine, Value};
use std::cell::Cell;
use std::num::NonZeroU32;
use std::time::Duration;

/// The bounds one evaluation runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalLimits {
    /// Wall-clock time one evaluation (one rule, decision or query) may take.
    pub timeout: Duration,
    /// Most elements a built-in may create in one collection (`numbers.range`).
    pub max_collection: usize,
}

impl Default for EvalLimits {
    fn default() -> Self {
        EvalLimits {
            timeout: Duration::from_secs(2),
            max_collection: 1_000_000,
        }
    }
}

/// Work units between two reads of the clock: a read costs tens of nanoseconds, a unit about as much.
const CHECK_INTERVAL: NonZeroU32 = NonZeroU32::MIN.saturating_add(63);

impl EvalLimits {
    /// The timer configuration for regorus.
    pub(crate) fn timer(&self) -> ExecutionTimerConfig {
        ExecutionTimerConfig {
            limit: self.timeout,
            check_interval: CHECK_INTERVAL,
        }
    }
}

/// Which bound an evaluation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The time limit.
    Time,
    /// A size limit.
    Memory,
}

/// A built-in refused to create a collection larger than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{builtin} would create {elements} elements, over the limit of {limit}")]
pub struct CollectionLimit {
    /// The built-in's name.
    pub builtin: &'static str,
    /// How many elements it was asked for.
    pub elements: u128,
    /// The limit in force.
    pub limit: usize,
}

thread_local! {
    /// The collection cap of the evaluation running on this thread.
    static MAX_COLLECTION: Cell<usize> = Cell::new(EvalLimits::default().max_collection);
}

/// Applies `limits` to the evaluations on this thread until the guard drops.
pub(crate) fn apply(engine: &mut Engine, limits: &EvalLimits) -> LimitGuard {
    engine.set_execution_timer_config(limits.timer());
    LimitGuard {
        previous: MAX_COLLECTION.with(|cap| cap.replace(limits.max_collection)),
    }
}

/// Restores the previous collection cap when dropped.
pub(crate) struct LimitGuard {
    previous: usize,
}

impl Drop for LimitGuard {
    fn drop(&mut self) {
        MAX_COLLECTION.with(|cap| cap.set(self.previous));
    }
}

/// Which bound an evaluation error reports, if any.
pub(crate) fn limit_of(error: &anyhow::Error) -> Option<(LimitKind, String)> {
    for cause in error.chain() {
        if let Some(limit) = cause.downcast_ref::<LimitError>() {
            let kind = match limit {
                LimitError::TimeLimitExceeded { .. } => LimitKind::Time,
                _ => LimitKind::Memory,
            };
            return Some((kind, limit.to_string()));
        }
        if let Some(limit) = cause.downcast_ref::<CollectionLimit>() {
            return Some((LimitKind::Memory, limit.to_string()));
        }
    }
    // regorus flattens an extension's error (and some of its own) into the message of a located
    // error, so the bound is recognised by the words its Display writes.
    let message = crate::error::one_line(error);
    if message.contains(COLLECTION_LIMIT_WORDS) {
        Some((LimitKind::Memory, message))
    } else if message.contains("execution exceeded time limit") {
        Some((LimitKind::Time, message))
    } else if message.contains("execution exceeded memory limit") {
        Some((LimitKind::Memory, message))
    } else {
        None
    }
}

/// The words that mark a [`CollectionLimit`] in a flattened message.
const COLLECTION_LIMIT_WORDS: &str = "elements, over the limit of";

/// Replaces the range built-ins with versions that count before they allocate.
pub(crate) fn register(engine: &mut Engine) -> anyhow::Result<()> {
    engine.add_extension(
        "numbers.range".to_string(),
        2,
        Box::new(|args: Vec<Value>| {
            let (from, to) = (
                integer(&args, 0, "numbers.range")?,
                integer(&args, 1, "numbers.range")?,
            );
            let Some((from, to)) = from.zip(to) else {
                return Ok(Value::Undefined);
            };
            range("numbers.range", from, to, 1)
        }),
    )?;
    engine.add_extension(
        "numbers.range_step".to_string(),
        3,
        Box::new(|args: Vec<Value>| {
            let name = "numbers.range_step";
            let (from, to, step) = (
                integer(&args, 0, name)?,
                integer(&args, 1, name)?,
                integer(&args, 2, name)?,
            );
            let (Some(from), Some(to), Some(step)) = (from, to, step) else {
                return Ok(Value::Undefined);
            };
            if step <= 0 {
                anyhow::bail!("{name}: step must be a positive integer");
            }
            range(name, from, to, step)
        }),
    )?;
    Ok(())
}

/// The integer argument at `index`; `None` for a number that is not an integer (the call is then
/// undefined, as OPA answers), an error for anything else.
fn integer(args: &[Value], index: usize, name: &str) -> anyhow::Result<Option<i64>> {
    match args.get(index) {
        Some(Value::Number(number)) => Ok(number.as_i64().filter(|_| number.is_integer())),
        Some(other) => anyhow::bail!(
            "{name}: operand {} must be a number, got {}",
            index + 1,
            other
        ),
        None => anyhow::bail!("{name}: operand {} is missing", index + 1),
    }
}

/// `from` to `to` inclusive in steps of `step` (positive), counting down when `to < from`.
fn range(builtin: &'static str, from: i64, to: i64, step: i64) -> anyhow::Result<Value> {
    let span = u128::from(from.abs_diff(to));
    let step_size = u128::from(step.unsigned_abs());
    let elements = span / step_size + 1;
    let limit = MAX_COLLECTION.with(Cell::get);
    if elements > limit as u128 {
        return Err(CollectionLimit {
            builtin,
            elements,
            limit,
        }
        .into());
    }
    let down = to < from;
    let values = (0..elements)
        .map(|i| {
            // `i * step` stays within the span, which fits in i128.
            let offset = i128::try_from(i * step_size).unwrap_or(i128::MAX);
            let value = if down {
                i128::from(from) - offset
            } else {
                i128::from(from) + offset
            };
            Value::from(i64::try_from(value).unwrap_or(to))
        })
        .collect::<Vec<_>>();
    Ok(Value::from(values))
}
