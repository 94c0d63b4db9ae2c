//! The one error type of the JOSE layer.
//!
//! Every variant has a stable machine-readable [`Error::code`] and a `Display` message meant for a
//! person. Variants are split by who caused them: the token (untrusted input), the key material the
//! caller supplied, or the crypto library itself.

use std::fmt;

use crate::alg::Algorithm;

/// Which part of a compact token a problem was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The protected header (first segment).
    Header,
    /// The payload / claims set (second segment).
    Payload,
    /// The signature (third segment).
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a token could not even be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not exactly three dot-separated segments.
    SegmentCount,
    /// A segment is not strict, unpadded, canonical base64url.
    Base64(Part),
    /// A segment decoded to something that is not UTF-8.
    Utf8(Part),
    /// A segment is not valid JSON.
    Json(Part, String),
    /// A segment is JSON but not an object.
    NotObject(Part),
    /// A JSON object names the same member twice (RFC 7515 §5.2 step 4, RFC 7519 §7.2 step 3).
    DuplicateMember(Part, String),
    /// A string escapes half of a UTF-16 surrogate pair without the other half (RFC 8259 §8.2).
    LoneSurrogate(Part),
    /// A header parameter has the wrong type or value.
    Header(&'static str),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::SegmentCount => f.write_str("a compact JWS has exactly three segments"),
            Malformed::Base64(part) => write!(f, "{part} is not canonical unpadded base64url"),
            Malformed::Utf8(part) => write!(f, "{part} is not UTF-8"),
            Malformed::Json(part, reason) => write!(f, "{part} is not valid JSON: {reason}"),
            Malformed::NotObject(part) => write!(f, "{part} is not a JSON object"),
            Malformed::DuplicateMember(part, name) => {
                write!(f, "{part} names member {name:?} more than once")
            }
            Malformed::LoneSurrogate(part) => {
                write!(f, "{part} escapes a lone UTF-16 surrogate")
            }
            Malformed::Header(reason) => write!(f, "header {reason}"),
        }
    }
}

/// Why key material was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRejection {
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    SecretTooShort {
        /// Minimum length in bytes.
        min: usize,
        /// Length supplied.
        found: usize,
    },
    /// An RSA modulus under 2048 bits (RFC 7518 §3.3).
    RsaTooSmall(usize),
    /// The key's type or curve cannot be used with the algorithm.
    WrongKeyType {
        /// The algorithm the key was to be bound to.
        alg: Algorithm,
        /// What the key actually is.
        found: String,
    },
    /// The JWK names an `alg` other than the one requested.
    AlgorithmConflict {
        /// The algorithm requested by the caller.
        requested: Algorithm,
        /// The algorithm written in the JWK.
        in_key: String,
    },
    /// No algorithm was given and the key does not name one.
    AlgorithmRequired,
    /// The JWK's `use` or `key_ops` forbid signatures.
    NotForSignatures,
    /// A public key was given where a private key is needed.
    NotPrivate,
    /// The key is not well-formed (bad encoding, point not on the curve, inconsistent parts, ...).
    Invalid(String),
    /// A key set has two keys with one `kid`.
    DuplicateKid(String),
    /// A key set mixes symmetric and asymmetric keys, which invites algorithm confusion.
    MixedKeySet,
    /// The key set is empty.
    EmptyKeySet,
}

impl fmt::Display for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRejection::SecretTooShort { min, found } => write!(
                f,
                "HMAC secret is {found} bytes; RFC 7518 requires at least {min}"
            ),
            KeyRejection::RsaTooSmall(bits) => {
                write!(f, "RSA modulus is {bits} bits; at least 2048 are required")
            }
            KeyRejection::WrongKeyType { alg, found } => {
                write!(f, "a {found} key cannot be used with {alg}")
            }
            KeyRejection::AlgorithmConflict { requested, in_key } => {
                write!(f, "the key is for {in_key:?}, not {requested}")
            }
            KeyRejection::AlgorithmRequired => {
                f.write_str("the key does not name its algorithm; give one explicitly")
            }
            KeyRejection::NotForSignatures => {
                f.write_str("the key's `use`/`key_ops` do not allow signatures")
            }
            KeyRejection::NotPrivate => f.write_str("a private key is required"),
            KeyRejection::Invalid(reason) => write!(f, "invalid key: {reason}"),
            KeyRejection::DuplicateKid(kid) => write!(f, "key id {kid:?} appears more than once"),
            KeyRejection::MixedKeySet => {
                f.write_str("a key set may not mix symmetric and asymmetric keys")
            }
            KeyRejection::EmptyKeySet => f.write_str("the key set has no usable key"),
        }
    }
}

/// Every failure of the JOSE layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is larger than the configured limit; nothing else was looked at.
    #[error("token is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the token in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The token could not be parsed.
    #[error("malformed token: {0}")]
    Malformed(Malformed),
    /// The header says `alg: none` (in any spelling).
    #[error("unsecured tokens (alg \"none\") are never accepted")]
    UnsecuredToken,
    /// The header names an algorithm this library does not implement.
    #[error("algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    /// The header's algorithm differs from the one the key is bound to.
    #[error("token is signed with {found} but the key is for {expected}")]
    AlgorithmMismatch {
        /// The key's algorithm.
        expected: Algorithm,
        /// The token's algorithm.
        found: Algorithm,
    },
    /// The token's `kid` names no key in the set.
    #[error("no key has id {0:?}")]
    UnknownKeyId(String),
    /// The token has no `kid` and the key set has more than one candidate.
    #[error("token has no key id and more than one key could verify it")]
    MissingKeyId,
    /// The header lists a `crit` extension this library does not understand (RFC 7515 §4.1.11).
    #[error("critical header extension {0:?} is not understood")]
    UnsupportedCritical(String),
    /// The signature does not verify under the key.
    #[error("signature does not verify")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The clock's time.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The clock's time.
        now: i64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future, at {iat} (now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The clock's time.
        now: i64,
    },
    /// `iat` is older than the policy's maximum age.
    #[error("token was issued at {iat}, more than {max_age} seconds ago (now {now})")]
    TooOld {
        /// The token's `iat`.
        iat: i64,
        /// The maximum age in seconds.
        max_age: u64,
        /// The clock's time.
        now: i64,
    },
    /// `iss` is not one of the accepted issuers.
    #[error("issuer is not accepted")]
    InvalidIssuer,
    /// `aud` does not name an accepted audience (or is present when none is accepted).
    #[error("audience is not accepted")]
    InvalidAudience,
    /// `sub` is not the expected subject.
    #[error("subject is not accepted")]
    InvalidSubject,
    /// A required claim is absent.
    #[error("required claim {0:?} is missing")]
    MissingClaim(String),
    /// A claim has the wrong JSON type (e.g. a string `exp`).
    #[error("claim {name:?} {reason}")]
    InvalidClaim {
        /// The claim's name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A claim the policy pins to a value has another value.
    #[error("claim {0:?} does not have the required value")]
    ClaimMismatch(String),
    /// The header's `typ` is not the one the policy requires.
    #[error("token type {found:?} is not the required {expected:?}")]
    InvalidTokenType {
        /// The required `typ`.
        expected: String,
        /// The token's `typ`, if any.
        found: Option<String>,
    },
    /// The caller's key material was refused.
    #[error("key rejected: {0}")]
    InvalidKey(KeyRejection),
    /// The caller's claims could not be serialized, or the verified claims do not fit the caller's type.
    #[error("claims do not fit: {0}")]
    Claims(String),
    /// The crypto library failed (key generation or signing); never caused by token input.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

impl Error {
    /// A stable, machine-readable identifier for the failure.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "token_too_large",
            Error::Malformed(_) => "malformed",
            Error::UnsecuredToken => "alg_none",
            Error::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Error::AlgorithmMismatch { .. } => "algorithm_mismatch",
            Error::UnknownKeyId(_) => "unknown_kid",
            Error::MissingKeyId => "missing_kid",
            Error::UnsupportedCritical(_) => "unsupported_crit",
            Error::InvalidSignature => "invalid_signature",
            Error::Expired { .. } => "expired",
            Error::NotYetValid { .. } => "not_yet_valid",
            Error::IssuedInFuture { .. } => "issued_in_future",
            Error::TooOld { .. } => "too_old",
            Error::InvalidIssuer => "invalid_issuer",
            Error::InvalidAudience => "invalid_audience",
            Error::InvalidSubject => "invalid_subject",
            Error::MissingClaim(_) => "missing_claim",
            Error::InvalidClaim { .. } => "invalid_claim",
            Error::ClaimMismatch(_) => "claim_mismatch",
            Error::InvalidTokenType { .. } => "invalid_type",
            Error::InvalidKey(_) => "invalid_key",
            Error::Claims(_) => "claims",
            Error::Crypto(_) => "crypto_failure",
        }
    }

    /// True when the token itself (not the caller's keys or the crypto library) caused the failure.
    pub fn is_token_error(&self) -> bool {
        !matches!(
            self,
            Error::InvalidKey(_) | Error::Crypto(_) | Error::Claims(_)
        )
    }
}

impl From<Malformed> for Error {
    fn from(reason: Malformed) -> Self {
        Error::Malformed(reason)
    }
}

impl From<KeyRejection> for Error {
    fn from(reason: KeyRejection) -> Self {
        Error::InvalidKey(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let samples = [
            Error::TooLarge { size: 1, limit: 0 },
            Error::Malformed(Malformed::SegmentCount),
            Error::UnsecuredToken,
            Error::UnsupportedAlgorithm(String::new()),
            Error::AlgorithmMismatch {
                expected: Algorithm::HS256,
                found: Algorithm::RS256,
            },
            Error::UnknownKeyId(String::new()),
            Error::MissingKeyId,
            Error::UnsupportedCritical(String::new()),
            Error::InvalidSignature,
            Error::Expired { exp: 0, now: 1 },
            Error::NotYetValid { nbf: 1, now: 0 },
            Error::IssuedInFuture { iat: 1, now: 0 },
            Error::TooOld {
                iat: 0,
                max_age: 1,
                now: 2,
            },
            Error::InvalidIssuer,
            Error::InvalidAudience,
            Error::InvalidSubject,
            Error::MissingClaim(String::new()),
            Error::InvalidClaim {
                name: String::new(),
                reason: "",
            },
            Error::ClaimMismatch(String::new()),
            Error::InvalidTokenType {
                expected: String::new(),
                found: None,
            },
            Error::InvalidKey(KeyRejection::NotPrivate),
            Error::Claims(String::new()),
            Error::Crypto(""),
        ];
        let mut codes: Vec<_> = samples.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), samples.len());
    }

    #[test]
    fn messages_name_the_problem() {
        let e = Error::Expired { exp: 10, now: 20 };
        assert_eq!(e.to_string(), "token expired at 10 (now 20)");
        let e = Error::Malformed(Malformed::DuplicateMember(Part::Header, "alg".into()));
        assert_eq!(
            e.to_string(),
            "malformed token: header names member \"alg\" more than once"
        );
    }
}
