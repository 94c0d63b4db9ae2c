//! Token decoding: any input must yield a verdict, never a panic, and never an accepted token.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_jwt::{
    Algorithm, FixedClock, KeySet, SigningKey, UntrustedToken, Validation, dangerous, verify,
};

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let hmac = SigningKey::from_hmac_secret(Algorithm::HS256, &[7; 32]).unwrap();
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
        KeySet::new(vec![
            hmac.verifying_key().unwrap(),
            ec.verifying_key().unwrap(),
            ed.verifying_key().unwrap(),
        ])
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let policy = Validation::new().accept_any_audience();
    let verdict = verify::<serde_json::Value>(&text, keys(), &policy, &FixedClock(0));
    // Forging a signature by chance is not a thing a fuzzer can do; acceptance means a bug.
    assert!(verdict.is_err(), "fuzzer input accepted: {text:?}");
    if let Ok(token) = UntrustedToken::parse(&text, 1 << 16) {
        let _ = token.unverified_header();
    }
    let _ = dangerous::decode_unverified(&text, 1 << 16);
});
