//! Tests of `parse_manifest`: well-formed manifests, expression precedence and every error path.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::{
    parse_manifest, Diagnostic, Manifest, ManifestError, PermissionExpr, Span, SubjectType,
};

fn parse_ok(source: &str) -> Manifest {
    parse_manifest(source, "m.yaml").unwrap_or_else(|err| panic!("{err}"))
}

fn parse_err(source: &str) -> ManifestError {
    match parse_manifest(source, "m.yaml") {
        Ok(manifest) => panic!("expected an error, parsed {manifest:#?}"),
        Err(err) => err,
    }
}

/// Asserts that parsing fails with exactly one diagnostic, at `line:column`, containing `needle`.
fn assert_single_error(source: &str, line: usize, column: usize, needle: &str) {
    let err = parse_err(source);
    assert_eq!(
        err.diagnostics.len(),
        1,
        "expected one diagnostic, got:\n{err}"
    );
    assert_diagnostic(&err.diagnostics[0], line, column, needle, &err);
}

fn assert_diagnostic(
    diagnostic: &Diagnostic,
    line: usize,
    column: usize,
    needle: &str,
    err: &ManifestError,
) {
    assert!(
        diagnostic.message.contains(needle),
        "`{}` does not contain `{needle}`; all:\n{err}",
        diagnostic.message
    );
    assert_eq!(
        diagnostic.span,
        Span { line, column },
        "wrong position for `{}`",
        diagnostic.message
    );
}

/// A manifest whose permission `p` (line 14, value from column 10) is `expr`.
fn with_permission(expr: &str) -> String {
    format!(
        "model:
  version: 3
types:
  user: {{}}
  doc:
    relations:
      a: user
      b: user
      c: user
      d: user
      parent: doc
      public-viewer: user:*
    permissions:
      p: {expr}
      q: a
"
    )
}

/// Parses `expr` as permission `p` and renders it with explicit grouping.
fn expr(text: &str) -> String {
    let manifest = parse_ok(&with_permission(text));
    let p = manifest.type_def("doc").unwrap().permission("p").unwrap();
    show(&p.expr)
}

fn show(expr: &PermissionExpr) -> String {
    let join = |items: &[PermissionExpr], op: &str| {
        let parts: Vec<String> = items.iter().map(show).collect();
        format!("({})", parts.join(op))
    };
    match expr {
        PermissionExpr::Ref { name, .. } => name.clone(),
        PermissionExpr::Arrow {
            relation, target, ..
        } => format!("{relation}->{target}"),
        PermissionExpr::Union(items) => join(items, " | "),
        PermissionExpr::Intersection(items) => join(items, " & "),
        PermissionExpr::Exclusion(include, exclude) => {
            format!("({} - {})", show(include), show(exclude))
        }
    }
}

const EXAMPLE: &str = "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
      manager: user
    permissions:
      in_management_chain: manager | manager->identifier | manager->in_management_chain
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      owner: user
  doc:
    relations:
      parent: folder
      viewer: user
      editor: user
      owner: user
      member_of_org: user
      banned: user
      public-viewer: user:* | identity:*
    permissions:
      can_read: viewer | parent->owner | public-viewer
      can_edit: (editor | owner) & member_of_org - banned
";

// ---- well-formed manifests ----

#[test]
fn parses_the_example() {
    let manifest = parse_ok(EXAMPLE);
    let names: Vec<&str> = manifest.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["identity", "user", "group", "folder", "doc"]);

    let identity = manifest.type_def("identity").unwrap();
    assert!(identity.relations.is_empty() && identity.permissions.is_empty());
    assert_eq!(identity.span, Span { line: 4, column: 3 });

    let group = manifest.type_def("group").unwrap();
    let member = group.relation("member").unwrap();
    assert_eq!(
        member.span,
        Span {
            line: 13,
            column: 7
        }
    );
    assert_eq!(
        member.subjects,
        [
            SubjectType::Direct {
                object_type: "user".into()
            },
            SubjectType::Set {
                object_type: "group".into(),
                relation: "member".into()
            },
        ]
    );

    let doc = manifest.type_def("doc").unwrap();
    assert_eq!(
        doc.relation("public-viewer").unwrap().subjects,
        [
            SubjectType::Wildcard {
                object_type: "user".into()
            },
            SubjectType::Wildcard {
                object_type: "identity".into()
            },
        ]
    );
    let can_read = doc.permission("can_read").unwrap();
    assert_eq!(
        can_read.span,
        Span {
            line: 27,
            column: 7
        }
    );
    assert_eq!(
        can_read.expr,
        PermissionExpr::Union(vec![
            PermissionExpr::Ref {
                name: "viewer".into(),
                span: Span {
                    line: 27,
                    column: 17
                },
            },
            PermissionExpr::Arrow {
                relation: "parent".into(),
                target: "owner".into(),
                span: Span {
                    line: 27,
                    column: 26
                },
            },
            PermissionExpr::Ref {
                name: "public-viewer".into(),
                span: Span {
                    line: 27,
                    column: 42
                },
            },
        ])
    );
    assert_eq!(
        show(&doc.permission("can_edit").unwrap().expr),
        "(((editor | owner) & member_of_org) - banned)"
    );
}

#[test]
fn lookup_helpers() {
    let manifest = parse_ok(EXAMPLE);
    assert!(manifest.type_def("nope").is_none());
    let user = manifest.type_def("user").unwrap();
    assert_eq!(user.relation("manager").unwrap().name, "manager");
    assert!(user.relation("in_management_chain").is_none());
    assert_eq!(
        user.permission("in_management_chain").unwrap().name,
        "in_management_chain"
    );
    assert!(user.permission("manager").is_none());
    assert!(user.has_name("manager"));
    assert!(user.has_name("in_management_chain"));
    assert!(!user.has_name("member"));
}

/// Topaz's conformance data beside the repository (`../shared/conformance/topaz`). When it is absent
/// the suite `suite` is skipped, saying so, except under CI (`CI=true`), where it is required.
fn conformance_dir(suite: &str) -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/topaz"
    ));
    if root.is_dir() {
        return Some(root);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "conformance data missing at {} (required under CI)",
        root.display()
    );
    eprintln!(
        "skipping the conformance suite {suite}: no data at {}",
        root.display()
    );
    None
}

#[test]
fn parses_every_conformance_manifest() {
    let Some(root) = conformance_dir("parses_every_conformance_manifest") else {
        return;
    };
    let mut parsed = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path().join("manifest.yaml");
        if !path.exists() {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let manifest = parse_manifest(&source, &path.display().to_string())
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(manifest.type_def("user").is_some(), "{}", path.display());
        parsed += 1;
    }
    assert_eq!(parsed, 7, "conformance manifests parsed");
}

#[test]
fn slack_block_scalar_positions() {
    let Some(root) = conformance_dir("slack_block_scalar_positions") else {
        return;
    };
    let path = root.join("slack/manifest.yaml");
    let source = std::fs::read_to_string(&path).unwrap();
    let manifest = parse_ok(&source);
    let permission = manifest
        .type_def("workspace")
        .unwrap()
        .permission("can_administer_channel")
        .unwrap();
    let (line, text) = source
        .lines()
        .enumerate()
        .find(|(_, text)| text.trim_start().starts_with("channels_admin |"))
        .unwrap();
    let indent = text.len() - text.trim_start().len();
    let PermissionExpr::Union(items) = &permission.expr else {
        panic!("{:?}", permission.expr)
    };
    assert_eq!(items.len(), 4);
    let PermissionExpr::Ref { name, span } = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(name, "channels_admin");
    assert_eq!(
        *span,
        Span {
            line: line + 1,
            column: indent + 1
        }
    );
    let PermissionExpr::Arrow { span, .. } = &items[1] else {
        panic!("{:?}", items[1])
    };
    let arrow_column = text.find("channels_admin->").unwrap() + 1;
    assert_eq!(
        *span,
        Span {
            line: line + 1,
            column: arrow_column
        }
    );
}

#[test]
fn empty_and_null_bodies() {
    let manifest = parse_ok(
        "model:
  version: 3
types:
  a: {}
  b:
  c:
    relations:
    permissions: {}
  d: ~
",
    );
    assert_eq!(manifest.types.len(), 4);
    assert!(manifest
        .types
        .iter()
        .all(|t| t.relations.is_empty() && t.permissions.is_empty()));
}

#[test]
fn manifest_without_types() {
    assert!(parse_ok("model:\n  version: 3\n").types.is_empty());
    assert!(parse_ok("model:\n  version: 3\ntypes:\n").types.is_empty());
    assert!(parse_ok("model: {version: 3}\ntypes: {}\n")
        .types
        .is_empty());
}

#[test]
fn document_marker_and_comments() {
    let manifest = parse_ok(
        "# a comment
---
model:
  version: 3 # trailing
types:
  # the user
  user: {}
...
",
    );
    assert_eq!(manifest.types[0].span, Span { line: 7, column: 3 });
}

#[test]
fn relation_whitespace_is_insignificant() {
    let manifest = parse_ok(
        "model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user|group # member |  user : *
      tight: user|group#member|user:*
",
    );
    let group = manifest.type_def("group").unwrap();
    let expected = [
        SubjectType::Direct {
            object_type: "user".into(),
        },
        SubjectType::Set {
            object_type: "group".into(),
            relation: "member".into(),
        },
        SubjectType::Wildcard {
            object_type: "user".into(),
        },
    ];
    assert_eq!(group.relation("tight").unwrap().subjects, expected);
    // `#` after a blank starts a YAML comment, so the first relation stops at `group`.
    assert_eq!(group.relation("member").unwrap().subjects.len(), 2);
}

#[test]
fn quoted_relation_with_blanks_around_hash() {
    let manifest = parse_ok(
        "model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: 'user | group # member | user : *'
",
    );
    assert_eq!(
        manifest
            .type_def("group")
            .unwrap()
            .relation("member")
            .unwrap()
            .subjects
            .len(),
        3
    );
}

#[test]
fn subject_set_may_name_a_permission() {
    parse_ok(
        "model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user
    permissions:
      everyone: member
  doc:
    relations:
      viewer: group#everyone
",
    );
}

#[test]
fn arrows_may_form_cycles() {
    parse_ok(
        "model:
  version: 3
types:
  user: {}
  folder:
    relations:
      parent: folder
      viewer: user
    permissions:
      can_read: viewer | parent->can_read
",
    );
}

#[test]
fn arrow_target_found_through_subject_sets() {
    // Like Topaz, `viewer->identifier` looks at the users that `group#member` holds.
    parse_ok(
        "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  group:
    relations:
      member: user | group#member
  doc:
    relations:
      viewer: group#member
    permissions:
      can_read: viewer->identifier
",
    );
}

#[test]
fn arrow_target_found_through_a_permission_subject_set() {
    parse_ok(
        "model:
  version: 3
types:
  identity: {}
  user:
    relations:
      identifier: identity
  team:
    relations:
      lead: user
    permissions:
      leads: lead
  doc:
    relations:
      viewer: team#leads
    permissions:
      can_read: viewer->identifier
",
    );
}

#[test]
fn positions_in_quoted_and_multi_line_scalars() {
    let source = "model:
  version: 3
types:
  user: {}
  doc:
    relations:
      a: user
      b: user
    permissions:
      quoted: \"a | b\"
      folded: a |
        b
      literal: |
        a
          | b
      folded_block: >
        a
        | b
";
    let manifest = parse_ok(source);
    let doc = manifest.type_def("doc").unwrap();
    let second = |name: &str| {
        let PermissionExpr::Union(items) = &doc.permission(name).unwrap().expr else {
            panic!("{name}")
        };
        let PermissionExpr::Ref { span, .. } = items[1] else {
            panic!("{name}")
        };
        span
    };
    assert_eq!(
        second("quoted"),
        Span {
            line: 10,
            column: 20
        }
    );
    assert_eq!(
        second("folded"),
        Span {
            line: 12,
            column: 9
        }
    );
    assert_eq!(
        second("literal"),
        Span {
            line: 15,
            column: 13
        }
    );
    assert_eq!(
        second("folded_block"),
        Span {
            line: 18,
            column: 11
        }
    );
}

#[test]
fn crlf_line_endings() {
    let manifest = parse_ok(&EXAMPLE.replace('\n', "\r\n"));
    assert_eq!(manifest, parse_ok(EXAMPLE));
    let source = with_permission("|\n        a |\n          b $ c").replace('\n', "\r\n");
    assert_single_error(&source, 16, 13, "unexpected character `$`");
}

// ---- expression precedence, associativity and tokens ----

#[test]
fn intersection_binds_tighter_than_union() {
    assert_eq!(expr("a | b & c"), "(a | (b & c))");
    assert_eq!(expr("a & b | c"), "((a & b) | c)");
}

#[test]
fn exclusion_is_loosest() {
    assert_eq!(expr("a | b - c"), "((a | b) - c)");
    assert_eq!(expr("a - b | c"), "(a - (b | c))");
    assert_eq!(expr("a & b - c & d"), "((a & b) - (c & d))");
}

#[test]
fn operators_are_left_associative_and_chains_flatten() {
    assert_eq!(expr("a - b - c"), "((a - b) - c)");
    assert_eq!(expr("a | b | c | d"), "(a | b | c | d)");
    assert_eq!(expr("a & b & c"), "(a & b & c)");
}

#[test]
fn parentheses_group() {
    assert_eq!(expr("(a | b) & c"), "((a | b) & c)");
    assert_eq!(expr("a - (b - c)"), "(a - (b - c))");
    assert_eq!(expr("((a))"), "a");
    assert_eq!(expr("(a|b)&(c|d)"), "((a | b) & (c | d))");
}

#[test]
fn dashes_in_names_arrows_and_exclusion() {
    assert_eq!(expr("public-viewer"), "public-viewer");
    assert_eq!(expr("public-viewer - a"), "(public-viewer - a)");
    assert_eq!(expr("a -b"), "(a - b)");
    assert_eq!(expr("a- b"), "(a - b)");
    assert_eq!(expr("parent->q"), "parent->q");
    assert_eq!(expr("parent -> q"), "parent->q");
    assert_eq!(expr("parent->q - a"), "(parent->q - a)");
}

#[test]
fn arrows_combine_with_operators() {
    assert_eq!(
        expr("a | parent->q & b - parent->p"),
        "((a | (parent->q & b)) - parent->p)"
    );
}

// ---- YAML and structure errors ----

#[test]
fn yaml_syntax_error_has_the_scanner_position() {
    assert_single_error("model:\n  version: 3\n types:\n", 3, 7, "YAML syntax error");
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user: [a\n  x: b\n",
        5,
        4,
        "YAML syntax error",
    );
}

#[test]
fn empty_manifest() {
    assert_single_error("", 1, 1, "the manifest is empty");
    assert_single_error("# nothing\n", 1, 1, "the manifest is empty");
}

#[test]
fn manifest_must_be_a_mapping() {
    assert_single_error(
        "- model\n",
        1,
        1,
        "must be a mapping with `model` and `types`",
    );
}

#[test]
fn unknown_top_level_key() {
    assert_single_error(
        "model:\n  version: 3\ntypes: {}\nextra: 1\n",
        4,
        1,
        "unknown top-level key `extra`",
    );
}

#[test]
fn duplicate_top_level_key() {
    assert_single_error(
        "model:\n  version: 3\ntypes: {}\ntypes: {}\n",
        4,
        1,
        "duplicate key `types` (first at 3:1)",
    );
}

#[test]
fn missing_model() {
    assert_single_error("types:\n  user: {}\n", 1, 1, "missing `model`");
}

#[test]
fn model_errors() {
    assert_single_error(
        "model:\n  version: 2\ntypes: {}\n",
        2,
        12,
        "unsupported model version `2`",
    );
    assert_single_error(
        "model:\n  version: \"3\"\ntypes: {}\n",
        2,
        12,
        "unsupported model version `3`",
    );
    assert_single_error(
        "model:\n  version: [3]\n",
        2,
        12,
        "unsupported model version a sequence",
    );
    assert_single_error("model: {}\n", 1, 1, "missing `version` in `model`");
    assert_single_error("model:\n", 1, 1, "`model` must be a mapping");
    assert_single_error("model: 3\n", 1, 8, "`model` must be a mapping");
    assert_single_error(
        "model:\n  version: 3\n  name: x\n",
        3,
        3,
        "unknown key `name` in `model`",
    );
}

#[test]
fn types_must_be_a_mapping() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  - user\n",
        4,
        3,
        "`types` must be a mapping",
    );
}

#[test]
fn type_body_must_be_a_mapping() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user: plain\n",
        4,
        9,
        "type `user` must be a mapping",
    );
}

#[test]
fn unknown_key_in_type() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relation:\n      a: user\n",
        5,
        5,
        "unknown key `relation` in type `user`",
    );
}

#[test]
fn sections_must_be_mappings() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations: [a]\n",
        5,
        16,
        "`relations` of type `user` must be a mapping",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    permissions: x\n",
        5,
        18,
        "`permissions` of type `user` must be a mapping",
    );
}

#[test]
fn duplicate_section_key() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations: {}\n    relations: {}\n",
        6,
        5,
        "duplicate key `relations`",
    );
}

#[test]
fn non_scalar_key() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  [a]: {}\n",
        4,
        3,
        "mapping keys must be names",
    );
}

#[test]
fn invalid_names() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  1user: {}\n",
        4,
        3,
        "invalid type name `1user`",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  \"us#er\": {}\n",
        4,
        3,
        "invalid type name `us#er`",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      my rel: user\n",
        6,
        7,
        "invalid relation name `my rel` on type `user`",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      a: user\n    permissions:\n      \"*\": a\n",
        8,
        7,
        "invalid permission name `*` on type `user`",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      \"a:b\": user\n",
        6,
        7,
        "invalid relation name `a:b`",
    );
}

#[test]
fn duplicate_type() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user: {}\n  user: {}\n",
        5,
        3,
        "duplicate type `user` (first defined at 4:3)",
    );
}

#[test]
fn duplicate_relation_and_permission() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      a: user\n      a: user\n",
        7,
        7,
        "duplicate relation `a` on type `user`",
    );
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      a: user\n    permissions:\n      p: a\n      p: a\n",
        9,
        7,
        "duplicate permission `p` on type `user`",
    );
}

#[test]
fn name_both_relation_and_permission() {
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    relations:\n      a: user\n    permissions:\n      a: a\n",
        8,
        7,
        "`a` on type `user` is both a relation (at 6:7) and a permission",
    );
    // Permissions written before relations are caught too.
    assert_single_error(
        "model:\n  version: 3\ntypes:\n  user:\n    permissions:\n      a: b\n    relations:\n      a: user\n      b: user\n",
        6,
        7,
        "`a` on type `user` is both a relation (at 8:7) and a permission",
    );
}

#[test]
fn yaml_aliases_are_refused() {
    assert_single_error("model: &m\n  version: 3\nother: *m\n", 3, 8, "aliases");
}

#[test]
fn a_second_document_is_refused() {
    assert_single_error(
        "model:\n  version: 3\n---\nmodel:\n  version: 3\n",
        3,
        1,
        "single YAML document",
    );
}

#[test]
fn deep_yaml_nesting_is_refused_without_overflow() {
    let source = format!("model: {}{}\n", "[".repeat(100), "]".repeat(100));
    let err = parse_err(&source);
    assert!(err.to_string().contains("nested deeper"), "{err}");
}

// ---- relation errors ----

/// A manifest with types `user` and `group` (relation `member`) and relation `r` on `doc` (line 8,
/// value from column 10).
fn with_relation(value: &str) -> String {
    format!(
        "model:
  version: 3
types:
  user: {{}}
  group:
    relations:
      member: user
  doc:
    relations:
      r: {value}
"
    )
}

#[test]
fn relation_without_subjects() {
    assert_single_error(
        &with_relation(""),
        10,
        7,
        "relation `r` on type `doc` has no subject types",
    );
    assert_single_error(
        &with_relation("\"  \""),
        10,
        10,
        "relation `r` on type `doc` has no subject types",
    );
}

#[test]
fn relation_must_be_a_string() {
    assert_single_error(
        &with_relation("[user]"),
        10,
        10,
        "relation `r` on type `doc` must be a string",
    );
}

#[test]
fn empty_subject_piece() {
    assert_single_error(
        &with_relation("user |"),
        10,
        15,
        "empty subject type around `|`",
    );
    assert_single_error(
        &with_relation("user || group"),
        10,
        16,
        "empty subject type around `|`",
    );
    assert_single_error(
        &with_relation("\"| user\""),
        10,
        11,
        "empty subject type around `|`",
    );
}

#[test]
fn unknown_subject_type() {
    assert_single_error(
        &with_relation("user | usr"),
        10,
        17,
        "unknown type `usr` in relation `r` on type `doc`",
    );
    assert_single_error(&with_relation("usr:*"), 10, 10, "unknown type `usr`");
    assert_single_error(&with_relation("usr#member"), 10, 10, "unknown type `usr`");
}

#[test]
fn unknown_subject_relation() {
    assert_single_error(
        &with_relation("user | group#admin"),
        10,
        17,
        "unknown relation or permission `admin` on type `group`",
    );
}

#[test]
fn malformed_subject_types() {
    assert_single_error(
        &with_relation("user#"),
        10,
        15,
        "invalid subject type `user#`",
    );
    assert_single_error(&with_relation("user:x"), 10, 15, "found `x`");
    assert_single_error(
        &with_relation("user group"),
        10,
        15,
        "invalid subject type `user group`",
    );
    assert_single_error(&with_relation("user:*x"), 10, 16, "found `x`");
    assert_single_error(&with_relation("1user"), 10, 10, "invalid type name `1user`");
    assert_single_error(
        &with_relation("group#2x"),
        10,
        16,
        "invalid relation name `2x`",
    );
    assert_single_error(&with_relation("user | (group)"), 10, 17, "found `(`");
}

// ---- permission syntax errors ----

/// Asserts the single error for permission `p: expr` (line 14; the value starts at column 10).
fn assert_expr_error(text: &str, column: usize, needle: &str) {
    assert_single_error(&with_permission(text), 14, column, needle);
}

#[test]
fn empty_expression() {
    assert_expr_error("", 7, "empty expression in permission `p` on type `doc`");
    assert_expr_error(
        "\" \"",
        10,
        "empty expression in permission `p` on type `doc`",
    );
    assert_expr_error(
        "()",
        11,
        "expected a relation, permission or `(`, found `)`",
    );
}

#[test]
fn dangling_operators() {
    assert_expr_error(
        "a |",
        12,
        "dangling `|` at the end of the expression in permission `p`",
    );
    assert_expr_error("a & b -", 16, "dangling `-`");
    assert_expr_error("a & & b", 14, "found `&`");
    assert_expr_error("\"| a\"", 11, "found `|`");
}

#[test]
fn unbalanced_parentheses() {
    assert_expr_error("(a | b", 10, "unclosed `(`");
    assert_expr_error("a | (b & (c)", 14, "unclosed `(`");
    assert_expr_error("\"(\"", 11, "unclosed `(`");
    assert_expr_error("a | b)", 15, "unmatched `)`");
}

#[test]
fn stray_characters_and_missing_operators() {
    assert_expr_error("a $ b", 12, "unexpected character `$`");
    assert_expr_error("a#b", 11, "unexpected character `#`");
    assert_expr_error(
        "a b",
        12,
        "expected an operator (`|`, `&` or `-`) before `b`",
    );
    assert_expr_error("a (b)", 12, "before `(`");
    assert_expr_error("1a | b", 10, "invalid name `1a`");
}

#[test]
fn malformed_arrows() {
    assert_expr_error("parent->", 16, "arrow `parent->` has no target");
    assert_expr_error(
        "parent->(a)",
        18,
        "expected a relation or permission after `parent->`",
    );
    assert_expr_error("parent->q->a", 19, "chained arrows are not supported");
    assert_expr_error("(parent)->q", 18, "unexpected `->`");
    assert_expr_error("->q", 10, "found `->`");
}

#[test]
fn deep_parentheses_are_refused_without_overflow() {
    let text = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    let err = parse_err(&with_permission(&text));
    assert!(err.to_string().contains("nested deeper"), "{err}");
}

#[test]
fn errors_inside_block_scalars_point_into_the_block() {
    let source = with_permission("|\n        a |\n          b $ c");
    assert_single_error(&source, 16, 13, "unexpected character `$`");
    let source = with_permission(">\n        a\n        | b)");
    assert_single_error(&source, 16, 12, "unmatched `)`");
}

#[test]
fn permission_must_be_a_string() {
    assert_expr_error("{a: b}", 10, "must be a string expression");
}

// ---- permission reference errors ----

#[test]
fn unknown_reference() {
    assert_expr_error(
        "a | nope",
        14,
        "unknown relation or permission `nope` on type `doc` (in permission `p`)",
    );
    // A name with a dash is one name, not an exclusion.
    assert_expr_error(
        "a-b",
        10,
        "unknown relation or permission `a-b` on type `doc`",
    );
}

#[test]
fn arrow_from_unknown_relation() {
    assert_expr_error(
        "a | nope->q",
        14,
        "unknown relation `nope` on type `doc` (in arrow `nope->q` in permission `p` on type `doc`)",
    );
}

#[test]
fn arrow_from_a_permission() {
    assert_expr_error(
        "q->a",
        10,
        "arrow `q->a` in permission `p` on type `doc` must start from a relation, but `q` is a permission",
    );
}

#[test]
fn arrow_to_a_missing_target() {
    assert_expr_error(
        "a->viewer",
        10,
        "arrow `a->viewer` in permission `p` on type `doc`: no relation or permission `viewer` on any type `a` leads to (`user`)",
    );
}

#[test]
fn arrow_target_must_exist_on_one_of_several_types() {
    let source = "model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user
  doc:
    relations:
      owner: user | group
    permissions:
      ok: owner->member
      bad: owner->admin
";
    assert_single_error(
        source,
        13,
        12,
        "no relation or permission `admin` on any type `owner` leads to (`user`, `group`)",
    );
}

// ---- cycles ----

#[test]
fn cycle_between_permissions() {
    let source = "model:
  version: 3
types:
  user: {}
  doc:
    relations:
      c: user
    permissions:
      x: c
      b: a
      a: b | c
      d: a
";
    assert_single_error(
        source,
        10,
        7,
        "permissions on type `doc` refer to each other in a cycle (`b` -> `a` -> `b`)",
    );
}

#[test]
fn self_reference_is_a_cycle() {
    assert_expr_error("a | p", 7, "cycle (`p` -> `p`)");
}

#[test]
fn cycle_through_exclusion_and_intersection() {
    let source = with_permission("a - r").replace("      q: a\n", "      q: a\n      r: b & p\n");
    assert_single_error(&source, 14, 7, "cycle (`p` -> `r` -> `p`)");
}

#[test]
fn separate_cycles_are_each_reported() {
    let source = "model:
  version: 3
types:
  user:
    permissions:
      a: b
      b: a
      c: c
";
    let err = parse_err(source);
    assert_eq!(err.diagnostics.len(), 2, "{err}");
    assert_diagnostic(&err.diagnostics[0], 6, 7, "(`a` -> `b` -> `a`)", &err);
    assert_diagnostic(&err.diagnostics[1], 8, 7, "(`c` -> `c`)", &err);
}

// ---- several errors and the display format ----

#[test]
fn collects_every_error_in_source_order() {
    let source = "model:
  version: 3
types:
  user:
    relations:
      friend: usr
    permissions:
      p: nope
  doc:
    relations:
      owner: user
    permissions:
      r: owner->x | (owner
      s: owner->nothing
";
    let err = parse_err(source);
    assert_eq!(err.diagnostics.len(), 4, "{err}");
    assert_eq!(err.file, "m.yaml");
    assert_eq!(
        err.to_string(),
        "m.yaml:6:15: unknown type `usr` in relation `friend` on type `user`\n\
         m.yaml:8:10: unknown relation or permission `nope` on type `user` (in permission `p`)\n\
         m.yaml:13:21: unclosed `(` in permission `r` on type `doc`\n\
         m.yaml:14:10: arrow `owner->nothing` in permission `s` on type `doc`: no relation or \
         permission `nothing` on any type `owner` leads to (`user`)"
    );
}

#[test]
fn a_broken_permission_does_not_cascade() {
    // `p` fails to parse, but `q` and the arrow through it still find the name.
    let source = with_permission("a |").replace("      q: a\n", "      q: p\n      t: parent->p\n");
    assert_single_error(&source, 14, 12, "dangling `|`");
}

#[test]
fn diagnostic_display() {
    let diagnostic = Diagnostic::new(Span { line: 3, column: 4 }, "bad `x`");
    assert_eq!(diagnostic.to_string(), "3:4: bad `x`");
    let err = ManifestError::new("f.yaml", vec![diagnostic.clone(), diagnostic]);
    assert_eq!(err.to_string(), "f.yaml:3:4: bad `x`\nf.yaml:3:4: bad `x`");
}

#[test]
fn carriage_return_line_breaks_locate_errors_like_line_feeds() {
    // YAML takes a lone `\r` as a line break too: positions inside scalars must count it as one.
    let source = "model:
  version: 3
types:
  user:
    relations:
      friend: usr
    permissions:
      p: nope
  doc:
    relations:
      owner: user
    permissions:
      r: owner->x | (owner
      s: owner->nothing
";
    let with_line_feeds = parse_err(source).to_string();
    for line_break in ["\r", "\r\n"] {
        let err = parse_err(&source.replace('\n', line_break));
        assert_eq!(
            err.to_string(),
            with_line_feeds,
            "line breaks {line_break:?}"
        );
    }
}
