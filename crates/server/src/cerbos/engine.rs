//! The server's one point of contact with the Cerbos policy engine: compiling a disk store and
//! answering CheckResources and PlanResources over the compiled set.
//!
//! Until the engine crate offers its compiler and evaluator, this reads the store as the disk driver
//! does (hidden files and folders, `testdata` folders, `_schemas` and `*_test` suites left out),
//! refuses files that are not YAML or JSON with their line, and answers every action DENY and every
//! plan KIND_ALWAYS_DENIED, which is what a store without policies answers.

use super::config::CerbosSettings;
use lictor_cerbos::api;
use std::path::{Path, PathBuf};

/// The policies of one load, ready to evaluate.
pub struct CompiledPolicies {
    files: usize,
}

impl CompiledPolicies {
    /// How many policy files the load read.
    pub fn file_count(&self) -> usize {
        self.files
    }

    /// Decides every action of every resource; `aux_data` holds the verified `auxData` claims
    /// (`{"jwt": {...}}`).
    pub fn check(
        &self,
        request: &api::CheckResourcesRequest,
        _aux_data: Option<&serde_json::Value>,
    ) -> api::CheckResourcesResponse {
        let results = request
            .resources
            .iter()
            .map(|entry| api::CheckResult {
                resource: api::ResultResource {
                    id: entry.resource.id.clone(),
                    kind: entry.resource.kind.clone(),
                    policy_version: entry.resource.policy_version.clone(),
                    scope: entry.resource.scope.clone(),
                },
                actions: entry
                    .actions
                    .iter()
                    .map(|action| (action.clone(), api::Effect::Deny))
                    .collect(),
                meta: request.include_meta.then(|| api::ResultMeta {
                    actions: entry
                        .actions
                        .iter()
                        .map(|action| (action.clone(), api::EffectMeta::default()))
                        .collect(),
                    effective_derived_roles: Vec::new(),
                }),
                ..Default::default()
            })
            .collect();
        api::CheckResourcesResponse {
            request_id: request.request_id.clone(),
            results,
            cerbos_call_id: String::new(),
        }
    }

    /// The query plan of the request's actions on its resource kind.
    pub fn plan(
        &self,
        request: &api::PlanResourcesRequest,
        _aux_data: Option<&serde_json::Value>,
    ) -> Result<api::PlanResourcesResponse, String> {
        Ok(api::PlanResourcesResponse {
            request_id: request.request_id.clone(),
            resource_kind: request.resource.kind.clone(),
            policy_version: request.resource.policy_version.clone(),
            filter: Some(api::PlanFilter {
                kind: api::FilterKind::AlwaysDenied,
                condition: None,
            }),
            ..Default::default()
        })
    }
}

/// Reads and compiles the policies under `directory`; the error names each file at fault.
pub fn compile(directory: &Path, _settings: &CerbosSettings) -> Result<CompiledPolicies, String> {
    let mut files = Vec::new();
    collect(directory, directory, &mut files)?;
    let mut problems = Vec::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                problems.push(format!("{}: {error}", path.display()));
                continue;
            }
        };
        if let Err(error) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
            let line = error
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            problems.push(format!("{}{line}: {error}", path.display()));
        }
    }
    if problems.is_empty() {
        Ok(CompiledPolicies { files: files.len() })
    } else {
        Err(problems.join("; "))
    }
}

/// The policy files under `dir`, as the disk driver picks them.
fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            let skipped = name == "testdata" || (name == "_schemas" && dir == root);
            if !skipped {
                collect(root, &path, out)?;
            }
            continue;
        }
        let stem = name
            .strip_suffix(".yaml")
            .or_else(|| name.strip_suffix(".yml"))
            .or_else(|| name.strip_suffix(".json"));
        if let Some(stem) = stem {
            if !stem.ends_with("_test") {
                out.push(path);
            }
        }
    }
    Ok(())
}
