//! Glob patterns of actions, resources and roles, with `:` as the separator: `*` matches within one
//! `:`-separated segment, `**` (and a lone `*`) across segments, `?` one character, `{a,b}` alternatives.

/// Whether `value` equals `pattern` or, when the pattern contains `*`, matches it as a glob.
pub(crate) fn matches(pattern: &str, value: &str) -> bool {
    if pattern == value {
        return true;
    }
    if !pattern.contains('*') {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    glob_match(&pattern, &value)
}

fn glob_match(pattern: &[char], value: &[char]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some(('*', rest)) => {
            let (crosses, rest) = match rest.split_first() {
                Some(('*', after)) => (true, after),
                _ => (false, rest),
            };
            for i in 0..=value.len() {
                if glob_match(rest, value.get(i..).unwrap_or_default()) {
                    return true;
                }
                match value.get(i) {
                    Some(':') if !crosses => return false,
                    None => return false,
                    _ => {}
                }
            }
            false
        }
        Some(('?', rest)) => match value.split_first() {
            Some((c, value_rest)) if *c != ':' => glob_match(rest, value_rest),
            _ => false,
        },
        Some(('{', rest)) => {
            let Some(close) = rest.iter().position(|c| *c == '}') else {
                return value.first() == Some(&'{')
                    && glob_match(rest, value.get(1..).unwrap_or_default());
            };
            let (alternatives, after) = rest.split_at(close);
            let after = after.get(1..).unwrap_or_default();
            alternatives.split(|c| *c == ',').any(|alt| {
                let mut candidate = alt.to_vec();
                candidate.extend_from_slice(after);
                glob_match(&candidate, value)
            })
        }
        Some((c, rest)) => match value.split_first() {
            Some((v, value_rest)) if v == c => glob_match(rest, value_rest),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_stays_within_a_segment() {
        assert!(matches("view:*", "view:public"));
        assert!(!matches("view:*", "view:public:all"));
        assert!(matches("view:**", "view:public:all"));
        assert!(matches("*", "a:b:c"));
        assert!(matches("alb*", "album_photo"));
        assert!(!matches("album:*", "album_photo"));
        assert!(!matches("view", "view:x"));
        assert!(matches("{view,edit}:*", "edit:x"));
    }
}
