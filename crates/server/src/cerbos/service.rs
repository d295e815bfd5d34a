//! The Cerbos service layer: one transport-independent function per operation of `CerbosService`
//! (CheckResources, PlanResources, ServerInfo) over the served policies. REST and gRPC call these
//! with the decoded protobuf request and encode what they return.

use super::aux_data::AuxDataVerifier;
use super::config::CerbosSettings;
use super::mapping;
use super::relations::DirectoryRelations;
use super::store::{PolicySnapshot, PolicyStore};
use super::validate::{self, RequestLimits};
use crate::api_error::{ApiError, Code};
use crate::decision_log::{DecisionEntry, DecisionLog, Outcomes, Resource, Text};
use crate::metrics::EvaluationLimits;
use crate::tenant::Tenant;
use lictor_cerbos::api;
use lictor_cerbos::cel::Deadline;
use lictor_proto::cerbos::request::v1 as request;
use lictor_proto::cerbos::response::v1 as response;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Why the Cerbos API could not start.
#[derive(Debug, thiserror::Error)]
pub enum CerbosStartError {
    /// The policies do not load.
    #[error(transparent)]
    Policies(#[from] super::store::LoadError),
    /// A JWT key set does not load.
    #[error(transparent)]
    KeySet(#[from] super::aux_data::KeySetError),
}

/// Cerbos's API over one policy store.
pub struct CerbosApi {
    settings: Arc<CerbosSettings>,
    store: Arc<PolicyStore>,
    aux_data: AuxDataVerifier,
    decision_log: DecisionLog,
    call_ids: CallIds,
    directory: Option<Arc<Tenant>>,
    limits: EvaluationLimits,
}

impl CerbosApi {
    /// Loads the policies and key sets the settings name; decisions go to `decision_log` when
    /// `audit.enabled` is on; `lictor.check` in conditions asks `directory`'s store (none: false);
    /// requests stopped by the time bound are counted in `limits`.
    pub fn new(
        settings: CerbosSettings,
        decision_log: DecisionLog,
        directory: Option<Arc<Tenant>>,
        limits: EvaluationLimits,
    ) -> Result<CerbosApi, CerbosStartError> {
        let settings = Arc::new(settings);
        let aux_data = AuxDataVerifier::new(&settings)?;
        let store = Arc::new(PolicyStore::open(settings.clone())?);
        Ok(CerbosApi {
            settings,
            store,
            aux_data,
            decision_log,
            call_ids: CallIds::new(),
            directory,
            limits,
        })
    }

    /// The settings it serves with.
    pub fn settings(&self) -> &CerbosSettings {
        &self.settings
    }

    /// The served policies.
    pub fn store(&self) -> &Arc<PolicyStore> {
        &self.store
    }

    /// CheckResources: validates the request as Cerbos does, decides every action of every
    /// resource, and logs each resource's decisions.
    pub async fn check_resources(
        &self,
        request: &request::CheckResourcesRequest,
    ) -> Result<response::CheckResourcesResponse, ApiError> {
        let started = Instant::now();
        validate::check_resources(request, self.limits())?;
        let aux_data = self.aux_data.extract(request.aux_data.as_ref())?;
        let mut input = mapping::check_request(request);
        // The decision log records which policy decided, so ask for it even when the caller did not.
        let audit = self.settings.audit_enabled && self.decision_log.enabled();
        input.include_meta |= audit;
        let snapshot = self.store.current();
        let deadline = Deadline::after(self.settings.evaluation_timeout);
        let relations = self.relations();
        let mut answer = snapshot.policies.check(
            &input,
            aux_data.as_ref(),
            relations.as_ref().map(|r| r as _),
            &deadline,
        );
        self.within_time(&deadline, "CheckResources")?;
        answer.request_id.clone_from(&request.request_id);
        answer.cerbos_call_id = self.call_ids.next();
        if audit {
            self.log(&snapshot, &input, &answer, started).await;
        }
        if !request.include_meta {
            for result in &mut answer.results {
                result.meta = None;
            }
        }
        Ok(mapping::check_response(answer))
    }

    /// Lictor's explanation of a CheckResources request: the same validation and decisions, each
    /// with the scopes, rules, derived roles and condition values that led to it. Not logged.
    pub fn explain_resources(
        &self,
        request: &request::CheckResourcesRequest,
    ) -> Result<lictor_cerbos::ExplainResponse, ApiError> {
        validate::check_resources(request, self.limits())?;
        let aux_data = self.aux_data.extract(request.aux_data.as_ref())?;
        let input = mapping::check_request(request);
        let snapshot = self.store.current();
        let deadline = Deadline::after(self.settings.evaluation_timeout);
        let relations = self.relations();
        let mut answer = snapshot.policies.explain(
            &input,
            aux_data.as_ref(),
            relations.as_ref().map(|r| r as _),
            &deadline,
        );
        self.within_time(&deadline, "explain")?;
        answer.request_id.clone_from(&request.request_id);
        Ok(answer)
    }

    /// PlanResources: the conditions under which the actions are allowed on the resource kind.
    pub fn plan_resources(
        &self,
        request: &request::PlanResourcesRequest,
    ) -> Result<response::PlanResourcesResponse, ApiError> {
        validate::plan_resources(request)?;
        let aux_data = self.aux_data.extract(request.aux_data.as_ref())?;
        let input = mapping::plan_request(request);
        let snapshot = self.store.current();
        let deadline = Deadline::after(self.settings.evaluation_timeout);
        let relations = self.relations();
        let mut answer = snapshot.policies.plan(
            &input,
            aux_data.as_ref(),
            relations.as_ref().map(|r| r as _),
            &deadline,
        );
        self.within_time(&deadline, "PlanResources")?;
        answer.request_id.clone_from(&request.request_id);
        answer.cerbos_call_id = self.call_ids.next();
        Ok(mapping::plan_response(answer))
    }

    /// Refuses an answer computed after the time bound passed: its conditions were cut short, so
    /// its effects are not decisions.
    fn within_time(&self, deadline: &Deadline, operation: &str) -> Result<(), ApiError> {
        if !deadline.passed() {
            return Ok(());
        }
        self.limits.count("cel_time");
        Err(ApiError::new(
            Code::DeadlineExceeded,
            format!(
                "{operation}: the policies' conditions took longer than the evaluation time limit \
                 of {} ms (limits.evaluation_timeout_ms); nothing was decided",
                self.settings.evaluation_timeout.as_millis()
            ),
        ))
    }

    /// The directory as it is now, for this request's `lictor.check` calls.
    fn relations(&self) -> Option<DirectoryRelations> {
        let tenant = self.directory.as_ref()?;
        Some(DirectoryRelations(tenant.store.snapshot()))
    }

    /// ServerInfo: the Lictor version that answers.
    pub fn server_info(&self) -> response::ServerInfoResponse {
        response::ServerInfoResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: option_env!("LICTOR_COMMIT").unwrap_or_default().to_string(),
            build_date: option_env!("LICTOR_BUILD_DATE")
                .unwrap_or_default()
                .to_string(),
        }
    }

    fn limits(&self) -> RequestLimits {
        RequestLimits {
            max_actions_per_resource: self.settings.max_actions_per_resource,
            max_resources_per_request: self.settings.max_resources_per_request,
        }
    }

    /// One decision-log record per resource: the principal, the resource, and per action its
    /// effect and the policy and scope that decided it.
    async fn log(
        &self,
        snapshot: &PolicySnapshot,
        input: &api::CheckResourcesRequest,
        answer: &api::CheckResourcesResponse,
        started: Instant,
    ) {
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let request_id = if input.request_id.is_empty() {
            &answer.cerbos_call_id
        } else {
            &input.request_id
        };
        for (entry, result) in input.resources.iter().zip(&answer.results) {
            let decided: serde_json::Map<String, serde_json::Value> = result
                .actions
                .iter()
                .map(|(action, effect)| {
                    let meta = result.meta.as_ref().and_then(|m| m.actions.get(action));
                    (
                        action.clone(),
                        serde_json::json!({
                            "effect": effect,
                            "matchedPolicy": meta.map(|m| m.matched_policy.as_str()).unwrap_or_default(),
                            "matchedScope": meta.map(|m| m.matched_scope.as_str()).unwrap_or_default(),
                        }),
                    )
                })
                .collect();
            let resource = serde_json::json!({
                "kind": entry.resource.kind,
                "id": entry.resource.id,
                "policyVersion": entry.resource.policy_version,
                "scope": entry.resource.scope,
                "attr": entry.resource.attr,
                "principal": {
                    "roles": input.principal.roles,
                    "policyVersion": input.principal.policy_version,
                    "scope": input.principal.scope,
                },
                "cerbosCallId": answer.cerbos_call_id,
                "actions": decided,
            });
            let outcomes: Vec<(String, bool)> = result
                .actions
                .iter()
                .map(|(action, effect)| (action.clone(), *effect == api::Effect::Allow))
                .collect();
            self.decision_log
                .log(&DecisionEntry {
                    tenant: "",
                    request_id,
                    kind: "cerbos.check",
                    identity_type: "cerbos.principal",
                    identity: Text::Str(&input.principal.id),
                    user: None,
                    path: Text::Str(&entry.resource.kind),
                    resource: Resource::Context(&resource),
                    decisions: Outcomes::Many(&outcomes),
                    policy_revision: &snapshot.revision,
                    provenance: None,
                    directory_revision: 0,
                    latency_us,
                })
                .await;
        }
    }
}

/// Call ids as Cerbos makes them: ULIDs, 26 Crockford base32 characters, a millisecond time then
/// 80 random bits, so they sort by time.
struct CallIds {
    counter: AtomicU64,
    keys: std::collections::hash_map::RandomState,
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl CallIds {
    fn new() -> CallIds {
        CallIds {
            counter: AtomicU64::new(0),
            keys: std::collections::hash_map::RandomState::new(),
        }
    }

    fn next(&self) -> String {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // Randomly keyed hashes of a counter: distinct for every call, unpredictable across runs.
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut first = self.keys.build_hasher();
        first.write_u64(count);
        let mut second = self.keys.build_hasher();
        second.write_u64(!count);
        let random = (u128::from(first.finish()) << 16) | u128::from(second.finish() & 0xffff);
        let value = (u128::from(millis & 0xffff_ffff_ffff) << 80) | random;
        (0..26)
            .rev()
            .map(|i| {
                let digit = usize::try_from((value >> (i * 5)) & 0x1f).unwrap_or(0);
                char::from(CROCKFORD.get(digit).copied().unwrap_or(b'0'))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn call_ids_are_ulids_and_distinct() {
        let ids = CallIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|c| CROCKFORD.contains(&c)), "{a}");
        assert_ne!(a, b);
        // The first character holds the top bits of a 48-bit time: 0 to 7.
        assert!(a.as_bytes()[0] <= b'7', "{a}");
    }
}
