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
    issuer_optional: bool,
    audiences: Option<Vec<String>>,
    any_audience: bool,
    audience_optional: bool,
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
            issuer_optional: false,
            audiences: None,
            any_audience: false,
            audience_optional: false,
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

    /// Accepts a token without `iss` even when issuers are named (a token with `iss` must still
    /// name one of them): for an issuer, like simplejwt, whose tokens carry no `iss` unless told to.
    pub fn issuer_optional(mut self) -> Self {
        self.issuer_optional = true;
        self
    }

    /// Requires `aud` (a string or an array) to contain at least one of `audiences`.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts a token without `aud` even when audiences are named (a token with `aud` must still
    /// name one of them): for an issuer whose own tokens carry `aud` and whose older tokens do not.
    pub fn audience_optional(mut self) -> Self {
        self.audience_optional = true;
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
        self.check_type(header)?;
        // The payload is known to start with `{`, so any failure here is broken JSON (a syntax
        // error, truncation, nesting too deep): the token's fault, not the caller's.
        let (IgnoredAny, view) = read_claims(self, payload)
            .map_err(|e| Malformed::Json(Part::Payload, e.to_string()))?;
        self.check_view(&view, now)
    }

    /// Checks the header and the claims like [`Validation::check`], and reads the claims as `T`,
    /// all in one pass over the payload. When `T` does not fit, the policy's verdict still comes
    /// first (an expired token is reported as expired whatever its shape).
    pub(crate) fn check_and_read<T: de::DeserializeOwned>(
        &self,
        header: &Header,
        payload: &str,
        now: i64,
    ) -> Result<T, Error> {
        self.check_type(header)?;
        match read_claims::<T>(self, payload) {
            Ok((claims, view)) => {
                self.check_view(&view, now)?;
                Ok(claims)
            }
            Err(error) => {
                self.check(header, payload, now)?;
                Err(if error.is_data() {
                    Error::Claims(error.to_string())
                } else {
                    Error::Malformed(Malformed::Json(Part::Payload, error.to_string()))
                })
            }
        }
    }

    fn check_type(&self, header: &Header) -> Result<(), Error> {
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
        Ok(())
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
            match string_claim(view.iss, "iss")? {
                Some(iss) if !issuers.iter().any(|accepted| *accepted == iss) => {
                    return Err(Error::InvalidIssuer);
                }
                Some(_) => {}
                None if self.issuer_optional => {}
                None => return Err(Error::MissingClaim("iss".into())),
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
                Some(_) if !self.audience_optional => Err(Error::MissingClaim("aud".into())),
                _ => Ok(()),
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
pub(crate) struct ClaimsView<'a> {
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

impl<'a> ClaimsView<'a> {
    fn new(policy: &Validation) -> ClaimsView<'a> {
        ClaimsView {
            exp: None,
            nbf: None,
            iat: None,
            iss: None,
            sub: None,
            aud: None,
            required_seen: vec![false; policy.required.len()],
            pinned: vec![None; policy.pinned.len()],
            duplicate: None,
        }
    }

    /// Notes a member named `name` (after the `earlier` ones) and says whether its value is wanted.
    fn saw(&mut self, policy: &Validation, name: &str, earlier: &SeenNames<'_>) -> Capture {
        if self.duplicate.is_none() && earlier.contains(name) {
            self.duplicate = Some(name.to_owned());
        }
        for (seen, required) in self.required_seen.iter_mut().zip(&policy.required) {
            *seen |= required == name;
        }
        let registered = match name {
            "exp" => Some(Registered::Exp),
            "nbf" => Some(Registered::Nbf),
            "iat" => Some(Registered::Iat),
            "iss" => Some(Registered::Iss),
            "sub" => Some(Registered::Sub),
            "aud" => Some(Registered::Aud),
            _ => None,
        };
        let pinned = policy.pinned.iter().position(|(pinned, _)| pinned == name);
        match (registered, pinned) {
            (None, None) => Capture::Skip,
            (registered, pinned) => Capture::Keep(registered, pinned),
        }
    }

    /// Keeps the raw value of a member [`ClaimsView::saw`] wanted.
    fn keep(&mut self, registered: Option<Registered>, pinned: Option<usize>, raw: &'a RawValue) {
        if let Some(registered) = registered {
            let slot = match registered {
                Registered::Exp => &mut self.exp,
                Registered::Nbf => &mut self.nbf,
                Registered::Iat => &mut self.iat,
                Registered::Iss => &mut self.iss,
                Registered::Sub => &mut self.sub,
                Registered::Aud => &mut self.aud,
            };
            *slot = Some(raw);
        }
        if let Some(slot) = pinned.and_then(|i| self.pinned.get_mut(i)) {
            *slot = Some(raw);
        }
    }
}

/// Reads the caller's claims type `T` from `payload` and, in the same pass, captures the claims the
/// policy looks at: the deserializer `T` reads from is wrapped so that every member name, and the
/// raw value of every member the policy checks, is seen on the way through.
pub(crate) fn read_claims<'de, T: de::Deserialize<'de>>(
    policy: &Validation,
    payload: &'de str,
) -> Result<(T, ClaimsView<'de>), serde_json::Error> {
    let mut view = ClaimsView::new(policy);
    let mut json = serde_json::Deserializer::from_str(payload);
    let claims = T::deserialize(Tap {
        inner: &mut json,
        view: &mut view,
        policy,
    })?;
    json.end()?;
    Ok((claims, view))
}

/// A deserializer that hands every map it meets to a [`TapMap`].
struct Tap<'v, 'p, 'de, D> {
    inner: D,
    view: &'v mut ClaimsView<'de>,
    policy: &'p Validation,
}

impl<'v, 'p, 'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Tap<'v, 'p, 'de, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(TapVisitor {
            visitor,
            view: self.view,
            policy: self.policy,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(TapVisitor {
            visitor,
            view: self.view,
            policy: self.policy,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(
            name,
            fields,
            TapVisitor {
                visitor,
                view: self.view,
                policy: self.policy,
            },
        )
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_newtype_struct(
            name,
            TapVisitor {
                visitor,
                view: self.view,
                policy: self.policy,
            },
        )
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq tuple tuple_struct enum identifier ignored_any
    }
}

/// The caller's visitor, given a [`TapMap`] instead of the map itself.
struct TapVisitor<'v, 'p, 'de, V> {
    visitor: V,
    view: &'v mut ClaimsView<'de>,
    policy: &'p Validation,
}

impl<'v, 'p, 'de, V: Visitor<'de>> Visitor<'de> for TapVisitor<'v, 'p, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let mut names = SeenNames::default();
        self.visitor.visit_map(TapMap {
            map,
            view: self.view,
            policy: self.policy,
            names: &mut names,
            capture: Capture::Skip,
        })
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Tap {
            inner: deserializer,
            view: self.view,
            policy: self.policy,
        })
    }
}

/// What the member whose name was just read is to the policy.
#[derive(Clone, Copy)]
enum Capture {
    /// Nothing: its value goes straight to the caller.
    Skip,
    /// A registered claim (slot) and/or a pinned one (index): its raw value is kept.
    Keep(Option<Registered>, Option<usize>),
}

#[derive(Clone, Copy)]
enum Registered {
    Exp,
    Nbf,
    Iat,
    Iss,
    Sub,
    Aud,
}

/// The top-level map of the claims: records each name, keeps the raw value of the members the
/// policy checks, and passes everything on to the caller's visitor. Only the top level is tapped:
/// nested maps are read by the inner map access directly.
struct TapMap<'v, 'p, 'de, A> {
    map: A,
    view: &'v mut ClaimsView<'de>,
    policy: &'p Validation,
    names: &'v mut SeenNames<'de>,
    capture: Capture,
}

/// The member names read so far: the first few in place, the rest (rare) on the heap, so a
/// typical token's claims are read without allocating for this.
struct SeenNames<'de> {
    first: [Cow<'de, str>; 16],
    len: usize,
    rest: Vec<Cow<'de, str>>,
}

impl Default for SeenNames<'_> {
    fn default() -> Self {
        SeenNames {
            first: std::array::from_fn(|_| Cow::Borrowed("")),
            len: 0,
            rest: Vec::new(),
        }
    }
}

impl<'de> SeenNames<'de> {
    fn contains(&self, name: &str) -> bool {
        self.first[..self.len].iter().any(|seen| seen == name)
            || self.rest.iter().any(|seen| seen == name)
    }

    fn push(&mut self, name: Cow<'de, str>) {
        match self.first.get_mut(self.len) {
            Some(slot) => {
                *slot = name;
                self.len += 1;
            }
            None => self.rest.push(name),
        }
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TapMap<'_, '_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(CowStr(name)) = self.map.next_key::<CowStr<'de>>()? else {
            return Ok(None);
        };
        self.capture = self.view.saw(self.policy, &name, self.names);
        let key = match &name {
            Cow::Borrowed(borrowed) => seed.deserialize(de::value::BorrowedStrDeserializer::<
                A::Error,
            >::new(borrowed)),
            Cow::Owned(owned) => {
                seed.deserialize(de::value::StrDeserializer::<A::Error>::new(owned))
            }
        }?;
        self.names.push(name);
        Ok(Some(key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let Capture::Keep(registered, pinned) = std::mem::replace(&mut self.capture, Capture::Skip)
        else {
            return self.map.next_value_seed(seed);
        };
        let raw: &'de RawValue = self.map.next_value()?;
        self.view.keep(registered, pinned, raw);
        seed.deserialize(&mut serde_json::Deserializer::from_str(raw.get()))
            .map_err(de::Error::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
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
        let optional = iss.clone().issuer_optional();
        assert!(check(&optional, r#"{}"#, 0).is_ok());
        assert_eq!(
            check(&optional, r#"{"iss":"c"}"#, 0),
            Err(Error::InvalidIssuer)
        );
        assert_eq!(
            check(&iss, r#"{}"#, 0),
            Err(Error::MissingClaim("iss".into()))
        );
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
        let optional = p.clone().audiences(["api"]).audience_optional();
        assert!(check(&optional, r#"{"exp":1}"#, 0).is_ok(), "no aud at all");
        assert!(check(&optional, r#"{"exp":1,"aud":"api"}"#, 0).is_ok());
        assert_eq!(
            check(&optional, r#"{"exp":1,"aud":"web"}"#, 0),
            Err(Error::InvalidAudience)
        );
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

    /// The one-pass reader gives the caller's type exactly as serde_json does, and the policy's
    /// verdict keeps its priority over a claims type that does not fit.
    #[test]
    fn claims_are_read_in_the_same_pass_as_the_policy_checks() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Claims {
            exp: i64,
            sub: String,
            nested: serde_json::Value,
            #[serde(default)]
            name: Option<String>,
        }
        let policy = Validation::new().require("sub").claim_equals("sub", "42");
        let header = header(Some("JWT"));
        let payload = r#"{"sub":"42","exp":100,"nested":{"exp":1,"a":[1,{"b":"\u00e9"}]},"name":"esc\"aped"}"#;
        let read: Claims = policy.check_and_read(&header, payload, 10).unwrap();
        assert_eq!(read, serde_json::from_str::<Claims>(payload).unwrap());
        let untyped: serde_json::Value = policy.check_and_read(&header, payload, 10).unwrap();
        assert_eq!(
            untyped,
            serde_json::from_str::<serde_json::Value>(payload).unwrap()
        );

        assert_eq!(
            policy.check_and_read::<Claims>(&header, payload, 100),
            Err(Error::Expired { exp: 100, now: 100 })
        );
        assert!(matches!(
            policy.check_and_read::<Claims>(&header, r#"{"sub":"42","exp":100}"#, 10),
            Err(Error::Claims(_))
        ));
        assert_eq!(
            policy.check_and_read::<Claims>(&header, r#"{"sub":"42","exp":1,"nested":0}"#, 10),
            Err(Error::Expired { exp: 1, now: 10 }),
            "expired wins over a shape that would fit"
        );
        assert!(matches!(
            policy.check_and_read::<Claims>(
                &header,
                r#"{"sub":"42","exp":100,"nested":0,"exp":100}"#,
                10
            ),
            Err(Error::Malformed(Malformed::DuplicateMember(
                Part::Payload,
                _
            )))
        ));
        assert_eq!(
            policy.check_and_read::<Claims>(&header, r#"{"sub":"43","exp":100,"nested":0}"#, 10),
            Err(Error::ClaimMismatch("sub".into()))
        );
        // Past the names kept in place, duplicates are still found.
        let many: String = (0..40).map(|i| format!(r#""c{i}":{i},"#)).collect();
        for last in ["c3", "c39"] {
            let payload = format!(r#"{{"sub":"42","exp":100,"nested":0,{many}"{last}":0}}"#);
            assert!(matches!(
                policy.check_and_read::<serde_json::Value>(&header, &payload, 10),
                Err(Error::Malformed(Malformed::DuplicateMember(Part::Payload, name))) if name == last
            ));
        }
        assert!(matches!(
            policy.check_and_read::<Claims>(&header, r#"{"sub":"42","exp":100,"nested":0} x"#, 10),
            Err(Error::Malformed(Malformed::Json(Part::Payload, _)))
        ));
    }
}
