//! Correctly signed tokens whose header and payload JSON the fuzzer writes: the strict parser
//! behind a valid signature (duplicate members, `crit`, lone surrogates, claim types). A token is
//! accepted only if an independent reading finds its header and payload to be JSON objects.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera_jwt::{Algorithm, FixedClock, SigningKey, Validation, VerifyingKey, verify};

fn keys() -> &'static (SigningKey, VerifyingKey) {
    static KEYS: OnceLock<(SigningKey, VerifyingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::from_hmac_secret(Algorithm::HS256, &[7; 32]).unwrap();
        let verifying = key.verifying_key().unwrap();
        (key, verifying)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (header, payload) = rest.split_at(at);
    let (key, verifying) = keys();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    let policy = Validation::new().accept_any_audience();
    let verdict = verify::<serde_json::Value>(&token, verifying, &policy, &FixedClock(0));
    if verdict.is_ok() {
        for part in [header, payload] {
            let value: serde_json::Value =
                serde_json::from_slice(part).expect("accepted, so valid JSON");
            assert!(value.is_object(), "accepted a non-object: {part:?}");
        }
    }
});
