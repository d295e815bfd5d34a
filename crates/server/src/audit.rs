//! Building decision records from the answers the services give.

use crate::access::Access;
use crate::decision_log::{DecisionOutcome, DecisionRecord, IdentityRecord};
use crate::server::AppState;
use lictor_directory::{CheckRequest, Directory};
use serde_json::json;
use std::time::Instant;

/// Logs one directory check (`kind` is `check` or `evaluation`).
pub async fn log_check(
    state: &AppState,
    access: &Access,
    directory: &Directory,
    request: &CheckRequest<'_>,
    allowed: bool,
    started: Instant,
    kind: &'static str,
) {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    state
        .metrics
        .decisions(kind, usize::from(allowed), usize::from(!allowed));
    if !state.decision_log.enabled() {
        return;
    }
    // The writer formats `time`, off the request path.
    let (time, time_us) = (String::new(), crate::clock::unix_micros());
    let subject = if request.subject_relation.is_empty() {
        format!("{}:{}", request.subject_type, request.subject_id)
    } else {
        format!(
            "{}:{}#{}",
            request.subject_type, request.subject_id, request.subject_relation
        )
    };
    let record = DecisionRecord {
        time,
        time_us,
        tenant: access.tenant.id.clone(),
        request_id: access.request_id.to_string(),
        kind: kind.into(),
        identity: IdentityRecord {
            kind: "SUBJECT".into(),
            value: subject.clone(),
        },
        user: Some(subject),
        path: format!("{}#{}", request.object_type, request.relation),
        resource: json!({
            "object_type": request.object_type,
            "object_id": request.object_id,
            "relation": request.relation,
        }),
        decisions: vec![DecisionOutcome {
            decision: request.relation.to_string(),
            is: allowed,
        }],
        policy_revision: String::new(),
        directory_revision: directory.revision(),
        latency_us,
    };
    state.decision_log.log(record).await;
}
