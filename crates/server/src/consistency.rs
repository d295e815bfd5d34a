//! Consistency tokens: a write answers the revision that holds it (`x-lictor-revision`), and a read
//! that carries a revision (`x-lictor-min-revision`) waits until its replica has applied it, so an
//! application reads its own writes through any replica.

use crate::api_error::{ApiError, Code};
use crate::tenant::Tenant;
use axum::http::{HeaderMap, HeaderValue};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The header (gRPC metadata key) a write's answer carries its revision in.
pub const REVISION_HEADER: &str = "x-lictor-revision";
/// The header (gRPC metadata key) a request names the revision it must see in.
pub const MIN_REVISION_HEADER: &str = "x-lictor-min-revision";

/// The revision a request asks to see, if it names one.
pub fn min_revision(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let mut values = headers.get_all(MIN_REVISION_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            Code::InvalidArgument,
            format!("{MIN_REVISION_HEADER} is given more than once"),
        ));
    }
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidArgument,
                format!(
                    "{MIN_REVISION_HEADER} must be a revision number (a non-negative integer), not {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ),
            )
        })
}

/// Waits until `tenant`'s store has published `wanted`, for at most `bound`. A store shared with other
/// processes is asked to catch up at once (and again with growing pauses) instead of waiting for its
/// follower to wake, so a token from another replica is usually honoured within one round trip to
/// the database.
pub async fn wait_for(tenant: &Arc<Tenant>, wanted: u64, bound: Duration) -> Result<(), ApiError> {
    let store = &tenant.store;
    if store.revision() >= wanted {
        return Ok(());
    }
    let deadline = Instant::now() + bound;
    let mut pause = Duration::from_millis(1);
    loop {
        if store.records().shared() {
            let tenant = Arc::clone(tenant);
            // A database that is down is reported by the timeout below, naming the revision held.
            let _ = tokio::task::spawn_blocking(move || tenant.store.catch_up()).await;
        }
        if store.revision() >= wanted {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ApiError::new(
                Code::Unavailable,
                format!(
                    "revision {wanted} ({MIN_REVISION_HEADER}) is not applied here within {} ms: this replica is at revision {}",
                    bound.as_millis(),
                    store.revision()
                ),
            ));
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The header value of a revision.
pub fn revision_value(revision: u64) -> HeaderValue {
    HeaderValue::from(revision)
}
