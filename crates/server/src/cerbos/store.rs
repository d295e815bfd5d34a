//! The Cerbos policies being served: compiled from the disk store at start, held behind an atomic
//! pointer that requests load once each, and replaced when `watchForChanges` sees the files change
//! and the new set compiles. A change that does not compile is refused and logged; the previous
//! policies keep serving.

use super::config::CerbosSettings;
use super::engine::{self, CompiledPolicies};
use crate::policy_source::PolicyOrigin;
use arc_swap::ArcSwap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the policy directory is looked at when `watchForChanges` is on.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// The compiled policies of one load and its revision.
pub struct PolicySnapshot {
    /// Identifies this load in decision logs (a digest of the files' names, sizes and times).
    pub revision: String,
    /// The policies.
    pub policies: CompiledPolicies,
}

/// Why the policies could not be loaded; names the directory and each file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cerbos policies in {}: {message}", directory.display())]
pub struct LoadError {
    /// The policy directory.
    pub directory: PathBuf,
    /// What is wrong, file by file.
    pub message: String,
}

/// The served policies and where they come from.
pub struct PolicyStore {
    origin: PolicyOrigin,
    directory: PathBuf,
    settings: Arc<CerbosSettings>,
    current: ArcSwap<PolicySnapshot>,
}

impl PolicyStore {
    /// Compiles the configured directory; a policy that does not compile is a start-up error.
    pub fn open(settings: Arc<CerbosSettings>) -> Result<PolicyStore, LoadError> {
        let directory = settings.policy_dir.clone();
        let origin = PolicyOrigin::Dir(directory.clone());
        let snapshot = load(&origin, &directory, &settings)?;
        tracing::info!(
            directory = %directory.display(),
            policies = snapshot.policies.policy_count(),
            revision = %snapshot.revision,
            "Cerbos policies loaded"
        );
        Ok(PolicyStore {
            origin,
            directory,
            settings,
            current: ArcSwap::from_pointee(snapshot),
        })
    }

    /// The policies serving now; a request keeps the snapshot it loaded to its end.
    pub fn current(&self) -> Arc<PolicySnapshot> {
        self.current.load_full()
    }

    /// With `watchForChanges`, a task that reloads the policies when their files change, until
    /// `shutdown` turns true.
    pub fn watch(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        self.settings
            .watch_for_changes
            .then(|| tokio::spawn(Arc::clone(self).watch_files(shutdown)))
    }

    async fn watch_files(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let probe = self.origin.clone();
        let Ok(mut seen) = tokio::task::spawn_blocking(move || probe.fingerprint()).await else {
            return;
        };
        let mut ticks = crate::schedule::Ticks::new(WATCH_INTERVAL, shutdown);
        while ticks.next().await {
            let probe = self.origin.clone();
            let Ok(now) = tokio::task::spawn_blocking(move || probe.fingerprint()).await else {
                continue;
            };
            if now == seen {
                continue;
            }
            seen = now;
            let store = Arc::clone(&self);
            let loaded = tokio::task::spawn_blocking(move || {
                load(&store.origin, &store.directory, &store.settings)
            })
            .await;
            match loaded {
                Ok(Ok(snapshot)) => {
                    tracing::info!(
                        policies = snapshot.policies.policy_count(),
                        revision = %snapshot.revision,
                        "Cerbos policies reloaded"
                    );
                    self.current.store(Arc::new(snapshot));
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "Cerbos policy change refused; the previous policies keep serving");
                }
                Err(error) => {
                    tracing::warn!(%error, "Cerbos policy reload task failed");
                }
            }
        }
    }
}

fn load(
    origin: &PolicyOrigin,
    directory: &std::path::Path,
    settings: &CerbosSettings,
) -> Result<PolicySnapshot, LoadError> {
    let fingerprint = origin.fingerprint();
    let policies = engine::compile(directory, settings).map_err(|message| LoadError {
        directory: directory.to_path_buf(),
        message,
    })?;
    Ok(PolicySnapshot {
        revision: format!("{fingerprint:016x}"),
        policies,
    })
}
