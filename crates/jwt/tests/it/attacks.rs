//! One test per attack class.

use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, Error, FixedClock, KeySet, Malformed, Part, SigningKey, Validation, VerifyingKey,
    encode, verify,
};

use crate::{b64url, unb64url};

type Claims = Map<String, Value>;

fn check(token: &str, keys: &impl tessera_jwt::KeyResolver) -> Result<Claims, Error> {
    verify::<Claims>(token, keys, &Validation::new(), &FixedClock(1_000)).map(|v| v.into_claims())
}

/// header.payload.signature from raw JSON parts.
fn forge(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes()),
        b64url(signature)
    )
}

fn claims() -> Value {
    json!({"sub": "42", "exp": 2_000})
}

#[test]
fn alg_none_in_any_spelling_is_refused() {
    let key = SigningKey::generate(Algorithm::HS256)
        .unwrap()
        .verifying_key()
        .unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in [&b""[..], b"x"] {
            let token = forge(
                &format!(r#"{{"alg":"{alg}"}}"#),
                r#"{"sub":"42","exp":2000}"#,
                signature,
            );
            assert_eq!(check(&token, &key), Err(Error::UnsecuredToken), "{alg}");
        }
    }
}

#[test]
fn hmac_signed_with_a_public_key_is_algorithm_confusion() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let victim = SigningKey::generate(alg).unwrap().verifying_key().unwrap();
        let public_pem = victim.to_pem().unwrap();
        // The attacker uses the public key's bytes as an HMAC secret and says HS256.
        let forger = SigningKey::from_hmac_secret(Algorithm::HS256, public_pem.as_bytes()).unwrap();
        let token = encode(&claims(), &forger).unwrap();
        assert_eq!(
            check(&token, &victim),
            Err(Error::AlgorithmMismatch {
                expected: alg,
                found: Algorithm::HS256
            })
        );
        // And no HMAC key can be made from a public PEM at all.
        assert!(VerifyingKey::from_pem(&public_pem, Algorithm::HS256).is_err());
    }
}

#[test]
fn ecdsa_zero_signatures_are_refused() {
    // CVE-2022-21449 ("psychic signatures"): r = 0, s = 0 must never verify.
    for (alg, len) in [
        (Algorithm::ES256, 32),
        (Algorithm::ES384, 48),
        (Algorithm::ES512, 66),
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let token = encode(&claims(), &key).unwrap();
        let (input, real) = token.rsplit_once('.').unwrap();
        let real = unb64url(real);
        let verifying = key.verifying_key().unwrap();
        let mut one = vec![0u8; len];
        one[len - 1] = 1;
        for (r, s) in [
            (vec![0; len], vec![0; len]),
            (vec![0; len], real[len..].to_vec()),
            (real[..len].to_vec(), vec![0; len]),
            (one.clone(), one),
        ] {
            let forged = format!("{input}.{}", b64url(&[r, s].concat()));
            assert_eq!(
                check(&forged, &verifying),
                Err(Error::InvalidSignature),
                "{alg}"
            );
        }
    }
}

#[test]
fn unknown_kid_is_refused() {
    let known = SigningKey::generate(Algorithm::ES256).unwrap();
    let stranger = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("stranger");
    let set = KeySet::new(vec![known.verifying_key().unwrap()]).unwrap();
    let token = encode(&claims(), &stranger).unwrap();
    assert_eq!(
        check(&token, &set),
        Err(Error::UnknownKeyId("stranger".into()))
    );
    assert!(check(&encode(&claims(), &known).unwrap(), &set).is_ok());
}

#[test]
fn embedded_key_headers_are_ignored() {
    let real = SigningKey::generate(Algorithm::ES256).unwrap();
    let attacker = SigningKey::generate(Algorithm::ES256).unwrap();
    let attacker_jwk = attacker.verifying_key().unwrap().to_public_jwk().unwrap();
    let verifying = real.verifying_key().unwrap();
    for (name, value) in [
        ("jwk", serde_json::to_value(&attacker_jwk).unwrap()),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB..."])),
    ] {
        let header = json!({"alg": "ES256", name: value}).to_string();
        let payload = claims().to_string();
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes())
        );
        let by_attacker = format!(
            "{input}.{}",
            b64url(&attacker.sign(input.as_bytes()).unwrap())
        );
        assert_eq!(
            check(&by_attacker, &verifying),
            Err(Error::InvalidSignature),
            "{name}"
        );
        let by_real = format!("{input}.{}", b64url(&real.sign(input.as_bytes()).unwrap()));
        assert!(
            check(&by_real, &verifying).is_ok(),
            "{name}: the header does not stop a real token"
        );
    }
}

#[test]
fn time_and_audience_claims() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifying = key.verifying_key().unwrap();
    let expired = encode(&json!({"exp": 1_000}), &key).unwrap();
    assert_eq!(
        check(&expired, &verifying),
        Err(Error::Expired {
            exp: 1_000,
            now: 1_000
        })
    );
    let early = encode(&json!({"exp": 5_000, "nbf": 1_001}), &key).unwrap();
    assert_eq!(
        check(&early, &verifying),
        Err(Error::NotYetValid {
            nbf: 1_001,
            now: 1_000
        })
    );
    let for_web = encode(&json!({"exp": 5_000, "aud": ["web"]}), &key).unwrap();
    let api_only = Validation::new().audiences(["api"]);
    assert_eq!(
        verify::<Claims>(&for_web, &verifying, &api_only, &FixedClock(1_000)).unwrap_err(),
        Error::InvalidAudience
    );
    assert_eq!(
        check(&for_web, &verifying),
        Err(Error::InvalidAudience),
        "no audience named: aud refused"
    );
}

#[test]
fn oversized_tokens_are_refused_before_any_parsing() {
    let key = SigningKey::generate(Algorithm::HS256)
        .unwrap()
        .verifying_key()
        .unwrap();
    let garbage = "!".repeat(9_000);
    assert_eq!(
        check(&garbage, &key),
        Err(Error::TooLarge {
            size: 9_000,
            limit: 8_192
        })
    );
    let signer = SigningKey::generate(Algorithm::HS256).unwrap();
    let big = encode(&json!({"exp": 5_000, "pad": "x".repeat(9_000)}), &signer).unwrap();
    assert!(matches!(
        check(&big, &signer.verifying_key().unwrap()),
        Err(Error::TooLarge { .. })
    ));
    let roomy = Validation::new().max_token_bytes(16_384);
    assert!(
        verify::<Claims>(
            &big,
            &signer.verifying_key().unwrap(),
            &roomy,
            &FixedClock(1_000)
        )
        .is_ok()
    );
}

#[test]
fn duplicate_members_are_refused_in_header_and_payload() {
    let key = SigningKey::from_hmac_secret(Algorithm::HS256, &[9; 32]).unwrap();
    let verifying = key.verifying_key().unwrap();
    let signed = |header: &str, payload: &str| {
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes())
        );
        format!("{input}.{}", b64url(&key.sign(input.as_bytes()).unwrap()))
    };
    let token = signed(r#"{"alg":"HS256","alg":"HS256"}"#, r#"{"exp":2000}"#);
    assert_eq!(
        check(&token, &verifying),
        Err(Error::Malformed(Malformed::DuplicateMember(
            Part::Header,
            "alg".into()
        )))
    );
    let token = signed(r#"{"alg":"HS256"}"#, r#"{"exp":2000,"sub":"a","sub":"b"}"#);
    assert_eq!(
        check(&token, &verifying),
        Err(Error::Malformed(Malformed::DuplicateMember(
            Part::Payload,
            "sub".into()
        )))
    );
    let token = signed(r#"{"alg":"HS256"}"#, r#"{"exp":2000,"o":{"k":1,"k":2}}"#);
    assert_eq!(
        check(&token, &verifying),
        Err(Error::Malformed(Malformed::DuplicateMember(
            Part::Payload,
            "k".into()
        )))
    );
}

#[test]
fn structural_and_encoding_violations() {
    let key = SigningKey::from_hmac_secret(Algorithm::HS256, &[9; 32]).unwrap();
    let verifying = key.verifying_key().unwrap();
    let token = encode(&json!({"exp": 2_000}), &key).unwrap();
    assert!(check(&token, &verifying).is_ok());
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    for bad in [
        format!("{header}.{payload}"),
        format!("{header}.{payload}.{signature}.x"),
        format!("{header}=.{payload}.{signature}"),
        format!("{header}.{payload}.{signature}="),
        format!("{}.{payload}.{signature}", header.replace('J', "+")),
        format!("{header}.{payload}.{}/", &signature[..signature.len() - 1]),
        format!(" {token}"),
    ] {
        assert!(check(&bad, &verifying).is_err(), "{bad}");
    }
    let not_object = {
        let input = format!("{header}.{}", b64url(b"[1]"));
        format!("{input}.{}", b64url(&key.sign(input.as_bytes()).unwrap()))
    };
    assert_eq!(
        check(&not_object, &verifying),
        Err(Error::Malformed(Malformed::NotObject(Part::Payload)))
    );
}

#[test]
fn unknown_crit_extensions_are_refused() {
    let key = SigningKey::from_hmac_secret(Algorithm::HS256, &[9; 32]).unwrap();
    let input = format!(
        "{}.{}",
        b64url(br#"{"alg":"HS256","crit":["exp"],"exp":1}"#),
        b64url(br#"{"exp":2000}"#)
    );
    let token = format!("{input}.{}", b64url(&key.sign(input.as_bytes()).unwrap()));
    assert_eq!(
        check(&token, &key.verifying_key().unwrap()),
        Err(Error::UnsupportedCritical("exp".into()))
    );
}
