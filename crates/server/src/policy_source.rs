//! Where each tenant's policies come from: loaded at start, then reloaded when their files change.
//! A reload that fails keeps the previous policies serving; requests in flight finish on the set they
//! started with because each holds its own `Arc`.

use crate::config::{Config, Policies};
use crate::metrics::PolicyReloads;
use crate::policy_image::ImageFollower;
use crate::tenant::{Tenant, Tenants};
use crate::ServerError;
use lictor_policy::{PolicyError, PolicySet};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Seconds between looks at the policy files when the configuration names none.
const DEFAULT_RELOAD_SECONDS: u64 = 2;

/// A policy directory or bundle on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// A directory of `.rego` files.
    Dir(PathBuf),
    /// An OPA bundle tarball.
    Bundle(PathBuf),
}

impl PolicyOrigin {
    /// The origin a `policies` section names, if any (paths relative to the working directory, as
    /// every path of the configuration).
    pub fn from_config(policies: &Policies) -> Option<PolicyOrigin> {
        if let Some(dir) = &policies.dir {
            Some(PolicyOrigin::Dir(dir.clone()))
        } else {
            policies.bundle.clone().map(PolicyOrigin::Bundle)
        }
    }

    /// Reads and compiles the policies.
    pub fn load(&self) -> Result<PolicySet, PolicyError> {
        let mut set = match self {
            PolicyOrigin::Dir(dir) => PolicySet::load_dir(dir)?,
            PolicyOrigin::Bundle(bundle) => PolicySet::load_bundle(bundle)?,
        };
        // As in Topaz, a directory lookup that fails (an unknown object, say) makes the built-in's
        // value undefined rather than failing the whole decision.
        set.set_lenient_builtin_errors(true);
        Ok(set)
    }

    /// A digest of every file's name, size and modification time: it changes when any file does.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        match self {
            PolicyOrigin::Dir(dir) => hash_tree(dir, &mut hasher),
            PolicyOrigin::Bundle(bundle) => hash_file(bundle, &mut hasher),
        }
        hasher.finish()
    }
}

fn hash_file(path: &Path, hasher: &mut DefaultHasher) {
    path.hash(hasher);
    match std::fs::metadata(path) {
        Ok(meta) => {
            meta.len().hash(hasher);
            meta.modified().ok().hash(hasher);
        }
        Err(error) => error.kind().hash(hasher),
    }
}

fn hash_tree(dir: &Path, hasher: &mut DefaultHasher) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            dir.hash(hasher);
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                pending.push(path);
            } else {
                hash_file(&path, hasher);
            }
        }
    }
}

/// Each tenant's policy section (its own, else the default tenant's) and reload period.
fn sections(config: &Config) -> Vec<(String, &Policies, u64)> {
    let default_reload = config
        .policies
        .reload_seconds
        .unwrap_or(DEFAULT_RELOAD_SECONDS);
    let mut all = vec![(String::new(), &config.policies, default_reload)];
    for tenant in &config.tenants {
        let (section, reload) = match &tenant.policies {
            Some(own) => (own, own.reload_seconds.unwrap_or(default_reload)),
            None => (&config.policies, default_reload),
        };
        all.push((tenant.id.clone(), section, reload));
    }
    all
}

/// Loads every tenant's policies; a policy that does not compile stops the start with its file:line,
/// and a policy image that can be neither pulled nor read from the local store stops it naming why.
/// Returns the reload tasks, which end when `shutdown` turns true and count each reload in `reloads`.
pub async fn load_all(
    config: &Config,
    tenants: &Tenants,
    shutdown: &watch::Receiver<bool>,
    reloads: &PolicyReloads,
) -> Result<Vec<JoinHandle<()>>, ServerError> {
    let mut tasks = Vec::new();
    for (id, section, reload_seconds) in sections(config) {
        let tenant = if id.is_empty() {
            tenants.default_tenant()
        } else {
            match tenants.get(&id) {
                Some(tenant) => tenant,
                None => continue,
            }
        };
        if let Some(image) = &section.image {
            let follower = ImageFollower::new(image, &section.registry, &config.data_dir)
                .map_err(ServerError::PolicyImage)?;
            let (set, digest) = follower.initial().await.map_err(ServerError::PolicyImage)?;
            tracing::info!(tenant = %id, %image, %digest, revision = set.revision(), "policy image loaded");
            tenant.policies.store(Some(Arc::new(set)));
            let poll = section
                .poll_seconds
                .unwrap_or(crate::policy_image::DEFAULT_POLL_SECONDS);
            if poll > 0 && !follower.pinned() {
                reloads.watch(&tenant.id);
                tasks.push(tokio::spawn(follower.follow(
                    tenant,
                    digest,
                    Duration::from_secs(poll),
                    shutdown.clone(),
                    reloads.clone(),
                )));
            }
            continue;
        }
        let Some(origin) = PolicyOrigin::from_config(section) else {
            continue;
        };
        let fingerprint = origin.fingerprint();
        let set = origin.load().map_err(ServerError::Policy)?;
        tracing::info!(tenant = %id, revision = set.revision(), "policies loaded");
        tenant.policies.store(Some(Arc::new(set)));
        if reload_seconds > 0 {
            reloads.watch(&tenant.id);
            tasks.push(tokio::spawn(watch_policies(
                tenant,
                origin,
                fingerprint,
                Duration::from_secs(reload_seconds),
                shutdown.clone(),
                reloads.clone(),
            )));
        }
    }
    Ok(tasks)
}

/// Polls the origin and swaps in the new policies when they change and compile.
async fn watch_policies(
    tenant: Arc<Tenant>,
    origin: PolicyOrigin,
    mut seen: u64,
    every: Duration,
    shutdown: watch::Receiver<bool>,
    reloads: PolicyReloads,
) {
    let mut ticks = crate::schedule::Ticks::new(every, shutdown);
    while ticks.next().await {
        let probe = origin.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || probe.fingerprint()).await else {
            continue;
        };
        if now == seen {
            continue;
        }
        seen = now;
        let probe = origin.clone();
        match tokio::task::spawn_blocking(move || probe.load()).await {
            Ok(Ok(set)) => {
                tracing::info!(tenant = %tenant.id, revision = set.revision(), "policies reloaded");
                tenant.policies.store(Some(Arc::new(set)));
                reloads.loaded(&tenant.id);
            }
            Ok(Err(error)) => {
                tracing::warn!(tenant = %tenant.id, %error, "policy change rejected; the previous policies keep serving");
                reloads.refused(&tenant.id);
            }
            Err(error) => {
                tracing::warn!(%error, "policy reload task failed");
                reloads.refused(&tenant.id);
            }
        }
    }
}
