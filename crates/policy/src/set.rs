//! [`PolicySet`]: compiled Rego modules and data, evaluated against a directory snapshot.

use crate::builtins::{self, BuiltinCall};
use crate::error::{locate, one_line, PolicyError};
use crate::limits::{self, EvalLimits};
use crate::partial::{KnownEval, Partial, Program};
use lictor_directory::Directory;
use regorus::{Engine, Value};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// How many prepared engines (one per policy set) a thread keeps between evaluations.
const ENGINES_PER_THREAD: usize = 4;

/// The message regorus gives when asked for a rule no module declares.
const NOT_A_RULE: &str = "not a valid rule path";

static NEXT_SET_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Engines this thread has evaluated with, most recent first: keyed by policy set, with whether
    /// the engine's built-in errors are lenient.
    static ENGINES: RefCell<Vec<(u64, bool, Engine)>> = const { RefCell::new(Vec::new()) };
}

/// One policy module as loaded: what Topaz's `ListPolicies`/`GetPolicy` report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyModule {
    /// The module's name: its file name, or its path relative to the loaded directory or bundle.
    pub id: String,
    /// The package, dotted and without `data.` (`todoApp.GET.todos`).
    pub package_path: String,
    /// The Rego source.
    pub source: String,
}

/// What one evaluation sees: the directory snapshot the `ds.*` built-ins answer from, and `input`.
#[derive(Clone)]
pub struct EvalContext {
    /// The snapshot for the built-ins; the evaluation sees exactly this revision.
    pub directory: Arc<Directory>,
    /// The Rego `input` document.
    pub input: serde_json::Value,
    /// The bounds the evaluation runs under.
    pub limits: EvalLimits,
}

impl EvalContext {
    /// A context with this snapshot and input, under the default limits.
    pub fn new(directory: Arc<Directory>, input: serde_json::Value) -> Self {
        EvalContext {
            directory,
            input,
            limits: EvalLimits::default(),
        }
    }

    /// The same context under other limits.
    pub fn with_limits(self, limits: EvalLimits) -> Self {
        EvalContext { limits, ..self }
    }
}

impl fmt::Debug for EvalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvalContext")
            .field("directory_revision", &self.directory.revision())
            .field("input", &self.input)
            .field("limits", &self.limits)
            .finish()
    }
}

/// An Is explained: what [`PolicySet::explain_is`] found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IsExplanation {
    /// Each requested decision and its outcome.
    pub decisions: Vec<(String, bool)>,
    /// Every rule the package declares, with its value.
    pub rules: Vec<RuleOutcome>,
    /// Each distinct `ds.*` call, in the order made.
    pub calls: Vec<BuiltinCall>,
}

/// One rule of an explained package and what it evaluated to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleOutcome {
    /// The package, dotted.
    pub package: String,
    /// The rule's name.
    pub rule: String,
    /// Its value; `None` when undefined or failed.
    pub value: Option<serde_json::Value>,
    /// Why its evaluation failed, if it did.
    pub error: Option<String>,
}

/// How a decision tree spells its paths (Topaz's `PATH_SEPARATOR_DOT` / `PATH_SEPARATOR_SLASH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathSeparator {
    /// `todoApp.GET.todos`.
    #[default]
    Dot,
    /// `todoApp/GET/todos`.
    Slash,
}

/// Decisions by package path, then by decision name.
pub type DecisionTree = BTreeMap<String, BTreeMap<String, bool>>;

/// An immutable, compiled set of Rego modules with their data. Cheap to clone and share.
#[derive(Clone)]
pub struct PolicySet {
    inner: Arc<Inner>,
    lenient: bool,
    provenance: Provenance,
}

/// Where a policy set came from, beyond its content: named in every decision made with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The OPA bundle's revision (its `.manifest`), when loaded from a bundle.
    pub bundle_revision: Option<String>,
    /// The policy image it was read from, `registry/repository[:tag]@sha256:…`.
    pub image: Option<String>,
}

struct Inner {
    /// Unique per compiled set: keys the per-thread engine caches.
    id: u64,
    revision: String,
    modules: Vec<PolicyModule>,
    packages: BTreeSet<String>,
    /// Compiled and prepared; every evaluation runs on a clone of it.
    engine: Engine,
    /// The modules' syntax trees, read when `compile` first needs them.
    program: OnceLock<Result<Program, String>>,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("revision", &self.inner.revision)
            .field("packages", &self.inner.packages)
            .field("lenient_builtin_errors", &self.lenient)
            .finish()
    }
}

/// A module to compile: its id, the name its diagnostics use, and its source.
pub(crate) struct ModuleSource {
    pub id: String,
    pub origin: String,
    pub source: String,
}

/// A data document to merge at a path below `data`.
pub(crate) struct DataSource {
    pub origin: String,
    pub path: Vec<String>,
    pub value: serde_json::Value,
}

impl PolicySet {
    /// Compiles modules given as `(file name, source)`; the file name is the module's id and the
    /// name its diagnostics use.
    pub fn from_modules(modules: Vec<(String, String)>) -> Result<PolicySet, PolicyError> {
        let modules = modules
            .into_iter()
            .map(|(id, source)| ModuleSource {
                origin: id.clone(),
                id,
                source,
            })
            .collect();
        Self::build(modules, Vec::new())
    }

    /// Compiles modules with data documents merged at the root of `data`.
    pub fn from_modules_and_data(
        modules: Vec<(String, String)>,
        data: serde_json::Value,
    ) -> Result<PolicySet, PolicyError> {
        let modules = modules
            .into_iter()
            .map(|(id, source)| ModuleSource {
                origin: id.clone(),
                id,
                source,
            })
            .collect();
        let data = vec![DataSource {
            origin: "data".to_string(),
            path: Vec::new(),
            value: data,
        }];
        Self::build(modules, data)
    }

    /// Compiles everything: modules (Rego v1, or v0 when only that parses), data, built-ins; then
    /// prepares the engine so that a broken set fails here, not at its first evaluation.
    pub(crate) fn build(
        modules: Vec<ModuleSource>,
        data: Vec<DataSource>,
    ) -> Result<PolicySet, PolicyError> {
        let mut engine = Engine::new();
        engine.set_gather_prints(true);
        // Evaluations switch this per policy set (see `set_lenient_builtin_errors`).
        engine.set_strict_builtin_errors(true);
        let mut seen = BTreeSet::new();
        let mut loaded = Vec::with_capacity(modules.len());
        let mut packages = BTreeSet::new();
        for module in modules {
            if !seen.insert(module.id.clone()) {
                return Err(PolicyError::Load {
                    file: module.origin,
                    message: format!("duplicate module id `{}`", module.id),
                });
            }
            let package = add_module(&mut engine, &module)?;
            let package_path = package
                .strip_prefix("data.")
                .unwrap_or(&package)
                .to_string();
            packages.insert(package_path.clone());
            loaded.push(PolicyModule {
                id: module.id,
                package_path,
                source: module.source,
            });
        }
        let mut hasher = Sha256::new();
        let mut sorted: Vec<&PolicyModule> = loaded.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        for module in sorted {
            hasher.update(b"module\0");
            hasher.update(module.id.as_bytes());
            hasher.update(b"\0");
            hasher.update(module.source.as_bytes());
            hasher.update(b"\0");
        }
        for document in data {
            hasher.update(b"data\0");
            hasher.update(document.path.join("\u{1f}").as_bytes());
            hasher.update(b"\0");
            hasher.update(document.value.to_string().as_bytes());
            hasher.update(b"\0");
            let mut value = document.value;
            for segment in document.path.iter().rev() {
                let mut wrapper = serde_json::Map::new();
                wrapper.insert(segment.clone(), value);
                value = serde_json::Value::Object(wrapper);
            }
            if !value.is_object() {
                return Err(PolicyError::Load {
                    file: document.origin,
                    message: "data at the root must be a JSON object".to_string(),
                });
            }
            engine
                .add_data(Value::from(value))
                .map_err(|error| PolicyError::Load {
                    file: document.origin.clone(),
                    message: one_line(&error),
                })?;
        }
        builtins::register(&mut engine)
            .and_then(|()| limits::register(&mut engine))
            .map_err(|error| PolicyError::Load {
                file: "built-ins".to_string(),
                message: one_line(&error),
            })?;
        // Analyses every module (schedules, imports, rule conflicts) without evaluating any rule.
        engine
            .eval_query("true".to_string(), false)
            .map_err(|error| compile_error(&error, "policy set"))?;
        let _ = engine.take_prints();
        let revision = hasher
            .finalize()
            .iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(PolicySet {
            inner: Arc::new(Inner {
                id: NEXT_SET_ID.fetch_add(1, Ordering::Relaxed),
                revision,
                modules: loaded,
                packages,
                engine,
                program: OnceLock::new(),
            }),
            lenient: false,
            provenance: Provenance::default(),
        })
    }

    /// With `true`, a built-in that fails (bad argument, unknown type) makes its call undefined, as
    /// OPA does by default, instead of failing the whole evaluation. Off by default.
    pub fn set_lenient_builtin_errors(&mut self, lenient: bool) {
        self.lenient = lenient;
    }

    /// Whether built-in errors are lenient (see [`PolicySet::set_lenient_builtin_errors`]).
    pub fn lenient_builtin_errors(&self) -> bool {
        self.lenient
    }

    /// Where the set came from.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Records where the set came from.
    pub fn set_provenance(&mut self, provenance: Provenance) {
        self.provenance = provenance;
    }

    /// A content hash of the modules and data: equal sets have equal revisions.
    pub fn revision(&self) -> &str {
        &self.inner.revision
    }

    /// The modules, in load order.
    pub fn policies(&self) -> Vec<PolicyModule> {
        self.inner.modules.clone()
    }

    /// The modules, borrowed.
    pub fn modules(&self) -> &[PolicyModule] {
        &self.inner.modules
    }

    /// The module with this id.
    pub fn policy(&self, id: &str) -> Option<&PolicyModule> {
        self.inner.modules.iter().find(|module| module.id == id)
    }

    /// Every package path, sorted and without duplicates.
    pub fn packages(&self) -> impl Iterator<Item = &str> {
        self.inner.packages.iter().map(String::as_str)
    }

    /// Whether a module declares this package.
    pub fn has_package(&self, path: &str) -> bool {
        self.inner.packages.contains(path)
    }

    /// Evaluates `data.<path>.<decision>` for each decision. A decision the package leaves undefined
    /// (or does not declare) is `false`; one that is not a boolean is an error.
    pub fn is(
        &self,
        ctx: &EvalContext,
        path: &str,
        decisions: &[String],
    ) -> Result<Vec<(String, bool)>, PolicyError> {
        self.check_is(path, decisions)?;
        self.evaluate(ctx, |engine| decide(engine, path, decisions))
    }

    /// [`PolicySet::is`], explained: the decisions, every rule the package declares with its value,
    /// and each distinct `ds.*` call the evaluation made with its answer.
    pub fn explain_is(
        &self,
        ctx: &EvalContext,
        path: &str,
        decisions: &[String],
    ) -> Result<IsExplanation, PolicyError> {
        self.check_is(path, decisions)?;
        let mut declared: Vec<String> = Vec::new();
        for module in self.inner.modules.iter().filter(|m| m.package_path == path) {
            for name in declared_rules(&module.source) {
                if !declared.contains(&name) {
                    declared.push(name);
                }
            }
        }
        let (result, calls) = self.evaluate_recording(ctx, true, |engine| {
            let decided = decide(engine, path, decisions)?;
            // Each rule on its own, so one that fails is told as such and the others still show.
            let rules = declared
                .into_iter()
                .map(|rule| {
                    let (value, error) = match eval_decision(engine, path, &rule) {
                        Ok(Some(value)) if value != Value::Undefined => {
                            (Some(to_json(&value)), None)
                        }
                        Ok(_) => (None, None),
                        Err(error) => (None, Some(error.to_string())),
                    };
                    RuleOutcome {
                        package: path.to_string(),
                        rule,
                        value,
                        error,
                    }
                })
                .collect();
            Ok((decided, rules))
        });
        let (decisions, rules) = result?;
        Ok(IsExplanation {
            decisions,
            rules,
            calls,
        })
    }

    /// Fails unless `path` is a loaded package and every decision is a plain rule name.
    fn check_is(&self, path: &str, decisions: &[String]) -> Result<(), PolicyError> {
        if !self.inner.packages.contains(path) {
            return Err(PolicyError::UnknownPolicy {
                path: path.to_string(),
            });
        }
        for decision in decisions {
            check_name(path, decision)?;
        }
        Ok(())
    }

    /// Every package at or below `root` with its boolean decisions, paths spelled with dots.
    pub fn decision_tree(
        &self,
        ctx: &EvalContext,
        root: &str,
        decisions: &[String],
    ) -> Result<DecisionTree, PolicyError> {
        self.decision_tree_with(ctx, root, decisions, PathSeparator::Dot)
    }

    /// Every package at or below `root` (dotted or slashed) that declares one of `decisions`, each
    /// mapped to those decisions that evaluate to a boolean; `["*"]` asks for every boolean rule.
    /// Packages declaring none of the decisions are left out, as are decisions that are undefined
    /// or not boolean, as Topaz's DecisionTree does. `separator` spells the returned paths.
    pub fn decision_tree_with(
        &self,
        ctx: &EvalContext,
        root: &str,
        decisions: &[String],
        separator: PathSeparator,
    ) -> Result<DecisionTree, PolicyError> {
        let root = root.replace('/', ".");
        let root = root.trim_matches('.');
        let under: Vec<&String> = self
            .inner
            .packages
            .iter()
            .filter(|package| {
                root.is_empty()
                    || package.as_str() == root
                    || package
                        .strip_prefix(root)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .collect();
        if under.is_empty() {
            return Err(PolicyError::UnknownPolicy {
                path: root.to_string(),
            });
        }
        let every = matches!(decisions, [only] if only == "*");
        if !every {
            for decision in decisions {
                check_name(root, decision)?;
            }
        }
        self.evaluate(ctx, |engine| {
            let mut tree = DecisionTree::new();
            for package in under {
                let mut outcomes = BTreeMap::new();
                let mut declared = false;
                if every {
                    let value = eval_package(engine, package)?;
                    if let Value::Object(rules) = value {
                        declared = true;
                        for (name, value) in rules.iter() {
                            if let (Value::String(name), Value::Bool(outcome)) = (name, value) {
                                outcomes.insert(name.to_string(), *outcome);
                            }
                        }
                    }
                } else {
                    for decision in decisions {
                        match eval_decision(engine, package, decision)? {
                            None => {}
                            Some(Value::Bool(outcome)) => {
                                declared = true;
                                outcomes.insert(decision.clone(), outcome);
                            }
                            Some(_) => declared = true,
                        }
                    }
                }
                if declared {
                    let path = match separator {
                        PathSeparator::Dot => package.clone(),
                        PathSeparator::Slash => package.replace('.', "/"),
                    };
                    tree.insert(path, outcomes);
                }
            }
            Ok(tree)
        })
    }

    /// Evaluates an ad-hoc Rego query; the answer has OPA's result-set shape:
    /// `[{"expressions": [{"value", "text", "location": {"row", "col"}}], "bindings": {...}}]`
    /// (`bindings` only when the query binds variables; `[]` when the query is undefined).
    pub fn query(&self, ctx: &EvalContext, query: &str) -> Result<serde_json::Value, PolicyError> {
        check_nesting(query)?;
        self.evaluate(ctx, |engine| {
            let results = engine
                .eval_query(query.to_string(), false)
                // A bound reached is told as such wherever it was reached. Otherwise an error the
                // engine places in the query's own text (syntax, an unsafe variable, a type error) is
                // the caller's; others come from the policies.
                .map_err(|error| match (limits::limit_of(&error), locate(&error)) {
                    (None, Some(at)) if at.file == QUERY_SOURCE => PolicyError::Query {
                        message: format!("{}:{}: {}", at.line, at.column, at.message),
                    },
                    _ => eval_error(query, &error),
                })?;
            let mut out = Vec::with_capacity(results.result.len());
            for result in results.result {
                let expressions: Vec<serde_json::Value> = result
                    .expressions
                    .iter()
                    .map(|expression| {
                        serde_json::json!({
                            "value": to_json(&expression.value),
                            "text": expression.text.as_ref(),
                            "location": {
                                "row": expression.location.row,
                                "col": expression.location.col,
                            },
                        })
                    })
                    .collect();
                let mut entry = serde_json::Map::new();
                entry.insert(
                    "expressions".to_string(),
                    serde_json::Value::Array(expressions),
                );
                if let Value::Object(bindings) = &result.bindings {
                    if !bindings.is_empty() {
                        entry.insert("bindings".to_string(), to_json(&result.bindings));
                    }
                }
                out.push(serde_json::Value::Object(entry));
            }
            Ok(serde_json::Value::Array(out))
        })
    }

    /// Topaz's Compile: partially evaluates `query` with the `unknowns` (`input.resource`) left
    /// open, answering OPA's `{"queries": [...]}` of residual conditions (`{}`: never true).
    pub fn compile(
        &self,
        ctx: &EvalContext,
        query: &str,
        unknowns: &[String],
    ) -> Result<serde_json::Value, PolicyError> {
        if query.trim().is_empty() {
            return Err(PolicyError::Query {
                message: "query is required".into(),
            });
        }
        check_nesting(query)?;
        let program = self.program().map_err(|message| PolicyError::Eval {
            target: query.to_string(),
            message: message.to_string(),
        })?;
        let mut parser = Engine::new();
        parser
            .add_policy(
                QUERY_SOURCE.to_string(),
                format!("package __lictor_compile\nimport rego.v1\n__query if {{\n{query}\n}}\n"),
            )
            .map_err(|error| PolicyError::Query {
                message: match locate(&error) {
                    Some(at) => format!(
                        "{}:{}: {}",
                        at.line.saturating_sub(3),
                        at.column,
                        at.message
                    ),
                    None => one_line(&error),
                },
            })?;
        let parsed = parser
            .get_ast_as_json()
            .map_err(|e| one_line(&e))
            .and_then(|ast| Program::from_ast_json(&ast))
            .map_err(|message| PolicyError::Query { message })?;
        let known = KnownRules { set: self, ctx };
        Partial::new(program, &ctx.input, unknowns, &known)?.run(&parsed)
    }

    /// The first value of a query's first expression, `None` when it is undefined.
    fn first_value(
        &self,
        ctx: &EvalContext,
        text: &str,
    ) -> Result<Option<serde_json::Value>, PolicyError> {
        self.evaluate(ctx, |engine| {
            let results = engine
                .eval_query(text.to_string(), false)
                .map_err(|error| eval_error(text, &error))?;
            Ok(results
                .result
                .first()
                .and_then(|r| r.expressions.first())
                .map(|e| to_json(&e.value)))
        })
    }

    /// Runs `body` on this thread's prepared engine for this set (cloning the compiled one the first
    /// time), with the context's input set and its snapshot bound to the built-ins.
    /// The value of one reference (`data.pkg.rule`), `None` when undefined, with what the
    /// evaluation printed (`print(...)`).
    pub(crate) fn value_with_prints(
        &self,
        ctx: &EvalContext,
        reference: &str,
    ) -> (Result<Option<serde_json::Value>, PolicyError>, Vec<String>) {
        let mut prints = Vec::new();
        let result = self.evaluate(ctx, |engine| {
            let outcome = engine.eval_query(reference.to_string(), false);
            prints = engine.take_prints().unwrap_or_default();
            let results = outcome.map_err(|error| eval_error(reference, &error))?;
            Ok(results
                .result
                .first()
                .and_then(|result| result.expressions.first())
                .map(|expression| to_json(&expression.value)))
        });
        (result, prints)
    }

    /// The modules' syntax trees, read on first use.
    pub(crate) fn program(&self) -> Result<&Program, &str> {
        self.inner
            .program
            .get_or_init(|| {
                let ast = self
                    .inner
                    .engine
                    .get_ast_as_json()
                    .map_err(|e| one_line(&e))?;
                Program::from_ast_json(&ast)
            })
            .as_ref()
            .map_err(String::as_str)
    }

    fn evaluate<R>(
        &self,
        ctx: &EvalContext,
        body: impl FnOnce(&mut Engine) -> Result<R, PolicyError>,
    ) -> Result<R, PolicyError> {
        self.evaluate_recording(ctx, false, body).0
    }

    /// Runs `body` as [`PolicySet::evaluate`] does; with `record`, also returns the distinct `ds.*`
    /// calls it made.
    fn evaluate_recording<R>(
        &self,
        ctx: &EvalContext,
        record: bool,
        body: impl FnOnce(&mut Engine) -> Result<R, PolicyError>,
    ) -> (Result<R, PolicyError>, Vec<BuiltinCall>) {
        let id = self.inner.id;
        let cached = ENGINES.with(|engines| {
            let mut engines = engines.try_borrow_mut().ok()?;
            let position = engines.iter().position(|(key, _, _)| *key == id)?;
            let (_, lenient, engine) = engines.remove(position);
            Some((lenient, engine))
        });
        // The compiled engine is strict; switching copies its compiled form, so only on a change.
        let (lenient, mut engine) = cached.unwrap_or_else(|| (false, self.inner.engine.clone()));
        if lenient != self.lenient {
            engine.set_strict_builtin_errors(!self.lenient);
        }
        let input = match Value::deserialize(&ctx.input) {
            Ok(input) => input,
            Err(error) => {
                let error = PolicyError::Eval {
                    target: "input".to_string(),
                    message: error.to_string(),
                };
                return (Err(error), Vec::new());
            }
        };
        engine.set_input(input);
        let (result, calls) = {
            let bound = builtins::bind(Arc::clone(&ctx.directory), self.lenient, record);
            let _limited = limits::apply(&mut engine, &ctx.limits);
            let result = body(&mut engine);
            (result, bound.take_calls())
        };
        let _ = engine.take_prints();
        // An engine that failed mid-evaluation is dropped rather than trusted again, as is one
        // that explained (its rules may have failed one by one).
        if result.is_ok() && !record {
            ENGINES.with(|engines| {
                if let Ok(mut engines) = engines.try_borrow_mut() {
                    engines.insert(0, (id, self.lenient, engine));
                    engines.truncate(ENGINES_PER_THREAD);
                }
            });
        }
        (result, calls)
    }
}

/// An evaluation error; running into a bound is told apart, so callers can answer it as such.
fn eval_error(target: &str, error: &anyhow::Error) -> PolicyError {
    match limits::limit_of(error) {
        Some((kind, message)) => PolicyError::Limit {
            target: target.to_string(),
            kind,
            message,
        },
        None => PolicyError::Eval {
            target: target.to_string(),
            message: one_line(error),
        },
    }
}

/// Adds one module, as Rego v1 or, when only that parses, v0; on failure reports whichever attempt
/// got further into the file.
fn add_module(engine: &mut Engine, module: &ModuleSource) -> Result<String, PolicyError> {
    engine.set_rego_v0(false);
    let v1 = match engine.add_policy(module.origin.clone(), module.source.clone()) {
        Ok(package) => return Ok(package),
        Err(error) => error,
    };
    engine.set_rego_v0(true);
    let v0 = engine.add_policy(module.origin.clone(), module.source.clone());
    engine.set_rego_v0(false);
    let v0 = match v0 {
        Ok(package) => return Ok(package),
        Err(error) => error,
    };
    let reach = |error: &anyhow::Error| locate(error).map(|at| (at.line, at.column));
    let error = if reach(&v0) > reach(&v1) { v0 } else { v1 };
    Err(compile_error(&error, &module.origin))
}

/// A compile diagnostic at its location, or at `origin` when it has none.
fn compile_error(error: &anyhow::Error, origin: &str) -> PolicyError {
    match locate(error) {
        Some(at) => PolicyError::Compile {
            file: at.file,
            line: at.line,
            column: at.column,
            message: at.message,
        },
        None => PolicyError::Load {
            file: origin.to_string(),
            message: one_line(error),
        },
    }
}

/// The name regorus gives an ad-hoc query's source.
const QUERY_SOURCE: &str = "<query.rego>";

/// Deepest nesting of `[` an ad-hoc query may have: the Rego parser's time doubles with each level
/// (14 levels take seconds), and queries come from callers.
const MAX_QUERY_BRACKET_DEPTH: usize = 8;

/// Refuses a query whose `[` brackets (outside strings and comments) nest deeper than
/// [`MAX_QUERY_BRACKET_DEPTH`], naming the line and column of the first one too deep.
fn check_nesting(query: &str) -> Result<(), PolicyError> {
    let (mut line, mut column, mut depth) = (1usize, 0usize, 0usize);
    // The delimiter of the string being read (`"` or a backquote), and whether a `\` escapes the next.
    let (mut string, mut escaped, mut comment) = (None, false, false);
    for c in query.chars() {
        if c == '\n' {
            (line, column, comment) = (line + 1, 0, false);
            continue;
        }
        column += 1;
        if comment {
            continue;
        }
        if let Some(delimiter) = string {
            if escaped {
                escaped = false;
            } else if c == '\\' && delimiter == '"' {
                escaped = true;
            } else if c == delimiter {
                string = None;
            }
            continue;
        }
        match c {
            '"' | '`' => string = Some(c),
            '#' => comment = true,
            '[' => {
                depth += 1;
                if depth > MAX_QUERY_BRACKET_DEPTH {
                    return Err(PolicyError::Query {
                        message: format!(
                            "{line}:{column}: brackets nest deeper than {MAX_QUERY_BRACKET_DEPTH} levels"
                        ),
                    });
                }
            }
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Decision names are plain Rego identifiers.
fn check_name(path: &str, decision: &str) -> Result<(), PolicyError> {
    let mut chars = decision.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(PolicyError::InvalidPath {
            path: format!("{path}.{decision}"),
            reason: "a decision must be a Rego identifier".to_string(),
        })
    }
}

/// `data.<path>.<decision>`: `None` when no module declares that rule.
fn eval_decision(
    engine: &mut Engine,
    path: &str,
    decision: &str,
) -> Result<Option<Value>, PolicyError> {
    match engine.eval_rule(format!("data.{path}.{decision}")) {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.to_string() == NOT_A_RULE => Ok(None),
        Err(error) => Err(eval_error(&format!("{path}.{decision}"), &error)),
    }
}

/// Each decision of the package at `path` as a boolean; undefined is `false`.
fn decide(
    engine: &mut Engine,
    path: &str,
    decisions: &[String],
) -> Result<Vec<(String, bool)>, PolicyError> {
    let mut out = Vec::with_capacity(decisions.len());
    for decision in decisions {
        let value = eval_decision(engine, path, decision)?;
        let allowed = match value {
            None | Some(Value::Undefined) => false,
            Some(Value::Bool(allowed)) => allowed,
            Some(other) => {
                return Err(PolicyError::NonBoolean {
                    path: path.to_string(),
                    decision: decision.clone(),
                    found: describe(&other),
                })
            }
        };
        out.push((decision.clone(), allowed));
    }
    Ok(out)
}

/// The names of the rules a module declares with a value (not its functions), in source order.
/// Rules are read from lines that start with their name, as `opa fmt` writes them.
fn declared_rules(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let line = line.strip_prefix("default ").map_or(line, str::trim_start);
            if !line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return None;
            }
            let end = line
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(line.len());
            let (name, rest) = line.split_at(end);
            let keyword = matches!(name, "package" | "import");
            (!keyword && !rest.trim_start().starts_with('(')).then(|| name.to_string())
        })
        .collect()
}

/// The whole `data.<package>` document.
fn eval_package(engine: &mut Engine, package: &str) -> Result<Value, PolicyError> {
    let results = engine
        .eval_query(format!("data.{package}"), false)
        .map_err(|error| eval_error(package, &error))?;
    Ok(results
        .result
        .into_iter()
        .next()
        .and_then(|result| result.expressions.into_iter().next())
        .map_or(Value::Undefined, |expression| expression.value))
}

/// A Rego value as JSON (sets become arrays).
pub(crate) fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// A value's kind and a short rendering, for messages.
fn describe(value: &Value) -> String {
    let mut text = to_json(value).to_string();
    if text.len() > 60 {
        let cut = (0..=60)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{} `{text}`", builtins::kind(value))
}

/// Known parts of a partial evaluation, evaluated by the engine with the request's input.
struct KnownRules<'a> {
    set: &'a PolicySet,
    ctx: &'a EvalContext,
}

impl KnownEval for KnownRules<'_> {
    fn rule(&self, path: &str) -> Result<Option<serde_json::Value>, PolicyError> {
        self.set.first_value(self.ctx, path)
    }

    fn expression(&self, text: &str) -> Result<Option<serde_json::Value>, PolicyError> {
        self.set.first_value(self.ctx, text)
    }
}
