//! JWT parsing and verification with one HS256 issuer. Any string must be answered without a panic
//! and verify only with the issuer's signature; a token signed with another key must never verify; a
//! well-formed token must be judged exactly by its issuer, subject, expiry and not-before.

use crate::{hs256_signature, jwt_config, sign_hs256, ISSUER, SECRET};
use arbitrary::Arbitrary;
use lictor_server::jwt::TokenVerifier;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// A time claim: an hour ago or in an hour, far enough from now for any leeway and slow run.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum When {
    Past,
    Future,
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any text as the token.
    Raw(String),
    /// Any header and claims bytes, signed with the issuer's key or another.
    Signed {
        header: Vec<u8>,
        claims: Vec<u8>,
        issuer_key: bool,
    },
    /// A well-formed token whose verdict is known.
    Claims {
        issuer_known: bool,
        subject: Option<String>,
        expires: Option<When>,
        not_before: Option<When>,
        kid: Option<String>,
        issuer_key: bool,
        bearer: bool,
    },
}

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        TokenVerifier::new(&jwt_config(), Path::new("fuzz.yaml")).expect("HS256 issuer")
    })
}

fn secret(issuer_key: bool) -> &'static [u8] {
    if issuer_key {
        SECRET.as_bytes()
    } else {
        b"another-secret-that-is-not-trusted"
    }
}

fn now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(seconds).expect("seconds fit i64")
}

fn at(when: When) -> i64 {
    match when {
        When::Past => now() - 3600,
        When::Future => now() + 3600,
    }
}

/// Runs the target on one input, read as libFuzzer's typed targets read it.
pub fn run(data: &[u8]) {
    super::typed(data, check);
}

fn check(input: Input) {
    let verifier = verifier();
    match input {
        Input::Raw(token) => {
            if let Ok(verified) = verifier.verify(&token) {
                // Only a token carrying the secret's signature of its own header and payload verifies.
                let token = token
                    .strip_prefix("Bearer ")
                    .or_else(|| token.strip_prefix("bearer "))
                    .unwrap_or(&token)
                    .trim();
                let (signing_input, signature) = token
                    .rsplit_once('.')
                    .expect("a verified token has a signature");
                assert_eq!(
                    signature,
                    hs256_signature(signing_input, SECRET.as_bytes()),
                    "a token verified without the issuer's signature: {verified:?}"
                );
                assert_eq!(verified.issuer, ISSUER);
            }
        }
        Input::Signed {
            header,
            claims,
            issuer_key,
        } => {
            let token = sign_hs256(&header, &claims, secret(issuer_key));
            if let Ok(verified) = verifier.verify(&token) {
                assert!(issuer_key, "a token signed with another key verified");
                let claims: Value =
                    serde_json::from_slice(&claims).expect("verified claims are JSON");
                assert_eq!(claims["iss"], json!(verified.issuer));
                assert_eq!(claims["sub"], json!(verified.subject));
                assert_eq!(verified.issuer, ISSUER);
            }
        }
        Input::Claims {
            issuer_known,
            subject,
            expires,
            not_before,
            kid,
            issuer_key,
            bearer,
        } => {
            let mut header = json!({"alg": "HS256", "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let mut claims = Map::new();
            let issuer = if issuer_known {
                ISSUER
            } else {
                "https://other.example"
            };
            claims.insert("iss".into(), json!(issuer));
            if let Some(subject) = &subject {
                claims.insert("sub".into(), json!(subject));
            }
            if let Some(when) = expires {
                claims.insert("exp".into(), json!(at(when)));
            }
            if let Some(when) = not_before {
                claims.insert("nbf".into(), json!(at(when)));
            }
            let token = sign_hs256(
                header.to_string().as_bytes(),
                Value::Object(claims).to_string().as_bytes(),
                secret(issuer_key),
            );
            let token = if bearer {
                format!("Bearer {token}")
            } else {
                token
            };
            let valid = issuer_known
                && issuer_key
                && subject.is_some()
                // A token must expire: one without `exp` is refused.
                && matches!(expires, Some(When::Future))
                && !matches!(not_before, Some(When::Future));
            match verifier.verify(&token) {
                Ok(verified) => {
                    assert!(valid, "an invalid token verified: {verified:?}");
                    assert_eq!(verified.issuer, ISSUER);
                    assert_eq!(Some(verified.subject), subject);
                }
                Err(error) => assert!(!valid, "a valid token was refused: {error}"),
            }
        }
    }
}
