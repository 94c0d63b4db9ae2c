//! One policy object for everything checked after the signature: times, issuer, audience, subject,
//! required and pinned claims, and the header `typ`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, Malformed, Part};
use crate::header::Header;

/// The default size limit for a compact token, checked before any other work.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now, in Unix seconds.
    fn now(&self) -> i64;
}

/// The system's wall clock: the only place the crate reads real time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one sanctioned reader of the wall clock"
    )]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock stopped at one instant, for tests and for `tessera token verify --time`.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// What a verified token must also satisfy. Built with [`Validation::new`] and the builder methods;
/// there is no default audience and no default issuer.
///
/// Defaults: `exp` required, leeway 0, `nbf` and `iat` checked when present, any `aud` refused
/// unless audiences are named or [`Validation::accept_any_audience`] is called, 8 KiB size limit.
#[derive(Clone, Debug)]
pub struct Validation {
    require_exp: bool,
    leeway: u64,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    any_audience: bool,
    subject: Option<String>,
    required: Vec<String>,
    pinned: Vec<(String, serde_json::Value)>,
    max_age: Option<u64>,
    token_type: Option<String>,
    max_token_bytes: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Validation::new()
    }
}

impl Validation {
    /// The strict default policy (see the type's documentation).
    pub fn new() -> Validation {
        Validation {
            require_exp: true,
            leeway: 0,
            issuers: None,
            audiences: None,
            any_audience: false,
            subject: None,
            required: Vec::new(),
            pinned: Vec::new(),
            max_age: None,
            token_type: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// Allows clock skew of `seconds` on `exp`, `nbf`, `iat` and the maximum age.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Accepts tokens without `exp` (not recommended).
    pub fn exp_optional(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// Requires `iss` to be one of `issuers`.
    pub fn issuers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, issuers: I) -> Self {
        self.issuers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// Requires `aud` (a string or an array) to contain at least one of `audiences`.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts any `aud` when no audiences are named. Without this, a token with `aud` fails under
    /// a policy that names none (RFC 7519 §4.1.3: a recipient must identify itself in `aud`).
    pub fn accept_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Requires `sub` to equal `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Requires the claim `name` to be present.
    pub fn require(mut self, name: impl Into<String>) -> Self {
        self.required.push(name.into());
        self
    }

    /// Requires the claim `name` to equal `value` (e.g. `token_type == "access"`).
    pub fn claim_equals(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.pinned.push((name.into(), value.into()));
        self
    }

    /// Requires `iat` and refuses tokens issued more than `seconds` ago.
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Requires the header `typ` to be `typ` (compared as a media type: case-insensitive, the
    /// `application/` prefix optional, RFC 7515 §4.1.9).
    pub fn token_type(mut self, typ: impl Into<String>) -> Self {
        self.token_type = Some(typ.into());
        self
    }

    /// Sets the size limit for compact tokens.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The size limit for compact tokens.
    pub fn max_token_size(&self) -> usize {
        self.max_token_bytes
    }

    /// Checks the header and the claims. `payload` is verified JSON text; duplicate members at its
    /// top level are refused here, nested ones must have been refused by the caller.
    pub(crate) fn check(&self, header: &Header, payload: &str, now: i64) -> Result<(), Error> {
        if let Some(expected) = &self.token_type {
            let matches = header
                .typ
                .as_deref()
                .is_some_and(|typ| media_type_eq(typ, expected));
            if !matches {
                return Err(Error::InvalidTokenType {
                    expected: expected.clone(),
                    found: header.typ.clone(),
                });
            }
        }
        // The payload is known to start with `{`, so any failure here is broken JSON (a syntax
        // error, truncation, nesting too deep): the token's fault, not the caller's.
        let view = ViewSeed { policy: self }
            .deserialize(&mut serde_json::Deserializer::from_str(payload))
            .map_err(|e| Malformed::Json(Part::Payload, e.to_string()))?;
        self.check_view(&view, now)
    }

    fn check_view(&self, view: &ClaimsView<'_>, now: i64) -> Result<(), Error> {
        if let Some(name) = &view.duplicate {
            return Err(Malformed::DuplicateMember(Part::Payload, name.clone()).into());
        }
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        match view.exp.map(|raw| numeric_date(raw, "exp")).transpose()? {
            Some(exp) if now >= exp.saturating_add(leeway) => {
                return Err(Error::Expired { exp, now });
            }
            None if self.require_exp => return Err(Error::MissingClaim("exp".into())),
            _ => {}
        }
        if let Some(nbf) = view.nbf.map(|raw| numeric_date(raw, "nbf")).transpose()?
            && now.saturating_add(leeway) < nbf
        {
            return Err(Error::NotYetValid { nbf, now });
        }
        let iat = view.iat.map(|raw| numeric_date(raw, "iat")).transpose()?;
        if let Some(iat) = iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Error::IssuedInFuture { iat, now });
        }
        if let Some(max_age) = self.max_age {
            let iat = iat.ok_or_else(|| Error::MissingClaim("iat".into()))?;
            let limit = i64::try_from(max_age)
                .unwrap_or(i64::MAX)
                .saturating_add(leeway);
            if now.saturating_sub(iat) > limit {
                return Err(Error::TooOld { iat, max_age, now });
            }
        }
        if let Some(issuers) = &self.issuers {
            let iss =
                string_claim(view.iss, "iss")?.ok_or_else(|| Error::MissingClaim("iss".into()))?;
            if !issuers.iter().any(|accepted| *accepted == iss) {
                return Err(Error::InvalidIssuer);
            }
        }
        self.check_audience(view.aud)?;
        if let Some(subject) = &self.subject {
            let sub =
                string_claim(view.sub, "sub")?.ok_or_else(|| Error::MissingClaim("sub".into()))?;
            if *subject != sub {
                return Err(Error::InvalidSubject);
            }
        }
        for (name, seen) in self.required.iter().zip(&view.required_seen) {
            if !seen {
                return Err(Error::MissingClaim(name.clone()));
            }
        }
        for ((name, expected), raw) in self.pinned.iter().zip(&view.pinned) {
            let raw = raw.ok_or_else(|| Error::MissingClaim(name.clone()))?;
            let equal = match expected {
                serde_json::Value::String(expected) => {
                    serde_json::from_str::<CowStr<'_>>(raw.get()).is_ok_and(|s| s.0 == *expected)
                }
                other => {
                    serde_json::from_str::<serde_json::Value>(raw.get()).is_ok_and(|v| v == *other)
                }
            };
            if !equal {
                return Err(Error::ClaimMismatch(name.clone()));
            }
        }
        Ok(())
    }

    fn check_audience(&self, aud: Option<&RawValue>) -> Result<(), Error> {
        let Some(raw) = aud else {
            return match self.audiences {
                Some(_) => Err(Error::MissingClaim("aud".into())),
                None => Ok(()),
            };
        };
        let values: Vec<Cow<'_, str>> =
            if let Ok(one) = serde_json::from_str::<CowStr<'_>>(raw.get()) {
                vec![one.0]
            } else if let Ok(many) = serde_json::from_str::<Vec<CowStr<'_>>>(raw.get()) {
                many.into_iter().map(|s| s.0).collect()
            } else {
                return Err(Error::InvalidClaim {
                    name: "aud".into(),
                    reason: "must be a string or an array of strings",
                });
            };
        match &self.audiences {
            Some(accepted) if values.iter().any(|v| accepted.iter().any(|a| a == v)) => Ok(()),
            None if self.any_audience => Ok(()),
            _ => Err(Error::InvalidAudience),
        }
    }
}

fn media_type_eq(found: &str, expected: &str) -> bool {
    fn strip(s: &str) -> &str {
        match s.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &s[12..],
            _ => s,
        }
    }
    strip(found).eq_ignore_ascii_case(strip(expected))
}

/// A NumericDate (RFC 7519 §2): any JSON number, fractional seconds truncated toward the past.
fn numeric_date(raw: &RawValue, name: &str) -> Result<i64, Error> {
    let invalid = || Error::InvalidClaim {
        name: name.into(),
        reason: "must be a number of seconds since the epoch",
    };
    let number: serde_json::Number = serde_json::from_str(raw.get()).map_err(|_| invalid())?;
    if let Some(value) = number.as_i64() {
        return Ok(value);
    }
    if number.as_u64().is_some() {
        return Ok(i64::MAX);
    }
    match number.as_f64() {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "clamped by the float-to-int cast"
        )]
        Some(value) if value.is_finite() => Ok(value.floor() as i64),
        _ => Err(invalid()),
    }
}

fn string_claim<'a>(raw: Option<&'a RawValue>, name: &str) -> Result<Option<Cow<'a, str>>, Error> {
    raw.map(|raw| {
        serde_json::from_str::<CowStr<'a>>(raw.get())
            .map(|s| s.0)
            .map_err(|_| Error::InvalidClaim {
                name: name.into(),
                reason: "must be a string",
            })
    })
    .transpose()
}

/// A string that borrows from the input unless it contains escapes.
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowVisitor;
        impl<'de> Visitor<'de> for CowVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowVisitor)
    }
}

/// The claims the policy looks at, captured as raw JSON in one pass over the payload.
struct ClaimsView<'a> {
    exp: Option<&'a RawValue>,
    nbf: Option<&'a RawValue>,
    iat: Option<&'a RawValue>,
    iss: Option<&'a RawValue>,
    sub: Option<&'a RawValue>,
    aud: Option<&'a RawValue>,
    required_seen: Vec<bool>,
    pinned: Vec<Option<&'a RawValue>>,
    /// A top-level member named twice, if any.
    duplicate: Option<String>,
}

struct ViewSeed<'p> {
    policy: &'p Validation,
}

impl<'de> DeserializeSeed<'de> for ViewSeed<'_> {
    type Value = ClaimsView<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ViewSeed<'_> {
    type Value = ClaimsView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let policy = self.policy;
        let mut view = ClaimsView {
            exp: None,
            nbf: None,
            iat: None,
            iss: None,
            sub: None,
            aud: None,
            required_seen: vec![false; policy.required.len()],
            pinned: vec![None; policy.pinned.len()],
            duplicate: None,
        };
        let mut names: Vec<Cow<'de, str>> = Vec::with_capacity(16);
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            if names.contains(&name) {
                view.duplicate.get_or_insert_with(|| name.to_string());
            }
            for (seen, required) in view.required_seen.iter_mut().zip(&policy.required) {
                *seen |= *required == name;
            }
            let slot = match name.as_ref() {
                "exp" => Some(&mut view.exp),
                "nbf" => Some(&mut view.nbf),
                "iat" => Some(&mut view.iat),
                "iss" => Some(&mut view.iss),
                "sub" => Some(&mut view.sub),
                "aud" => Some(&mut view.aud),
                _ => None,
            };
            let pinned_index = policy.pinned.iter().position(|(pinned, _)| *pinned == name);
            match (slot, pinned_index) {
                (Some(slot), index) => {
                    let raw: &'de RawValue = map.next_value()?;
                    *slot = Some(raw);
                    if let Some(i) = index {
                        view.pinned[i] = Some(raw);
                    }
                }
                (None, Some(i)) => view.pinned[i] = Some(map.next_value()?),
                (None, None) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            names.push(name);
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::Algorithm;

    fn header(typ: Option<&str>) -> Header {
        Header {
            alg: Algorithm::HS256,
            typ: typ.map(str::to_owned),
            cty: None,
            kid: None,
            extra: serde_json::Map::new(),
        }
    }

    fn check(policy: &Validation, claims: &str, now: i64) -> Result<(), Error> {
        policy.check(&header(Some("JWT")), claims, now)
    }

    #[test]
    fn expiry_is_exclusive_and_leeway_widens_it() {
        let p = Validation::new();
        assert!(check(&p, r#"{"exp":100}"#, 99).is_ok());
        assert_eq!(
            check(&p, r#"{"exp":100}"#, 100),
            Err(Error::Expired { exp: 100, now: 100 })
        );
        assert!(check(&p.clone().leeway(5), r#"{"exp":100}"#, 104).is_ok());
        assert_eq!(check(&p, "{}", 0), Err(Error::MissingClaim("exp".into())));
        assert!(check(&p.clone().exp_optional(), "{}", 0).is_ok());
        assert!(check(&p, r#"{"exp":100.9}"#, 99).is_ok());
        assert!(matches!(
            check(&p, r#"{"exp":"100"}"#, 0),
            Err(Error::InvalidClaim { .. })
        ));
    }

    #[test]
    fn nbf_iat_and_max_age() {
        let p = Validation::new().exp_optional();
        assert_eq!(
            check(&p, r#"{"nbf":10}"#, 9),
            Err(Error::NotYetValid { nbf: 10, now: 9 })
        );
        assert!(check(&p, r#"{"nbf":10}"#, 10).is_ok());
        assert_eq!(
            check(&p, r#"{"iat":10}"#, 9),
            Err(Error::IssuedInFuture { iat: 10, now: 9 })
        );
        let aged = p.clone().max_age(60);
        assert!(check(&aged, r#"{"iat":0}"#, 60).is_ok());
        assert!(matches!(
            check(&aged, r#"{"iat":0}"#, 61),
            Err(Error::TooOld { .. })
        ));
        assert_eq!(
            check(&aged, "{}", 0),
            Err(Error::MissingClaim("iat".into()))
        );
    }

    #[test]
    fn issuer_audience_subject() {
        let p = Validation::new().exp_optional();
        let iss = p.clone().issuers(["a", "b"]);
        assert!(check(&iss, r#"{"iss":"b"}"#, 0).is_ok());
        assert_eq!(check(&iss, r#"{"iss":"c"}"#, 0), Err(Error::InvalidIssuer));
        assert_eq!(check(&iss, "{}", 0), Err(Error::MissingClaim("iss".into())));

        let aud = p.clone().audiences(["api"]);
        assert!(check(&aud, r#"{"aud":"api"}"#, 0).is_ok());
        assert!(check(&aud, r#"{"aud":["x","api"]}"#, 0).is_ok());
        assert_eq!(
            check(&aud, r#"{"aud":["x"]}"#, 0),
            Err(Error::InvalidAudience)
        );
        assert_eq!(check(&aud, "{}", 0), Err(Error::MissingClaim("aud".into())));
        assert_eq!(
            check(&p, r#"{"aud":"api"}"#, 0),
            Err(Error::InvalidAudience)
        );
        assert!(check(&p.clone().accept_any_audience(), r#"{"aud":"api"}"#, 0).is_ok());
        assert!(matches!(
            check(&aud, r#"{"aud":7}"#, 0),
            Err(Error::InvalidClaim { .. })
        ));

        let sub = p.clone().subject("42");
        assert!(check(&sub, r#"{"sub":"42"}"#, 0).is_ok());
        assert_eq!(
            check(&sub, r#"{"sub":"43"}"#, 0),
            Err(Error::InvalidSubject)
        );
    }

    #[test]
    fn required_and_pinned_claims() {
        let p = Validation::new()
            .exp_optional()
            .require("jti")
            .claim_equals("token_type", "access")
            .claim_equals("level", 3);
        assert!(check(&p, r#"{"jti":"x","token_type":"access","level":3}"#, 0).is_ok());
        assert_eq!(
            check(&p, r#"{"token_type":"access","level":3}"#, 0),
            Err(Error::MissingClaim("jti".into()))
        );
        assert_eq!(
            check(&p, r#"{"jti":"x","token_type":"refresh","level":3}"#, 0),
            Err(Error::ClaimMismatch("token_type".into()))
        );
        assert_eq!(
            check(&p, r#"{"jti":"x","token_type":"access","level":"3"}"#, 0),
            Err(Error::ClaimMismatch("level".into()))
        );
    }

    #[test]
    fn top_level_duplicates_are_refused() {
        let p = Validation::new();
        assert_eq!(
            check(&p, r#"{"exp":5,"sub":"a","exp":100}"#, 0),
            Err(Error::Malformed(Malformed::DuplicateMember(
                Part::Payload,
                "exp".into()
            )))
        );
        assert!(check(&p, r#"{"exp":5,"\u0065xp":100}"#, 0).is_err());
    }

    #[test]
    fn token_type_is_a_media_type() {
        let p = Validation::new().exp_optional().token_type("at+jwt");
        assert!(p.check(&header(Some("at+JWT")), "{}", 0).is_ok());
        assert!(
            p.check(&header(Some("application/at+jwt")), "{}", 0)
                .is_ok()
        );
        assert!(matches!(
            p.check(&header(Some("JWT")), "{}", 0),
            Err(Error::InvalidTokenType { .. })
        ));
        assert!(p.check(&header(None), "{}", 0).is_err());
    }
}
