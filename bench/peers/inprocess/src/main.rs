//! In-process side-by-side benchmarks, one thread, no network:
//!
//! - `rebac`: workload (b), the single checks of `rebac/check.jsonl`, answered by Cedar (`cedar-policy`,
//!   `Authorizer::is_authorized` over the entities gen.py writes and `policies/rebac.cedar`) and by
//!   Lictor's directory (`lictor_directory::Directory::check` over `manifest.yaml` + `data.jsonl`).
//! - `rbac`: workload (a), the `is` requests of `rbac/lictor_is.jsonl`, answered by regorus alone (an
//!   `Engine` with the same Rego modules: `set_input` + `eval_rule`) and by Lictor's `PolicySet::is`.
//!
//! Each target answers every request once (its decisions go to `OUT/<target>.decisions`, one `true`,
//! `false` or `error` a line, for run.py's agreement count), then is timed call by call with `Instant` for
//! `--seconds` after `--warmup`, in `--rounds` rounds with the two targets of a pair alternating (order
//! flipped every round). Prints one JSON line per target: calls/s (median over rounds), p50 and p99 over
//! every timed call, how many of its answers were errors, and how many of its decisions differ from the
//! other target's in this process (an error differs from every decision).
//!
//!     peers-inprocess --data DIR --policies DIR --cedar FILE --out DIR [--seconds 3] [--warmup 1]
//!                     [--rounds 1] [--only rebac|rbac]

use anyhow::{bail, Context as _, Result};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicySet as CedarPolicies, Request,
};
use lictor_directory::{CheckRequest, Directory, Schema};
use lictor_model::{parse_manifest, ObjectRecord, RelationRecord};
use lictor_policy::{EvalContext, PolicySet};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    data: PathBuf,
    policies: PathBuf,
    cedar: PathBuf,
    out: PathBuf,
    seconds: f64,
    warmup: f64,
    rounds: usize,
    only: Option<String>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        data: PathBuf::new(),
        policies: PathBuf::new(),
        cedar: PathBuf::new(),
        out: PathBuf::new(),
        seconds: 3.0,
        warmup: 1.0,
        rounds: 1,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => a.data = value.into(),
            "--policies" => a.policies = value.into(),
            "--cedar" => a.cedar = value.into(),
            "--out" => a.out = value.into(),
            "--seconds" => a.seconds = value.parse()?,
            "--warmup" => a.warmup = value.parse()?,
            "--rounds" => a.rounds = value.parse()?,
            "--only" => a.only = Some(value),
            _ => bail!("unknown flag {flag}"),
        }
    }
    if a.data.as_os_str().is_empty() || a.out.as_os_str().is_empty() {
        bail!("usage: peers-inprocess --data DIR --policies DIR --cedar FILE --out DIR [--seconds S] [--warmup S] [--rounds N] [--only rebac|rbac]");
    }
    Ok(a)
}

/// The timed calls of one target over all rounds.
#[derive(Default)]
struct Timings {
    /// Nanoseconds per call, every timed call of every round.
    samples: Vec<u64>,
    /// Calls per second of each round.
    rates: Vec<f64>,
}

/// Answers requests `0..n` in turn (wrapping) for `warmup`, then for `seconds` timing each call.
fn run(
    n: usize,
    warmup: f64,
    seconds: f64,
    timings: &mut Timings,
    mut call: impl FnMut(usize) -> bool,
) {
    let mut i = 0;
    let until = Instant::now() + Duration::from_secs_f64(warmup);
    while Instant::now() < until {
        for _ in 0..64 {
            std::hint::black_box(call(i % n));
            i += 1;
        }
    }
    let start = Instant::now();
    let window = Duration::from_secs_f64(seconds);
    let mut calls = 0u64;
    loop {
        for _ in 0..64 {
            let t = Instant::now();
            std::hint::black_box(call(i % n));
            timings.samples.push(t.elapsed().as_nanos() as u64);
            i += 1;
        }
        calls += 64;
        if start.elapsed() >= window {
            break;
        }
    }
    timings
        .rates
        .push(calls as f64 / start.elapsed().as_secs_f64());
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[k.min(sorted.len() - 1)] as f64 / 1000.0
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn report(bench: &str, target: &str, version: &str, mut t: Timings, extra: Value) {
    t.samples.sort_unstable();
    let mut line = json!({
        "bench": bench,
        "target": target,
        "version": version,
        "decisions_per_s": median(&t.rates),
        "p50_us": percentile(&t.samples, 0.50),
        "p99_us": percentile(&t.samples, 0.99),
        "mean_us": t.samples.iter().sum::<u64>() as f64 / t.samples.len().max(1) as f64 / 1000.0,
        "timed_calls": t.samples.len(),
    });
    if let (Value::Object(line), Value::Object(extra)) = (&mut line, extra) {
        line.extend(extra);
    }
    println!("{line}");
}

/// Runs two targets alternately, `rounds` rounds, order flipped every round.
fn alternate(
    a: &Args,
    n: usize,
    mut first: impl FnMut(usize) -> bool,
    mut second: impl FnMut(usize) -> bool,
) -> (Timings, Timings) {
    let (mut t1, mut t2) = (Timings::default(), Timings::default());
    for round in 0..a.rounds {
        if round % 2 == 0 {
            run(n, a.warmup, a.seconds, &mut t1, &mut first);
            run(n, a.warmup, a.seconds, &mut t2, &mut second);
        } else {
            run(n, a.warmup, a.seconds, &mut t2, &mut second);
            run(n, a.warmup, a.seconds, &mut t1, &mut first);
        }
    }
    (t1, t2)
}

/// One answer per request: `None` when the target answered with an error rather than a decision.
type Answers = Vec<Option<bool>>;

fn write_decisions(out: &Path, name: &str, decisions: &[Option<bool>]) -> Result<()> {
    let text: String = decisions
        .iter()
        .map(|d| match d {
            Some(true) => "true\n",
            Some(false) => "false\n",
            None => "error\n",
        })
        .collect();
    std::fs::write(out.join(format!("{name}.decisions")), text)?;
    Ok(())
}

/// How many requests the two targets did not answer with the same decision (an error never agrees).
fn differing(a: &[Option<bool>], b: &[Option<bool>]) -> usize {
    let unmatched = a.len().abs_diff(b.len());
    unmatched
        + a.iter()
            .zip(b)
            .filter(|(x, y)| x.is_none() || x != y)
            .count()
}

fn errors(answers: &[Option<bool>]) -> usize {
    answers.iter().filter(|a| a.is_none()).count()
}

fn read_lines(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(Into::into))
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("missing {key} in {v}"))
}

// ---------------------------------------------------------------- (b) ReBAC: Cedar vs Lictor's directory

fn cedar_type(t: &str) -> String {
    let mut c = t.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn uid(t: &str, id: &str) -> Result<EntityUid> {
    Ok(EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(t)?,
        EntityId::new(id),
    ))
}

fn lictor_directory(rebac: &Path) -> Result<Directory> {
    let text = std::fs::read_to_string(rebac.join("manifest.yaml"))?;
    let manifest = parse_manifest(&text, "manifest.yaml").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut directory = Directory::new();
    let schema = Schema::compile(manifest, text, directory.schema().symbols());
    directory.replace_schema(Arc::new(schema));
    let data = std::fs::read_to_string(rebac.join("data.jsonl"))?;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let mut v: Value = serde_json::from_str(line)?;
        if let Some(object) = v.get_mut("object") {
            let record: ObjectRecord = serde_json::from_value(object.take())?;
            directory
                .set_object(&record)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        } else if let Some(relation) = v.get_mut("relation") {
            let record: RelationRecord = serde_json::from_value(relation.take())?;
            directory
                .set_relation(&record)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(directory)
}

fn rebac(a: &Args) -> Result<()> {
    let dir = a.data.join("rebac");
    let t = Instant::now();
    let policies = CedarPolicies::from_str(&std::fs::read_to_string(&a.cedar)?)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", a.cedar.display()))?;
    let file = std::fs::File::open(dir.join("cedar_entities.json"))
        .context("cedar_entities.json (regenerate the data with gen.py)")?;
    let entities = Entities::from_json_file(std::io::BufReader::new(file), None)?;
    let cedar_load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let directory = lictor_directory(&dir)?;
    let lictor_load_s = t.elapsed().as_secs_f64();

    let bodies = read_lines(&dir.join("check.jsonl"))?;
    let mut cedar_requests = Vec::with_capacity(bodies.len());
    let mut checks = Vec::with_capacity(bodies.len());
    for b in &bodies {
        let (ot, oi, rel) = (
            str_of(b, "object_type")?,
            str_of(b, "object_id")?,
            str_of(b, "relation")?,
        );
        let (st, si) = (str_of(b, "subject_type")?, str_of(b, "subject_id")?);
        cedar_requests.push(Request::new(
            uid(&cedar_type(st), si)?,
            uid("Action", rel)?,
            uid(&cedar_type(ot), oi)?,
            Context::empty(),
            None,
        )?);
        checks.push((
            ot.to_string(),
            oi.to_string(),
            rel.to_string(),
            st.to_string(),
            si.to_string(),
        ));
    }
    let authorizer = Authorizer::new();
    // A policy that fails to evaluate is skipped by Cedar, which may then deny: an error, not a decision.
    let cedar_decisions: Answers = cedar_requests
        .iter()
        .map(|r| {
            let response = authorizer.is_authorized(r, &policies, &entities);
            (response.diagnostics().errors().count() == 0)
                .then(|| response.decision() == Decision::Allow)
        })
        .collect();
    let lictor_answer = |i: usize| -> Option<bool> {
        let (ot, oi, rel, st, si) = &checks[i];
        directory
            .check(&CheckRequest {
                object_type: ot,
                object_id: oi,
                relation: rel,
                subject_type: st,
                subject_id: si,
                subject_relation: "",
            })
            .ok()
    };
    let lictor_check = |i: usize| lictor_answer(i) == Some(true);
    let lictor_decisions: Answers = (0..checks.len()).map(lictor_answer).collect();
    write_decisions(&a.out, "cedar", &cedar_decisions)?;
    write_decisions(&a.out, "lictor-rebac", &lictor_decisions)?;
    let differ = differing(&cedar_decisions, &lictor_decisions);
    let allowed = cedar_decisions.iter().filter(|d| **d == Some(true)).count();

    let (tc, tl) = alternate(
        a,
        cedar_requests.len(),
        |i| {
            authorizer
                .is_authorized(&cedar_requests[i], &policies, &entities)
                .decision()
                == Decision::Allow
        },
        lictor_check,
    );
    let common = json!({"requests": bodies.len(), "allowed": allowed, "differ_in_process": differ});
    let mut extra = common.clone();
    extra["load_s"] = json!(cedar_load_s);
    extra["errors"] = json!(errors(&cedar_decisions));
    report(
        "rebac",
        "Cedar",
        &cedar_policy::get_sdk_version().to_string(),
        tc,
        extra,
    );
    let mut extra = common;
    extra["load_s"] = json!(lictor_load_s);
    extra["errors"] = json!(errors(&lictor_decisions));
    report("rebac", "Lictor", "directory check", tl, extra);
    Ok(())
}

// ---------------------------------------------------------------- (a) RBAC: regorus raw vs Lictor's `is`

fn rego_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rego_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rego") {
            out.push(p);
        }
    }
    Ok(())
}

fn rbac(a: &Args) -> Result<()> {
    let bodies = read_lines(&a.data.join("rbac").join("lictor_is.jsonl"))?;
    // The `input` the server builds for Is with IDENTITY_TYPE_MANUAL (no user is resolved).
    let mut inputs = Vec::with_capacity(bodies.len());
    let mut paths = Vec::with_capacity(bodies.len());
    for b in &bodies {
        let path = str_of(&b["policy_context"], "path")?.to_string();
        inputs.push(json!({
            "identity": {"type": str_of(&b["identity_context"], "type")?,
                         "identity": str_of(&b["identity_context"], "identity")?},
            "user": {},
            "policy": {"path": path, "decisions": ["allowed"]},
            "resource": b["resource_context"],
        }));
        paths.push(path);
    }

    // regorus alone: the same modules in one Engine; per request `set_input` (from the same parsed JSON
    // document Lictor starts from) and `eval_rule` of `data.<path>.allowed`.
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    let mut files = Vec::new();
    rego_files(&a.policies, &mut files)?;
    for f in &files {
        engine.add_policy(f.display().to_string(), std::fs::read_to_string(f)?)?;
    }
    let rules: Vec<String> = paths.iter().map(|p| format!("data.{p}.allowed")).collect();
    // Anything but a boolean (an error, an undefined rule) is an error answer.
    let mut raw_answer = |i: usize| -> Option<bool> {
        let input = regorus::Value::deserialize(&inputs[i]).ok()?;
        engine.set_input(input);
        match engine.eval_rule(rules[i].clone()) {
            Ok(regorus::Value::Bool(b)) => Some(b),
            _ => None,
        }
    };

    // Lictor: PolicySet::load_dir and `is`, as the server calls it (minus HTTP, identity, decision log).
    let set = PolicySet::load_dir(&a.policies).map_err(|e| anyhow::anyhow!("{e}"))?;
    let directory = Arc::new(Directory::new());
    let contexts: Vec<EvalContext> = inputs
        .iter()
        .map(|i| EvalContext::new(Arc::clone(&directory), i.clone()))
        .collect();
    let decisions = vec!["allowed".to_string()];
    let is_answer = |i: usize| -> Option<bool> {
        let answer = set.is(&contexts[i], &paths[i], &decisions).ok()?;
        answer.first().map(|(_, d)| *d)
    };
    let raw_decisions: Answers = (0..inputs.len()).map(&mut raw_answer).collect();
    let is_decisions: Answers = (0..inputs.len()).map(is_answer).collect();
    write_decisions(&a.out, "regorus", &raw_decisions)?;
    write_decisions(&a.out, "lictor-is", &is_decisions)?;
    let differ = differing(&raw_decisions, &is_decisions);
    let allowed = raw_decisions.iter().filter(|d| **d == Some(true)).count();

    let (tr, tl) = alternate(
        a,
        inputs.len(),
        |i| raw_answer(i) == Some(true),
        |i| is_answer(i) == Some(true),
    );
    let common = json!({"requests": bodies.len(), "allowed": allowed, "differ_in_process": differ});
    let mut extra = common.clone();
    extra["errors"] = json!(errors(&raw_decisions));
    report("rbac", "regorus", "0.14.1", tr, extra);
    let mut extra = common;
    extra["errors"] = json!(errors(&is_decisions));
    report("rbac", "Lictor", "PolicySet::is", tl, extra);
    Ok(())
}

fn main() -> Result<()> {
    let a = args()?;
    std::fs::create_dir_all(&a.out)?;
    if a.only.as_deref() != Some("rebac") {
        rbac(&a)?;
    }
    if a.only.as_deref() != Some("rbac") {
        rebac(&a)?;
    }
    Ok(())
}
