//! Attack classes against JWT verifiers. Each test forges or bends a token the way an attacker
//! would, checks the precise refusal, and keeps a control showing the honest token still passes
//! (so a refusal cannot come from a broken setup).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, DEFAULT_MAX_TOKEN_BYTES, Error, FixedClock, Header, KeyRejection, KeyResolver,
    KeySet, Malformed, Part, SigningKey, UntrustedToken, Validation, VerifyingKey, dangerous,
    encode, encode_with_header, verify,
};

use crate::{b64url, signed_with, unb64url};

type Claims = Map<String, Value>;

const NOW: i64 = 1_000;

fn check(token: &str, keys: &impl KeyResolver) -> Result<Claims, Error> {
    check_with(token, keys, &Validation::new())
}

fn check_with(token: &str, keys: &impl KeyResolver, policy: &Validation) -> Result<Claims, Error> {
    verify::<Claims>(token, keys, policy, &FixedClock(NOW)).map(|v| v.into_claims())
}

fn claims() -> Value {
    json!({"sub": "42", "exp": 2_000})
}

fn hs256() -> SigningKey {
    SigningKey::from_hmac_secret(Algorithm::HS256, &[9; 32]).unwrap()
}

/// `header.payload.signature` from raw header and payload JSON text and raw signature bytes.
fn forge(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header),
        b64url(payload),
        b64url(signature)
    )
}

fn segments(token: &str) -> (&str, &str, &str) {
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    (header, payload, signature)
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn alg_none_in_every_spelling_is_refused() {
    let hmac = hs256();
    let ec = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = KeySet::new(vec![
        hmac.verifying_key().unwrap(),
        ec.verifying_key().unwrap(),
    ])
    .unwrap();
    let payload = claims().to_string();
    let mut refused = 0;
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        for kid in [None, Some(hmac.kid().as_str())] {
            let header = match kid {
                Some(kid) => json!({"alg": alg, "kid": kid}),
                None => json!({"alg": alg}),
            }
            .to_string();
            let input = format!("{}.{}", b64url(&header), b64url(&payload));
            // Empty (as RFC 7515 A.5), junk, and even a genuine MAC of the input.
            let genuine = hmac.sign(input.as_bytes()).unwrap();
            for signature in [&b""[..], b"signature", &genuine] {
                let token = format!("{input}.{}", b64url(signature));
                assert_eq!(
                    check(&token, &hmac.verifying_key().unwrap()),
                    Err(Error::UnsecuredToken),
                    "{header}"
                );
                assert_eq!(
                    check(&token, &ec.verifying_key().unwrap()),
                    Err(Error::UnsecuredToken),
                    "{header}"
                );
                assert_eq!(check(&token, &set), Err(Error::UnsecuredToken), "{header}");
                refused += 3;
            }
        }
    }
    assert_eq!(refused, 5 * 2 * 3 * 3);
    // Near misses are unknown algorithms, not `none`, and refused as such.
    let token = forge(r#"{"alg":"none "}"#, &payload, b"");
    assert_eq!(
        check(&token, &set),
        Err(Error::UnsupportedAlgorithm("none ".into()))
    );
    // Control.
    assert!(check(&encode(&claims(), &hmac).unwrap(), &set).is_ok());
}

#[test]
fn hmac_keyed_with_a_public_key_is_algorithm_confusion() {
    let mut forged = 0;
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let victim = SigningKey::generate(alg).unwrap();
        let public = victim.verifying_key().unwrap();
        let public_pem = public.to_pem().unwrap();
        let from_jwks =
            KeySet::from_jwks(&json!({"keys": [public.to_public_jwk().unwrap()]}).to_string())
                .unwrap();
        let set = KeySet::new(vec![public.clone()]).unwrap();
        // The attacker knows the public key in every encoding it is published in.
        for secret in [
            public_pem.clone().into_bytes(),
            public_pem.trim_end().as_bytes().to_vec(),
            pem_der(&public_pem),
        ] {
            let forger = SigningKey::from_hmac_secret(Algorithm::HS256, &secret).unwrap();
            // Naming the victim's kid, so that a key set picks the victim's key.
            let header = Header {
                kid: Some(public.kid().to_string()),
                ..Header::for_key(&forger)
            };
            let token = encode_with_header(&header, &claims(), &forger).unwrap();
            // A verifier that took `alg` from the token and the public key bytes as the secret
            // would accept this: the forgery is real.
            let naive = VerifyingKey::from_hmac_secret(Algorithm::HS256, &secret).unwrap();
            assert!(check(&token, &naive).is_ok());

            let confusion = Err(Error::AlgorithmMismatch {
                expected: alg,
                found: Algorithm::HS256,
            });
            assert_eq!(check(&token, &public), confusion, "{alg}");
            assert_eq!(check(&token, &set), confusion, "{alg} via KeySet");
            assert_eq!(check(&token, &from_jwks), confusion, "{alg} via JWKS");
            forged += 1;
        }
        // And a public key can never be turned into an HMAC key by the library.
        assert!(matches!(
            VerifyingKey::from_pem(&public_pem, Algorithm::HS256),
            Err(Error::InvalidKey(KeyRejection::WrongKeyType { .. }))
        ));
        assert!(matches!(
            VerifyingKey::from_jwk(&public.to_public_jwk().unwrap(), Some(Algorithm::HS256)),
            Err(Error::InvalidKey(_))
        ));
        // Control.
        assert!(check(&encode(&claims(), &victim).unwrap(), &set).is_ok());
    }
    assert_eq!(forged, 15);
}

#[test]
fn ecdsa_zero_signatures_are_refused() {
    // CVE-2022-21449 ("psychic signatures"): r = 0 and/or s = 0 must never verify.
    for (alg, len) in [
        (Algorithm::ES256, 32),
        (Algorithm::ES384, 48),
        (Algorithm::ES512, 66),
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let verifying = key.verifying_key().unwrap();
        let token = encode(&claims(), &key).unwrap();
        assert!(check(&token, &verifying).is_ok(), "{alg} control");
        let (input, real) = token.rsplit_once('.').unwrap();
        let real = unb64url(real);
        assert_eq!(real.len(), 2 * len);
        let (r, s) = real.split_at(len);
        let zero = vec![0u8; len];
        let mut one = vec![0u8; len];
        one[len - 1] = 1;
        for (what, forged_r, forged_s) in [
            ("r = s = 0", &zero, &zero),
            ("r = 0", &zero, &s.to_vec()),
            ("s = 0", &r.to_vec(), &zero),
            ("r = 0, s = 1", &zero, &one),
            ("r = 1, s = 0", &one, &zero),
        ] {
            let signature = [forged_r.as_slice(), forged_s.as_slice()].concat();
            assert_eq!(
                verifying.verify_signature(input.as_bytes(), &signature),
                Err(Error::InvalidSignature),
                "{alg} {what}"
            );
            let forged = format!("{input}.{}", b64url(&signature));
            assert_eq!(
                check(&forged, &verifying),
                Err(Error::InvalidSignature),
                "{alg} {what}"
            );
        }
        // All-zero signatures of the other curves' lengths.
        for other in [64, 96, 132] {
            if other != 2 * len {
                let forged = format!("{input}.{}", b64url(vec![0u8; other]));
                assert_eq!(check(&forged, &verifying), Err(Error::InvalidSignature));
            }
        }
    }
}

#[test]
fn unknown_kid_is_refused_by_a_key_set() {
    let known = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = KeySet::new(vec![
        known.verifying_key().unwrap(),
        other.verifying_key().unwrap(),
    ])
    .unwrap();
    let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
    assert_eq!(
        check(
            &encode(&claims(), &stranger.clone().with_kid("stranger")).unwrap(),
            &set
        ),
        Err(Error::UnknownKeyId("stranger".into()))
    );
    // Ids are reported, but not at any length.
    let long = "k".repeat(500);
    assert_eq!(
        check(
            &encode(&claims(), &stranger.clone().with_kid(long.as_str())).unwrap(),
            &set
        ),
        Err(Error::UnknownKeyId("k".repeat(64)))
    );
    // Naming a known kid does not help a stranger.
    let impostor = stranger.with_kid(known.kid().as_str());
    assert_eq!(
        check(&encode(&claims(), &impostor).unwrap(), &set),
        Err(Error::InvalidSignature)
    );
    // No kid and two candidate keys: refused rather than tried in turn.
    let header = Header {
        kid: None,
        ..Header::for_key(&known)
    };
    let anonymous = forge(
        &serde_json::to_string(&header).unwrap(),
        &claims().to_string(),
        b"",
    );
    assert!(!anonymous.contains("kid"));
    assert_eq!(check(&anonymous, &set), Err(Error::MissingKeyId));
    // Control.
    assert!(check(&encode(&claims(), &known).unwrap(), &set).is_ok());
    assert!(check(&encode(&claims(), &other).unwrap(), &set).is_ok());
}

#[test]
fn embedded_key_headers_are_ignored() {
    let real = SigningKey::generate(Algorithm::ES256).unwrap();
    let attacker = SigningKey::generate(Algorithm::ES256).unwrap();
    let attacker_jwk =
        serde_json::to_value(attacker.verifying_key().unwrap().to_public_jwk().unwrap()).unwrap();
    let verifying = real.verifying_key().unwrap();
    let set = KeySet::new(vec![verifying.clone()]).unwrap();
    let carriers = [
        ("jwk", attacker_jwk),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIU"])),
    ];
    let mut headers: Vec<Value> = carriers
        .iter()
        .map(|(name, value)| {
            let mut header = json!({"alg": "ES256", "kid": real.kid().as_str()});
            header[*name] = value.clone();
            header
        })
        .collect();
    headers.push(json!({
        "alg": "ES256",
        "kid": real.kid().as_str(),
        "jwk": carriers[0].1,
        "jku": carriers[1].1,
        "x5u": carriers[2].1,
        "x5c": carriers[3].1,
    }));
    for header in headers {
        let header = b64url(header.to_string());
        let payload = b64url(claims().to_string());
        let by_attacker = signed_with(&header, &payload, &attacker);
        assert_eq!(
            check(&by_attacker, &verifying),
            Err(Error::InvalidSignature)
        );
        assert_eq!(check(&by_attacker, &set), Err(Error::InvalidSignature));
        let by_real = signed_with(&header, &payload, &real);
        assert!(
            check(&by_real, &verifying).is_ok(),
            "the header does not stop a real token"
        );
        assert!(check(&by_real, &set).is_ok());
    }
}

#[test]
fn expired_and_not_yet_valid_tokens_are_refused() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifying = key.verifying_key().unwrap();
    let token = |claims: Value| encode(&claims, &key).unwrap();

    assert_eq!(
        check(&token(json!({"exp": NOW})), &verifying),
        Err(Error::Expired { exp: NOW, now: NOW })
    );
    assert_eq!(
        check(&token(json!({"exp": 0})), &verifying),
        Err(Error::Expired { exp: 0, now: NOW })
    );
    assert!(check(&token(json!({"exp": NOW + 1})), &verifying).is_ok());
    assert!(
        check_with(
            &token(json!({"exp": NOW})),
            &verifying,
            &Validation::new().leeway(1)
        )
        .is_ok()
    );
    assert_eq!(
        check(&token(json!({"sub": "42"})), &verifying),
        Err(Error::MissingClaim("exp".into()))
    );
    assert!(matches!(
        check(&token(json!({"exp": "2030-01-01"})), &verifying),
        Err(Error::InvalidClaim { ref name, .. }) if name == "exp"
    ));

    assert_eq!(
        check(&token(json!({"exp": 5_000, "nbf": NOW + 1})), &verifying),
        Err(Error::NotYetValid {
            nbf: NOW + 1,
            now: NOW
        })
    );
    assert!(check(&token(json!({"exp": 5_000, "nbf": NOW})), &verifying).is_ok());
    assert!(
        check_with(
            &token(json!({"exp": 5_000, "nbf": NOW + 1})),
            &verifying,
            &Validation::new().leeway(1)
        )
        .is_ok()
    );
    assert_eq!(
        check(&token(json!({"exp": 5_000, "iat": NOW + 1})), &verifying),
        Err(Error::IssuedInFuture {
            iat: NOW + 1,
            now: NOW
        })
    );
}

#[test]
fn wrong_audience_is_refused() {
    let key = SigningKey::generate(Algorithm::ES384).unwrap();
    let verifying = key.verifying_key().unwrap();
    let token = |claims: Value| encode(&claims, &key).unwrap();
    let api = Validation::new().audiences(["api"]);

    assert_eq!(
        check_with(
            &token(json!({"exp": 5_000, "aud": "web"})),
            &verifying,
            &api
        ),
        Err(Error::InvalidAudience)
    );
    assert_eq!(
        check_with(
            &token(json!({"exp": 5_000, "aud": ["web", "mobile"]})),
            &verifying,
            &api
        ),
        Err(Error::InvalidAudience)
    );
    assert_eq!(
        check_with(
            &token(json!({"exp": 5_000, "aud": "API"})),
            &verifying,
            &api
        ),
        Err(Error::InvalidAudience),
        "audiences are compared exactly"
    );
    assert_eq!(
        check_with(&token(json!({"exp": 5_000})), &verifying, &api),
        Err(Error::MissingClaim("aud".into()))
    );
    assert!(matches!(
        check_with(&token(json!({"exp": 5_000, "aud": 7})), &verifying, &api),
        Err(Error::InvalidClaim { ref name, .. }) if name == "aud"
    ));
    // A verifier that names no audience refuses tokens meant for someone.
    assert_eq!(
        check(&token(json!({"exp": 5_000, "aud": "api"})), &verifying),
        Err(Error::InvalidAudience)
    );
    // Controls.
    assert!(
        check_with(
            &token(json!({"exp": 5_000, "aud": "api"})),
            &verifying,
            &api
        )
        .is_ok()
    );
    assert!(
        check_with(
            &token(json!({"exp": 5_000, "aud": ["web", "api"]})),
            &verifying,
            &api
        )
        .is_ok()
    );
}

#[test]
fn oversized_tokens_are_refused_before_any_parsing() {
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let too_large = |size| {
        Err::<Claims, _>(Error::TooLarge {
            size,
            limit: DEFAULT_MAX_TOKEN_BYTES,
        })
    };
    assert_eq!(DEFAULT_MAX_TOKEN_BYTES, 8 * 1024);

    let garbage = "!".repeat(9_000);
    assert_eq!(check(&garbage, &verifying), too_large(9_000));
    assert_eq!(
        UntrustedToken::parse(&garbage, DEFAULT_MAX_TOKEN_BYTES).unwrap_err(),
        too_large(9_000).unwrap_err()
    );
    assert_eq!(
        dangerous::decode_unverified(&garbage, DEFAULT_MAX_TOKEN_BYTES).unwrap_err(),
        too_large(9_000).unwrap_err()
    );
    // The limit is inclusive: at it, the garbage is parsed (and refused as garbage).
    assert_eq!(check(&garbage[..8_193], &verifying), too_large(8_193));
    assert_eq!(
        check(&garbage[..8_192], &verifying),
        Err(Error::Malformed(Malformed::SegmentCount))
    );
    // Size comes before everything, even before noticing `alg: none`.
    let unsecured = forge(
        r#"{"alg":"none"}"#,
        &json!({"exp": 5_000, "pad": "x".repeat(7_000)}).to_string(),
        b"",
    );
    assert_eq!(check(&unsecured, &verifying), too_large(unsecured.len()));
    // A genuine but large token: refused at the default, accepted with a larger limit.
    let big = encode(&json!({"exp": 5_000, "pad": "x".repeat(9_000)}), &key).unwrap();
    assert_eq!(check(&big, &verifying), too_large(big.len()));
    let roomy = Validation::new().max_token_bytes(16 * 1024);
    assert!(check_with(&big, &verifying, &roomy).is_ok());
}

#[test]
fn duplicate_members_are_refused_in_header_and_payload() {
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let signed = |header: &str, payload: &str| signed_with(&b64url(header), &b64url(payload), &key);
    let duplicate = |part, name: &str| {
        Err::<Claims, _>(Error::Malformed(Malformed::DuplicateMember(
            part,
            name.into(),
        )))
    };
    let cases = [
        (
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"exp":2000}"#,
            duplicate(Part::Header, "alg"),
        ),
        // The second `alg` is spelled with an escape: the same name once parsed.
        (
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            r#"{"exp":2000}"#,
            duplicate(Part::Header, "alg"),
        ),
        (
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"exp":2000}"#,
            duplicate(Part::Header, "kid"),
        ),
        (
            r#"{"alg":"HS256"}"#,
            r#"{"exp":2000,"sub":"a","sub":"b"}"#,
            duplicate(Part::Payload, "sub"),
        ),
        (
            r#"{"alg":"HS256"}"#,
            r#"{"exp":1,"exp":2000}"#,
            duplicate(Part::Payload, "exp"),
        ),
        (
            r#"{"alg":"HS256"}"#,
            r#"{"exp":2000,"\u0073ub":"a","sub":"b"}"#,
            duplicate(Part::Payload, "sub"),
        ),
        (
            r#"{"alg":"HS256"}"#,
            r#"{"exp":2000,"o":{"k":1,"k":2}}"#,
            duplicate(Part::Payload, "k"),
        ),
        (
            r#"{"alg":"HS256"}"#,
            r#"{"exp":2000,"a":[{"k":1},{"k":1,"k":2}]}"#,
            duplicate(Part::Payload, "k"),
        ),
    ];
    for (header, payload, expected) in cases {
        let token = signed(header, payload);
        assert_eq!(check(&token, &verifying), expected, "{header} {payload}");
        // The unverified reader applies the same rule.
        assert_eq!(
            dangerous::decode_unverified(&token, DEFAULT_MAX_TOKEN_BYTES).map(|_| Map::new()),
            expected,
            "{header} {payload}"
        );
    }
    // Controls: the same names in sibling objects, or as values, are fine.
    let token = signed(
        r#"{"alg":"HS256","kid":"kid"}"#,
        r#"{"exp":2000,"sub":"sub","a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}"#,
    );
    assert!(check(&token, &verifying).is_ok());
}

#[test]
fn wrong_segment_counts_are_refused() {
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let token = encode(&claims(), &key).unwrap();
    assert!(check(&token, &verifying).is_ok());
    let (header, payload, signature) = segments(&token);
    for bad in [
        String::new(),
        header.to_owned(),
        format!("{header}.{payload}"),
        format!("{header}.{payload}{signature}"),
        format!("{header}.{payload}.{signature}."),
        format!(".{header}.{payload}.{signature}"),
        format!("{header}.{payload}.{signature}.{signature}"),
        format!("{header}.{payload}.{payload}.{payload}.{signature}"),
    ] {
        assert_eq!(
            check(&bad, &verifying),
            Err(Error::Malformed(Malformed::SegmentCount)),
            "{bad:?}"
        );
        assert!(
            matches!(
                dangerous::decode_unverified(&bad, DEFAULT_MAX_TOKEN_BYTES),
                Err(Error::Malformed(Malformed::SegmentCount))
            ),
            "{bad:?}"
        );
    }
}

/// Replaces the last character of a base64url segment so that the unused low bits of its last
/// sextet are no longer zero: a lenient decoder yields the same bytes, a strict one refuses.
fn with_dirty_unused_bits(segment: &str) -> String {
    assert_ne!(segment.len() % 4, 0, "{segment} has no unused bits");
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = segment.as_bytes()[segment.len() - 1];
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    let dirty = ALPHABET[value ^ 1] as char;
    format!("{}{dirty}", &segment[..segment.len() - 1])
}

#[test]
fn base64_must_be_strict_unpadded_and_url_safe() {
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let malformed = |part| Err::<Claims, _>(Error::Malformed(Malformed::Base64(part)));

    // A header and a payload whose encodings need padding and use both URL-safe characters.
    let header_json = r#"{"alg":"HS256","kid":"a???>>>"}"#;
    let payload_json = r#"{"sub":"a???>>>","exp":2000}"#;
    let header = b64url(header_json);
    let payload = b64url(payload_json);
    assert!(header.contains('-') && header.contains('_'));
    assert!(payload.contains('-') && payload.contains('_'));
    assert!(
        check(&signed_with(&header, &payload, &key), &verifying).is_ok(),
        "control"
    );

    let padded_header = STANDARD.encode(header_json);
    let standard_header = STANDARD_NO_PAD.encode(header_json);
    let padded_payload = STANDARD.encode(payload_json);
    let standard_payload = STANDARD_NO_PAD.encode(payload_json);
    assert!(padded_header.ends_with('=') && padded_payload.ends_with('='));
    assert!(standard_header.contains('+') && standard_header.contains('/'));
    assert!(standard_payload.contains('+') && standard_payload.contains('/'));

    // Each malformed segment is signed exactly as sent, so only the encoding is wrong.
    for (bad_header, expected) in [
        (format!("{header}="), malformed(Part::Header)),
        (format!("{}==", header), malformed(Part::Header)),
        (standard_header.clone(), malformed(Part::Header)),
        (format!(" {header}"), malformed(Part::Header)),
        (with_dirty_unused_bits(&header), malformed(Part::Header)),
    ] {
        let token = signed_with(&bad_header, &payload, &key);
        assert_eq!(check(&token, &verifying), expected, "{bad_header}");
    }
    // The payload is decoded only after the signature has been checked; it is decoded just as
    // strictly.
    for bad_payload in [
        padded_payload,
        standard_payload,
        format!("{payload}\n"),
        with_dirty_unused_bits(&payload),
    ] {
        let token = signed_with(&header, &bad_payload, &key);
        assert_eq!(
            check(&token, &verifying),
            malformed(Part::Payload),
            "{bad_payload}"
        );
    }

    // Signatures: find a MAC whose encoding uses both URL-safe characters.
    let token = (0..)
        .map(|jti| encode(&json!({"exp": 2_000, "jti": jti}), &key).unwrap())
        .find(|t| {
            let signature = segments(t).2;
            signature.contains('-') && signature.contains('_')
        })
        .unwrap();
    assert!(check(&token, &verifying).is_ok(), "control");
    let (header, payload, signature) = segments(&token);
    let bytes = unb64url(signature);
    for bad_signature in [
        STANDARD.encode(&bytes),
        STANDARD_NO_PAD.encode(&bytes),
        format!("{signature}="),
        format!("{signature}\n"),
        with_dirty_unused_bits(signature),
    ] {
        assert_ne!(bad_signature, signature);
        let forged = format!("{header}.{payload}.{bad_signature}");
        assert_eq!(
            check(&forged, &verifying),
            malformed(Part::Signature),
            "{bad_signature}"
        );
    }
}

#[test]
fn unknown_critical_extensions_are_refused() {
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let payload = b64url(claims().to_string());
    for (header, expected) in [
        (
            r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
            Error::UnsupportedCritical("exp".into()),
        ),
        (
            r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
            Error::UnsupportedCritical("b64".into()),
        ),
        (
            r#"{"alg":"HS256","crit":[]}"#,
            Error::Malformed(Malformed::Header("\"crit\" must not be empty")),
        ),
    ] {
        let token = signed_with(&b64url(header), &payload, &key);
        assert_eq!(check(&token, &verifying), Err(expected), "{header}");
    }
}

#[test]
fn signed_payloads_that_are_no_claims_set_are_malformed() {
    // Garbage under a genuine signature (a confused or compromised signer): still the token's
    // fault, reported as malformed, never as the caller's.
    let key = hs256();
    let verifying = key.verifying_key().unwrap();
    let header = b64url(r#"{"alg":"HS256"}"#);
    let deep = format!(
        "{{\"exp\":2000,\"a\":{}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    for (payload, part_of) in [
        (&br#"{"exp":2000,"#[..], "json"),
        (br#"{"exp":2000"#, "json"),
        (br#"{"exp":2000} {}"#, "json"),
        (br#"{"exp":2000,}"#, "json"),
        (br#"{"exp":2000,"a":tru}"#, "json"),
        (deep.as_bytes(), "json"),
        (br#"[{"exp":2000}]"#, "not an object"),
        (br#""exp""#, "not an object"),
        (b"", "not an object"),
        (b"{\"exp\":2000,\"a\":\"\xff\"}", "utf-8"),
    ] {
        let token = signed_with(&header, &b64url(payload), &key);
        let error = check(&token, &verifying).unwrap_err();
        let expected = match part_of {
            "json" => matches!(error, Error::Malformed(Malformed::Json(Part::Payload, _))),
            "not an object" => error == Error::Malformed(Malformed::NotObject(Part::Payload)),
            _ => error == Error::Malformed(Malformed::Utf8(Part::Payload)),
        };
        assert!(expected, "{}: {error:?}", String::from_utf8_lossy(payload));
        assert!(error.is_token_error(), "{error:?}");
    }
}
