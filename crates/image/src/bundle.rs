//! OPA bundles: a gzipped tar of Rego modules and data documents with a `.manifest`, built from a
//! policy folder byte for byte the same every time (sorted entries, no timestamps or owners), so an
//! unchanged folder makes an unchanged digest.

use crate::error::ImageError;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

/// Largest file put into or read from a bundle.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A bundle's `.manifest`, as OPA writes it (fields Lictor does not read are kept).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// The bundle's revision, named in every decision made with it.
    #[serde(default)]
    pub revision: String,
    /// The `data` paths the bundle owns; `[""]` is all of them.
    #[serde(default)]
    pub roots: Vec<String>,
    /// OPA's other fields (`metadata`, `rego_version`, …), kept as given.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A built bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The gzipped tar.
    pub bytes: Vec<u8>,
    /// Its manifest.
    pub manifest: BundleManifest,
    /// The files it holds, `/`-separated, in order.
    pub files: Vec<String>,
}

/// Builds a bundle from a folder: every `*.rego` module, every `data.json` / `data.yaml` document,
/// the Topaz manifest (`manifest.yaml` at the top) and a Cerbos policy store (the `cerbos` folder at
/// the top). A `.manifest` in the folder is kept (its revision replaced by `revision` when given);
/// otherwise the bundle owns every root. Without a revision, the revision is the first 12 hex
/// digits of the content's SHA-256.
pub fn build(dir: &Path, revision: Option<&str>) -> Result<Bundle, ImageError> {
    let bad = |message: String| ImageError::Bundle {
        path: dir.display().to_string(),
        message,
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if !files.iter().any(|(name, _)| name.ends_with(".rego")) {
        return Err(bad("holds no .rego module".to_string()));
    }
    let mut manifest = match std::fs::read(dir.join(".manifest")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!(".manifest is not a bundle manifest: {e}")))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BundleManifest {
            roots: vec![String::new()],
            ..BundleManifest::default()
        },
        Err(error) => return Err(ImageError::io(dir.join(".manifest"))(error)),
    };
    manifest.revision = match revision {
        Some(revision) => revision.to_string(),
        None if manifest.revision.is_empty() => {
            let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
            for (name, bytes) in &files {
                sha2::Digest::update(&mut hasher, name.as_bytes());
                sha2::Digest::update(&mut hasher, [0]);
                sha2::Digest::update(&mut hasher, bytes);
                sha2::Digest::update(&mut hasher, [0]);
            }
            crate::hex(&sha2::Digest::finalize(hasher))
                .chars()
                .take(12)
                .collect()
        }
        None => manifest.revision,
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| bad(e.to_string()))?;
    let gzip = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(gzip);
    let mut names = Vec::with_capacity(files.len() + 1);
    for (name, bytes) in std::iter::once((".manifest".to_string(), manifest_bytes)).chain(files) {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, &name, bytes.as_slice())
            .map_err(|e| bad(format!("{name}: {e}")))?;
        names.push(name);
    }
    let bytes = archive
        .into_inner()
        .and_then(|gzip| gzip.finish())
        .map_err(|e| bad(e.to_string()))?;
    Ok(Bundle {
        bytes,
        manifest,
        files: names,
    })
}

/// Whether a file (by its `/`-separated path in the folder) goes into the bundle.
fn bundled(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    relative.ends_with(".rego")
        || matches!(name, "data.json" | "data.yaml" | "data.yml")
        || matches!(relative, "manifest.yaml" | "manifest.yml")
        || (relative.starts_with("cerbos/")
            && [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e)))
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) -> Result<(), ImageError> {
    for entry in std::fs::read_dir(dir).map_err(ImageError::io(dir))? {
        let path = entry.map_err(ImageError::io(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(ImageError::io(&path))?;
        if meta.is_dir() {
            collect(root, &path, files)?;
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if !bundled(&relative) {
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(ImageError::Bundle {
                path: path.display().to_string(),
                message: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        let bytes = std::fs::read(&path).map_err(ImageError::io(&path))?;
        files.push((relative, bytes));
    }
    Ok(())
}

/// An entry of a bundle being read.
type Entry<'b> = tar::Entry<'b, flate2::read::GzDecoder<&'b [u8]>>;

/// Calls `each` with every entry of a bundle and its path, in archive order, until it answers a
/// value; `name` labels errors.
fn find_entry<T>(
    bundle: &[u8],
    name: &str,
    mut each: impl FnMut(&str, &mut Entry<'_>) -> Result<Option<T>, ImageError>,
) -> Result<Option<T>, ImageError> {
    let bad = |message: String| bundle_error(name, message);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bundle));
    for entry in archive
        .entries()
        .map_err(|e| bad(format!("not a gzipped tar archive: {e}")))?
    {
        let mut entry = entry.map_err(|e| bad(format!("unreadable archive entry: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("bad entry path: {e}")))?
            .to_string_lossy()
            .into_owned();
        if let Some(found) = each(&path, &mut entry)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn bundle_error(name: &str, message: String) -> ImageError {
    ImageError::Bundle {
        path: name.to_string(),
        message,
    }
}

/// Reads the `.manifest` of a bundle (an empty manifest when it has none).
pub fn read_manifest(bundle: &[u8], name: &str) -> Result<BundleManifest, ImageError> {
    let found = find_entry(bundle, name, |path, entry| {
        if path.trim_start_matches(['/', '.']) != "manifest"
            || !entry.header().entry_type().is_file()
        {
            return Ok(None);
        }
        let mut text = Vec::new();
        entry
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut text)
            .map_err(|e| bundle_error(name, format!(".manifest: {e}")))?;
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| bundle_error(name, format!(".manifest is not a bundle manifest: {e}")))
    })?;
    Ok(found.unwrap_or_default())
}

/// The files of a bundle, in archive order.
pub fn files(bundle: &[u8], name: &str) -> Result<Vec<String>, ImageError> {
    let mut files = Vec::new();
    find_entry::<()>(bundle, name, |path, _| {
        files.push(path.to_string());
        Ok(None)
    })?;
    Ok(files)
}

/// Writes bytes to a file, whole or not at all: into a temporary file beside it, then renamed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(ImageError::io(dir))?;
    // A name of its own per write, so that two writers of one file never share a temporary.
    let temporary = dir.join(format!(
        ".{}.{}.{}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut file = std::fs::File::create(&temporary).map_err(ImageError::io(&temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(ImageError::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(ImageError::io(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_folder_makes_the_same_bundle_every_time_with_only_policy_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "rebac.rego", "package rebac\nallowed := true\n");
        write(dir.path(), "app/data.json", "{\"x\": 1}");
        write(dir.path(), "manifest.yaml", "model:\n  version: 3\n");
        write(
            dir.path(),
            "cerbos/todo.yaml",
            "apiVersion: api.cerbos.dev/v1\n",
        );
        write(dir.path(), "README.md", "not bundled");
        write(dir.path(), ".git/config", "not bundled");
        let first = build(dir.path(), None).unwrap();
        let second = build(dir.path(), None).unwrap();
        assert_eq!(first.bytes, second.bytes);
        assert_eq!(
            first.files,
            [
                ".manifest",
                "app/data.json",
                "cerbos/todo.yaml",
                "manifest.yaml",
                "rebac.rego"
            ]
        );
        assert_eq!(first.manifest.roots, [""]);
        assert_eq!(first.manifest.revision.len(), 12);
        assert_eq!(read_manifest(&first.bytes, "b").unwrap(), first.manifest);
        assert_eq!(files(&first.bytes, "b").unwrap(), first.files);
        // A change of content changes the revision; a given revision is kept.
        write(
            dir.path(),
            "rebac.rego",
            "package rebac\nallowed := false\n",
        );
        assert_ne!(
            build(dir.path(), None).unwrap().manifest.revision,
            first.manifest.revision
        );
        assert_eq!(
            build(dir.path(), Some("v7")).unwrap().manifest.revision,
            "v7"
        );
    }

    #[test]
    fn a_folder_without_policies_or_with_a_bad_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = build(dir.path(), None).unwrap_err().to_string();
        assert!(error.contains("no .rego module"), "{error}");
        write(dir.path(), "p.rego", "package p\n");
        write(dir.path(), ".manifest", "{\"roots\": 3}");
        let error = build(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.contains(".manifest is not a bundle manifest"),
            "{error}"
        );
        write(
            dir.path(),
            ".manifest",
            "{\"roots\": [\"p\"], \"revision\": \"r1\", \"rego_version\": 1}",
        );
        let bundle = build(dir.path(), None).unwrap();
        assert_eq!(bundle.manifest.revision, "r1");
        assert_eq!(bundle.manifest.roots, ["p"]);
        assert_eq!(bundle.manifest.other["rego_version"], 1);
    }
}
