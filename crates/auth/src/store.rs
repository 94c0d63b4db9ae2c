//! Storage traits. They name no database: `tessera-store` implements them for SQLite (and
//! PostgreSQL), and the conformance suite in that crate checks every backend against them.
//!
//! Times are Unix seconds from the caller's [`crate::Clock`]; a store never reads the clock itself.
//! Every method that changes state commits before it returns.

use async_trait::async_trait;

pub use crate::audit::{AuditEvent, AuditFilter, AuditRecord};
use crate::ids::{SessionId, UserId};

/// The underlying error a [`StoreError`] keeps as its source.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a storage call failed, split by what the caller can do about it. Backends convert their
/// driver's errors in one place each, keeping the driver's error as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint was violated; says which.
    #[error("{0} already exists")]
    Conflict(Conflict),
    /// The backend is unreachable, busy or timed out: the caller should answer 503.
    #[error("storage unavailable: {what}")]
    Unavailable {
        /// What could not be done.
        what: String,
        /// The driver's error, when there is one.
        #[source]
        cause: Option<Cause>,
    },
    /// Anything else the backend reported; a bug or corruption on our side.
    #[error("storage failure: {what}")]
    Internal {
        /// What failed.
        what: String,
        /// The driver's error, when there is one.
        #[source]
        cause: Option<Cause>,
    },
}

impl StoreError {
    /// The backend cannot be reached now, because of `cause`.
    pub fn unavailable(what: impl Into<String>, cause: impl Into<Cause>) -> StoreError {
        StoreError::Unavailable {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// The backend cannot be reached now; no underlying error to keep.
    pub fn unavailable_because(what: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            what: what.into(),
            cause: None,
        }
    }

    /// The backend failed, because of `cause`.
    pub fn internal(what: impl Into<String>, cause: impl Into<Cause>) -> StoreError {
        StoreError::Internal {
            what: what.into(),
            cause: Some(cause.into()),
        }
    }

    /// The backend failed; no underlying error to keep.
    pub fn internal_because(what: impl Into<String>) -> StoreError {
        StoreError::Internal {
            what: what.into(),
            cause: None,
        }
    }

    /// Whether the backend is unreachable (as opposed to refusing or failing the call).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// What a unique constraint protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// A user with that username.
    Username,
    /// A signing key with that id.
    KeyId,
    /// An OAuth client with that name.
    ClientName,
    /// Another unique value.
    Other,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conflict::Username => "a user with that username",
            Conflict::KeyId => "a signing key with that id",
            Conflict::ClientName => "a client with that name",
            Conflict::Other => "a row with that unique value",
        })
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Integer id: from 1, increasing in creation order, never reused (gaps are possible).
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Disabled users cannot log in or refresh, and their access tokens are refused.
    pub is_active: bool,
    /// Creation time.
    pub created_at: i64,
    /// The last successful login, recorded when `update_last_login` is on (simplejwt's
    /// `UPDATE_LAST_LOGIN`).
    pub last_login: Option<i64>,
    /// Role names, carried in access tokens as `roles` (and `role` when there is one).
    pub roles: Vec<String>,
    /// Custom claims (profile data such as `name` or `email`) carried in access tokens.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// What it takes to create a user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Custom claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A user as `tessera import django` writes them: created with their Django id, or updated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedUser {
    /// The Django user's id, kept so existing tokens' `user_id` still names the same person.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Custom claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The password to store; `None` keeps the stored one (Django's is unchanged since the last
    /// import, so a re-hash or a change made in Tessera stays).
    pub password: Option<ImportedPassword>,
}

/// A password taken from Django.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedPassword {
    /// What Tessera stores: Django's hash as it is, or an unusable `!` for a format it cannot verify.
    pub hash: String,
    /// SHA-256 of Django's hash, remembered to tell whether it changed by the next import.
    pub source_digest: [u8; 32],
}

/// A login session: the chain of refresh tokens started by one login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The `sid` claim of every token in the session.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Login time.
    pub created_at: i64,
    /// Time of the last login or refresh.
    pub last_used_at: i64,
    /// Absolute end of the session: no refresh token outlives it.
    pub expires_at: i64,
    /// `User-Agent` of the login request.
    pub user_agent: Option<String>,
    /// Client IP of the login request.
    pub ip: Option<String>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A refresh token as stored: never the token itself, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the compact token.
    pub token_hash: [u8; 32],
    /// The token's `jti`.
    pub jti: String,
    /// Session it belongs to.
    pub session_id: SessionId,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry (`exp`).
    pub expires_at: i64,
}

/// Where a refresh token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshState {
    /// Usable.
    Active,
    /// Exchanged for a newer token at the given time.
    Rotated {
        /// When it was rotated.
        at: i64,
    },
    /// Its session was revoked.
    Revoked,
}

/// A stored refresh token and its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRefresh {
    /// The record.
    pub record: RefreshRecord,
    /// Its state.
    pub state: RefreshState,
    /// For a rotated token: whether its successor is the session's current token (the token is the
    /// immediate predecessor).
    pub successor_is_current: bool,
    /// For a rotated token: the hash of the token that replaced it.
    pub replaced_by: Option<[u8; 32]>,
}

/// Result of an atomic rotation attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was active and is now rotated; the new one is stored.
    Rotated,
    /// The old token was not active (already rotated, revoked or unknown); nothing changed.
    NotActive(Option<StoredRefresh>),
}

/// What a revocation event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationKind {
    /// Every token of this session is revoked.
    Session(SessionId),
    /// Tokens of this user without a `sid` issued at or before `before` are revoked.
    UserTokensBefore {
        /// The user.
        user: UserId,
        /// Tokens with `iat` at or before this are revoked.
        before: i64,
    },
    /// The user was disabled.
    UserDisabled(UserId),
    /// The user was enabled again.
    UserEnabled(UserId),
    /// The user was deleted.
    UserDeleted(UserId),
    /// The OAuth client was deleted: every token issued to it is refused.
    ClientDeleted(String),
    /// One access token, by its `jti` (a client's own token has no session to end).
    Token(String),
}

/// One entry of the revocation log, which every server instance replays into memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Position in the log (increasing).
    pub id: i64,
    /// What happened.
    pub kind: RevocationKind,
    /// When the entry stops mattering (every token it covers has expired).
    pub expires_at: i64,
}

/// A signing key's public facts: all that the periodic sync reads (and compares) to notice a
/// rotation. The private half is read only when a key is loaded ([`KeyStore::private_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm name.
    pub alg: String,
    /// When it starts signing (rotated-in keys may be published before that).
    pub created_at: i64,
    /// When it stopped signing (a newer key took over), if it did.
    pub retired_at: Option<i64>,
    /// When it leaves the verification set: after the last token it signed has expired.
    pub expires_at: Option<i64>,
}

/// A signing key's private JWK as stored: sealed with the master key (`sealed:v1:...`), or plain
/// JSON when none is configured. Zeroized on drop and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateJwk(zeroize::Zeroizing<String>);

impl PrivateJwk {
    /// Wraps stored text.
    pub fn new(text: impl Into<String>) -> PrivateJwk {
        PrivateJwk(zeroize::Zeroizing::new(text.into()))
    }

    /// The stored text, for the store to write and the key ring to open.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateJwk(..)")
    }
}

/// An OAuth 2.0 client (RFC 6749 §2): confidential, authenticated by its id and a secret stored
/// only as a SHA-256 hash (secrets are 256 random bits: a slow hash would add nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// `client_id`: random, URL-safe.
    pub id: String,
    /// A unique label chosen by the operator.
    pub name: String,
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Grant types the client may use (`client_credentials`, `password`, `refresh_token`).
    pub grants: Vec<String>,
    /// Registration time.
    pub created_at: i64,
}

/// Counts from a sweep of expired rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Refresh tokens removed.
    pub refresh_tokens: u64,
    /// Sessions removed.
    pub sessions: u64,
    /// Revocation log entries removed.
    pub revocations: u64,
    /// Keys removed.
    pub keys: u64,
    /// Audit events removed (past `audit_retention`).
    pub audit_events: u64,
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user with the next id; [`StoreError::Conflict`] if the name is taken. Events in
    /// `audit` about nobody are made about the new user.
    async fn create_user(
        &self,
        user: &NewUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<User, StoreError>;
    /// Looks a user up by name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// All users, by id.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// A page of users by id, and the total count.
    async fn users_page(&self, limit: u64, offset: u64) -> Result<(u64, Vec<User>), StoreError>;
    /// Replaces the roles and/or the custom claims (those given). False if there is no such user.
    async fn set_roles_and_claims(
        &self,
        id: UserId,
        roles: Option<&[String]>,
        claims: Option<&serde_json::Map<String, serde_json::Value>>,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Ids of disabled users.
    async fn inactive_user_ids(&self) -> Result<Vec<UserId>, StoreError>;
    /// Enables or disables; logs `UserDisabled`/`UserEnabled` (kept until `log_expires_at`) in the
    /// same transaction. False if there is no such user.
    async fn set_user_active(
        &self,
        id: UserId,
        active: bool,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Replaces the password hash. False if there is no such user.
    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Replaces the password hash only if it is still `expected` (a re-hash after login must not
    /// undo a password change made meanwhile). False if it was not.
    async fn upgrade_password_hash(
        &self,
        id: UserId,
        expected: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes the user with its sessions and refresh tokens, logging `UserDeleted` in the same
    /// transaction. False if there is no such user.
    async fn delete_user(
        &self,
        id: UserId,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Records a successful login at `now`.
    async fn record_login(&self, id: UserId, now: i64) -> Result<(), StoreError>;
    /// Every user ever imported from Django (deleted ones too), with the digest of their Django
    /// password hash as last imported.
    async fn django_imports(&self) -> Result<Vec<(UserId, [u8; 32])>, StoreError>;
    /// Creates `user` with its own id (later ids continue after it) or overwrites its fields, and
    /// records the import, in one transaction. `is_active` is written as given: disabling a user
    /// that has sessions goes through [`UserStore::set_user_active`] first, which logs it.
    /// [`StoreError::Conflict`] if another user has the name.
    async fn save_imported_user(
        &self,
        user: &ImportedUser,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
}

/// Sessions, refresh tokens and the revocation log.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session with its first refresh token (none for a sliding token's session).
    async fn create_session(
        &self,
        session: &Session,
        first: Option<&RefreshRecord>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    /// One session (revoked ones included).
    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    /// The user's sessions that are neither revoked nor past their absolute expiry at `now`.
    async fn active_sessions(&self, user: UserId, now: i64) -> Result<Vec<Session>, StoreError>;
    /// A refresh token by the hash of the token.
    async fn refresh_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<StoredRefresh>, StoreError>;
    /// Atomically: if `old_hash` is active, mark it rotated at `now`, store `new` as the session's
    /// current token and set the session's `last_used_at`. Of concurrent calls with one `old_hash`,
    /// exactly one sees [`RotateOutcome::Rotated`].
    async fn rotate_refresh(
        &self,
        old_hash: &[u8; 32],
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<RotateOutcome, StoreError>;
    /// Adds `new` to the session without retiring any other token (rotation without blacklisting).
    async fn add_refresh(
        &self,
        new: &RefreshRecord,
        now: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    /// Revokes sessions and their refresh tokens, and logs a `Session` revocation for each (kept
    /// until `log_expires_at`), in one transaction. Returns the sessions that were active.
    async fn revoke_sessions(
        &self,
        ids: &[SessionId],
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError>;
    /// Revokes every active session of `user` except `keep`, and logs a `UserTokensBefore { before:
    /// now }` entry for tokens without `sid`, in one transaction. Returns the revoked sessions.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&SessionId>,
        now: i64,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<Vec<SessionId>, StoreError>;
    /// At most `limit` log entries after `after_id` that have not expired at `now`, in order: a
    /// large log is replayed in pages rather than held in memory at once.
    async fn revocations_page(
        &self,
        after_id: i64,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Revocation>, StoreError>;
    /// Logs `Token(jti)`: that one access token is refused until `log_expires_at` (its expiry).
    async fn revoke_access_token(&self, jti: &str, log_expires_at: i64) -> Result<(), StoreError>;
    /// Deletes what expired before `now`: refresh tokens, sessions past their absolute expiry (or
    /// revoked and past every token), log entries, and keys that left the verification set.
    async fn flush_expired(&self, now: i64) -> Result<FlushStats, StoreError>;
}

/// Signing keys shared by every instance.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every stored key's public facts, oldest first (by `created_at`, then `kid`). Cheap: the
    /// periodic sync calls it.
    async fn keys(&self) -> Result<Vec<KeyInfo>, StoreError>;
    /// The private half of key `kid`, read only when the key is (re)loaded.
    async fn private_key(&self, kid: &str) -> Result<Option<PrivateJwk>, StoreError>;
    /// Stores `key` as the new signing key and retires every other unretired key at `key.created_at`
    /// with `expires_at = retired_keys_expire_at`, in one transaction.
    async fn rotate_in(
        &self,
        key: &KeyInfo,
        private: &PrivateJwk,
        retired_keys_expire_at: i64,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
}

/// OAuth clients. Reads go to storage every time, so every instance sees a change at once.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers `client`; [`StoreError::Conflict`] with [`Conflict::ClientName`] if the name is
    /// taken.
    async fn create_client(&self, client: &Client, audit: &[AuditEvent]) -> Result<(), StoreError>;
    /// A client by `client_id`.
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError>;
    /// A client by name.
    async fn client_by_name(&self, name: &str) -> Result<Option<Client>, StoreError>;
    /// Every client, by name.
    async fn clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces the secret's hash. False if there is no such client.
    async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &[u8; 32],
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// Deletes the client and logs `ClientDeleted` (kept until `log_expires_at`) in the same
    /// transaction. False if there is no such client.
    async fn delete_client(
        &self,
        id: &str,
        log_expires_at: i64,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
}

/// The security audit log. Events recording a change are written by the change's own method (its
/// `audit` argument), in its transaction; these are for the rest.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends events that record no change of their own (a refused login, say).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// The events `filter` selects, newest first (or oldest first), `limit` of them from
    /// `offset`, with how many it selects in all.
    async fn audit_events(
        &self,
        filter: &AuditFilter,
        newest_first: bool,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<AuditRecord>), StoreError>;
    /// Deletes the events from before `before`; how many went.
    async fn delete_audit_before(&self, before: i64) -> Result<u64, StoreError>;
}

/// Everything the domain needs from storage.
#[async_trait]
pub trait Store: UserStore + SessionStore + KeyStore + ClientStore + AuditStore {
    /// Cheap liveness check for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's state, for metrics; `None` for a store without one.
    fn pool_connections(&self) -> Option<PoolConnections> {
        None
    }
}

/// How a store's connection pool stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConnections {
    /// Connections lent out.
    pub in_use: u32,
    /// Connections open and waiting.
    pub idle: u32,
}

impl PoolConnections {
    /// From a pool's total size and idle count.
    pub fn of(size: u32, idle: usize) -> PoolConnections {
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        PoolConnections {
            in_use: size - idle,
            idle,
        }
    }
}

/// Tells the other instances that the revocation log has grown, and hears them say so. It carries
/// no revocation itself: the log in the [`Store`] stays the only record, so an announcement lost
/// to a broken connection costs only latency (the periodic poll still finds the entry).
#[async_trait]
pub trait RevocationBus: Send + Sync {
    /// What carries the announcements, for `/readyz` and logs (`redis`, `postgres`).
    fn name(&self) -> &'static str;
    /// Announces new log entries, after they are committed.
    async fn announce(&self) -> Result<(), StoreError>;
    /// One round trip to whatever carries the announcements, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Subscribes, calls `heard` once subscribed (anything may have been missed before) and then on
    /// every announcement; returns only when the subscription breaks, with why.
    async fn listen(&self, heard: &(dyn Fn() + Send + Sync)) -> StoreError;
}

/// One sliding-window counter an attempt is checked against: its key and how many attempts it
/// holds within the window before the next is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// Key, e.g. `u:ann` or `i:203.0.113.9`.
    pub key: String,
    /// Attempts allowed within the window.
    pub limit: usize,
}

/// Failed-login counters (see [`crate::LoginThrottle`]): kept in one process, or shared by every
/// instance (Redis).
///
/// An attempt is counted *before* its password is checked, as in flight, so that a burst of
/// concurrent guesses cannot all pass the check before any is recorded. When the check is done the
/// attempt is settled: a failure is recorded, a success forgotten.
#[async_trait]
pub trait FailureLog: Send + Sync {
    /// Atomically: if any of `counters` holds `limit` or more failures within `window` seconds
    /// before `at` and attempts in flight together, records nothing and returns the seconds to
    /// wait (until the oldest relevant failure leaves the window; 1 when attempts in flight fill
    /// it); otherwise records `attempt` (a unique id) as in flight under every counter and returns
    /// `None`. An attempt in flight for [`IN_FLIGHT_SECONDS`] is forgotten (its instance died).
    async fn admit(
        &self,
        counters: &[Counter],
        attempt: &str,
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// What [`FailureLog::admit`] would answer, recording nothing: for attempts that are not held
    /// in flight (whose failures alone count).
    async fn check(
        &self,
        counters: &[Counter],
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// Ends `attempt`: no longer in flight; when it `failed`, a failure at `at` under every counter
    /// (kept for `window` seconds, at most `limit` of them).
    async fn settle(
        &self,
        counters: &[Counter],
        attempt: &str,
        failed: bool,
        at: i64,
        window: i64,
    ) -> Result<(), StoreError>;
}

/// Longest time a login attempt is counted as in flight without being settled.
pub const IN_FLIGHT_SECONDS: i64 = 60;
