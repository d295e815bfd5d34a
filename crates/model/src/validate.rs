//! Checks the references between types: subject types, permission names and arrows, and cycles of
//! permissions that could never be decided.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ast::{Manifest, PermissionExpr, SubjectType, TypeDef};
use crate::error::Diagnostic;
use crate::parse::Located;

/// Every reference problem in the manifest.
pub(crate) fn validate(located: &Located) -> Vec<Diagnostic> {
    let manifest = &located.manifest;
    let index = Index::new(manifest);
    let mut diagnostics = Vec::new();
    for (ty_index, ty) in manifest.types.iter().enumerate() {
        check_relations(located, &index, ty_index, ty, &mut diagnostics);
        for permission in &ty.permissions {
            let mut check = PermissionCheck {
                index: &index,
                ty,
                ty_index,
                permission: &permission.name,
                diagnostics: &mut diagnostics,
            };
            check.expr(&permission.expr);
        }
        check_cycles(ty, &mut diagnostics);
    }
    diagnostics
}

fn check_relations(
    located: &Located,
    index: &Index<'_>,
    ty_index: usize,
    ty: &TypeDef,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (relation_index, relation) in ty.relations.iter().enumerate() {
        for (subject_index, subject) in relation.subjects.iter().enumerate() {
            let span = located
                .subject_span(ty_index, relation_index, subject_index)
                .unwrap_or(relation.span);
            let context = format!("relation `{}` on type `{}`", relation.name, ty.name);
            let Some(subject_ty) = index.type_def(subject.object_type()) else {
                diagnostics.push(Diagnostic::new(
                    span,
                    format!("unknown type `{}` in {context}", subject.object_type()),
                ));
                continue;
            };
            if let SubjectType::Set {
                object_type,
                relation: subject_relation,
            } = subject
            {
                if !subject_ty.has_name(subject_relation) {
                    diagnostics.push(Diagnostic::new(
                        span,
                        format!(
                            "unknown relation or permission `{subject_relation}` on type `{object_type}` \
                             (in subject type `{object_type}#{subject_relation}` of {context})"
                        ),
                    ));
                }
            }
        }
    }
}

struct PermissionCheck<'a> {
    index: &'a Index<'a>,
    ty: &'a TypeDef,
    ty_index: usize,
    permission: &'a str,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl PermissionCheck<'_> {
    fn expr(&mut self, expr: &PermissionExpr) {
        match expr {
            PermissionExpr::Ref { name, span } => {
                if !self.ty.has_name(name) {
                    self.diagnostics.push(Diagnostic::new(
                        *span,
                        format!(
                            "unknown relation or permission `{name}` on type `{}` (in permission `{}`)",
                            self.ty.name, self.permission
                        ),
                    ));
                }
            }
            PermissionExpr::Arrow {
                relation,
                target,
                span,
            } => {
                if let Some(message) = self.arrow(relation, target) {
                    self.diagnostics.push(Diagnostic::new(*span, message));
                }
            }
            PermissionExpr::Union(items) | PermissionExpr::Intersection(items) => {
                for item in items {
                    self.expr(item);
                }
            }
            PermissionExpr::Exclusion(include, exclude) => {
                self.expr(include);
                self.expr(exclude);
            }
        }
    }

    /// The problem with `relation->target`, if any.
    fn arrow(&self, relation: &str, target: &str) -> Option<String> {
        let ty = &self.ty.name;
        let context = format!(
            "arrow `{relation}->{target}` in permission `{}` on type `{ty}`",
            self.permission
        );
        if self.ty.relation(relation).is_none() {
            return Some(if self.ty.permission(relation).is_some() {
                format!("{context} must start from a relation, but `{relation}` is a permission")
            } else {
                format!("unknown relation `{relation}` on type `{ty}` (in {context})")
            });
        }
        let searched = self.index.reachable(self.ty_index, relation)?;
        if searched.is_empty()
            || searched.iter().any(|&candidate| {
                self.index
                    .type_at(candidate)
                    .is_some_and(|t| t.has_name(target))
            })
        {
            // No types means the relation's own subject types are in error, reported already.
            return None;
        }
        let names: Vec<String> = searched
            .iter()
            .filter_map(|&candidate| self.index.type_at(candidate))
            .map(|t| format!("`{}`", t.name))
            .collect();
        Some(format!(
            "{context}: no relation or permission `{target}` on any type `{relation}` leads to ({})",
            names.join(", ")
        ))
    }
}

/// Name lookups and, for arrows, the object types each relation or permission can lead to.
struct Index<'a> {
    manifest: &'a Manifest,
    types: FxHashMap<&'a str, usize>,
    /// Object types (as indices) each `(type, relation or permission)` can lead to.
    reachable: Vec<FxHashMap<&'a str, BTreeSet<usize>>>,
}

impl<'a> Index<'a> {
    fn new(manifest: &'a Manifest) -> Self {
        let mut types = FxHashMap::default();
        for (position, ty) in manifest.types.iter().enumerate() {
            types.entry(ty.name.as_str()).or_insert(position);
        }
        let mut index = Index {
            manifest,
            types,
            reachable: Vec::new(),
        };
        index.resolve();
        index
    }

    fn type_def(&self, name: &str) -> Option<&'a TypeDef> {
        self.type_at(*self.types.get(name)?)
    }

    fn type_at(&self, position: usize) -> Option<&'a TypeDef> {
        self.manifest.types.get(position)
    }

    fn reachable(&self, ty: usize, name: &str) -> Option<&BTreeSet<usize>> {
        self.reachable.get(ty)?.get(name)
    }

    /// Computes `reachable` as a fixpoint: like Topaz, subject sets are followed to the types they
    /// hold, and a permission leads wherever its terms lead (the included side of an exclusion).
    fn resolve(&mut self) {
        let manifest = self.manifest;
        for ty in &manifest.types {
            let names = ty.relations.iter().map(|r| r.name.as_str());
            let names = names.chain(ty.permissions.iter().map(|p| p.name.as_str()));
            self.reachable
                .push(names.map(|name| (name, BTreeSet::new())).collect());
        }
        // Sets only grow and are bounded by the number of types, so this terminates.
        let mut changed = true;
        while changed {
            changed = false;
            for (position, ty) in manifest.types.iter().enumerate() {
                for relation in &ty.relations {
                    let mut found = BTreeSet::new();
                    for subject in &relation.subjects {
                        let Some(&subject_ty) = self.types.get(subject.object_type()) else {
                            continue;
                        };
                        match subject {
                            SubjectType::Set { relation, .. } => {
                                self.extend(&mut found, subject_ty, relation);
                            }
                            SubjectType::Direct { .. } | SubjectType::Wildcard { .. } => {
                                found.insert(subject_ty);
                            }
                        }
                    }
                    changed |= self.grow(position, &relation.name, found);
                }
                for permission in &ty.permissions {
                    let mut found = BTreeSet::new();
                    self.expr_reach(position, &permission.expr, &mut found);
                    changed |= self.grow(position, &permission.name, found);
                }
            }
        }
    }

    fn extend(&self, found: &mut BTreeSet<usize>, ty: usize, name: &str) {
        if let Some(set) = self.reachable(ty, name) {
            found.extend(set.iter().copied());
        }
    }

    fn expr_reach(&self, ty: usize, expr: &PermissionExpr, found: &mut BTreeSet<usize>) {
        match expr {
            PermissionExpr::Ref { name, .. } => self.extend(found, ty, name),
            PermissionExpr::Arrow {
                relation, target, ..
            } => {
                if let Some(via) = self.reachable(ty, relation) {
                    for &subject_ty in via {
                        self.extend(found, subject_ty, target);
                    }
                }
            }
            PermissionExpr::Union(items) | PermissionExpr::Intersection(items) => {
                for item in items {
                    self.expr_reach(ty, item, found);
                }
            }
            PermissionExpr::Exclusion(include, _) => self.expr_reach(ty, include, found),
        }
    }

    /// Adds `found` to the set of `(ty, name)`; whether it grew.
    fn grow(&mut self, ty: usize, name: &str, found: BTreeSet<usize>) -> bool {
        let Some(set) = self
            .reachable
            .get_mut(ty)
            .and_then(|names| names.get_mut(name))
        else {
            return false;
        };
        let before = set.len();
        set.extend(found);
        set.len() > before
    }
}

/// Reports each cycle of permissions that reach each other through plain references only: such a
/// permission would need its own answer to be decided. Arrows are exempt, as their cycles run through
/// data (`parent->can_read`) and end with it.
fn check_cycles(ty: &TypeDef, diagnostics: &mut Vec<Diagnostic>) {
    let positions: FxHashMap<&str, usize> = ty
        .permissions
        .iter()
        .enumerate()
        .map(|(position, permission)| (permission.name.as_str(), position))
        .collect();
    let edges: Vec<Vec<usize>> = ty
        .permissions
        .iter()
        .map(|permission| {
            let mut refs = Vec::new();
            plain_refs(&permission.expr, &mut |name| {
                if let Some(&target) = positions.get(name) {
                    refs.push(target);
                }
            });
            refs
        })
        .collect();

    // Peel off permissions whose references all lead out of cycles; every one left reaches a cycle.
    let mut remaining: FxHashSet<usize> = (0..edges.len()).collect();
    let mut peeled = true;
    while peeled {
        peeled = false;
        for (node, targets) in edges.iter().enumerate() {
            if remaining.contains(&node) && !targets.iter().any(|t| remaining.contains(t)) {
                remaining.remove(&node);
                peeled = true;
            }
        }
    }

    let mut reported: FxHashSet<usize> = FxHashSet::default();
    for start in 0..edges.len() {
        if !remaining.contains(&start) {
            continue;
        }
        let Some(cycle) = find_cycle(start, &edges, &remaining) else {
            continue;
        };
        if cycle.iter().any(|node| reported.contains(node)) {
            continue;
        }
        reported.extend(cycle.iter().copied());
        report_cycle(ty, &cycle, diagnostics);
    }
}

/// Walks from `start` along references that stay among `remaining` until a permission repeats; the
/// repeated stretch is the cycle.
fn find_cycle(
    start: usize,
    edges: &[Vec<usize>],
    remaining: &FxHashSet<usize>,
) -> Option<Vec<usize>> {
    let mut path = vec![start];
    let mut on_path: FxHashMap<usize, usize> = FxHashMap::default();
    on_path.insert(start, 0);
    let mut node = start;
    loop {
        let next = *edges.get(node)?.iter().find(|t| remaining.contains(t))?;
        if let Some(&position) = on_path.get(&next) {
            return path.get(position..).map(<[usize]>::to_vec);
        }
        on_path.insert(next, path.len());
        path.push(next);
        node = next;
    }
}

fn report_cycle(ty: &TypeDef, cycle: &[usize], diagnostics: &mut Vec<Diagnostic>) {
    // Start the cycle at the permission defined first, where the error is reported.
    let Some(first) = cycle
        .iter()
        .enumerate()
        .min_by_key(|(_, node)| **node)
        .map(|(position, _)| position)
    else {
        return;
    };
    let ordered: Vec<usize> = cycle
        .iter()
        .cycle()
        .skip(first)
        .take(cycle.len() + 1)
        .copied()
        .collect();
    let names: Vec<String> = ordered
        .iter()
        .filter_map(|&node| ty.permissions.get(node))
        .map(|permission| format!("`{}`", permission.name))
        .collect();
    let Some(head) = ordered.first().and_then(|&node| ty.permissions.get(node)) else {
        return;
    };
    diagnostics.push(Diagnostic::new(
        head.span,
        format!(
            "permissions on type `{}` refer to each other in a cycle ({}) and can never be decided",
            ty.name,
            names.join(" -> ")
        ),
    ));
}

/// Calls `visit` with each name referenced directly (not through an arrow) by `expr`.
fn plain_refs(expr: &PermissionExpr, visit: &mut impl FnMut(&str)) {
    match expr {
        PermissionExpr::Ref { name, .. } => visit(name),
        PermissionExpr::Arrow { .. } => {}
        PermissionExpr::Union(items) | PermissionExpr::Intersection(items) => {
            for item in items {
                plain_refs(item, visit);
            }
        }
        PermissionExpr::Exclusion(include, exclude) => {
            plain_refs(include, visit);
            plain_refs(exclude, visit);
        }
    }
}
