//! Lookups: every object a subject can reach with a permission (like SpiceDB's LookupResources), and every
//! subject that holds a permission on an object (LookupSubjects).
//!
//! Both first collect candidates by walking the graph ignoring `&` and `-` (which can only remove
//! answers), then keep the candidates that [`Directory::check`] confirms, so they agree with check by
//! construction.

use crate::check::{arrow_hops, MemoTable, ResolvedSubject, UNSEEN_OBJECT};
use crate::explain::NoRecorder;
use crate::index::{Node, ObjectId, RelationIndex};
use crate::schema::{Definition, Expr, NameId, Schema, TypeId, NO_NAME};
use crate::snapshot::Directory;
use crate::DirectoryError;
use rustc_hash::{FxHashMap, FxHashSet};

/// Which slice of a sorted answer to return.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page<'a> {
    /// At most this many ids; 0 means all.
    pub size: usize,
    /// Only ids after this one (the previous page's `next`).
    pub after: Option<&'a str>,
}

/// One page of ids, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LookupPage {
    /// Object or subject ids, ascending.
    pub ids: Vec<String>,
    /// Pass as [`Page::after`] to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Objects of `object_type` on which the subject holds `permission`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LookupObjectsRequest<'a> {
    /// Type of the subject.
    pub subject_type: &'a str,
    /// Id of the subject.
    pub subject_id: &'a str,
    /// Relation on the subject for a subject set, else empty.
    pub subject_relation: &'a str,
    /// Relation or permission to hold.
    pub permission: &'a str,
    /// Type of the objects wanted.
    pub object_type: &'a str,
}

/// Subjects of `subject_type` (or subject sets `subject_type#subject_relation`) that hold `permission`
/// on the object.
#[derive(Debug, Clone, Copy, Default)]
pub struct LookupSubjectsRequest<'a> {
    /// Type of the object.
    pub object_type: &'a str,
    /// Id of the object.
    pub object_id: &'a str,
    /// Relation or permission to hold.
    pub permission: &'a str,
    /// Type of the subjects wanted.
    pub subject_type: &'a str,
    /// For subject sets: the relation on the subject; else empty.
    pub subject_relation: &'a str,
}

/// The subjects found by a subject lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LookupSubjects {
    /// Subject ids, ascending; `*` when a wildcard grants every subject of the type.
    pub page: LookupPage,
    /// With a `*` answer: subjects the wildcard does not cover (an exclusion removes them).
    pub excluded: Vec<String>,
}

impl Directory {
    /// Every object of `object_type` on which the subject holds the permission, one page at a time.
    pub fn lookup_objects(
        &self,
        request: &LookupObjectsRequest<'_>,
        page: Page<'_>,
    ) -> Result<LookupPage, DirectoryError> {
        let object_type = self.type_id(request.object_type)?;
        let permission = self.name_id(request.object_type, request.permission)?;
        if request.permission.is_empty() {
            return Err(DirectoryError::EmptyField {
                field: "permission",
            });
        }
        let subject_type = self.type_id(request.subject_type)?;
        let subject_relation = self.name_id(request.subject_type, request.subject_relation)?;
        let index = self.index();
        let subject = ResolvedSubject {
            object: index.object_id(subject_type, request.subject_id),
            relation: subject_relation,
            wildcard: index.object_id(subject_type, "*"),
        };
        let candidates = self.reachable_objects(subject, object_type, permission);
        let mut ids: Vec<(&str, Option<ObjectId>)> = candidates
            .into_iter()
            .filter_map(|object| index.object_key(object).map(|(_, id)| (id, Some(object))))
            .collect();
        // A subject set holds itself, even when the directory has never seen its object.
        if subject.object.is_none() && subject_type == object_type && subject_relation != NO_NAME {
            ids.push((request.subject_id, None));
        }
        ids.sort_unstable();
        // One memo for every candidate: memoised answers depend only on the subject.
        let mut memo = MemoTable::default();
        let mut keep = |object: Option<ObjectId>| match object {
            Some(object) => self.check_node_keep_memo(
                Node {
                    object,
                    relation: permission,
                },
                subject,
                &mut memo,
            ),
            None => self
                .evaluate_unseen(
                    (
                        Node {
                            object: UNSEEN_OBJECT,
                            relation: permission,
                        },
                        object_type,
                    ),
                    subject,
                    NoRecorder,
                )
                .map(|(allowed, _)| allowed),
        };
        paginate(ids, page, &mut keep)
    }

    /// Candidates: objects of `object_type` whose `permission` the subject may reach, ignoring `&`/`-`.
    fn reachable_objects(
        &self,
        subject: ResolvedSubject,
        object_type: TypeId,
        permission: NameId,
    ) -> Vec<ObjectId> {
        let index = self.index();
        let schema = self.schema();
        let mut seen: FxHashSet<Node> = FxHashSet::default();
        let mut queue: Vec<Node> = Vec::new();
        let push = |node: Node, seen: &mut FxHashSet<Node>, queue: &mut Vec<Node>| {
            if seen.insert(node) {
                queue.push(node);
            }
        };
        if subject.relation == NO_NAME {
            for start in [subject.object, subject.wildcard].into_iter().flatten() {
                for back in index.appearances(start, NO_NAME) {
                    push(
                        Node {
                            object: back.object,
                            relation: back.relation,
                        },
                        &mut seen,
                        &mut queue,
                    );
                }
            }
        } else if let Some(object) = subject.object {
            push(
                Node {
                    object,
                    relation: subject.relation,
                },
                &mut seen,
                &mut queue,
            );
        }
        let mut found = Vec::new();
        let mut hop_holders: FxHashMap<ObjectId, Vec<Node>> = FxHashMap::default();
        while let Some(fact) = queue.pop() {
            let Some(fact_type) = index.object_type(fact.object) else {
                continue;
            };
            if fact_type == object_type && fact.relation == permission {
                found.push(fact.object);
            }
            // Tuples whose subject is this set.
            for back in index.appearances(fact.object, fact.relation) {
                push(
                    Node {
                        object: back.object,
                        relation: back.relation,
                    },
                    &mut seen,
                    &mut queue,
                );
            }
            // Permissions of the same object that name it.
            for permission in schema.ref_uses(fact_type, fact.relation) {
                push(
                    Node {
                        object: fact.object,
                        relation: *permission,
                    },
                    &mut seen,
                    &mut queue,
                );
            }
            // Arrows on objects whose arrow relation reaches this object.
            let arrows = schema.arrow_uses(fact_type, fact.relation);
            if !arrows.is_empty() {
                let holders = hop_holders
                    .entry(fact.object)
                    .or_insert_with(|| arrow_holders(index, schema, fact.object));
                for arrow in arrows {
                    for holder in holders.iter() {
                        if holder.relation == arrow.via
                            && index.object_type(holder.object) == Some(arrow.object_type)
                        {
                            push(
                                Node {
                                    object: holder.object,
                                    relation: arrow.permission,
                                },
                                &mut seen,
                                &mut queue,
                            );
                        }
                    }
                }
            }
        }
        found
    }

    /// Every subject of a type that holds the permission on the object, one page at a time.
    pub fn lookup_subjects(
        &self,
        request: &LookupSubjectsRequest<'_>,
        page: Page<'_>,
    ) -> Result<LookupSubjects, DirectoryError> {
        let object_type = self.type_id(request.object_type)?;
        let permission = self.name_id(request.object_type, request.permission)?;
        if request.permission.is_empty() {
            return Err(DirectoryError::EmptyField {
                field: "permission",
            });
        }
        let subject_type = self.type_id(request.subject_type)?;
        let subject_relation = self.name_id(request.subject_type, request.subject_relation)?;
        let index = self.index();
        let Some(object) = index.object_id(object_type, request.object_id) else {
            // Unknown object: only a subject set can hold it, and only itself.
            let own = subject_relation != NO_NAME && subject_type == object_type;
            let ids = if own {
                vec![(request.object_id, ())]
            } else {
                Vec::new()
            };
            let unseen = ResolvedSubject {
                object: None,
                relation: subject_relation,
                wildcard: None,
            };
            let node = Node {
                object: UNSEEN_OBJECT,
                relation: permission,
            };
            let mut keep = |()| {
                self.evaluate_unseen((node, object_type), unseen, NoRecorder)
                    .map(|(allowed, _)| allowed)
            };
            return Ok(LookupSubjects {
                page: paginate(ids, page, &mut keep)?,
                excluded: Vec::new(),
            });
        };
        let root = Node {
            object,
            relation: permission,
        };
        let candidates = self.reachable_subjects(root, subject_type, subject_relation);
        let wildcard = index.object_id(subject_type, "*");
        let mut memo = MemoTable::default();
        let mut holds = |candidate: ObjectId| {
            self.check_node(
                root,
                ResolvedSubject {
                    object: Some(candidate),
                    relation: subject_relation,
                    wildcard,
                },
                &mut memo,
            )
        };
        let wildcard_holds = match wildcard {
            Some(star) if subject_relation == NO_NAME && candidates.contains(&star) => holds(star)?,
            _ => false,
        };
        let mut ids: Vec<(&str, ObjectId)> = Vec::with_capacity(candidates.len());
        let mut excluded = Vec::new();
        for candidate in candidates {
            let Some((_, id)) = index.object_key(candidate) else {
                continue;
            };
            let granted = if Some(candidate) == wildcard {
                wildcard_holds
            } else {
                holds(candidate)?
            };
            if granted {
                ids.push((id, candidate));
            } else if wildcard_holds {
                // The wildcard covers everyone but those an exclusion keeps out: name them.
                excluded.push(id.to_string());
            }
        }
        ids.sort_unstable();
        excluded.sort_unstable();
        Ok(LookupSubjects {
            page: paginate(ids, page, &mut |_| Ok(true))?,
            excluded,
        })
    }

    /// Candidates: subjects of `subject_type` reachable from `root`, ignoring `&`/`-`.
    fn reachable_subjects(
        &self,
        root: Node,
        subject_type: TypeId,
        subject_relation: NameId,
    ) -> Vec<ObjectId> {
        let index = self.index();
        let schema = self.schema();
        let mut seen: FxHashSet<Node> = FxHashSet::default();
        let mut found: FxHashSet<ObjectId> = FxHashSet::default();
        let mut queue = vec![root];
        seen.insert(root);
        let visit = |node: Node, seen: &mut FxHashSet<Node>, queue: &mut Vec<Node>| {
            if seen.insert(node) {
                queue.push(node);
            }
        };
        while let Some(node) = queue.pop() {
            let Some(node_type) = index.object_type(node.object) else {
                continue;
            };
            if subject_relation != NO_NAME
                && node_type == subject_type
                && node.relation == subject_relation
            {
                found.insert(node.object);
            }
            match schema.definition(node_type, node.relation) {
                None => {}
                Some(Definition::Relation(_)) => {
                    for subject in index.subjects(node.object, node.relation) {
                        if subject.relation == NO_NAME {
                            if subject_relation == NO_NAME
                                && index.object_type(subject.object) == Some(subject_type)
                            {
                                found.insert(subject.object);
                            }
                        } else {
                            visit(
                                Node {
                                    object: subject.object,
                                    relation: subject.relation,
                                },
                                &mut seen,
                                &mut queue,
                            );
                        }
                    }
                }
                Some(Definition::Permission(expr)) => {
                    let mut next = Vec::new();
                    expand_expr(index, schema, node.object, expr, &mut next);
                    for node in next {
                        visit(node, &mut seen, &mut queue);
                    }
                }
            }
        }
        found.into_iter().collect()
    }

    pub(crate) fn check_node_keep_memo(
        &self,
        node: Node,
        subject: ResolvedSubject,
        memo: &mut MemoTable,
    ) -> Result<bool, DirectoryError> {
        self.evaluator(subject, memo).run_keep_memo(node)
    }
}

/// The nodes an expression on `object` reads, every branch included.
fn expand_expr(
    index: &RelationIndex,
    schema: &Schema,
    object: ObjectId,
    expr: &Expr,
    out: &mut Vec<Node>,
) {
    match expr {
        Expr::Ref(name) => out.push(Node {
            object,
            relation: *name,
        }),
        Expr::Arrow { via, target } => {
            for hop in arrow_hops(index, schema, object, *via) {
                out.push(Node {
                    object: hop,
                    relation: *target,
                });
            }
        }
        Expr::Union(items) | Expr::Intersection(items) => {
            for item in items.iter() {
                expand_expr(index, schema, object, item, out);
            }
        }
        Expr::Exclusion(include, exclude) => {
            expand_expr(index, schema, object, include, out);
            expand_expr(index, schema, object, exclude, out);
        }
    }
}

/// Applies `page` to sorted candidates, keeping those `keep` confirms.
fn paginate<T: Copy>(
    sorted: Vec<(&str, T)>,
    page: Page<'_>,
    keep: &mut impl FnMut(T) -> Result<bool, DirectoryError>,
) -> Result<LookupPage, DirectoryError> {
    let start = match page.after {
        Some(after) => sorted.partition_point(|(id, _)| *id <= after),
        None => 0,
    };
    let mut ids = Vec::new();
    let mut rest = sorted.get(start..).unwrap_or(&[]).iter();
    for (id, object) in rest.by_ref() {
        if keep(*object)? {
            ids.push((*id).to_string());
            if page.size != 0 && ids.len() == page.size {
                break;
            }
        }
    }
    let mut next = None;
    if page.size != 0 && ids.len() == page.size {
        // Only promise a next page if one more answer exists.
        for (_, object) in rest {
            if keep(*object)? {
                next = ids.last().cloned();
                break;
            }
        }
    }
    Ok(LookupPage { ids, next })
}

/// Every `(object, relation)` whose arrow hops (see [`arrow_hops`]) include `member`: where it is a plain
/// subject, and every relation that includes those as subject sets, to any depth.
fn arrow_holders(index: &RelationIndex, schema: &Schema, member: ObjectId) -> Vec<Node> {
    let mut holders: Vec<Node> = Vec::new();
    let mut seen: FxHashSet<Node> = FxHashSet::default();
    for back in index.appearances(member, NO_NAME) {
        let node = Node {
            object: back.object,
            relation: back.relation,
        };
        if seen.insert(node) {
            holders.push(node);
        }
    }
    let mut next = 0;
    while let Some(set) = holders.get(next).copied() {
        next += 1;
        let is_relation = index
            .object_type(set.object)
            .and_then(|ty| schema.relation_plan(ty, set.relation))
            .is_some();
        if !is_relation {
            continue;
        }
        for back in index.appearances(set.object, set.relation) {
            let node = Node {
                object: back.object,
                relation: back.relation,
            };
            if seen.insert(node) {
                holders.push(node);
            }
        }
    }
    holders
}
