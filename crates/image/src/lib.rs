//! Policy as code shipped like code: OPA bundles built from a policy folder (`bundle`), wrapped as OCI
//! policy images (`image`), kept in a local OCI image layout (`layout`), and pushed to or pulled from
//! any OCI distribution registry (`registry`). Every blob is checked against its digest.

mod bundle;
mod error;
mod image;
mod layout;
mod reference;
mod registry;

pub use bundle::{
    build as build_bundle, files as bundle_files, read_manifest as read_bundle_manifest, Bundle,
    BundleManifest,
};
pub use error::ImageError;
pub use image::{
    build_image, read_bundle, Descriptor, ImageManifest, ImageOptions, CONFIG_MEDIA_TYPE, CREATED,
    LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, POLICY_TYPE, REGO_VERSION, REVISION, TITLE,
};
pub use layout::{ImageStore, REF_NAME};
pub use reference::{is_digest, Reference};
pub use registry::{Credentials, Progress, Registry, RegistryOptions};

/// The `sha256:…` digest of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(&<sha2::Sha256 as sha2::Digest>::digest(bytes))
    )
}

/// Checks that bytes have the digest they were named by; `what` labels the error.
pub fn verify(bytes: &[u8], expected: &str, what: &str) -> Result<(), ImageError> {
    let actual = digest(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
