//! Cerbos's policy identifiers: `resource.<kind>.v<version>/<scope>` and friends, with names rewritten as
//! Cerbos does (`album:photo` becomes `album_photo`).

/// Whether a name follows the pre-0.30 naming pattern, the only names Cerbos rewrites.
fn follows_old_pattern(name: &str) -> bool {
    let segment_ok = |segment: &str| {
        let mut chars = segment.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '.' | '-' | '/'))
    };
    name.split(':').all(segment_ok)
}

/// Rewrites a resource, principal or role name as Cerbos does in policy identifiers: when the name follows
/// the old naming pattern, every run of characters other than letters, digits, `_` and `.` becomes `_`.
pub(crate) fn sanitize(name: &str) -> String {
    if !follows_old_pattern(name) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// Appends `/scope` unless the scope is the root.
pub(crate) fn with_scope(key: &str, scope: &str) -> String {
    if scope.is_empty() {
        key.to_owned()
    } else {
        format!("{key}/{scope}")
    }
}

/// `resource.<kind>.v<version>[/<scope>]`.
pub(crate) fn resource_policy_key(kind: &str, version: &str, scope: &str) -> String {
    with_scope(
        &format!("resource.{}.v{}", sanitize(kind), sanitize(version)),
        scope,
    )
}

/// `principal.<id>.v<version>[/<scope>]`.
pub(crate) fn principal_policy_key(principal: &str, version: &str, scope: &str) -> String {
    with_scope(
        &format!("principal.{}.v{}", sanitize(principal), sanitize(version)),
        scope,
    )
}

/// `role.<role>.v<version>[/<scope>]`.
pub(crate) fn role_policy_key(role: &str, version: &str, scope: &str) -> String {
    let version = if version.is_empty() {
        "default"
    } else {
        version
    };
    with_scope(
        &format!("role.{}.v{}", sanitize(role), sanitize(version)),
        scope,
    )
}

/// `derived_roles.<name>`.
pub(crate) fn derived_roles_key(name: &str) -> String {
    format!("derived_roles.{}", sanitize(name))
}

/// The ancestors of a scope, nearest first, ending with the root (`""`); none for the root itself.
pub(crate) fn scope_parents(scope: &str) -> impl Iterator<Item = &str> {
    let dots = scope
        .char_indices()
        .filter(|(_, c)| *c == '.')
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    let mut cuts: Vec<usize> = dots.into_iter().rev().collect();
    if !scope.is_empty() {
        cuts.push(0);
    }
    cuts.into_iter()
        .map(move |i| scope.get(..i).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_rewritten_like_cerbos() {
        assert_eq!(sanitize("album:photo"), "album_photo");
        assert_eq!(sanitize("carol@example.com"), "carol_example.com");
        assert_eq!(sanitize("the:one:ring"), "the_one_ring");
        assert_eq!(
            sanitize("arn:aws:sns:us-east-1:123456789012:topic-a"),
            "arn:aws:sns:us-east-1:123456789012:topic-a"
        );
        assert_eq!(sanitize("20210210_admin"), "20210210_admin");
        assert_eq!(sanitize("alb*"), "alb*");
    }

    #[test]
    fn scope_parents_go_up_to_the_root() {
        assert_eq!(scope_parents("a.b.c").collect::<Vec<_>>(), ["a.b", "a", ""]);
        assert_eq!(scope_parents("a").collect::<Vec<_>>(), [""]);
        assert!(scope_parents("").next().is_none());
    }
}
