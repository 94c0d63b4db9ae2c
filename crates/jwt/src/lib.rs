//! # tessera-jwt
//!
//! Strict JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515), with every primitive from
//! aws-lc-rs and nothing but the JOSE layer written here. Synchronous, no I/O.
//!
//! ## Overview
//! - [`SigningKey`] and [`VerifyingKey`] are each bound to one [`Algorithm`] when they are made, from
//!   a raw HMAC secret, PEM, or a [`Jwk`]; [`KeySet`] picks a key by `kid`.
//! - [`encode`] signs any `Serialize` claims. [`verify`] (or [`UntrustedToken::parse`] followed by
//!   [`UntrustedToken::verify`]) checks the signature first, then parses the payload and applies a
//!   [`Validation`] policy at a [`Clock`]'s time, yielding [`Verified`] claims.
//! - Every failure is an [`Error`] with a stable [`Error::code`].
//!
//! ## Example
//! ```
//! use serde::{Deserialize, Serialize};
//! use tessera_jwt::{encode, verify, Algorithm, FixedClock, SigningKey, Validation};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Claims { sub: String, role: String, exp: i64 }
//!
//! let key = SigningKey::generate(Algorithm::ES256)?;
//! let token = encode(&Claims { sub: "114514".into(), role: "joker".into(), exp: 2_000 }, &key)?;
//!
//! let policy = Validation::new().subject("114514");
//! let verified = verify::<Claims>(&token, &key.verifying_key()?, &policy, &FixedClock(1_000))?;
//! assert_eq!(verified.claims().role, "joker");
//!
//! // One second past `exp`, the same token is refused with a precise reason.
//! let late = verify::<Claims>(&token, &key.verifying_key()?, &policy, &FixedClock(2_001));
//! assert_eq!(late.unwrap_err().code(), "expired");
//! # Ok::<(), tessera_jwt::Error>(())
//! ```
//!
//! ## Security considerations
//! - The algorithm is never taken from the token: the header's `alg` must equal the key's, and
//!   `none` cannot even be represented. An HMAC key cannot be made from an RSA or EC public key.
//! - Input is bounded (8 KiB by default) before any work, base64url is decoded strictly, header and
//!   payload must be duplicate-free JSON objects, unknown `crit` extensions are refused, and the
//!   signature is verified before the payload is parsed.
//! - `jwk`, `jku`, `x5u` and `x5c` headers are ignored: keys come only from the caller.
//! - Signature lengths are checked exactly before the crypto runs; HMAC tags are compared in
//!   constant time; ECDSA `r = 0`/`s = 0` and Ed25519 malleability are refused by aws-lc-rs.
//! - Secrets are zeroized on drop and redacted from `Debug`.

mod alg;
mod b64;
mod cache;
mod der;
mod error;
mod header;
mod json;
mod jwk;
mod key;
mod token;
mod validation;

pub use alg::{Algorithm, KeyFamily};
pub use cache::{BoundedCache, TailHasher, TokenTailHasher};
pub use error::{Error, KeyRejection, Malformed, Part};
pub use header::Header;
pub use jwk::{Jwk, JwkSet, Secret};
pub use key::{KeyFormat, KeyResolver, KeySet, Kid, SigningKey, VerifyingKey};
pub use token::{UntrustedToken, Verified, dangerous, encode, encode_with_header, verify};
pub use validation::{Clock, DEFAULT_MAX_TOKEN_BYTES, FixedClock, SystemClock, Validation};
