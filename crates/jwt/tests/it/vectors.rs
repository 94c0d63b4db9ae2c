//! RFC 7515 Appendix A, RFC 8037 and the RFC 7520 cookbook, read in place.

use serde_json::{Map, Value};
use tessera_jwt::{
    Algorithm, Error, FixedClock, Jwk, SigningKey, UntrustedToken, Validation, VerifyingKey, verify,
};

use crate::{load, unb64url};

fn jwk(value: &Value) -> Jwk {
    Jwk::from_json(&value.to_string()).unwrap()
}

/// Verifies a compact JWS at the signature level and returns its payload.
fn payload_of(token: &str, key: &VerifyingKey) -> Result<Vec<u8>, Error> {
    UntrustedToken::parse(token, 1 << 16)?
        .verify_payload(key)
        .map(|(_, payload)| payload)
}

fn deterministic(alg: Algorithm) -> bool {
    matches!(
        alg.family(),
        tessera_jwt::KeyFamily::Hmac | tessera_jwt::KeyFamily::Okp
    ) || matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
}

#[test]
fn rfc7515_appendix_a_and_rfc8037() {
    let file = load("rfc7515-rfc8037/rfc7515_appendix_a_rfc8037_ed25519.json");
    let examples = file["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 6);
    for example in examples {
        let id = example["id"].as_str().unwrap();
        let compact = example["compact"].as_str().unwrap();
        if example["alg"] == "none" {
            assert_eq!(
                UntrustedToken::parse(compact, 8192).unwrap_err(),
                Error::UnsecuredToken,
                "{id}"
            );
            continue;
        }
        let alg: Algorithm = example["alg"].as_str().unwrap().parse().unwrap();
        let key = SigningKey::from_jwk(&jwk(&example["jwk"]), Some(alg)).unwrap();
        let verifying = key.verifying_key().unwrap();
        let payload = payload_of(compact, &verifying).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            payload,
            example["payload"].as_str().unwrap().as_bytes(),
            "{id}"
        );
        let (input, signature) = compact.rsplit_once('.').unwrap();
        if deterministic(alg) {
            assert_eq!(
                key.sign(input.as_bytes()).unwrap(),
                unb64url(signature),
                "{id} re-sign"
            );
        }
        // Flip one bit of the signature: refused.
        let mut forged = unb64url(signature);
        forged[0] ^= 1;
        let forged = format!("{input}.{}", crate::b64url(&forged));
        assert_eq!(
            payload_of(&forged, &verifying),
            Err(Error::InvalidSignature),
            "{id}"
        );
        if id == "RFC 8037 A.4" {
            assert_eq!(
                verifying.thumbprint().unwrap(),
                example["rfc8037_a3_thumbprint_b64u"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn rfc7515_a1_as_a_jwt_expires_on_time() {
    let file = load("rfc7515-rfc8037/rfc7515_appendix_a_rfc8037_ed25519.json");
    let a1 = &file["examples"][0];
    let key = VerifyingKey::from_jwk(&jwk(&a1["jwk"]), Some(Algorithm::HS256)).unwrap();
    let token = a1["compact"].as_str().unwrap();
    let policy = Validation::new().issuers(["joe"]);
    let claims = verify::<Map<String, Value>>(token, &key, &policy, &FixedClock(1_300_819_379))
        .unwrap()
        .into_claims();
    assert_eq!(claims["http://example.com/is_root"], true);
    assert_eq!(
        verify::<Map<String, Value>>(token, &key, &policy, &FixedClock(1_300_819_380)).unwrap_err(),
        Error::Expired {
            exp: 1_300_819_380,
            now: 1_300_819_380
        }
    );
    let wrong_issuer = Validation::new().issuers(["jane"]);
    assert_eq!(
        verify::<Map<String, Value>>(token, &key, &wrong_issuer, &FixedClock(0)).unwrap_err(),
        Error::InvalidIssuer
    );
}

fn cookbook(file: &str) -> (Value, SigningKey) {
    let case = load(&format!("rfc7520-cookbook/{file}"));
    let alg: Algorithm = case["input"]["alg"].as_str().unwrap().parse().unwrap();
    let key = SigningKey::from_jwk(&jwk(&case["input"]["key"]), Some(alg)).unwrap();
    (case, key)
}

#[test]
fn rfc7520_cookbook_compact_examples_verify_and_reproduce() {
    for file in [
        "jws/4_1.rsa_v15_signature.json",
        "jws/4_2.rsa-pss_signature.json",
        "jws/4_3.ecdsa_signature.json",
        "jws/4_4.hmac-sha2_integrity_protection.json",
        "curve25519/jws.json",
    ] {
        let (case, key) = cookbook(file);
        let compact = case["output"]["compact"].as_str().unwrap();
        let payload = payload_of(compact, &key.verifying_key().unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            payload,
            case["input"]["payload"].as_str().unwrap().as_bytes(),
            "{file}"
        );
        if case["reproducible"] == "True" && deterministic(key.algorithm()) {
            let input = case["signing"]["sig-input"].as_str().unwrap();
            assert_eq!(
                crate::b64url(&key.sign(input.as_bytes()).unwrap()),
                case["signing"]["sig"].as_str().unwrap(),
                "{file}"
            );
        }
    }
}

#[test]
fn rfc7520_cases_a_jwt_verifier_must_refuse() {
    // 4.5: detached content: the compact form has an empty payload, which is no JWT.
    let (case, key) = cookbook("jws/4_5.signature_with_detached_content.json");
    let compact = case["output"]["compact"].as_str().unwrap();
    let verifying = key.verifying_key().unwrap();
    assert!(
        verify::<Map<String, Value>>(compact, &verifying, &Validation::new(), &FixedClock(0))
            .is_err()
    );
    assert_eq!(
        payload_of(compact, &verifying),
        Err(Error::InvalidSignature)
    );

    // 4.6-4.8: JSON serialization only; a compact verifier cannot parse them.
    for file in [
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json",
    ] {
        let case = load(&format!("rfc7520-cookbook/{file}"));
        assert!(case["output"].get("compact").is_none());
        for form in ["json", "json_flat"] {
            if let Some(json) = case["output"].get(form) {
                assert!(
                    UntrustedToken::parse(&json.to_string(), 1 << 16).is_err(),
                    "{file} {form}"
                );
            }
        }
    }

    // RFC 7797 b64=false with crit: an extension we do not implement.
    let case = load("rfc7520-cookbook/rfc7797/hmac-sha2_b64_false.json");
    let compact = case["output"]["compact"].as_str().unwrap();
    assert_eq!(
        UntrustedToken::parse(compact, 8192).unwrap_err(),
        Error::UnsupportedCritical("b64".into())
    );

    // 3.6: an encryption key offered for signatures.
    let enc = load("rfc7520-cookbook/jwk/3_6.symmetric_key_encryption.json");
    assert!(VerifyingKey::from_jwk(&jwk(&enc), None).is_err());
    assert!(VerifyingKey::from_jwk(&jwk(&enc), Some(Algorithm::HS256)).is_err());
}
