//! `lictor policy …`: building policy images from a folder, keeping them in the local image store
//! (`DATA_DIR/images`, an OCI image layout), and moving them to and from registries.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::{Args, Subcommand};
use lictor_image::{
    build_bundle, build_image, bundle_files, read_bundle, read_bundle_manifest, Credentials,
    ImageOptions, ImageStore, Reference, Registry, RegistryOptions, CREATED,
};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The policy image commands.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Build an OPA bundle from DIR (Rego, data, the Topaz manifest, a `cerbos` store) and store it
    /// as a policy image named REF.
    Build {
        /// The policy folder.
        dir: PathBuf,
        /// The image's name: `registry[:port]/repository[:tag]`.
        #[arg(long, short = 't')]
        tag: String,
        /// The bundle revision [default: the folder's `.manifest`, else a digest of its content].
        #[arg(long, short = 'r')]
        revision: Option<String>,
        /// More manifest annotations, `key=value`; repeatable.
        #[arg(long = "annotation", short = 'a', value_name = "KEY=VALUE")]
        annotations: Vec<String>,
    },
    /// Push a stored image to its registry.
    Push {
        /// The image.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull an image from its registry into the store.
    Pull {
        /// The image (a tag, or `@sha256:…` to pin a digest).
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Check credentials against a registry and keep them for push and pull.
    Login {
        /// The registry host (`localhost:5000`).
        registry: String,
        /// The user name.
        #[arg(long, short = 'u')]
        username: String,
        /// The password (prefer --password-stdin: arguments are visible to other users).
        #[arg(long, short = 'p', conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        options: ConnectionArgs,
    },
    /// Forget a registry's credentials.
    Logout {
        /// The registry host.
        registry: String,
    },
    /// List the stored images.
    Images,
    /// Give a stored image another name.
    Tag {
        /// The stored image.
        source: String,
        /// The new name.
        target: String,
    },
    /// Remove stored images (their blobs go when no other image needs them).
    Rm {
        /// The images.
        #[arg(required = true)]
        references: Vec<String>,
    },
    /// Write a stored image's bundle (`bundle.tar.gz`, as Aserto's `policy save`), or the whole image
    /// as an OCI image layout folder.
    Save {
        /// The image.
        reference: String,
        /// The bundle file (`-` for standard output).
        #[arg(long, short = 'f', default_value = "bundle.tar.gz")]
        file: String,
        /// Write an OCI image layout to this folder instead (`skopeo copy oci:DIR:TAG …` reads it).
        #[arg(long, value_name = "DIR")]
        oci_layout: Option<PathBuf>,
        /// The image's tag inside the OCI layout [default: the reference's tag].
        #[arg(long, requires = "oci_layout")]
        layout_tag: Option<String>,
    },
    /// Show a stored image: digest, annotations, and its bundle's revision, roots and files.
    Inspect {
        /// The image.
        reference: String,
    },
}

/// How to reach a registry.
#[derive(Args)]
pub struct ConnectionArgs {
    /// Speak plain HTTP to the registry instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Trust this PEM CA certificate for the registry's TLS.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
}

/// How to reach a registry, and as whom.
#[derive(Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The user name [default: the one `lictor policy login` kept].
    #[arg(long, short = 'u', requires = "password_stdin")]
    username: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// Runs one policy command against the image store in `data_dir`.
pub fn run(command: PolicyCommand, data_dir: &Path, out: &mut impl Write) -> Result<()> {
    let store = || ImageStore::open(&data_dir.join("images"));
    match command {
        PolicyCommand::Build {
            dir,
            tag,
            revision,
            annotations,
        } => {
            let reference = Reference::parse(&tag)?;
            let bundle = build_bundle(&dir, revision.as_deref())?;
            // As `opa build` does, a bundle whose policies do not compile is not built.
            lictor_policy::PolicySet::read_bundle(
                bundle.bytes.as_slice(),
                &dir.display().to_string(),
            )?;
            let mut options = ImageOptions {
                title: Some(format!("{}/{}", reference.registry, reference.repository)),
                created: Some(now_rfc3339()),
                annotations: BTreeMap::new(),
            };
            for annotation in annotations {
                let (key, value) = annotation
                    .split_once('=')
                    .with_context(|| format!("annotation `{annotation}`: write it key=value"))?;
                options
                    .annotations
                    .insert(key.to_string(), value.to_string());
            }
            let store = store()?;
            let image = build_image(&store, &bundle, &options)?;
            store.tag(&reference.to_string(), &image)?;
            writeln!(
                out,
                "built {reference} ({}, revision {}, {} files, {} bytes)",
                image.digest,
                bundle.manifest.revision,
                bundle.files.len(),
                bundle.bytes.len()
            )?;
        }
        PolicyCommand::Push {
            reference,
            registry,
        } => {
            let reference = Reference::parse(&reference)?;
            let store = store()?;
            let image = store.resolve(&reference.to_string())?;
            let client = registry.client(&reference.registry)?;
            let digest =
                block_on(client.push(&reference, &store, &image, &mut show_progress("pushed")))?;
            writeln!(out, "pushed {reference} ({digest})")?;
        }
        PolicyCommand::Pull {
            reference,
            registry,
        } => {
            let reference = Reference::parse(&reference)?;
            let store = store()?;
            let client = registry.client(&reference.registry)?;
            let image = block_on(client.pull(&reference, &store, &mut show_progress("pulled")))?;
            store.tag(&reference.to_string(), &image)?;
            writeln!(out, "pulled {reference} ({})", image.digest)?;
        }
        PolicyCommand::Login {
            registry,
            username,
            password,
            password_stdin,
            options,
        } => {
            let password = match (password, password_stdin) {
                (Some(password), _) => password,
                (None, true) => read_password()?,
                (None, false) => bail!("give the password with --password-stdin (or -p)"),
            };
            let credentials = Credentials { username, password };
            let client = Registry::new(
                &registry,
                &RegistryOptions {
                    credentials: Some(credentials.clone()),
                    ..options.registry_options()
                },
            )?;
            block_on(client.login())?;
            let mut auths = CredentialStore::load()?;
            auths.set(&registry, Some(&credentials));
            auths.save()?;
            writeln!(out, "logged in to {registry}")?;
        }
        PolicyCommand::Logout { registry } => {
            let mut auths = CredentialStore::load()?;
            if !auths.set(&registry, None) {
                bail!("not logged in to {registry}");
            }
            auths.save()?;
            writeln!(out, "logged out of {registry}")?;
        }
        PolicyCommand::Images => {
            let rows: Vec<[String; 5]> = store()?
                .images()?
                .into_iter()
                .map(|(name, descriptor)| {
                    let (repository, tag) = match Reference::parse(&name) {
                        Ok(r) => (
                            format!("{}/{}", r.registry, r.repository),
                            r.tag.unwrap_or_else(|| "<none>".to_string()),
                        ),
                        Err(_) => (name.clone(), String::new()),
                    };
                    let id: String = descriptor
                        .digest
                        .trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect();
                    let created = descriptor.annotation(CREATED).unwrap_or("").to_string();
                    [repository, tag, id, created, descriptor.size.to_string()]
                })
                .collect();
            let headers = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"];
            for line in crate::table::lines(headers, &rows) {
                writeln!(out, "{line}")?;
            }
        }
        PolicyCommand::Tag { source, target } => {
            let target = Reference::parse(&target)?;
            let store = store()?;
            let image = store.resolve(&canonical(&source))?;
            store.tag(&target.to_string(), &image)?;
            writeln!(out, "tagged {target} ({})", image.digest)?;
        }
        PolicyCommand::Rm { references } => {
            let store = store()?;
            for reference in references {
                store.remove(&canonical(&reference))?;
                writeln!(out, "removed {reference}")?;
            }
        }
        PolicyCommand::Save {
            reference,
            file,
            oci_layout,
            layout_tag,
        } => {
            let store = store()?;
            let name = canonical(&reference);
            if let Some(dir) = oci_layout {
                let tag = layout_tag
                    .or_else(|| Reference::parse(&name).ok().and_then(|r| r.tag))
                    .unwrap_or_else(|| "latest".to_string());
                let image = store.save(&name, &dir, &tag)?;
                writeln!(
                    out,
                    "saved {reference} ({}) to {}:{tag}",
                    image.digest,
                    dir.display()
                )?;
            } else {
                let (_, bundle) = read_bundle(&store, &store.resolve(&name)?)?;
                if file == "-" {
                    out.write_all(&bundle)?;
                } else {
                    std::fs::write(&file, &bundle).with_context(|| format!("writing {file}"))?;
                    writeln!(out, "saved the bundle of {reference} to {file}")?;
                }
            }
        }
        PolicyCommand::Inspect { reference } => {
            let store = store()?;
            let descriptor = store.resolve(&canonical(&reference))?;
            let (manifest, bundle) = read_bundle(&store, &descriptor)?;
            let bundle_manifest = read_bundle_manifest(&bundle, &reference)?;
            let report = serde_json::json!({
                "reference": reference,
                "media_type": descriptor.media_type,
                "digest": descriptor.digest,
                "size": descriptor.size,
                "annotations": manifest.annotations,
                "config": manifest.config,
                "layers": manifest.layers,
                "bundle": {
                    "revision": bundle_manifest.revision,
                    "roots": bundle_manifest.roots,
                    "files": bundle_files(&bundle, &reference)?,
                },
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        }
    }
    Ok(())
}

impl ConnectionArgs {
    fn registry_options(&self) -> RegistryOptions {
        RegistryOptions {
            plain_http: self.plain_http,
            ca_cert: self.ca_cert.clone(),
            ..RegistryOptions::default()
        }
    }
}

impl RegistryArgs {
    /// A client of `host` with the given credentials, or those `login` kept.
    fn client(&self, host: &str) -> Result<Registry> {
        let credentials = match &self.username {
            Some(username) => Some(Credentials {
                username: username.clone(),
                password: read_password()?,
            }),
            None => CredentialStore::load()?.get(host),
        };
        Ok(Registry::new(
            host,
            &RegistryOptions {
                credentials,
                ..self.connection.registry_options()
            },
        )?)
    }
}

/// A stored image's name as the store keys it: a reference in its canonical spelling (`:latest`
/// added), or a digest as given.
fn canonical(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_string(), |r| r.to_string())
}

fn read_password() -> Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("the password read from standard input is empty");
    }
    Ok(password)
}

/// One line on standard error per blob moved.
fn show_progress(verb: &'static str) -> impl FnMut(&str, u64, u64) + Send {
    move |digest, done, total| {
        if done == total {
            let short: String = digest.chars().take(19).collect();
            eprintln!("{verb} {short}… ({total} bytes)");
        }
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    // A runtime that cannot start is an environment fault, not an input one.
    #[allow(clippy::expect_used)]
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(future)
}

/// Now, as RFC 3339 in UTC.
fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Registry credentials kept by `login`, in Docker's `config.json` shape
/// (`{"auths": {"host": {"auth": base64("user:password")}}}`), readable by its owner only.
struct CredentialStore {
    path: PathBuf,
    file: AuthFile,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    /// Other keys of the file, kept as they are.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AuthEntry {
    auth: String,
}

impl CredentialStore {
    /// `LICTOR_REGISTRY_AUTH`, else `$XDG_CONFIG_HOME/lictor/auth.json`, else
    /// `~/.config/lictor/auth.json`.
    fn path() -> Result<PathBuf> {
        if let Some(path) = std::env::var_os("LICTOR_REGISTRY_AUTH") {
            return Ok(PathBuf::from(path));
        }
        let base = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(
                std::env::var_os("HOME").context("no HOME to keep registry credentials under")?,
            )
            .join(".config"),
        };
        Ok(base.join("lictor/auth.json"))
    }

    fn load() -> Result<CredentialStore> {
        let path = Self::path()?;
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a credentials file", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => AuthFile::default(),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        Ok(CredentialStore { path, file })
    }

    fn get(&self, registry: &str) -> Option<Credentials> {
        let entry = self.file.auths.get(registry)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&entry.auth)
            .ok()?;
        let (username, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    /// Sets or (with `None`) removes a registry's credentials; answers whether there were any.
    fn set(&mut self, registry: &str, credentials: Option<&Credentials>) -> bool {
        match credentials {
            Some(c) => {
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password));
                self.file
                    .auths
                    .insert(registry.to_string(), AuthEntry { auth })
                    .is_some()
            }
            None => self.file.auths.remove(registry).is_some(),
        }
    }

    fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let bytes = serde_json::to_vec_pretty(&self.file)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        file.write_all(&bytes)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_as_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
