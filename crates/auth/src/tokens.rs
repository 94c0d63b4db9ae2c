//! The kinds of token, their claims (under the names simplejwt's settings may give them), and the
//! validator they share.

use serde::{Deserialize, Serialize};
use tessera_jwt::{Error as JwtError, Header, Validation};

use crate::config::AuthConfig;
use crate::error::TokenProblem;

/// `typ` of our access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of our refresh tokens.
pub const REFRESH_TYP: &str = "refresh+jwt";
/// `typ` of our sliding tokens.
pub const SLIDING_TYP: &str = "sliding+jwt";

/// Access, refresh or sliding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived, presented as `Bearer`.
    Access,
    /// Long-lived, exchanged for a new pair.
    Refresh,
    /// simplejwt's `SlidingToken`: presented as `Bearer`, and exchanged for a copy with a later
    /// `exp` until its `refresh_exp`.
    Sliding,
}

impl TokenKind {
    /// The `token_type` claim (simplejwt's names).
    pub fn claim(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Sliding => "sliding",
        }
    }

    /// The `typ` header we write.
    pub fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => ACCESS_TYP,
            TokenKind::Refresh => REFRESH_TYP,
            TokenKind::Sliding => SLIDING_TYP,
        }
    }

    /// The kind a verified token claims to be. Our tokens say it in `typ`; simplejwt's (`typ: JWT`
    /// or none) say it only in `token_type`. The two must agree when both are ours.
    pub(crate) fn of(header: &Header, token_type: &str) -> Result<TokenKind, TokenProblem> {
        let kinds = [TokenKind::Access, TokenKind::Refresh, TokenKind::Sliding];
        let by_claim = kinds.into_iter().find(|kind| kind.claim() == token_type);
        let by_typ = match header.typ.as_deref() {
            None => None,
            Some(typ) if typ.eq_ignore_ascii_case("JWT") => None,
            Some(typ) => match kinds
                .into_iter()
                .find(|k| typ.eq_ignore_ascii_case(k.typ()))
            {
                Some(kind) => Some(kind),
                None => return Err(TokenProblem::Invalid),
            },
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

/// Which token classes authenticate a request (simplejwt's `AUTH_TOKEN_CLASSES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenClasses {
    /// `AccessToken`.
    pub access: bool,
    /// `SlidingToken`.
    pub sliding: bool,
}

impl Default for TokenClasses {
    /// Both: a server that issues sliding tokens takes them.
    fn default() -> Self {
        TokenClasses {
            access: true,
            sliding: true,
        }
    }
}

impl TokenClasses {
    /// Whether a token of `kind` authenticates a request.
    pub fn authenticates(self, kind: TokenKind) -> bool {
        match kind {
            TokenKind::Access => self.access,
            TokenKind::Sliding => self.sliding,
            TokenKind::Refresh => false,
        }
    }

    /// simplejwt's class and type names of the classes in use, for its error bodies.
    pub fn names(self) -> Vec<(&'static str, &'static str)> {
        let all = [
            (self.access, ("AccessToken", "access")),
            (self.sliding, ("SlidingToken", "sliding")),
        ];
        all.into_iter()
            .filter_map(|(on, names)| on.then_some(names))
            .collect()
    }
}

/// The kinds of token a call takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Accept {
    /// This kind only.
    Only(TokenKind),
    /// A credential for a request: the kinds of [`TokenClasses`] in use.
    Bearer,
    /// Any of ours.
    Any,
}

impl Accept {
    pub(crate) fn takes(self, kind: TokenKind, classes: TokenClasses) -> bool {
        match self {
            Accept::Only(only) => kind == only,
            Accept::Bearer => classes.authenticates(kind),
            Accept::Any => true,
        }
    }
}

/// The names of the claims simplejwt lets a site rename (`USER_ID_CLAIM`, `TOKEN_TYPE_CLAIM`,
/// `JTI_CLAIM`, `SLIDING_TOKEN_REFRESH_EXP_CLAIM`). Tokens are written and read under these
/// names; inside, the claims keep their default names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    /// The user's id (default `user_id`).
    pub user_id: String,
    /// The token's kind (default `token_type`).
    pub token_type: String,
    /// The token's id (default `jti`).
    pub jti: String,
    /// When a sliding token stops being refreshable (default `refresh_exp`).
    pub refresh_exp: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            user_id: "user_id".into(),
            token_type: "token_type".into(),
            jti: "jti".into(),
            refresh_exp: "refresh_exp".into(),
        }
    }
}

/// Claims whose names are Tessera's own: a renamed claim may not take one of them.
const FIXED_CLAIMS: [&str; 12] = [
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "sub",
    "sid",
    "roles",
    "role",
    "client_id",
    "scope",
    "typ",
];

impl ClaimNames {
    /// (default name, name on the wire) of each renamable claim.
    fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("user_id", &self.user_id),
            ("token_type", &self.token_type),
            ("jti", &self.jti),
            ("refresh_exp", &self.refresh_exp),
        ]
    }

    /// Whether every claim has its default name (tokens are then read without renaming).
    pub(crate) fn are_default(&self) -> bool {
        self.pairs().iter().all(|(name, wire)| name == wire)
    }

    /// Refuses names that are empty, taken twice, or one of Tessera's other claims.
    pub fn check(&self) -> Result<(), String> {
        let pairs = self.pairs();
        for (index, (name, wire)) in pairs.iter().enumerate() {
            if wire.is_empty() {
                return Err(format!("the {name} claim's name is empty"));
            }
            if FIXED_CLAIMS.contains(wire) {
                return Err(format!(
                    "the {name} claim cannot be named {wire:?}: Tessera uses it"
                ));
            }
            if pairs[..index].iter().any(|(_, other)| other == wire) {
                return Err(format!("two claims are named {wire:?}"));
            }
            // Swapped names would overwrite each other while being renamed.
            if pairs
                .iter()
                .any(|(other, _)| other == wire && other != name)
            {
                return Err(format!(
                    "the {name} claim cannot be named {wire:?}: another claim's name"
                ));
            }
        }
        Ok(())
    }

    /// Default names to wire names, for a token being written.
    pub(crate) fn write_wire_names(&self, claims: &mut serde_json::Map<String, serde_json::Value>) {
        for (name, wire) in self.pairs() {
            if name != wire
                && let Some(value) = claims.remove(name)
            {
                claims.insert(wire.to_owned(), value);
            }
        }
    }

    /// Wire names to default names, for a token being read. A claim under a default name that
    /// is not in use is dropped, so it cannot stand in for the renamed one.
    pub(crate) fn read_wire_names(&self, claims: &mut serde_json::Map<String, serde_json::Value>) {
        let moved: Vec<(&str, Option<serde_json::Value>)> = self
            .pairs()
            .into_iter()
            .filter(|(name, wire)| name != wire)
            .map(|(name, wire)| (name, claims.remove(wire)))
            .collect();
        for (name, value) in moved {
            claims.remove(name);
            if let Some(value) = value {
                claims.insert(name.to_owned(), value);
            }
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
    /// Sliding tokens: when they stop being refreshable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_exp: Option<i64>,
}

/// The validation every token of ours passes, whatever its kind: signature, `exp`, issuer,
/// audience, and the presence of its id and type under their configured names.
pub(crate) fn validation(config: &AuthConfig) -> Validation {
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
    base.require(config.claim_names.jti.clone())
        .require(config.claim_names.token_type.clone())
}

/// Maps a JOSE failure to simplejwt's vocabulary.
pub(crate) fn problem(error: &JwtError, names: &ClaimNames) -> TokenProblem {
    match error {
        JwtError::Expired { .. } => TokenProblem::Expired,
        JwtError::MissingClaim(name) if name == "exp" => TokenProblem::NoExpiry,
        JwtError::MissingClaim(name) if *name == names.jti => TokenProblem::NoId,
        JwtError::MissingClaim(name) if *name == names.token_type => TokenProblem::NoType,
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
            Ok(TokenKind::Sliding)
        );
        assert_eq!(
            TokenKind::of(&header(Some("sliding+jwt")), "access"),
            Err(TokenProblem::WrongType)
        );
        assert_eq!(
            TokenKind::of(&header(None), "id"),
            Err(TokenProblem::WrongType)
        );
        assert_eq!(
            TokenKind::of(&header(Some("id+jwt")), "access"),
            Err(TokenProblem::Invalid)
        );
    }

    #[test]
    fn renamed_claims_are_written_and_read_under_their_names() {
        let names = ClaimNames {
            user_id: "uid".into(),
            jti: "token_id".into(),
            ..ClaimNames::default()
        };
        assert!(!names.are_default() && ClaimNames::default().are_default());
        let mut claims = serde_json::json!({"user_id": "7", "jti": "j", "token_type": "access"})
            .as_object()
            .unwrap()
            .clone();
        names.write_wire_names(&mut claims);
        assert_eq!(
            serde_json::Value::Object(claims.clone()),
            serde_json::json!({"uid": "7", "token_id": "j", "token_type": "access"})
        );
        // A foreign `user_id` cannot stand in for the renamed claim.
        claims.insert("user_id".into(), "1".into());
        names.read_wire_names(&mut claims);
        assert_eq!(
            serde_json::Value::Object(claims),
            serde_json::json!({"user_id": "7", "jti": "j", "token_type": "access"})
        );
    }

    #[test]
    fn claim_names_must_be_distinct_and_not_tesseras_own() {
        assert!(ClaimNames::default().check().is_ok());
        for names in [
            ClaimNames {
                user_id: "sub".into(),
                ..ClaimNames::default()
            },
            ClaimNames {
                jti: "user_id".into(),
                ..ClaimNames::default()
            },
            ClaimNames {
                token_type: String::new(),
                ..ClaimNames::default()
            },
            ClaimNames {
                user_id: "jti".into(),
                jti: "user_id".into(),
                ..ClaimNames::default()
            },
        ] {
            assert!(names.check().is_err(), "{names:?}");
        }
    }

    #[test]
    fn token_classes_decide_what_authenticates() {
        let access_only = TokenClasses {
            access: true,
            sliding: false,
        };
        assert!(Accept::Bearer.takes(TokenKind::Access, access_only));
        assert!(!Accept::Bearer.takes(TokenKind::Sliding, access_only));
        assert!(!Accept::Bearer.takes(TokenKind::Refresh, TokenClasses::default()));
        assert!(Accept::Any.takes(TokenKind::Refresh, access_only));
        assert_eq!(
            TokenClasses::default().names(),
            [("AccessToken", "access"), ("SlidingToken", "sliding")]
        );
    }

    #[test]
    fn user_id_accepts_string_or_integer() {
        assert_eq!(UserIdClaim::Text("12".into()).id(), Some(12));
        assert_eq!(UserIdClaim::Number(12).id(), Some(12));
        assert_eq!(UserIdClaim::Text("x".into()).id(), None);
    }
}
