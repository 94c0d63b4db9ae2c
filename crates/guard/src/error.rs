//! The guard's two error types: a configuration it cannot start with, and a request it refuses.
//! The second is answered exactly as Tessera answers the same refusal (djangorestframework-simplejwt's
//! bodies), so a client sees one API whichever service it called.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A configuration the guard cannot start with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer is not an absolute `http`/`https` URL without query or fragment.
    #[error("issuer {url:?} is not usable: {reason}")]
    IssuerUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Plain `http` to a host that is not loopback: tokens' keys and revocations would travel
    /// unprotected.
    #[error(
        "issuer {url} uses plain http on a host that is not loopback: use https, or allow plain http explicitly"
    )]
    PlainHttp {
        /// The URL as given.
        url: String,
    },
    /// A limit that makes no sense (zero, or a lower bound above its upper bound).
    #[error("{setting}: {reason}")]
    Setting {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TLS client could not be set up.
    #[error("TLS client setup failed: {0}")]
    Tls(String),
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    NotAuthenticated,
    /// `Authorization: Bearer` with other than exactly one value.
    BadAuthorizationHeader,
    /// Two `Authorization` headers: a proxy that read the other one would disagree about who calls.
    DuplicateAuthorization,
    /// The token is not a valid, unrevoked access token of the issuer.
    InvalidToken(TokenProblem),
    /// A valid token that stands for no user (an OAuth client's own token) on a route for users.
    NoUser,
    /// A valid token without the role or scope the route needs.
    Forbidden,
    /// The guard cannot decide: no keys yet, or the revocation feed has been cut off for longer
    /// than `max_staleness` (fail closed).
    Unavailable(Unavailable),
}

/// What is wrong with a token, in simplejwt's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenProblem {
    /// Bad signature, unknown key, wrong issuer or audience, malformed.
    Invalid,
    /// Past `exp` (and the leeway).
    Expired,
    /// Not an access token (a refresh token, or another `typ`).
    WrongType,
    /// Revoked at the issuer (logout, reuse detection, password change, disabled user, ...).
    Revoked,
}

impl TokenProblem {
    /// simplejwt's message.
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "Token is invalid",
            TokenProblem::Expired => "Token is expired",
            TokenProblem::WrongType => "Token has wrong type",
            TokenProblem::Revoked => "Token is blacklisted",
        }
    }

    /// A JOSE failure in simplejwt's vocabulary.
    pub(crate) fn of(error: &tessera_jwt::Error) -> TokenProblem {
        match error {
            tessera_jwt::Error::Expired { .. } => TokenProblem::Expired,
            tessera_jwt::Error::InvalidTokenType { .. } => TokenProblem::WrongType,
            tessera_jwt::Error::ClaimMismatch(name) if name == "token_type" => {
                TokenProblem::WrongType
            }
            _ => TokenProblem::Invalid,
        }
    }
}

/// Why the guard cannot decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// The issuer's keys have never been fetched.
    NoKeys,
    /// The revocation feed has been cut off for longer than `max_staleness`.
    RevocationsStale,
    /// More revocations are in force than the guard may hold.
    TooManyRevocations,
}

/// `WWW-Authenticate` on every 401, as Tessera (and simplejwt) send it.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"api\"";

impl Rejection {
    /// The status and JSON body, as Tessera writes them.
    pub fn parts(self) -> (StatusCode, Value) {
        let detail_code = |detail: &str, code: &str| json!({ "detail": detail, "code": code });
        match self {
            Rejection::NotAuthenticated => (
                StatusCode::UNAUTHORIZED,
                json!({ "detail": "Authentication credentials were not provided." }),
            ),
            Rejection::BadAuthorizationHeader => (
                StatusCode::UNAUTHORIZED,
                detail_code(
                    "Authorization header must contain two space-delimited values",
                    "bad_authorization_header",
                ),
            ),
            Rejection::DuplicateAuthorization => (
                StatusCode::UNAUTHORIZED,
                detail_code(
                    "Request has more than one Authorization header",
                    "bad_authorization_header",
                ),
            ),
            Rejection::InvalidToken(problem) => (
                StatusCode::UNAUTHORIZED,
                json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{
                        "token_class": "AccessToken",
                        "token_type": "access",
                        "message": problem.message(),
                    }],
                }),
            ),
            Rejection::NoUser => (
                StatusCode::UNAUTHORIZED,
                detail_code(
                    "Token contained no recognizable user identification",
                    "token_not_valid",
                ),
            ),
            Rejection::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({ "detail": "You do not have permission to perform this action." }),
            ),
            Rejection::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "detail": "Service temporarily unavailable, try again later." }),
            ),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Why the issuer could not be read; logged and retried, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: no answer within {seconds:.1} s")]
    Timeout { url: String, seconds: f64 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {reason}")]
    Invalid { url: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per rejection, byte for byte what Tessera answers (crates/server/src/error.rs).
    #[test]
    fn every_rejection_has_tesseras_status_and_body() {
        let rows = [
            (
                Rejection::NotAuthenticated,
                401,
                r#"{"detail":"Authentication credentials were not provided."}"#,
            ),
            (
                Rejection::BadAuthorizationHeader,
                401,
                r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#,
            ),
            (
                Rejection::DuplicateAuthorization,
                401,
                r#"{"detail":"Request has more than one Authorization header","code":"bad_authorization_header"}"#,
            ),
            (
                Rejection::InvalidToken(TokenProblem::Revoked),
                401,
                r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}"#,
            ),
            (
                Rejection::InvalidToken(TokenProblem::Expired),
                401,
                r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}"#,
            ),
            (
                Rejection::NoUser,
                401,
                r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#,
            ),
            (
                Rejection::Forbidden,
                403,
                r#"{"detail":"You do not have permission to perform this action."}"#,
            ),
            (
                Rejection::Unavailable(Unavailable::RevocationsStale),
                503,
                r#"{"detail":"Service temporarily unavailable, try again later."}"#,
            ),
        ];
        for (rejection, status, body) in rows {
            let (found_status, found_body) = rejection.parts();
            assert_eq!(found_status.as_u16(), status, "{rejection:?}");
            assert_eq!(found_body.to_string(), body, "{rejection:?}");
            let response = rejection.into_response();
            assert_eq!(
                response.headers().contains_key(header::WWW_AUTHENTICATE),
                status == 401
            );
        }
    }
}
