//! JWT verification: trusted issuers and their keys accept; `none`, bad signatures, expired or
//! premature tokens, wrong audiences and unknown issuers are refused with a reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lictor_server::config::Config;
use lictor_server::jwt::{TokenVerifier, VerifiedToken};
use serde_json::json;
use std::path::Path;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

struct Keys {
    _dir: tempfile::TempDir,
    verifier: TokenVerifier,
    es256_private: Vec<u8>,
}

fn verifier() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let ec = rcgen::KeyPair::generate().unwrap();
    let ec_public = dir.path().join("ec.pem");
    std::fs::write(&ec_public, ec.public_key_pem()).unwrap();
    let config = format!(
        "jwt:
  leeway_seconds: 5
  issuers:
    - issuer: https://hs.example
      keys:
        - algorithm: HS256
          secret: a-shared-secret-for-tests
    - issuer: https://rs.example
      audiences: [lictor]
      keys:
        - algorithm: RS256
          public_key_file: {}
    - issuer: https://es.example
      keys:
        - algorithm: ES256
          public_key_file: {}
",
        fixtures().join("rsa-test-public.pem").display(),
        ec_public.display()
    );
    let path = dir.path().join("lictor.yaml");
    let parsed = Config::parse(&config, &path).unwrap();
    let verifier = TokenVerifier::new(&parsed.jwt, &path).unwrap();
    Keys {
        _dir: dir,
        verifier,
        es256_private: ec.serialize_pem().into_bytes(),
    }
}

fn hs256(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: serde_json::Value) -> String {
    let pem = std::fs::read(fixtures().join("rsa-test-private.pem")).unwrap();
    encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

#[test]
fn tokens_of_trusted_issuers_verify() {
    let keys = verifier();
    let token = hs256(
        json!({"iss": "https://hs.example", "sub": "rick@the-citadel.com", "exp": now() + 60}),
        "a-shared-secret-for-tests",
    );
    assert_eq!(
        keys.verifier.verify(&token).unwrap(),
        VerifiedToken {
            issuer: "https://hs.example".into(),
            subject: "rick@the-citadel.com".into()
        }
    );
    // The `Bearer ` prefix some clients keep is accepted.
    assert!(keys.verifier.verify(&format!("Bearer {token}")).is_ok());

    let token = rs256(
        json!({"iss": "https://rs.example", "sub": "morty", "aud": "lictor", "exp": now() + 60}),
    );
    assert_eq!(keys.verifier.verify(&token).unwrap().subject, "morty");

    let es = encode(
        &Header::new(Algorithm::ES256),
        &json!({"iss": "https://es.example", "sub": "summer", "exp": now() + 60}),
        &EncodingKey::from_ec_pem(&keys.es256_private).unwrap(),
    )
    .unwrap();
    assert_eq!(keys.verifier.verify(&es).unwrap().subject, "summer");
}

#[test]
fn bad_tokens_are_refused_with_a_reason() {
    let keys = verifier();
    let reason = |token: &str| keys.verifier.verify(token).unwrap_err().to_string();

    let wrong_secret = hs256(
        json!({"iss": "https://hs.example", "sub": "x", "exp": now() + 60}),
        "guess",
    );
    assert!(
        reason(&wrong_secret).contains("signature"),
        "{}",
        reason(&wrong_secret)
    );

    let expired = hs256(
        json!({"iss": "https://hs.example", "sub": "x", "exp": now() - 60}),
        "a-shared-secret-for-tests",
    );
    assert!(reason(&expired).contains("expired"), "{}", reason(&expired));

    let premature = hs256(
        json!({"iss": "https://hs.example", "sub": "x", "nbf": now() + 600, "exp": now() + 60}),
        "a-shared-secret-for-tests",
    );
    assert!(
        reason(&premature).contains("not valid yet"),
        "{}",
        reason(&premature)
    );

    let stranger = hs256(
        json!({"iss": "https://evil.example", "sub": "x"}),
        "a-shared-secret-for-tests",
    );
    assert!(
        reason(&stranger).contains("not trusted"),
        "{}",
        reason(&stranger)
    );

    let wrong_audience =
        rs256(json!({"iss": "https://rs.example", "sub": "x", "aud": "other", "exp": now() + 60}));
    assert!(
        reason(&wrong_audience).contains("aud"),
        "{}",
        reason(&wrong_audience)
    );

    // An HS256 token for an issuer that only has an RSA key: no algorithm confusion.
    let confused = hs256(
        json!({"iss": "https://rs.example", "sub": "x", "aud": "lictor"}),
        "anything",
    );
    assert!(
        reason(&confused).contains("no HS256 key"),
        "{}",
        reason(&confused)
    );

    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"iss": "https://hs.example", "sub": "x"}))
    );
    assert!(reason(&unsigned).contains("none"), "{}", reason(&unsigned));

    assert!(reason("not-a-token").contains("not a JWT"));
    let no_subject = hs256(
        json!({"iss": "https://hs.example", "exp": now() + 60}),
        "a-shared-secret-for-tests",
    );
    assert!(
        reason(&no_subject).contains("sub"),
        "{}",
        reason(&no_subject)
    );
}

#[test]
fn required_claims_are_enforced() {
    let keys = verifier();
    let reason = |token: &str| keys.verifier.verify(token).unwrap_err().to_string();

    // An issuer with audiences refuses a token that names none.
    let no_audience = rs256(json!({"iss": "https://rs.example", "sub": "x", "exp": now() + 60}));
    assert_eq!(
        reason(&no_audience),
        "invalid JWT: the token has no \"aud\" claim"
    );

    // A token without `exp` would never expire.
    let no_expiry = hs256(
        json!({"iss": "https://hs.example", "sub": "x"}),
        "a-shared-secret-for-tests",
    );
    assert_eq!(
        reason(&no_expiry),
        "invalid JWT: the token has no \"exp\" claim"
    );

    // A claim of the wrong type is named, not reported by an internal name.
    let string_expiry = hs256(
        json!({"iss": "https://hs.example", "sub": "x", "exp": "tomorrow"}),
        "a-shared-secret-for-tests",
    );
    assert_eq!(
        reason(&string_expiry),
        "invalid JWT: the \"exp\" claim must be a NumericDate (seconds since 1970), not a string"
    );
}

/// An HS256 JWK with a key id.
fn oct_jwk(kid: &str, secret: &str) -> serde_json::Value {
    json!({
        "kty": "oct",
        "alg": "HS256",
        "kid": kid,
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    })
}

fn hs256_kid(claims: serde_json::Value, kid: &str, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn jwks_urls_are_fetched_and_refetched_when_a_key_rotates() {
    use std::sync::{Arc, Mutex};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The issuer's JWKS endpoint, whose document the test rotates.
        let document = Arc::new(Mutex::new(json!({"keys": [oct_jwk("k1", "first-secret")]})));
        let served = document.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let served = served.clone();
                async move { axum::Json(served.lock().unwrap().clone()) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lictor.yaml");
        let config = format!(
            "jwt:\n  issuers:\n    - issuer: https://idp.example\n      jwks_url: http://{address}/jwks.json\n"
        );
        let parsed = Config::parse(&config, &path).unwrap();
        let verifier = TokenVerifier::new(&parsed.jwt, &path).unwrap();
        let (stop, watcher) = tokio::sync::watch::channel(false);
        for remote in verifier.remote_keys() {
            tokio::spawn(remote.refresh(watcher.clone()));
        }
        let claims = json!({"iss": "https://idp.example", "sub": "beth", "exp": now() + 60});
        let first = hs256_kid(claims.clone(), "k1", "first-secret");
        let mut verified = None;
        for _ in 0..100 {
            if let Ok(token) = verifier.verify(&first) {
                verified = Some(token);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(verified.unwrap().subject, "beth");
        assert!(verifier
            .verify(&hs256_kid(claims.clone(), "k1", "a-forged-secret"))
            .is_err());

        // The issuer rotates to k2: a k2 token is refused until the refetch it triggers lands.
        *document.lock().unwrap() = json!({"keys": [oct_jwk("k2", "second-secret")]});
        let second = hs256_kid(claims, "k2", "second-secret");
        let error = verifier.verify(&second).unwrap_err();
        assert!(error.0.contains("k2"), "{error}");
        let mut accepted = false;
        for _ in 0..300 {
            if verifier.verify(&second).is_ok() {
                accepted = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(accepted, "the rotated key was fetched");
        let _ = stop.send(true);
    });
}
