//! Cerbos's path functions, with the lexical rules of Go's `path/filepath` on slash-separated
//! paths. A path written with backslashes (a Windows path) is read with `/` for `\` and written
//! back with backslashes; `C:` and `\\host\share` prefixes are its volume.
use ::cel::common::functions::Function;
use ::cel::common::types::{CelBool, CelList, CelString, LIST_TYPE, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::{DeclarationError, Env, ExecutionError};

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn string_arg<'a>(
    args: &'a [CowVal<'_, '_>],
    index: usize,
    function: &str,
) -> Result<&'a str, ExecutionError> {
    args.get(index)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expected a string"))
}

fn strings_arg(
    args: &[CowVal<'_, '_>],
    index: usize,
    function: &str,
) -> Result<Vec<String>, ExecutionError> {
    let wrong = || ExecutionError::function_error(function, "expected a list of strings");
    let list = args
        .get(index)
        .and_then(|a| a.downcast_ref::<CelList>())
        .ok_or_else(wrong)?;
    list.inner()
        .iter()
        .map(|item| {
            item.downcast_ref::<CelString>()
                .map(|s| s.inner().to_owned())
                .ok_or_else(wrong)
        })
        .collect()
}

fn string_val<'b, 'v>(s: String) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelString::from(s)))
}

fn bool_val<'b, 'v>(b: bool) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(b)))
}

/// A path split into its volume (`C:`, `\\host\share`, or nothing), the rest with `/` as the
/// separator, and whether it was written with backslashes.
struct Path {
    volume: String,
    rest: String,
    windows: bool,
}

impl Path {
    fn read(text: &str) -> Path {
        let windows = text.contains('\\');
        let bytes = text.as_bytes();
        let volume_len = if bytes.get(1) == Some(&b':')
            && bytes.first().is_some_and(|b| b.is_ascii_alphabetic())
        {
            2
        } else if text.starts_with("\\\\") {
            // \\host\share: the volume runs to the end of the share name.
            let after = text.get(2..).unwrap_or_default();
            let mut parts = after.splitn(3, '\\');
            let host = parts.next().unwrap_or_default();
            let share = parts.next().unwrap_or_default();
            2 + host.len() + if share.is_empty() { 0 } else { 1 + share.len() }
        } else {
            0
        };
        let (volume, rest) = text.split_at(volume_len.min(text.len()));
        Path {
            volume: volume.to_owned(),
            rest: if windows {
                rest.replace('\\', "/")
            } else {
                rest.to_owned()
            },
            windows,
        }
    }

    fn write(&self, rest: &str) -> String {
        let rest = if self.windows {
            rest.replace('/', "\\")
        } else {
            rest.to_owned()
        };
        format!("{}{rest}", self.volume)
    }
}

/// Go's `path.Clean`: one slash between elements, no `.`, `..` resolved lexically.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|last| *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

fn base(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if path.is_empty() {
        return ".".to_owned();
    }
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

fn dir(path: &str) -> String {
    let cut = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(path.get(..cut).unwrap_or_default())
}

fn ext(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or(path);
    last.rfind('.')
        .and_then(|i| last.get(i..))
        .unwrap_or_default()
        .to_owned()
}

/// Go's `filepath.Rel`: `target` relative to `base`, lexically.
fn rel(base: &str, target: &str) -> Result<String, String> {
    let (base, target) = (clean(base), clean(target));
    if base == target {
        return Ok(".".to_owned());
    }
    if base.starts_with('/') != target.starts_with('/') {
        return Err(format!("can't make {target} relative to {base}"));
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|e| !e.is_empty() && *e != ".")
            .map(str::to_owned)
            .collect()
    };
    let (b, t) = (parts(&base), parts(&target));
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    if b.get(common..)
        .is_some_and(|rest| rest.iter().any(|e| e == ".."))
    {
        return Err(format!("can't make {target} relative to {base}"));
    }
    let ups = b.len().saturating_sub(common);
    let mut out: Vec<String> = std::iter::repeat_n("..".to_owned(), ups).collect();
    out.extend(t.get(common..).unwrap_or_default().iter().cloned());
    Ok(if out.is_empty() {
        ".".to_owned()
    } else {
        out.join("/")
    })
}

/// Go's `path.Match`: `*` any run of non-separators, `?` one non-separator, `[...]` a class
/// (`^` or `!` negates, `a-z` ranges, `\` escapes).
fn glob_match(pattern: &[char], name: &[char]) -> Result<bool, String> {
    match pattern.split_first() {
        None => Ok(name.is_empty()),
        Some(('*', rest)) => {
            // The pattern after the star must be well formed even if nothing is left to match.
            for skip in 0..=name.len() {
                if name.get(..skip).is_some_and(|s| s.contains(&'/')) {
                    break;
                }
                if glob_match(rest, name.get(skip..).unwrap_or_default())? {
                    return Ok(true);
                }
            }
            glob_match(rest, &[]).map(|_| false)
        }
        Some(('?', rest)) => match name.split_first() {
            Some((c, tail)) if *c != '/' => glob_match(rest, tail),
            _ => Ok(false),
        },
        Some(('[', rest)) => {
            let (matched, after) = match_class(rest, name.first().copied())?;
            match name.split_first() {
                Some((c, tail)) if *c != '/' && matched => glob_match(after, tail),
                _ => Ok(false),
            }
        }
        Some(('\\', rest)) => match (rest.split_first(), name.split_first()) {
            (Some((p, prest)), Some((c, tail))) if p == c => glob_match(prest, tail),
            (None, _) => Err("syntax error in pattern".to_owned()),
            _ => Ok(false),
        },
        Some((p, rest)) => match name.split_first() {
            Some((c, tail)) if c == p => glob_match(rest, tail),
            _ => Ok(false),
        },
    }
}

/// Whether `c` is in the class that starts `pattern` (after `[`), and the pattern after `]`.
fn match_class(pattern: &[char], c: Option<char>) -> Result<(bool, &[char]), String> {
    let bad = || "syntax error in pattern".to_owned();
    let (negated, mut rest) = match pattern.split_first() {
        Some(('^' | '!', tail)) => (true, tail),
        _ => (false, pattern),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        let (lo, tail) = match rest.split_first() {
            Some((']', tail)) if !first => {
                return Ok((matched != negated && c.is_some(), tail));
            }
            Some(('\\', tail)) => tail.split_first().map(|(e, t)| (*e, t)).ok_or_else(bad)?,
            Some((ch, tail)) => (*ch, tail),
            None => return Err(bad()),
        };
        first = false;
        let (hi, tail) = match tail.split_first() {
            Some(('-', after)) if after.first().is_some_and(|e| *e != ']') => {
                match after.split_first() {
                    Some(('\\', t)) => t.split_first().map(|(e, t)| (*e, t)).ok_or_else(bad)?,
                    Some((e, t)) => (*e, t),
                    None => return Err(bad()),
                }
            }
            _ => (lo, tail),
        };
        if c.is_some_and(|c| lo <= c && c <= hi) {
            matched = true;
        }
        rest = tail;
    }
}

fn path_match(path: &str, pattern: &str) -> Result<bool, ExecutionError> {
    let (path, pattern) = (Path::read(path), Path::read(pattern));
    if path.volume != pattern.volume {
        return Ok(false);
    }
    let pattern: Vec<char> = pattern.rest.chars().collect();
    let name: Vec<char> = path.rest.chars().collect();
    glob_match(&pattern, &name).map_err(|e| ExecutionError::function_error("pathMatch", e))
}

fn base_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = Path::read(string_arg(&args, 0, "basePath")?);
    let last = base(&clean(&path.rest));
    string_val(if path.windows {
        last.replace('/', "\\")
    } else {
        last
    })
}

fn dir_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = Path::read(string_arg(&args, 0, "dirPath")?);
    string_val(path.write(&dir(&path.rest)))
}

fn ext_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = Path::read(string_arg(&args, 0, "extPath")?);
    string_val(ext(&path.rest))
}

fn join_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let parts = strings_arg(&args, 0, "joinPath")?;
    let windows = parts.iter().any(|p| p.contains('\\'));
    let joined: Vec<String> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.replace('\\', "/"))
        .collect();
    if joined.is_empty() {
        return string_val(String::new());
    }
    let first = parts
        .iter()
        .find(|p| !p.is_empty())
        .cloned()
        .unwrap_or_default();
    let path = Path::read(&first);
    let joined = joined.join("/");
    let rest = joined.get(path.volume.len()..).unwrap_or_default();
    let written = Path { windows, ..path };
    string_val(written.write(&clean(rest)))
}

fn path_has_prefix<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = Path::read(string_arg(&args, 0, "pathHasPrefix")?);
    let prefix = Path::read(string_arg(&args, 1, "pathHasPrefix")?);
    if path.volume != prefix.volume {
        return bool_val(false);
    }
    if path.rest == prefix.rest {
        return bool_val(true);
    }
    let relative = rel(&prefix.rest, &path.rest)
        .map_err(|e| ExecutionError::function_error("pathHasPrefix", e))?;
    bool_val(!relative.starts_with('.') && !relative.starts_with('/') && !relative.is_empty())
}

fn path_match_fn<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = string_arg(&args, 0, "pathMatch")?;
    let pattern = string_arg(&args, 1, "pathMatch")?;
    bool_val(path_match(path, pattern)?)
}

fn path_match_any_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let path = string_arg(&args, 0, "pathMatchAnyOf")?;
    for pattern in strings_arg(&args, 1, "pathMatchAnyOf")? {
        if path_match(path, &pattern)? {
            return bool_val(true);
        }
    }
    bool_val(false)
}

fn rel_path<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let base = Path::read(string_arg(&args, 0, "relPath")?);
    let target = Path::read(string_arg(&args, 1, "relPath")?);
    if base.volume != target.volume {
        return Err(ExecutionError::function_error(
            "relPath",
            "the paths are on different volumes",
        ));
    }
    let relative =
        rel(&base.rest, &target.rest).map_err(|e| ExecutionError::function_error("relPath", e))?;
    let written = Path {
        volume: String::new(),
        rest: String::new(),
        windows: base.windows || target.windows,
    };
    string_val(written.write(&relative))
}

fn volume_name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    string_val(Path::read(string_arg(&args, 0, "volumeName")?).volume)
}

/// Declares the path functions, global and (where Cerbos has them) as string methods.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let unary: [(&str, Function); 4] = [
        ("basePath", base_path),
        ("dirPath", dir_path),
        ("extPath", ext_path),
        ("volumeName", volume_name),
    ];
    for (name, function) in unary {
        env.add_overload(name, &format!("{name}_string"), vec![STRING_TYPE], function)?;
    }
    env.add_overload("joinPath", "joinPath_list", vec![LIST_TYPE], join_path)?;
    env.add_overload(
        "relPath",
        "relPath_string_string",
        vec![STRING_TYPE, STRING_TYPE],
        rel_path,
    )?;
    let binary: [(&str, Function, ::cel::common::types::Type); 3] = [
        ("pathHasPrefix", path_has_prefix, STRING_TYPE),
        ("pathMatch", path_match_fn, STRING_TYPE),
        ("pathMatchAnyOf", path_match_any_of, LIST_TYPE),
    ];
    for (name, function, second) in binary {
        env.add_overload(
            name,
            &format!("{name}_string"),
            vec![STRING_TYPE, second.to_owned()],
            function,
        )?;
        env.add_member_overload(
            name,
            &format!("string_{name}"),
            STRING_TYPE,
            vec![second],
            function,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lexical_rules() {
        assert_eq!(clean("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(clean("../a/.."), "..");
        assert_eq!(clean("/.."), "/");
        assert_eq!(base("/path/to/dir"), "dir");
        assert_eq!(base("/path/to/dir/"), "dir");
        assert_eq!(dir("/path/to/file.txt"), "/path/to");
        assert_eq!(dir("file.txt"), ".");
        assert_eq!(ext("/path/to/file.tar.gz"), ".gz");
        assert_eq!(ext("/path.d/file"), "");
        assert_eq!(rel("/path/to", "/path/to/file.txt").unwrap(), "file.txt");
        assert_eq!(rel("/a/b/c", "/a/x").unwrap(), "../../x");
        assert!(rel("/a", "b").is_err());
    }

    #[test]
    fn globs() {
        let m = |p: &str, n: &str| {
            glob_match(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(m("/path/to/*.zip", "/path/to/file.zip"), Ok(true));
        assert_eq!(m("/path/*.zip", "/path/to/file.zip"), Ok(false));
        assert_eq!(m("a?c", "abc"), Ok(true));
        assert_eq!(m("[a-c]x", "bx"), Ok(true));
        assert_eq!(m("[^a-c]x", "bx"), Ok(false));
        assert!(m("[a-", "a").is_err());
    }
}
