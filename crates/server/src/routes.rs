//! The routes: simplejwt's token API, and what it lacks (logout, sessions, password change, JWKS).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_auth::SessionId;
use tessera_auth::audit::Actor;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::error::{ApiError, Credential};
use crate::extract::{Authenticated, Body, Client, SameSite, request_origin, trusted_origin};
use crate::state::{AppState, BrowserMode};
use crate::views::session_json;

/// All routes, with JSON 404 and 405 fallbacks.
pub fn router(state: Arc<AppState>) -> Router {
    let (routes, _) = documented().split_for_parts();
    let routes = crate::console::harden(routes)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::MethodNotAllowed(method.to_string())
        })
        // A bug that panics in a handler answers 500 with DRF's body (the panic is logged), rather
        // than dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked: answering 500");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"detail": "A server error occurred."})),
                )
                    .into_response()
            },
        ));
    // A 401's challenge names the configured scheme (simplejwt's AUTH_HEADER_TYPES[0]): a layer
    // only when that is not the default `Bearer`, its header value made once.
    let challenge = state.auth_header.challenge();
    let routes = match HeaderValue::from_str(&challenge) {
        Ok(value) if challenge != crate::error::WWW_AUTHENTICATE => {
            routes.layer(axum::middleware::map_response(move |response| {
                challenge_scheme(response, value.clone())
            }))
        }
        _ => routes,
    };
    routes
        // After routing, so the route's template is known; the fallback's requests are `unmatched`.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::observe::observe,
        ))
        .with_state(state)
}

type ApiResult = Result<Response, ApiError>;

/// Every route, each registered with its description: none can be added undocumented.
fn documented() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(verify))
        .routes(routes!(blacklist))
        .routes(routes!(login_sliding))
        .routes(routes!(refresh_sliding))
        .routes(routes!(me))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(sessions))
        .routes(routes!(delete_session))
        .routes(routes!(change_password))
        .routes(routes!(jwks))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(schema))
        .merge(crate::admin::router())
        .merge(crate::oauth::router())
        .merge(crate::feed::router())
        .merge(crate::console::router())
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

/// This API's OpenAPI 3.1 document, generated once.
#[utoipa::path(
    get,
    path = "/api/schema/",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn schema() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| serde_json::to_string(&openapi()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

/// Rewrites the default `Bearer` challenge to the configured one.
async fn challenge_scheme(mut response: Response, challenge: HeaderValue) -> Response {
    let headers = response.headers_mut();
    if headers
        .get(header::WWW_AUTHENTICATE)
        .is_some_and(|v| v == crate::error::WWW_AUTHENTICATE)
    {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

fn empty_ok() -> ApiResult {
    Ok(Json(json!({})).into_response())
}

fn refresh_cookie(mode: &BrowserMode, token: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if mode.secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; HttpOnly{secure}; SameSite=Strict; Path=/api/token/; Max-Age={max_age}",
        mode.cookie_name
    ))
    .ok()
}

/// The refresh token from the body, or in browser mode from the cookie (with the CSRF check).
fn refresh_from(
    state: &AppState,
    headers: &HeaderMap,
    body: &mut Body,
) -> Result<Zeroizing<String>, ApiError> {
    if let Some(token) = body.optional_char_field("refresh") {
        return Ok(token);
    }
    if let Some(mode) = &state.browser
        && let Some(token) = cookie(headers, &mode.cookie_name)?
    {
        let header_ok = headers.contains_key("x-requested-with");
        let origin_ok =
            request_origin(headers)?.is_some_and(|origin| trusted_origin(mode, headers, &origin));
        if !(header_ok || origin_ok) {
            return Err(ApiError::CsrfFailed);
        }
        return Ok(Zeroizing::new(token));
    }
    Ok(body.char_field("refresh", true))
}

/// A cookie, from every `Cookie` header (HTTP/2 sends one per cookie); two of the same name are
/// refused rather than one picked.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned());
    let first = found.next();
    if found.next().is_some() {
        return Err(ApiError::DuplicateCredential(Credential::RefreshCookie));
    }
    Ok(first)
}

/// simplejwt's login body: `username` (trimmed) and `password` (as typed), nothing else required.
fn credentials(mut body: Body) -> Result<(Zeroizing<String>, Zeroizing<String>), ApiError> {
    let username = body.char_field("username", true);
    let password = body.char_field("password", false);
    body.finish()?;
    Ok((username, password))
}

#[utoipa::path(
    post,
    path = "/api/token/",
    tag = "tokens",
    request_body(content((crate::openapi::Credentials = "application/json"), (crate::openapi::Credentials = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A new pair", body = crate::openapi::TokenPair), crate::openapi::Refusals)
)]
async fn login(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    body: Body,
) -> ApiResult {
    let (username, password) = credentials(body)?;
    let pair = state.auth.login(&username, password, &client).await?;
    let now = state.auth.now();
    let mut response = match &state.browser {
        None => Json(json!({ "refresh": pair.refresh, "access": pair.access })).into_response(),
        Some(_) => Json(json!({ "access": pair.access })).into_response(),
    };
    if let Some(cookie) = state
        .browser
        .as_ref()
        .and_then(|mode| refresh_cookie(mode, &pair.refresh, pair.refresh_expires_at - now))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[utoipa::path(
    post,
    path = "/api/token/refresh/",
    tag = "tokens",
    request_body(content((crate::openapi::RefreshRequest = "application/json"), (crate::openapi::RefreshRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A new access token (and refresh token, when rotating)", body = crate::openapi::TokenPair), crate::openapi::Refusals)
)]
async fn refresh(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    headers: HeaderMap,
    mut body: Body,
) -> ApiResult {
    let token = refresh_from(&state, &headers, &mut body)?;
    body.finish()?;
    let outcome = state.auth.refresh(&token, &client).await?;
    let now = state.auth.now();
    let mut payload = json!({ "access": outcome.access });
    let mut cookie_header = None;
    if let Some((refresh, exp)) = &outcome.refresh {
        match &state.browser {
            None => payload["refresh"] = Value::String(refresh.clone()),
            Some(mode) => cookie_header = refresh_cookie(mode, refresh, exp - now),
        }
    }
    let mut response = Json(payload).into_response();
    if let Some(cookie) = cookie_header {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// simplejwt's `TokenObtainSlidingView`.
#[utoipa::path(
    post,
    path = "/api/token/sliding/",
    tag = "tokens",
    request_body(content((crate::openapi::Credentials = "application/json"), (crate::openapi::Credentials = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A sliding token", body = crate::openapi::TokenBody), crate::openapi::Refusals)
)]
async fn login_sliding(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    body: Body,
) -> ApiResult {
    let (username, password) = credentials(body)?;
    let sliding = state
        .auth
        .login_sliding(&username, password, &client)
        .await?;
    Ok(Json(json!({ "token": sliding.token })).into_response())
}

/// simplejwt's `TokenRefreshSlidingView`.
#[utoipa::path(
    post,
    path = "/api/token/sliding/refresh/",
    tag = "tokens",
    request_body(content((crate::openapi::TokenBody = "application/json"), (crate::openapi::TokenBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The sliding token with a later expiry", body = crate::openapi::TokenBody), crate::openapi::Refusals)
)]
async fn refresh_sliding(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    mut body: Body,
) -> ApiResult {
    let token = body.char_field("token", true);
    body.finish()?;
    let sliding = state.auth.refresh_sliding(&token, &client).await?;
    Ok(Json(json!({ "token": sliding.token })).into_response())
}

#[utoipa::path(
    post,
    path = "/api/token/verify/",
    tag = "tokens",
    request_body(content((crate::openapi::TokenBody = "application/json"), (crate::openapi::TokenBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The token is valid", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn verify(State(state): State<Arc<AppState>>, mut body: Body) -> ApiResult {
    let token = body.char_field("token", true);
    body.finish()?;
    state.revocations_fresh()?;
    state.auth.verify_any(&token).await?;
    empty_ok()
}

#[utoipa::path(
    post,
    path = "/api/token/blacklist/",
    tag = "tokens",
    request_body(content((crate::openapi::RefreshRequest = "application/json"), (crate::openapi::RefreshRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The session is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn blacklist(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    headers: HeaderMap,
    mut body: Body,
) -> ApiResult {
    let token = refresh_from(&state, &headers, &mut body)?;
    body.finish()?;
    state.auth.blacklist(&token, &client).await?;
    let mut response = Json(json!({})).into_response();
    if let Some(cookie) = state
        .browser
        .as_ref()
        .and_then(|mode| refresh_cookie(mode, "", 0))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `/api/me/`: simplejwt's two fields first, then what Tessera adds. Serialized straight from the
/// cached user, without building a JSON tree.
#[derive(serde::Serialize)]
struct Me<'a> {
    id: i64,
    username: &'a str,
    roles: &'a [String],
    claims: &'a serde_json::Map<String, Value>,
}

#[utoipa::path(
    get,
    path = "/api/me/",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = crate::openapi::Me), crate::openapi::Refusals)
)]
async fn me(State(state): State<Arc<AppState>>, Authenticated(access): Authenticated) -> ApiResult {
    let user = state.auth.me(&access).await?;
    Ok(Json(Me {
        id: user.id.0,
        username: &user.username,
        roles: &user.roles,
        claims: &user.claims,
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/logout/",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "This session is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn logout(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    Authenticated(access): Authenticated,
) -> ApiResult {
    state.auth.logout(&access, &client).await?;
    empty_ok()
}

#[utoipa::path(
    post,
    path = "/api/logout-all/",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "Every session is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn logout_all(
    State(state): State<Arc<AppState>>,
    _: SameSite,
    Client(client): Client,
    Authenticated(access): Authenticated,
) -> ApiResult {
    let acting = client.acting(Actor::user(access.user_id));
    state.auth.logout_all(access.user_id, None, &acting).await?;
    empty_ok()
}

#[utoipa::path(
    get,
    path = "/api/sessions/",
    tag = "account",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's sessions", body = Vec<crate::openapi::SessionView>), crate::openapi::Refusals)
)]
async fn sessions(
    State(state): State<Arc<AppState>>,
    Authenticated(access): Authenticated,
) -> ApiResult {
    let list: Vec<Value> = state
        .auth
        .sessions(access.user_id)
        .await?
        .iter()
        .map(|s| session_json(s, access.session_id.as_ref()))
        .collect();
    Ok(Json(Value::Array(list)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/",
    tag = "account",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session is ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn delete_session(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    Authenticated(access): Authenticated,
    Path(id): Path<String>,
) -> ApiResult {
    let acting = client.acting(Actor::user(access.user_id));
    state
        .auth
        .delete_session(access.user_id, &SessionId(id), &acting)
        .await?;
    empty_ok()
}

#[utoipa::path(
    post,
    path = "/api/password/",
    tag = "account",
    security(("bearer" = [])),
    request_body(content((crate::openapi::PasswordChange = "application/json"), (crate::openapi::PasswordChange = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Changed; other sessions are ended", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn change_password(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    Authenticated(access): Authenticated,
    mut body: Body,
) -> ApiResult {
    let old = body.char_field("old_password", false);
    let new = body.char_field("new_password", false);
    body.finish()?;
    state
        .auth
        .change_password(&access, old, new, &client)
        .await?;
    empty_ok()
}

/// The published keys, cacheable for as long as a rotated-in key is published before it signs: a
/// verifier that caches the set that long still knows every key by the time it signs.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    responses((status = 200, description = "The public keys", body = crate::openapi::Jwks), crate::openapi::Refusals)
)]
async fn jwks(State(state): State<Arc<AppState>>) -> ApiResult {
    let mut response = Json(state.auth.public_jwks()?).into_response();
    let cache = format!("public, max-age={}", state.auth.jwks_max_age());
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "Up", body = crate::openapi::Health), crate::openapi::Refusals)
)]
async fn healthz() -> ApiResult {
    Ok(Json(json!({ "status": "ok" })).into_response())
}

/// Readiness, and what is down: the database (login, refresh and logout need it; verifying access
/// tokens does not), the revocation broadcast (without it the instance polls), and how long ago
/// the revocation state was last brought up to date. 503 only when the database is down.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, description = "Ready", body = crate::openapi::Ready), crate::openapi::Refusals)
)]
async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult {
    let down = |error: &dyn std::fmt::Display| format!("down: {error}");
    let database = state.auth.ping().await;
    let mut checks = serde_json::Map::new();
    checks.insert(
        "database".into(),
        json!(database.as_ref().map_or_else(|e| down(e), |()| "ok".into())),
    );
    let mut degraded = false;
    if let Some(bus) = &state.feed.bus
        && bus.name() != "postgres"
    {
        let reached = bus.ping().await;
        degraded |= reached.is_err();
        checks.insert(
            bus.name().into(),
            json!(reached.map_or_else(|e| down(&e), |()| "ok".into())),
        );
    }
    degraded |= state.feed.bus.is_some() && !state.feed.is_listening();
    checks.insert("revocation_feed".into(), json!(state.feed.describe()));
    let (age, sync_error) = state.feed.sync_age();
    checks.insert("revocations_synced_ms_ago".into(), json!(age));
    if let Some(error) = sync_error {
        checks.insert("revocation_sync_error".into(), json!(error));
    }
    let (code, status) = match (&database, degraded) {
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (Ok(()), true) => (StatusCode::OK, "degraded"),
        (Ok(()), false) => (StatusCode::OK, "ok"),
    };
    Ok((code, Json(json!({ "status": status, "checks": checks }))).into_response())
}
