//! The OpenAPI 3.1 document, served at `GET /api/schema/`. It is generated from the code: every
//! route is registered through `utoipa_axum::routes!` from a handler annotated with
//! `#[utoipa::path]`, so a route cannot exist without being described, and the shapes below are
//! the bodies the handlers and the one error mapping (`error.rs`) produce.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "JWT authentication server: djangorestframework-simplejwt's token API, \
                       sessions, an admin API, OAuth 2.0 and a revocation feed."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Detail, DetailCode, TokenMessage, TokenNotValid, FieldErrors, ErrorBody, OAuthError)),
    tags(
        (name = "tokens", description = "simplejwt's token API"),
        (name = "account", description = "The caller's own account and sessions"),
        (name = "admin", description = "Users, clients and the audit log (admin role)"),
        (name = "oauth", description = "OAuth 2.0 (RFC 6749, 7662, 7009, 8414)"),
        (name = "feed", description = "The revocation feed for downstream services"),
        (name = "keys", description = "Published verification keys"),
        (name = "health", description = "Liveness and readiness"),
        (name = "console", description = "The web console: its page, assets and cookie session"),
    )
)]
pub struct ApiDoc;

/// `bearer`: a user's (or client's) access token; `client`: an OAuth client's id and secret.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// `{"detail"}`: DRF's error body.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    /// What went wrong.
    pub detail: String,
}

/// `{"detail","code"}`: simplejwt's error body on the token endpoints.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailCode {
    /// What went wrong.
    pub detail: String,
    /// simplejwt's code (`token_not_valid`, `no_active_account`, ...).
    pub code: String,
}

/// One token class's verdict on a refused access token.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenMessage {
    /// `AccessToken` or `SlidingToken`.
    pub token_class: String,
    /// `access` or `sliding`.
    pub token_type: String,
    /// Why that class refused it.
    pub message: String,
}

/// simplejwt's body for a refused access token on a protected route.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenNotValid {
    /// `Given token not valid for any token type`.
    pub detail: String,
    /// `token_not_valid`.
    pub code: String,
    /// Each token class's verdict.
    pub messages: Vec<TokenMessage>,
}

/// DRF's field errors: each invalid field with its messages.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldErrors)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

/// Any of the error bodies a refused request gets.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ErrorBody {
    /// A refused access token.
    TokenNotValid(TokenNotValid),
    /// A token endpoint's refusal.
    DetailCode(DetailCode),
    /// DRF's plain error.
    Detail(Detail),
    /// Invalid fields.
    Fields(FieldErrors),
}

/// The refusals every JSON route may answer, with the body each has.
#[derive(IntoResponses)]
pub enum Refusals {
    /// Invalid fields or a body that cannot be parsed.
    #[response(
        status = 400,
        description = "Invalid fields (DRF's shape) or an unreadable body"
    )]
    BadRequest(ErrorBody),
    /// No credentials, or refused ones.
    #[response(
        status = 401,
        description = "Not authenticated, or the credentials were refused"
    )]
    Unauthorized(ErrorBody),
    /// Authenticated without the right (a role, a scope, the CSRF defence).
    #[response(status = 403, description = "Not allowed")]
    Forbidden(Detail),
    /// Nothing there (or not the caller's).
    #[response(status = 404, description = "Not found")]
    NotFound(Detail),
    /// The body is over the size limit.
    #[response(status = 413, description = "Request body too large")]
    TooLarge(Detail),
    /// The body's media type is not JSON or a form.
    #[response(status = 415, description = "Unsupported media type")]
    UnsupportedMediaType(Detail),
    /// Too many failed logins.
    #[response(
        status = 429,
        description = "Throttled; `Retry-After` says for how long"
    )]
    Throttled(Detail),
    /// Storage or the revocation state is not available.
    #[response(status = 503, description = "Temporarily unavailable")]
    Unavailable(Detail),
}

/// An OAuth 2.0 error (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthError {
    /// The error code.
    pub error: String,
    /// What went wrong.
    pub error_description: Option<String>,
}

/// The refusals of the OAuth endpoints.
#[derive(IntoResponses)]
pub enum OAuthRefusals {
    /// A bad request or grant.
    #[response(
        status = 400,
        description = "invalid_request, invalid_grant, ... (RFC 6749 §5.2)"
    )]
    BadRequest(OAuthError),
    /// Client authentication failed.
    #[response(status = 401, description = "invalid_client")]
    Unauthorized(OAuthError),
    /// The body is over the size limit.
    #[response(status = 413, description = "Request body too large")]
    TooLarge(OAuthError),
    /// Throttled logins (the password grant).
    #[response(status = 429, description = "Throttled")]
    Throttled(OAuthError),
    /// Storage is not available.
    #[response(status = 503, description = "Temporarily unavailable")]
    Unavailable(OAuthError),
}

/// A username and password.
#[derive(Serialize, ToSchema)]
pub struct Credentials {
    /// The username.
    #[schema(min_length = 1)]
    pub username: String,
    /// The password.
    #[schema(min_length = 1)]
    pub password: String,
}

/// A new access and refresh token.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// The refresh token (absent in browser mode: it is in the cookie).
    pub refresh: Option<String>,
    /// The access token.
    pub access: String,
}

/// A refresh token (in browser mode the cookie may carry it instead).
#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token.
    #[schema(min_length = 1)]
    pub refresh: String,
}

/// Any token, to check or to refresh.
#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    /// The token.
    #[schema(min_length = 1)]
    pub token: String,
}

/// An empty object.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// User id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Custom claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (`sid` in its tokens).
    pub id: String,
    /// When it started (RFC 3339).
    pub created_at: String,
    /// When it was last refreshed.
    pub last_used_at: String,
    /// The `User-Agent` it started with.
    pub user_agent: Option<String>,
    /// The address it started from.
    pub ip: Option<String>,
    /// Whether it is the caller's own.
    pub current: bool,
}

/// A password change.
#[derive(Serialize, ToSchema)]
pub struct PasswordChange {
    /// The current password.
    #[schema(min_length = 1)]
    pub old_password: String,
    /// The new one.
    #[schema(min_length = 1)]
    pub new_password: String,
}

/// The published keys (RFC 7517).
#[derive(Serialize, ToSchema)]
pub struct Jwks {
    /// Public JWKs.
    pub keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Liveness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Readiness, check by check.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ok`, or `unavailable` with the checks that failed.
    pub status: String,
    /// Each check's state.
    pub checks: serde_json::Map<String, serde_json::Value>,
}

/// A user, as the admin API shows it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Whether they may log in.
    pub is_active: bool,
    /// Roles.
    pub roles: Vec<String>,
    /// Custom claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last login, when recorded (RFC 3339).
    pub last_login: Option<String>,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// How many there are in all.
    pub count: u64,
    /// This page.
    pub results: Vec<UserView>,
}

/// A user to create.
#[derive(Serialize, ToSchema)]
pub struct NewUser {
    /// Username (1 to 150 characters).
    #[schema(min_length = 1)]
    pub username: String,
    /// Password.
    #[schema(min_length = 1)]
    pub password: String,
    /// Roles.
    pub roles: Option<Vec<String>>,
    /// Custom claims.
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether they may log in (default true).
    pub is_active: Option<bool>,
}

/// A change to a user; absent fields stay as they are.
#[derive(Serialize, ToSchema)]
pub struct UserPatch {
    /// New roles.
    pub roles: Option<Vec<String>>,
    /// New custom claims (replacing all).
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Enable or disable (disabling ends every session).
    pub is_active: Option<bool>,
    /// End the user's sessions now.
    pub revoke_sessions: Option<bool>,
}

/// An OAuth client (never its secret).
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    /// `client_id`.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grants it may use.
    pub grants: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A client with its secret, shown once.
#[derive(Serialize, ToSchema)]
pub struct IssuedClientView {
    /// `client_id`.
    pub client_id: String,
    /// The secret, shown only now.
    pub client_secret: String,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Grants.
    pub grants: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A client to register.
#[derive(Serialize, ToSchema)]
pub struct NewClient {
    /// Unique name.
    #[schema(min_length = 1)]
    pub name: String,
    /// Scopes it may ask for.
    pub scopes: Option<Vec<String>>,
    /// Grants (`client_credentials`, `password`, `refresh_token`).
    pub grants: Option<Vec<String>>,
}

/// Who acted.
#[derive(Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `client`, `cli` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user or client id.
    pub id: Option<String>,
}

/// Whom an event is about.
#[derive(Serialize, ToSchema)]
pub struct SubjectView {
    /// User id.
    pub id: i64,
    /// Username at the time.
    pub username: String,
}

/// A signing key (never its private part).
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    /// Full key id, as in tokens' `kid`.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// `published`, `signing`, `verifying` or `expired`.
    pub state: String,
    /// When the state ends, if known (RFC 3339).
    pub until: Option<String>,
    /// When it starts (or started) signing (RFC 3339).
    pub created_at: String,
}

/// A security event.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    /// Increasing id.
    pub id: i64,
    /// When (RFC 3339).
    pub time: String,
    /// `login.success`, `token.refresh`, `user.deleted`, ...
    pub event: String,
    /// Who acted.
    pub actor: ActorView,
    /// Whom it is about.
    pub subject: Option<SubjectView>,
    /// The session concerned.
    pub session: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// What else there is to say (never a secret).
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// How many events match.
    pub count: u64,
    /// This page.
    pub results: Vec<AuditEventView>,
}

/// The token endpoint's parameters (form-encoded; which are needed depends on `grant_type`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthTokenRequest {
    /// `client_credentials`, `password` or `refresh_token`.
    #[schema(min_length = 1)]
    pub grant_type: String,
    /// For `password`.
    pub username: Option<String>,
    /// For `password`.
    pub password: Option<String>,
    /// For `refresh_token`.
    pub refresh_token: Option<String>,
    /// Space-separated scopes asked for.
    pub scope: Option<String>,
    /// With `client_secret_post`.
    pub client_id: Option<String>,
    /// With `client_secret_post`.
    pub client_secret: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Serialize, ToSchema)]
pub struct OAuthTokenResponse {
    /// The access token (RFC 9068).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes granted.
    pub scope: String,
    /// A refresh token, for clients with the `refresh_token` grant.
    pub refresh_token: Option<String>,
}

/// A token to introspect or revoke (form-encoded), with the client's credentials when not in
/// `Authorization: Basic`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthTokenParam {
    /// The token.
    #[schema(min_length = 1)]
    pub token: String,
    /// A hint only.
    pub token_type_hint: Option<String>,
    /// With `client_secret_post`.
    pub client_id: Option<String>,
    /// With `client_secret_post`.
    pub client_secret: Option<String>,
}

/// RFC 7662 §2.2: `active`, and when active what the token is.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    /// Whether the token is valid and unrevoked now.
    pub active: bool,
    /// The rest, when active (`sub`, `client_id`, `scope`, `exp`, `iat`, `token_type`, ...).
    #[serde(flatten)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

/// RFC 8414 metadata.
#[derive(Serialize, ToSchema)]
pub struct Metadata {
    /// The issuer.
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The JWKS.
    pub jwks_uri: String,
    /// The rest of RFC 8414's fields.
    #[serde(flatten)]
    pub more: serde_json::Map<String, serde_json::Value>,
}

/// A page of the revocation feed.
#[derive(Serialize, ToSchema)]
pub struct RevocationPage {
    /// Entries after the cursor asked for.
    pub results: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Where the next page starts.
    pub cursor: i64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let doc = crate::routes::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = json["paths"].as_object().unwrap();
        for path in [
            "/api/token/",
            "/api/token/refresh/",
            "/api/token/verify/",
            "/api/token/blacklist/",
            "/api/token/sliding/",
            "/api/token/sliding/refresh/",
            "/api/me/",
            "/api/admin/audit/",
            "/oauth/token",
            "/api/revocations/stream",
            "/api/schema/",
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
        assert!(json["components"]["securitySchemes"]["bearer"].is_object());
        let mut ids: Vec<&str> = paths
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|operation| operation["operationId"].as_str())
            .collect();
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "operation ids are unique");
    }
}
