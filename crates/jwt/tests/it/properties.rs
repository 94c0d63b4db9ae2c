//! Property tests: claims round-trip, any single-bit change is detected, and no input makes the
//! verifier or the unverified reader panic.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, DEFAULT_MAX_TOKEN_BYTES, Error, FixedClock, SigningKey, UntrustedToken, Validation,
    VerifyingKey, dangerous, encode, verify,
};

use crate::b64url;

type Claims = Map<String, Value>;

const NOW: i64 = 1_000;

/// Large enough for any generated claims: the size limit is tested in `attacks`.
const LIMIT: usize = 1 << 16;

/// Keys are generated once: key generation is not what is under test.
static KEYS: LazyLock<Vec<(SigningKey, VerifyingKey)>> = LazyLock::new(|| {
    [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA]
        .into_iter()
        .map(|alg| {
            let key = SigningKey::generate(alg).unwrap();
            let verifying = key.verifying_key().unwrap();
            (key, verifying)
        })
        .collect()
});

fn key(alg: Algorithm) -> &'static (SigningKey, VerifyingKey) {
    KEYS.iter().find(|(k, _)| k.algorithm() == alg).unwrap()
}

fn check(token: &str, verifying: &VerifyingKey) -> Result<Claims, Error> {
    let policy = Validation::new().max_token_bytes(LIMIT);
    verify::<Claims>(token, verifying, &policy, &FixedClock(NOW)).map(|v| v.into_claims())
}

/// Text with JSON's troublemakers: quotes, backslashes, control characters, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    "[ -~é€\u{1F600}\"\\\\\n\t\u{0}\u{1f}]{0,16}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Quarter units round-trip exactly through decimal text.
        (-1_000_000i32..1_000_000).prop_map(|q| Value::from(f64::from(q) / 4.0)),
        text().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claims without the registered names the policy interprets, plus an `exp` in the future.
fn claims() -> impl Strategy<Value = Claims> {
    (
        prop::collection::btree_map(text(), json_value(), 0..8),
        (NOW + 1)..i64::MAX,
    )
        .prop_map(|(custom, exp)| {
            let mut claims: Claims = custom
                .into_iter()
                .filter(|(name, _)| {
                    !["exp", "nbf", "iat", "iss", "sub", "aud"].contains(&name.as_str())
                })
                .collect();
            claims.insert("exp".into(), json!(exp));
            claims
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn claims_round_trip(claims in claims()) {
        for alg in [Algorithm::HS256, Algorithm::ES256] {
            let (key, verifying) = key(alg);
            let token = encode(&claims, key).unwrap();
            let decoded = check(&token, verifying);
            prop_assert_eq!(decoded.as_ref(), Ok(&claims), "{}", alg);
            // The unverified reader sees the same claims.
            let (_, payload) = dangerous::decode_unverified(&token, LIMIT).unwrap();
            prop_assert_eq!(payload, Value::Object(claims.clone()));
        }
    }

    /// Sampled over many tokens; `every_bit_flip_is_detected` covers every position of one.
    #[test]
    fn a_flipped_bit_is_detected(claims in claims(), position in any::<prop::sample::Index>(), bit in 0..7u8) {
        for alg in [Algorithm::HS256, Algorithm::EdDSA] {
            let (key, verifying) = key(alg);
            let token = encode(&claims, key).unwrap();
            let mut bytes = token.into_bytes();
            let at = position.index(bytes.len());
            // Bits 0 to 6 of an ASCII byte: the result is still ASCII, so still a `&str`.
            bytes[at] ^= 1 << bit;
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(check(&tampered, verifying).is_err(), "{}: byte {} bit {}", alg, at, bit);
        }
    }

    #[test]
    fn random_strings_never_panic(input in "\\PC{0,400}") {
        assert_total(&input);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        assert_total(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_base64url_segments_never_panic(
        header in prop::collection::vec(any::<u8>(), 0..80),
        payload in prop::collection::vec(any::<u8>(), 0..160),
        signature in prop::collection::vec(any::<u8>(), 0..140),
    ) {
        assert_total(&format!("{}.{}.{}", b64url(&header), b64url(&payload), b64url(&signature)));
    }

    #[test]
    fn random_json_segments_never_panic(header in json_value(), payload in json_value(), alg in 0..Algorithm::ALL.len()) {
        let mut header = header;
        if let Value::Object(members) = &mut header {
            members.insert("alg".into(), json!(Algorithm::ALL[alg].as_str()));
        }
        let token = format!("{}.{}.{}", b64url(header.to_string()), b64url(payload.to_string()), b64url([7u8; 64]));
        assert_total(&token);
        // Objects without duplicate members read back as they were written.
        if header.is_object() && payload.is_object() {
            let (h, p) = dangerous::decode_unverified(&token, DEFAULT_MAX_TOKEN_BYTES).unwrap();
            prop_assert_eq!(h, header);
            prop_assert_eq!(p, payload);
        }
    }
}

/// Nothing panics, and nothing that no key signed is accepted by any of the keys.
fn assert_total(input: &str) {
    for (_, verifying) in KEYS.iter() {
        assert!(check(input, verifying).is_err(), "{input:?} verified");
    }
    let _ = UntrustedToken::parse(input, DEFAULT_MAX_TOKEN_BYTES);
    if let Ok((header, payload)) = dangerous::decode_unverified(input, DEFAULT_MAX_TOKEN_BYTES) {
        assert!(header.is_object() && payload.is_object());
        assert_eq!(input.split('.').count(), 3);
    }
}

/// Every single-bit flip of every byte of a valid token is refused (exhaustive, not sampled).
#[test]
fn every_bit_flip_is_detected() {
    for alg in [Algorithm::HS256, Algorithm::EdDSA] {
        let (key, verifying) = key(alg);
        let token = encode(&json!({"sub": "42", "role": "joker", "exp": 2_000}), key).unwrap();
        assert!(check(&token, verifying).is_ok());
        assert!(token.is_ascii());
        let (mut refused, mut not_text) = (0, 0);
        for index in 0..token.len() {
            for bit in 0..8 {
                let mut bytes = token.clone().into_bytes();
                bytes[index] ^= 1 << bit;
                // Setting the top bit of an ASCII byte makes invalid UTF-8: such input cannot
                // even be handed to the verifier, which takes `&str`.
                let Ok(tampered) = String::from_utf8(bytes) else {
                    assert_eq!(bit, 7);
                    not_text += 1;
                    continue;
                };
                assert!(
                    check(&tampered, verifying).is_err(),
                    "{alg}: flipping bit {bit} of byte {index} went unnoticed"
                );
                refused += 1;
            }
        }
        assert_eq!(not_text, token.len(), "{alg}");
        assert_eq!(refused, token.len() * 7, "{alg}");
    }
}

/// Extra header members, including every name the verifier reads, with values of any type.
fn extra_members() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        Just("typ".to_owned()),
        Just("cty".to_owned()),
        Just("kid".to_owned()),
        Just("b64".to_owned()),
        Just("jwk".to_owned()),
        Just("x5t".to_owned()),
        "[a-z]{1,4}",
    ];
    prop::collection::btree_map(name, json_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever header a caller asks for, the signer either refuses it or makes a token that its
    /// own verifier accepts: it never writes a header with duplicate or ill-typed members.
    #[test]
    fn encode_with_header_never_makes_an_unverifiable_token(
        extra in extra_members(),
        typ in proptest::option::of("[a-z+]{1,8}"),
        kid in proptest::option::of("[a-z0-9]{1,8}"),
    ) {
        let (key, verifying) = key(Algorithm::HS256);
        let header = tessera_jwt::Header {
            alg: Algorithm::HS256,
            typ,
            cty: None,
            kid,
            extra,
        };
        if let Ok(token) = tessera_jwt::encode_with_header(&header, &json!({"exp": NOW + 1}), key) {
            prop_assert!(check(&token, verifying).is_ok(), "{:?}: {:?}", header, check(&token, verifying));
        }
    }
}

/// Signs raw header and payload JSON, as any key holder could (the encoder never writes such text).
fn sign_raw(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url(signature))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A `\uXXXX` surrogate escape is accepted only as half of a proper pair, in a member the
    /// verifier reads or skips, in the header or the payload, correctly signed or not.
    #[test]
    fn lone_surrogate_escapes_are_refused_and_pairs_accepted(
        unit in 0xD800u16..=0xDFFF,
        low in 0xDC00u16..=0xDFFF,
        paired in any::<bool>(),
        in_header in any::<bool>(),
        prefix in "[a-z]{0,4}",
        name in prop_oneof![Just("kid".to_owned()), Just("sub".to_owned()), "q[a-z]{0,2}"],
    ) {
        let (key, verifying) = key(Algorithm::HS256);
        let pair = paired && (0xD800..=0xDBFF).contains(&unit);
        let escape = if pair {
            format!("{prefix}\\u{unit:04x}\\u{low:04X}")
        } else {
            format!("{prefix}\\u{unit:04x}")
        };
        let member = format!(r#""{name}":"{escape}""#);
        // A `kid` in the header would choose a key; here it goes in the payload.
        let (header, payload) = if in_header && name != "kid" {
            (format!(r#"{{"alg":"HS256",{member}}}"#), format!(r#"{{"exp":{}}}"#, NOW + 1))
        } else {
            (r#"{"alg":"HS256"}"#.to_owned(), format!(r#"{{"exp":{},{member}}}"#, NOW + 1))
        };
        let token = sign_raw(key, &header, &payload);
        let verified = check(&token, verifying);
        let unverified = dangerous::decode_unverified(&token, LIMIT);
        if pair {
            prop_assert!(verified.is_ok(), "{}: {:?}", token, verified);
            prop_assert!(unverified.is_ok());
        } else {
            prop_assert!(
                matches!(verified, Err(Error::Malformed(tessera_jwt::Malformed::LoneSurrogate(_)))),
                "{} {}: {:?}", header, payload, verified
            );
            prop_assert!(unverified.is_err());
        }
    }

    /// `crit` present with any value at all is refused: an array naming extensions (we understand
    /// none), and anything else (`null`, a string, an object, an empty array) as malformed.
    #[test]
    fn any_crit_is_refused(crit in json_value()) {
        let (key, verifying) = key(Algorithm::HS256);
        let header = format!(r#"{{"alg":"HS256","crit":{crit}}}"#);
        let token = sign_raw(key, &header, &format!(r#"{{"exp":{}}}"#, NOW + 1));
        prop_assert!(check(&token, verifying).is_err(), "{}", header);
    }
}
