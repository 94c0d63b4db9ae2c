//! Request extractors: DRF-style bodies (JSON or form), the `Bearer` access token, and the client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};
use tessera_auth::{AuthError, LoginContext, VerifiedAccess};
use zeroize::Zeroizing;

use crate::error::{ApiError, Credential};
use crate::state::{AppState, AuthHeader, BrowserMode};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body as DRF's parsers see it: a JSON object or form fields.
#[derive(Debug, Default)]
pub struct Body {
    fields: Map<String, Value>,
    /// Field errors in the order the fields were read, as DRF reports them.
    errors: Vec<(String, Vec<String>)>,
}

fn drf_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = media_type(request.headers());
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_length.is_some_and(|len| len > MAX_BODY_BYTES) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        Body::parse(content_type.as_deref(), &bytes)
    }
}

/// The request's media type: `Content-Type` lower-cased, without its parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The access token of a `Bearer` request, a user's or a client's own, verified: what the scope
/// guards decide from.
pub(crate) async fn verified_bearer(
    parts: &Parts,
    state: &AppState,
) -> Result<tessera_auth::Bearer, ApiError> {
    let token = bearer_token(parts, &AuthHeader::default())?;
    state.revocations_fresh()?;
    state
        .auth
        .verify_bearer(token)
        .await
        .map_err(|e| ApiError::access_token(e, state.auth.token_classes()))
}

impl Body {
    /// Parses a request body of media type `content_type` (lower-case, without parameters) as
    /// DRF's parsers do: a JSON object (`application/json` or any `+json` type), or form fields.
    /// Anything else is an error with DRF's message; nothing here panics (fuzzed in
    /// `fuzz/fuzz_targets/body.rs`).
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, ApiError> {
        let fields = match content_type {
            Some("application/json") => json_object(bytes)?,
            Some(ct) if ct.starts_with("application/") && ct.ends_with("+json") => {
                json_object(bytes)?
            }
            Some("application/x-www-form-urlencoded") => {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
                    .map_err(|e| ApiError::ParseError(e.to_string()))?;
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect()
            }
            None if bytes.is_empty() => Map::new(),
            Some(other) => return Err(ApiError::UnsupportedMediaType(other.to_owned())),
            None => return Err(ApiError::UnsupportedMediaType(String::new())),
        };
        Ok(Body {
            fields,
            errors: Vec::new(),
        })
    }
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::NotAnObject(drf_type_name(&other))),
        Err(e) => Err(ApiError::ParseError(e.to_string())),
    }
}

impl Body {
    /// A DRF `CharField`: required, not null, not blank; numbers are taken as their text. Errors
    /// are collected; call [`Body::finish`] after reading every field.
    pub fn char_field(&mut self, name: &str, trim: bool) -> Zeroizing<String> {
        let outcome = match self.fields.get(name) {
            None => Err("This field is required."),
            Some(Value::Null) => Err("This field may not be null."),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err("Not a valid string."),
        };
        match outcome.map(|text| if trim { text.trim().to_owned() } else { text }) {
            Ok(text) if text.is_empty() => self.error(name, "This field may not be blank."),
            Ok(text) => return Zeroizing::new(text),
            Err(message) => self.error(name, message),
        }
        Zeroizing::new(String::new())
    }

    /// An optional field that, when present, must be a non-blank string.
    pub fn optional_char_field(&mut self, name: &str) -> Option<Zeroizing<String>> {
        self.fields.get(name)?;
        Some(self.char_field(name, true))
    }

    /// An optional DRF `ListField(child=CharField())`.
    pub fn optional_string_list(&mut self, name: &str) -> Option<Vec<String>> {
        match self.fields.get(name)? {
            Value::Array(items) => match items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect()
            {
                Some(list) => return Some(list),
                None => self.error(name, "Not a valid string."),
            },
            Value::Null => self.error(name, "This field may not be null."),
            other => {
                let message = format!(
                    "Expected a list of items but got type \"{}\".",
                    drf_type_name(other)
                );
                self.error(name, &message);
            }
        }
        None
    }

    /// An optional DRF `DictField`.
    pub fn optional_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.fields.get(name)? {
            Value::Object(map) => return Some(map.clone()),
            Value::Null => self.error(name, "This field may not be null."),
            other => {
                let message = format!(
                    "Expected a dictionary of items but got type \"{}\".",
                    drf_type_name(other)
                );
                self.error(name, &message);
            }
        }
        None
    }

    /// An optional DRF `BooleanField`.
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.fields.get(name)? {
            Value::Bool(b) => return Some(*b),
            Value::String(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => return Some(true),
                "false" | "0" | "no" | "off" => return Some(false),
                _ => self.error(name, "Must be a valid boolean."),
            },
            Value::Number(n) if n.as_i64() == Some(1) => return Some(true),
            Value::Number(n) if n.as_i64() == Some(0) => return Some(false),
            _ => self.error(name, "Must be a valid boolean."),
        }
        None
    }

    fn error(&mut self, name: &str, message: &str) {
        match self.errors.iter_mut().find(|(field, _)| field == name) {
            Some((_, messages)) => messages.push(message.to_owned()),
            None => self
                .errors
                .push((name.to_owned(), vec![message.to_owned()])),
        }
    }

    /// Fails with every collected field error, DRF style.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

/// A request authenticated by a valid, unrevoked `Bearer` access token.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Arc<VerifiedAccess>);

/// The raw token of `Authorization: Bearer <token>` (or the header and types `expected` names),
/// with simplejwt's rules: another scheme or no header is "not provided"; an accepted scheme with
/// other than one value is a bad header.
pub(crate) fn bearer_token<'a>(
    parts: &'a Parts,
    expected: &AuthHeader,
) -> Result<&'a str, ApiError> {
    let mut values = parts.headers.get_all(&expected.name).iter();
    let value = values.next().ok_or(ApiError::NotAuthenticated)?;
    if values.next().is_some() {
        return Err(ApiError::DuplicateCredential(
            Credential::AuthorizationHeader,
        ));
    }
    let text = value.to_str().map_err(|_| ApiError::NotAuthenticated)?;
    let mut words = text.split_ascii_whitespace();
    if !words
        .next()
        .is_some_and(|scheme| expected.types.iter().any(|t| t == scheme))
    {
        return Err(ApiError::NotAuthenticated);
    }
    match (words.next(), words.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(ApiError::BadAuthorizationHeader),
    }
}

/// Roles a guarded route accepts: a request passes with any one of them.
///
/// ```
/// use tessera_server::extract::{RequireRole, RoleRequirement};
///
/// /// Staff or admins.
/// pub struct Staff;
/// impl RoleRequirement for Staff {
///     const ANY_OF: &'static [&'static str] = &["staff", "admin"];
/// }
///
/// // A handler that only staff reach; others get 403, callers without a valid token 401.
/// async fn report(RequireRole(access, ..): RequireRole<Staff>) -> String {
///     format!("hello user {}", access.user_id)
/// }
/// # let _ = report;
/// ```
pub trait RoleRequirement {
    /// Accepted role names.
    const ANY_OF: &'static [&'static str];
}

/// The `admin` role, which guards the admin API.
#[derive(Debug)]
pub struct AdminRole;

impl RoleRequirement for AdminRole {
    const ANY_OF: &'static [&'static str] = &["admin"];
}

/// A request whose access token carries one of `R`'s roles. Decided from the token alone.
#[derive(Debug)]
pub struct RequireRole<R>(pub Arc<VerifiedAccess>, pub std::marker::PhantomData<R>);

impl<R: RoleRequirement + Send> FromRequestParts<Arc<AppState>> for RequireRole<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(access) = Authenticated::from_request_parts(parts, state).await?;
        if !access.has_any_role(R::ANY_OF) {
            return Err(ApiError::Auth(AuthError::Forbidden));
        }
        Ok(RequireRole(access, std::marker::PhantomData))
    }
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts, &state.auth_header)?;
        state.revocations_fresh()?;
        state
            .auth
            .verify_access_fresh(token)
            .await
            .map(Authenticated)
            .map_err(|e| ApiError::access_token(e, state.auth.token_classes()))
    }
}

/// In browser mode, a request that no other site's page can have sent: its `Origin` (or, without
/// one, its `Referer`) is this server's own or an allowed origin, or absent (a client that is not
/// a browser). Guards the routes that set or clear the refresh cookie, so a cross-site form cannot
/// log a victim's browser into an attacker's account (login CSRF) or out of their own. Outside
/// browser mode no cookie is involved and every request passes.
#[derive(Clone, Copy, Debug)]
pub struct SameSite;

impl FromRequestParts<Arc<AppState>> for SameSite {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(mode) = &state.browser else {
            return Ok(SameSite);
        };
        match request_origin(&parts.headers)? {
            Some(origin) if !trusted_origin(mode, &parts.headers, &origin) => {
                Err(ApiError::ForeignOrigin(origin.chars().take(200).collect()))
            }
            _ => Ok(SameSite),
        }
    }
}

/// The site a browser says a request comes from: `Origin`, or the scheme, host and port of
/// `Referer`; `None` when neither is sent. Two values of either header are refused.
pub(crate) fn request_origin(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let single = |name: header::HeaderName| -> Result<Option<String>, ApiError> {
        let mut values = headers.get_all(&name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::ForeignOrigin(format!("(two {name} headers)")));
        }
        Ok(Some(String::from_utf8_lossy(value.as_bytes()).into_owned()))
    };
    if let Some(origin) = single(header::ORIGIN)? {
        return Ok(Some(origin));
    }
    Ok(single(header::REFERER)?.map(|referer| origin_of_url(&referer)))
}

/// `scheme://host[:port]` of a URL (the whole text when it has no `://`).
fn origin_of_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => url.to_owned(),
    }
}

/// Whether `origin` is one of the allowed origins, or this server itself (its authority is the
/// request's `Host`, which a browser sets to the server it sends to).
pub(crate) fn trusted_origin(mode: &BrowserMode, headers: &HeaderMap, origin: &str) -> bool {
    if mode.allowed_origins.iter().any(|allowed| allowed == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .map(|(_, authority)| authority);
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Who is calling: the client IP (trusting `X-Forwarded-For` only from configured proxies) and
/// the `User-Agent`.
#[derive(Clone, Debug, Default)]
pub struct Client(pub LoginContext);

impl FromRequestParts<Arc<AppState>> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let ip = client_ip(peer, forwarded, &state.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(Client(LoginContext {
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
        }))
    }
}

/// The client address: the peer, unless the peer is a trusted proxy, in which case the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    forwarded: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(forwarded) = forwarded else {
        return Some(peer);
    };
    let mut candidate = peer;
    for hop in forwarded.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                candidate = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_origin_or_referer_and_match_listed_or_own_site() {
        let mode = BrowserMode {
            cookie_name: "refresh_token".into(),
            secure: true,
            allowed_origins: vec!["https://app.example".into()],
        };
        let headers = |pairs: &[(header::HeaderName, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(name.clone(), value.parse().unwrap());
            }
            map
        };
        let host = (header::HOST, "auth.example:8443");
        let h = headers(&[host.clone(), (header::ORIGIN, "https://evil.example")]);
        assert_eq!(
            request_origin(&h).unwrap().as_deref(),
            Some("https://evil.example")
        );
        assert!(!trusted_origin(&mode, &h, "https://evil.example"));
        assert!(trusted_origin(&mode, &h, "https://app.example"));
        assert!(trusted_origin(&mode, &h, "https://auth.example:8443"));
        assert!(!trusted_origin(&mode, &h, "https://auth.example"));
        assert!(!trusted_origin(&mode, &h, "null"));
        let h = headers(&[
            host.clone(),
            (header::REFERER, "https://evil.example/a/b?c#d"),
        ]);
        assert_eq!(
            request_origin(&h).unwrap().as_deref(),
            Some("https://evil.example")
        );
        assert_eq!(request_origin(&headers(&[host])).unwrap(), None);
        let twice = headers(&[(header::ORIGIN, "https://a"), (header::ORIGIN, "https://b")]);
        assert!(request_origin(&twice).is_err());
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let spoofed = Some("1.1.1.1, 203.0.113.9");
        assert_eq!(
            client_ip(Some(client), Some("1.1.1.1"), &[proxy]),
            Some(client)
        );
        assert_eq!(client_ip(Some(proxy), spoofed, &[proxy]), Some(client));
        assert_eq!(client_ip(Some(proxy), None, &[proxy]), Some(proxy));
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &[proxy]),
            Some(proxy)
        );
    }
}
