//! The JOSE header: what we write when signing and what we accept when verifying.

use std::cell::RefCell;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alg::Algorithm;
use crate::b64;
use crate::error::{Error, Malformed, Part};
use crate::json::{find_duplicate_member, has_lone_surrogate};
use crate::key::SigningKey;

/// A protected header. When verifying, only the registered members below are read; anything else
/// (`jwk`, `jku`, `x5u`, `x5c`, ...) is ignored, never fetched and never trusted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Header {
    /// The signature algorithm; when signing it always comes from the key.
    pub alg: Algorithm,
    /// Media type of the whole token, e.g. `JWT` or `at+jwt` (RFC 9068).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Content type of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Extra members to write when signing (never filled when verifying).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Header {
    /// `{"alg": <key's alg>, "typ": "JWT", "kid": <key's kid>}`.
    pub fn for_key(key: &SigningKey) -> Header {
        Header {
            alg: key.algorithm(),
            typ: Some("JWT".into()),
            cty: None,
            kid: Some(key.kid().to_string()),
            extra: serde_json::Map::new(),
        }
    }

    /// Sets `typ`.
    pub fn with_type(mut self, typ: impl Into<String>) -> Header {
        self.typ = Some(typ.into());
        self
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    /// `Some` whenever the member is present, `null` included: `"crit": null` is not an absent
    /// `crit` but a malformed one.
    #[serde(default, deserialize_with = "present")]
    crit: Option<serde_json::Value>,
    b64: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

/// A header segment, byte for byte, and what it parsed to.
type Accepted = (Box<[u8]>, Arc<Header>);

thread_local! {
    /// The last header segment this thread accepted, and what it parsed to. Tokens from one issuer
    /// share their header byte for byte, so most verifications skip decoding it; the key is the
    /// exact segment, so the result is the one a fresh parse would give.
    static LAST_ACCEPTED: RefCell<Option<Accepted>> = const { RefCell::new(None) };
}

/// Decodes and checks the first segment of a token: strict base64url, UTF-8, a JSON object without
/// duplicate members, a supported `alg`, no `crit` extension (we implement none), no `b64: false`.
/// Shared, so a cache hit costs a reference count rather than a copy.
pub(crate) fn parse(segment: &[u8]) -> Result<Arc<Header>, Error> {
    let cached = LAST_ACCEPTED.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|(seen, _)| **seen == *segment)
            .map(|(_, header)| Arc::clone(header))
    });
    if let Some(header) = cached {
        return Ok(header);
    }
    let header = Arc::new(parse_uncached(segment)?);
    if segment.len() <= 512 {
        LAST_ACCEPTED.with(|last| *last.borrow_mut() = Some((segment.into(), Arc::clone(&header))));
    }
    Ok(header)
}

fn parse_uncached(segment: &[u8]) -> Result<Header, Error> {
    let json = b64::decode(segment).ok_or(Malformed::Base64(Part::Header))?;
    let text = std::str::from_utf8(&json).map_err(|_| Malformed::Utf8(Part::Header))?;
    if !text.trim_start().starts_with('{') {
        return Err(Malformed::NotObject(Part::Header).into());
    }
    if let Some(name) = find_duplicate_member(&json) {
        return Err(Malformed::DuplicateMember(Part::Header, name).into());
    }
    if has_lone_surrogate(&json) {
        return Err(Malformed::LoneSurrogate(Part::Header).into());
    }
    let raw: RawHeader =
        serde_json::from_str(text).map_err(|e| Malformed::Json(Part::Header, e.to_string()))?;
    let alg: Algorithm = raw
        .alg
        .as_deref()
        .ok_or(Malformed::Header("has no \"alg\""))?
        .parse()?;
    if let Some(crit) = raw.crit {
        // RFC 7515 §4.1.11: a non-empty array of names, of understood extensions only. We
        // understand none.
        let serde_json::Value::Array(names) = crit else {
            return Err(Malformed::Header("\"crit\" must be an array of names").into());
        };
        let first = names
            .first()
            .ok_or(Malformed::Header("\"crit\" must not be empty"))?
            .as_str()
            .ok_or(Malformed::Header("\"crit\" must be an array of names"))?;
        return Err(Error::UnsupportedCritical(first.chars().take(64).collect()));
    }
    if raw.b64 == Some(false) {
        return Err(Malformed::Header("\"b64\": false is not allowed in a JWT").into());
    }
    Ok(Header {
        alg,
        typ: raw.typ,
        cty: raw.cty,
        kid: raw.kid,
        extra: serde_json::Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> Result<Header, Error> {
        parse(b64::encode(json.as_bytes()).as_bytes()).map(Arc::unwrap_or_clone)
    }

    #[test]
    fn accepts_a_plain_header() {
        let h =
            header(r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","jku":"https://evil"}"#).unwrap();
        assert_eq!(h.alg, Algorithm::ES256);
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert!(h.extra.is_empty(), "unknown members are not carried");
    }

    #[test]
    fn the_cache_gives_what_a_fresh_parse_gives() {
        let good = b64::encode(br#"{"alg":"HS256","kid":"a"}"#);
        let bad = b64::encode(br#"{"alg":"none","kid":"a"}"#);
        for _ in 0..2 {
            assert_eq!(parse(good.as_bytes()).unwrap().kid.as_deref(), Some("a"));
            assert_eq!(parse(bad.as_bytes()).err(), Some(Error::UnsecuredToken));
        }
    }

    #[test]
    fn refuses_what_rfc_7515_forbids() {
        assert_eq!(header(r#"{"alg":"none"}"#), Err(Error::UnsecuredToken));
        assert!(matches!(
            header(r#"{"alg":"HS256","alg":"none"}"#),
            Err(Error::Malformed(Malformed::DuplicateMember(
                Part::Header,
                _
            )))
        ));
        assert_eq!(
            header(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#),
            Err(Error::UnsupportedCritical("exp".into()))
        );
        assert!(header(r#"{"alg":"HS256","crit":[]}"#).is_err());
        for crit in ["null", "\"exp\"", "{}", "[1]", "true"] {
            assert!(
                matches!(
                    header(&format!(r#"{{"alg":"HS256","crit":{crit}}}"#)),
                    Err(Error::Malformed(Malformed::Header(_)))
                ),
                "crit {crit}"
            );
        }
        assert_eq!(
            header(r#"{"alg":"HS256","x":"\ud800"}"#),
            Err(Error::Malformed(Malformed::LoneSurrogate(Part::Header))),
            "even in a member nobody reads"
        );
        assert!(header(r#"{"alg":"HS256","b64":false}"#).is_err());
        assert!(header(r#"{"typ":"JWT"}"#).is_err());
        assert!(header(r#"["alg"]"#).is_err());
        assert!(header(r#"{"alg":5}"#).is_err());
    }
}
