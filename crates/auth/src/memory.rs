//! An in-memory implementation of the storage traits, for tests of the domain and of embedders
//! (behind the `test-support` feature).
//!
//! [`MemoryStore`] follows the SQLite backend of `tessera-store` exactly, and runs the same
//! conformance suite: ids from 1 that are never reused, unique usernames and key ids
//! ([`StoreError::Conflict`]), the revocation log written in the same step as the change it
//! records, rotation that exactly one of concurrent callers wins, and the same sweep rules. Every
//! method takes one lock for its whole duration, so each is atomic: a call that fails changes
//! nothing. Like every store it never reads the clock; every time comes from the caller.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tessera_auth::StoreError> {
//! use tessera_auth::memory::MemoryStore;
//! use tessera_auth::store::{NewUser, Store as _, UserStore as _};
//!
//! let store = MemoryStore::default();
//! let ann = NewUser {
//!     username: "ann".into(),
//!     is_active: true,
//!     ..NewUser::default()
//! };
//! assert_eq!(store.create_user(&ann, 1_700_000_000, &[]).await?.id.0, 1);
//! store.close();
//! assert!(store.ping().await.unwrap_err().is_unavailable());
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditFilter, AuditRecord, about_new_user};
use crate::ids::{SessionId, UserId};
use crate::store::{
    AuditStore, Client, ClientStore, Conflict, FlushStats, ImportedUser, KeyInfo, KeyStore,
    NewUser, PrivateJwk, RefreshRecord, RefreshState, Revocation, RevocationKind, RotateOutcome,
    Session, SessionStore, Store, StoreError, StoredRefresh, User, UserStore,
};

/// A store held in memory, gone when the last clone is dropped.
///
/// Cloning is cheap and shares the data: every clone sees (and changes) the same store, as
/// clones of a database-backed store share their database.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// How often the keys were listed and a private key read: tests check what a sync reads.
    reads: Arc<KeyReads>,
}

#[derive(Default)]
struct KeyReads {
    lists: std::sync::atomic::AtomicUsize,
    private: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data holds password hashes and private keys: never printed.
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A new, empty store (the same as [`MemoryStore::default`]).
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many times the keys' public facts were listed ([`KeyStore::keys`]).
    pub fn key_reads(&self) -> usize {
        self.reads.lists.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many times a private key was read ([`KeyStore::private_key`]).
    pub fn private_key_reads(&self) -> usize {
        self.reads
            .private
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes the store, as a database outage would: every later call on it (or on its clones)
    /// fails with [`StoreError::Unavailable`]. The data is kept but can no longer be reached.
    pub fn close(&self) {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .closed = true;
    }

    /// The state, locked for the whole call; unavailable once closed.
    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        // Every call checks what it needs before changing anything, so a panic elsewhere while
        // the lock was held cannot have left a half-done change behind.
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.closed {
            return Err(StoreError::unavailable_because(
                "the in-memory store is closed",
            ));
        }
        Ok(state)
    }
}

/// Everything the store holds.
#[derive(Default)]
struct State {
    /// Set by [`MemoryStore::close`].
    closed: bool,
    /// Users by id.
    users: BTreeMap<i64, User>,
    /// The highest user id ever handed out (ids are never reused).
    last_user_id: i64,
    /// Sessions by id.
    sessions: BTreeMap<String, SessionRow>,
    /// Refresh tokens by hash.
    tokens: HashMap<[u8; 32], TokenRow>,
    /// The revocation log by id.
    revocations: BTreeMap<i64, Revocation>,
    /// The highest log id ever handed out (ids are never reused).
    last_revocation_id: i64,
    /// Signing keys by kid.
    keys: BTreeMap<String, KeyRow>,
    /// OAuth clients by id.
    clients: BTreeMap<String, Client>,
    /// Digests of imported users' Django password hashes, by user id.
    django_imports: BTreeMap<i64, [u8; 32]>,
    /// The audit log, oldest first.
    audit: Vec<AuditRecord>,
}

/// A session and the hash of its current refresh token.
struct SessionRow {
    session: Session,
    current: Option<[u8; 32]>,
}

/// A refresh token as stored: its own state, whatever its session's.
struct TokenRow {
    record: RefreshRecord,
    state: RefreshState,
    replaced_by: Option<[u8; 32]>,
}

/// A signing key with its private half.
struct KeyRow {
    info: KeyInfo,
    private: PrivateJwk,
}

/// The next id after `last`, as an `AUTOINCREMENT` column hands them out.
fn next_id(last: i64, what: &str) -> Result<i64, StoreError> {
    last.checked_add(1)
        .ok_or_else(|| StoreError::internal_because(format!("{what} ids are exhausted")))
}

/// `n` as a count.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `n` as a length bound, saturating.
fn bound(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl State {
    /// Appends audit events, with the change they record.
    fn record(&mut self, events: &[AuditEvent]) {
        for event in events {
            let id = self.audit.last().map_or(1, |last| last.id + 1);
            self.audit.push(AuditRecord {
                id,
                event: event.clone(),
            });
        }
    }

    /// A refresh token with its state as the caller must see it: a token of a revoked session is
    /// `Revoked` whatever its own state says.
    fn stored_refresh(&self, token_hash: &[u8; 32]) -> Option<StoredRefresh> {
        let token = self.tokens.get(token_hash)?;
        let session = self.sessions.get(&token.record.session_id.0)?;
        let state = if session.session.revoked_at.is_some() {
            RefreshState::Revoked
        } else {
            token.state
        };
        Some(StoredRefresh {
            record: token.record.clone(),
            successor_is_current: matches!(state, RefreshState::Rotated { .. })
                && token.replaced_by.is_some()
                && token.replaced_by == session.current,
            replaced_by: token.replaced_by,
            state,
        })
    }

    /// Whether `record` can be inserted: its hash is new and its session exists. Checked before
    /// anything changes, so a refused insert leaves the whole call undone.
    fn check_insert(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        if self.tokens.contains_key(&record.token_hash) {
            return Err(StoreError::Conflict(Conflict::Other));
        }
        if !self.sessions.contains_key(&record.session_id.0) {
            return Err(StoreError::internal_because(format!(
                "refresh token for session {} that does not exist",
                record.session_id
            )));
        }
        Ok(())
    }

    /// Stores `record` as an active token (after [`State::check_insert`]).
    fn insert_refresh(&mut self, record: &RefreshRecord) {
        self.tokens.insert(
            record.token_hash,
            TokenRow {
                record: record.clone(),
                state: RefreshState::Active,
                replaced_by: None,
            },
        );
    }

    /// Makes `record` its session's current token and marks the session used at `now`.
    fn make_current(&mut self, record: &RefreshRecord, now: i64) {
        if let Some(row) = self.sessions.get_mut(&record.session_id.0) {
            row.current = Some(record.token_hash);
            row.session.last_used_at = now;
        }
    }

    /// Appends an entry to the revocation log.
    fn log(&mut self, kind: RevocationKind, expires_at: i64) -> Result<(), StoreError> {
        let id = next_id(self.last_revocation_id, "revocation log")?;
        self.last_revocation_id = id;
        self.revocations.insert(
            id,
            Revocation {
                id,
                kind,
                expires_at,
            },
        );
        Ok(())
    }

    /// Log ids needed to log `n` entries, checked before anything changes.
    fn check_log_room(&self, n: usize) -> Result<(), StoreError> {
        i64::try_from(n)
            .ok()
            .and_then(|n| self.last_revocation_id.checked_add(n))
            .map(|_| ())
            .ok_or_else(|| StoreError::internal_because("revocation log ids are exhausted"))
    }

    /// The sessions among `ids` that are not revoked, each once, in the order given.
    fn revocable(&self, ids: impl IntoIterator<Item = SessionId>) -> Vec<SessionId> {
        let mut revocable: Vec<SessionId> = Vec::new();
        for id in ids {
            let open = self
                .sessions
                .get(&id.0)
                .is_some_and(|row| row.session.revoked_at.is_none());
            if open && !revocable.contains(&id) {
                revocable.push(id);
            }
        }
        revocable
    }

    /// Revokes `ids` (found by [`State::revocable`]) with their active tokens, and logs each.
    fn revoke(
        &mut self,
        ids: &[SessionId],
        now: i64,
        log_expires_at: i64,
    ) -> Result<(), StoreError> {
        for id in ids {
            if let Some(row) = self.sessions.get_mut(&id.0) {
                row.session.revoked_at = Some(now);
            }
            for token in self.tokens.values_mut() {
                if token.record.session_id == *id && token.state == RefreshState::Active {
                    token.state = RefreshState::Revoked;
                }
            }
            self.log(RevocationKind::Session(id.clone()), log_expires_at)?;
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        user: &NewUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<User, StoreError> {
        let mut state = self.state()?;
        if state.users.values().any(|u| u.username == user.username) {
            return Err(StoreError::Conflict(Conflict::Username));
        }
        let id = next_id(state.last_user_id, "user")?;
        let created = User {
            id: UserId(id),
            username: user.username.clone(),
            password_hash: user.password_hash.clone(),
            is_active: user.is_active,
            created_at: now,
            last_login: None,
            roles: user.roles.clone(),
            claims: user.claims.clone(),
        };
        state.last_user_id = id;
        state.users.insert(id, created.clone());
        state.record(&about_new_user(audit, created.id, &created.username));
        Ok(created)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let state = self.state()?;
        Ok(state
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.state()?.users.get(&id.0).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.state()?.users.values().cloned().collect())
    }

    async fn users_page(&self, limit: u64, offset: u64) -> Result<(u64, Vec<User>), StoreError> {
        let state = self.state()?;
        let page = state
            .users
            .values()
            .skip(bound(offset))
            .take(bound(limit))
            .cloned()
            .collect();
        Ok((count(state.users.len()), page))
    }

    async fn set_roles_and_claims(
        &self,
        id: UserId,
        roles: Option<&[String]>,
        claims: Option<&serde_json::Map<String, serde_json::Value>>,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(user) = state.users.get_mut(&id.0) else {
            return Ok(false);
        };
        if let Some(roles) = roles {
            user.roles = roles.to_vec();
        }
        if let Some(claims) = claims {
            user.claims = claims.clone();
        }
        state.record(audit);
        Ok(true)
    }

    async fn inactive_user_ids(&self) -> Result<Vec<UserId>, StoreError> {
        let state = self.state()?;
        Ok(state
            .users
            .values()
            .filter(|u| !u.is_active)
            .map(|u| u.id)
            .collect())
    }

    /// Like SQLite, reports (and logs) a change even when the user already had that status.
    async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        if !state.users.contains_key(&id.0) {
            return Ok(false);
        }
        state.check_log_room(1)?;
        if let Some(user) = state.users.get_mut(&id.0) {
            user.is_active = active;
        }
        let kind = if active {
            RevocationKind::UserEnabled(id)
        } else {
            RevocationKind::UserDisabled(id)
        };
        state.log(kind, log_expires_at)?;
        state.record(audit);
        Ok(true)
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(user) = state.users.get_mut(&id.0) else {
            return Ok(false);
        };
        password_hash.clone_into(&mut user.password_hash);
        state.record(audit);
        Ok(true)
    }

    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.users.get_mut(&id.0) {
            Some(user) if user.password_hash == expected => {
                password_hash.clone_into(&mut user.password_hash);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_user(
        &self,
        id: UserId,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        if !state.users.contains_key(&id.0) {
            return Ok(false);
        }
        state.check_log_room(1)?;
        state.users.remove(&id.0);
        // Sessions and their refresh tokens go with the user, as by ON DELETE CASCADE.
        let State {
            sessions, tokens, ..
        } = &mut *state;
        sessions.retain(|_, row| row.session.user_id != id);
        tokens.retain(|_, token| sessions.contains_key(&token.record.session_id.0));
        state.log(RevocationKind::UserDeleted(id), log_expires_at)?;
        state.record(audit);
        Ok(true)
    }

    async fn record_login(&self, id: UserId, now: i64) -> Result<(), StoreError> {
        if let Some(user) = self.state()?.users.get_mut(&id.0) {
            user.last_login = Some(now);
        }
        Ok(())
    }

    async fn django_imports(&self) -> Result<Vec<(UserId, [u8; 32])>, StoreError> {
        let state = self.state()?;
        Ok(state
            .django_imports
            .iter()
            .map(|(id, digest)| (UserId(*id), *digest))
            .collect())
    }

    async fn save_imported_user(
        &self,
        user: &ImportedUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state
            .users
            .values()
            .any(|u| u.username == user.username && u.id != user.id)
        {
            return Err(StoreError::Conflict(Conflict::Username));
        }
        let stored = state.users.entry(user.id.0).or_insert_with(|| User {
            id: user.id,
            username: String::new(),
            password_hash: "!".into(),
            is_active: false,
            created_at: now,
            last_login: None,
            roles: Vec::new(),
            claims: serde_json::Map::new(),
        });
        stored.username.clone_from(&user.username);
        stored.is_active = user.is_active;
        stored.roles.clone_from(&user.roles);
        stored.claims.clone_from(&user.claims);
        if let Some(password) = &user.password {
            stored.password_hash.clone_from(&password.hash);
            state
                .django_imports
                .insert(user.id.0, password.source_digest);
        }
        state.last_user_id = state.last_user_id.max(user.id.0);
        state.record(audit);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    /// Fails with [`StoreError::Conflict`] (`Other`) when the session id or the token hash is
    /// taken, and with [`StoreError::Internal`] when the user (or the token's session) does not
    /// exist, as the SQLite constraints do; nothing is stored then.
    async fn create_session(
        &self,
        session: &Session,
        first: Option<&RefreshRecord>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.sessions.contains_key(&session.id.0) {
            return Err(StoreError::Conflict(Conflict::Other));
        }
        if !state.users.contains_key(&session.user_id.0) {
            return Err(StoreError::internal_because(format!(
                "session for user {} who does not exist",
                session.user_id
            )));
        }
        if let Some(first) = first {
            if state.tokens.contains_key(&first.token_hash) {
                return Err(StoreError::Conflict(Conflict::Other));
            }
            if first.session_id != session.id && !state.sessions.contains_key(&first.session_id.0) {
                return Err(StoreError::internal_because(format!(
                    "refresh token for session {} that does not exist",
                    first.session_id
                )));
            }
        }
        state.sessions.insert(
            session.id.0.clone(),
            SessionRow {
                session: session.clone(),
                current: first.map(|first| first.token_hash),
            },
        );
        if let Some(first) = first {
            state.insert_refresh(first);
        }
        state.record(audit);
        Ok(())
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let state = self.state()?;
        Ok(state.sessions.get(&id.0).map(|row| row.session.clone()))
    }

    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        let state = self.state()?;
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .map(|row| &row.session)
            .filter(|s| s.user_id == user && s.revoked_at.is_none() && s.expires_at > now)
            .cloned()
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(sessions)
    }

    async fn refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<StoredRefresh>, StoreError> {
        Ok(self.state()?.stored_refresh(token_hash))
    }

    /// Also refuses (with the token as stored) when the session is revoked or past its absolute
    /// expiry, and fails with [`StoreError::Internal`] when `new` belongs to another session than
    /// the active `old_hash`: that is a bug in the caller. A `new` whose hash is taken fails with
    /// [`StoreError::Conflict`] and rotates nothing.
    async fn rotate_refresh(
        &self,
        old_hash: &[u8; 32],
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<RotateOutcome, StoreError> {
        let mut state = self.state()?;
        let rotatable = state.tokens.get(old_hash).is_some_and(|token| {
            token.state == RefreshState::Active
                && token.record.session_id == new.session_id
                && state.sessions.get(&new.session_id.0).is_some_and(|row| {
                    row.session.revoked_at.is_none() && row.session.expires_at > now
                })
        });
        if !rotatable {
            let stored = state.stored_refresh(old_hash);
            if let Some(old) = &stored
                && old.state == RefreshState::Active
                && old.record.session_id != new.session_id
            {
                return Err(StoreError::internal_because(
                    "rotate_refresh: the new token belongs to another session",
                ));
            }
            return Ok(RotateOutcome::NotActive(stored));
        }
        state.check_insert(new)?;
        if let Some(old) = state.tokens.get_mut(old_hash) {
            old.state = RefreshState::Rotated { at: now };
            old.replaced_by = Some(new.token_hash);
        }
        state.insert_refresh(new);
        state.make_current(new, now);
        state.record(audit);
        Ok(RotateOutcome::Rotated)
    }

    /// As in SQLite, the token is added even to a revoked or ended session (where it reads as
    /// revoked, or cannot rotate).
    async fn add_refresh(
        &self,
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        state.check_insert(new)?;
        state.insert_refresh(new);
        state.make_current(new, now);
        state.record(audit);
        Ok(())
    }

    async fn revoke_sessions(
        &self,
        ids: &[SessionId],
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut state = self.state()?;
        let revoked = state.revocable(ids.iter().cloned());
        state.check_log_room(revoked.len())?;
        state.revoke(&revoked, now, log_expires_at)?;
        state.record(audit);
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut state = self.state()?;
        let mut sessions: Vec<&Session> = state
            .sessions
            .values()
            .map(|row| &row.session)
            .filter(|s| s.user_id == user && s.revoked_at.is_none() && Some(&s.id) != keep)
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let ids: Vec<SessionId> = sessions.into_iter().map(|s| s.id.clone()).collect();
        let revoked = state.revocable(ids);
        state.check_log_room(revoked.len().saturating_add(1))?;
        state.log(
            RevocationKind::UserTokensBefore { user, before: now },
            log_expires_at,
        )?;
        state.revoke(&revoked, now, log_expires_at)?;
        state.record(audit);
        Ok(revoked)
    }

    async fn revocations_page(
        &self,
        after_id: i64,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Revocation>, StoreError> {
        let state = self.state()?;
        Ok(state
            .revocations
            .range(after_id.saturating_add(1)..)
            .map(|(_, entry)| entry)
            .filter(|entry| entry.expires_at > now)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn revoke_access_token(&self, jti: &str, log_expires_at: i64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        state.check_log_room(1)?;
        state.log(RevocationKind::Token(jti.to_owned()), log_expires_at)
    }

    async fn flush_expired(&self, now: i64) -> Result<FlushStats, StoreError> {
        let mut state = self.state()?;
        let State {
            sessions,
            tokens,
            revocations,
            keys,
            ..
        } = &mut *state;
        // Tokens first, so a revoked session whose last token just expired goes in the same sweep;
        // those of ended sessions too, so the count includes them.
        let before = tokens.len();
        tokens.retain(|_, token| {
            token.record.expires_at > now
                && sessions
                    .get(&token.record.session_id.0)
                    .is_some_and(|row| row.session.expires_at > now)
        });
        let refresh_tokens = count(before - tokens.len());
        let mut with_tokens = std::collections::HashSet::new();
        for token in tokens.values() {
            with_tokens.insert(token.record.session_id.0.as_str());
        }
        let before = sessions.len();
        sessions.retain(|id, row| {
            let ended = row.session.expires_at <= now;
            let spent = row.session.revoked_at.is_some_and(|at| at <= now)
                && !with_tokens.contains(id.as_str());
            !(ended || spent)
        });
        let sessions = count(before - sessions.len());
        let before = revocations.len();
        revocations.retain(|_, entry| entry.expires_at > now);
        let revocations = count(before - revocations.len());
        let before = keys.len();
        keys.retain(|_, key| key.info.expires_at.is_none_or(|at| at > now));
        let keys = count(before - keys.len());
        Ok(FlushStats {
            refresh_tokens,
            sessions,
            revocations,
            keys,
            // Counted by the domain, which knows the retention.
            audit_events: 0,
        })
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.reads
            .lists
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let state = self.state()?;
        let mut keys: Vec<KeyInfo> = state.keys.values().map(|key| key.info.clone()).collect();
        keys.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(keys)
    }

    async fn private_key(&self, kid: &str) -> Result<Option<PrivateJwk>, StoreError> {
        self.reads
            .private
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let state = self.state()?;
        Ok(state.keys.get(kid).map(|key| key.private.clone()))
    }

    async fn rotate_in(
        &self,
        key: &KeyInfo,
        private: &PrivateJwk,
        retired_keys_expire_at: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.keys.contains_key(&key.kid) {
            return Err(StoreError::Conflict(Conflict::KeyId));
        }
        for other in state.keys.values_mut() {
            if other.info.retired_at.is_none() {
                other.info.retired_at = Some(key.created_at);
                other.info.expires_at = Some(retired_keys_expire_at);
            }
        }
        state.keys.insert(
            key.kid.clone(),
            KeyRow {
                info: key.clone(),
                private: private.clone(),
            },
        );
        state.record(audit);
        Ok(())
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn create_client(&self, client: &Client, audit: &[AuditEvent]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.clients.values().any(|c| c.name == client.name) {
            return Err(StoreError::Conflict(Conflict::ClientName));
        }
        if state.clients.contains_key(&client.id) {
            return Err(StoreError::Conflict(Conflict::Other));
        }
        state.clients.insert(client.id.clone(), client.clone());
        state.record(audit);
        Ok(())
    }

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        Ok(self.state()?.clients.get(id).cloned())
    }

    async fn client_by_name(&self, name: &str) -> Result<Option<Client>, StoreError> {
        let state = self.state()?;
        Ok(state.clients.values().find(|c| c.name == name).cloned())
    }

    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut clients: Vec<Client> = self.state()?.clients.values().cloned().collect();
        clients.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(clients)
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &[u8; 32],
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(client) = state.clients.get_mut(id) else {
            return Ok(false);
        };
        client.secret_hash = *secret_hash;
        state.record(audit);
        Ok(true)
    }

    async fn delete_client(
        &self,
        id: &str,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        if !state.clients.contains_key(id) {
            return Ok(false);
        }
        state.check_log_room(1)?;
        state.clients.remove(id);
        state.log(RevocationKind::ClientDeleted(id.to_owned()), log_expires_at)?;
        state.record(audit);
        Ok(true)
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.state()?.record(events);
        Ok(())
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        newest_first: bool,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<AuditRecord>), StoreError> {
        let state = self.state()?;
        let selected = |record: &&AuditRecord| {
            let event = &record.event;
            let subject = event.subject.as_ref();
            let by_id = filter
                .subject_id
                .map(|id| subject.is_some_and(|s| s.id == id));
            let by_name = filter
                .subject_name
                .as_ref()
                .map(|name| subject.is_some_and(|s| &s.username == name));
            let about = match (by_id, by_name) {
                (None, None) => true,
                (a, b) => a.unwrap_or(false) || b.unwrap_or(false),
            };
            filter.kind.is_none_or(|kind| event.kind == kind)
                && about
                && filter.since.is_none_or(|since| event.time >= since)
                && filter.after_id.is_none_or(|after| record.id > after)
        };
        let mut matching: Vec<&AuditRecord> = state.audit.iter().filter(selected).collect();
        if newest_first {
            matching.reverse();
        }
        let total = count(matching.len());
        let page = matching
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok((total, page))
    }

    async fn delete_audit_before(&self, before: i64) -> Result<u64, StoreError> {
        let mut state = self.state()?;
        let was = state.audit.len();
        state.audit.retain(|record| record.event.time >= before);
        Ok(count(was - state.audit.len()))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.state().map(drop)
    }
}
