//! Scheduled loads of users, identities and groups from identity providers (`sync:`, an export file
//! or an LDAP directory): each source runs at start and then every `every_seconds`, bringing the
//! default tenant's directory in step with it as `lictor load json` / `lictor load ldap` do (what the source no longer has is removed,
//! application records are never touched). A run that fails is logged and changes nothing; the next
//! one tries again.

use crate::config::SyncSource;
use crate::tenant::Tenant;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts one task per source; each ends when `shutdown` turns true.
pub fn spawn(
    sources: &[SyncSource],
    tenant: &Arc<Tenant>,
    data_dir: &Path,
    shutdown: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    sources
        .iter()
        .map(|source| {
            let state = data_dir
                .join("sync")
                .join(format!("{}.json", source.source));
            tokio::spawn(run(source.clone(), tenant.clone(), state, shutdown.clone()))
        })
        .collect()
}

async fn run(
    source: SyncSource,
    tenant: Arc<Tenant>,
    state: PathBuf,
    shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(source.every_seconds.max(1));
    let mut ticks = crate::schedule::Ticks::new(every, shutdown);
    while ticks.next().await {
        let records = match (&source.json, &source.ldap) {
            (Some(file), _) => std::fs::read(file).map_err(|e| format!("{}: {e}", file.display())),
            (None, Some(ldap)) => match ldap.bind_password() {
                Ok(password) => crate::idp_ldap::read(ldap, password.as_deref())
                    .await
                    .map(String::into_bytes),
                Err(error) => Err(error),
            },
            (None, None) => Err("no json or ldap".to_string()),
        };
        let (tenant, state) = (tenant.clone(), state.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            let records = records?;
            tenant
                .store
                .sync(&state, records.as_slice(), false)
                .map_err(|e| e.to_string())
        })
        .await;
        match outcome {
            Ok(Ok(report)) => {
                let [created, updated, removed, linked, unlinked] = report.counts();
                if !report.changes.is_empty() {
                    tracing::info!(source = %source.source, created, updated, removed,
                        relations_created = linked, relations_removed = unlinked,
                        unchanged = report.unchanged, revision = report.revision,
                        "identity source synced");
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(source = %source.source, %error, "identity source not synced; nothing changed");
            }
            Err(error) => {
                tracing::warn!(source = %source.source, %error, "identity sync task failed")
            }
        }
    }
}
