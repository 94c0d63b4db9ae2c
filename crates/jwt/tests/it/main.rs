//! Integration tests of tessera-jwt: external vectors (read in place from `../shared/vectors/`),
//! attack classes, interoperability with `jsonwebtoken`, and property tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod attacks;
mod interop;
mod props;
mod rfc_vectors;
mod wycheproof_jose;
mod wycheproof_primitives;

use std::path::PathBuf;

/// `../shared/vectors/` beside the repository root. CI always provides it; its absence is an error,
/// never a silent skip.
pub fn vectors() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    assert!(
        dir.is_dir(),
        "test vectors not found at {} (expected ../shared/vectors beside the repository)",
        dir.display()
    );
    dir
}

pub fn load(relative: &str) -> serde_json::Value {
    let path = vectors().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64url(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}
