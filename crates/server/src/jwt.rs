//! JWT validation for `IDENTITY_TYPE_JWT`: the token's issuer must be configured, its signature must
//! verify with one of that issuer's keys (RS256, ES256 or HS256; never `none`), and `exp`/`nbf`/`aud`
//! must hold.

use crate::config::{Issuer, Jwt, StaticKey};
use crate::ServerError;
use arc_swap::ArcSwap;
use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// A verified token's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `iss` claim.
    pub issuer: String,
    /// The `sub` claim.
    pub subject: String,
}

/// Why a token was refused; the message is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JWT: {0}")]
pub struct TokenError(pub String);

/// A verification key: its id (if any), algorithm and key.
type Key = (Option<String>, Algorithm, DecodingKey);

struct IssuerKeys {
    issuer: String,
    audiences: Vec<String>,
    keys: Vec<Key>,
    remote: Option<Arc<RemoteKeys>>,
}

/// An issuer's keys served as a JWKS document over HTTP, replaced whole on every refresh.
pub struct RemoteKeys {
    issuer: String,
    url: String,
    every: Duration,
    keys: ArcSwap<Vec<Key>>,
    wake: Notify,
}

/// Shortest time between two fetches, so tokens naming unknown key ids cannot hammer the issuer.
const MIN_REFETCH: Duration = Duration::from_secs(10);

impl RemoteKeys {
    /// Fetches the document now; on failure the previous keys stay.
    async fn fetch(&self, client: &reqwest::Client) -> Result<usize, String> {
        let response = client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        if !response.status().is_success() {
            return Err(format!("GET {}: HTTP {}", self.url, response.status()));
        }
        let text = response
            .text()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        let keys = parse_jwks(&text).map_err(|e| format!("{}: {e}", self.url))?;
        let count = keys.len();
        self.keys.store(Arc::new(keys));
        Ok(count)
    }

    /// Keeps the keys fresh until shutdown: every refresh period, and early when a token names a key
    /// id not held (at most once per [`MIN_REFETCH`]).
    pub async fn refresh(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(issuer = %self.issuer, "JWKS client: {error}");
                return;
            }
        };
        loop {
            let fetched = tokio::time::Instant::now();
            let wait = match self.fetch(&client).await {
                Ok(count) => {
                    tracing::info!(issuer = %self.issuer, url = %self.url, keys = count, "JWKS loaded");
                    self.every
                }
                Err(error) => {
                    tracing::warn!(issuer = %self.issuer, "JWKS not refreshed, keeping the previous keys: {error}");
                    MIN_REFETCH
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {
                    tokio::time::sleep_until(fetched + MIN_REFETCH).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The configured issuers and their keys.
pub struct TokenVerifier {
    issuers: Vec<IssuerKeys>,
    leeway: u64,
}

impl TokenVerifier {
    /// The issuers whose keys come from a URL; the server runs [`RemoteKeys::refresh`] for each.
    pub fn remote_keys(&self) -> Vec<Arc<RemoteKeys>> {
        self.issuers
            .iter()
            .filter_map(|i| i.remote.clone())
            .collect()
    }
}

impl TokenVerifier {
    /// Loads every issuer's keys; a key that cannot be read is a start-up error naming it.
    pub fn new(config: &Jwt, config_path: &Path) -> Result<TokenVerifier, ServerError> {
        let mut issuers = Vec::new();
        for (i, issuer) in config.issuers.iter().enumerate() {
            issuers.push(load_issuer(issuer, i, config_path)?);
        }
        Ok(TokenVerifier {
            issuers,
            leeway: config.leeway_seconds,
        })
    }

    /// Verifies a token and returns its issuer and subject.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let token = token
            .strip_prefix("Bearer ")
            .or_else(|| token.strip_prefix("bearer "))
            .unwrap_or(token)
            .trim();
        let header_alg = unverified_alg(token)?;
        if header_alg.eq_ignore_ascii_case("none") {
            return Err(TokenError(
                "alg \"none\" is not accepted: tokens must be signed".into(),
            ));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError(format!("header: {e}")))?;
        let claims = unverified_claims(token)?;
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| TokenError("no \"iss\" claim".into()))?;
        // The library reads a malformed time claim as missing; say what is wrong with it.
        for claim in ["exp", "nbf", "iat"] {
            if let Some(value) = claims.get(claim).filter(|value| !value.is_number()) {
                return Err(TokenError(format!(
                    "the {claim:?} claim must be a NumericDate (seconds since 1970), not {}",
                    lictor_model::json_kind(value)
                )));
            }
        }
        let Some(trusted) = self.issuers.iter().find(|i| i.issuer == issuer) else {
            return Err(TokenError(format!("issuer {issuer:?} is not trusted")));
        };
        let remote = trusted.remote.as_ref().map(|r| r.keys.load_full());
        let candidates: Vec<_> = trusted
            .keys
            .iter()
            .chain(remote.iter().flat_map(|keys| keys.iter()))
            .filter(|(kid, alg, _)| {
                *alg == header.alg
                    && match (&header.kid, kid) {
                        (Some(wanted), Some(kid)) => wanted == kid,
                        _ => true,
                    }
            })
            .collect();
        if candidates.is_empty() {
            if let Some(remote) = &trusted.remote {
                // Perhaps a rotated key: have the JWKS fetched again for the next token.
                remote.wake.notify_one();
            }
            return Err(TokenError(format!(
                "issuer {issuer:?} has no {:?} key{}",
                header.alg,
                header
                    .kid
                    .as_ref()
                    .map(|k| format!(" with kid {k:?}"))
                    .unwrap_or_default()
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        // A token without `exp` would be valid forever; one without `aud` would be valid for every
        // audience, so `aud` is required as soon as the issuer names audiences.
        validation.required_spec_claims = HashSet::from(["exp".to_string()]);
        validation.set_issuer(&[issuer]);
        if trusted.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.required_spec_claims.insert("aud".to_string());
            validation.set_audience(&trusted.audiences);
        }
        let mut last = None;
        for (_, _, key) in candidates {
            match jsonwebtoken::decode::<Value>(token, key, &validation) {
                Ok(data) => {
                    let subject = data
                        .claims
                        .get("sub")
                        .and_then(Value::as_str)
                        .ok_or_else(|| TokenError("no \"sub\" claim".into()))?;
                    return Ok(VerifiedToken {
                        issuer: issuer.to_string(),
                        subject: subject.to_string(),
                    });
                }
                Err(error) => last = Some(error),
            }
        }
        Err(TokenError(
            last.map(|e| describe(&e))
                .unwrap_or_else(|| "no key verified the signature".into()),
        ))
    }
}

fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired (exp)".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidSignature => "the signature does not verify".into(),
        ErrorKind::InvalidAudience => "the audience (aud) is not accepted".into(),
        ErrorKind::InvalidIssuer => "the issuer (iss) is not accepted".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim:?} claim"),
        ErrorKind::InvalidClaimFormat(claim) => {
            format!("the {claim:?} claim has the wrong type (a NumericDate or string expected)")
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the algorithm (alg) does not match the key".into()
        }
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => {
            "not a JWT (header.payload.signature of base64url JSON expected)".into()
        }
        ErrorKind::InvalidSubject => "the subject (sub) is not accepted".into(),
        _ => "the signature or a claim does not verify".into(),
    }
}

fn segment(token: &str, index: usize) -> Result<Value, TokenError> {
    let part = token
        .split('.')
        .nth(index)
        .ok_or_else(|| TokenError("not a JWT (expected header.payload.signature)".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError("not a JWT (a part is not base64url)".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError("not a JWT (a part is not JSON)".into()))
}

fn unverified_alg(token: &str) -> Result<String, TokenError> {
    let header = segment(token, 0)?;
    header
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| TokenError("the header has no \"alg\"".into()))
}

/// The claims, read before verification only to pick the issuer's keys.
fn unverified_claims(token: &str) -> Result<Value, TokenError> {
    segment(token, 1)
}

fn load_issuer(issuer: &Issuer, i: usize, config_path: &Path) -> Result<IssuerKeys, ServerError> {
    let fail = |message: String| ServerError::Config {
        path: config_path.to_path_buf(),
        line: None,
        message: format!("jwt.issuers[{i}] ({}): {message}", issuer.issuer),
    };
    let mut keys = Vec::new();
    for (k, key) in issuer.keys.iter().enumerate() {
        keys.push(load_static_key(key).map_err(|m| fail(format!("keys[{k}]: {m}")))?);
    }
    if let Some(path) = &issuer.jwks_file {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
            path: path.clone(),
            source,
        })?;
        keys.extend(parse_jwks(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?);
    }
    let remote = issuer.jwks_url.as_ref().map(|url| {
        Arc::new(RemoteKeys {
            issuer: issuer.issuer.clone(),
            url: url.clone(),
            every: Duration::from_secs(issuer.jwks_refresh_seconds.unwrap_or(300).max(1)),
            keys: ArcSwap::from_pointee(Vec::new()),
            wake: Notify::new(),
        })
    });
    if keys.is_empty() && remote.is_none() {
        return Err(fail("no usable RS256, ES256 or HS256 key".into()));
    }
    Ok(IssuerKeys {
        issuer: issuer.issuer.clone(),
        audiences: issuer.audiences.clone(),
        keys,
        remote,
    })
}

/// The usable keys of a JWKS document; keys of other algorithms are skipped.
fn parse_jwks(text: &str) -> Result<Vec<Key>, String> {
    let set: JwkSet =
        serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let Some(alg) = jwk_algorithm(jwk) else {
            continue;
        };
        let key =
            DecodingKey::from_jwk(jwk).map_err(|e| format!("key {:?}: {e}", jwk.common.key_id))?;
        keys.push((jwk.common.key_id.clone(), alg, key));
    }
    Ok(keys)
}

fn jwk_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, KeyAlgorithm};
    match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::HS256) => Some(Algorithm::HS256),
        Some(_) => None,
        None => match jwk.algorithm {
            AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
            AlgorithmParameters::EllipticCurve(_) => Some(Algorithm::ES256),
            AlgorithmParameters::OctetKey(_) => Some(Algorithm::HS256),
            AlgorithmParameters::OctetKeyPair(_) => None,
        },
    }
}

fn load_static_key(key: &StaticKey) -> Result<Key, String> {
    let pem = || -> Result<Vec<u8>, String> {
        let path = key
            .public_key_file
            .as_ref()
            .ok_or_else(|| format!("{} needs public_key_file", key.algorithm))?;
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (alg, decoding) = match key.algorithm.as_str() {
        "HS256" => {
            let secret = key
                .secret
                .as_ref()
                .ok_or_else(|| "HS256 needs secret".to_string())?;
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            )
        }
        "RS256" => (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(&pem()?).map_err(|e| format!("RS256 key: {e}"))?,
        ),
        "ES256" => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(&pem()?).map_err(|e| format!("ES256 key: {e}"))?,
        ),
        other => {
            return Err(format!(
                "algorithm {other:?} is not one of HS256, RS256, ES256"
            ))
        }
    };
    Ok((key.kid.clone(), alg, decoding))
}
