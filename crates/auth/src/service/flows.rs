//! The token flows: login, refresh with rotation and reuse detection, logout, the caller's own
//! sessions and password, and the caller's own account.

use std::sync::Arc;

use tessera_jwt::{Header, encode_with_header};
use zeroize::Zeroizing;

use super::AuthService;
use super::verify::VerifiedAccess;
use crate::audit::{Acting, Actor, AuditEvent, AuditKind};
use crate::claims::access_claims;
use crate::counters::{LoginResult, Outcome as _, RefreshResult, RevocationReason};
use crate::error::{AuthError, OAuthProblem, TokenProblem};
use crate::ids::{SessionId, UserId, random_hex, token_hash};
use crate::store::{RefreshRecord, RefreshState, RotateOutcome, Session, StoredRefresh, User};
use crate::tokens::{Accept, TokenClaims, TokenKind, UserIdClaim};

/// Where a login comes from (recorded on the session; the IP also feeds throttling).
#[derive(Clone, Debug, Default)]
pub struct LoginContext {
    /// Client IP, as decided by the server's proxy rules.
    pub ip: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

impl LoginContext {
    /// `actor`, acting from this request.
    pub fn acting(&self, actor: Actor) -> Acting {
        Acting::from_request(actor, self.ip.as_deref(), self.user_agent.as_deref())
    }
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

/// The client a token issued through the OAuth endpoints was granted to, and the scope granted.
/// Refresh tokens carry both, so every token of the session keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grantee {
    pub(crate) client_id: String,
    pub(crate) scope: String,
}

impl AuthService {
    /// Signs a token of `kind` for `user`'s session `sid`; tokens for a `grantee` also carry what
    /// RFC 9068 asks (`sub`, `client_id`, `scope`, `iss`, `aud`).
    pub(super) fn issue(
        &self,
        kind: TokenKind,
        user: &User,
        sid: &SessionId,
        (now, exp): (i64, i64),
        grantee: Option<&Grantee>,
    ) -> Result<(String, String), AuthError> {
        let jti = random_hex();
        let (iss, aud) = match grantee {
            Some(_) => (
                Some(self.config.oauth_issuer()),
                Some(self.config.oauth_audience()),
            ),
            None => (self.config.issuer.clone(), self.config.audience.clone()),
        };
        let registered = TokenClaims {
            token_type: kind.claim().to_owned(),
            exp,
            iat: now,
            jti: Some(jti.clone()),
            user_id: Some(UserIdClaim::Text(user.id.0.to_string())),
            sid: Some(sid.0.clone()),
            iss,
            aud: aud.map(serde_json::Value::String),
            roles: None,
            sub: grantee.map(|_| user.id.0.to_string()),
            client_id: grantee.map(|g| g.client_id.clone()),
            scope: grantee.map(|g| g.scope.clone()),
            refresh_exp: None,
        };
        // Access tokens tell downstream services who the user is; refresh tokens only what
        // refreshing needs.
        let extra = match kind {
            TokenKind::Refresh => serde_json::Map::new(),
            TokenKind::Access | TokenKind::Sliding => access_claims(
                &user.roles,
                &user.claims,
                self.config.access_token_claims.as_deref(),
            ),
        };
        let token = self.sign(kind, &registered, extra)?;
        Ok((token, jti))
    }

    /// Signs `registered`, with the `extra` claims it does not have already, as a token of `kind`;
    /// the renamable claims go under their configured names.
    pub(super) fn sign(
        &self,
        kind: TokenKind,
        registered: &TokenClaims,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, AuthError> {
        let internal = |e: String| AuthError::Internal(format!("signing failed: {e}"));
        let mut claims =
            match serde_json::to_value(registered).map_err(|e| internal(e.to_string()))? {
                serde_json::Value::Object(map) => map,
                _ => return Err(internal("claims are not an object".into())),
            };
        // Registered claims were written first and are never replaced.
        for (name, value) in extra {
            claims.entry(name).or_insert(value);
        }
        self.config.claim_names.write_wire_names(&mut claims);
        let material = self.live()?.keys.material();
        let header = Header::for_key(&material.signing).with_type(kind.typ());
        encode_with_header(&header, &claims, &material.signing).map_err(|e| internal(e.to_string()))
    }

    /// Username and password in, a new session and token pair out.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
    ) -> Result<TokenPair, AuthError> {
        self.login_as(username, password, context, None).await
    }

    /// [`AuthService::login`], the tokens granted to `grantee` when it is an OAuth client's;
    /// counted by result.
    pub(super) async fn login_as(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
        grantee: Option<&Grantee>,
    ) -> Result<TokenPair, AuthError> {
        let result = self
            .login_checked(username, password, context, grantee)
            .await;
        self.count_login(&result);
        result
    }

    async fn login_checked(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
        grantee: Option<&Grantee>,
    ) -> Result<TokenPair, AuthError> {
        let now = self.now();
        let user = self.authenticate(username, password, context, now).await?;
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
        let (access, _) = self.issue(
            TokenKind::Access,
            &user,
            &session.id,
            (now, access_exp),
            grantee,
        )?;
        let (refresh, jti) = self.issue(
            TokenKind::Refresh,
            &user,
            &session.id,
            (now, refresh_exp),
            grantee,
        )?;
        let (actor, method) = match grantee {
            Some(grantee) => (Actor::client(&grantee.client_id), "oauth_password"),
            None => (Actor::user(user.id), "password"),
        };
        let event = context
            .acting(actor)
            .event(now, AuditKind::LoginSuccess)
            .about(user.id, &user.username)
            .session(&session.id)
            .with("method", method);
        let audit = [event];
        self.store
            .create_session(
                &session,
                Some(&new_record(&refresh, &jti, &session.id, now, refresh_exp)),
                &audit,
            )
            .await?;
        self.log_audit(&audit);
        Ok(TokenPair {
            access,
            refresh,
            access_expires_at: access_exp,
            refresh_expires_at: refresh_exp,
        })
    }

    /// The user `username` names, if `password` is theirs and they may log in: throttled, and
    /// a Django or older hash re-hashed on the way. Every failure is the same
    /// [`AuthError::InvalidCredentials`].
    pub(super) async fn authenticate(
        &self,
        username: &str,
        password: Zeroizing<String>,
        context: &LoginContext,
        now: i64,
    ) -> Result<User, AuthError> {
        let refused = |kind: AuditKind, user: Option<&User>| {
            let actor = Actor {
                kind: crate::audit::ActorType::User,
                id: user.map(|u| u.id.0.to_string()),
            };
            let event = context
                .acting(actor)
                .event(now, kind)
                .with("username", username);
            match user {
                Some(user) => event.about(user.id, &user.username),
                None => event,
            }
        };
        // Counted before the password check, so concurrent guesses cannot all slip past it.
        let attempt = match self
            .throttle
            .admit(username, context.ip.as_deref(), now)
            .await
        {
            Ok(attempt) => attempt,
            Err(error @ AuthError::Throttled { .. }) => {
                let known = self.store.user_by_name(username).await.ok().flatten();
                self.append_audit(&[refused(AuditKind::LoginThrottled, known.as_ref())])
                    .await;
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        let checked = async {
            let user = self.store.user_by_name(username).await?;
            let checked = self
                .hasher
                .verify_login(password, user.as_ref().map(|u| u.password_hash.clone()))
                .await?;
            Ok::<_, AuthError>((user, checked))
        }
        .await;
        let (user, checked) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                self.throttle.released(attempt).await;
                return Err(error);
            }
        };
        if !checked.matches {
            self.throttle.failed(attempt).await;
            let event = refused(AuditKind::LoginFailure, user.as_ref()).with(
                "reason",
                if user.is_some() {
                    "password"
                } else {
                    "unknown_user"
                },
            );
            self.append_audit(&[event]).await;
            return Err(AuthError::InvalidCredentials);
        }
        self.throttle.released(attempt).await;
        let user = match user {
            Some(user) if user.is_active => user,
            other => {
                let event =
                    refused(AuditKind::LoginFailure, other.as_ref()).with("reason", "inactive");
                self.append_audit(&[event]).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        // An imported (Django) hash or an older cost: replaced by argon2id now that the password
        // is known. A failure to store it costs only the upgrade, not the login.
        // Only if the stored hash is still the one verified: a password changed meanwhile wins.
        if let Some(upgraded) = checked.upgraded {
            match self
                .store
                .upgrade_password_hash(user.id, &user.password_hash, &upgraded)
                .await
            {
                Ok(true) => tracing::info!(user = user.id.0, "password re-hashed with argon2id"),
                Ok(false) => tracing::info!(
                    user = user.id.0,
                    "password changed meanwhile; not re-hashed"
                ),
                Err(error) => tracing::warn!(%error, "re-hashing a password failed"),
            }
        }
        if self.config.update_last_login {
            // simplejwt's UPDATE_LAST_LOGIN; a failure to record it does not fail the login.
            if let Err(error) = self.store.record_login(user.id, now).await {
                tracing::warn!(%error, "recording the last login failed");
            }
        }
        Ok(user)
    }

    /// Counts a login's result.
    pub(super) fn count_login<T>(&self, result: &Result<T, AuthError>) {
        let outcome = match result {
            Ok(_) => Some(LoginResult::Success),
            Err(AuthError::InvalidCredentials) => Some(LoginResult::Failure),
            Err(AuthError::Throttled { .. }) => Some(LoginResult::Throttled),
            // Storage or hashing failed: the credentials were not judged.
            Err(_) => None,
        };
        if let Some(outcome) = outcome {
            self.counters.logins.add(outcome);
        }
    }

    /// Revokes `user`'s sessions `ids`, recording why and by whom.
    pub(super) async fn revoke_sessions(
        &self,
        ids: &[SessionId],
        user: UserId,
        reason: RevocationReason,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let until = now.saturating_add(self.config.longest_token_lifetime());
        let kind = match reason {
            RevocationReason::Reuse => AuditKind::TokenReuseDetected,
            _ => AuditKind::SessionRevoked,
        };
        let template = self.about(acting.event(now, kind), user).await?;
        let audit: Vec<AuditEvent> = ids
            .iter()
            .map(|id| template.clone().session(id).with("reason", reason.label()))
            .collect();
        self.store.revoke_sessions(ids, now, until, &audit).await?;
        self.log_audit(&audit);
        self.counters.revocations.add(reason);
        self.revocations_written().await
    }

    /// Exchanges a refresh token for a new pair (rotation). A token that was already rotated is
    /// reuse: its whole session is revoked.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        token: &str,
        context: &LoginContext,
    ) -> Result<RefreshOutcome, AuthError> {
        self.refresh_as(token, None, context)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`AuthService::refresh`] for `client` (the OAuth endpoint), or for the simplejwt endpoint
    /// (`None`). Each takes only its own tokens: an OAuth refresh token needs its client's
    /// authentication, and another client's token is refused before anything is spent. Returns
    /// the client and scope the session's tokens are granted to, for the OAuth endpoint's answer.
    pub(super) async fn refresh_as(
        &self,
        token: &str,
        client: Option<&str>,
        context: &LoginContext,
    ) -> Result<(RefreshOutcome, Option<Grantee>), AuthError> {
        match self.refresh_checked(token, client, context).await {
            Ok(done) => {
                self.counters.refreshes.add(RefreshResult::Success);
                Ok(done)
            }
            // Counted where it was detected.
            Err(Refusal::Reused) => Err(AuthError::Token(TokenProblem::Blacklisted)),
            // As for logins, an outage is not a verdict on the token.
            Err(Refusal::Error(
                error
                @ (AuthError::Unavailable(_) | AuthError::Storage(_) | AuthError::Internal(_)),
            )) => Err(error),
            Err(Refusal::Error(error)) => {
                self.counters.refreshes.add(RefreshResult::Failure);
                Err(error)
            }
        }
    }

    async fn refresh_checked(
        &self,
        token: &str,
        client: Option<&str>,
        context: &LoginContext,
    ) -> Result<(RefreshOutcome, Option<Grantee>), Refusal> {
        let (_, claims) = self
            .decode_fresh(token, Accept::Only(TokenKind::Refresh))
            .await?;
        match (client, claims.client_id.as_deref()) {
            (None, None) => {}
            (Some(asking), Some(owner)) if asking == owner => {}
            (Some(_), _) => {
                return Err(AuthError::oauth(
                    OAuthProblem::InvalidGrant,
                    "the refresh token was not issued to this client",
                )
                .into());
            }
            (None, Some(_)) => return Err(AuthError::Token(TokenProblem::Invalid).into()),
        }
        let grantee = claims.client_id.clone().map(|client_id| Grantee {
            client_id,
            scope: claims.scope.clone().unwrap_or_default(),
        });
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
            _ => return Err(AuthError::NoActiveAccountForToken.into()),
        };
        let hash = token_hash(token);
        let stored = self
            .store
            .refresh_token(&hash)
            .await?
            .filter(|s| s.record.session_id == sid)
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        let acting = context.acting(match &grantee {
            Some(grantee) => Actor::client(&grantee.client_id),
            None => Actor::user(user.id),
        });
        let outcome = if stored.state == RefreshState::Active {
            self.rotate(&user, &sid, &hash, grantee.as_ref(), &acting)
                .await
        } else {
            match self.grace_successor(&stored) {
                Some(current) => {
                    self.rotate(&user, &sid, &current, grantee.as_ref(), &acting)
                        .await
                }
                None => self.refused_refresh(&stored, &user).await,
            }
        };
        Ok((outcome?, grantee))
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
        grantee: Option<&Grantee>,
        acting: &Acting,
    ) -> Result<RefreshOutcome, Refusal> {
        let session = self
            .store
            .session(sid)
            .await?
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        let now = self.now();
        if session.revoked_at.is_some() {
            return Err(AuthError::Token(TokenProblem::Blacklisted).into());
        }
        if now >= session.expires_at {
            return Err(AuthError::Token(TokenProblem::Expired).into());
        }
        let access_exp = now.saturating_add(self.config.access_lifetime);
        let (access, _) = self.issue(TokenKind::Access, user, sid, (now, access_exp), grantee)?;
        let audit = [acting
            .event(now, AuditKind::TokenRefresh)
            .about(user.id, &user.username)
            .session(sid)
            .with("rotated", self.config.rotate_refresh_tokens)];
        if !self.config.rotate_refresh_tokens {
            // Nothing is written: the event stands alone.
            self.append_audit(&audit).await;
            return Ok(RefreshOutcome {
                access,
                access_expires_at: access_exp,
                refresh: None,
            });
        }
        let refresh_exp = now
            .saturating_add(self.config.refresh_lifetime)
            .min(session.expires_at);
        let (refresh, jti) =
            self.issue(TokenKind::Refresh, user, sid, (now, refresh_exp), grantee)?;
        let record = new_record(&refresh, &jti, sid, now, refresh_exp);
        if self.config.blacklist_after_rotation {
            match self
                .store
                .rotate_refresh(presented, &record, now, &audit)
                .await?
            {
                RotateOutcome::Rotated => {}
                // A concurrent retry inside the grace window lost the race: refuse, do not revoke.
                RotateOutcome::NotActive(Some(lost_race))
                    if self.grace_successor(&lost_race).is_some() =>
                {
                    return Err(AuthError::Token(TokenProblem::Blacklisted).into());
                }
                RotateOutcome::NotActive(Some(lost_race)) => {
                    return self.refused_refresh(&lost_race, user).await;
                }
                RotateOutcome::NotActive(None) => {
                    return Err(AuthError::Token(TokenProblem::Invalid).into());
                }
            }
        } else {
            self.store.add_refresh(&record, now, &audit).await?;
        }
        self.log_audit(&audit);
        Ok(RefreshOutcome {
            access,
            access_expires_at: access_exp,
            refresh: Some((refresh, refresh_exp)),
        })
    }

    /// A refresh token that is not active: revoked stays refused; rotated outside the grace window
    /// is reuse, which revokes the whole session.
    async fn refused_refresh(
        &self,
        stored: &StoredRefresh,
        user: &User,
    ) -> Result<RefreshOutcome, Refusal> {
        if let RefreshState::Rotated { .. } = stored.state {
            tracing::warn!(session = %stored.record.session_id, "refresh token reuse: revoking session");
            self.revoke_sessions(
                std::slice::from_ref(&stored.record.session_id),
                user.id,
                RevocationReason::Reuse,
                &Acting::system(),
            )
            .await?;
            self.counters.refreshes.add(RefreshResult::Reuse);
            return Err(Refusal::Reused);
        }
        Err(AuthError::Token(TokenProblem::Blacklisted).into())
    }

    /// `/api/token/blacklist/`: revokes the refresh token's session, access tokens included.
    pub async fn blacklist(&self, token: &str, context: &LoginContext) -> Result<(), AuthError> {
        let (_, claims) = self
            .decode_fresh(token, Accept::Only(TokenKind::Refresh))
            .await?;
        // An OAuth client's refresh token is revoked by its client, authenticated (RFC 7009).
        if claims.client_id.is_some() {
            return Err(AuthError::Token(TokenProblem::Invalid));
        }
        let stored = self
            .store
            .refresh_token(&token_hash(token))
            .await?
            .ok_or(AuthError::Token(TokenProblem::Invalid))?;
        if stored.state != RefreshState::Active {
            return Err(AuthError::Token(TokenProblem::Blacklisted));
        }
        let user = Self::user_of(&claims)?;
        self.revoke_sessions(
            std::slice::from_ref(&stored.record.session_id),
            user,
            RevocationReason::Blacklist,
            &context.acting(Actor::user(user)),
        )
        .await
    }

    /// Ends the caller's session; a token without `sid` revokes every token of its user issued up
    /// to and including its own `iat` (which may be a little ahead of our clock, within the leeway).
    pub async fn logout(
        &self,
        access: &VerifiedAccess,
        context: &LoginContext,
    ) -> Result<(), AuthError> {
        let acting = context.acting(Actor::user(access.user_id));
        match &access.session_id {
            Some(sid) => {
                self.revoke_sessions(
                    std::slice::from_ref(sid),
                    access.user_id,
                    RevocationReason::Logout,
                    &acting,
                )
                .await
            }
            None => {
                let cut_off = self.now().max(access.issued_at);
                let reason = RevocationReason::Logout;
                self.revoke_user_tokens(access.user_id, None, cut_off, reason, &acting)
                    .await
            }
        }
    }

    /// Revokes every session of `user` except `keep`, and every token of theirs without `sid`.
    pub async fn logout_all(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        let reason = RevocationReason::LogoutAll;
        self.revoke_user_tokens(user, keep, self.now(), reason, acting)
            .await
    }

    /// Revokes every session of `user` except `keep`, and their tokens without `sid` issued at or
    /// before `now`.
    pub(super) async fn revoke_user_tokens(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
        reason: RevocationReason,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        let until = now.saturating_add(self.config.longest_token_lifetime());
        let event = acting
            .event(self.now(), AuditKind::UserLogoutAll)
            .with("reason", reason.label());
        let audit = [self.about(event, user).await?];
        self.store
            .revoke_user_sessions(user, keep, now, until, &audit)
            .await?;
        self.log_audit(&audit);
        self.counters.revocations.add(reason);
        self.revocations_written().await
    }

    /// The user's active sessions.
    pub async fn sessions(&self, user: UserId) -> Result<Vec<Session>, AuthError> {
        Ok(self.store.active_sessions(user, self.now()).await?)
    }

    /// Revokes one of the user's own sessions; another user's or an unknown one is `NotFound`.
    pub async fn delete_session(
        &self,
        user: UserId,
        sid: &SessionId,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        let active = self.sessions(user).await?;
        if !active.iter().any(|s| &s.id == sid) {
            return Err(AuthError::NotFound);
        }
        let reason = RevocationReason::Session;
        self.revoke_sessions(std::slice::from_ref(sid), user, reason, acting)
            .await
    }

    /// Changes the caller's password after checking the old one; every other session is revoked.
    pub async fn change_password(
        &self,
        access: &VerifiedAccess,
        old: Zeroizing<String>,
        new: Zeroizing<String>,
        context: &LoginContext,
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
        let acting = context.acting(Actor::user(user.id));
        let audit = [acting
            .event(self.now(), AuditKind::UserPasswordChanged)
            .about(user.id, &user.username)];
        self.store.set_password_hash(user.id, &hash, &audit).await?;
        self.log_audit(&audit);
        let keep = access.session_id.as_ref();
        let reason = RevocationReason::Password;
        self.revoke_user_tokens(user.id, keep, self.now(), reason, &acting)
            .await
    }

    /// A user by id, read at most once a second (changes show within a second or two). While
    /// storage is unreachable, the last record this instance read is answered instead: the token
    /// that asks was verified without storage, and revocations (disabling, deletion) are still
    /// applied from memory.
    pub async fn user(&self, id: UserId) -> Result<Option<Arc<User>>, AuthError> {
        let live = self.live()?;
        let now = self.now();
        let cached = live.profiles.peek(&id.0);
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
            Some(user) => live.profiles.insert(id.0, (Arc::clone(user), now)),
            None => live.profiles.remove(&id.0),
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

/// Why a refresh was refused: reuse (already counted where it was detected), or any other error.
enum Refusal {
    Reused,
    Error(AuthError),
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Refusal {
        Refusal::Error(error)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(error: crate::store::StoreError) -> Refusal {
        Refusal::Error(error.into())
    }
}
