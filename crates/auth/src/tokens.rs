//! The two kinds of token, their claims, and a validator for each.

use serde::{Deserialize, Serialize};
use tessera_jwt::{Error as JwtError, Header, Validation};

use crate::config::AuthConfig;
use crate::error::TokenProblem;

/// `typ` of our access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of our refresh tokens.
pub const REFRESH_TYP: &str = "refresh+jwt";

/// Access or refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, presented as `Bearer`.
    Access,
    /// Long-lived, exchanged for a new pair.
    Refresh,
}

impl TokenKind {
    /// The `token_type` claim (simplejwt's names).
    pub fn claim(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    /// The `typ` header we write.
    pub fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => ACCESS_TYP,
            TokenKind::Refresh => REFRESH_TYP,
        }
    }

    /// The kind a verified token claims to be. Our tokens say it in `typ`; simplejwt's (`typ: JWT`
    /// or none) say it only in `token_type`. The two must agree when both are ours.
    pub(crate) fn of(header: &Header, token_type: &str) -> Result<TokenKind, TokenProblem> {
        let by_claim = match token_type {
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            _ => None,
        };
        let by_typ = match header.typ.as_deref() {
            None => None,
            Some(typ) if typ.eq_ignore_ascii_case("JWT") => None,
            Some(typ) if typ.eq_ignore_ascii_case(ACCESS_TYP) => Some(TokenKind::Access),
            Some(typ) if typ.eq_ignore_ascii_case(REFRESH_TYP) => Some(TokenKind::Refresh),
            Some(_) => return Err(TokenProblem::Invalid),
        };
        match (by_typ, by_claim) {
            (Some(typ), Some(claim)) if typ == claim => Ok(typ),
            (None, Some(claim)) => Ok(claim),
            _ => Err(TokenProblem::WrongType),
        }
    }
}

/// `user_id` as simplejwt writes it: a string here, an integer in older versions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum UserIdClaim {
    Text(String),
    Number(i64),
}

impl UserIdClaim {
    pub(crate) fn id(&self) -> Option<i64> {
        match self {
            UserIdClaim::Text(text) => text.parse().ok(),
            UserIdClaim::Number(n) => Some(*n),
        }
    }
}

/// The claims of every token we issue (simplejwt's, plus `sid`, `iss` and `aud` when configured).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TokenClaims {
    pub(crate) token_type: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    #[serde(default)]
    pub(crate) jti: Option<String>,
    #[serde(default)]
    pub(crate) user_id: Option<UserIdClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) roles: Option<Vec<String>>,
    /// RFC 9068, for tokens issued through the OAuth endpoints: the user id, or the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
    /// RFC 9068: the client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<String>,
    /// RFC 9068: the granted scopes, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
}

/// Validators: one per kind, and one that accepts either (for `/api/token/verify/`).
#[derive(Clone, Debug)]
pub(crate) struct Validators {
    pub(crate) access: Validation,
    pub(crate) refresh: Validation,
    pub(crate) any: Validation,
}

impl Validators {
    pub(crate) fn new(config: &AuthConfig) -> Validators {
        let mut base = Validation::new().leeway(config.leeway);
        if let Some(issuer) = &config.issuer {
            base = base.issuers([issuer.clone()]);
        }
        match &config.audience {
            Some(audience) => base = base.audiences([audience.clone()]),
            // Tokens issued through the OAuth endpoints name the issuer as their audience (RFC
            // 9068 requires one); the others carry none.
            None => base = base.audiences([config.oauth_issuer()]).audience_optional(),
        }
        // After `exp`, in simplejwt's order: the id, then the type.
        let base = base.require("jti").require("token_type");
        Validators {
            access: base.clone().claim_equals("token_type", "access"),
            refresh: base.clone().claim_equals("token_type", "refresh"),
            any: base,
        }
    }
}

/// Maps a JOSE failure to simplejwt's vocabulary.
pub(crate) fn problem(error: &JwtError) -> TokenProblem {
    match error {
        JwtError::Expired { .. } => TokenProblem::Expired,
        JwtError::MissingClaim(name) if name == "exp" => TokenProblem::NoExpiry,
        JwtError::MissingClaim(name) if name == "jti" => TokenProblem::NoId,
        JwtError::MissingClaim(name) if name == "token_type" => TokenProblem::NoType,
        JwtError::ClaimMismatch(name) if name == "token_type" => TokenProblem::WrongType,
        JwtError::InvalidTokenType { .. } => TokenProblem::WrongType,
        _ => TokenProblem::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_jwt::Algorithm;

    fn header(typ: Option<&str>) -> Header {
        Header {
            alg: Algorithm::HS256,
            typ: typ.map(str::to_owned),
            cty: None,
            kid: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn kinds_cannot_be_confused() {
        assert_eq!(
            TokenKind::of(&header(Some("at+jwt")), "access"),
            Ok(TokenKind::Access)
        );
        assert_eq!(
            TokenKind::of(&header(Some("refresh+jwt")), "refresh"),
            Ok(TokenKind::Refresh)
        );
        assert_eq!(
            TokenKind::of(&header(Some("at+jwt")), "refresh"),
            Err(TokenProblem::WrongType)
        );
        assert_eq!(
            TokenKind::of(&header(Some("refresh+jwt")), "access"),
            Err(TokenProblem::WrongType)
        );
        // simplejwt's tokens: the claim decides.
        assert_eq!(
            TokenKind::of(&header(Some("JWT")), "refresh"),
            Ok(TokenKind::Refresh)
        );
        assert_eq!(
            TokenKind::of(&header(None), "access"),
            Ok(TokenKind::Access)
        );
        assert_eq!(
            TokenKind::of(&header(None), "sliding"),
            Err(TokenProblem::WrongType)
        );
        assert_eq!(
            TokenKind::of(&header(Some("id+jwt")), "access"),
            Err(TokenProblem::Invalid)
        );
    }

    #[test]
    fn user_id_accepts_string_or_integer() {
        assert_eq!(UserIdClaim::Text("12".into()).id(), Some(12));
        assert_eq!(UserIdClaim::Number(12).id(), Some(12));
        assert_eq!(UserIdClaim::Text("x".into()).id(), None);
    }
}
