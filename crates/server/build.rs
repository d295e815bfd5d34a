//! Compiles the web console's files (`console/` at the workspace root) into the binary: lists each
//! file with `include_bytes!` in `OUT_DIR/console_assets.rs`, so `cargo build` alone builds it.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .join("../../console")
        .canonicalize()
        .map_err(|error| {
            format!("the console's files are expected in console/ at the workspace root: {error}")
        })?;
    // Cargo rescans a directory given here for any change below it.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files)?;
    files.sort();
    let mut out = String::from("/// Every console file: its path below `/ui/` and its bytes.\n");
    out.push_str("pub const ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        writeln!(out, "    ({name:?}, include_bytes!({:?})),", path.display())?;
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR")?).join("console_assets.rs");
    std::fs::write(target, out)?;
    Ok(())
}

/// The files under `dir`, skipping the console's tests, their packages and hidden files.
fn collect(
    root: &Path,
    dir: &Path,
    files: &mut Vec<(String, PathBuf)>,
) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 name", path.display()))?;
        if name.starts_with('.') || name == "test" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files)?;
        } else {
            let relative = path
                .strip_prefix(root)?
                .to_str()
                .ok_or_else(|| format!("{}: not a UTF-8 path", path.display()))?
                .replace('\\', "/");
            files.push((relative, path));
        }
    }
    Ok(())
}
