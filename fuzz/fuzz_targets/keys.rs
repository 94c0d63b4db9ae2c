//! Key parsing: JWK, JWK Set and PEM input must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_jwt::{Algorithm, Jwk, KeySet, SigningKey, VerifyingKey};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jwk) = Jwk::from_json(&text) {
        let _ = VerifyingKey::from_jwk(&jwk, None);
        let _ = SigningKey::from_jwk(&jwk, None);
        let _ = jwk.thumbprint();
    }
    let _ = KeySet::from_jwks(&text);
    let _ = VerifyingKey::from_pem_detect(&text);
    let _ = SigningKey::from_pem(&text, Algorithm::RS256);
});
