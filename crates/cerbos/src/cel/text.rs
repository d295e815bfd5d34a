//! cel-go's regex library (`regex.replace`, `regex.extract`, `regex.extractAll`) and
//! `json.encode`, both of which Cerbos enables.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ::cel::common::types::{
    CelInt, CelList, CelOptional, CelString, DYN_TYPE, INT_TYPE, STRING_TYPE,
};
use ::cel::common::value::{CowVal, Val};
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use regex::Regex;

use super::convert::value_to_json;

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

/// How many compiled patterns are kept; policies use few, and the cache starts over when full.
const PATTERN_CACHE_SIZE: usize = 256;

static PATTERNS: Mutex<Option<HashMap<String, Arc<Regex>>>> = Mutex::new(None);

/// `pattern` compiled, from the cache when it was compiled before.
fn compiled(pattern: &str, function: &str) -> Result<Arc<Regex>, ExecutionError> {
    let cached = PATTERNS
        .lock()
        .ok()
        .and_then(|cache| cache.as_ref()?.get(pattern).cloned());
    if let Some(regex) = cached {
        return Ok(regex);
    }
    let regex =
        Arc::new(Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))?);
    if let Ok(mut cache) = PATTERNS.lock() {
        let cache = cache.get_or_insert_with(HashMap::new);
        if cache.len() >= PATTERN_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), Arc::clone(&regex));
    }
    Ok(regex)
}

fn text<'a>(
    args: &'a [CowVal<'_, '_>],
    index: usize,
    function: &str,
) -> Result<&'a str, ExecutionError> {
    args.get(index)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expected a string"))
}

/// The replacement for one match: `\N` inserts group N, `\\` a backslash.
fn expand(
    replacement: &str,
    captures: &regex::Captures<'_>,
    groups: usize,
) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = replacement.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => return Err("invalid replacement string: \\ not allowed at end".to_owned()),
            Some('\\') => out.push('\\'),
            Some(d) => {
                let group = d.to_digit(10).ok_or_else(|| {
                    "invalid replacement string: \\ must be followed by a digit or \\".to_owned()
                })?;
                let group = usize::try_from(group).unwrap_or(usize::MAX);
                if group > groups {
                    return Err(format!(
                        "replacement string references group {group} but regex has only {groups} group(s)"
                    ));
                }
                if let Some(m) = captures.get(group) {
                    out.push_str(m.as_str());
                }
            }
        }
    }
    Ok(out)
}

fn replace_n(
    target: &str,
    pattern: &str,
    replacement: &str,
    count: i64,
) -> Result<String, ExecutionError> {
    if count == 0 {
        return Ok(target.to_owned());
    }
    let regex = compiled(pattern, "regex.replace")?;
    let groups = regex.captures_len().saturating_sub(1);
    let limit = usize::try_from(count).ok();
    let mut out = String::new();
    let mut last = 0;
    for (done, captures) in regex.captures_iter(target).enumerate() {
        if limit.is_some_and(|limit| done >= limit) {
            break;
        }
        let Some(whole) = captures.get(0) else {
            continue;
        };
        let replaced = expand(replacement, &captures, groups)
            .map_err(|e| ExecutionError::function_error("regex.replace", e))?;
        out.push_str(target.get(last..whole.start()).unwrap_or_default());
        out.push_str(&replaced);
        last = whole.end();
    }
    out.push_str(target.get(last..).unwrap_or_default());
    Ok(out)
}

fn replace<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let count = match args.get(3) {
        Some(count) => *count
            .downcast_ref::<CelInt>()
            .ok_or_else(|| ExecutionError::function_error("regex.replace", "expected an int"))?
            .inner(),
        None => -1,
    };
    let replaced = replace_n(
        text(&args, 0, "regex.replace")?,
        text(&args, 1, "regex.replace")?,
        text(&args, 2, "regex.replace")?,
        count,
    )?;
    Ok(CowVal::owned(CelString::from(replaced)))
}

/// The pattern, refused when it has more than one capturing group.
fn extraction_pattern(pattern: &str, function: &str) -> Result<Arc<Regex>, ExecutionError> {
    let regex = compiled(pattern, function)?;
    if regex.captures_len() > 2 {
        return Err(ExecutionError::function_error(
            function,
            format!("regular expression has more than one capturing group: {pattern:?}"),
        ));
    }
    Ok(regex)
}

fn extract<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let target = text(&args, 0, "regex.extract")?;
    let regex = extraction_pattern(text(&args, 1, "regex.extract")?, "regex.extract")?;
    let found = regex.captures(target).and_then(|captures| {
        if regex.captures_len() == 2 {
            captures
                .get(1)
                .map(|m| m.as_str())
                .filter(|s| !s.is_empty())
        } else {
            captures.get(0).map(|m| m.as_str())
        }
    });
    Ok(CowVal::owned(match found {
        Some(s) => CelOptional::of(Box::new(CelString::from(s.to_owned()))),
        None => CelOptional::none(),
    }))
}

fn extract_all<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let target = text(&args, 0, "regex.extractAll")?;
    let regex = extraction_pattern(text(&args, 1, "regex.extractAll")?, "regex.extractAll")?;
    let group = usize::from(regex.captures_len() == 2);
    let items: Vec<Box<dyn Val + 'v>> = regex
        .captures_iter(target)
        .filter_map(|captures| captures.get(group).map(|m| m.as_str().to_owned()))
        .filter(|s| group == 0 || !s.is_empty())
        .map(|s| Box::new(CelString::from(s)) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(items)))
}

/// A double with no fraction as JSON writes it in Go (`3`, not `3.0`).
fn go_numbers(json: serde_json::Value) -> serde_json::Value {
    match json {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // Exact: |f| is below 2^53 and f has no fraction.
                serde_json::Value::from(f as i64)
            }
            _ => serde_json::Value::Number(n),
        },
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(go_numbers).collect())
        }
        serde_json::Value::Object(fields) => serde_json::Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, go_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn json_encode<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let value = args
        .first()
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let value = Value::try_from(value.as_ref())?;
    // serde_json's maps are sorted by key, as Go's encoding/json writes them.
    let encoded = serde_json::to_string(&go_numbers(value_to_json(&value)))
        .map_err(|e| ExecutionError::function_error("json.encode", e))?;
    Ok(CowVal::owned(CelString::from(encoded)))
}

/// Declares `regex.replace`, `regex.extract`, `regex.extractAll` and `json.encode`.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload(
        "regex.replace",
        "regex_replace_string_string_string",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE],
        replace,
    )?;
    env.add_overload(
        "regex.replace",
        "regex_replace_string_string_string_int",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE, INT_TYPE],
        replace,
    )?;
    env.add_overload(
        "regex.extract",
        "regex_extract_string_string",
        vec![STRING_TYPE, STRING_TYPE],
        extract,
    )?;
    env.add_overload(
        "regex.extractAll",
        "regex_extractAll_string_string",
        vec![STRING_TYPE, STRING_TYPE],
        extract_all,
    )?;
    env.add_overload(
        "json.encode",
        "json_encode_dyn",
        vec![DYN_TYPE],
        json_encode,
    )?;
    Ok(())
}
