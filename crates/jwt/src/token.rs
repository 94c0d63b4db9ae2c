//! Compact JWS tokens: encoding, and verification through the typestate
//! [`UntrustedToken`] -> [`Verified`]. Claims cannot be read before the signature has been checked.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::b64;
use crate::error::{Error, Malformed, Part};
use crate::header::{self, Header};
use crate::json::{find_duplicate_member, has_lone_surrogate};
use crate::key::{KeyResolver, SigningKey};
use crate::validation::{Clock, Validation};

/// The largest signature any supported key makes (RSA-8192).
const MAX_SIGNATURE_BYTES: usize = 1024;

/// The largest signature of any key but RSA (ES512's 132 bytes).
const SMALL_SIGNATURE_BYTES: usize = 132;

/// Payloads up to this size are decoded on the stack; typical access tokens fit.
const STACK_PAYLOAD_BYTES: usize = 768;

/// Header members the verifier reads. They are set through [`Header`]'s fields (or not at all),
/// never through `extra`: a second copy would make a header with duplicate members, and a value of
/// the wrong type one that no strict verifier (this one included) accepts.
const RESERVED_HEADER_MEMBERS: [&str; 6] = ["alg", "typ", "cty", "kid", "crit", "b64"];

/// Signs `claims` with `key` under the header `{"alg", "typ": "JWT", "kid"}`.
pub fn encode<T: Serialize + ?Sized>(claims: &T, key: &SigningKey) -> Result<String, Error> {
    encode_with_header(&Header::for_key(key), claims, key)
}

/// Signs `claims` with `key` under `header`. The header's `alg` must be the key's (it cannot be
/// chosen independently); a missing `kid` is filled in from the key.
pub fn encode_with_header<T: Serialize + ?Sized>(
    header: &Header,
    claims: &T,
    key: &SigningKey,
) -> Result<String, Error> {
    if header.alg != key.algorithm() {
        return Err(Error::AlgorithmMismatch {
            expected: key.algorithm(),
            found: header.alg,
        });
    }
    if let Some(name) = RESERVED_HEADER_MEMBERS
        .iter()
        .find(|name| header.extra.contains_key(**name))
    {
        return Err(Error::Claims(format!(
            "the header's extra members may not set {name:?}"
        )));
    }
    let header_json = if header.kid.is_some() {
        serde_json::to_vec(header)
    } else {
        serde_json::to_vec(&Header {
            kid: Some(key.kid().to_string()),
            ..header.clone()
        })
    }
    .map_err(|e| Error::Claims(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| Error::Claims(e.to_string()))?;
    if payload.first() != Some(&b'{') {
        return Err(Error::Claims(
            "claims must serialize to a JSON object".into(),
        ));
    }
    let mut token = String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 200);
    b64::encode_to(&header_json, &mut token);
    token.push('.');
    b64::encode_to(&payload, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    b64::encode_to(&signature, &mut token);
    Ok(token)
}

/// A token that has been split and whose header has been parsed and checked, but whose signature
/// has not been verified. Nothing in it may be trusted yet.
#[derive(Debug)]
pub struct UntrustedToken<'a> {
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
    header: Arc<Header>,
}

impl<'a> UntrustedToken<'a> {
    /// Splits a compact token and checks its header (size first, then exactly three segments, then
    /// strict base64url, a duplicate-free JSON object, a supported `alg`, no `crit`).
    pub fn parse(token: &'a str, max_bytes: usize) -> Result<UntrustedToken<'a>, Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge {
                size: token.len(),
                limit: max_bytes,
            });
        }
        // Exactly two dots: the first and the last must be two, with none between them.
        let bytes = token.as_bytes();
        let (Some(first), Some(last)) = (memchr::memchr(b'.', bytes), memchr::memrchr(b'.', bytes))
        else {
            return Err(Malformed::SegmentCount.into());
        };
        if first == last || memchr::memchr(b'.', &bytes[first + 1..last]).is_some() {
            return Err(Malformed::SegmentCount.into());
        }
        let (signing_input, signature) = (&token[..last], &token[last + 1..]);
        let (header_segment, payload) = (&token[..first], &token[first + 1..last]);
        let header = header::parse(header_segment.as_bytes())?;
        Ok(UntrustedToken {
            signing_input,
            payload,
            signature,
            header,
        })
    }

    /// The header, for choosing a key. Unverified: an attacker chose every byte of it.
    pub fn unverified_header(&self) -> &Header {
        &self.header
    }

    /// Verifies the signature with the key `keys` resolves from the header (whose algorithm must
    /// equal the token's), then parses the payload and applies `validation` at `clock`'s time.
    pub fn verify<T: DeserializeOwned>(
        self,
        keys: &impl KeyResolver,
        validation: &Validation,
        clock: &dyn Clock,
    ) -> Result<Verified<T>, Error> {
        self.check_signature(keys)?;
        // Only now is the payload worth reading.
        let mut stack = [0u8; STACK_PAYLOAD_BYTES];
        let heap;
        let payload: &[u8] = match b64::decode_into(self.payload.as_bytes(), &mut stack) {
            Some(len) => &stack[..len],
            None => {
                heap =
                    b64::decode(self.payload.as_bytes()).ok_or(Malformed::Base64(Part::Payload))?;
                &heap
            }
        };
        let text = std::str::from_utf8(payload).map_err(|_| Malformed::Utf8(Part::Payload))?;
        if !text.trim_start().starts_with('{') {
            return Err(Malformed::NotObject(Part::Payload).into());
        }
        // Top-level duplicates are caught while the claims are read; only nested objects need the
        // separate scan.
        let nested = payload
            .get(1..)
            .and_then(|rest| memchr::memchr(b'{', rest))
            .is_some();
        if nested && let Some(name) = find_duplicate_member(payload) {
            return Err(Malformed::DuplicateMember(Part::Payload, name).into());
        }
        if has_lone_surrogate(payload) {
            return Err(Malformed::LoneSurrogate(Part::Payload).into());
        }
        let claims = validation.check_and_read(&self.header, text, clock.now())?;
        Ok(Verified {
            header: self.header,
            claims,
        })
    }

    /// Verifies the signature only and returns the header and the raw payload bytes: plain JWS
    /// (RFC 7515) for payloads that are not JWT claims. No claim is validated.
    pub fn verify_payload(self, keys: &impl KeyResolver) -> Result<(Header, Vec<u8>), Error> {
        self.check_signature(keys)?;
        let payload =
            b64::decode(self.payload.as_bytes()).ok_or(Malformed::Base64(Part::Payload))?;
        Ok((Arc::unwrap_or_clone(self.header), payload))
    }

    fn check_signature(&self, keys: &impl KeyResolver) -> Result<(), Error> {
        let key = keys.resolve(self.header.kid.as_deref(), self.header.alg)?;
        let encoded = self.signature.as_bytes();
        // Every signature but RSA's fits the small buffer, which is cheaper to set up.
        let mut small = [0u8; SMALL_SIGNATURE_BYTES];
        let mut large;
        let buffer: &mut [u8] = if encoded.len() <= SMALL_SIGNATURE_BYTES * 4 / 3 + 1 {
            &mut small
        } else {
            large = [0u8; MAX_SIGNATURE_BYTES];
            &mut large
        };
        let len = b64::decode_into(encoded, buffer).ok_or(Malformed::Base64(Part::Signature))?;
        key.verify_signature(self.signing_input.as_bytes(), &buffer[..len])
    }
}

/// Parses, verifies and validates `token` in one call. `T` may be the caller's serde type or
/// [`serde_json::Map`] for untyped claims.
pub fn verify<T: DeserializeOwned>(
    token: &str,
    keys: &impl KeyResolver,
    validation: &Validation,
    clock: &dyn Clock,
) -> Result<Verified<T>, Error> {
    UntrustedToken::parse(token, validation.max_token_size())?.verify(keys, validation, clock)
}

/// A token whose signature and claims have been checked.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    header: Arc<Header>,
    claims: T,
}

impl<T> Verified<T> {
    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified claims.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The verified header (shared, not copied) and claims, by value.
    pub fn into_parts(self) -> (Arc<Header>, T) {
        (self.header, self.claims)
    }
}

/// Reading tokens without verifying them. Only for display and debugging: nothing returned here
/// may be used to make a decision.
pub mod dangerous {
    use super::*;

    /// Decodes the header and payload of a compact token as JSON without checking the signature.
    /// The same strict parsing rules apply (size, segments, base64url, duplicate members).
    pub fn decode_unverified(
        token: &str,
        max_bytes: usize,
    ) -> Result<(serde_json::Value, serde_json::Value), Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge {
                size: token.len(),
                limit: max_bytes,
            });
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed::SegmentCount.into());
        };
        Ok((
            object(header.as_bytes(), Part::Header)?,
            object(payload.as_bytes(), Part::Payload)?,
        ))
    }

    fn object(segment: &[u8], part: Part) -> Result<serde_json::Value, Error> {
        let json = b64::decode(segment).ok_or(Malformed::Base64(part))?;
        if let Some(name) = find_duplicate_member(&json) {
            return Err(Malformed::DuplicateMember(part, name).into());
        }
        if has_lone_surrogate(&json) {
            return Err(Malformed::LoneSurrogate(part).into());
        }
        let value: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| Malformed::Json(part, e.to_string()))?;
        if !value.is_object() {
            return Err(Malformed::NotObject(part).into());
        }
        Ok(value)
    }
}
