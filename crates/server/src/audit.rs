//! Building decision records from the answers the services give.

use crate::access::Access;
use crate::decision_log::{DecisionEntry, Outcomes, Resource, Text};
use crate::server::AppState;
use lictor_directory::{CheckRequest, Directory};
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
    let subject_parts = [
        request.subject_type,
        ":",
        request.subject_id,
        "#",
        request.subject_relation,
    ];
    let subject = if request.subject_relation.is_empty() {
        Text::Concat(subject_parts.get(..3).unwrap_or_default())
    } else {
        Text::Concat(&subject_parts)
    };
    let path = [request.object_type, "#", request.relation];
    let entry = DecisionEntry {
        tenant: &access.tenant.id,
        request_id: &access.request_id,
        kind,
        identity_type: "SUBJECT",
        identity: subject,
        user: Some(subject),
        path: Text::Concat(&path),
        resource: Resource::Object {
            object_type: request.object_type,
            object_id: request.object_id,
            relation: request.relation,
        },
        decisions: Outcomes::One(request.relation, allowed),
        policy_revision: "",
        provenance: None,
        directory_revision: directory.revision(),
        latency_us,
    };
    state.decision_log.log(&entry).await;
}
