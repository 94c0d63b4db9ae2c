//! The auth service: login, refresh with rotation and reuse detection, verification, revocation,
//! sessions and user administration.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tessera_jwt::{Clock, Header, UntrustedToken, encode_with_header};
use zeroize::Zeroizing;

use crate::cache::BoundedCache;
use crate::claims::{access_claims, check_profile};
use crate::config::AuthConfig;
use crate::error::{AuthError, TokenProblem};
use crate::ids::{SessionId, UserId, random_hex, token_hash};
use crate::keyring::KeyRing;
use crate::password::PasswordHasher;
use crate::revocation::RevocationState;
use crate::store::{
    NewUser, RefreshRecord, RefreshState, RevocationBus, RotateOutcome, Session, Store,
    StoredRefresh, User,
};
use crate::throttle::LoginThrottle;
use crate::tokens::{TokenClaims, TokenKind, UserIdClaim, Validators, problem};

/// Where a login comes from (recorded on the session; the IP also feeds throttling).
#[derive(Clone, Debug, Default)]
pub struct LoginContext {
    /// Client IP, as decided by the server's proxy rules.
    pub ip: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

/// A freshly issued pair.
#[derive(Clone, Debug)]
pub struct TokenPair {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// `exp` of the access token.
    pub access_expires_at: i64,
    /// `exp` of the refresh token.
    pub refresh_expires_at: i64,
}

/// What a refresh returns: always an access token, and a refresh token when rotating.
#[derive(Clone, Debug)]
pub struct RefreshOutcome {
    /// The new access token.
    pub access: String,
    /// `exp` of the access token.
    pub access_expires_at: i64,
    /// The new refresh token and its `exp`, when rotation is on.
    pub refresh: Option<(String, i64)>,
}

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
}

impl VerifiedAccess {
    /// Whether the token grants any of `roles`.
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|held| roles.contains(&held.as_str()))
    }
}

/// Announces new revocation log entries to the other instances, when there is a bus to do it.
#[derive(Clone, Default)]
struct Announcer(Option<Arc<dyn RevocationBus>>);

impl Announcer {
    /// Never fails the caller: the entry is committed, and instances that miss the announcement
    /// find it at their next poll.
    async fn announce(&self) {
        if let Some(bus) = &self.0
            && let Err(error) = bus.announce().await
        {
            tracing::warn!(%error, bus = bus.name(), "revocation not announced; other instances will poll it");
        }
    }
}

/// The domain service. Cheap to share behind an `Arc`.
pub struct AuthService {
    store: Arc<dyn Store>,
    keys: KeyRing,
    revocations: RevocationState,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    announcer: Announcer,
    config: AuthConfig,
    validators: Validators,
    clock: Arc<dyn Clock>,
    /// Access tokens already verified, by their exact text: asymmetric verification costs ~50x an
    /// HMAC, and a client presents the same token many times. Expiry and revocation are still
    /// checked on every hit.
    verified: BoundedCache<Box<str>, Arc<VerifiedAccess>>,
    /// Users read in the current second, so `/api/me/` does not query storage on every request.
    profiles: BoundedCache<i64, (Arc<User>, i64)>,
    /// When keys were last reloaded because a token named an unknown key id (Unix seconds).
    last_key_reload: AtomicI64,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn new_record(
    token: &str,
    jti: &str,
    session: &SessionId,
    issued_at: i64,
    expires_at: i64,
) -> RefreshRecord {
    RefreshRecord {
        token_hash: token_hash(token),
        jti: jti.to_owned(),
        session_id: session.clone(),
        issued_at,
        expires_at,
    }
}

impl AuthService {
    /// Assembles the service, loading keys (generating the first one if needed) and the revocation
    /// state from `store`.
    pub async fn start(
        store: Arc<dyn Store>,
        config: AuthConfig,
        operator_key: Option<tessera_jwt::SigningKey>,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        clock: Arc<dyn Clock>,
    ) -> Result<AuthService, AuthError> {
        let now = clock.now();
        let keys = KeyRing::load(store.as_ref(), &config, operator_key, now).await?;
        let revocations = RevocationState::load(store.as_ref(), now).await?;
        Ok(AuthService {
            verified: BoundedCache::new(config.verified_token_cache),
            profiles: BoundedCache::new(config.verified_token_cache),
            validators: Validators::new(&config),
            store,
            keys,
            revocations,
            hasher,
            throttle,
            announcer: Announcer::default(),
            config,
            clock,
            last_key_reload: AtomicI64::new(i64::MIN),
        })
    }

    /// Announces this instance's revocations on `bus`, so other instances apply them at once
    /// instead of at their next poll.
    pub fn with_bus(mut self, bus: Arc<dyn RevocationBus>) -> AuthService {
        self.announcer = Announcer(Some(bus));
        self
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The in-memory revocation state.
    pub fn revocations(&self) -> &RevocationState {
        &self.revocations
    }

    /// The storage backend.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Picks up changes made elsewhere (CLI, other instances): new revocations and key rotations;
    /// forgets what has expired.
    pub async fn sync(&self) -> Result<(), AuthError> {
        let now = self.now();
        self.revocations.catch_up(self.store.as_ref(), now).await?;
        self.revocations.prune(now);
        self.keys.reload(self.store.as_ref(), now).await?;
        Ok(())
    }

    fn issue(
        &self,
        kind: TokenKind,
        user: &User,
        sid: &SessionId,
        now: i64,
        exp: i64,
    ) -> Result<(String, String), AuthError> {
        let internal = |e: String| AuthError::Internal(format!("signing failed: {e}"));
        let jti = random_hex();
        let registered = TokenClaims {
            token_type: kind.claim().to_owned(),
            exp,
            iat: now,
            jti: Some(jti.clone()),
            user_id: Some(UserIdClaim::Text(user.id.0.to_string())),
            sid: Some(sid.0.clone()),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone().map(serde_json::Value::String),
            roles: None,
        };
        let mut claims =
            match serde_json::to_value(&registered).map_err(|e| internal(e.to_string()))? {
                serde_json::Value::Object(map) => map,
                _ => return Err(internal("claims are not an object".into())),
            };
        if kind == TokenKind::Access {
            // Access tokens tell downstream services who the user is; refresh tokens only what
            // refreshing needs. Registered claims were written first and are never replaced.
            let extra = access_claims(
                &user.roles,
                &user.claims,
                self.config.access_token_claims.as_deref(),
            );
            for (name, value) in extra {
                claims.entry(name).or_insert(value);
            }
        }
        let material = self.keys.material();
        let header = Header::for_key(&material.signing).with_type(kind.typ());
        let token = encode_with_header(&header, &claims, &material.signing)
            .map_err(|e| internal(e.to_string()))?;
        Ok((token, jti))
    }

    /// Username and password in, a new session and token pair out.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
    ) -> Result<TokenPair, AuthError> {
        let now = self.now();
        // Counted before the password check, so concurrent guesses cannot all slip past it.
        let attempt = self
            .throttle
            .admit(username, context.ip.as_deref(), now)
            .await?;
        let checked = async {
            let user = self.store.user_by_name(username).await?;
            let matches = self
                .hasher
                .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
                .await?;
            Ok::<_, AuthError>((user, matches))
        }
        .await;
        let (user, matches) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                self.throttle.released(attempt).await;
                return Err(error);
            }
        };
        if !matches {
            self.throttle.failed(attempt).await;
            return Err(AuthError::InvalidCredentials);
        }
        self.throttle.released(attempt).await;
        let user = user
            .filter(|user| user.is_active)
            .ok_or(AuthError::InvalidCredentials)?;
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now.saturating_add(self.config.session_lifetime),
            user_agent: context.user_agent.clone(),
            ip: context.ip.clone(),
            revoked_at: None,
        };
        let access_exp = now.saturating_add(self.config.access_lifetime);
        let refresh_exp = now
            .saturating_add(self.config.refresh_lifetime)
            .min(session.expires_at);
        let (access, _) = self.issue(TokenKind::Access, &user, &session.id, now, access_exp)?;
        let (refresh, jti) =
            self.issue(TokenKind::Refresh, &user, &session.id, now, refresh_exp)?;
        self.store
            .create_session(
                &session,
                &new_record(&refresh, &jti, &session.id, now, refresh_exp),
            )
            .await?;
        tracing::info!(user = user.id.0, session = %session.id, "login");
        Ok(TokenPair {
            access,
            refresh,
            access_expires_at: access_exp,
            refresh_expires_at: refresh_exp,
        })
    }

    /// Verifies `token` as `kind` (signature, expiry, issuer, audience, type) without any
    /// revocation check.
    fn decode(
        &self,
        token: &str,
        kind: Option<TokenKind>,
    ) -> Result<(TokenKind, TokenClaims), TokenProblem> {
        let validation = match kind {
            Some(TokenKind::Access) => &self.validators.access,
            Some(TokenKind::Refresh) => &self.validators.refresh,
            None => &self.validators.any,
        };
        let material = self.keys.material();
        let verified = UntrustedToken::parse(token, validation.max_token_size())
            .and_then(|t| {
                t.verify::<TokenClaims>(&material.verifying, validation, self.clock.as_ref())
            })
            .map_err(|e| problem(&e))?;
        let found = TokenKind::of(verified.header(), &verified.claims().token_type)?;
        if kind.is_some_and(|k| k != found) {
            return Err(TokenProblem::WrongType);
        }
        let claims = verified.into_claims();
        if claims.jti.is_none() {
            return Err(TokenProblem::NoId);
        }
        Ok((found, claims))
    }

    fn user_of(claims: &TokenClaims) -> Result<UserId, AuthError> {
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
        let now = self.now();
        let leeway = i64::try_from(self.config.leeway).unwrap_or(i64::MAX);
        if let Some(hit) = self
            .verified
            .get(token, |a| now < a.expires_at.saturating_add(leeway))
        {
            self.revocations.check(
                hit.user_id,
                hit.session_id.as_ref().map(SessionId::as_str),
                hit.issued_at,
            )?;
            return Ok(hit);
        }
        let (_, claims) = self
            .decode(token, Some(TokenKind::Access))
            .map_err(AuthError::Token)?;
        let user_id = Self::user_of(&claims)?;
        self.revocations
            .check(user_id, claims.sid.as_deref(), claims.iat)?;
        let access = Arc::new(VerifiedAccess {
            user_id,
            session_id: claims.sid.map(SessionId),
            issued_at: claims.iat,
            expires_at: claims.exp,
            roles: claims.roles.unwrap_or_default(),
        });
        self.verified.insert(token.into(), Arc::clone(&access));
        Ok(access)
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
    async fn decode_fresh(
        &self,
        token: &str,
        kind: Option<TokenKind>,
    ) -> Result<(TokenKind, TokenClaims), TokenProblem> {
        match self.decode(token, kind) {
            Err(TokenProblem::Invalid) if self.learned_key_of(token).await => {
                self.decode(token, kind)
            }
            other => other,
        }
    }

    /// Whether `token` names a key id this instance did not know, and reloading the keys taught
    /// it. Reloads for this reason happen at most once a second, so tokens with made-up key ids
    /// cost at most one storage read a second.
    async fn learned_key_of(&self, token: &str) -> bool {
        let Ok(parsed) = UntrustedToken::parse(token, self.config.max_token_bytes) else {
            return false;
        };
        let Some(kid) = parsed.unverified_header().kid.as_deref() else {
            return false;
        };
        if self.keys.material().verifying.get(kid).is_some() {
            return false;
        }
        let now = self.now();
        let last = self.last_key_reload.load(Ordering::Acquire);
        if last >= now
            || self
                .last_key_reload
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return false;
        }
        match self.keys.reload(self.store.as_ref(), now).await {
            Ok(_) => self.keys.material().verifying.get(kid).is_some(),
            Err(error) => {
                tracing::warn!(%error, "reloading keys for an unknown key id failed");
                false
            }
        }
    }

    /// Number of access tokens held in the verification cache.
    pub fn verified_tokens_cached(&self) -> usize {
        self.verified.len()
    }

    /// `/api/token/verify/`: any valid, unrevoked token of ours. Access tokens take the same path
    /// (and cache) as `Bearer` tokens; a disabled or deleted user's token is reported blacklisted.
    pub async fn verify_any(&self, token: &str) -> Result<(), AuthError> {
        match self.verify_access_fresh(token).await {
            Ok(_) => return Ok(()),
            Err(AuthError::UserInactive | AuthError::UserNotFound) => {
                return Err(AuthError::Token(TokenProblem::Blacklisted));
            }
            // Not an access token: it may be a refresh token.
            Err(AuthError::Token(TokenProblem::WrongType)) => {}
            Err(other) => return Err(other),
        }
        self.decode_fresh(token, Some(TokenKind::Refresh))
            .await
            .map_err(AuthError::Token)?;
        match self.store.refresh_token(&token_hash(token)).await? {
            None => Err(AuthError::Token(TokenProblem::Invalid)),
            Some(stored) if stored.state == RefreshState::Active => Ok(()),
            Some(_) => Err(AuthError::Token(TokenProblem::Blacklisted)),
        }
    }

    async fn revoke_sessions(&self, ids: &[SessionId]) -> Result<(), AuthError> {
        let now = self.now();
        let until = now.saturating_add(self.config.longest_token_lifetime());
        self.store.revoke_sessions(ids, now, until).await?;
        self.revocations.catch_up(self.store.as_ref(), now).await?;
        self.announcer.announce().await;
        Ok(())
    }

    /// Exchanges a refresh token for a new pair (rotation). A token that was already rotated is
    /// reuse: its whole session is revoked.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, token: &str) -> Result<RefreshOutcome, AuthError> {
        let (_, claims) = self
            .decode_fresh(token, Some(TokenKind::Refresh))
            .await
            .map_err(AuthError::Token)?;
        let user_id = Self::user_of(&claims)?;
        let sid = claims
            .sid
            .clone()
            .map(SessionId)
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        // The account first: deleting a user also deletes their tokens, and simplejwt's clients
        // expect "no active account" rather than "invalid token" then.
        let user = match self.store.user_by_id(user_id).await? {
            Some(user) if user.is_active => user,
            _ => return Err(AuthError::NoActiveAccountForToken),
        };
        let hash = token_hash(token);
        let stored = self
            .store
            .refresh_token(&hash)
            .await?
            .filter(|s| s.record.session_id == sid)
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        if stored.state != RefreshState::Active {
            return match self.grace_successor(&stored) {
                Some(current) => self.rotate(&user, &sid, &current).await,
                None => self.refused_refresh(&stored).await,
            };
        }
        self.rotate(&user, &sid, &hash).await
    }

    /// The session's current token, when `stored` is its immediate predecessor presented again
    /// inside the grace window (a retry after a lost response, not an attack).
    fn grace_successor(&self, stored: &StoredRefresh) -> Option<[u8; 32]> {
        let RefreshState::Rotated { at } = stored.state else {
            return None;
        };
        let in_grace = self.config.reuse_grace > 0
            && stored.successor_is_current
            && self.now().saturating_sub(at) <= self.config.reuse_grace;
        in_grace.then_some(stored.replaced_by).flatten()
    }

    /// Issues a new access token, and (with rotation on) a new refresh token replacing the one
    /// whose hash is `presented`.
    async fn rotate(
        &self,
        user: &User,
        sid: &SessionId,
        presented: &[u8; 32],
    ) -> Result<RefreshOutcome, AuthError> {
        let session = self
            .store
            .session(sid)
            .await?
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        let now = self.now();
        if session.revoked_at.is_some() {
            return Err(AuthError::Token(TokenProblem::Blacklisted));
        }
        if now >= session.expires_at {
            return Err(AuthError::Token(TokenProblem::Expired));
        }
        let access_exp = now.saturating_add(self.config.access_lifetime);
        let (access, _) = self.issue(TokenKind::Access, user, sid, now, access_exp)?;
        if !self.config.rotate_refresh_tokens {
            return Ok(RefreshOutcome {
                access,
                access_expires_at: access_exp,
                refresh: None,
            });
        }
        let refresh_exp = now
            .saturating_add(self.config.refresh_lifetime)
            .min(session.expires_at);
        let (refresh, jti) = self.issue(TokenKind::Refresh, user, sid, now, refresh_exp)?;
        let record = new_record(&refresh, &jti, sid, now, refresh_exp);
        if self.config.blacklist_after_rotation {
            match self.store.rotate_refresh(presented, &record, now).await? {
                RotateOutcome::Rotated => {}
                // A concurrent retry inside the grace window lost the race: refuse, do not revoke.
                RotateOutcome::NotActive(Some(lost_race))
                    if self.grace_successor(&lost_race).is_some() =>
                {
                    return Err(AuthError::Token(TokenProblem::Blacklisted));
                }
                RotateOutcome::NotActive(Some(lost_race)) => {
                    return self.refused_refresh(&lost_race).await;
                }
                RotateOutcome::NotActive(None) => {
                    return Err(AuthError::Token(TokenProblem::Invalid));
                }
            }
        } else {
            self.store.add_refresh(&record, now).await?;
        }
        Ok(RefreshOutcome {
            access,
            access_expires_at: access_exp,
            refresh: Some((refresh, refresh_exp)),
        })
    }

    /// A refresh token that is not active: revoked stays refused; rotated outside the grace window
    /// is reuse, which revokes the whole session.
    async fn refused_refresh(&self, stored: &StoredRefresh) -> Result<RefreshOutcome, AuthError> {
        if let RefreshState::Rotated { .. } = stored.state {
            tracing::warn!(session = %stored.record.session_id, "refresh token reuse: revoking session");
            self.revoke_sessions(std::slice::from_ref(&stored.record.session_id))
                .await?;
        }
        Err(AuthError::Token(TokenProblem::Blacklisted))
    }

    /// `/api/token/blacklist/`: revokes the refresh token's session, access tokens included.
    pub async fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        self.decode_fresh(token, Some(TokenKind::Refresh))
            .await
            .map_err(AuthError::Token)?;
        let stored = self
            .store
            .refresh_token(&token_hash(token))
            .await?
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        if stored.state != RefreshState::Active {
            return Err(AuthError::Token(TokenProblem::Blacklisted));
        }
        self.revoke_sessions(std::slice::from_ref(&stored.record.session_id))
            .await
    }

    /// Ends the caller's session; a token without `sid` revokes every token of its user issued up
    /// to and including its own `iat` (which may be a little ahead of our clock, within the leeway).
    pub async fn logout(&self, access: &VerifiedAccess) -> Result<(), AuthError> {
        match &access.session_id {
            Some(sid) => self.revoke_sessions(std::slice::from_ref(sid)).await,
            None => {
                let cut_off = self.now().max(access.issued_at);
                self.revoke_user_tokens(access.user_id, None, cut_off).await
            }
        }
    }

    /// Revokes every session of `user` except `keep`, and every token of theirs without `sid`.
    pub async fn logout_all(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
    ) -> Result<(), AuthError> {
        self.revoke_user_tokens(user, keep, self.now()).await
    }

    /// Revokes every session of `user` except `keep`, and their tokens without `sid` issued at or
    /// before `now`.
    async fn revoke_user_tokens(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
    ) -> Result<(), AuthError> {
        let until = now.saturating_add(self.config.longest_token_lifetime());
        self.store
            .revoke_user_sessions(user, keep, now, until)
            .await?;
        self.revocations.catch_up(self.store.as_ref(), now).await?;
        self.announcer.announce().await;
        Ok(())
    }

    /// The user's active sessions.
    pub async fn sessions(&self, user: UserId) -> Result<Vec<Session>, AuthError> {
        Ok(self.store.active_sessions(user, self.now()).await?)
    }

    /// Revokes one of the user's own sessions; another user's or an unknown one is `NotFound`.
    pub async fn delete_session(&self, user: UserId, sid: &SessionId) -> Result<(), AuthError> {
        let active = self.sessions(user).await?;
        if !active.iter().any(|s| &s.id == sid) {
            return Err(AuthError::NotFound);
        }
        self.revoke_sessions(std::slice::from_ref(sid)).await
    }

    /// Changes the caller's password after checking the old one; every other session is revoked.
    pub async fn change_password(
        &self,
        access: &VerifiedAccess,
        old: Zeroizing<String>,
        new: Zeroizing<String>,
    ) -> Result<(), AuthError> {
        let user = self
            .store
            .user_by_id(access.user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if !self.hasher.verify(old, Some(user.password_hash)).await? {
            return Err(AuthError::WrongPassword);
        }
        let hash = self.hasher.hash(new).await?;
        self.store.set_password_hash(user.id, &hash).await?;
        self.logout_all(user.id, access.session_id.as_ref()).await
    }

    /// A user by id, read at most once a second (changes show within a second or two). While
    /// storage is unreachable, the last record this instance read is answered instead: the token
    /// that asks was verified without storage, and revocations (disabling, deletion) are still
    /// applied from memory.
    pub async fn user(&self, id: UserId) -> Result<Option<Arc<User>>, AuthError> {
        let now = self.now();
        let cached = self.profiles.peek(&id.0);
        if let Some((user, read_at)) = &cached
            && *read_at == now
        {
            return Ok(Some(Arc::clone(user)));
        }
        let user = match self.store.user_by_id(id).await {
            Ok(user) => user.map(Arc::new),
            Err(error) if error.is_unavailable() && cached.is_some() => {
                tracing::debug!(%error, user = id.0, "storage unavailable: answering the last known user record");
                return Ok(cached.map(|(user, _)| user));
            }
            Err(error) => return Err(error.into()),
        };
        match &user {
            Some(user) => self.profiles.insert(id.0, (Arc::clone(user), now)),
            None => self.profiles.remove(&id.0),
        }
        Ok(user)
    }

    /// The caller's own account (`/api/me/`): gone or disabled users are refused.
    pub async fn me(&self, access: &VerifiedAccess) -> Result<Arc<User>, AuthError> {
        let user = self
            .user(access.user_id)
            .await?
            .ok_or(AuthError::UserNotFound)?;
        if !user.is_active {
            return Err(AuthError::UserInactive);
        }
        Ok(user)
    }
}

/// A change to a user made by an administrator; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// New roles.
    pub roles: Option<Vec<String>>,
    /// New custom claims (replacing all of them).
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Enable or disable (disabling revokes every session).
    pub is_active: Option<bool>,
    /// Revoke the user's sessions at once, so the change reaches tokens now rather than at refresh.
    pub revoke_sessions: bool,
}

/// User administration, shared by the CLI and the admin API. Changes reach running servers through
/// the revocation log; a server that made the change itself should `sync` right after.
#[derive(Clone)]
pub struct UserAdmin {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    config: AuthConfig,
    announcer: Announcer,
}

impl std::fmt::Debug for UserAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAdmin").finish_non_exhaustive()
    }
}

impl UserAdmin {
    /// Administration over `store`.
    pub fn new(store: Arc<dyn Store>, hasher: PasswordHasher, config: AuthConfig) -> UserAdmin {
        UserAdmin {
            store,
            hasher,
            config,
            announcer: Announcer::default(),
        }
    }

    /// Announces revocations (disabling, deleting, logging out) on `bus` so running instances
    /// apply them at once.
    pub fn with_bus(mut self, bus: Arc<dyn RevocationBus>) -> UserAdmin {
        self.announcer = Announcer(Some(bus));
        self
    }

    fn log_until(&self, now: i64) -> i64 {
        now.saturating_add(self.config.longest_token_lifetime())
    }

    /// A user by name.
    pub async fn find(&self, username: &str) -> Result<User, AuthError> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// A user by id.
    pub async fn get(&self, id: UserId) -> Result<User, AuthError> {
        self.store.user_by_id(id).await?.ok_or(AuthError::NotFound)
    }

    /// Creates a user with roles and custom claims (checked against the reserved names and the
    /// token size limit).
    pub async fn add(
        &self,
        username: &str,
        password: Zeroizing<String>,
        roles: Vec<String>,
        claims: serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<User, AuthError> {
        if username.trim().is_empty() || username.len() > 150 {
            return Err(AuthError::InvalidInput(
                "a username is 1 to 150 characters".into(),
            ));
        }
        if password.is_empty() {
            return Err(AuthError::InvalidInput(
                "the password must not be empty".into(),
            ));
        }
        check_profile(&roles, &claims, self.config.max_token_bytes)?;
        let user = NewUser {
            username: username.to_owned(),
            password_hash: self.hasher.hash(password).await?,
            is_active: true,
            roles,
            claims,
        };
        Ok(self.store.create_user(&user, now).await?)
    }

    /// All users.
    pub async fn list(&self) -> Result<Vec<User>, AuthError> {
        Ok(self.store.list_users().await?)
    }

    /// A page of users and the total count.
    pub async fn page(&self, limit: u64, offset: u64) -> Result<(u64, Vec<User>), AuthError> {
        Ok(self.store.users_page(limit, offset).await?)
    }

    /// Applies `change`: roles and claims are checked first; disabling revokes every session.
    pub async fn update(
        &self,
        id: UserId,
        change: &UserChange,
        now: i64,
    ) -> Result<User, AuthError> {
        let current = self.get(id).await?;
        let roles = change.roles.as_ref().unwrap_or(&current.roles);
        let claims = change.claims.as_ref().unwrap_or(&current.claims);
        check_profile(roles, claims, self.config.max_token_bytes)?;
        if change.roles.is_some() || change.claims.is_some() {
            self.store
                .set_roles_and_claims(id, change.roles.as_deref(), change.claims.as_ref())
                .await?;
        }
        if let Some(active) = change.is_active
            && active != current.is_active
        {
            self.store
                .set_user_active(id, active, self.log_until(now))
                .await?;
        }
        if change.revoke_sessions || change.is_active == Some(false) {
            self.store
                .revoke_user_sessions(id, None, now, self.log_until(now))
                .await?;
        }
        if change.revoke_sessions || change.is_active.is_some() {
            self.announcer.announce().await;
        }
        self.get(id).await
    }

    /// Disables a user and revokes their sessions.
    pub async fn disable(&self, username: &str, now: i64) -> Result<(), AuthError> {
        let user = self.find(username).await?;
        let change = UserChange {
            is_active: Some(false),
            ..UserChange::default()
        };
        self.update(user.id, &change, now).await.map(drop)
    }

    /// Enables a disabled user.
    pub async fn enable(&self, username: &str, now: i64) -> Result<(), AuthError> {
        let user = self.find(username).await?;
        let change = UserChange {
            is_active: Some(true),
            ..UserChange::default()
        };
        self.update(user.id, &change, now).await.map(drop)
    }

    /// Deletes a user (sessions and refresh tokens go with them).
    pub async fn delete(&self, id: UserId, now: i64) -> Result<(), AuthError> {
        if !self.store.delete_user(id, self.log_until(now)).await? {
            return Err(AuthError::NotFound);
        }
        self.announcer.announce().await;
        Ok(())
    }

    /// Sets a new password and revokes every session of the user.
    pub async fn set_password(
        &self,
        username: &str,
        password: Zeroizing<String>,
        now: i64,
    ) -> Result<(), AuthError> {
        if password.is_empty() {
            return Err(AuthError::InvalidInput(
                "the password must not be empty".into(),
            ));
        }
        let user = self.find(username).await?;
        let hash = self.hasher.hash(password).await?;
        self.store.set_password_hash(user.id, &hash).await?;
        self.store
            .revoke_user_sessions(user.id, None, now, self.log_until(now))
            .await?;
        self.announcer.announce().await;
        Ok(())
    }

    /// The user's active sessions.
    pub async fn sessions(&self, id: UserId, now: i64) -> Result<Vec<Session>, AuthError> {
        self.get(id).await?;
        Ok(self.store.active_sessions(id, now).await?)
    }

    /// Revokes every session of the user.
    pub async fn logout_all(&self, id: UserId, now: i64) -> Result<(), AuthError> {
        self.get(id).await?;
        self.store
            .revoke_user_sessions(id, None, now, self.log_until(now))
            .await?;
        self.announcer.announce().await;
        Ok(())
    }
}
