//! Keys at rest: the master key text (from the environment) and a sealed key (from the database)
//! must be refused or accepted, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_auth::MasterKey;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = MasterKey::parse(&text);
    if let Ok(key) = MasterKey::parse(&"5a".repeat(32)) {
        let _ = key.unseal("kid", "ES256", &text);
        let _ = key.unseal("kid", "ES256", &format!("sealed:v1:{text}"));
    }
});
