//! A verified access token: the claims every service needs, read once, and the rest kept for the
//! caller's own type.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tessera_jwt::Header;

use crate::error::TokenProblem;

/// The claims of a verified, unrevoked access token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessToken {
    /// The user: simplejwt's `user_id`, else `sub` (unless `sub` names the client itself, as in a
    /// client-credentials token, RFC 9068 §2.2).
    pub user_id: Option<String>,
    /// `roles` (empty when absent).
    pub roles: Vec<String>,
    /// `scope`, split on spaces (empty when absent).
    pub scopes: Vec<String>,
    /// `sid`: the issuer's session.
    pub session_id: Option<String>,
    /// `client_id`: the OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
    /// `iat`.
    pub issued_at: Option<i64>,
    /// `exp`.
    pub expires_at: i64,
    /// Every claim (an object), for [`AccessToken::claims`].
    pub(crate) all: Value,
}

impl AccessToken {
    /// Whether the token grants any of `roles`.
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|held| roles.contains(&held.as_str()))
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|held| held == scope)
    }

    /// The claims read into the caller's type (custom claims included).
    pub fn claims<C: DeserializeOwned>(&self) -> Result<C, serde_json::Error> {
        C::deserialize(&self.all)
    }

    /// The `scope` claim as issued (space-separated), if any.
    pub fn scope(&self) -> Option<&str> {
        self.all.get("scope").and_then(Value::as_str)
    }

    /// Reads the claims of a token whose signature and registered claims were verified, and
    /// refuses anything that is not an access token: a `typ` other than `JWT` or `at+jwt` (RFC
    /// 9068), or a `token_type` other than `access` (simplejwt's refresh and sliding tokens).
    pub(crate) fn read(header: &Header, all: Map<String, Value>) -> Result<Self, TokenProblem> {
        let typ_ok = header.typ.as_deref().is_none_or(|typ| {
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("at+jwt")
        });
        if !typ_ok {
            return Err(TokenProblem::WrongType);
        }
        match all.get("token_type") {
            None => {}
            Some(Value::String(kind)) if kind == "access" => {}
            Some(_) => return Err(TokenProblem::WrongType),
        }
        let text = |name: &str| -> Result<Option<String>, TokenProblem> {
            match all.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(TokenProblem::Invalid),
            }
        };
        let client_id = text("client_id")?;
        let subject = text("sub")?;
        let user_id = match all.get("user_id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            Some(_) => return Err(TokenProblem::Invalid),
            None => subject.filter(|sub| client_id.as_ref() != Some(sub)),
        };
        let roles = match all.get("roles") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|r| r.as_str().map(str::to_owned).ok_or(TokenProblem::Invalid))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(TokenProblem::Invalid),
        };
        let scopes = text("scope")?
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let number = |name: &str| all.get(name).and_then(Value::as_i64);
        Ok(AccessToken {
            user_id,
            roles,
            scopes,
            session_id: text("sid")?,
            client_id,
            jti: text("jti")?,
            issued_at: number("iat"),
            // `exp` is required and checked by the validation before this.
            expires_at: number("exp").ok_or(TokenProblem::Invalid)?,
            all: Value::Object(all),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_jwt::Algorithm;

    fn header(typ: Option<&str>) -> Header {
        Header {
            alg: Algorithm::ES256,
            typ: typ.map(str::to_owned),
            cty: None,
            kid: None,
            extra: Map::new(),
        }
    }

    fn read(typ: Option<&str>, claims: Value) -> Result<AccessToken, TokenProblem> {
        let Value::Object(map) = claims else {
            unreachable!()
        };
        AccessToken::read(&header(typ), map)
    }

    #[test]
    fn tessera_simplejwt_and_rfc_9068_tokens() {
        let ours = read(
            Some("at+jwt"),
            json!({"token_type":"access","exp":9,"iat":1,"jti":"j","user_id":"7","sid":"s","roles":["admin"]}),
        )
        .unwrap();
        assert_eq!(ours.user_id.as_deref(), Some("7"));
        assert!(ours.has_any_role(&["admin"]) && ours.session_id.as_deref() == Some("s"));

        let simplejwt = read(
            Some("JWT"),
            json!({"token_type":"access","exp":9,"user_id":7}),
        )
        .unwrap();
        assert_eq!(simplejwt.user_id.as_deref(), Some("7"));

        let rfc9068 = read(
            Some("application/at+jwt"),
            json!({"exp":9,"sub":"alice","client_id":"app","scope":"read  write"}),
        )
        .unwrap();
        assert_eq!(rfc9068.user_id.as_deref(), Some("alice"));
        assert_eq!(rfc9068.scopes, ["read", "write"]);
        assert_eq!(rfc9068.scope(), Some("read  write"));

        let client = read(
            Some("at+jwt"),
            json!({"exp":9,"sub":"app","client_id":"app"}),
        )
        .unwrap();
        assert_eq!(client.user_id, None, "a client's own token names no user");
    }

    #[test]
    fn other_token_types_and_malformed_claims_are_refused() {
        for (typ, claims, problem) in [
            (
                Some("refresh+jwt"),
                json!({"exp":9}),
                TokenProblem::WrongType,
            ),
            (
                Some("JWT"),
                json!({"exp":9,"token_type":"refresh"}),
                TokenProblem::WrongType,
            ),
            (
                None,
                json!({"exp":9,"token_type":"sliding"}),
                TokenProblem::WrongType,
            ),
            (
                None,
                json!({"exp":9,"token_type":1}),
                TokenProblem::WrongType,
            ),
            (
                None,
                json!({"exp":9,"roles":"admin"}),
                TokenProblem::Invalid,
            ),
            (None, json!({"exp":9,"roles":[1]}), TokenProblem::Invalid),
            (None, json!({"exp":9,"user_id":1.5}), TokenProblem::Invalid),
            (None, json!({"exp":9,"sid":3}), TokenProblem::Invalid),
            (None, json!({"exp":9,"scope":["a"]}), TokenProblem::Invalid),
        ] {
            assert_eq!(read(typ, claims.clone()), Err(problem), "{typ:?} {claims}");
        }
    }

    #[test]
    fn custom_claims_into_the_callers_type() {
        #[derive(serde::Deserialize)]
        struct Mine {
            tenant: String,
            user_id: String,
        }
        let token = read(None, json!({"exp":9,"user_id":"7","tenant":"acme"})).unwrap();
        let mine: Mine = token.claims().unwrap();
        assert_eq!((mine.tenant.as_str(), mine.user_id.as_str()), ("acme", "7"));
        assert!(token.claims::<Mine>().is_ok());
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "only its absence is tested")]
        struct Missing {
            plan: String,
        }
        assert!(token.claims::<Missing>().is_err());
    }
}
