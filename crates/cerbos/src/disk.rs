//! Reading a disk store directory into memory: the only I/O of this crate.

use std::path::{Path, PathBuf};

/// One file of a policy store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// Path relative to the store root, with `/` separators.
    pub path: String,
    /// The file's text.
    pub text: String,
}

/// Failure to read a store directory.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct ReadStoreError {
    /// The file or directory that could not be read.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

/// Reads every `.yaml`, `.yml` and `.json` file under `dir`, skipping hidden files and directories (names
/// starting with `.`). Test fixtures (`testdata/`) and suites are read too; the compiler passes them
/// over. Paths are sorted for a stable order.
pub fn read_store(dir: &Path) -> Result<Vec<PolicyFile>, ReadStoreError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<PolicyFile>) -> Result<(), ReadStoreError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadStoreError { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(error(dir))? {
        let entry = entry.map_err(error(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(error(&path))?;
        if file_type.is_dir() {
            walk(root, &path, files)?;
            continue;
        }
        if ![".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(error(&path))?;
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.push(PolicyFile {
            path: relative.join("/"),
            text,
        });
    }
    Ok(())
}
