//! RFC 7515 Appendix A, RFC 8037 Appendix A and the RFC 7520 "JOSE Cookbook" (with RFC 7797),
//! read in place from `../shared/vectors/`.

use serde_json::{Map, Value};
use tessera_jwt::{
    Algorithm, DEFAULT_MAX_TOKEN_BYTES, Error, FixedClock, KeyRejection, KeySet, Malformed, Part,
    SigningKey, SystemClock, UntrustedToken, Validation, VerifyingKey, dangerous, verify,
};

use crate::{b64url, jwk, load, signed_with, unb64url};

const APPENDIX_A: &str = "rfc7515-rfc8037/rfc7515_appendix_a_rfc8037_ed25519.json";

type Claims = Map<String, Value>;

/// Verifies a compact JWS at the signature level (plain RFC 7515, no claims) and returns the payload.
fn signature_level(token: &str, keys: &impl tessera_jwt::KeyResolver) -> Result<Vec<u8>, Error> {
    UntrustedToken::parse(token, DEFAULT_MAX_TOKEN_BYTES)?
        .verify_payload(keys)
        .map(|(_, payload)| payload)
}

fn example<'a>(file: &'a Value, id: &str) -> &'a Value {
    file["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{APPENDIX_A} has no example {id:?}"))
}

fn alg_of(value: &Value) -> Algorithm {
    value.as_str().unwrap().parse().unwrap()
}

/// The verifying key a relying party would hold: the public half, or the secret for HMAC.
fn verifier_from_private(private: &Value, alg: Algorithm) -> VerifyingKey {
    let private = jwk(private);
    let material = if alg.is_symmetric() {
        private
    } else {
        private.to_public()
    };
    VerifyingKey::from_jwk(&material, Some(alg)).unwrap()
}

#[test]
fn rfc7515_appendix_a_and_rfc8037_signatures_verify() {
    let file = load(APPENDIX_A);
    let ids: Vec<&str> = file["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "RFC 7515 A.1",
            "RFC 7515 A.2",
            "RFC 7515 A.3",
            "RFC 7515 A.4",
            "RFC 7515 A.5",
            "RFC 8037 A.4"
        ]
    );
    for id in [
        "RFC 7515 A.1",
        "RFC 7515 A.2",
        "RFC 7515 A.3",
        "RFC 7515 A.4",
        "RFC 8037 A.4",
    ] {
        let ex = example(&file, id);
        assert_eq!(ex["expected"], "valid", "{id}");
        let alg = alg_of(&ex["alg"]);
        let public = verifier_from_private(&ex["jwk"], alg);
        let compact = ex["compact"].as_str().unwrap();
        let payload =
            signature_level(compact, &public).unwrap_or_else(|e| panic!("{id} must verify: {e}"));
        assert_eq!(payload, ex["payload"].as_str().unwrap().as_bytes(), "{id}");

        // The signature is over the received bytes: A.1's header and payload carry CR LF and
        // spaces that a re-serialization would lose.
        let (input, signature) = compact.rsplit_once('.').unwrap();
        assert_eq!(input, ex["signing_input"], "{id}");

        let mut forged = unb64url(signature);
        let middle = forged.len() / 2;
        forged[middle] ^= 0x01;
        assert_eq!(
            signature_level(&format!("{input}.{}", b64url(&forged)), &public),
            Err(Error::InvalidSignature),
            "{id}: a one-bit change of the signature"
        );

        // The private JWK loads too and signs something the public key accepts.
        let signing = SigningKey::from_jwk(&jwk(&ex["jwk"]), Some(alg)).unwrap();
        let fresh = signing.sign(input.as_bytes()).unwrap();
        public
            .verify_signature(input.as_bytes(), &fresh)
            .unwrap_or_else(|e| panic!("{id}: a fresh signature must verify: {e}"));

        // A key bound to another algorithm of the same family is refused before the crypto runs.
        let other = match alg {
            Algorithm::HS256 => Algorithm::HS512,
            Algorithm::RS256 => Algorithm::PS256,
            Algorithm::ES256 | Algorithm::ES512 | Algorithm::EdDSA => continue,
            other => panic!("unexpected {other}"),
        };
        let rebound = verifier_from_private(&ex["jwk"], other);
        assert_eq!(
            signature_level(compact, &rebound),
            Err(Error::AlgorithmMismatch {
                expected: other,
                found: alg
            }),
            "{id}"
        );
    }
}

#[test]
fn deterministic_algorithms_reproduce_the_rfc_signatures() {
    let file = load(APPENDIX_A);
    // HMAC, RSASSA-PKCS1-v1_5 and Ed25519 are deterministic; ECDSA (A.3, A.4) is not.
    for id in ["RFC 7515 A.1", "RFC 7515 A.2", "RFC 8037 A.4"] {
        let ex = example(&file, id);
        let key = SigningKey::from_jwk(&jwk(&ex["jwk"]), Some(alg_of(&ex["alg"]))).unwrap();
        let input = ex["signing_input"].as_str().unwrap();
        let signature = key.sign(input.as_bytes()).unwrap();
        assert_eq!(b64url(&signature), ex["signature_b64u"], "{id}");
        assert_eq!(
            format!("{input}.{}", b64url(&signature)),
            ex["compact"],
            "{id}"
        );
    }
}

#[test]
fn rfc7515_a5_unsecured_jws_is_refused() {
    let file = load(APPENDIX_A);
    let a5 = example(&file, "RFC 7515 A.5");
    assert_eq!(a5["alg"], "none");
    assert!(a5["expected"].as_str().unwrap().starts_with("invalid"));
    let compact = a5["compact"].as_str().unwrap();
    assert!(
        compact.ends_with('.'),
        "an unsecured JWS has an empty signature"
    );
    assert_eq!(
        UntrustedToken::parse(compact, DEFAULT_MAX_TOKEN_BYTES).unwrap_err(),
        Error::UnsecuredToken
    );
    // Whatever key the verifier holds, and at a time when the claims would be valid.
    for id in [
        "RFC 7515 A.1",
        "RFC 7515 A.2",
        "RFC 7515 A.3",
        "RFC 8037 A.4",
    ] {
        let ex = example(&file, id);
        let key = verifier_from_private(&ex["jwk"], alg_of(&ex["alg"]));
        assert_eq!(
            verify::<Claims>(
                compact,
                &key,
                &Validation::new(),
                &FixedClock(1_300_819_000)
            )
            .unwrap_err(),
            Error::UnsecuredToken,
            "with the key of {id}"
        );
    }
}

#[test]
fn rfc7515_appendix_a_claims_expire_on_time() {
    const EXP: i64 = 1_300_819_380;
    let file = load(APPENDIX_A);
    for id in ["RFC 7515 A.1", "RFC 7515 A.2", "RFC 7515 A.3"] {
        let ex = example(&file, id);
        let key = verifier_from_private(&ex["jwk"], alg_of(&ex["alg"]));
        let token = ex["compact"].as_str().unwrap();
        let policy = Validation::new().issuers(["joe"]);

        let now = verify::<Claims>(token, &key, &policy, &SystemClock).unwrap_err();
        assert!(
            matches!(now, Error::Expired { exp: EXP, now } if now > EXP),
            "{id}: {now:?}"
        );

        let before = verify::<Claims>(token, &key, &policy, &FixedClock(EXP - 1))
            .unwrap_or_else(|e| panic!("{id} is valid one second before exp: {e}"));
        assert_eq!(before.claims()["iss"], "joe");
        assert_eq!(before.claims()["exp"], EXP);
        assert_eq!(before.claims()["http://example.com/is_root"], true);
        assert_eq!(before.claims().len(), 3);
        if id == "RFC 7515 A.1" {
            assert_eq!(before.header().typ.as_deref(), Some("JWT"));
        }

        assert_eq!(
            verify::<Claims>(token, &key, &policy, &FixedClock(EXP)).unwrap_err(),
            Error::Expired { exp: EXP, now: EXP },
            "{id}: exp is the first instant the token is refused"
        );
        assert!(
            verify::<Claims>(token, &key, &policy.clone().leeway(5), &FixedClock(EXP + 4)).is_ok(),
            "{id}: leeway"
        );
        assert_eq!(
            verify::<Claims>(
                token,
                &key,
                &Validation::new().issuers(["jane"]),
                &FixedClock(EXP - 1)
            )
            .unwrap_err(),
            Error::InvalidIssuer,
            "{id}"
        );
    }
}

#[test]
fn payloads_that_are_not_claims_verify_only_as_plain_jws() {
    let file = load(APPENDIX_A);
    for id in ["RFC 7515 A.4", "RFC 8037 A.4"] {
        let ex = example(&file, id);
        let key = verifier_from_private(&ex["jwk"], alg_of(&ex["alg"]));
        let token = ex["compact"].as_str().unwrap();
        assert!(signature_level(token, &key).is_ok(), "{id}");
        assert_eq!(
            verify::<Claims>(token, &key, &Validation::new(), &FixedClock(0)).unwrap_err(),
            Error::Malformed(Malformed::NotObject(Part::Payload)),
            "{id}: {:?} is no claims set",
            ex["payload"]
        );
    }
}

#[test]
fn rfc8037_thumbprint_is_the_default_kid() {
    let file = load(APPENDIX_A);
    let ex = example(&file, "RFC 8037 A.4");
    let expected = ex["rfc8037_a3_thumbprint_b64u"].as_str().unwrap();
    let public = VerifyingKey::from_jwk(&jwk(&ex["jwk_public"]), None).unwrap();
    assert_eq!(public.algorithm(), Algorithm::EdDSA, "the curve names it");
    assert_eq!(public.thumbprint().as_deref(), Some(expected));
    assert_eq!(public.kid().as_str(), expected);
    let private = SigningKey::from_jwk(&jwk(&ex["jwk"]), None).unwrap();
    assert_eq!(private.kid().as_str(), expected);
}

fn cookbook(relative: &str) -> Value {
    load(&format!("rfc7520-cookbook/{relative}"))
}

#[test]
fn rfc7520_compact_signatures_verify_with_the_section_3_keys() {
    // (example, private key file, public key file, deterministic)
    let cases = [
        (
            "jws/4_1.rsa_v15_signature.json",
            Some("jwk/3_4.rsa_private_key.json"),
            Some("jwk/3_3.rsa_public_key.json"),
            true,
        ),
        (
            "jws/4_2.rsa-pss_signature.json",
            Some("jwk/3_4.rsa_private_key.json"),
            Some("jwk/3_3.rsa_public_key.json"),
            false,
        ),
        (
            "jws/4_3.ecdsa_signature.json",
            Some("jwk/3_2.ec_private_key.json"),
            Some("jwk/3_1.ec_public_key.json"),
            false,
        ),
        (
            "jws/4_4.hmac-sha2_integrity_protection.json",
            Some("jwk/3_5.symmetric_key_mac_computation.json"),
            None,
            true,
        ),
        // RFC 8037 A.4 as the cookbook's repository carries it; the key is in the example.
        ("curve25519/jws.json", None, None, true),
    ];
    let mut reproduced = Vec::new();
    for (name, private_file, public_file, deterministic) in cases {
        let case = cookbook(name);
        let alg = alg_of(&case["input"]["alg"]);
        if let Some(private_file) = private_file {
            assert_eq!(
                case["input"]["key"],
                cookbook(private_file),
                "{name} uses {private_file}"
            );
        }
        let signing = SigningKey::from_jwk(&jwk(&case["input"]["key"]), Some(alg)).unwrap();
        let public = match public_file {
            Some(file) => VerifyingKey::from_jwk(&jwk(&cookbook(file)), Some(alg)).unwrap(),
            None => signing.verifying_key().unwrap(),
        };
        assert_eq!(public.kid(), signing.kid(), "{name}");

        let compact = case["output"]["compact"].as_str().unwrap();
        let payload =
            signature_level(compact, &public).unwrap_or_else(|e| panic!("{name} must verify: {e}"));
        assert_eq!(
            payload,
            case["input"]["payload"].as_str().unwrap().as_bytes(),
            "{name}"
        );
        // Through a key set, chosen by the header's kid where there is one.
        let set = KeySet::new(vec![public.clone()]).unwrap();
        assert!(signature_level(compact, &set).is_ok(), "{name} via KeySet");
        let header = UntrustedToken::parse(compact, DEFAULT_MAX_TOKEN_BYTES).unwrap();
        assert_eq!(header.unverified_header().alg, alg);
        assert_eq!(
            header.unverified_header().kid.as_deref(),
            case["signing"]["protected"]["kid"].as_str(),
            "{name}"
        );

        let input = case["signing"]["sig-input"].as_str().unwrap();
        assert_eq!(Some(input), compact.rsplit_once('.').map(|(i, _)| i));
        assert_eq!(
            case["reproducible"].as_bool().unwrap_or(false),
            deterministic,
            "{name}: the file and this table agree on what can be reproduced"
        );
        if deterministic {
            let again = b64url(signing.sign(input.as_bytes()).unwrap());
            assert_eq!(again, case["signing"]["sig"], "{name}: re-signing");
            assert_eq!(
                format!("{input}.{again}"),
                compact,
                "{name}: byte-identical"
            );
            reproduced.push(name);
        } else {
            let fresh = signing.sign(input.as_bytes()).unwrap();
            public.verify_signature(input.as_bytes(), &fresh).unwrap();
        }
    }
    assert_eq!(
        reproduced,
        [
            "jws/4_1.rsa_v15_signature.json",
            "jws/4_4.hmac-sha2_integrity_protection.json",
            "curve25519/jws.json"
        ]
    );
}

#[test]
fn rfc7520_4_5_detached_content_is_no_jwt() {
    let case = cookbook("jws/4_5.signature_with_detached_content.json");
    let signing =
        SigningKey::from_jwk(&jwk(&case["input"]["key"]), Some(Algorithm::HS256)).unwrap();
    let key = signing.verifying_key().unwrap();
    let compact = case["output"]["compact"].as_str().unwrap();
    let segments: Vec<&str> = compact.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[1], "", "the payload travels out of band");

    // The signature covers the detached payload, not the empty segment.
    assert_eq!(
        verify::<Claims>(compact, &key, &Validation::new(), &FixedClock(0)).unwrap_err(),
        Error::InvalidSignature
    );
    // Put back, it verifies as a JWS, and the key is right; but the payload is prose, no claims.
    let attached = format!(
        "{}.{}.{}",
        segments[0],
        b64url(case["input"]["payload"].as_str().unwrap()),
        segments[2]
    );
    assert_eq!(
        attached,
        format!(
            "{}.{}",
            case["signing"]["sig-input"].as_str().unwrap(),
            segments[2]
        )
    );
    assert!(signature_level(&attached, &key).is_ok());
    assert_eq!(
        verify::<Claims>(&attached, &key, &Validation::new(), &FixedClock(0)).unwrap_err(),
        Error::Malformed(Malformed::NotObject(Part::Payload))
    );
    // Even a genuine signature over an empty payload is no JWT.
    let empty = signed_with(segments[0], "", &signing);
    assert!(signature_level(&empty, &key).is_ok());
    assert_eq!(
        verify::<Claims>(&empty, &key, &Validation::new(), &FixedClock(0)).unwrap_err(),
        Error::Malformed(Malformed::NotObject(Part::Payload))
    );
}

#[test]
fn json_serializations_cannot_be_parsed_as_compact() {
    let hmac = VerifyingKey::from_jwk(
        &jwk(&cookbook("jwk/3_5.symmetric_key_mac_computation.json")),
        None,
    )
    .unwrap();
    let mut forms = 0;
    for name in [
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json",
        "rfc7797/4.2.hmac-sha2_b64_false.json",
    ] {
        let case = cookbook(name);
        let output = case["output"].as_object().unwrap();
        assert!(
            !output.contains_key("compact"),
            "{name} has no compact form"
        );
        for (form, value) in output {
            let text = serde_json::to_string(value).unwrap();
            assert!(
                matches!(
                    UntrustedToken::parse(&text, 1 << 16),
                    Err(Error::Malformed(_))
                ),
                "{name} {form}"
            );
            assert!(
                matches!(
                    dangerous::decode_unverified(&text, 1 << 16),
                    Err(Error::Malformed(_))
                ),
                "{name} {form}"
            );
            forms += 1;
        }
    }
    assert_eq!(forms, 7);

    // 4.6 keeps `alg` in the protected header: its parts make a compact JWS that verifies (the
    // unprotected `kid` is simply gone).
    let json = &cookbook("jws/4_6.protecting_specific_header_fields.json")["output"]["json"];
    let part = |name: &str| {
        json["signatures"][0][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let rebuilt = format!(
        "{}.{}.{}",
        part("protected"),
        json["payload"].as_str().unwrap(),
        part("signature")
    );
    assert!(signature_level(&rebuilt, &hmac).is_ok());

    // 4.7 has no protected header at all: `alg` is not integrity-protected, so there is nothing a
    // compact verifier could trust.
    let json = &cookbook("jws/4_7.protecting_content_only.json")["output"]["json"];
    assert!(json["signatures"][0].get("protected").is_none());
    let rebuilt = format!(
        ".{}.{}",
        json["payload"].as_str().unwrap(),
        json["signatures"][0]["signature"].as_str().unwrap()
    );
    assert_eq!(
        signature_level(&rebuilt, &hmac),
        Err(Error::Malformed(Malformed::NotObject(Part::Header)))
    );
}

#[test]
fn rfc7797_unencoded_payload_is_refused() {
    let case = cookbook("rfc7797/hmac-sha2_b64_false.json");
    let signing =
        SigningKey::from_jwk(&jwk(&case["input"]["key"]), Some(Algorithm::HS256)).unwrap();
    let key = signing.verifying_key().unwrap();
    let compact = case["output"]["compact"].as_str().unwrap();
    assert_eq!(
        UntrustedToken::parse(compact, DEFAULT_MAX_TOKEN_BYTES).unwrap_err(),
        Error::UnsupportedCritical("b64".into())
    );
    assert_eq!(
        verify::<Claims>(compact, &key, &Validation::new(), &FixedClock(0)).unwrap_err(),
        Error::UnsupportedCritical("b64".into())
    );
    // `b64: false` without `crit` (as RFC 7797 §4.2's protected header has it) is refused too,
    // even under a valid signature.
    let protected = cookbook("rfc7797/4.2.hmac-sha2_b64_false.json")["signing"]["protected_b64u"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = signed_with(&protected, &b64url(br#"{"exp":1}"#), &signing);
    assert_eq!(
        signature_level(&token, &key),
        Err(Error::Malformed(Malformed::Header(
            "\"b64\": false is not allowed in a JWT"
        )))
    );
}

#[test]
fn rfc7520_encryption_key_is_refused_for_signatures() {
    let enc = jwk(&cookbook("jwk/3_6.symmetric_key_encryption.json"));
    assert_eq!(enc.use_.as_deref(), Some("enc"));
    assert_eq!(enc.alg.as_deref(), Some("A256GCM"));
    for requested in [None, Some(Algorithm::HS256)] {
        let error = VerifyingKey::from_jwk(&enc, requested).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidKey(KeyRejection::Invalid(reason)) if reason.contains("A256GCM")),
            "{requested:?}: {error:?}"
        );
        assert!(matches!(
            SigningKey::from_jwk(&enc, requested),
            Err(Error::InvalidKey(_))
        ));
    }
    // Without its `alg`, `use: enc` alone refuses it.
    let mut unnamed = enc.clone();
    unnamed.alg = None;
    assert_eq!(
        VerifyingKey::from_jwk(&unnamed, Some(Algorithm::HS256)).unwrap_err(),
        Error::InvalidKey(KeyRejection::NotForSignatures)
    );
    assert_eq!(
        SigningKey::from_jwk(&unnamed, Some(Algorithm::HS256)).unwrap_err(),
        Error::InvalidKey(KeyRejection::NotForSignatures)
    );
    // The signing key of §3.5 next to it is accepted.
    let sig = jwk(&cookbook("jwk/3_5.symmetric_key_mac_computation.json"));
    assert_eq!(
        VerifyingKey::from_jwk(&sig, None).unwrap().algorithm(),
        Algorithm::HS256
    );
}
