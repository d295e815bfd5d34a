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
        &json!({"iss": "https://es.example", "sub": "summer"}),
        &EncodingKey::from_ec_pem(&keys.es256_private).unwrap(),
    )
    .unwrap();
    assert_eq!(keys.verifier.verify(&es).unwrap().subject, "summer");
}

#[test]
fn bad_tokens_are_refused_with_a_reason() {
    let keys = verifier();
    let reason = |token: &str| keys.verifier.verify(token).unwrap_err().to_string();

    let wrong_secret = hs256(json!({"iss": "https://hs.example", "sub": "x"}), "guess");
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
        json!({"iss": "https://hs.example", "sub": "x", "nbf": now() + 600}),
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

    let wrong_audience = rs256(json!({"iss": "https://rs.example", "sub": "x", "aud": "other"}));
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
        json!({"iss": "https://hs.example"}),
        "a-shared-secret-for-tests",
    );
    assert!(
        reason(&no_subject).contains("sub"),
        "{}",
        reason(&no_subject)
    );
}
