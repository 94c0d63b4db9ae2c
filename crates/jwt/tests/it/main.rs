//! Integration tests of tessera-jwt: external vectors read in place from `../shared/vectors/`
//! (RFC 7515, RFC 7520, RFC 8037, Wycheproof), attack classes, a cross-check with `jsonwebtoken`,
//! and property tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod attacks;
mod cross_check;
mod properties;
mod vectors;
mod wycheproof;

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_jwt::Jwk;

/// `../shared/vectors/` beside the repository root. CI always provides it, so its absence is a
/// failure, never a silent skip.
pub fn vectors_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors");
    assert!(
        dir.is_dir(),
        "test vectors not found at {}: the repository expects ../shared/vectors beside it \
         (see ../shared/vectors/README.md); they are read in place, never copied in",
        dir.display()
    );
    dir
}

/// One JSON file from the vectors directory.
pub fn load(relative: &str) -> Value {
    let path = vectors_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JWK given as a JSON value, through the library's strict parser.
pub fn jwk(value: &Value) -> Jwk {
    Jwk::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{value}: {e}"))
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64url(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// `header.payload.signature` where the signature is `sign` over the first two segments, which are
/// used exactly as given (so tests can plant malformed segments under a valid signature).
pub fn signed_with(header: &str, payload: &str, key: &tessera_jwt::SigningKey) -> String {
    let input = format!("{header}.{payload}");
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url(signature))
}
