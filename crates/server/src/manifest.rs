//! The manifest as the model service hands it out on both transports: source, etag and a JSON view.

use crate::api_error::{ApiError, Code};
use crate::service::directory::store_error;
use crate::tenant::Tenant;
use lictor_proto::wkt;
use serde_json::Value;

/// Largest manifest accepted, in bytes.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Size of the body chunks GetManifest streams.
pub const CHUNK: usize = 64 * 1024;

/// The tenant's current manifest.
pub struct Manifest {
    /// The YAML source (empty when none is set).
    pub source: String,
    /// A content hash: equal sources have equal etags, across restarts too.
    pub etag: String,
    /// When it was last set, if the store recorded it.
    pub updated_at: Option<wkt::Timestamp>,
}

/// The current manifest of a tenant.
pub fn current(tenant: &Tenant) -> Result<Manifest, ApiError> {
    let source = tenant.store.manifest_source().unwrap_or_default();
    Ok(Manifest {
        etag: etag(&source),
        source,
        updated_at: tenant
            .store
            .records()
            .manifest_updated_at()
            .map_err(store_error)?
            .map(crate::grpc::timestamp),
    })
}

/// Replaces the tenant's manifest; returns the new directory revision. With `if_match`, only while
/// the stored manifest's etag is that one (`*` matches any); otherwise FAILED_PRECONDITION, naming both.
pub fn set(tenant: &Tenant, source: &str, if_match: Option<&str>) -> Result<u64, ApiError> {
    if source.len() > MAX_BYTES {
        return Err(ApiError::new(
            Code::ResourceExhausted,
            format!("the manifest is larger than {MAX_BYTES} bytes"),
        )
        .with_http_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE));
    }
    let expected = |current: &str| {
        let Some(wanted) = if_match else {
            return Ok(());
        };
        let actual = etag(current);
        let matches = wanted
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|tag| tag == "*" || tag == actual);
        if matches {
            Ok(())
        } else {
            Err(lictor_store::StoreError::EtagMismatch {
                record: "the manifest".to_string(),
                expected: wanted.to_string(),
                actual,
            })
        }
    };
    tenant
        .store
        .set_manifest_if("manifest.yaml", source, expected)
        .map_err(store_error)
}

/// The content etag of a manifest source (FNV-1a, so it is stable across builds and restarts).
pub fn etag(source: &str) -> String {
    etag_bytes(source.as_bytes())
}

/// The content etag of any bytes, as [`etag`] computes it.
pub fn etag_bytes(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The manifest as JSON, for callers that ask for the model rather than the YAML.
pub fn model_json(source: &str) -> Result<Value, ApiError> {
    if source.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_yaml_ng::from_str(source)
        .map_err(|e| ApiError::invalid(format!("the stored manifest is not valid YAML: {e}")))
}
