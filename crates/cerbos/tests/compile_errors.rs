//! Compile errors name the file, line and column at fault, and every error of a store is reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use lictor_cerbos::{compile, CompileError, PolicyFile};

fn file(path: &str, text: &str) -> PolicyFile {
    PolicyFile {
        path: path.into(),
        text: text.into(),
    }
}

fn errors(files: &[PolicyFile]) -> Vec<CompileError> {
    match compile(files) {
        Ok(_) => panic!("expected compile errors"),
        Err(e) => e.0,
    }
}

fn find<'a>(errors: &'a [CompileError], needle: &str) -> &'a CompileError {
    errors
        .iter()
        .find(|e| e.message.contains(needle))
        .unwrap_or_else(|| panic!("no error containing {needle:?} in {errors:#?}"))
}

const LEAVE: &str = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: leave_request
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
";

#[test]
fn yaml_syntax_error_names_its_position() {
    let errs = errors(&[file(
        "bad.yaml",
        "apiVersion: api.cerbos.dev/v1\nresourcePolicy: [unclosed\n",
    )]);
    let e = find(&errs, "invalid YAML");
    assert_eq!(e.file, "bad.yaml");
    assert!(e.line >= 2, "{e}");
}

#[test]
fn unknown_fields_are_reported_where_they_are() {
    let text = LEAVE.replace(
        "      roles: [user]\n",
        "      roles: [user]\n      rolez: [admin]\n",
    );
    let errs = errors(&[file("p.yaml", &text)]);
    let e = find(&errs, "unknown field `rolez`");
    assert_eq!((e.file.as_str(), e.line, e.column), ("p.yaml", 9, 7), "{e}");
    assert_eq!(e.to_string(), format!("p.yaml:9:7: {}", e.message));
}

#[test]
fn unknown_imports_point_at_the_import() {
    let text = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  importDerivedRoles:
    - nowhere
  variables:
    import:
      - missing_vars
  constants:
    import:
      - missing_consts
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      derivedRoles: [owner]
";
    let errs = errors(&[file("doc.yaml", text)]);
    let e = find(&errs, "derived roles import `nowhere` cannot be found");
    assert_eq!((e.line, e.column), (6, 7));
    let e = find(&errs, "variables import `missing_vars` cannot be found");
    assert_eq!((e.line, e.column), (9, 9));
    let e = find(&errs, "constants import `missing_consts` cannot be found");
    assert_eq!((e.line, e.column), (12, 9));
}

#[test]
fn unknown_derived_role_points_at_the_reference() {
    let roles = "apiVersion: api.cerbos.dev/v1
derivedRoles:
  name: common
  definitions:
    - name: owner
      parentRoles: [user]
";
    let text = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  importDerivedRoles: [common]
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      derivedRoles:
        - owner
        - boss
";
    let errs = errors(&[file("roles.yaml", roles), file("doc.yaml", text)]);
    let e = find(&errs, "derived role `boss` is not defined");
    assert_eq!((e.file.as_str(), e.line, e.column), ("doc.yaml", 11, 11));
}

#[test]
fn duplicate_policies_name_both_files() {
    let errs = errors(&[file("a.yaml", LEAVE), file("b.yaml", LEAVE)]);
    let e = find(&errs, "duplicate policy `resource.leave_request.vdefault`");
    assert_eq!(e.file, "b.yaml");
    assert!(e.message.contains("a.yaml"), "{e}");
}

#[test]
fn variable_cycles_and_unknown_variables_are_reported() {
    let text = "apiVersion: api.cerbos.dev/v1
resourcePolicy:
  version: default
  resource: doc
  variables:
    local:
      a: V.b
      b: V.a
      c: V.nothing == 1
  rules:
    - actions: [view]
      effect: EFFECT_ALLOW
      roles: [user]
      condition:
        match:
          expr: V.undefined_here
";
    let errs = errors(&[file("doc.yaml", text)]);
    assert!(
        errs.iter().any(|e| e.message.contains("cycle")),
        "{errs:#?}"
    );
    let e = find(&errs, "undefined variable `nothing`");
    assert_eq!(e.line, 9);
    let e = find(&errs, "undefined variable `undefined_here`");
    assert_eq!(e.line, 16);
}

#[test]
fn cel_syntax_errors_point_into_the_expression() {
    let text = LEAVE.replace(
        "      roles: [user]\n",
        "      roles: [user]\n      condition:\n        match:\n          expr: R.attr.owner ==\n",
    );
    let errs = errors(&[file("p.yaml", &text)]);
    let e = find(&errs, "invalid expression");
    assert_eq!((e.file.as_str(), e.line), ("p.yaml", 11), "{e}");
    assert!(e.column >= 17, "{e}");
}

#[test]
fn scoped_policies_need_their_ancestors() {
    let scoped = LEAVE.replace(
        "  version: default\n",
        "  version: default\n  scope: acme.hr\n",
    );
    let errs = errors(&[file("root.yaml", LEAVE), file("hr.yaml", &scoped)]);
    let e = find(
        &errs,
        "missing ancestor policy `resource.leave_request.vdefault/acme`",
    );
    assert_eq!((e.file.as_str(), e.line), ("hr.yaml", 1));
}

#[test]
fn conflicting_scope_permissions_do_not_compile() {
    let root = LEAVE;
    let scoped = |resource: &str, permissions: &str| {
        LEAVE.replace("leave_request", resource).replace(
            "  version: default\n",
            &format!("  version: default\n  scope: acme\n{permissions}"),
        )
    };
    let other_root = LEAVE.replace("leave_request", "expense");
    let files = [
        file("root.yaml", root),
        file("other_root.yaml", &other_root),
        file("a.yaml", &scoped("leave_request", "")),
        file(
            "b.yaml",
            &scoped(
                "expense",
                "  scopePermissions: SCOPE_PERMISSIONS_OVERRIDE_PARENT\n",
            ),
        ),
    ];
    let errs = errors(&files);
    find(&errs, "conflicting scopePermissions");
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let broken = LEAVE.replace("effect: EFFECT_ALLOW", "effect: MAYBE");
    let errs = errors(&[
        file("one.yaml", "a: [\n"),
        file("two.yaml", &broken),
        file("three.yaml", "apiVersion: x\n"),
    ]);
    let files: std::collections::BTreeSet<&str> = errs.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        ["one.yaml", "three.yaml", "two.yaml"]
    );
}

#[test]
fn ignored_files_are_not_compiled() {
    let store = compile(&[
        file("ok.yaml", LEAVE),
        file(".hidden.yaml", "not: [valid"),
        file("dir/.hidden/x.yaml", "not: [valid"),
        file("testdata/x.yaml", "not: [valid"),
        file("suite_test.yaml", "name: x\ntests: []\n"),
        file("_schemas/ignored.yaml", "not: [valid"),
        file("off.yaml", &format!("disabled: true\n{}", LEAVE)),
    ])
    .unwrap();
    assert_eq!(store.policy_count(), 1);
}

#[test]
fn json_policies_compile() {
    let json = r#"{"apiVersion": "api.cerbos.dev/v1",
  "resourcePolicy": {"version": "default", "resource": "doc",
    "rules": [{"actions": ["view"], "effect": "EFFECT_ALLOW", "roles": ["user"]}]}}"#;
    let store = compile(&[file("doc.json", json)]).unwrap();
    assert_eq!(store.policy_count(), 1);
    let errs = errors(&[file("bad.json", &json.replace("\"roles\"", "\"rolez\""))]);
    let e = find(&errs, "unknown field `rolez`");
    assert_eq!((e.file.as_str(), e.line), ("bad.json", 3));
}

#[test]
fn read_store_skips_hidden_files_and_the_compiler_skips_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    };
    write("policies/doc.yaml", LEAVE);
    write("policies/.hidden.yaml", "x");
    write(".git/config.yaml", "x");
    write("policies/testdata/fixture.yaml", "x");
    write("policies/notes.txt", "x");
    write("_schemas/s.json", "{}");
    let files = lictor_cerbos::read_store(dir.path()).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "_schemas/s.json",
            "policies/doc.yaml",
            "policies/testdata/fixture.yaml"
        ]
    );
    // Fixtures are for the test suites: not a policy, so not an error however they read.
    assert_eq!(compile(&files).unwrap().policy_count(), 1);
}

#[test]
fn cel_errors_in_block_scalars_point_at_the_expression_line() {
    let text = LEAVE.replace(
        "      roles: [user]\n",
        "      roles: [user]\n      condition:\n        match:\n          expr: |-\n            R.attr.owner == 1 &&\n            (P.id ==\n",
    );
    let errs = errors(&[file("p.yaml", &text)]);
    let e = find(&errs, "invalid expression");
    assert!(e.line >= 12, "{e}");
    assert!(e.column >= 13, "{e}");
}
