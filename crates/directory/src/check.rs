//! The check engine: does a subject hold a relation or permission on an object?
//!
//! Semantics: a node `(object, relation)` already being evaluated higher up the same path counts as
//! "not granted" there (cycles in the data terminate), unless the path back to it crosses the subtracted
//! side of an exclusion: then the node's answer would depend on its own negation, so it is unknown there.
//! Unknown combines as in three-valued logic (a union with a grant grants, an intersection with a denial
//! denies, anything else involving unknown stays unknown) and is never a grant. Results are memoised per
//! request, but only when they did not depend on such an in-progress ancestor, so memoisation never
//! changes an answer.

use crate::explain::{Recorder, Step};
use crate::index::{Node, ObjectId, RelationIndex, Subject};
use crate::schema::{Definition, Expr, NameId, Schema, TypeId, NO_NAME};
use crate::DirectoryError;
use rustc_hash::{FxHashMap, FxHashSet};

/// The subject of a check, resolved to ids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedSubject {
    /// The subject object, if the directory has ever seen it.
    pub object: Option<ObjectId>,
    /// The subject relation for a subject set, else [`NO_NAME`].
    pub relation: NameId,
    /// The wildcard object `type:*` of the subject's type, if any tuple uses it.
    pub wildcard: Option<ObjectId>,
}

/// The answer for one node or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not granted.
    Denied,
    /// Granted.
    Granted,
    /// Undecidable: it depends on its own answer through the subtracted side of an exclusion. Never a
    /// grant.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Memo {
    InProgress(u32),
    Done { verdict: Verdict, cut_seen: bool },
}

/// Stands for an object the directory has never seen, when a check asks whether a subject set of that
/// object holds one of the object's own relations or permissions.
pub(crate) const UNSEEN_OBJECT: ObjectId = ObjectId::MAX;

/// Per-request scratch space, reused across checks on one thread.
pub(crate) type MemoTable = FxHashMap<Node, Memo>;

/// No in-progress ancestor was relied upon.
const UNTAINTED: u32 = u32::MAX;

/// An answer and what it relied on, which decides whether it may be memoised.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    verdict: Verdict,
    /// The shallowest in-progress ancestor this result relied on.
    taint: u32,
    /// A cycle was cut somewhere below.
    cut_seen: bool,
    /// A cycle was cut below the subtracted side of an exclusion: the answer depends on where the walk
    /// entered the cycle, so it is never memoised.
    negated_cut: bool,
}

impl Outcome {
    const DENIED: Outcome = Outcome {
        verdict: Verdict::Denied,
        taint: UNTAINTED,
        cut_seen: false,
        negated_cut: false,
    };
    const GRANTED: Outcome = Outcome {
        verdict: Verdict::Granted,
        ..Outcome::DENIED
    };

    /// This answer, having also relied on what `other` relied on.
    fn relying_on(self, other: Outcome) -> Outcome {
        Outcome {
            verdict: self.verdict,
            taint: self.taint.min(other.taint),
            cut_seen: self.cut_seen || other.cut_seen,
            negated_cut: self.negated_cut || other.negated_cut,
        }
    }

    fn with_verdict(self, verdict: Verdict) -> Outcome {
        Outcome { verdict, ..self }
    }

    fn granted(self) -> bool {
        self.verdict == Verdict::Granted
    }
}

/// Largest closure whose storage a thread keeps for the next check.
const CLOSURE_CAPACITY_KEPT: usize = 4096;

thread_local! {
    /// Storage of the last closure (set and work queue) built on this thread.
    static CLOSURE_STORAGE: std::cell::RefCell<(FxHashSet<Node>, Vec<Node>)> =
        std::cell::RefCell::default();
}

/// One evaluation of one check.
pub(crate) struct Evaluator<'a, R: Recorder> {
    pub schema: &'a Schema,
    pub index: &'a RelationIndex,
    pub subject: ResolvedSubject,
    pub memo: &'a mut MemoTable,
    pub depth_limit: u32,
    pub recorder: R,
    /// The type of [`UNSEEN_OBJECT`] in this evaluation.
    pub unseen_type: TypeId,
    /// Every set the subject belongs to through tuples alone, built on first use.
    pub closure: Option<FxHashSet<Node>>,
    /// The depth of the deepest node on the current path whose exclusion's subtracted side is being
    /// evaluated: a node in progress at or above it, met again, depends on its own negation.
    pub subtracted_at: Option<u32>,
}

impl<R: Recorder> Evaluator<'_, R> {
    /// Hands the closure's storage back to the thread for its next check.
    pub fn recycle(&mut self) {
        if let Some(closure) = self.closure.take() {
            if closure.capacity() <= CLOSURE_CAPACITY_KEPT {
                CLOSURE_STORAGE.with(|storage| {
                    if let Ok(mut storage) = storage.try_borrow_mut() {
                        storage.0 = closure;
                    }
                });
            }
        }
    }
}

impl<R: Recorder> Evaluator<'_, R> {
    /// Evaluates `(object, relation)` for the subject.
    pub fn run(&mut self, node: Node) -> Result<bool, DirectoryError> {
        self.memo.clear();
        self.run_keep_memo(node)
    }

    /// Evaluates with the memo of earlier runs for the same subject still in place.
    pub fn run_keep_memo(&mut self, node: Node) -> Result<bool, DirectoryError> {
        Ok(self.eval(node, 0)?.granted())
    }

    fn eval(&mut self, node: Node, depth: u32) -> Result<Outcome, DirectoryError> {
        if depth > self.depth_limit {
            return Err(DirectoryError::DepthExceeded {
                limit: self.depth_limit,
                at: self.describe(node),
            });
        }
        if self.subject.relation != NO_NAME
            && self.subject.object == Some(node.object)
            && self.subject.relation == node.relation
        {
            let (index, schema) = (self.index, self.schema);
            self.recorder.leaf(Verdict::Granted, || Step::SubjectSet {
                subject: describe(index, schema, node),
            });
            return Ok(Outcome::GRANTED);
        }
        match self.memo.get(&node) {
            Some(Memo::Done { verdict, cut_seen }) => {
                return Ok(Outcome {
                    verdict: *verdict,
                    cut_seen: *cut_seen,
                    ..Outcome::DENIED
                })
            }
            Some(Memo::InProgress(at)) => {
                let at = *at;
                // Met again across the subtracted side of an exclusion decided by this node or one below
                // it, "not granted" here would become a grant there: the node's answer would depend on
                // its own negation, so it is unknown.
                let undecidable = self
                    .subtracted_at
                    .is_some_and(|subtracted| at <= subtracted);
                let verdict = if undecidable {
                    Verdict::Unknown
                } else {
                    Verdict::Denied
                };
                let dependent = if undecidable && R::ENABLED {
                    self.recorder.enclosing_node().map(str::to_string)
                } else {
                    None
                };
                let (index, schema) = (self.index, self.schema);
                self.recorder.leaf(verdict, || Step::Cycle {
                    node: describe(index, schema, node),
                    dependent,
                });
                return Ok(Outcome {
                    verdict,
                    taint: at,
                    cut_seen: true,
                    ..Outcome::DENIED
                });
            }
            None => {}
        }
        self.memo.insert(node, Memo::InProgress(depth));
        let schema = self.schema;
        let object_type = self.type_of(node.object);
        let outcome = match schema.definition(object_type, node.relation) {
            None => Outcome::DENIED,
            Some(Definition::Relation(_)) => {
                let index = self.index;
                self.recorder.enter(|| Step::Relation {
                    node: describe(index, schema, node),
                });
                let outcome = self.eval_relation(node, object_type, depth);
                self.recorder.leave(verdict_of(&outcome));
                outcome?
            }
            Some(Definition::Permission(expr)) => {
                let index = self.index;
                self.recorder.enter(|| Step::Permission {
                    node: describe(index, schema, node),
                });
                let outcome = self.eval_expr(node, expr, depth);
                self.recorder.leave(verdict_of(&outcome));
                outcome?
            }
        };
        if outcome.taint >= depth && !outcome.negated_cut {
            // Only this node itself (or nothing) was in progress: the answer holds in any context.
            if R::ENABLED {
                self.memo.remove(&node);
            } else {
                self.memo.insert(
                    node,
                    Memo::Done {
                        verdict: outcome.verdict,
                        cut_seen: outcome.cut_seen,
                    },
                );
            }
            Ok(Outcome {
                taint: UNTAINTED,
                ..outcome
            })
        } else {
            self.memo.remove(&node);
            Ok(outcome)
        }
    }

    #[inline]
    fn type_of(&self, object: ObjectId) -> TypeId {
        if object == UNSEEN_OBJECT {
            self.unseen_type
        } else {
            self.index.object_type(object).unwrap_or(TypeId::MAX)
        }
    }

    /// The sets the subject belongs to through tuples alone: from the sets that hold it directly (or
    /// its type's wildcard), up through every set that holds those.
    fn closure(&mut self) -> &FxHashSet<Node> {
        if self.closure.is_none() {
            self.closure = Some(self.build_closure());
        }
        self.closure.get_or_insert_with(FxHashSet::default)
    }

    fn build_closure(&self) -> FxHashSet<Node> {
        let index = self.index;
        let schema = self.schema;
        // Reuse the storage of this thread's previous closure: no allocation on a warm thread.
        let (mut closure, mut queue) = CLOSURE_STORAGE
            .with(|storage| {
                storage
                    .try_borrow_mut()
                    .map(|mut s| std::mem::take(&mut *s))
            })
            .unwrap_or_default();
        closure.clear();
        queue.clear();
        let subject = self.subject;
        if subject.relation != NO_NAME {
            if let Some(object) = subject.object {
                let node = Node {
                    object,
                    relation: subject.relation,
                };
                closure.insert(node);
                queue.push(node);
            }
        } else {
            queue.extend(
                [subject.object, subject.wildcard]
                    .into_iter()
                    .flatten()
                    .map(|object| Node {
                        object,
                        relation: NO_NAME,
                    }),
            );
        }
        // Only sets that some relation admits as subject sets are followed and kept: a subject's plain
        // grants (the documents a group may view) can be many and are never looked up here.
        while let Some(set) = queue.pop() {
            let list = index.appearances(set.object, set.relation);
            for name in schema.set_names() {
                for back in RelationIndex::with_relation(list, *name) {
                    let node = Node {
                        object: back.object,
                        relation: back.relation,
                    };
                    if schema.is_set_capable(self.type_of(node.object), node.relation)
                        && closure.insert(node)
                    {
                        queue.push(node);
                    }
                }
            }
        }
        CLOSURE_STORAGE.with(|storage| {
            if let Ok(mut storage) = storage.try_borrow_mut() {
                storage.1 = queue;
            }
        });
        closure
    }

    fn eval_relation(
        &mut self,
        node: Node,
        object_type: TypeId,
        depth: u32,
    ) -> Result<Outcome, DirectoryError> {
        let index = self.index;
        let list = index.subjects(node.object, node.relation);
        let subject = self.subject;
        if let Some(object) = subject.object {
            let wanted = Subject {
                relation: subject.relation,
                object,
            };
            if list.binary_search(&wanted).is_ok() {
                let schema = self.schema;
                self.recorder.leaf(Verdict::Granted, || Step::Tuple {
                    subject: describe(
                        index,
                        schema,
                        Node {
                            object,
                            relation: subject.relation,
                        },
                    ),
                });
                return Ok(Outcome::GRANTED);
            }
        }
        let direct = RelationIndex::direct_part(list);
        if subject.relation == NO_NAME {
            if let Some(wildcard) = subject.wildcard {
                let wanted = Subject {
                    relation: NO_NAME,
                    object: wildcard,
                };
                if direct.binary_search(&wanted).is_ok() {
                    let schema = self.schema;
                    self.recorder.leaf(Verdict::Granted, || Step::Wildcard {
                        subject: describe(
                            index,
                            schema,
                            Node {
                                object: wildcard,
                                relation: NO_NAME,
                            },
                        ),
                    });
                    return Ok(Outcome::GRANTED);
                }
            }
        }
        let sets = list.get(direct.len()..).unwrap_or(&[]);
        if sets.is_empty() {
            return Ok(Outcome::DENIED);
        }
        // Membership in a pure relation is reachability, answered from the subject's side without
        // walking the (usually much larger) tree of sets below the object. Explain walks for the proof.
        if !R::ENABLED && self.schema.is_pure_relation(object_type, node.relation) {
            let closure = self.closure();
            let allowed = sets.iter().any(|set| {
                closure.contains(&Node {
                    object: set.object,
                    relation: set.relation,
                })
            });
            return Ok(if allowed {
                Outcome::GRANTED
            } else {
                Outcome::DENIED
            });
        }
        let mut result = Outcome::DENIED;
        for set in sets {
            let outcome = self.eval(
                Node {
                    object: set.object,
                    relation: set.relation,
                },
                depth + 1,
            )?;
            result = result
                .relying_on(outcome)
                .with_verdict(any_of(result.verdict, outcome.verdict));
            if result.granted() {
                return Ok(result);
            }
        }
        Ok(result)
    }

    fn eval_expr(
        &mut self,
        node: Node,
        expr: &Expr,
        depth: u32,
    ) -> Result<Outcome, DirectoryError> {
        match expr {
            Expr::Ref(name) => self.eval(
                Node {
                    object: node.object,
                    relation: *name,
                },
                depth + 1,
            ),
            Expr::Arrow { via, target } => self.eval_arrow(node, *via, *target, depth),
            Expr::Union(items) => {
                self.recorder.enter(|| Step::Union);
                let outcome = self.eval_all(node, items, depth, true);
                self.recorder.leave(verdict_of(&outcome));
                outcome
            }
            Expr::Intersection(items) => {
                self.recorder.enter(|| Step::Intersection);
                let outcome = self.eval_all(node, items, depth, false);
                self.recorder.leave(verdict_of(&outcome));
                outcome
            }
            Expr::Exclusion(include, exclude) => {
                self.recorder.enter(|| Step::Exclusion);
                let outcome = self.eval_exclusion(node, include, exclude, depth);
                self.recorder.leave(verdict_of(&outcome));
                outcome
            }
        }
    }

    /// Union (`any`) or intersection (not `any`): stops at the first child that decides, a grant for a
    /// union, a denial for an intersection.
    fn eval_all(
        &mut self,
        node: Node,
        items: &[Expr],
        depth: u32,
        any: bool,
    ) -> Result<Outcome, DirectoryError> {
        let (mut result, decisive) = if any {
            (Outcome::DENIED, Verdict::Granted)
        } else {
            (Outcome::GRANTED, Verdict::Denied)
        };
        for item in items {
            let outcome = self.eval_expr(node, item, depth)?;
            let verdict = if any {
                any_of(result.verdict, outcome.verdict)
            } else {
                all_of(result.verdict, outcome.verdict)
            };
            result = result.relying_on(outcome).with_verdict(verdict);
            if verdict == decisive {
                return Ok(result);
            }
        }
        Ok(result)
    }

    fn eval_exclusion(
        &mut self,
        node: Node,
        include: &Expr,
        exclude: &Expr,
        depth: u32,
    ) -> Result<Outcome, DirectoryError> {
        let included = self.eval_expr(node, include, depth)?;
        if included.verdict == Verdict::Denied {
            return Ok(included);
        }
        // Depths only grow along a path, so this node's depth is the deepest subtracted side so far.
        let outer = self.subtracted_at.replace(depth);
        let excluded = self.eval_expr(node, exclude, depth);
        self.subtracted_at = outer;
        let excluded = excluded?;
        let verdict = match (included.verdict, excluded.verdict) {
            (_, Verdict::Granted) => Verdict::Denied,
            (Verdict::Granted, Verdict::Denied) => Verdict::Granted,
            _ => Verdict::Unknown,
        };
        let mut result = included.relying_on(excluded).with_verdict(verdict);
        result.negated_cut |= excluded.cut_seen;
        Ok(result)
    }

    fn eval_arrow(
        &mut self,
        node: Node,
        via: NameId,
        target: NameId,
        depth: u32,
    ) -> Result<Outcome, DirectoryError> {
        let index = self.index;
        let schema = self.schema;
        self.recorder.enter(|| Step::Arrow {
            via: schema.symbols().name(via).to_string(),
            target: schema.symbols().name(target).to_string(),
        });
        let list = index.subjects(node.object, via);
        let direct = RelationIndex::direct_part(list);
        // Usually every subject is plain; only subject sets need expanding into their members.
        let expanded;
        let hops: Box<dyn Iterator<Item = ObjectId> + '_> = if direct.len() == list.len() {
            Box::new(direct.iter().map(|s| s.object))
        } else {
            expanded = arrow_hops(index, schema, node.object, via);
            Box::new(expanded.iter().copied())
        };
        let mut result = Ok(Outcome::DENIED);
        for hop in hops {
            if is_wildcard(index, hop) {
                continue;
            }
            let outcome = self.eval(
                Node {
                    object: hop,
                    relation: target,
                },
                depth + 1,
            );
            result = match (result, outcome) {
                (Ok(so_far), Ok(outcome)) => Ok(so_far
                    .relying_on(outcome)
                    .with_verdict(any_of(so_far.verdict, outcome.verdict))),
                (_, Err(error)) | (Err(error), _) => Err(error),
            };
            if result.as_ref().map_or(true, |o| o.granted()) {
                break;
            }
        }
        self.recorder.leave(verdict_of(&result));
        result
    }

    fn describe(&self, node: Node) -> String {
        describe(self.index, self.schema, node)
    }
}

/// Three-valued "or": a grant decides, else unknown stays unknown.
fn any_of(left: Verdict, right: Verdict) -> Verdict {
    match (left, right) {
        (Verdict::Granted, _) | (_, Verdict::Granted) => Verdict::Granted,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        (Verdict::Denied, Verdict::Denied) => Verdict::Denied,
    }
}

/// Three-valued "and": a denial decides, else unknown stays unknown.
fn all_of(left: Verdict, right: Verdict) -> Verdict {
    match (left, right) {
        (Verdict::Denied, _) | (_, Verdict::Denied) => Verdict::Denied,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        (Verdict::Granted, Verdict::Granted) => Verdict::Granted,
    }
}

/// The verdict a trace records for a result; an error records a denial.
fn verdict_of(outcome: &Result<Outcome, DirectoryError>) -> Verdict {
    outcome.as_ref().map_or(Verdict::Denied, |o| o.verdict)
}

/// `type:id#relation` (or `type:id` for a plain object) of a node, for traces and errors.
pub(crate) fn describe(index: &RelationIndex, schema: &Schema, node: Node) -> String {
    let (object_type, id) = index
        .object_key(node.object)
        .map_or(("?".to_string(), "?"), |(ty, id)| {
            (schema.symbols().type_name(ty).to_string(), id)
        });
    if node.relation == NO_NAME {
        format!("{object_type}:{id}")
    } else {
        format!(
            "{object_type}:{id}#{}",
            schema.symbols().name(node.relation)
        )
    }
}

/// Whether an object is the wildcard `type:*`.
#[inline]
pub(crate) fn is_wildcard(index: &RelationIndex, object: ObjectId) -> bool {
    index.object_key(object).is_some_and(|(_, id)| id == "*")
}

/// The objects an arrow `via->…` on `object` follows: the plain subjects of `via`, and, as Topaz does,
/// the members of its subject sets that name relations (`group#member`), to any depth. Wildcards are
/// not followed.
pub(crate) fn arrow_hops(
    index: &RelationIndex,
    schema: &Schema,
    object: ObjectId,
    via: NameId,
) -> Vec<ObjectId> {
    let mut seen_sets = rustc_hash::FxHashSet::default();
    let mut hops = Vec::new();
    let mut seen_hops = rustc_hash::FxHashSet::default();
    let mut queue = vec![Node {
        object,
        relation: via,
    }];
    seen_sets.insert(Node {
        object,
        relation: via,
    });
    while let Some(set) = queue.pop() {
        for subject in index.subjects(set.object, set.relation) {
            if subject.relation == NO_NAME {
                if !is_wildcard(index, subject.object) && seen_hops.insert(subject.object) {
                    hops.push(subject.object);
                }
                continue;
            }
            let is_relation = index
                .object_type(subject.object)
                .and_then(|ty| schema.relation_plan(ty, subject.relation))
                .is_some();
            let nested = Node {
                object: subject.object,
                relation: subject.relation,
            };
            if is_relation && seen_sets.insert(nested) {
                queue.push(nested);
            }
        }
    }
    hops
}
