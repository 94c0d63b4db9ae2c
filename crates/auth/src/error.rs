//! The domain's error type. The server maps it to HTTP in exactly one place.

use crate::store::{Conflict, StoreError};

/// Why a token was refused, with simplejwt's wording (its clients show these messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Bad signature, malformed, unknown key, wrong issuer or audience, or never issued by us.
    Invalid,
    /// Past `exp` (or the session's absolute lifetime).
    Expired,
    /// An access token where a refresh token belongs, or the reverse.
    WrongType,
    /// No `exp` (simplejwt requires one, though RFC 7519 does not).
    NoExpiry,
    /// No `jti`.
    NoId,
    /// No `token_type`.
    NoType,
    /// Revoked: logged out, rotated, reused, or its user was disabled.
    Blacklisted,
    /// No usable `user_id`.
    NoUserId,
    /// A sliding token past its `refresh_exp`: it can no longer be refreshed.
    RefreshExpired,
    /// A sliding token without `refresh_exp`.
    NoRefreshExpiry,
}

impl TokenProblem {
    /// simplejwt's message for the problem.
    pub fn message(self) -> &'static str {
        match self {
            TokenProblem::Invalid => "Token is invalid",
            TokenProblem::Expired => "Token is expired",
            TokenProblem::WrongType => "Token has wrong type",
            TokenProblem::NoExpiry => "Token has no 'exp' claim",
            TokenProblem::NoId => "Token has no id",
            TokenProblem::NoType => "Token has no type",
            TokenProblem::Blacklisted => "Token is blacklisted",
            TokenProblem::NoUserId => "Token contained no recognizable user identification",
            TokenProblem::RefreshExpired => "Token 'refresh_exp' claim has expired",
            TokenProblem::NoRefreshExpiry => "Token has no 'refresh_exp' claim",
        }
    }
}

/// Why an OAuth 2.0 request was refused: the error codes of RFC 6749 §5.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthProblem {
    /// Missing, repeated or malformed parameters.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, none given).
    InvalidClient,
    /// The grant (password, refresh token) is invalid, expired, revoked or another client's.
    InvalidGrant,
    /// The client may not use this grant, or act on this token.
    UnauthorizedClient,
    /// A grant type this server does not know.
    UnsupportedGrantType,
    /// A scope the client may not ask for, or not a scope at all.
    InvalidScope,
}

impl OAuthProblem {
    /// The `error` code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            OAuthProblem::InvalidRequest => "invalid_request",
            OAuthProblem::InvalidClient => "invalid_client",
            OAuthProblem::InvalidGrant => "invalid_grant",
            OAuthProblem::UnauthorizedClient => "unauthorized_client",
            OAuthProblem::UnsupportedGrantType => "unsupported_grant_type",
            OAuthProblem::InvalidScope => "invalid_scope",
        }
    }
}

/// Every failure of the domain layer, split by who caused it: the caller (bad credentials or input),
/// a backend that is down (retry later), or our side (a bug, corruption).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Wrong username or password, or a disabled account, at login.
    #[error("no active account found with the given credentials")]
    InvalidCredentials,
    /// A refresh token whose user is gone or disabled.
    #[error("no active account found for the given token")]
    NoActiveAccountForToken,
    /// A token was refused.
    #[error("token refused: {}", .0.message())]
    Token(TokenProblem),
    /// The access token's user is disabled.
    #[error("user is inactive")]
    UserInactive,
    /// The access token's user no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// Too many failed logins; retry after this many seconds.
    #[error("throttled for {retry_after} s")]
    Throttled {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The old password given to a password change is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// The username is taken.
    #[error("username already exists")]
    UsernameTaken,
    /// The thing asked for does not exist (or belongs to someone else).
    #[error("not found")]
    NotFound,
    /// Invalid input the caller should fix (e.g. an empty username).
    #[error("{0}")]
    InvalidInput(String),
    /// Roles or claims refused; `field` is `roles` or `claims`.
    #[error("{field}: {message}")]
    InvalidProfile {
        /// Which input.
        field: &'static str,
        /// Why, naming the offending role or claim.
        message: String,
    },
    /// An OAuth 2.0 request refused (RFC 6749 §5.2), with a description for the client.
    #[error("{}: {description}", .problem.code())]
    OAuth {
        /// The error code.
        problem: OAuthProblem,
        /// What was wrong, for a person.
        description: String,
    },
    /// The caller is authenticated but lacks the role the route requires.
    #[error("permission denied")]
    Forbidden,
    /// Storage (or another backend) is down: answer 503 and let the client retry.
    #[error("service unavailable")]
    Unavailable(#[source] StoreError),
    /// The instance's revocation state has not been brought up to date for longer than allowed, so
    /// it cannot vouch for access tokens (503).
    #[error("revocation state not synced for {} (limit {limit_ms} ms)", .age_ms.map_or_else(|| "ever".to_owned(), |ms| format!("{ms} ms")))]
    RevocationsStale {
        /// Milliseconds since the last sync; `None` if there never was one.
        age_ms: Option<u64>,
        /// The limit in force.
        limit_ms: u64,
    },
    /// Storage failed in a way retrying will not fix.
    #[error("storage failed")]
    Storage(#[source] StoreError),
    /// A bug or corruption on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(Conflict::Username) => AuthError::UsernameTaken,
            error if error.is_unavailable() => AuthError::Unavailable(error),
            // Any other conflict (a key id, say) is ours, not the caller's.
            error => AuthError::Storage(error),
        }
    }
}

/// An error followed by its sources, `a: b: c`: how causes are shown in logs and messages.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl AuthError {
    /// An OAuth 2.0 refusal.
    pub fn oauth(problem: OAuthProblem, description: impl Into<String>) -> AuthError {
        AuthError::OAuth {
            problem,
            description: description.into(),
        }
    }
}
