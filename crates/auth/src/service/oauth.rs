//! OAuth 2.0 beside the simplejwt API, over the same users, sessions, keys and revocations: client
//! authentication (RFC 6749 §2.3), the token grants (§4.3 password, §4.4 client credentials, §6
//! refresh), introspection (RFC 7662) and revocation (RFC 7009). Access tokens follow RFC 9068.

use serde::Serialize;
use zeroize::Zeroizing;

use super::AuthService;
use super::clients::Grant;
use super::flows::{Grantee, LoginContext};
use super::verify::Bearer;
use crate::counters::RevocationReason;
use crate::error::{AuthError, OAuthProblem, TokenProblem};
use crate::ids::{random_hex, token_hash};
use crate::store::{Client, RefreshState};
use crate::tokens::{Accept, TokenClaims, TokenKind};

/// What the token endpoint answers (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OAuthTokens {
    /// The access token (RFC 9068).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// A refresh token, for clients allowed the `refresh_token` grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// What introspection says about a token (RFC 7662 §2.2): `{"active": false}` alone, or the
/// token's facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is valid and unrevoked now.
    pub active: bool,
    /// Granted scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's username, for a user's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` for an access token (RFC 7662 §2.2: its RFC 6749 §5.1 type), `refresh_token`
    /// for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user id, or the client id for a client's own token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

fn refuse(problem: OAuthProblem, description: impl Into<String>) -> AuthError {
    AuthError::oauth(problem, description)
}

/// A token problem as the OAuth endpoints report it: an `invalid_grant`.
fn invalid_grant(error: AuthError) -> AuthError {
    match error {
        AuthError::Token(problem) => refuse(OAuthProblem::InvalidGrant, problem.message()),
        AuthError::NoActiveAccountForToken => refuse(
            OAuthProblem::InvalidGrant,
            "no active account found for the given token",
        ),
        AuthError::InvalidCredentials => refuse(
            OAuthProblem::InvalidGrant,
            "no active account found with the given credentials",
        ),
        other => other,
    }
}

impl AuthService {
    /// Authenticates a client by id and secret (compared in constant time, as hashes). Failures
    /// are throttled like failed logins, per client and per IP; an unknown client costs the same.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        ip: Option<&str>,
    ) -> Result<Client, AuthError> {
        let now = self.now();
        let attempt = self.throttle.admit_client(client_id, ip, now).await?;
        let client = match self.store.client(client_id).await {
            Ok(client) => client,
            Err(error) => {
                self.throttle.released(attempt).await;
                return Err(error.into());
            }
        };
        let presented = token_hash(secret);
        let expected = client.as_ref().map_or([0xff; 32], |c| c.secret_hash);
        let matches =
            aws_lc_rs::constant_time::verify_slices_are_equal(&presented, &expected).is_ok();
        match client {
            Some(client) if matches => {
                self.throttle.released(attempt).await;
                Ok(client)
            }
            _ => {
                self.throttle.failed(attempt).await;
                Err(refuse(
                    OAuthProblem::InvalidClient,
                    "client authentication failed",
                ))
            }
        }
    }

    /// The scope granted for `requested` (space-separated; none: every scope the client has):
    /// each must be one of the client's.
    fn grant_scope(client: &Client, requested: Option<&str>) -> Result<String, AuthError> {
        let Some(requested) = requested else {
            return Ok(client.scopes.join(" "));
        };
        let mut granted: Vec<&str> = Vec::new();
        for scope in requested.split(' ').filter(|s| !s.is_empty()) {
            if !client.scopes.iter().any(|allowed| allowed == scope) {
                return Err(refuse(
                    OAuthProblem::InvalidScope,
                    format!("scope {scope:?} is not allowed for this client"),
                ));
            }
            if !granted.contains(&scope) {
                granted.push(scope);
            }
        }
        Ok(granted.join(" "))
    }

    fn require_grant(client: &Client, grant: Grant) -> Result<(), AuthError> {
        if client.grants.iter().any(|g| g == grant.as_str()) {
            return Ok(());
        }
        Err(refuse(
            OAuthProblem::UnauthorizedClient,
            format!("this client may not use the {} grant", grant.as_str()),
        ))
    }

    /// §4.4: an access token for the client itself (no refresh token, no session). It stops
    /// working when the client is deleted or the token revoked.
    pub async fn grant_client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<OAuthTokens, AuthError> {
        Self::require_grant(client, Grant::ClientCredentials)?;
        let scope = Self::grant_scope(client, scope)?;
        let now = self.now();
        let exp = now.saturating_add(self.config.access_lifetime);
        let claims = TokenClaims {
            token_type: TokenKind::Access.claim().to_owned(),
            exp,
            iat: now,
            jti: Some(random_hex()),
            user_id: None,
            sid: None,
            iss: Some(self.config.oauth_issuer()),
            aud: Some(serde_json::Value::String(self.config.oauth_audience())),
            roles: None,
            sub: Some(client.id.clone()),
            client_id: Some(client.id.clone()),
            scope: Some(scope.clone()),
            refresh_exp: None,
        };
        let access_token = self.sign(TokenKind::Access, &claims, serde_json::Map::new())?;
        Ok(OAuthTokens {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now,
            scope,
            refresh_token: None,
        })
    }

    /// §4.3: a user's username and password, for a client allowed the grant: the same checks,
    /// throttling and sessions as `/api/token/`. A refresh token comes back when the client also
    /// has the `refresh_token` grant.
    pub async fn grant_password(
        &self,
        client: &Client,
        username: &str,
        password: Zeroizing<String>,
        scope: Option<&str>,
        context: &LoginContext,
    ) -> Result<OAuthTokens, AuthError> {
        Self::require_grant(client, Grant::Password)?;
        let grantee = Grantee {
            client_id: client.id.clone(),
            scope: Self::grant_scope(client, scope)?,
        };
        let pair = self
            .login_as(username, password, context, Some(&grantee))
            .await
            .map_err(invalid_grant)?;
        let refreshes = Self::require_grant(client, Grant::RefreshToken).is_ok();
        Ok(OAuthTokens {
            access_token: pair.access,
            token_type: "Bearer",
            expires_in: pair.access_expires_at - self.now(),
            scope: grantee.scope,
            refresh_token: refreshes.then_some(pair.refresh),
        })
    }

    /// §6: rotation and reuse detection exactly as `/api/token/refresh/`, for the client's own
    /// refresh tokens only (another client's is refused and not spent).
    pub async fn grant_refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        context: &LoginContext,
    ) -> Result<OAuthTokens, AuthError> {
        Self::require_grant(client, Grant::RefreshToken)?;
        let (outcome, grantee) = self
            .refresh_as(refresh_token, Some(&client.id), context)
            .await
            .map_err(invalid_grant)?;
        Ok(OAuthTokens {
            access_token: outcome.access,
            token_type: "Bearer",
            expires_in: outcome.access_expires_at - self.now(),
            scope: grantee.map(|g| g.scope).unwrap_or_default(),
            refresh_token: outcome.refresh.map(|(token, _)| token),
        })
    }

    /// RFC 7662: what a token is, if it is valid and unrevoked now; any other token (expired,
    /// revoked, forged, malformed, foreign) is `{"active": false}` and nothing more.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, AuthError> {
        match self
            .decode_fresh(token, Accept::Only(TokenKind::Access))
            .await
        {
            Ok((_, claims)) => {
                return match self.accept_bearer(token, claims.clone()) {
                    Ok(bearer) => self.introspect_access(claims, &bearer).await,
                    Err(AuthError::Unavailable(error)) => Err(AuthError::Unavailable(error)),
                    Err(_) => Ok(Introspection::default()),
                };
            }
            Err(AuthError::Unavailable(error)) => return Err(AuthError::Unavailable(error)),
            Err(_) => {}
        }
        // A refresh token: valid, ours (in the allow-list), active, its user still active.
        let Ok((_, claims)) = self
            .decode_fresh(token, Accept::Only(TokenKind::Refresh))
            .await
        else {
            return Ok(Introspection::default());
        };
        let active = matches!(
            self.store.refresh_token(&token_hash(token)).await?,
            Some(stored) if stored.state == RefreshState::Active
        );
        let user = match Self::user_of(&claims) {
            Ok(id) => self.store.user_by_id(id).await?.filter(|u| u.is_active),
            Err(_) => None,
        };
        let (true, Some(user)) = (active, user) else {
            return Ok(Introspection::default());
        };
        let live = self.live()?;
        let unrevoked = live
            .revocations
            .check(user.id, claims.sid.as_deref(), claims.iat)
            .and_then(|()| {
                live.revocations
                    .check_issued(claims.client_id.as_deref(), None)
            });
        if unrevoked.is_err() {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            username: Some(user.username),
            token_type: Some("refresh_token"),
            ..Self::facts(claims)
        })
    }

    async fn introspect_access(
        &self,
        claims: TokenClaims,
        bearer: &Bearer,
    ) -> Result<Introspection, AuthError> {
        let username = match bearer {
            Bearer::User(access) => self.user(access.user_id).await?.map(|u| u.username.clone()),
            Bearer::Client(_) => None,
        };
        Ok(Introspection {
            active: true,
            username,
            token_type: Some("Bearer"),
            ..Self::facts(claims)
        })
    }

    /// The facts of a verified token, as introspection shows them.
    fn facts(claims: TokenClaims) -> Introspection {
        let sub = claims.sub.or_else(|| {
            claims
                .user_id
                .as_ref()
                .and_then(crate::tokens::UserIdClaim::id)
                .map(|id| id.to_string())
        });
        Introspection {
            active: true,
            scope: claims.scope,
            client_id: claims.client_id,
            username: None,
            token_type: None,
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub,
            aud: claims.aud,
            iss: claims.iss,
            jti: claims.jti,
        }
    }

    /// RFC 7009: revokes `token` for `client`. An invalid, unknown or already revoked token is no
    /// error (the client's goal holds). A token issued to another client, or through the
    /// simplejwt endpoints, is refused (`unauthorized_client`) and stays valid. A user's token
    /// ends its whole session; a client's own token ends alone.
    pub async fn revoke_for_client(&self, client: &Client, token: &str) -> Result<(), AuthError> {
        let claims = match self.decode_fresh(token, Accept::Any).await {
            Ok((_, claims)) => claims,
            Err(AuthError::Token(_)) => return Ok(()),
            Err(other) => return Err(other),
        };
        if claims.client_id.as_deref() != Some(client.id.as_str()) {
            return Err(refuse(
                OAuthProblem::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        match (&claims.sid, &claims.jti) {
            (Some(sid), _) => {
                let user = Self::user_of(&claims)?;
                self.revoke_sessions(
                    &[crate::ids::SessionId(sid.clone())],
                    user,
                    RevocationReason::OAuth,
                    &crate::audit::Acting::as_actor(crate::audit::Actor::client(&client.id)),
                )
                .await
            }
            (None, Some(jti)) => {
                // Verifiers accept a token until `exp` plus the leeway: so long it stays revoked.
                let leeway = i64::try_from(self.config.leeway).unwrap_or(i64::MAX);
                self.store
                    .revoke_access_token(jti, claims.exp.saturating_add(leeway))
                    .await?;
                self.counters.revocations.add(RevocationReason::OAuth);
                self.revocations_written().await
            }
            (None, None) => Err(AuthError::Token(TokenProblem::NoId)),
        }
    }

    /// Every scope some client may ask for, sorted (the metadata's `scopes_supported`).
    pub async fn scopes_supported(&self) -> Result<Vec<String>, AuthError> {
        let mut scopes: Vec<String> = self
            .clients()
            .await?
            .into_iter()
            .flat_map(|c| c.scopes)
            .collect();
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }

    /// The OAuth issuer (metadata `issuer`, and `iss` of the OAuth endpoints' tokens).
    pub fn oauth_issuer(&self) -> String {
        self.config.oauth_issuer()
    }
}
