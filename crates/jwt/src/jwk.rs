//! JSON Web Keys (RFC 7517) as plain data, and their RFC 7638 thumbprints.
//!
//! A [`Jwk`] is only the interchange form; it becomes usable through [`crate::SigningKey::from_jwk`]
//! or [`crate::VerifyingKey::from_jwk`], which bind it to one algorithm.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::b64;
use crate::error::{Error, KeyRejection, Malformed, Part};
use crate::json::find_duplicate_member;

/// A JSON Web Key. Private members are wiped from memory when the value is dropped and never shown
/// by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `oct`, `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use: `sig` or `enc`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// The algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Curve (EC, OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// X coordinate (EC) or public key (OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Y coordinate (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private exponent (RSA), private scalar (EC) or seed (OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<Secret>,
    /// RSA first prime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<Secret>,
    /// RSA second prime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<Secret>,
    /// RSA first CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<Secret>,
    /// RSA second CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<Secret>,
    /// RSA CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<Secret>,
    /// Other primes (multi-prime RSA): refused, kept only to be detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oth: Option<serde_json::Value>,
    /// Symmetric key value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Secret>,
}

/// A private JWK member: wiped from memory on drop, never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps base64url text of private key material.
    pub fn new(text: String) -> Secret {
        Secret(text)
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses one JWK from JSON, refusing duplicate members.
    pub fn from_json(json: &str) -> Result<Jwk, Error> {
        parse_strict(json)
    }

    /// Whether the key holds private (or secret) material.
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// The same key without its private members.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            kty: self.kty.clone(),
            kid: self.kid.clone(),
            use_: self.use_.clone(),
            key_ops: self.key_ops.clone(),
            alg: self.alg.clone(),
            crv: self.crv.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
            n: self.n.clone(),
            e: self.e.clone(),
            ..Jwk::default()
        }
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url) over the required members in lexicographic order.
    pub fn thumbprint(&self) -> Result<String, Error> {
        let missing = |name: &str| {
            Error::InvalidKey(KeyRejection::Invalid(format!(
                "{} key lacks member {name:?}",
                self.kty
            )))
        };
        let member = |value: Option<&str>, name: &str| -> Result<String, Error> {
            let value = value.ok_or_else(|| missing(name))?;
            serde_json::to_string(value).map_err(|e| Error::Claims(e.to_string()))
        };
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                member(self.crv.as_deref(), "crv")?,
                member(self.x.as_deref(), "x")?,
                member(self.y.as_deref(), "y")?
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                member(self.e.as_deref(), "e")?,
                member(self.n.as_deref(), "n")?
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                member(self.crv.as_deref(), "crv")?,
                member(self.x.as_deref(), "x")?
            ),
            "oct" => format!(r#"{{"k":{},"kty":"oct"}}"#, member(self.k.as_deref(), "k")?),
            other => {
                return Err(Error::InvalidKey(KeyRejection::Invalid(format!(
                    "unknown key type {other:?}"
                ))));
            }
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        Ok(b64::encode(digest.as_ref()))
    }

    /// Refuses a key whose `use` or `key_ops` rule out signatures (RFC 7517 §4.2, §4.3).
    pub(crate) fn check_signature_use(&self, signing: bool) -> Result<(), KeyRejection> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyRejection::NotForSignatures);
        }
        if let Some(ops) = &self.key_ops {
            let wanted = if signing { "sign" } else { "verify" };
            let allowed = ops.iter().any(|op| op == wanted)
                // A private key marked only for signing still yields a public key for verifying.
                || (!signing && ops.iter().any(|op| op == "sign"));
            if !allowed {
                return Err(KeyRejection::NotForSignatures);
            }
        }
        Ok(())
    }

    /// Decodes a required base64url member.
    pub(crate) fn bytes(&self, value: Option<&str>, name: &str) -> Result<Vec<u8>, KeyRejection> {
        let text = value.ok_or_else(|| {
            KeyRejection::Invalid(format!("{} key lacks member {name:?}", self.kty))
        })?;
        b64::decode(text.as_bytes()).ok_or_else(|| {
            KeyRejection::Invalid(format!("member {name:?} is not canonical base64url"))
        })
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWK Set from JSON, refusing duplicate members.
    pub fn from_json(json: &str) -> Result<JwkSet, Error> {
        parse_strict(json)
    }
}

fn parse_strict<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Error> {
    if let Some(name) = find_duplicate_member(json.as_bytes()) {
        return Err(KeyRejection::Invalid(format!("JSON names member {name:?} twice")).into());
    }
    serde_json::from_str(json).map_err(|e| {
        if e.is_data() {
            KeyRejection::Invalid(e.to_string()).into()
        } else {
            Error::Malformed(Malformed::Json(Part::Payload, e.to_string()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = Jwk::from_json(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn debug_hides_private_members() {
        let jwk = Jwk {
            kty: "oct".into(),
            k: Some(Secret::new("c2VjcmV0".into())),
            ..Jwk::default()
        };
        assert!(!format!("{jwk:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn duplicate_members_are_refused() {
        assert!(Jwk::from_json(r#"{"kty":"oct","k":"AA","k":"AB"}"#).is_err());
    }

    #[test]
    fn use_and_key_ops_are_enforced() {
        let mut jwk = Jwk {
            kty: "EC".into(),
            use_: Some("enc".into()),
            ..Jwk::default()
        };
        assert!(jwk.check_signature_use(false).is_err());
        jwk.use_ = None;
        jwk.key_ops = Some(vec!["encrypt".into()]);
        assert!(jwk.check_signature_use(true).is_err());
        jwk.key_ops = Some(vec!["sign".into()]);
        assert!(jwk.check_signature_use(true).is_ok());
        assert!(jwk.check_signature_use(false).is_ok());
    }
}
