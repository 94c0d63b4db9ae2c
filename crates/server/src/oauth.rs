//! The OAuth 2.0 surface beside the simplejwt one: the token endpoint (RFC 6749), introspection
//! (RFC 7662), revocation (RFC 7009) and authorization server metadata (RFC 8414). Handlers only
//! read the request (form parameters, client authentication) and call the domain; errors take the
//! §5.2 shape through [`ApiError::OAuth`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;
use tessera_auth::store::Client;
use tessera_auth::{AuthError, Grant, OAuthProblem};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Client as Caller, MAX_BODY_BYTES};
use crate::state::AppState;

/// The OAuth routes, to be merged into the main router.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(introspect))
        .routes(routes!(revoke))
        .routes(routes!(metadata))
}

fn invalid_request(description: impl Into<String>) -> ApiError {
    ApiError::oauth(AuthError::oauth(OAuthProblem::InvalidRequest, description))
}

/// Form parameters (RFC 6749 §3.2: `application/x-www-form-urlencoded`, each at most once).
#[derive(Debug, Default)]
pub struct OAuthForm(Vec<(String, Zeroizing<String>)>);

impl OAuthForm {
    /// Parses a body of media type `content_type`; anything but a form is `invalid_request`.
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<OAuthForm, ApiError> {
        if content_type != Some("application/x-www-form-urlencoded") {
            return Err(invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let mut pairs: Vec<(String, Zeroizing<String>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in form_urlencoded::parse(bytes) {
            if !seen.insert(name.clone()) {
                return Err(invalid_request(format!(
                    "parameter {:?} is given more than once",
                    name.chars().take(64).collect::<String>()
                )));
            }
            pairs.push((name.into_owned(), Zeroizing::new(value.into_owned())));
        }
        Ok(OAuthForm(pairs))
    }

    /// A parameter; an empty value counts as absent (§3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| invalid_request(format!("missing parameter {name:?}")))
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = crate::extract::media_type(request.headers());
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::oauth_too_large())?;
        OAuthForm::parse(content_type.as_deref(), &bytes)
    }
}

/// How the client presented its credentials: `client_secret_basic` or `client_secret_post`.
struct Credentials {
    id: String,
    secret: Zeroizing<String>,
    basic: bool,
}

/// A value of the Basic header, form-urlencoded as RFC 6749 §2.3.1 asks (raw URL-safe values
/// decode to themselves).
fn form_decoded(part: &str) -> String {
    form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn credentials(headers: &HeaderMap, form: &OAuthForm) -> Result<Credentials, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let header_value = values.next();
    if values.next().is_some() {
        return Err(invalid_request("more than one Authorization header"));
    }
    let basic = header_value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let posted = form.get("client_id");
    let refused = |basic: bool| {
        ApiError::oauth_client(
            AuthError::oauth(OAuthProblem::InvalidClient, "client authentication failed"),
            basic,
        )
    };
    match (basic, posted) {
        (Some(_), Some(_)) => Err(invalid_request(
            "the client authenticated with more than one method",
        )),
        (Some((_, encoded)), None) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map(Zeroizing::new)
                .ok_or_else(|| refused(true))?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| refused(true))?;
            Ok(Credentials {
                id: form_decoded(id),
                secret: Zeroizing::new(form_decoded(secret)),
                basic: true,
            })
        }
        (None, Some(id)) => Ok(Credentials {
            id: id.to_owned(),
            secret: Zeroizing::new(form.get("client_secret").unwrap_or_default().to_owned()),
            basic: false,
        }),
        (None, None) => Err(refused(false)),
    }
}

/// Authenticates the calling client, answering `invalid_client` (401, with `WWW-Authenticate:
/// Basic` when Basic was used) on any failure.
async fn authenticated_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
    caller: &Caller,
) -> Result<Client, ApiError> {
    let credentials = credentials(headers, form)?;
    // Our ids are 43 URL-safe characters: anything far from that is no client of ours, refused
    // before it reaches the throttle's keys or the database.
    let plausible = !credentials.id.is_empty()
        && credentials.id.len() <= 128
        && credentials.id.bytes().all(|b| b.is_ascii_graphic());
    if !plausible {
        return Err(ApiError::oauth_client(
            AuthError::oauth(OAuthProblem::InvalidClient, "client authentication failed"),
            credentials.basic,
        ));
    }
    state
        .auth
        .authenticate_client(&credentials.id, &credentials.secret, caller.0.ip.as_deref())
        .await
        .map_err(|error| ApiError::oauth_client(error, credentials.basic))
}

/// Token responses are never cached (§5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    security((), ("client" = [])),
    request_body(content_type = "application/x-www-form-urlencoded", content = crate::openapi::OAuthTokenRequest),
    responses((status = 200, description = "Tokens (RFC 6749 §5.1)", body = crate::openapi::OAuthTokenResponse), crate::openapi::OAuthRefusals)
)]
async fn token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let grant_type = form.require("grant_type")?;
    let grant = Grant::parse(grant_type).ok_or_else(|| {
        ApiError::oauth(AuthError::oauth(
            OAuthProblem::UnsupportedGrantType,
            format!("grant type {grant_type:?} is not supported"),
        ))
    })?;
    let client = authenticated_client(&state, &headers, &form, &caller).await?;
    let scope = form.get("scope");
    let tokens = match grant {
        Grant::ClientCredentials => state.auth.grant_client_credentials(&client, scope).await,
        Grant::Password => {
            let username = form.require("username")?;
            let password = Zeroizing::new(form.require("password")?.to_owned());
            state
                .auth
                .grant_password(&client, username, password, scope, &caller.0)
                .await
        }
        Grant::RefreshToken => {
            let refresh = form.require("refresh_token")?;
            state.auth.grant_refresh(&client, refresh, &caller.0).await
        }
    }
    .map_err(ApiError::oauth)?;
    Ok(no_store(Json(tokens).into_response()))
}

#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    security((), ("client" = [])),
    request_body(content_type = "application/x-www-form-urlencoded", content = crate::openapi::OAuthTokenParam),
    responses((status = 200, description = "What the token is (RFC 7662)", body = crate::openapi::Introspection), crate::openapi::OAuthRefusals)
)]
async fn introspect(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    authenticated_client(&state, &headers, &form, &caller).await?;
    let token = form.require("token")?;
    let facts = state
        .auth
        .introspect(token)
        .await
        .map_err(ApiError::oauth)?;
    Ok(no_store(Json(facts).into_response()))
}

#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    security((), ("client" = [])),
    request_body(content_type = "application/x-www-form-urlencoded", content = crate::openapi::OAuthTokenParam),
    responses((status = 200, description = "Revoked, or nothing to revoke (RFC 7009)"), crate::openapi::OAuthRefusals)
)]
async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let client = authenticated_client(&state, &headers, &form, &caller).await?;
    let token = form.require("token")?;
    // `token_type_hint` is only a hint (RFC 7009 §2.1): the token says what it is.
    state
        .auth
        .revoke_for_client(&client, token)
        .await
        .map_err(ApiError::oauth)?;
    Ok(no_store(().into_response()))
}

#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, description = "RFC 8414 metadata", body = crate::openapi::Metadata), (status = 503, description = "Temporarily unavailable", body = crate::openapi::Detail))
)]
async fn metadata(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let issuer = state.auth.oauth_issuer();
    let base = issuer.trim_end_matches('/');
    let scopes = state.auth.scopes_supported().await?;
    Ok(Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "grant_types_supported": Grant::ALL.map(Grant::as_str),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "response_types_supported": [],
    }))
    .into_response())
}

/// Scopes a guarded route accepts: a request passes with any one of them.
///
/// ```
/// use tessera_server::oauth::{RequireScope, ScopeRequirement};
///
/// /// Readers of invoices.
/// pub struct ReadInvoices;
/// impl ScopeRequirement for ReadInvoices {
///     const ANY_OF: &'static [&'static str] = &["invoices:read"];
/// }
///
/// // Only tokens granted `invoices:read` reach it; others get 403, no token 401.
/// async fn invoices(RequireScope(bearer, ..): RequireScope<ReadInvoices>) -> String {
///     format!("scopes: {:?}", bearer.scopes())
/// }
/// # let _ = invoices;
/// ```
pub trait ScopeRequirement {
    /// Accepted scopes.
    const ANY_OF: &'static [&'static str];
}

/// A request whose access token (a user's or a client's own) was granted one of `S`'s scopes.
/// Decided from the token alone.
#[derive(Debug)]
pub struct RequireScope<S>(pub tessera_auth::Bearer, pub std::marker::PhantomData<S>);

impl<S: ScopeRequirement + Send> axum::extract::FromRequestParts<Arc<AppState>>
    for RequireScope<S>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let bearer = crate::extract::verified_bearer(parts, state).await?;
        if !S::ANY_OF.iter().any(|scope| bearer.has_scope(scope)) {
            return Err(ApiError::Auth(AuthError::Forbidden));
        }
        Ok(RequireScope(bearer, std::marker::PhantomData))
    }
}
