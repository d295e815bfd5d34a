//! Policy images: an OCI image manifest whose layer is an OPA bundle, in the layout Aserto's policy
//! CLI and Topaz read (an OCI image config, one gzipped-tar layer titled with the bundle's file name).

use crate::bundle::Bundle;
use crate::error::ImageError;
use crate::layout::ImageStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The bundle layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Layer media types a bundle is read from: OCI's and Docker's gzipped tar, and OPA's own.
const BUNDLE_LAYER_MEDIA_TYPES: [&str; 3] = [
    LAYER_MEDIA_TYPE,
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.openpolicyagent.layer.v1.tar+gzip",
];
/// The title annotation: the layer's file name.
pub const TITLE: &str = "org.opencontainers.image.title";
/// When the image was made (RFC 3339).
pub const CREATED: &str = "org.opencontainers.image.created";
/// The bundle revision the image holds.
pub const REVISION: &str = "org.opencontainers.image.revision";
/// The Open Policy Registry's image type (`policy`).
pub const POLICY_TYPE: &str = "org.openpolicyregistry.type";
/// The Rego version of the modules, as Aserto's policy CLI writes it (`rego.v1`).
pub const REGO_VERSION: &str = "rego.version";

/// A content descriptor: what a manifest or index says of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The blob's media type.
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Its length in bytes.
    pub size: u64,
    /// Annotations, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// The name an OCI layout index gives it.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotation(crate::layout::REF_NAME)
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An OCI (or Docker v2) image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`], or absent in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers; a policy image's one layer is its bundle.
    pub layers: Vec<Descriptor>,
    /// Annotations, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageManifest {
    /// Parses a manifest; `name` labels errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<ImageManifest, ImageError> {
        let manifest: ImageManifest =
            serde_json::from_slice(bytes).map_err(|e| ImageError::Format {
                reference: name.to_string(),
                message: format!("not an image manifest: {e}"),
            })?;
        if manifest.schema_version != 2 {
            return Err(ImageError::Format {
                reference: name.to_string(),
                message: format!("schemaVersion {} (2 expected)", manifest.schema_version),
            });
        }
        Ok(manifest)
    }

    /// The layer holding the bundle: the one gzipped-tar layer (by media type).
    pub fn bundle_layer(&self, name: &str) -> Result<&Descriptor, ImageError> {
        let mut layers = self
            .layers
            .iter()
            .filter(|l| BUNDLE_LAYER_MEDIA_TYPES.contains(&l.media_type.as_str()));
        match (layers.next(), layers.next()) {
            (Some(layer), None) => Ok(layer),
            (None, _) => Err(ImageError::Format {
                reference: name.to_string(),
                message: format!(
                    "no bundle layer (a layer of media type {LAYER_MEDIA_TYPE}); layers: {}",
                    self.layers
                        .iter()
                        .map(|l| l.media_type.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            (Some(_), Some(_)) => Err(ImageError::Format {
                reference: name.to_string(),
                message: "more than one bundle layer".to_string(),
            }),
        }
    }
}

/// What an image says of itself beyond its bundle.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// `org.opencontainers.image.title`: the image's name (Aserto's CLI writes the repository).
    pub title: Option<String>,
    /// `org.opencontainers.image.created`; none keeps the digest the same for the same bundle.
    pub created: Option<String>,
    /// More manifest annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Stores a bundle as a policy image; answers the manifest's descriptor (not yet named).
pub fn build_image(
    store: &ImageStore,
    bundle: &Bundle,
    options: &ImageOptions,
) -> Result<Descriptor, ImageError> {
    let layer_digest = store.put_blob(&bundle.bytes)?;
    let config = serde_json::json!({
        "architecture": "",
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let config_bytes = serde_json::to_vec(&config).map_err(|e| format_error(&e))?;
    let config_digest = store.put_blob(&config_bytes)?;
    // As Aserto's policy CLI does, the layer and the manifest carry the same annotations.
    let mut annotations = options.annotations.clone();
    annotations.insert(POLICY_TYPE.to_string(), "policy".to_string());
    annotations.insert(REGO_VERSION.to_string(), "rego.v1".to_string());
    annotations.insert(REVISION.to_string(), bundle.manifest.revision.clone());
    if let Some(title) = &options.title {
        annotations.insert(TITLE.to_string(), title.clone());
    }
    if let Some(created) = &options.created {
        annotations.insert(CREATED.to_string(), created.clone());
    }
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_string()),
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.to_string(),
            digest: config_digest,
            size: config_bytes.len() as u64,
            annotations: None,
        },
        layers: vec![Descriptor {
            media_type: LAYER_MEDIA_TYPE.to_string(),
            digest: layer_digest,
            size: bundle.bytes.len() as u64,
            annotations: Some(annotations.clone()),
        }],
        annotations: Some(annotations),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|e| format_error(&e))?;
    let digest = store.put_blob(&bytes)?;
    Ok(Descriptor {
        media_type: MANIFEST_MEDIA_TYPE.to_string(),
        digest,
        size: bytes.len() as u64,
        annotations: None,
    })
}

fn format_error(error: &serde_json::Error) -> ImageError {
    ImageError::Format {
        reference: "new image".to_string(),
        message: error.to_string(),
    }
}

/// A stored image's bundle, checked against the digests its manifest names.
pub fn read_bundle(
    store: &ImageStore,
    manifest: &Descriptor,
) -> Result<(ImageManifest, Vec<u8>), ImageError> {
    let parsed = store.manifest(manifest)?;
    let layer = parsed.bundle_layer(&manifest.digest)?;
    let bundle = store.blob(&layer.digest)?;
    Ok((parsed, bundle))
}
