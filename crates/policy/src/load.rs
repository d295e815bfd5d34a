//! Loading a policy set from a directory tree or an OPA bundle (`.tar.gz`).
//!
//! Both follow OPA's layout: every `*.rego` file is a module; a `data.json` or `data.yaml` file is
//! merged into `data` at the path of the directory holding it (`a/b/data.json` becomes `data.a.b`).

use crate::error::PolicyError;
use crate::set::{DataSource, ModuleSource, PolicySet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file read from a bundle.
const MAX_BUNDLE_FILE: u64 = 64 * 1024 * 1024;

/// Modules and data collected from files.
#[derive(Default)]
struct Collected {
    modules: Vec<ModuleSource>,
    data: Vec<DataSource>,
}

impl Collected {
    /// Files a file under its relative path (`/`-separated): a module, a data document, or nothing.
    fn add(&mut self, relative: &str, origin: String, bytes: Vec<u8>) -> Result<(), PolicyError> {
        let (dir, name) = match relative.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", relative),
        };
        let is_module = name.ends_with(".rego");
        if !is_module && !matches!(name, "data.json" | "data.yaml" | "data.yml") {
            return Ok(());
        }
        let source = String::from_utf8(bytes).map_err(|_| PolicyError::Load {
            file: origin.clone(),
            message: "not valid UTF-8".to_string(),
        })?;
        if is_module {
            self.modules.push(ModuleSource {
                id: relative.to_string(),
                origin: origin.clone(),
                source,
            });
        } else {
            let value = if name == "data.json" {
                serde_json::from_str(&source).map_err(|error| PolicyError::Load {
                    file: origin.clone(),
                    message: format!("invalid JSON: {error}"),
                })?
            } else {
                let value =
                    regorus::Value::from_yaml_str(&source).map_err(|error| PolicyError::Load {
                        file: origin.clone(),
                        message: format!("invalid YAML: {error}"),
                    })?;
                serde_json::to_value(&value).map_err(|error| PolicyError::Load {
                    file: origin.clone(),
                    message: format!("invalid YAML: {error}"),
                })?
            };
            let path = dir
                .split('/')
                .filter(|segment| !segment.is_empty())
                .map(str::to_string)
                .collect();
            self.data.push(DataSource {
                origin,
                path,
                value,
            });
        }
        Ok(())
    }

    fn build(self) -> Result<PolicySet, PolicyError> {
        PolicySet::build(self.modules, self.data)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> PolicyError {
    PolicyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether a file or directory name is hidden (OPA's `.manifest`, editor and VCS files).
fn hidden(name: &str) -> bool {
    name.starts_with('.')
}

impl PolicySet {
    /// Loads every `*.rego` file below `root` (recursively; hidden entries skipped) and every
    /// `data.json`/`data.yaml`, merged into `data` at its directory's path relative to `root`.
    /// Module ids are paths relative to `root`; diagnostics name the file as found on disk.
    pub fn load_dir(root: &Path) -> Result<PolicySet, PolicyError> {
        let mut collected = Collected::default();
        let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .map_err(|e| io_error(&dir, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| io_error(&dir, e))?;
            entries.sort_by_key(|entry| entry.file_name());
            for entry in entries.into_iter().rev() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if hidden(&name) {
                    continue;
                }
                let path = entry.path();
                let relative = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                // Follows symlinks, as a directory of mounted policies often has them.
                let meta = std::fs::metadata(&path).map_err(|e| io_error(&path, e))?;
                if meta.is_dir() {
                    pending.push((path, relative));
                } else if relative.ends_with(".rego")
                    || matches!(
                        path.file_name().and_then(|n| n.to_str()),
                        Some("data.json" | "data.yaml" | "data.yml")
                    )
                {
                    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
                    collected.add(&relative, path.display().to_string(), bytes)?;
                }
            }
        }
        collected.modules.sort_by(|a, b| a.id.cmp(&b.id));
        collected.build()
    }

    /// Loads an OPA bundle: a gzipped tar of `*.rego` modules and `data.json`/`data.yaml` documents
    /// (its `.manifest` and other files are ignored). Module ids are paths inside the bundle;
    /// diagnostics name them as `<bundle>/<path>`.
    pub fn load_bundle(bundle: &Path) -> Result<PolicySet, PolicyError> {
        let file = std::fs::File::open(bundle).map_err(|e| io_error(bundle, e))?;
        Self::read_bundle(file, &bundle.display().to_string())
    }

    /// Like [`PolicySet::load_bundle`], from bytes; `name` labels diagnostics.
    pub fn read_bundle(reader: impl Read, name: &str) -> Result<PolicySet, PolicyError> {
        let bad = |message: String| PolicyError::Load {
            file: name.to_string(),
            message,
        };
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
        let mut collected = Collected::default();
        let mut revision = None;
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a gzipped tar archive: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(format!("unreadable archive entry: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| bad(format!("bad entry path: {e}")))?
                .to_string_lossy()
                .into_owned();
            let relative = path
                .split('/')
                .filter(|segment| !segment.is_empty() && *segment != ".")
                .collect::<Vec<_>>()
                .join("/");
            if relative == ".manifest" {
                let mut text = Vec::new();
                entry
                    .take(MAX_BUNDLE_FILE)
                    .read_to_end(&mut text)
                    .map_err(|e| bad(format!(".manifest: {e}")))?;
                let manifest: serde_json::Value = serde_json::from_slice(&text)
                    .map_err(|e| bad(format!(".manifest is not JSON: {e}")))?;
                revision = manifest
                    .get("revision")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string);
                continue;
            }
            if relative.split('/').any(hidden) {
                continue;
            }
            let interesting = relative.ends_with(".rego")
                || matches!(
                    relative.rsplit('/').next(),
                    Some("data.json" | "data.yaml" | "data.yml")
                );
            if !interesting {
                continue;
            }
            if entry.size() > MAX_BUNDLE_FILE {
                return Err(bad(format!(
                    "{relative} is larger than {MAX_BUNDLE_FILE} bytes"
                )));
            }
            let mut bytes = Vec::new();
            entry
                .take(MAX_BUNDLE_FILE)
                .read_to_end(&mut bytes)
                .map_err(|e| bad(format!("{relative}: {e}")))?;
            collected.add(&relative, format!("{name}/{relative}"), bytes)?;
        }
        collected.modules.sort_by(|a, b| a.id.cmp(&b.id));
        let mut set = collected.build()?;
        set.set_provenance(crate::Provenance {
            bundle_revision: revision,
            image: None,
        });
        Ok(set)
    }
}
