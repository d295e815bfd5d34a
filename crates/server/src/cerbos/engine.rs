//! The server's one point of contact with the Cerbos policy engine (`lictor-cerbos`): compiling a
//! disk store with the configured engine settings and answering CheckResources and PlanResources.

use super::config::{CerbosSettings, SchemaEnforcement};
use lictor_cerbos::api;
use lictor_cerbos::cel::{Deadline, RelationCheck};
use std::path::Path;

/// The policies of one load, ready to evaluate, with the engine settings they run under.
pub struct CompiledPolicies {
    store: lictor_cerbos::PolicyStore,
    config: lictor_cerbos::EngineConfig,
}

impl CompiledPolicies {
    /// How many executable policies the load compiled.
    pub fn policy_count(&self) -> usize {
        self.store.policy_count()
    }

    /// Decides every action of every resource; `aux_data` holds the verified `auxData` claims
    /// (`{"jwt": {...}}`), `relations` the directory `lictor.check` asks (none: it is false).
    pub fn check(
        &self,
        request: &api::CheckResourcesRequest,
        aux_data: Option<&serde_json::Value>,
        relations: Option<&dyn RelationCheck>,
        deadline: &Deadline,
    ) -> api::CheckResourcesResponse {
        let options = options(aux_data, relations, deadline);
        self.store.check_resources(&self.config, request, options)
    }

    /// Decides every action of every resource as [`CompiledPolicies::check`] does, explaining how
    /// each decision was reached.
    pub fn explain(
        &self,
        request: &api::CheckResourcesRequest,
        aux_data: Option<&serde_json::Value>,
        relations: Option<&dyn RelationCheck>,
        deadline: &Deadline,
    ) -> lictor_cerbos::ExplainResponse {
        let options = options(aux_data, relations, deadline);
        self.store.explain_resources(&self.config, request, options)
    }

    /// The query plan of the request's actions on its resource kind: the conditions under which
    /// they are allowed.
    pub fn plan(
        &self,
        request: &api::PlanResourcesRequest,
        aux_data: Option<&serde_json::Value>,
        relations: Option<&dyn RelationCheck>,
        deadline: &Deadline,
    ) -> api::PlanResourcesResponse {
        let options = options(aux_data, relations, deadline);
        self.store.plan_resources(&self.config, request, options)
    }
}

/// The options of one request: now, its verified auxiliary data, the directory `lictor.check`
/// asks, and its time bound.
fn options<'a>(
    aux_data: Option<&'a serde_json::Value>,
    relations: Option<&'a dyn RelationCheck>,
    deadline: &'a Deadline,
) -> lictor_cerbos::CheckOptions<'a> {
    lictor_cerbos::CheckOptions {
        aux_data,
        relations,
        deadline: Some(deadline),
        ..lictor_cerbos::CheckOptions::now()
    }
}

/// Reads and compiles the policies under `directory`; the error lists every file, line and column
/// at fault.
pub fn compile(directory: &Path, settings: &CerbosSettings) -> Result<CompiledPolicies, String> {
    let files = lictor_cerbos::read_store(directory).map_err(|e| e.to_string())?;
    let store = lictor_cerbos::compile(&files).map_err(|e| e.to_string())?;
    let config = lictor_cerbos::EngineConfig {
        default_policy_version: settings.default_policy_version.clone(),
        lenient_scope_search: settings.lenient_scope_search,
        globals: settings.globals.clone(),
        schema_enforcement: match settings.schema_enforcement {
            SchemaEnforcement::None => lictor_cerbos::SchemaEnforcement::None,
            SchemaEnforcement::Warn => lictor_cerbos::SchemaEnforcement::Warn,
            SchemaEnforcement::Reject => lictor_cerbos::SchemaEnforcement::Reject,
        },
    };
    Ok(CompiledPolicies { store, config })
}
