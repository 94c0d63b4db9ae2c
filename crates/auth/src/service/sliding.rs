//! simplejwt's sliding tokens: one token that is both the credential and what renews it. A
//! refresh, allowed while the token is unexpired and its `refresh_exp` has not passed, hands back
//! the same token (same `jti`, same `refresh_exp`) with a new `exp` and `iat`. Each login is a
//! session like any other: logout, "sign out everywhere", a password change or a disabled user end
//! it, and the token with it.

use zeroize::Zeroizing;

use super::AuthService;
use super::flows::LoginContext;
use crate::audit::{Actor, AuditKind};
use crate::counters::RefreshResult;
use crate::error::{AuthError, TokenProblem};
use crate::ids::{SessionId, random_hex};
use crate::store::{Session, User};
use crate::tokens::{Accept, TokenClaims, TokenKind, UserIdClaim};

/// A sliding token and its `exp`.
#[derive(Clone, Debug)]
pub struct SlidingToken {
    /// The token.
    pub token: String,
    /// Its `exp`.
    pub expires_at: i64,
}

impl AuthService {
    /// `POST /api/token/sliding/`: username and password in, a sliding token for a new session out.
    #[tracing::instrument(skip_all)]
    pub async fn login_sliding(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
    ) -> Result<SlidingToken, AuthError> {
        let result = self
            .login_sliding_checked(username, password, context)
            .await;
        self.count_login(&result);
        result
    }

    async fn login_sliding_checked(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
    ) -> Result<SlidingToken, AuthError> {
        let now = self.now();
        let user = self.authenticate(username, password, context, now).await?;
        let refresh_exp = now.saturating_add(self.config.sliding_refresh_lifetime);
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            // Ends when the token can no longer be refreshed, and then expires.
            expires_at: refresh_exp
                .saturating_add(self.config.sliding_lifetime)
                .min(now.saturating_add(self.config.session_lifetime)),
            user_agent: context.user_agent.clone(),
            ip: context.ip.clone(),
            revoked_at: None,
        };
        let token = self.sign_sliding(&user, &session.id, &random_hex(), now, refresh_exp)?;
        let audit = [context
            .acting(Actor::user(user.id))
            .event(now, AuditKind::LoginSuccess)
            .about(user.id, &user.username)
            .session(&session.id)
            .with("method", "sliding")];
        self.store.create_session(&session, None, &audit).await?;
        self.log_audit(&audit);
        tracing::info!(user = user.id.0, session = %session.id, "login (sliding token)");
        Ok(token)
    }

    /// `POST /api/token/sliding/refresh/`: the same token with a new `exp`, if it is unexpired,
    /// refreshable, and its session and user still stand.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_sliding(
        &self,
        token: &str,
        context: &LoginContext,
    ) -> Result<SlidingToken, AuthError> {
        let result = self.refresh_sliding_checked(token, context).await;
        match &result {
            Ok(_) => self.counters.refreshes.add(RefreshResult::Success),
            Err(AuthError::Unavailable(_) | AuthError::Storage(_) | AuthError::Internal(_)) => {}
            Err(_) => self.counters.refreshes.add(RefreshResult::Failure),
        }
        result
    }

    async fn refresh_sliding_checked(
        &self,
        token: &str,
        context: &LoginContext,
    ) -> Result<SlidingToken, AuthError> {
        let (_, claims) = self
            .decode_fresh(token, Accept::Only(TokenKind::Sliding))
            .await?;
        let now = self.now();
        let leeway = i64::try_from(self.config.leeway).unwrap_or(i64::MAX);
        let refresh_exp = claims
            .refresh_exp
            .ok_or(AuthError::Token(TokenProblem::NoRefreshExpiry))?;
        if refresh_exp <= now.saturating_sub(leeway) {
            return Err(AuthError::Token(TokenProblem::RefreshExpired));
        }
        let user_id = Self::user_of(&claims)?;
        let blacklisted = || AuthError::Token(TokenProblem::Blacklisted);
        // Revoked sessions, disabled and deleted users, as for any bearer token...
        self.live()?
            .revocations
            .check(user_id, claims.sid.as_deref(), claims.iat)
            .map_err(|_| blacklisted())?;
        // ...and, since this one renews itself, the session and the user as stored.
        let sid = claims
            .sid
            .clone()
            .map(SessionId)
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        let session = self.store.session(&sid).await?.ok_or_else(blacklisted)?;
        if session.revoked_at.is_some() || session.user_id != user_id || session.expires_at <= now {
            return Err(blacklisted());
        }
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|user| user.is_active)
            .ok_or_else(blacklisted)?;
        let jti = claims.jti.unwrap_or_default();
        let slid = self.sign_sliding(&user, &sid, &jti, now, refresh_exp)?;
        // Nothing is written: the event stands alone.
        let event = context
            .acting(Actor::user(user.id))
            .event(now, AuditKind::TokenRefresh)
            .about(user.id, &user.username)
            .session(&sid)
            .with("sliding", true);
        self.append_audit(&[event]).await;
        Ok(slid)
    }

    /// A sliding token for `user`'s session `sid`; roles and claims as the user has them now.
    fn sign_sliding(
        &self,
        user: &User,
        sid: &SessionId,
        jti: &str,
        now: i64,
        refresh_exp: i64,
    ) -> Result<SlidingToken, AuthError> {
        let expires_at = now.saturating_add(self.config.sliding_lifetime);
        let registered = TokenClaims {
            token_type: TokenKind::Sliding.claim().to_owned(),
            exp: expires_at,
            iat: now,
            jti: Some(jti.to_owned()),
            user_id: Some(UserIdClaim::Text(user.id.0.to_string())),
            sid: Some(sid.0.clone()),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone().map(serde_json::Value::String),
            roles: None,
            sub: None,
            client_id: None,
            scope: None,
            refresh_exp: Some(refresh_exp),
        };
        let extra = crate::claims::access_claims(
            &user.roles,
            &user.claims,
            self.config.access_token_claims.as_deref(),
        );
        let token = self.sign(TokenKind::Sliding, &registered, extra)?;
        Ok(SlidingToken { token, expires_at })
    }
}
