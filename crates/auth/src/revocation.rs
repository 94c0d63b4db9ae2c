//! Revocations held in memory, so checking an access token costs no storage round-trip.
//!
//! The state is rebuilt from the store's revocation log at start and kept current by replaying new
//! log entries (after each local change, and by a periodic poll that also picks up changes made by
//! the CLI or other instances). Entries are dropped once every token they cover has expired.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::{AuthError, TokenProblem};
use crate::ids::UserId;
use crate::store::{Revocation, RevocationKind, Store, StoreError};

/// A session id as held in memory: our ids are 32 hex digits, kept as their 16 bytes (a third of
/// the memory of the text); anything else is kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SessionKey {
    Bytes([u8; 16]),
    Text(Box<str>),
}

impl SessionKey {
    fn of(sid: &str) -> SessionKey {
        let hex = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let digits = sid.as_bytes();
        if digits.len() == 32 {
            let mut bytes = [0u8; 16];
            let parsed = bytes.iter_mut().enumerate().all(|(i, byte)| {
                match (hex(digits[2 * i]), hex(digits[2 * i + 1])) {
                    (Some(high), Some(low)) => {
                        *byte = high << 4 | low;
                        true
                    }
                    _ => false,
                }
            });
            if parsed {
                return SessionKey::Bytes(bytes);
            }
        }
        SessionKey::Text(sid.into())
    }
}

#[derive(Debug, Default)]
struct Revoked {
    /// Revoked session ids -> when the entry may be forgotten.
    sessions: HashMap<SessionKey, i64>,
    /// Per user: tokens without `sid` issued at or before `.0` are revoked; forget after `.1`.
    users_before: HashMap<i64, (i64, i64)>,
    disabled: HashSet<i64>,
    /// Deleted users -> when the entry may be forgotten.
    deleted: HashMap<i64, i64>,
    /// Deleted OAuth clients -> when the entry may be forgotten.
    deleted_clients: HashMap<Box<str>, i64>,
    /// Access tokens revoked one by one (a client's own), by `jti` -> their expiry.
    tokens: HashMap<Box<str>, i64>,
}

/// The in-memory revocation state of one server instance.
#[derive(Debug)]
pub struct RevocationState {
    revoked: RwLock<Revoked>,
    /// Id of the last log entry applied.
    last_applied: AtomicI64,
    /// Announces, in this process, that entries were applied (the id of the last one): what the
    /// live revocation feed waits on.
    grown: tokio::sync::watch::Sender<i64>,
}

impl Default for RevocationState {
    fn default() -> Self {
        RevocationState {
            revoked: RwLock::default(),
            last_applied: AtomicI64::new(0),
            grown: tokio::sync::watch::channel(0).0,
        }
    }
}

impl RevocationState {
    /// Builds the state from the store: disabled users, then the whole unexpired log.
    pub async fn load(store: &dyn Store, now: i64) -> Result<RevocationState, StoreError> {
        let state = RevocationState::default();
        {
            let disabled = store.inactive_user_ids().await?;
            let mut revoked = state.write();
            revoked.disabled = disabled.into_iter().map(|id| id.0).collect();
        }
        state.catch_up(store, now).await?;
        Ok(state)
    }

    /// Applies log entries written since the last one applied, a page at a time; returns how many.
    pub async fn catch_up(&self, store: &dyn Store, now: i64) -> Result<usize, StoreError> {
        const PAGE: usize = 4_096;
        let mut applied = 0;
        loop {
            let after = self.last_applied.load(Ordering::Acquire);
            let entries = store.revocations_page(after, now, PAGE).await?;
            for entry in &entries {
                self.apply(entry);
            }
            applied += entries.len();
            if entries.len() < PAGE {
                if applied > 0 {
                    self.grown
                        .send_replace(self.last_applied.load(Ordering::Acquire));
                }
                return Ok(applied);
            }
        }
    }

    /// Applies one log entry (idempotent).
    pub fn apply(&self, entry: &Revocation) {
        {
            let mut revoked = self.write();
            match &entry.kind {
                RevocationKind::Session(sid) => {
                    revoked
                        .sessions
                        .insert(SessionKey::of(&sid.0), entry.expires_at);
                }
                RevocationKind::UserTokensBefore { user, before } => {
                    let slot = revoked.users_before.entry(user.0).or_insert((i64::MIN, 0));
                    slot.0 = slot.0.max(*before);
                    slot.1 = slot.1.max(entry.expires_at);
                }
                RevocationKind::UserDisabled(user) => {
                    revoked.disabled.insert(user.0);
                }
                RevocationKind::UserEnabled(user) => {
                    revoked.disabled.remove(&user.0);
                }
                RevocationKind::UserDeleted(user) => {
                    revoked.disabled.remove(&user.0);
                    revoked.deleted.insert(user.0, entry.expires_at);
                }
                RevocationKind::ClientDeleted(client) => {
                    revoked
                        .deleted_clients
                        .insert(client.as_str().into(), entry.expires_at);
                }
                RevocationKind::Token(jti) => {
                    revoked.tokens.insert(jti.as_str().into(), entry.expires_at);
                }
            }
        }
        self.last_applied.fetch_max(entry.id, Ordering::AcqRel);
    }

    /// Refuses an access token of `user` (session `sid`, issued at `iat`) if anything revoked it.
    pub fn check(&self, user: UserId, sid: Option<&str>, iat: i64) -> Result<(), AuthError> {
        let revoked = self.read();
        if revoked.deleted.contains_key(&user.0) {
            return Err(AuthError::UserNotFound);
        }
        if revoked.disabled.contains(&user.0) {
            return Err(AuthError::UserInactive);
        }
        let is_revoked = match sid {
            Some(sid) => revoked.sessions.contains_key(&SessionKey::of(sid)),
            None => revoked
                .users_before
                .get(&user.0)
                // At or before: `iat` has one-second resolution, and a token used to log out in
                // the second it was issued must end with that logout. Our own tokens carry a
                // `sid`, so a login right after a logout-all is not caught by this.
                .is_some_and(|(before, _)| iat <= *before),
        };
        if is_revoked {
            return Err(AuthError::Token(TokenProblem::Blacklisted));
        }
        Ok(())
    }

    /// Refuses a token issued to OAuth client `client` (if any) or with id `jti` when either was
    /// revoked: the client deleted, or the token revoked on its own.
    pub fn check_issued(&self, client: Option<&str>, jti: Option<&str>) -> Result<(), AuthError> {
        let revoked = self.read();
        let client_gone = client.is_some_and(|c| revoked.deleted_clients.contains_key(c));
        let token_gone = jti.is_some_and(|j| revoked.tokens.contains_key(j));
        if client_gone || token_gone {
            return Err(AuthError::Token(TokenProblem::Blacklisted));
        }
        Ok(())
    }

    /// Forgets entries whose tokens have all expired.
    pub fn prune(&self, now: i64) {
        let mut revoked = self.write();
        revoked.sessions.retain(|_, until| *until > now);
        revoked.users_before.retain(|_, (_, until)| *until > now);
        revoked.deleted.retain(|_, until| *until > now);
        revoked.deleted_clients.retain(|_, until| *until > now);
        revoked.tokens.retain(|_, until| *until > now);
    }

    /// Changes whenever log entries are applied (to the id of the last one applied).
    pub fn watch(&self) -> tokio::sync::watch::Receiver<i64> {
        self.grown.subscribe()
    }

    /// Number of revoked sessions held (for metrics and memory measurements).
    pub fn revoked_sessions(&self) -> usize {
        self.read().sessions.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Revoked> {
        self.revoked.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Revoked> {
        self.revoked.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SessionId;

    fn entry(id: i64, kind: RevocationKind) -> Revocation {
        Revocation {
            id,
            kind,
            expires_at: 1_000,
        }
    }

    #[test]
    fn session_keys_are_compact_and_exact() {
        let ours = "0123456789abcdef0123456789abcdef";
        assert!(matches!(SessionKey::of(ours), SessionKey::Bytes(_)));
        assert_ne!(
            SessionKey::of(ours),
            SessionKey::of("0123456789abcdef0123456789abcdee")
        );
        assert!(matches!(
            SessionKey::of("0123456789ABCDEF0123456789ABCDEF"),
            SessionKey::Text(_)
        ));
        assert!(matches!(SessionKey::of("s1"), SessionKey::Text(_)));
    }

    #[test]
    fn sessions_users_and_expiry() {
        let state = RevocationState::default();
        let ann = UserId(1);
        assert!(state.check(ann, Some("s1"), 10).is_ok());
        state.apply(&entry(1, RevocationKind::Session(SessionId("s1".into()))));
        assert!(matches!(
            state.check(ann, Some("s1"), 10),
            Err(AuthError::Token(TokenProblem::Blacklisted))
        ));
        assert!(state.check(ann, Some("s2"), 10).is_ok());

        state.apply(&entry(
            2,
            RevocationKind::UserTokensBefore {
                user: ann,
                before: 50,
            },
        ));
        assert!(state.check(ann, None, 49).is_err());
        assert!(
            state.check(ann, None, 50).is_err(),
            "a token issued in the cut-off's second is revoked"
        );
        assert!(state.check(ann, None, 51).is_ok());
        assert!(
            state.check(ann, Some("s3"), 10).is_ok(),
            "sid tokens are revoked by sid only"
        );

        state.apply(&entry(3, RevocationKind::UserDisabled(ann)));
        assert!(matches!(
            state.check(ann, Some("s3"), 10),
            Err(AuthError::UserInactive)
        ));
        state.apply(&entry(4, RevocationKind::UserEnabled(ann)));
        assert!(state.check(ann, Some("s3"), 10).is_ok());
        state.apply(&entry(5, RevocationKind::UserDeleted(ann)));
        assert!(matches!(
            state.check(ann, Some("s3"), 10),
            Err(AuthError::UserNotFound)
        ));

        state.prune(1_000);
        assert_eq!(state.revoked_sessions(), 0);
        assert!(state.check(ann, Some("s1"), 10).is_ok());
    }
}
