//! Stored password hashes as an import brings them: any text classified as a Django hash and, when
//! supported, verified against a password. Never a panic; costs beyond the limits are refused
//! before any work, so no input makes one verification run for long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_auth::django_password::{DjangoHash, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match DjangoHash::of(text) {
        DjangoHash::Supported(format) => {
            let _ = verify(format, text, b"tessera");
        }
        DjangoHash::Unusable => assert!(text.is_empty() || text.starts_with('!')),
        DjangoHash::Unsupported(name) => assert!(!name.is_empty()),
    }
});
