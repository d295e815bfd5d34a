//! Explain traces: the tree of relations and permissions a check walked, with each one's outcome.
//! The check engine records through [`Recorder`]; the fast path uses [`NoRecorder`] and pays nothing.

use crate::check::Verdict;
use serde::Serialize;
use std::fmt;

/// What one node of a trace stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A relation of an object, answered from its tuples.
    Relation {
        /// `type:id#relation`.
        node: String,
    },
    /// A permission of an object, answered by its expression.
    Permission {
        /// `type:id#permission`.
        node: String,
    },
    /// `a | b`: any child.
    Union,
    /// `a & b`: every child.
    Intersection,
    /// `a - b`: the first child and not the second.
    Exclusion,
    /// `via->target`: `target` on each subject of `via`.
    Arrow {
        /// The relation followed.
        via: String,
        /// The relation or permission evaluated on each subject.
        target: String,
    },
    /// A stored tuple names the subject itself.
    Tuple {
        /// The matching subject.
        subject: String,
    },
    /// A stored wildcard tuple (`type:*`) admits the subject.
    Wildcard {
        /// The wildcard subject.
        subject: String,
    },
    /// The subject is this very subject set.
    SubjectSet {
        /// The subject set.
        subject: String,
    },
    /// Already being evaluated on this path: a cycle in the data, not granted here.
    Cycle {
        /// `type:id#relation` met again.
        node: String,
        /// When the cycle runs through the subtracted side of an exclusion: the relation or permission
        /// that depends on `node`. Its answer would depend on its own negation, so it is undecidable and
        /// denied.
        #[serde(skip_serializing_if = "Option::is_none")]
        dependent: Option<String>,
    },
}

/// One node of an explain trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// What was evaluated.
    #[serde(flatten)]
    pub step: Step,
    /// Whether it granted.
    pub allowed: bool,
    /// Whether its answer is undecidable (it depends on its own negation through a cycle); such a node
    /// never grants.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecidable: bool,
    /// What it evaluated in turn, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Trace>,
}

/// Receives the walk of a check.
pub(crate) trait Recorder {
    /// Whether anything is recorded; when false, the engine memoises and builds no steps.
    const ENABLED: bool;
    /// A node starts.
    fn enter(&mut self, step: impl FnOnce() -> Step);
    /// The innermost open node ends.
    fn leave(&mut self, verdict: Verdict);
    /// A node with no children.
    fn leaf(&mut self, verdict: Verdict, step: impl FnOnce() -> Step) {
        self.enter(step);
        self.leave(verdict);
    }
    /// The innermost open relation or permission, `type:id#name`, if anything is recorded.
    fn enclosing_node(&self) -> Option<&str> {
        None
    }
}

/// Records nothing.
pub(crate) struct NoRecorder;

impl Recorder for NoRecorder {
    const ENABLED: bool = false;
    #[inline(always)]
    fn enter(&mut self, _step: impl FnOnce() -> Step) {}
    #[inline(always)]
    fn leave(&mut self, _verdict: Verdict) {}
}

/// Builds a [`Trace`] tree.
#[derive(Default)]
pub(crate) struct TraceRecorder {
    open: Vec<Trace>,
    root: Option<Trace>,
}

impl TraceRecorder {
    /// The finished tree.
    pub fn finish(self) -> Option<Trace> {
        self.root
    }
}

impl Recorder for TraceRecorder {
    const ENABLED: bool = true;

    fn enter(&mut self, step: impl FnOnce() -> Step) {
        self.open.push(Trace {
            step: step(),
            allowed: false,
            undecidable: false,
            children: Vec::new(),
        });
    }

    fn leave(&mut self, verdict: Verdict) {
        let Some(mut done) = self.open.pop() else {
            return;
        };
        done.allowed = verdict == Verdict::Granted;
        done.undecidable = verdict == Verdict::Unknown;
        match self.open.last_mut() {
            Some(parent) => parent.children.push(done),
            None => self.root = Some(done),
        }
    }

    fn enclosing_node(&self) -> Option<&str> {
        self.open.iter().rev().find_map(|trace| match &trace.step {
            Step::Relation { node } | Step::Permission { node } => Some(node.as_str()),
            _ => None,
        })
    }
}

impl Trace {
    fn write_indented(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let mark = match (self.allowed, self.undecidable) {
            (true, _) => "✓",
            (false, true) => "?",
            (false, false) => "✗",
        };
        let label = match &self.step {
            Step::Relation { node } => format!("{node} (relation)"),
            Step::Permission { node } => format!("{node} (permission)"),
            Step::Union => "any of (|)".to_string(),
            Step::Intersection => "all of (&)".to_string(),
            Step::Exclusion => "first but not second (-)".to_string(),
            Step::Arrow { via, target } => format!("{via}->{target}"),
            Step::Tuple { subject } => format!("tuple with subject {subject}"),
            Step::Wildcard { subject } => format!("wildcard tuple {subject}"),
            Step::SubjectSet { subject } => format!("subject set {subject} itself"),
            Step::Cycle {
                node,
                dependent: None,
            } => format!("{node} again: cycle, not granted on this path"),
            Step::Cycle {
                node,
                dependent: Some(dependent),
            } => format!(
                "denied: {dependent} depends on {node}, which is being decided \
                 (a cycle through the subtracted side of an exclusion: undecidable)"
            ),
        };
        writeln!(f, "{:indent$}{mark} {label}", "", indent = depth * 2)?;
        for child in &self.children {
            child.write_indented(f, depth + 1)?;
        }
        Ok(())
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_indented(f, 0)
    }
}
