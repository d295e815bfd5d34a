//! Following a policy image: pulled at start, then polled for a new digest; each new image is
//! checked against its digest, compiled, and swapped in whole (requests in flight finish on the set
//! they started with). An image that does not compile is refused and the previous one keeps serving.
//! The last good image stays named in the local image store (`DATA_DIR/images`), so a restart
//! serves it while the registry is down.

use crate::config::RegistrySettings;
use crate::metrics::PolicyReloads;
use crate::tenant::Tenant;
use lictor_image::{
    read_bundle, Credentials, Descriptor, ImageStore, Reference, Registry, RegistryOptions,
};
use lictor_policy::{PolicySet, Provenance};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Seconds between looks for a new digest when the configuration names none.
pub const DEFAULT_POLL_SECONDS: u64 = 30;

/// Why an image could not be loaded.
#[derive(Debug)]
pub enum FetchError {
    /// The registry could not be asked or could not answer: worth asking again.
    Unreachable(String),
    /// The image itself is unusable (does not verify or compile): refused until it changes.
    Refused(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unreachable(message) | FetchError::Refused(message) => f.write_str(message),
        }
    }
}

/// An image error: a registry that cannot be reached or refuses access is worth asking again.
fn fetch_error(error: lictor_image::ImageError) -> FetchError {
    use lictor_image::ImageError;
    match error {
        ImageError::Unreachable { .. }
        | ImageError::Unauthorized { .. }
        | ImageError::Registry { .. }
        | ImageError::Io { .. } => FetchError::Unreachable(error.to_string()),
        _ => FetchError::Refused(error.to_string()),
    }
}

/// One followed image.
pub struct ImageFollower {
    reference: Reference,
    /// The reference as the store names it.
    name: String,
    registry: Registry,
    store: ImageStore,
}

impl ImageFollower {
    /// A follower of `image`, keeping images in `DATA_DIR/images`.
    pub fn new(
        image: &str,
        settings: &RegistrySettings,
        data_dir: &Path,
    ) -> Result<ImageFollower, String> {
        let reference = Reference::parse(image).map_err(|e| e.to_string())?;
        let password =
            match (&settings.password, &settings.password_env) {
                (Some(password), _) => Some(password.clone()),
                (None, Some(variable)) => Some(std::env::var(variable).map_err(|_| {
                    format!("policies.registry.password_env: {variable} is not set")
                })?),
                (None, None) => None,
            };
        let credentials = match (&settings.username, password) {
            (Some(username), Some(password)) => Some(Credentials {
                username: username.clone(),
                password,
            }),
            (None, None) => None,
            _ => {
                return Err(
                    "policies.registry: give username and password (or password_env) together"
                        .to_string(),
                )
            }
        };
        let options = RegistryOptions {
            plain_http: settings.plain_http,
            ca_cert: settings.ca_cert.clone(),
            credentials,
            timeout: None,
        };
        let registry = Registry::new(&reference.registry, &options).map_err(|e| e.to_string())?;
        let store = ImageStore::open(&data_dir.join("images")).map_err(|e| e.to_string())?;
        Ok(ImageFollower {
            name: reference.to_string(),
            reference,
            registry,
            store,
        })
    }

    /// Whether the reference pins a digest (nothing to poll for).
    pub fn pinned(&self) -> bool {
        self.reference.digest.is_some()
    }

    /// The policies at start: the registry's image, else the last good image stored. Answers the
    /// set and its digest; an error when neither serves.
    pub async fn initial(&self) -> Result<(PolicySet, String), String> {
        match self.fetch(None).await {
            Ok(Some(loaded)) => Ok(loaded),
            Ok(None) => Err(format!("{}: nothing to load", self.name)),
            Err(remote) => {
                let stored = self.store.resolve(&self.name).map_err(|_| {
                    format!("{remote}; and no earlier image of {} is stored", self.name)
                })?;
                let set = self.compile(&stored)?;
                tracing::warn!(image = %self.name, digest = %stored.digest, error = %remote,
                    "serving the last good policy image: the registry's could not be loaded");
                Ok((set, stored.digest))
            }
        }
    }

    /// The image the reference names now, pulled and compiled, unless its digest is `current`
    /// (then `None`).
    pub async fn fetch(
        &self,
        current: Option<&str>,
    ) -> Result<Option<(PolicySet, String)>, FetchError> {
        let digest = self
            .registry
            .digest(&self.reference)
            .await
            .map_err(fetch_error)?;
        if current == Some(digest.as_str()) {
            return Ok(None);
        }
        let pinned = self.reference.with_digest(&digest);
        let descriptor = self
            .registry
            .pull(&pinned, &self.store, &mut |_, _, _| {})
            .await
            .map_err(fetch_error)?;
        let set = self.compile(&descriptor).map_err(FetchError::Refused)?;
        // Named only once it compiled: the name is the last good image.
        self.store
            .tag(&self.name, &descriptor)
            .map_err(|e| FetchError::Unreachable(e.to_string()))?;
        Ok(Some((set, descriptor.digest)))
    }

    /// Reads a stored image's bundle (checked against its digests) and compiles it.
    fn compile(&self, descriptor: &Descriptor) -> Result<PolicySet, String> {
        let (_, bundle) = read_bundle(&self.store, descriptor).map_err(|e| e.to_string())?;
        let origin = format!("{}@{}", self.name, descriptor.digest);
        let mut set =
            PolicySet::read_bundle(bundle.as_slice(), &origin).map_err(|e| e.to_string())?;
        // As for every policy source: a failing directory lookup is undefined, as in Topaz.
        set.set_lenient_builtin_errors(true);
        let bundle_revision = set.provenance().bundle_revision.clone();
        set.set_provenance(Provenance {
            bundle_revision,
            image: Some(origin),
        });
        Ok(set)
    }

    /// Polls every `every` until `shutdown`, swapping in each new image that compiles.
    pub async fn follow(
        self,
        tenant: Arc<Tenant>,
        mut current: String,
        every: Duration,
        shutdown: watch::Receiver<bool>,
        reloads: PolicyReloads,
    ) {
        let mut ticks = crate::schedule::Ticks::new(every, shutdown);
        // The first tick comes at once, and the image was just loaded.
        if !ticks.next().await {
            return;
        }
        // A digest refused once is not pulled again until the tag moves on.
        let mut refused: Option<String> = None;
        let mut failing = false;
        while ticks.next().await {
            let seen = match self.registry.digest(&self.reference).await {
                Ok(digest) => {
                    if failing {
                        tracing::info!(image = %self.name, "the policy registry answers again");
                        failing = false;
                    }
                    digest
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(image = %self.name, %error, "policy registry unreachable; the loaded image keeps serving");
                        failing = true;
                    }
                    continue;
                }
            };
            if seen == current || refused.as_deref() == Some(seen.as_str()) {
                continue;
            }
            match self.fetch(Some(&current)).await {
                Ok(Some((set, digest))) => {
                    tracing::info!(tenant = %tenant.id, image = %self.name, %digest,
                        revision = set.revision(), "policy image swapped in");
                    tenant.policies.store(Some(Arc::new(set)));
                    reloads.loaded(&tenant.id);
                    current = digest;
                    refused = None;
                }
                Ok(None) => {}
                Err(FetchError::Refused(error)) => {
                    tracing::warn!(tenant = %tenant.id, image = %self.name, digest = %seen, %error,
                        "policy image refused; the previous policies keep serving");
                    reloads.refused(&tenant.id);
                    refused = Some(seen);
                }
                Err(FetchError::Unreachable(error)) => {
                    tracing::warn!(tenant = %tenant.id, image = %self.name, digest = %seen, %error,
                        "policy image not pulled; the previous policies keep serving");
                }
            }
        }
    }
}
