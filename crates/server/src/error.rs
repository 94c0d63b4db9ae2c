//! The one place where errors become HTTP responses: status, body and `WWW-Authenticate`.
//!
//! Bodies match djangorestframework-simplejwt 5.5 (and DRF) byte for byte where a client can see
//! them; a 500 never shows its cause, which goes to the log instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_auth::{AuthError, Chain, OAuthProblem, TokenClasses, TokenProblem};

/// `WWW-Authenticate` on every 401, as simplejwt's views send it.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"api\"";

/// `WWW-Authenticate` on an OAuth endpoint's 401 when the client used HTTP Basic.
pub const WWW_AUTHENTICATE_BASIC: &str = "Basic realm=\"tessera\"";

/// Every failure the HTTP layer reports.
#[derive(Debug)]
pub enum ApiError {
    /// A failure of the auth domain.
    Auth(AuthError),
    /// An access token refused on a protected route (simplejwt's `messages` shape).
    AccessToken(TokenProblem, TokenClasses),
    /// No usable `Authorization` header.
    NotAuthenticated,
    /// `Authorization: Bearer` with other than exactly one value.
    BadAuthorizationHeader,
    /// DRF field errors: `{"field": ["message", ...]}`.
    Fields(Vec<(String, Vec<String>)>),
    /// A body that is not parseable.
    ParseError(String),
    /// A JSON body that is not an object; carries DRF's name for what it was.
    NotAnObject(&'static str),
    /// An unsupported `Content-Type`.
    UnsupportedMediaType(String),
    /// The body is over the limit.
    PayloadTooLarge,
    /// No such route or resource.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed(String),
    /// A cookie-authenticated request without the CSRF header or a matching `Origin`.
    CsrfFailed,
    /// In browser mode, a request whose `Origin` (or `Referer`) names a site that is neither this
    /// one nor an allowed origin: a cross-site form would otherwise log the victim in or out.
    ForeignOrigin(String),
    /// The same credential sent twice (two `Authorization` headers, two refresh cookies): a proxy
    /// that reads the other copy would disagree with us about who is calling.
    DuplicateCredential(Credential),
    /// A failure on an OAuth 2.0 endpoint, answered in RFC 6749 §5.2's shape; `basic` when the
    /// client authenticated with HTTP Basic (a 401 then names that scheme).
    OAuth {
        /// What failed.
        error: AuthError,
        /// Whether the client used `Authorization: Basic`.
        basic: bool,
    },
    /// An OAuth request body over the limit.
    OAuthTooLarge,
}

/// A credential a request can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// The `Authorization` header.
    AuthorizationHeader,
    /// The browser-mode refresh cookie.
    RefreshCookie,
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        ApiError::Auth(error)
    }
}

impl ApiError {
    /// A failure on an OAuth endpoint.
    pub fn oauth(error: AuthError) -> ApiError {
        ApiError::OAuth {
            error,
            basic: false,
        }
    }

    /// A failure on an OAuth endpoint after the client authenticated (or tried to) by `basic`.
    pub fn oauth_client(error: AuthError, basic: bool) -> ApiError {
        ApiError::OAuth { error, basic }
    }

    /// An OAuth request body over the limit.
    pub fn oauth_too_large() -> ApiError {
        ApiError::OAuthTooLarge
    }

    /// A refused access token on a protected route: token problems in simplejwt's `messages`
    /// shape, anything else as it is.
    pub fn access_token(error: AuthError, classes: TokenClasses) -> ApiError {
        match error {
            AuthError::Token(problem) => ApiError::AccessToken(problem, classes),
            other => ApiError::Auth(other),
        }
    }

    /// A single field error.
    pub fn field(name: &str, message: &str) -> ApiError {
        ApiError::Fields(vec![(name.to_owned(), vec![message.to_owned()])])
    }

    fn parts(&self) -> (StatusCode, Value) {
        let detail = |status, text: &str| (status, json!({ "detail": text }));
        let token_endpoint = |text: &str, code: &str| {
            (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": text, "code": code }),
            )
        };
        match self {
            ApiError::Auth(error) => match error {
                AuthError::InvalidCredentials => detail(
                    StatusCode::UNAUTHORIZED,
                    "No active account found with the given credentials",
                ),
                AuthError::NoActiveAccountForToken => detail(
                    StatusCode::UNAUTHORIZED,
                    "No active account found for the given token.",
                ),
                AuthError::Token(problem) => token_endpoint(problem.message(), "token_not_valid"),
                AuthError::UserInactive => token_endpoint("User is inactive", "user_inactive"),
                AuthError::UserNotFound => token_endpoint("User not found", "user_not_found"),
                AuthError::Throttled { retry_after } => detail(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Request was throttled. Expected available in {retry_after} seconds."),
                ),
                AuthError::WrongPassword => (
                    StatusCode::BAD_REQUEST,
                    json!({ "old_password": ["Wrong password."] }),
                ),
                AuthError::UsernameTaken => (
                    StatusCode::BAD_REQUEST,
                    json!({ "username": ["A user with that username already exists."] }),
                ),
                AuthError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
                AuthError::InvalidInput(reason) => detail(StatusCode::BAD_REQUEST, reason),
                AuthError::InvalidProfile { field, message } => {
                    (StatusCode::BAD_REQUEST, json!({ *field: [message] }))
                }
                AuthError::Forbidden => detail(
                    StatusCode::FORBIDDEN,
                    "You do not have permission to perform this action.",
                ),
                AuthError::Unavailable(_) | AuthError::RevocationsStale { .. } => detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable, try again later.",
                ),
                // `AuthError` may grow (it is non-exhaustive): anything new is a 500 until it is
                // given its own row.
                AuthError::Storage(_) | AuthError::Internal(_) | _ => detail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "A server error occurred.",
                ),
            },
            ApiError::AccessToken(TokenProblem::NoUserId, _) => {
                token_endpoint(TokenProblem::NoUserId.message(), "token_not_valid")
            }
            // simplejwt tries each class of AUTH_TOKEN_CLASSES and reports each one's verdict.
            ApiError::AccessToken(problem, classes) => (
                StatusCode::UNAUTHORIZED,
                json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": classes.names().into_iter().map(|(class, kind)| json!({
                        "token_class": class,
                        "token_type": kind,
                        "message": problem.message(),
                    })).collect::<Vec<_>>(),
                }),
            ),
            ApiError::NotAuthenticated => detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            ),
            ApiError::BadAuthorizationHeader => token_endpoint(
                "Authorization header must contain two space-delimited values",
                "bad_authorization_header",
            ),
            ApiError::Fields(errors) => (
                StatusCode::BAD_REQUEST,
                Value::Object(
                    errors
                        .iter()
                        .map(|(field, messages)| (field.clone(), json!(messages)))
                        .collect(),
                ),
            ),
            ApiError::ParseError(reason) => detail(
                StatusCode::BAD_REQUEST,
                &format!("JSON parse error - {reason}"),
            ),
            ApiError::NotAnObject(kind) => (
                StatusCode::BAD_REQUEST,
                json!({ "non_field_errors": [format!("Invalid data. Expected a dictionary, but got {kind}.")] }),
            ),
            ApiError::UnsupportedMediaType(media) => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{media}\" in request."),
            ),
            ApiError::PayloadTooLarge => detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is larger than 65536 bytes.",
            ),
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            ApiError::MethodNotAllowed(method) => detail(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method \"{method}\" not allowed."),
            ),
            ApiError::CsrfFailed => detail(
                StatusCode::FORBIDDEN,
                "CSRF Failed: cookie-authenticated requests need the X-Requested-With header or a trusted Origin.",
            ),
            // Django's own wording for the same refusal.
            ApiError::ForeignOrigin(origin) => detail(
                StatusCode::FORBIDDEN,
                &format!(
                    "CSRF Failed: Origin checking failed - {origin} does not match any trusted origins."
                ),
            ),
            ApiError::DuplicateCredential(Credential::AuthorizationHeader) => token_endpoint(
                "Request has more than one Authorization header",
                "bad_authorization_header",
            ),
            ApiError::DuplicateCredential(Credential::RefreshCookie) => token_endpoint(
                "Request has more than one refresh token cookie",
                "token_not_valid",
            ),
            ApiError::OAuth { error, .. } => oauth_parts(error),
            ApiError::OAuthTooLarge => oauth_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "Request body is larger than 65536 bytes.",
            ),
        }
    }
}

fn oauth_body(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// RFC 6749 §5.2's shape for every failure of the OAuth endpoints.
fn oauth_parts(error: &AuthError) -> (StatusCode, Value) {
    let unavailable = "temporarily_unavailable";
    match error {
        AuthError::OAuth {
            problem,
            description,
        } => {
            let status = match problem {
                OAuthProblem::InvalidClient => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            oauth_body(status, problem.code(), description)
        }
        AuthError::Throttled { retry_after } => oauth_body(
            StatusCode::TOO_MANY_REQUESTS,
            unavailable,
            &format!("Too many failed attempts. Expected available in {retry_after} seconds."),
        ),
        AuthError::Unavailable(_) | AuthError::RevocationsStale { .. } => oauth_body(
            StatusCode::SERVICE_UNAVAILABLE,
            unavailable,
            "Service temporarily unavailable, try again later.",
        ),
        AuthError::InvalidInput(reason) => {
            oauth_body(StatusCode::BAD_REQUEST, "invalid_request", reason)
        }
        AuthError::Token(problem) => {
            oauth_body(StatusCode::BAD_REQUEST, "invalid_grant", problem.message())
        }
        _ => oauth_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "A server error occurred.",
        ),
    }
}

impl ApiError {
    /// Whether the cause belongs in the log: a backend down or a failure on our side. What the
    /// client did wrong does not (it is in the response).
    fn log(&self) {
        let (ApiError::Auth(error) | ApiError::OAuth { error, .. }) = self else {
            return;
        };
        match error {
            AuthError::Unavailable(_) | AuthError::RevocationsStale { .. } => {
                tracing::warn!(error = %Chain(error), "answering 503");
            }
            AuthError::Storage(_) | AuthError::Internal(_) => {
                tracing::error!(error = %Chain(error), "answering 500");
            }
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    /// The edge: the response from the one mapping ([`ApiError::parts`], which stays pure), and
    /// the cause logged when it is ours.
    fn into_response(self) -> Response {
        self.log();
        let (status, body) = self.parts();
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            // RFC 6749 §5.2: a 401 names the scheme the client tried, if it used the header.
            ApiError::OAuth { basic, .. } => {
                if status == StatusCode::UNAUTHORIZED && *basic {
                    headers.insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(WWW_AUTHENTICATE_BASIC),
                    );
                }
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE),
                );
            }
            _ => {}
        }
        let cause = match &self {
            ApiError::Auth(error) | ApiError::OAuth { error, .. } => Some(error),
            _ => None,
        };
        match cause {
            Some(AuthError::Throttled { retry_after }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            // Storage outages are usually short (a restart, a failover): tell clients and
            // proxies to retry soon rather than give up.
            Some(AuthError::Unavailable(_) | AuthError::RevocationsStale { .. }) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_auth::StoreError;

    fn render(error: ApiError) -> (StatusCode, Value, Option<String>, Option<String>) {
        let (status, body) = error.parts();
        let response = error.into_response();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        (
            status,
            body,
            header(header::WWW_AUTHENTICATE),
            header(header::RETRY_AFTER),
        )
    }

    #[test]
    fn every_row_of_the_mapping() {
        let bearer = Some(WWW_AUTHENTICATE.to_owned());
        let rows: Vec<(ApiError, u16, Value, Option<String>)> = vec![
            (
                AuthError::InvalidCredentials.into(),
                401,
                json!({"detail":"No active account found with the given credentials"}),
                bearer.clone(),
            ),
            (
                AuthError::NoActiveAccountForToken.into(),
                401,
                json!({"detail":"No active account found for the given token."}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::Invalid).into(),
                401,
                json!({"detail":"Token is invalid","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::Expired).into(),
                401,
                json!({"detail":"Token is expired","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::Blacklisted).into(),
                401,
                json!({"detail":"Token is blacklisted","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::NoExpiry).into(),
                401,
                json!({"detail":"Token has no 'exp' claim","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::NoId).into(),
                401,
                json!({"detail":"Token has no id","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::NoType).into(),
                401,
                json!({"detail":"Token has no type","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::Token(TokenProblem::WrongType).into(),
                401,
                json!({"detail":"Token has wrong type","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                AuthError::UserInactive.into(),
                401,
                json!({"detail":"User is inactive","code":"user_inactive"}),
                bearer.clone(),
            ),
            (
                AuthError::UserNotFound.into(),
                401,
                json!({"detail":"User not found","code":"user_not_found"}),
                bearer.clone(),
            ),
            (
                AuthError::WrongPassword.into(),
                400,
                json!({"old_password":["Wrong password."]}),
                None,
            ),
            (
                AuthError::UsernameTaken.into(),
                400,
                json!({"username":["A user with that username already exists."]}),
                None,
            ),
            (
                AuthError::NotFound.into(),
                404,
                json!({"detail":"Not found."}),
                None,
            ),
            (
                AuthError::Unavailable(StoreError::unavailable_because("db")).into(),
                503,
                json!({"detail":"Service temporarily unavailable, try again later."}),
                None,
            ),
            (
                AuthError::Internal("secret cause".into()).into(),
                500,
                json!({"detail":"A server error occurred."}),
                None,
            ),
            (
                AuthError::Storage(StoreError::internal_because("secret cause")).into(),
                500,
                json!({"detail":"A server error occurred."}),
                None,
            ),
            (
                AuthError::RevocationsStale {
                    age_ms: Some(5_000),
                    limit_ms: 3_000,
                }
                .into(),
                503,
                json!({"detail":"Service temporarily unavailable, try again later."}),
                None,
            ),
            (
                ApiError::AccessToken(TokenProblem::Invalid, TokenClasses::default()),
                401,
                json!({"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[
                    {"token_class":"AccessToken","token_type":"access","message":"Token is invalid"},
                    {"token_class":"SlidingToken","token_type":"sliding","message":"Token is invalid"},
                ]}),
                bearer.clone(),
            ),
            (
                ApiError::AccessToken(
                    TokenProblem::Expired,
                    TokenClasses {
                        access: true,
                        sliding: false,
                    },
                ),
                401,
                json!({"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[
                    {"token_class":"AccessToken","token_type":"access","message":"Token is expired"},
                ]}),
                bearer.clone(),
            ),
            (
                ApiError::NotAuthenticated,
                401,
                json!({"detail":"Authentication credentials were not provided."}),
                bearer.clone(),
            ),
            (
                ApiError::BadAuthorizationHeader,
                401,
                json!({"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}),
                bearer.clone(),
            ),
            (
                ApiError::DuplicateCredential(Credential::AuthorizationHeader),
                401,
                json!({"detail":"Request has more than one Authorization header","code":"bad_authorization_header"}),
                bearer.clone(),
            ),
            (
                ApiError::DuplicateCredential(Credential::RefreshCookie),
                401,
                json!({"detail":"Request has more than one refresh token cookie","code":"token_not_valid"}),
                bearer.clone(),
            ),
            (
                ApiError::ForeignOrigin("https://evil.example".into()),
                403,
                json!({"detail":"CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."}),
                None,
            ),
            (
                ApiError::CsrfFailed,
                403,
                json!({"detail":"CSRF Failed: cookie-authenticated requests need the X-Requested-With header or a trusted Origin."}),
                None,
            ),
            (
                ApiError::field("password", "This field is required."),
                400,
                json!({"password":["This field is required."]}),
                None,
            ),
            (
                ApiError::NotAnObject("list"),
                400,
                json!({"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}),
                None,
            ),
            (
                ApiError::NotFound,
                404,
                json!({"detail":"Not found."}),
                None,
            ),
            (
                ApiError::MethodNotAllowed("GET".into()),
                405,
                json!({"detail":"Method \"GET\" not allowed."}),
                None,
            ),
            (
                ApiError::PayloadTooLarge,
                413,
                json!({"detail":"Request body is larger than 65536 bytes."}),
                None,
            ),
        ];
        for (error, status, body, www) in rows {
            let label = format!("{error:?}");
            let (got_status, got_body, got_www, _) = render(error);
            assert_eq!(got_status.as_u16(), status, "{label}");
            assert_eq!(got_body, body, "{label}");
            assert_eq!(got_www, www, "{label}");
        }
    }

    #[test]
    fn throttling_says_when_to_retry() {
        let (status, body, _, retry) = render(AuthError::Throttled { retry_after: 840 }.into());
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            body,
            json!({"detail":"Request was throttled. Expected available in 840 seconds."})
        );
        assert_eq!(retry.as_deref(), Some("840"));
    }

    #[test]
    fn an_outage_says_to_retry_soon() {
        let (status, _, _, retry) =
            render(AuthError::Unavailable(StoreError::unavailable_because("db down")).into());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
    }
}
