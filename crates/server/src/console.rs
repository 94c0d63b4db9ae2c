//! The web console at `/`: sign-in and "my account", plain HTML, CSS and JavaScript modules compiled
//! into the binary. Each asset is served under a name carrying a hash of its content (so it can be
//! cached for a year), compressed, and every answer carries a Content-Security-Policy without
//! inline script or style. The console keeps the refresh token in an `HttpOnly; Secure;
//! SameSite=Strict` cookie scoped to `/console/api/` whatever `browser_mode` says, and the access
//! token in the page's memory only; its cookie endpoints need the `X-Requested-With` header.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Body, Client};
use crate::state::AppState;

/// The console's refresh cookie.
const COOKIE: &str = "tessera_console";

/// The console's sources, in the order their names are resolved: an asset may name only those
/// before it (`{{name}}` becomes its hashed URL).
const SOURCES: [(&str, &str, &str); 4] = [
    (
        "style.css",
        include_str!("../console/style.css"),
        "text/css; charset=utf-8",
    ),
    (
        "api.js",
        include_str!("../console/api.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "app.js",
        include_str!("../console/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "index.html",
        include_str!("../console/index.html"),
        "text/html; charset=utf-8",
    ),
];

/// No inline script or style, nothing from another origin, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The assets, resolved once: the page, and every other asset by its hashed URL.
struct Assets {
    page: String,
    by_url: HashMap<String, (&'static str, String)>,
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let mut urls: Vec<(&str, String)> = Vec::new();
        let mut by_url = HashMap::new();
        let mut page = String::new();
        for (name, source, content_type) in SOURCES {
            let mut body = source.to_owned();
            for (earlier, url) in &urls {
                body = body.replace(&format!("{{{{{earlier}}}}}"), url);
            }
            if name == "index.html" {
                page = body;
                continue;
            }
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
            let hash: String = digest.as_ref()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
            let url = format!("/console/assets/{stem}.{hash}.{extension}");
            by_url.insert(url.clone(), (content_type, body));
            urls.push((name, url));
        }
        Assets { page, by_url }
    })
}

/// The console's routes, each described in the OpenAPI document; answers compressed for clients
/// that accept it.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(admin_page))
        .routes(routes!(asset))
        .routes(routes!(status))
        .routes(routes!(session))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .layer(tower_http::compression::CompressionLayer::new())
}

/// The headers every answer carries (the console's pages need them; the API loses nothing).
pub fn harden<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(axum::middleware::map_response(
        |mut response: Response| async move {
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            response
        },
    ))
}

/// The console's page (sign-in, or the account once signed in).
#[utoipa::path(
    get,
    path = "/",
    operation_id = "console_page",
    tag = "console",
    responses((status = 200, description = "The console", content_type = "text/html", body = String))
)]
async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        assets().page.as_str(),
    )
        .into_response()
}

/// The console's admin pages (users, keys): the same page, which shows the one the address names.
#[utoipa::path(
    get,
    path = "/admin/{page}",
    operation_id = "console_admin_page",
    tag = "console",
    params(("page" = String, Path, description = "`users`, `keys` or `activity`")),
    responses((status = 200, description = "The console", content_type = "text/html", body = String))
)]
async fn admin_page(Path(_page): Path<String>) -> Response {
    page().await
}

/// A console asset, by its hashed name: cacheable for a year, as its name changes with it.
#[utoipa::path(
    get,
    path = "/console/assets/{file}",
    operation_id = "console_asset",
    tag = "console",
    params(("file" = String, Path, description = "The asset's hashed name")),
    responses(
        (status = 200, description = "The asset", content_type = "text/javascript", body = String),
        (status = 404, description = "No such asset", body = crate::openapi::Detail)
    )
)]
async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (content_type, body) = assets()
        .by_url
        .get(&format!("/console/assets/{file}"))
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body.as_str(),
    )
        .into_response())
}

/// Whether the server has users yet: a fresh one says how to make the first administrator.
#[utoipa::path(
    get,
    path = "/console/api/status",
    operation_id = "console_status",
    tag = "console",
    responses((status = 200, description = "`{\"has_users\"}`", body = Object), crate::openapi::Refusals)
)]
async fn status(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let (count, _) = state.auth.users_page(1, 0).await?;
    let hint = (count == 0).then_some(crate::FIRST_ADMIN_HINT);
    Ok(Json(json!({ "has_users": count > 0, "hint": hint })).into_response())
}

/// A cookie endpoint's request must carry `X-Requested-With`, which no form on another site can
/// send.
fn same_site_script(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.contains_key("x-requested-with") {
        true => Ok(()),
        false => Err(ApiError::CsrfFailed),
    }
}

fn cookie_header(token: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/console/api/; Max-Age={max_age}"
    ))
    .map_err(|_| ApiError::Auth(tessera_auth::AuthError::Internal("a cookie value".into())))
}

/// The console's cookie; two of them are refused, as for the API's refresh cookie.
fn console_cookie(headers: &HeaderMap) -> Result<Option<Zeroizing<String>>, ApiError> {
    Ok(crate::routes::cookie(headers, COOKIE)?.map(Zeroizing::new))
}

/// Signs in: the refresh token goes to the cookie, the access token to the page.
#[utoipa::path(
    post,
    path = "/console/api/session",
    operation_id = "console_session",
    tag = "console",
    request_body(content = crate::openapi::Credentials, content_type = "application/json"),
    responses((status = 200, description = "`{\"access\"}`; the refresh token is in the cookie", body = Object), crate::openapi::Refusals)
)]
async fn session(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Response, ApiError> {
    same_site_script(&headers)?;
    let username = body.char_field("username", true);
    let password = body.char_field("password", false);
    body.finish()?;
    let pair = state.auth.login(&username, password, &client).await?;
    let max_age = pair.refresh_expires_at - state.auth.now();
    let mut response = Json(json!({ "access": pair.access })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&pair.refresh, max_age)?);
    Ok(response)
}

/// A new access token from the cookie (the cookie's refresh token rotated as configured).
#[utoipa::path(
    post,
    path = "/console/api/refresh",
    operation_id = "console_refresh",
    tag = "console",
    responses((status = 200, description = "`{\"access\"}`", body = Object), crate::openapi::Refusals)
)]
async fn refresh(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_site_script(&headers)?;
    let token = console_cookie(&headers)?.ok_or(ApiError::NotAuthenticated)?;
    let outcome = state.auth.refresh(&token, &client).await?;
    let mut response = Json(json!({ "access": outcome.access })).into_response();
    if let Some((refresh, expires_at)) = &outcome.refresh {
        let max_age = expires_at - state.auth.now();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie_header(refresh, max_age)?);
    }
    Ok(response)
}

/// Signs out: the cookie's session ends (its access tokens too) and the cookie is cleared.
#[utoipa::path(
    post,
    path = "/console/api/logout",
    operation_id = "console_logout",
    tag = "console",
    responses((status = 200, description = "Signed out", body = crate::openapi::Empty), crate::openapi::Refusals)
)]
async fn logout(
    State(state): State<Arc<AppState>>,
    Client(client): Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_site_script(&headers)?;
    if let Some(token) = console_cookie(&headers)? {
        // Already over (expired, revoked, signed out elsewhere): nothing left to end.
        match state.auth.blacklist(&token, &client).await {
            Ok(()) | Err(tessera_auth::AuthError::Token(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let mut response = Json(json!({})).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie_header("", 0)?);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_resolved_and_names_carry_hashes() {
        let assets = assets();
        assert!(!assets.page.contains("{{"), "{}", assets.page);
        for (url, (_, body)) in &assets.by_url {
            assert!(!body.contains("{{"), "{url}");
            assert!(
                url.split('.').nth(1).is_some_and(|hash| hash.len() == 16),
                "{url}"
            );
        }
        assert!(assets.page.contains("/console/assets/app."));
        let app = assets
            .by_url
            .iter()
            .find(|(url, _)| url.contains("/app."))
            .unwrap();
        assert!(app.1.1.contains("/console/assets/api."));
    }
}
