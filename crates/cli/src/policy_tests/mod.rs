//! `lictor test`: every kind of policy test a repository keeps, run with one command: Rego unit
//! tests (`test_` rules, as `opa test` runs them, with `ds.*` over a given directory), Topaz's
//! assertion, decision and evaluation files (as `topaz test exec` runs them), and Cerbos test suites
//! (as `cerbos compile` runs them). Prints a summary, writes JUnit XML, exits non-zero on failure.

mod report;
mod topaz;

use anyhow::{bail, Result};
use lictor_policy::{EvalContext, RegoTestResult};
use report::{Case, Outcome, Suite, Totals};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use topaz::{Fixture, FixtureSpec, Remote, Target};

/// What `lictor test` was asked to run.
#[derive(clap::Args)]
pub struct Options {
    /// Files and folders to search [default: .].
    pub paths: Vec<PathBuf>,
    /// Rego policies (a folder or an OPA bundle) for decisions and unit tests, instead of the
    /// `.rego` files found under each path.
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// The manifest, instead of the `manifest.yaml` nearest each test file.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Objects and relations (a file, or a folder of `*objects.json`, `*relations.json`,
    /// `*.jsonl`) loaded before those beside the manifest; repeatable.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// A Cerbos policy store, instead of the one found under each path.
    #[arg(long)]
    pub cerbos: Option<PathBuf>,
    /// Send Topaz's test files to a running Lictor's REST port (`http://127.0.0.1:8383`) instead of
    /// one in process; Rego and Cerbos tests still run in process.
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// The API key for --address.
    #[arg(long, env = "LICTOR_API_KEY", requires = "address")]
    pub api_key: Option<String>,
    /// The tenant for --address (`aserto-tenant-id`).
    #[arg(long, requires = "address")]
    pub tenant: Option<String>,
    /// Write the results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print every test, not only those that failed.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The work for one fixture: Topaz files to run against it and whether to run its policies' unit
/// tests.
#[derive(Default)]
struct Work {
    topaz_files: Vec<(PathBuf, String)>,
    rego: bool,
}

/// Finds and runs every test; exit code 0 when at least one ran and none failed, 1 otherwise.
pub fn run(options: &Options, out: &mut impl Write) -> Result<ExitCode> {
    let started = Instant::now();
    let extra_data = data_files_of(&options.data)?;
    let mut work: BTreeMap<FixtureSpec, Work> = BTreeMap::new();
    let mut cerbos_stores = Vec::new();
    let default_paths = [PathBuf::from(".")];
    let paths = if options.paths.is_empty() {
        &default_paths[..]
    } else {
        &options.paths[..]
    };
    for root in paths {
        if !root.exists() {
            bail!("{}: no such file or folder", root.display());
        }
        let found = Found::under(root)?;
        let policies = options
            .policies
            .clone()
            .or_else(|| found.has_rego.then(|| root.clone()));
        if let Some(policies) = &policies {
            // Unit tests run against the manifest nearest the policies: in their folder or above.
            let folder = if policies.is_file() {
                policies.parent().unwrap_or(policies)
            } else {
                policies
            };
            let spec = FixtureSpec {
                manifest: options
                    .manifest
                    .clone()
                    .or_else(|| manifest_in(folder, folder.parent().unwrap_or(folder))),
                data: Vec::new(),
                policies: Some(policies.clone()),
            };
            work.entry(with_data(spec, &extra_data)?).or_default().rego = true;
        }
        for file in found.topaz_files {
            let start = file.parent().unwrap_or(root);
            let spec = FixtureSpec {
                manifest: options
                    .manifest
                    .clone()
                    .or_else(|| manifest_in(start, root)),
                data: Vec::new(),
                policies: policies.clone(),
            };
            let label = file.display().to_string();
            work.entry(with_data(spec, &extra_data)?)
                .or_default()
                .topaz_files
                .push((file, label));
        }
        if options.cerbos.is_none() {
            cerbos_stores.extend(found.cerbos_store);
        }
    }
    cerbos_stores.extend(options.cerbos.clone());
    cerbos_stores.sort();
    cerbos_stores.dedup();

    let mut suites = Vec::new();
    let remote = match &options.address {
        Some(address) => Some(Remote::new(
            address,
            options.api_key.clone(),
            options.tenant.clone(),
        )?),
        None => None,
    };
    for (spec, work) in &work {
        suites.extend(run_fixture(spec, work, remote.as_ref()));
    }
    for store in &cerbos_stores {
        suites.push(run_cerbos(store));
    }
    report::print(&suites, options.verbose, out)?;
    let totals = Totals::of(suites.iter().flat_map(|s| &s.cases));
    writeln!(
        out,
        "{} passed, {} failed, {} errors, {} skipped in {:.2}s",
        totals.passed,
        totals.failed,
        totals.errors,
        totals.skipped,
        started.elapsed().as_secs_f64()
    )?;
    if let Some(path) = &options.junit {
        std::fs::write(path, report::junit(&suites))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if totals.total() == totals.skipped {
        let searched: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        writeln!(out, "no test ran under {}", searched.join(", "))?;
        return Ok(ExitCode::from(1));
    }
    Ok(if totals.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Opens one fixture and runs its work (Topaz's files against `remote` when given); a fixture that
/// does not open is one erred test naming why.
fn run_fixture(spec: &FixtureSpec, work: &Work, remote: Option<&Remote>) -> Vec<Suite> {
    let mut suites = Vec::new();
    // A remote target needs no fixture unless unit tests run here too.
    let fixture = if work.rego || remote.is_none() {
        let started = Instant::now();
        match Fixture::open(spec) {
            Ok(fixture) => Some(fixture),
            Err(error) => {
                let origin = spec
                    .manifest
                    .as_ref()
                    .or(spec.policies.as_ref())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                suites.push(Suite {
                    name: format!("load {origin}"),
                    cases: vec![Case {
                        name: "load the manifest, data and policies".to_string(),
                        location: origin,
                        outcome: Outcome::Error(format!("{error:#}")),
                        time: started.elapsed(),
                    }],
                });
                None
            }
        }
    } else {
        None
    };
    if let (true, Some(fixture)) = (work.rego, &fixture) {
        suites.extend(run_rego(fixture, spec));
    }
    let target = match (remote, &fixture) {
        (Some(remote), _) => Target::Remote(remote),
        (None, Some(fixture)) => Target::InProcess(fixture),
        (None, None) => return suites,
    };
    for (file, label) in &work.topaz_files {
        suites.push(
            topaz::run_file(&target, file, label).unwrap_or_else(|error| Suite {
                name: format!("topaz {label}"),
                cases: vec![Case {
                    name: "read the test file".to_string(),
                    location: label.clone(),
                    outcome: Outcome::Error(format!("{error:#}")),
                    time: Duration::ZERO,
                }],
            }),
        );
    }
    if let Some(fixture) = fixture {
        fixture.close();
    }
    suites
}

/// The unit tests of the fixture's policies, with its directory behind `ds.*` and no input.
fn run_rego(fixture: &Fixture, spec: &FixtureSpec) -> Option<Suite> {
    let policies = fixture.policies()?;
    let origin = spec
        .policies
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let cases = match policies.rego_tests() {
        Err(error) => vec![Case {
            name: "list the tests".to_string(),
            location: origin.clone(),
            outcome: Outcome::Error(error.to_string()),
            time: Duration::ZERO,
        }],
        Ok(tests) => {
            let ctx = EvalContext::new(fixture.directory(), serde_json::Value::Null);
            tests
                .iter()
                .map(|test| {
                    let started = Instant::now();
                    let (result, prints) = policies.run_rego_test(&ctx, test);
                    // What the test printed goes with its failure, as `opa test` shows it.
                    let with_prints = |why: String| {
                        prints.iter().fold(why, |text, line| {
                            format!("{text}\n            print: {line}")
                        })
                    };
                    let outcome = match result {
                        RegoTestResult::Passed => Outcome::Passed,
                        RegoTestResult::Failed(why) => Outcome::Failed(with_prints(why)),
                        RegoTestResult::Error(why) => Outcome::Error(with_prints(why)),
                        RegoTestResult::Skipped => Outcome::Skipped,
                    };
                    Case {
                        name: format!("data.{}.{}", test.package, test.name),
                        location: format!("{}:{}", test.file, test.line),
                        outcome,
                        time: started.elapsed(),
                    }
                })
                .collect()
        }
    };
    (!cases.is_empty()).then(|| Suite {
        name: format!("rego {origin}"),
        cases,
    })
}

/// Compiles a Cerbos store and runs its test suites: one test per (test, principal, resource), and
/// one erred test per policy that does not compile.
fn run_cerbos(store: &Path) -> Suite {
    let started = Instant::now();
    let name = format!("cerbos {}", store.display());
    let files = match lictor_cerbos::read_store(store) {
        Ok(files) => files,
        Err(error) => {
            return Suite {
                name,
                cases: vec![Case {
                    name: "read the policy store".to_string(),
                    location: store.display().to_string(),
                    outcome: Outcome::Error(error.to_string()),
                    time: started.elapsed(),
                }],
            }
        }
    };
    let report = lictor_cerbos::run_test_suites(&files, &lictor_cerbos::EngineConfig::default());
    let mut cases: Vec<Case> = report
        .errors
        .iter()
        .map(|error| Case {
            name: "compile".to_string(),
            location: store.join(&error.file).display().to_string(),
            outcome: Outcome::Error(crate::cerbos_compile::located(store, error)),
            time: Duration::ZERO,
        })
        .collect();
    let each = if report.outcomes.is_empty() {
        Duration::ZERO
    } else {
        started.elapsed() / u32::try_from(report.outcomes.len()).unwrap_or(u32::MAX)
    };
    cases.extend(report.outcomes.iter().map(|o| Case {
        name: format!(
            "{} / {} / {} on {}",
            o.suite, o.test, o.principal, o.resource
        ),
        location: store.join(&o.file).display().to_string(),
        outcome: if o.skipped {
            Outcome::Skipped
        } else if o.failures.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(o.failures.join("; "))
        },
        time: each,
    }));
    Suite { name, cases }
}

/// What a search under one path found.
#[derive(Default)]
struct Found {
    topaz_files: Vec<PathBuf>,
    has_rego: bool,
    /// The deepest folder holding every Cerbos policy and test suite found.
    cerbos_store: Option<PathBuf>,
}

impl Found {
    /// Searches a file or a folder (recursively; hidden folders, `node_modules` and `target`
    /// skipped). A file named on the command line is taken as a Topaz test file.
    fn under(root: &Path) -> Result<Found> {
        let mut found = Found::default();
        if root.is_file() {
            found.topaz_files.push(root.to_path_buf());
            return Ok(found);
        }
        let mut cerbos_dirs: Vec<PathBuf> = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
                    .path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if path.is_dir() {
                    if !(name.starts_with('.') || name == "node_modules" || name == "target") {
                        pending.push(path);
                    }
                } else if topaz::is_test_file(&name) {
                    found.topaz_files.push(path);
                } else if name.ends_with(".rego") {
                    found.has_rego = true;
                } else if is_cerbos_file(&path, &name) {
                    cerbos_dirs.push(dir.clone());
                }
            }
        }
        found.topaz_files.sort();
        found.cerbos_store = common_ancestor(&cerbos_dirs);
        Ok(found)
    }
}

/// A Cerbos policy (its `apiVersion` is Cerbos's) or test suite (`*_test.yaml`).
fn is_cerbos_file(path: &Path, name: &str) -> bool {
    let Some(stem) = [".yaml", ".yml", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
    else {
        return false;
    };
    stem.ends_with("_test")
        || std::fs::read_to_string(path).is_ok_and(|text| text.contains("api.cerbos.dev/"))
}

fn common_ancestor(dirs: &[PathBuf]) -> Option<PathBuf> {
    let (first, rest) = dirs.split_first()?;
    let mut common = first.clone();
    for dir in rest {
        while !dir.starts_with(&common) {
            if !common.pop() {
                return None;
            }
        }
    }
    Some(common)
}

/// The `manifest.yaml` (or `.yml`) in `start` or the nearest folder above it, not above `root`.
fn manifest_in(start: &Path, root: &Path) -> Option<PathBuf> {
    let mut dir = start.to_path_buf();
    loop {
        for name in ["manifest.yaml", "manifest.yml"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        if dir == root || !dir.pop() || !dir.starts_with(root) {
            return None;
        }
    }
}

/// The spec with its data: the extra data first, then the objects and relations beside its
/// manifest (and in a `data` folder there).
fn with_data(mut spec: FixtureSpec, extra: &[PathBuf]) -> Result<FixtureSpec> {
    let mut data = extra.to_vec();
    if let Some(folder) = spec.manifest.as_ref().and_then(|m| m.parent()) {
        let beside = [folder.to_path_buf(), folder.join("data")];
        let existing: Vec<PathBuf> = beside.into_iter().filter(|d| d.is_dir()).collect();
        for file in data_files_of(&existing)? {
            if !data.contains(&file) {
                data.push(file);
            }
        }
    }
    spec.data = data;
    Ok(spec)
}

/// Data files named directly, and those in named folders (not recursively): `*objects.json`,
/// `*relations.json` and `*.jsonl`, objects before relations so that relations find their objects.
fn data_files_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut objects = Vec::new();
    let mut rest = Vec::new();
    for path in paths {
        if path.is_file() {
            rest.push(path.clone());
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with("objects.json") {
                objects.push(file);
            } else if name.ends_with("relations.json") || name.ends_with(".jsonl") {
                rest.push(file);
            }
        }
    }
    objects.extend(rest);
    Ok(objects)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_manifest_is_found_up_to_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("app/test")).unwrap();
        std::fs::write(dir.path().join("manifest.yaml"), "").unwrap();
        assert_eq!(manifest_in(&root.join("app/test"), &root), None);
        std::fs::write(root.join("manifest.yaml"), "").unwrap();
        assert_eq!(
            manifest_in(&root.join("app/test"), &root),
            Some(root.join("manifest.yaml"))
        );
        std::fs::write(root.join("app/manifest.yml"), "").unwrap();
        assert_eq!(
            manifest_in(&root.join("app/test"), &root),
            Some(root.join("app/manifest.yml"))
        );
    }

    #[test]
    fn the_cerbos_store_is_the_deepest_folder_holding_every_cerbos_file() {
        let dirs = [
            PathBuf::from("/r/cerbos/resource_policies"),
            PathBuf::from("/r/cerbos/tests/x"),
        ];
        assert_eq!(common_ancestor(&dirs), Some(PathBuf::from("/r/cerbos")));
        assert_eq!(common_ancestor(&[]), None);
    }

    #[test]
    fn objects_are_imported_before_relations() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b_relations.json",
            "a_relations.json",
            "z_objects.json",
            "notes.json",
            "extra.jsonl",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = data_files_of(&[dir.path().to_path_buf()])
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "z_objects.json",
                "a_relations.json",
                "b_relations.json",
                "extra.jsonl"
            ]
        );
    }
}
