//! The synchronous verification path every authenticated request takes: signature, claims, type
//! and revocation, from memory, with a cache of tokens already verified.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tessera_jwt::UntrustedToken;

use super::AuthService;
use crate::error::{AuthError, TokenProblem};
use crate::ids::{SessionId, UserId, token_hash};
use crate::store::RefreshState;
use crate::tokens::{Accept, TokenClaims, TokenKind, UserIdClaim, problem};

/// A verified, unrevoked access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAccess {
    /// The user.
    pub user_id: UserId,
    /// The session, for tokens we issued.
    pub session_id: Option<SessionId>,
    /// `iat`.
    pub issued_at: i64,
    /// `exp`.
    pub expires_at: i64,
    /// The `roles` claim (empty when absent, e.g. in simplejwt's tokens).
    pub roles: Vec<String>,
    /// The OAuth client the token was issued to, for tokens from the OAuth endpoints.
    pub client_id: Option<String>,
    /// The scopes granted (`scope`), for tokens from the OAuth endpoints.
    pub scopes: Vec<String>,
}

impl VerifiedAccess {
    /// Whether the token grants any of `roles`.
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|held| roles.contains(&held.as_str()))
    }
}

/// A verified, unrevoked access token an OAuth client obtained for itself (client credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedClientAccess {
    /// The client (also the token's `sub`).
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// `exp`.
    pub expires_at: i64,
}

/// Whoever a verified access token stands for: a user (through either API), or an OAuth client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bearer {
    /// A user's token.
    User(Arc<VerifiedAccess>),
    /// A client's own token.
    Client(Arc<VerifiedClientAccess>),
}

impl Bearer {
    /// The scopes the token grants (none for tokens from the simplejwt endpoints).
    pub fn scopes(&self) -> &[String] {
        match self {
            Bearer::User(access) => &access.scopes,
            Bearer::Client(access) => &access.scopes,
        }
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> i64 {
        match self {
            Bearer::User(access) => access.expires_at,
            Bearer::Client(access) => access.expires_at,
        }
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().iter().any(|held| held == scope)
    }
}

/// The scopes of a `scope` claim.
fn scopes_of(scope: Option<&str>) -> Vec<String> {
    scope
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl AuthService {
    /// Verifies `token` as one of the kinds `accept` takes (signature, expiry, issuer, audience,
    /// type) without any revocation check.
    pub(super) fn decode(
        &self,
        token: &str,
        accept: Accept,
    ) -> Result<(TokenKind, TokenClaims), AuthError> {
        let live = self.live()?;
        let names = &self.config.claim_names;
        let validation = &live.validation;
        let material = live.keys.material();
        let refused = |problem: TokenProblem| AuthError::Token(problem);
        let jwt = |e: tessera_jwt::Error| refused(problem(&e, names));
        let parsed = UntrustedToken::parse(token, validation.max_token_size()).map_err(jwt)?;
        let (header, claims) = if names.are_default() {
            let verified = parsed
                .verify::<TokenClaims>(&material.verifying, validation, self.clock.as_ref())
                .map_err(jwt)?;
            verified.into_parts()
        } else {
            // Renamed claims: read as a map, renamed back, then typed.
            let verified = parsed
                .verify::<serde_json::Map<String, serde_json::Value>>(
                    &material.verifying,
                    validation,
                    self.clock.as_ref(),
                )
                .map_err(jwt)?;
            let (header, mut map) = verified.into_parts();
            names.read_wire_names(&mut map);
            let claims = serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|_| refused(TokenProblem::Invalid))?;
            (header, claims)
        };
        let found = TokenKind::of(&header, &claims.token_type).map_err(refused)?;
        if !accept.takes(found, self.config.token_classes) {
            return Err(refused(TokenProblem::WrongType));
        }
        if claims.jti.is_none() {
            return Err(refused(TokenProblem::NoId));
        }
        Ok((found, claims))
    }

    pub(super) fn user_of(claims: &TokenClaims) -> Result<UserId, AuthError> {
        claims
            .user_id
            .as_ref()
            .and_then(UserIdClaim::id)
            .map(UserId)
            .ok_or(AuthError::Token(TokenProblem::NoUserId))
    }

    /// Checks a `Bearer` access token: signature, claims, type, user status and revocation, all
    /// without a storage round-trip.
    pub fn verify_access(&self, token: &str) -> Result<Arc<VerifiedAccess>, AuthError> {
        if let Some(hit) = self.cached_access(token)? {
            return Ok(hit);
        }
        let (_, claims) = self.decode(token, Accept::Bearer)?;
        self.accept_user_token(token, claims)
    }

    /// A user's access token verified before (still unexpired), checked against revocations.
    fn cached_access(&self, token: &str) -> Result<Option<Arc<VerifiedAccess>>, AuthError> {
        let live = self.live()?;
        let now = self.now();
        let leeway = i64::try_from(self.config.leeway).unwrap_or(i64::MAX);
        let Some(hit) = live
            .verified
            .get(token, |a| now < a.expires_at.saturating_add(leeway))
        else {
            self.counters
                .verified_cache_misses
                .fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        self.counters
            .verified_cache_hits
            .fetch_add(1, Ordering::Relaxed);
        live.revocations.check(
            hit.user_id,
            hit.session_id.as_ref().map(SessionId::as_str),
            hit.issued_at,
        )?;
        if hit.client_id.is_some() {
            live.revocations
                .check_issued(hit.client_id.as_deref(), None)?;
        }
        Ok(Some(hit))
    }

    /// A decoded access token that must stand for a user: checked against revocations, then
    /// remembered by its exact text.
    fn accept_user_token(
        &self,
        token: &str,
        claims: TokenClaims,
    ) -> Result<Arc<VerifiedAccess>, AuthError> {
        let live = self.live()?;
        let user_id = Self::user_of(&claims)?;
        live.revocations
            .check(user_id, claims.sid.as_deref(), claims.iat)?;
        live.revocations
            .check_issued(claims.client_id.as_deref(), None)?;
        let access = Arc::new(VerifiedAccess {
            user_id,
            session_id: claims.sid.map(SessionId),
            issued_at: claims.iat,
            expires_at: claims.exp,
            roles: claims.roles.unwrap_or_default(),
            scopes: scopes_of(claims.scope.as_deref()),
            client_id: claims.client_id,
        });
        live.verified.insert(token.into(), Arc::clone(&access));
        Ok(access)
    }

    /// A decoded access token, a user's or a client's own, checked against revocations.
    pub(super) fn accept_bearer(
        &self,
        token: &str,
        claims: TokenClaims,
    ) -> Result<Bearer, AuthError> {
        if claims.user_id.is_some() {
            return self.accept_user_token(token, claims).map(Bearer::User);
        }
        // No user: it can only be a client's own token, whose `sub` is the client.
        let client_id = claims
            .client_id
            .filter(|client| claims.sub.as_deref() == Some(client.as_str()))
            .ok_or(AuthError::Token(TokenProblem::NoUserId))?;
        self.live()?
            .revocations
            .check_issued(Some(&client_id), claims.jti.as_deref())?;
        Ok(Bearer::Client(Arc::new(VerifiedClientAccess {
            client_id,
            scopes: scopes_of(claims.scope.as_deref()),
            expires_at: claims.exp,
        })))
    }

    /// [`AuthService::verify_access`], and if the token names a key this instance does not have
    /// yet, the keys reloaded and the token checked again: right after a rotation elsewhere, another
    /// instance can sign with the new key a moment before this one syncs.
    pub async fn verify_access_fresh(&self, token: &str) -> Result<Arc<VerifiedAccess>, AuthError> {
        match self.verify_access(token) {
            Err(AuthError::Token(TokenProblem::Invalid)) if self.learned_key_of(token).await => {
                self.verify_access(token)
            }
            other => other,
        }
    }

    /// [`AuthService::decode`] with the same second chance as
    /// [`AuthService::verify_access_fresh`].
    pub(super) async fn decode_fresh(
        &self,
        token: &str,
        accept: Accept,
    ) -> Result<(TokenKind, TokenClaims), AuthError> {
        match self.decode(token, accept) {
            Err(AuthError::Token(TokenProblem::Invalid)) if self.learned_key_of(token).await => {
                self.decode(token, accept)
            }
            other => other,
        }
    }

    /// Whether `token` names a key id this instance did not know, and reloading the keys taught
    /// it. Reloads for this reason happen at most once a second, so tokens with made-up key ids
    /// cost at most one storage read a second.
    async fn learned_key_of(&self, token: &str) -> bool {
        let Ok(live) = self.live() else {
            return false;
        };
        let Ok(parsed) = UntrustedToken::parse(token, self.config.max_token_bytes) else {
            return false;
        };
        let Some(kid) = parsed.unverified_header().kid.as_deref() else {
            return false;
        };
        if live.keys.material().verifying.get(kid).is_some() {
            return false;
        }
        let now = self.now();
        let last = live.last_key_reload.load(Ordering::Acquire);
        if last >= now
            || live
                .last_key_reload
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return false;
        }
        match live.keys.reload(self.store.as_ref(), now).await {
            Ok(_) => live.keys.material().verifying.get(kid).is_some(),
            Err(error) => {
                tracing::warn!(%error, "reloading keys for an unknown key id failed");
                false
            }
        }
    }

    /// Any access token, a user's or an OAuth client's own (for scope guards and introspection).
    /// One signature check at most; users' tokens share the verification cache.
    pub async fn verify_bearer(&self, token: &str) -> Result<Bearer, AuthError> {
        if let Some(hit) = self.cached_access(token)? {
            return Ok(Bearer::User(hit));
        }
        let (_, claims) = self.decode_fresh(token, Accept::Bearer).await?;
        self.accept_bearer(token, claims)
    }

    /// `/api/token/verify/`: any valid, unrevoked token of ours. Access tokens take the same path
    /// (and cache) as `Bearer` tokens; a disabled or deleted user's token is reported blacklisted.
    pub async fn verify_any(&self, token: &str) -> Result<(), AuthError> {
        // A user's access token, or an OAuth client's own: one signature check either way.
        match self.verify_bearer(token).await {
            Ok(_) => return Ok(()),
            Err(AuthError::UserInactive | AuthError::UserNotFound) => {
                return Err(AuthError::Token(TokenProblem::Blacklisted));
            }
            // Not an access token: it may be a refresh token.
            Err(AuthError::Token(TokenProblem::WrongType)) => {}
            Err(other) => return Err(other),
        }
        // A refresh token, or a sliding token when sliding tokens do not authenticate requests.
        let (kind, claims) = self.decode_fresh(token, Accept::Any).await?;
        if kind == TokenKind::Sliding {
            let user_id = Self::user_of(&claims)?;
            return self
                .live()?
                .revocations
                .check(user_id, claims.sid.as_deref(), claims.iat)
                .map_err(|_| AuthError::Token(TokenProblem::Blacklisted));
        }
        if kind != TokenKind::Refresh {
            return Err(AuthError::Token(TokenProblem::WrongType));
        }
        self.live()?
            .revocations
            .check_issued(claims.client_id.as_deref(), None)?;
        match self.store.refresh_token(&token_hash(token)).await? {
            None => Err(AuthError::Token(TokenProblem::Invalid)),
            Some(stored) if stored.state == RefreshState::Active => Ok(()),
            Some(_) => Err(AuthError::Token(TokenProblem::Blacklisted)),
        }
    }
}
