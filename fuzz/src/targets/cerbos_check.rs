//! Cerbos CheckResources and PlanResources on a fixed policy set (`fuzz/cerbos/`, whose conditions use
//! the CEL extension functions: hierarchy, network, SPIFFE, paths, sets, regex, strings, math, encoders,
//! two-variable comprehensions, `cel.bind`, outputs, derived roles, scopes, principal policies and
//! Lictor's directory check). The first byte picks the call, the rest is the request's JSON body.
//! Answers must keep the request's shape: one result per resource, in order, with exactly the actions
//! asked; a plan names the kind and version asked.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use lictor_cerbos::api::{CheckResourcesRequest, PlanResourcesRequest};
use lictor_cerbos::cel::{Deadline, RelationCheck};
use lictor_cerbos::{compile, CheckOptions, EngineConfig, PolicyFile, PolicyStore};

const POLICIES: [(&str, &str); 5] = [
    ("document.yaml", include_str!("../../cerbos/document.yaml")),
    (
        "document_roles.yaml",
        include_str!("../../cerbos/document_roles.yaml"),
    ),
    (
        "principal.yaml",
        include_str!("../../cerbos/principal.yaml"),
    ),
    ("scoped.yaml", include_str!("../../cerbos/scoped.yaml")),
    (
        "scoped_parent.yaml",
        include_str!("../../cerbos/scoped_parent.yaml"),
    ),
];

/// A directory where a subject can read a document when both ids have the same length.
struct SameLength;

impl RelationCheck for SameLength {
    fn check(&self, subject: &str, _relation: &str, object: &str) -> bool {
        subject.len() == object.len()
    }
}

fn store() -> &'static (PolicyStore, EngineConfig) {
    static STORE: OnceLock<(PolicyStore, EngineConfig)> = OnceLock::new();
    STORE.get_or_init(|| {
        let files: Vec<PolicyFile> = POLICIES
            .iter()
            .map(|(path, text)| PolicyFile {
                path: (*path).to_owned(),
                text: (*text).to_owned(),
            })
            .collect();
        let store = compile(&files).unwrap_or_else(|e| panic!("fixed policies: {e}"));
        let mut config = EngineConfig {
            lenient_scope_search: true,
            ..EngineConfig::default()
        };
        config
            .globals
            .insert("limit".into(), serde_json::json!(1000));
        (store, config)
    })
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (store, config) = store();
    let relations = SameLength;
    let aux = serde_json::json!({"jwt": {"sub": "alice", "aud": ["fuzz"]}});
    // The server's default time bound, so that a slow condition is cut as it would be when served.
    let deadline = Deadline::after(Duration::from_secs(2));
    let options = CheckOptions {
        deadline: Some(&deadline),
        relations: (selector & 2 != 0).then_some(&relations as &dyn RelationCheck),
        aux_data: (selector & 4 != 0).then_some(&aux),
        ..CheckOptions::now()
    };
    if selector & 1 == 0 {
        let Ok(request) = serde_json::from_slice::<CheckResourcesRequest>(body) else {
            return;
        };
        let response = store.check_resources(config, &request, options);
        assert_eq!(response.request_id, request.request_id);
        assert_eq!(response.results.len(), request.resources.len());
        for (result, entry) in response.results.iter().zip(&request.resources) {
            assert_eq!(result.resource.id, entry.resource.id);
            assert_eq!(result.resource.kind, entry.resource.kind);
            let asked: BTreeSet<&String> = entry.actions.iter().collect();
            let answered: BTreeSet<&String> = result.actions.keys().collect();
            assert_eq!(asked, answered, "actions of {}", entry.resource.id);
        }
        if selector & 8 != 0 {
            let explained = store.explain_resources(config, &request, options);
            let explained = serde_json::to_value(&explained).unwrap_or_else(|e| panic!("{e}"));
            assert!(explained.is_object(), "explain answered {explained}");
        }
    } else {
        let Ok(request) = serde_json::from_slice::<PlanResourcesRequest>(body) else {
            return;
        };
        let response = store.plan_resources(config, &request, options);
        assert_eq!(response.request_id, request.request_id);
        assert_eq!(response.resource_kind, request.resource.kind);
        let filter = response
            .filter
            .as_ref()
            .unwrap_or_else(|| panic!("a plan without a filter"));
        let _ = lictor_cerbos::filter_debug(filter);
    }
}
