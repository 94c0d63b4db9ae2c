//! Property tests: round-trips, tamper detection, and no panic on any input.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, FixedClock, SigningKey, UntrustedToken, Validation, VerifyingKey, dangerous, encode,
    verify,
};

type Claims = Map<String, Value>;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~é\u{1F600}\\\\\"]{0,12}".prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn custom_claims() -> impl Strategy<Value = Claims> {
    // Registered names are left out: the policy would give them meaning.
    prop::collection::btree_map("c_[a-z0-9_]{0,8}", json_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

fn keys() -> Vec<(SigningKey, VerifyingKey)> {
    [Algorithm::HS256, Algorithm::ES256]
        .into_iter()
        .map(|alg| {
            let key = SigningKey::generate(alg).unwrap();
            let verifying = key.verifying_key().unwrap();
            (key, verifying)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn claims_round_trip(mut claims in custom_claims()) {
        claims.insert("exp".into(), json!(2_000));
        for (key, verifying) in keys() {
            let token = encode(&claims, &key).unwrap();
            let decoded = verify::<Claims>(&token, &verifying, &Validation::new(), &FixedClock(1_000)).unwrap();
            prop_assert_eq!(decoded.claims(), &claims);
        }
    }

    #[test]
    fn random_strings_never_panic(text in ".{0,300}") {
        let (_, verifying) = &keys()[0];
        prop_assert!(verify::<Claims>(&text, verifying, &Validation::new(), &FixedClock(0)).is_err());
        let _ = dangerous::decode_unverified(&text, 1 << 16);
        let _ = UntrustedToken::parse(&text, 1 << 16);
    }

    #[test]
    fn random_three_segment_tokens_never_verify(
        header in "[A-Za-z0-9_-]{0,60}",
        payload in "[A-Za-z0-9_-]{0,120}",
        signature in "[A-Za-z0-9_-]{0,90}",
    ) {
        let token = format!("{header}.{payload}.{signature}");
        let (_, verifying) = &keys()[0];
        prop_assert!(verify::<Claims>(&token, verifying, &Validation::new(), &FixedClock(0)).is_err());
        let _ = dangerous::decode_unverified(&token, 1 << 16);
    }

    #[test]
    fn random_json_headers_never_panic(header in json_value(), payload in json_value()) {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!("{}.{}.AAAA", engine.encode(header.to_string()), engine.encode(payload.to_string()));
        let (_, verifying) = &keys()[0];
        prop_assert!(verify::<Claims>(&token, verifying, &Validation::new(), &FixedClock(0)).is_err());
    }
}

/// Every single-bit flip of every byte of a valid token is refused (exhaustive, not sampled).
#[test]
fn every_bit_flip_is_detected() {
    for alg in [Algorithm::HS256, Algorithm::EdDSA] {
        let key = SigningKey::generate(alg).unwrap();
        let verifying = key.verifying_key().unwrap();
        let token = encode(&json!({"sub": "42", "role": "joker", "exp": 2_000}), &key).unwrap();
        assert!(
            verify::<Claims>(&token, &verifying, &Validation::new(), &FixedClock(1_000)).is_ok()
        );
        let mut flips = 0;
        for index in 0..token.len() {
            for bit in 0..8 {
                let mut bytes = token.clone().into_bytes();
                bytes[index] ^= 1 << bit;
                let Ok(tampered) = String::from_utf8(bytes) else {
                    continue; // not even a string: cannot be presented
                };
                assert!(
                    verify::<Claims>(
                        &tampered,
                        &verifying,
                        &Validation::new(),
                        &FixedClock(1_000)
                    )
                    .is_err(),
                    "{alg}: flipping bit {bit} of byte {index} went unnoticed"
                );
                flips += 1;
            }
        }
        assert!(flips > token.len() * 6, "{alg}: {flips} flips checked");
    }
}
