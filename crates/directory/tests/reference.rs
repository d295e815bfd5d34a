//! Property test: the optimised check and lookups agree with a deliberately simple reference evaluator
//! on random manifests and random data (cycles, wildcards, subject sets, `&` and `-` included).
//!
//! Each run prints its seed (shown with the output of a failing test, or with `--nocapture`). Replay a
//! run with `PROPTEST_RNG_SEED=<seed> cargo test -p lictor-directory --test reference`; `PROPTEST_CASES`
//! changes the number of cases. A failing case is also saved in `tests/reference.proptest-regressions`
//! and tried first by every later run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use lictor_directory::{Directory, LookupObjectsRequest, LookupSubjectsRequest, Page};
use lictor_model::{Manifest, PermissionExpr, RelationRecord};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

const TYPES: usize = 3;
const RELATIONS: usize = 3;
const PERMISSIONS: usize = 2;
const IDS: usize = 4;

fn type_name(t: usize) -> String {
    format!("t{t}")
}

fn name_on(i: usize) -> String {
    if i < RELATIONS {
        format!("r{i}")
    } else {
        format!("p{}", i - RELATIONS)
    }
}

/// The choices that drive one random case; shrinking them keeps the model valid.
#[derive(Debug, Clone)]
struct Case {
    subjects: Vec<Vec<u8>>,
    permissions: Vec<Vec<u8>>,
    tuples: Vec<(u8, u8, u8, u8, u8)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..4), TYPES * RELATIONS),
        prop::collection::vec(
            prop::collection::vec(any::<u8>(), 1..12),
            TYPES * PERMISSIONS,
        ),
        prop::collection::vec(any::<(u8, u8, u8, u8, u8)>(), 0..40),
    )
        .prop_map(|(subjects, permissions, tuples)| Case {
            subjects,
            permissions,
            tuples,
        })
}

/// An admitted subject: (kind 0 direct / 1 set / 2 wildcard, type, relation index for sets).
fn decode_subject(code: u8) -> (u8, usize, usize) {
    let code = code as usize;
    (
        (code % 3) as u8,
        (code / 3) % TYPES,
        (code / 9) % (RELATIONS + PERMISSIONS),
    )
}

fn subjects_of(case: &Case, t: usize, r: usize) -> Vec<(u8, usize, usize)> {
    let mut out: Vec<(u8, usize, usize)> = Vec::new();
    for code in &case.subjects[t * RELATIONS + r] {
        let mut s = decode_subject(*code);
        if s.0 != 1 {
            s.2 = 0;
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

struct ExprBuilder<'a> {
    case: &'a Case,
    t: usize,
    p: usize,
    choices: std::slice::Iter<'a, u8>,
}

impl ExprBuilder<'_> {
    fn next(&mut self) -> usize {
        self.choices.next().copied().unwrap_or(0) as usize
    }

    fn leaf(&mut self) -> String {
        let choice = self.next();
        // Plain references go to relations or to earlier permissions only: a cycle of plain references
        // is a manifest error.
        let names = RELATIONS + self.p;
        if choice % 2 == 0 || names == 0 {
            return name_on(self.next() % names.max(1));
        }
        let via = self.next() % RELATIONS;
        let targets: Vec<usize> = subjects_of(self.case, self.t, via)
            .iter()
            .filter(|s| s.0 == 0)
            .map(|s| s.1)
            .collect();
        match targets.first() {
            Some(_) => format!(
                "r{via}->{}",
                name_on(self.next() % (RELATIONS + PERMISSIONS))
            ),
            None => format!("r{via}"),
        }
    }

    fn expr(&mut self, depth: usize) -> String {
        let choice = self.next();
        if depth >= 2 || choice % 4 == 0 {
            return self.leaf();
        }
        let left = self.expr(depth + 1);
        let right = self.expr(depth + 1);
        let op = ["|", "&", "-"][choice % 3];
        format!("({left} {op} {right})")
    }
}

fn manifest_text(case: &Case) -> String {
    let mut out = String::from("model:\n  version: 3\ntypes:\n");
    for t in 0..TYPES {
        out.push_str(&format!("  {}:\n    relations:\n", type_name(t)));
        for r in 0..RELATIONS {
            let subjects: Vec<String> = subjects_of(case, t, r)
                .iter()
                .map(|(kind, ty, rel)| match kind {
                    0 => type_name(*ty),
                    1 => format!("{}#{}", type_name(*ty), name_on(*rel)),
                    _ => format!("{}:*", type_name(*ty)),
                })
                .collect();
            out.push_str(&format!("      r{r}: {}\n", subjects.join(" | ")));
        }
        out.push_str("    permissions:\n");
        for p in 0..PERMISSIONS {
            let mut builder = ExprBuilder {
                case,
                t,
                p,
                choices: case.permissions[t * PERMISSIONS + p].iter(),
            };
            out.push_str(&format!("      p{p}: {}\n", builder.expr(0)));
        }
    }
    out
}

fn tuples_of(case: &Case) -> Vec<RelationRecord> {
    let mut out = Vec::new();
    for (t, id, r, which, sid) in &case.tuples {
        let t = *t as usize % TYPES;
        let r = *r as usize % RELATIONS;
        let admitted = subjects_of(case, t, r);
        let (kind, st, srel) = admitted[*which as usize % admitted.len()];
        out.push(RelationRecord {
            object_type: type_name(t),
            object_id: format!("o{}", *id as usize % IDS),
            relation: format!("r{r}"),
            subject_type: type_name(st),
            subject_id: if kind == 2 {
                "*".to_string()
            } else {
                format!("o{}", *sid as usize % IDS)
            },
            subject_relation: if kind == 1 {
                name_on(srel)
            } else {
                String::new()
            },
        });
    }
    out
}

/// A reference answer: a node met again on its own path across the subtracted side of an exclusion
/// depends on its own negation and is `Unknown`, which is never a grant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Yes,
    No,
    Unknown,
}

impl Answer {
    fn or(self, other: Answer) -> Answer {
        match (self, other) {
            (Answer::Yes, _) | (_, Answer::Yes) => Answer::Yes,
            (Answer::Unknown, _) | (_, Answer::Unknown) => Answer::Unknown,
            (Answer::No, Answer::No) => Answer::No,
        }
    }

    fn and(self, other: Answer) -> Answer {
        match (self, other) {
            (Answer::No, _) | (_, Answer::No) => Answer::No,
            (Answer::Unknown, _) | (_, Answer::Unknown) => Answer::Unknown,
            (Answer::Yes, Answer::Yes) => Answer::Yes,
        }
    }

    fn not(self) -> Answer {
        match self {
            Answer::Yes => Answer::No,
            Answer::No => Answer::Yes,
            Answer::Unknown => Answer::Unknown,
        }
    }
}

/// The reference: straight from the definitions, strings only, no memo, no indexes, every branch
/// evaluated.
struct Reference<'a> {
    manifest: &'a Manifest,
    tuples: &'a [RelationRecord],
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Who {
    object_type: String,
    id: String,
    relation: String,
}

impl Reference<'_> {
    fn check(&self, subject: &Who, object_type: &str, id: &str, name: &str) -> bool {
        self.eval(subject, object_type, id, name, &mut Path::default()) == Answer::Yes
    }

    fn eval(
        &self,
        subject: &Who,
        object_type: &str,
        id: &str,
        name: &str,
        path: &mut Path,
    ) -> Answer {
        if !subject.relation.is_empty()
            && subject.object_type == object_type
            && subject.id == id
            && subject.relation == name
        {
            return Answer::Yes;
        }
        let key = (object_type.to_string(), id.to_string(), name.to_string());
        if let Some(at) = path.nodes.iter().position(|node| *node == key) {
            return match path.subtracted_at {
                Some(subtracted) if at <= subtracted => Answer::Unknown,
                _ => Answer::No,
            };
        }
        let Some(ty) = self.manifest.type_def(object_type) else {
            return Answer::No;
        };
        path.nodes.push(key);
        let result = if ty.relation(name).is_some() {
            self.tuples
                .iter()
                .filter(|t| t.object_type == object_type && t.object_id == id && t.relation == name)
                .map(|t| {
                    let direct = (t.subject_type == subject.object_type
                        && t.subject_id == subject.id
                        && t.subject_relation == subject.relation)
                        || (subject.relation.is_empty()
                            && t.subject_relation.is_empty()
                            && t.subject_id == "*"
                            && t.subject_type == subject.object_type);
                    if direct {
                        Answer::Yes
                    } else if t.subject_relation.is_empty() {
                        Answer::No
                    } else {
                        self.eval(
                            subject,
                            &t.subject_type,
                            &t.subject_id,
                            &t.subject_relation,
                            path,
                        )
                    }
                })
                .fold(Answer::No, Answer::or)
        } else if let Some(permission) = ty.permission(name) {
            self.expr(subject, object_type, id, &permission.expr, path)
        } else {
            Answer::No
        };
        path.nodes.pop();
        result
    }

    /// What an arrow over `relation` follows: plain subjects, and the members of subject sets that name
    /// relations, to any depth; never wildcards.
    fn hops(&self, object_type: &str, id: &str, relation: &str) -> Vec<(String, String)> {
        let mut sets = vec![(
            object_type.to_string(),
            id.to_string(),
            relation.to_string(),
        )];
        let mut seen = sets.clone();
        let mut hops = Vec::new();
        while let Some((ot, oi, rel)) = sets.pop() {
            for t in self
                .tuples
                .iter()
                .filter(|t| t.object_type == ot && t.object_id == oi && t.relation == rel)
            {
                if t.subject_relation.is_empty() {
                    let hop = (t.subject_type.clone(), t.subject_id.clone());
                    if t.subject_id != "*" && !hops.contains(&hop) {
                        hops.push(hop);
                    }
                } else if self
                    .manifest
                    .type_def(&t.subject_type)
                    .is_some_and(|ty| ty.relation(&t.subject_relation).is_some())
                {
                    let set = (
                        t.subject_type.clone(),
                        t.subject_id.clone(),
                        t.subject_relation.clone(),
                    );
                    if !seen.contains(&set) {
                        seen.push(set.clone());
                        sets.push(set);
                    }
                }
            }
        }
        hops
    }

    fn expr(
        &self,
        subject: &Who,
        object_type: &str,
        id: &str,
        expr: &PermissionExpr,
        path: &mut Path,
    ) -> Answer {
        match expr {
            PermissionExpr::Ref { name, .. } => self.eval(subject, object_type, id, name, path),
            PermissionExpr::Arrow {
                relation, target, ..
            } => self
                .hops(object_type, id, relation)
                .iter()
                .map(|(ty, hop)| self.eval(subject, ty, hop, target, path))
                .fold(Answer::No, Answer::or),
            PermissionExpr::Union(items) => items
                .iter()
                .map(|e| self.expr(subject, object_type, id, e, path))
                .fold(Answer::No, Answer::or),
            PermissionExpr::Intersection(items) => items
                .iter()
                .map(|e| self.expr(subject, object_type, id, e, path))
                .fold(Answer::Yes, Answer::and),
            PermissionExpr::Exclusion(include, exclude) => {
                let included = self.expr(subject, object_type, id, include, path);
                // The node deciding this exclusion is the last on the path.
                let outer = path.subtracted_at.replace(path.nodes.len() - 1);
                let excluded = self.expr(subject, object_type, id, exclude, path);
                path.subtracted_at = outer;
                included.and(excluded.not())
            }
        }
    }
}

/// The nodes being evaluated, outermost first, and the position of the deepest one whose exclusion's
/// subtracted side is being evaluated.
#[derive(Default)]
struct Path {
    nodes: Vec<(String, String, String)>,
    subtracted_at: Option<usize>,
}

fn subjects() -> Vec<Who> {
    let mut out = Vec::new();
    for t in 0..TYPES {
        for id in 0..=IDS {
            let id = if id == IDS {
                "*".to_string()
            } else {
                format!("o{id}")
            };
            out.push(Who {
                object_type: type_name(t),
                id: id.clone(),
                relation: String::new(),
            });
            if id != "*" {
                out.push(Who {
                    object_type: type_name(t),
                    id,
                    relation: "r0".to_string(),
                });
            }
        }
    }
    out
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let text = manifest_text(case);
    let manifest = lictor_model::parse_manifest(&text, "random.yaml")
        .map_err(|e| TestCaseError::fail(format!("generated manifest invalid: {e}\n{text}")))?;
    let tuples = tuples_of(case);
    let mut directory: Directory = common::with_manifest(&text);
    directory.set_depth_limit(10_000);
    for tuple in &tuples {
        directory.set_relation(tuple).unwrap();
    }
    let reference = Reference {
        manifest: &manifest,
        tuples: &tuples,
    };
    for t in 0..TYPES {
        for n in 0..RELATIONS + PERMISSIONS {
            let name = name_on(n);
            for subject in subjects() {
                let mut expected_objects = Vec::new();
                for id in 0..IDS {
                    let id = format!("o{id}");
                    let expected = reference.check(&subject, &type_name(t), &id, &name);
                    let got = directory
                        .check(&lictor_directory::CheckRequest {
                            object_type: &type_name(t),
                            object_id: &id,
                            relation: &name,
                            subject_type: &subject.object_type,
                            subject_id: &subject.id,
                            subject_relation: &subject.relation,
                        })
                        .unwrap();
                    prop_assert_eq!(
                        got,
                        expected,
                        "check {:?} {} {}:{}\n{}\n{:#?}",
                        subject,
                        name,
                        type_name(t),
                        id,
                        text,
                        tuples
                    );
                    if expected {
                        expected_objects.push(id);
                    }
                }
                let found = directory
                    .lookup_objects(
                        &LookupObjectsRequest {
                            subject_type: &subject.object_type,
                            subject_id: &subject.id,
                            subject_relation: &subject.relation,
                            permission: &name,
                            object_type: &type_name(t),
                        },
                        Page::default(),
                    )
                    .unwrap();
                prop_assert_eq!(
                    &found.ids,
                    &expected_objects,
                    "lookup_objects {:?} {} {}\n{}",
                    subject,
                    name,
                    type_name(t),
                    text
                );
            }
            for id in 0..IDS {
                let object_id = format!("o{id}");
                for st in 0..TYPES {
                    for srel in ["", "r0"] {
                        let found = directory
                            .lookup_subjects(
                                &LookupSubjectsRequest {
                                    object_type: &type_name(t),
                                    object_id: &object_id,
                                    permission: &name,
                                    subject_type: &type_name(st),
                                    subject_relation: srel,
                                },
                                Page::default(),
                            )
                            .unwrap();
                        let star = found.page.ids.iter().any(|s| s == "*");
                        for sid in 0..IDS {
                            let sid = format!("o{sid}");
                            let who = Who {
                                object_type: type_name(st),
                                id: sid.clone(),
                                relation: srel.to_string(),
                            };
                            let expected = reference.check(&who, &type_name(t), &object_id, &name);
                            let listed = found.page.ids.contains(&sid)
                                || (star && !found.excluded.contains(&sid));
                            prop_assert_eq!(
                                listed,
                                expected,
                                "lookup_subjects {}:{} {} {}#{} for {}: {:?}\n{}",
                                type_name(t),
                                object_id,
                                name,
                                type_name(st),
                                srel,
                                sid,
                                found,
                                text
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// 96 cases (or `PROPTEST_CASES`) from the seed in `PROPTEST_RNG_SEED`, else from a fresh seed; the seed
/// is printed so that a failing run can be replayed.
fn config() -> ProptestConfig {
    let seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("PROPTEST_RNG_SEED={text}: expected an unsigned 64-bit number")
        }),
        Err(_) => {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        }
    };
    eprintln!(
        "seed {seed}: replay with PROPTEST_RNG_SEED={seed} cargo test -p lictor-directory --test reference"
    );
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            96
        },
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..defaults
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fast_engine_matches_reference(case in case()) {
        run_case(&case)?;
    }
}
