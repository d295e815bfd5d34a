//! A Cerbos policy store compiled from any text: the input is split into files at lines
//! `#=== <path>` (the text before the first such line is `policy.yaml`). A store that does not compile
//! is refused with errors that each name one of the files and a line within it (line 0: the whole
//! file, without a column); a store that compiles answers a CheckResources and a PlanResources request.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use lictor_cerbos::api::{CheckResourcesRequest, PlanResourcesRequest};
use lictor_cerbos::cel::Deadline;
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile};
use serde_json::json;

fn files(text: &str) -> Vec<PolicyFile> {
    let mut files = vec![PolicyFile {
        path: "policy.yaml".to_owned(),
        text: String::new(),
    }];
    for line in text.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("#=== ") {
            files.push(PolicyFile {
                path: path.trim().to_owned(),
                text: String::new(),
            });
        } else if let Some(file) = files.last_mut() {
            file.text.push_str(line);
        }
    }
    files
}

/// Number of lines of a text, as a YAML reader counts them (`\n`, `\r\n` and a lone `\r` end a line).
fn line_count(text: &str) -> usize {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .count()
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = files(text);
    let lines: HashMap<&str, usize> = files
        .iter()
        .map(|f| (f.path.as_str(), line_count(&f.text)))
        .collect();
    // A directory holds each path once.
    if lines.len() < files.len() {
        return;
    }
    let store = match compile(&files) {
        Ok(store) => store,
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused without an error");
            for error in &errors.0 {
                let count = lines
                    .get(error.file.as_str())
                    .unwrap_or_else(|| panic!("error names an unknown file: {error}"));
                assert!(
                    error.line <= *count,
                    "{error}: past the file's {count} lines"
                );
                assert!(
                    error.line > 0 || error.column == 0,
                    "{error}: column without a line"
                );
                assert!(!error.message.is_empty(), "{error}: no message");
            }
            return;
        }
    };
    let config = EngineConfig::default();
    let request: CheckResourcesRequest = serde_json::from_value(json!({
        "requestId": "fuzz",
        "includeMeta": true,
        "principal": {"id": "alice", "roles": ["user", "admin"], "attr": {"department": "sales", "level": 2}},
        "resources": [
            {"actions": ["view", "edit", "delete"],
             "resource": {"kind": "document", "id": "d1", "attr": {"owner": "alice", "tags": ["a", "b"]}}},
            {"actions": ["approve"],
             "resource": {"kind": "leave_request", "id": "l1", "scope": "acme.hr", "attr": {"owner": "bob"}}}
        ]
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Deadline::after(Duration::from_secs(2));
    let options = CheckOptions {
        deadline: Some(&deadline),
        ..CheckOptions::now()
    };
    let response = store.check_resources(&config, &request, options);
    assert_eq!(response.results.len(), request.resources.len());
    for (result, entry) in response.results.iter().zip(&request.resources) {
        let asked: BTreeSet<&String> = entry.actions.iter().collect();
        let answered: BTreeSet<&String> = result.actions.keys().collect();
        assert_eq!(asked, answered);
    }
    let plan: PlanResourcesRequest = serde_json::from_value(json!({
        "requestId": "fuzz",
        "actions": ["view", "edit"],
        "principal": {"id": "alice", "roles": ["user"], "attr": {"department": "sales"}},
        "resource": {"kind": "document", "attr": {"owner": "alice"}}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let planned = store.plan_resources(&config, &plan, options);
    assert!(planned.filter.is_some(), "a plan without a filter");
}
