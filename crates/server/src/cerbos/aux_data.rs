//! `auxData.jwt`: tokens a request carries for its policies. Each is verified with the configured
//! key sets (`auxData.jwt.keySets`, local JWKS or PEM keys) and its claims become
//! `request.aux_data.jwt` in conditions. A token that does not verify fails the request with
//! `invalid auxData`, as in Cerbos; the reason goes to the server log only.

use super::config::{CerbosSettings, JwtKeySet, KeySource};
use crate::api_error::ApiError;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lictor_proto::cerbos::request::v1::AuxData;
use serde_json::Value;

/// Why a key set could not be loaded at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auxData.jwt.keySets {id:?}: {message}")]
pub struct KeySetError {
    /// The key set's id.
    pub id: String,
    /// What is wrong.
    pub message: String,
}

/// A key: the id tokens name it by, if any, and the key.
struct Key {
    kid: Option<String>,
    algorithm: Option<Algorithm>,
    key: DecodingKey,
}

struct KeySet {
    id: String,
    keys: Vec<Key>,
}

/// The configured key sets.
pub struct AuxDataVerifier {
    key_sets: Vec<KeySet>,
    verify: bool,
}

impl AuxDataVerifier {
    /// Loads every key set; one that cannot be read is a start-up error naming it.
    pub fn new(settings: &CerbosSettings) -> Result<AuxDataVerifier, KeySetError> {
        let key_sets = settings
            .jwt_key_sets
            .iter()
            .map(load_key_set)
            .collect::<Result<_, _>>()?;
        Ok(AuxDataVerifier {
            key_sets,
            verify: !settings.jwt_disable_verification,
        })
    }

    /// The claims of the request's token as `{"jwt": {...}}`, or `None` without a token.
    pub fn extract(&self, aux_data: Option<&AuxData>) -> Result<Option<Value>, ApiError> {
        let Some(jwt) = aux_data.and_then(|a| a.jwt.as_ref()) else {
            return Ok(None);
        };
        match self.claims(&jwt.token, &jwt.key_set_id) {
            Ok(claims) => Ok(Some(serde_json::json!({ "jwt": claims }))),
            Err(reason) => {
                tracing::warn!(%reason, "auxData JWT refused");
                Err(ApiError::invalid("invalid auxData"))
            }
        }
    }

    fn claims(&self, token: &str, key_set_id: &str) -> Result<Value, String> {
        if !self.verify {
            return unverified_claims(token);
        }
        let set = if key_set_id.is_empty() {
            match self.key_sets.as_slice() {
                [only] => only,
                [] => return Err("no auxData.jwt.keySets are configured".into()),
                _ => return Err("keySetId is required when several key sets are configured".into()),
            }
        } else {
            self.key_sets
                .iter()
                .find(|set| set.id == key_set_id)
                .ok_or_else(|| format!("no key set {key_set_id:?}"))?
        };
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
        let mut last_error = format!("key set {:?} has no key for this token", set.id);
        for key in set.keys.iter().filter(|k| {
            k.algorithm.is_none_or(|a| a == header.alg)
                && (header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
        }) {
            let mut validation = Validation::new(header.alg);
            validation.validate_aud = false;
            validation.required_spec_claims.clear();
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => last_error = error.to_string(),
            }
        }
        Err(last_error)
    }
}

/// The payload of a token read without checking its signature.
fn unverified_claims(token: &str) -> Result<Value, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| "not a JWT (header.payload.signature)".to_string())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("payload: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("payload: {e}"))
}

fn load_key_set(config: &JwtKeySet) -> Result<KeySet, KeySetError> {
    let fail = |message: String| KeySetError {
        id: config.id.clone(),
        message,
    };
    let bytes = match &config.source {
        KeySource::File(path) => {
            std::fs::read(path).map_err(|e| fail(format!("local.file {}: {e}", path.display())))?
        }
        KeySource::Data(data) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| fail(format!("local.data is not base64: {e}")))?,
    };
    let keys = if bytes.trim_ascii_start().starts_with(b"{") {
        let set: JwkSet = serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("not a JWKS document: {e}")))?;
        set.keys
            .iter()
            .map(|jwk| {
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| fail(format!("key {:?}: {e}", jwk.common.key_id)))?;
                let algorithm = jwk
                    .common
                    .key_algorithm
                    .and_then(|a| a.to_string().parse::<Algorithm>().ok());
                Ok(Key {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    key,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let key = DecodingKey::from_rsa_pem(&bytes)
            .or_else(|_| DecodingKey::from_ec_pem(&bytes))
            .or_else(|_| DecodingKey::from_ed_pem(&bytes))
            .map_err(|e| fail(format!("neither a JWKS document nor a PEM public key: {e}")))?;
        vec![Key {
            kid: None,
            algorithm: None,
            key,
        }]
    };
    if keys.is_empty() {
        return Err(fail("holds no keys".into()));
    }
    Ok(KeySet {
        id: config.id.clone(),
        keys,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use lictor_proto::cerbos::request::v1::aux_data::Jwt;

    fn verifier(secret: &str) -> AuxDataVerifier {
        let jwks = serde_json::json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256",
            "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)}]});
        let data = base64::engine::general_purpose::STANDARD.encode(jwks.to_string());
        let settings = crate::cerbos::config::settings_from(
            &crate::cerbos::config::parse_tree(
                &format!("storage: {{driver: disk, disk: {{directory: p}}}}\nauxData: {{jwt: {{keySets: [{{id: default, local: {{data: {data}}}}}]}}}}\n"),
                "conf.yaml",
            )
            .unwrap(),
            "conf.yaml",
        )
        .unwrap();
        AuxDataVerifier::new(&settings).unwrap()
    }

    fn token(secret: &str) -> AuxData {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let claims = serde_json::json!({"sub": "alice", "aud": "app", "exp": 4_000_000_000u64});
        AuxData {
            jwt: Some(Jwt {
                token: encode(
                    &header,
                    &claims,
                    &EncodingKey::from_secret(secret.as_bytes()),
                )
                .unwrap(),
                key_set_id: String::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_verified_token_exposes_its_claims() {
        let claims = verifier("s3cret")
            .extract(Some(&token("s3cret")))
            .unwrap()
            .unwrap();
        assert_eq!(claims["jwt"]["sub"], "alice");
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid_aux_data() {
        let error = verifier("s3cret")
            .extract(Some(&token("other")))
            .unwrap_err();
        assert_eq!(error.message, "invalid auxData");
    }

    #[test]
    fn no_token_is_no_claims() {
        assert_eq!(verifier("s3cret").extract(None).unwrap(), None);
    }
}
