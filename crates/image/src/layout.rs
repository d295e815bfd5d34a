//! The local image store: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) whose
//! index names each image by its full reference (`org.opencontainers.image.ref.name`). Every blob is
//! checked against its digest when read; files are replaced whole (written beside, then renamed).

use crate::bundle::write_atomically;
use crate::error::ImageError;
use crate::image::{Descriptor, ImageManifest};
use crate::reference::is_digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The annotation an OCI layout index names its images with.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Serialises the read-modify-write of `index.json` within the process (several tenants may follow
/// images into one store); another process updating the same store at the same moment can still
/// lose a name.
static INDEX_UPDATE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An OCI layout's `index.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// An image store in a folder.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens the store in `root`, making an empty OCI layout there when there is none.
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(ImageError::io(root))?;
        let store = ImageStore {
            root: root.to_path_buf(),
        };
        let layout = root.join("oci-layout");
        if !layout.exists() {
            write_atomically(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !root.join("index.json").exists() {
            store.write_index(&Index {
                schema_version: 2,
                media_type: Some(crate::image::INDEX_MEDIA_TYPE.to_string()),
                manifests: Vec::new(),
            })?;
        }
        Ok(store)
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        if !is_digest(digest) {
            return Err(ImageError::Format {
                reference: digest.to_string(),
                message: "not a sha256 digest".to_string(),
            });
        }
        Ok(self
            .root
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")))
    }

    /// Stores a blob; answers its digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = crate::digest(bytes);
        let path = self.blob_path(&digest)?;
        if !path.exists() {
            write_atomically(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Whether the store holds a blob.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|path| path.exists())
    }

    /// A blob's bytes, checked against its digest.
    pub fn blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let bytes = std::fs::read(&path).map_err(ImageError::io(&path))?;
        crate::verify(&bytes, digest, &path.display().to_string())?;
        Ok(bytes)
    }

    fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(ImageError::io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Format {
            reference: path.display().to_string(),
            message: format!("not an OCI image index: {e}"),
        })
    }

    fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(index).map_err(|e| ImageError::Format {
            reference: "index.json".to_string(),
            message: e.to_string(),
        })?;
        write_atomically(&self.root.join("index.json"), &bytes)
    }

    /// Names a stored manifest `name` (a reference), replacing what the name named before.
    pub fn tag(&self, name: &str, manifest: &Descriptor) -> Result<(), ImageError> {
        let _update = INDEX_UPDATE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut index = self.read_index()?;
        index.manifests.retain(|d| d.ref_name() != Some(name));
        let mut descriptor = manifest.clone();
        // The index entry repeats the manifest's annotations (created, title), as Aserto's CLI
        // writes it, so listing images reads the index only.
        let mut annotations = self
            .manifest(manifest)
            .ok()
            .and_then(|m| m.annotations)
            .unwrap_or_default();
        annotations.insert(REF_NAME.to_string(), name.to_string());
        descriptor.annotations = Some(annotations);
        index.manifests.push(descriptor);
        index
            .manifests
            .sort_by(|a, b| a.ref_name().cmp(&b.ref_name()));
        self.write_index(&index)
    }

    /// The manifest a name (or a manifest digest, or `name@digest`) stands for.
    pub fn resolve(&self, name: &str) -> Result<Descriptor, ImageError> {
        let index = self.read_index()?;
        let digest = name
            .rsplit_once('@')
            .map(|(_, d)| d)
            .or(is_digest(name).then_some(name));
        index
            .manifests
            .into_iter()
            .find(|d| match digest {
                Some(digest) => d.digest == digest,
                None => d.ref_name() == Some(name),
            })
            .ok_or_else(|| ImageError::NotFound {
                reference: name.to_string(),
            })
    }

    /// A stored manifest, parsed.
    pub fn manifest(&self, descriptor: &Descriptor) -> Result<ImageManifest, ImageError> {
        let bytes = self.blob(&descriptor.digest)?;
        ImageManifest::parse(&bytes, &descriptor.digest)
    }

    /// Every named image, by name.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>, ImageError> {
        Ok(self
            .read_index()?
            .manifests
            .into_iter()
            .filter_map(|d| Some((d.ref_name()?.to_string(), d)))
            .collect())
    }

    /// Removes a name; blobs no remaining image needs are deleted.
    pub fn remove(&self, name: &str) -> Result<(), ImageError> {
        let _update = INDEX_UPDATE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| d.ref_name() != Some(name));
        if index.manifests.len() == before {
            return Err(ImageError::NotFound {
                reference: name.to_string(),
            });
        }
        self.write_index(&index)?;
        let mut kept = BTreeSet::new();
        for descriptor in &index.manifests {
            kept.insert(descriptor.digest.clone());
            if let Ok(manifest) = self.manifest(descriptor) {
                kept.insert(manifest.config.digest.clone());
                kept.extend(manifest.layers.iter().map(|l| l.digest.clone()));
            }
        }
        let blobs = self.root.join("blobs/sha256");
        for entry in std::fs::read_dir(&blobs).map_err(ImageError::io(&blobs))? {
            let path = entry.map_err(ImageError::io(&blobs))?.path();
            let name = path
                .file_name()
                .map(|n| format!("sha256:{}", n.to_string_lossy()))
                .unwrap_or_default();
            if is_digest(&name) && !kept.contains(&name) {
                std::fs::remove_file(&path).map_err(ImageError::io(&path))?;
            }
        }
        Ok(())
    }

    /// Writes one image as a standalone OCI layout in `dest`, named `tag` there (as `skopeo` reads
    /// `oci:DEST:TAG`).
    pub fn save(&self, name: &str, dest: &Path, tag: &str) -> Result<Descriptor, ImageError> {
        let descriptor = self.resolve(name)?;
        let manifest = self.manifest(&descriptor)?;
        let target = ImageStore::open(dest)?;
        for digest in std::iter::once(&descriptor.digest)
            .chain(std::iter::once(&manifest.config.digest))
            .chain(manifest.layers.iter().map(|l| &l.digest))
        {
            target.put_blob(&self.blob(digest)?)?;
        }
        let mut plain = descriptor.clone();
        plain.annotations = None;
        target.tag(tag, &plain)?;
        Ok(descriptor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::image::{build_image, ImageOptions};

    fn bundle() -> crate::bundle::Bundle {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.rego"), "package p\nallowed := true\n").unwrap();
        crate::bundle::build(dir.path(), Some("r1")).unwrap()
    }

    #[test]
    fn images_are_tagged_resolved_listed_saved_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&dir.path().join("images")).unwrap();
        let options = ImageOptions::default();
        let built = build_image(&store, &bundle(), &options).unwrap();
        store.tag("localhost:5000/p:1", &built).unwrap();
        store.tag("localhost:5000/p:2", &built).unwrap();
        assert_eq!(
            store.resolve("localhost:5000/p:1").unwrap().digest,
            built.digest
        );
        assert_eq!(store.resolve(&built.digest).unwrap().digest, built.digest);
        assert_eq!(store.images().unwrap().len(), 2);

        let saved = dir.path().join("saved");
        store.save("localhost:5000/p:1", &saved, "v1").unwrap();
        let copy = ImageStore::open(&saved).unwrap();
        let manifest = copy.manifest(&copy.resolve("v1").unwrap()).unwrap();
        assert_eq!(
            copy.blob(&manifest.layers[0].digest).unwrap(),
            bundle().bytes
        );

        store.remove("localhost:5000/p:1").unwrap();
        assert!(store.has_blob(&built.digest), "still named p:2");
        store.remove("localhost:5000/p:2").unwrap();
        assert!(!store.has_blob(&built.digest));
        let error = store.resolve("localhost:5000/p:2").unwrap_err().to_string();
        assert!(error.contains("no image localhost:5000/p:2"), "{error}");
    }

    #[test]
    fn a_blob_whose_content_changed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let digest = store.put_blob(b"policy").unwrap();
        let path = dir.path().join("blobs/sha256").join(&digest[7..]);
        std::fs::write(&path, b"tampered").unwrap();
        let error = store.blob(&digest).unwrap_err().to_string();
        assert!(error.contains("expected sha256:"), "{error}");
    }
}
