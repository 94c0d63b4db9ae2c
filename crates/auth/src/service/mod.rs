//! The domain's one entry point, [`AuthService`]: every rule about users, sessions, tokens and keys
//! is applied here, and every write leaves this instance's in-memory state (revocations, keys,
//! caches) current before it returns. Callers (the HTTP handlers, the CLI) only translate.
//!
//! Split by concern: [`verify`] (the synchronous path every request takes), [`flows`] (login,
//! refresh, logout, sessions, passwords), [`users`] (administration) and [`keys`] (rotation).

mod clients;
mod feed;
mod flows;
mod keys;
mod oauth;
mod sliding;
#[cfg(test)]
mod tests;
mod users;
mod verify;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use crate::audit::{AuditEvent, AuditFilter, AuditRecord};
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::ids::SessionId;
use crate::keyring::KeyRing;
use crate::password::PasswordHasher;
use crate::revocation::RevocationState;
use crate::store::{FlushStats, RevocationBus, Store, User};
use crate::throttle::{LoginThrottle, ThrottleConfig};
use tessera_jwt::Validation;
use tessera_jwt::{BoundedCache, TokenTailHasher};

use crate::counters::Counters;

pub use clients::{Grant, IssuedClient};
pub use feed::{FeedEntry, Revoked};
pub use flows::{LoginContext, RefreshOutcome, TokenPair};
pub use keys::KeyStatus;
pub use oauth::{Introspection, OAuthTokens};
pub use sliding::SlidingToken;
pub use users::{NewAccount, UserChange};
pub use verify::{Bearer, VerifiedAccess, VerifiedClientAccess};

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

/// What a serving instance holds in memory so that verifying an access token needs no storage:
/// the keys, the revocations, and caches.
struct Live {
    keys: KeyRing,
    revocations: RevocationState,
    validation: Validation,
    /// Access tokens already verified, by their exact text: asymmetric verification costs ~50x an
    /// HMAC, and a client presents the same token many times. Expiry and revocation are still
    /// checked on every hit.
    verified: BoundedCache<Box<str>, Arc<VerifiedAccess>, TokenTailHasher>,
    /// Users read in the current second, so `/api/me/` does not query storage on every request.
    profiles: BoundedCache<i64, (Arc<User>, i64)>,
    /// When keys were last reloaded because a token named an unknown key id (Unix seconds).
    last_key_reload: AtomicI64,
}

/// The domain service. Cheap to share behind an `Arc`.
///
/// Started ([`Builder::start`]) it serves: it holds keys and revocations in memory. Opened for
/// administration ([`Builder::administer`], the CLI's case) it only changes stored data and
/// announces revocations; what needs the in-memory state answers [`AuthError::Internal`].
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    announcer: Announcer,
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    live: Option<Live>,
    counters: Counters,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("config", &self.config)
            .field("serving", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

/// Assembles an [`AuthService`].
pub struct Builder {
    store: Arc<dyn Store>,
    config: AuthConfig,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    throttle: Option<LoginThrottle>,
    bus: Option<Arc<dyn RevocationBus>>,
    operator_key: Option<tessera_jwt::SigningKey>,
}

impl Builder {
    /// Counts failed logins with `throttle` (default: in this process, default limits).
    pub fn throttle(mut self, throttle: LoginThrottle) -> Builder {
        self.throttle = Some(throttle);
        self
    }

    /// Announces this instance's revocations on `bus`, so other instances apply them at once
    /// instead of at their next poll.
    pub fn bus(mut self, bus: Option<Arc<dyn RevocationBus>>) -> Builder {
        self.bus = bus;
        self
    }

    /// Signs with `key` instead of the stored keys (which still verify).
    pub fn operator_key(mut self, key: Option<tessera_jwt::SigningKey>) -> Builder {
        self.operator_key = key;
        self
    }

    fn assemble(self, live: Option<Live>) -> AuthService {
        AuthService {
            store: self.store,
            hasher: self.hasher,
            throttle: self
                .throttle
                .unwrap_or_else(|| LoginThrottle::new(ThrottleConfig::default())),
            announcer: Announcer(self.bus),
            config: self.config,
            clock: self.clock,
            live,
            counters: Counters::default(),
        }
    }

    /// A serving instance: loads the keys (generating the first one if there is none) and the
    /// revocation state.
    pub async fn start(self) -> Result<AuthService, AuthError> {
        let now = self.clock.now();
        let keys = KeyRing::load(
            self.store.as_ref(),
            &self.config,
            self.operator_key.clone(),
            now,
        )
        .await?;
        let revocations = RevocationState::load(self.store.as_ref(), now).await?;
        let live = Live {
            keys,
            revocations,
            validation: crate::tokens::validation(&self.config),
            verified: BoundedCache::with_hasher(
                self.config.verified_token_cache,
                TokenTailHasher::default(),
            ),
            profiles: BoundedCache::new(self.config.verified_token_cache),
            last_key_reload: AtomicI64::new(i64::MIN),
        };
        Ok(self.assemble(Some(live)))
    }

    /// Administration only (the CLI): reads and changes stored data, announces revocations, and
    /// loads no keys and no revocation state.
    pub fn administer(self) -> AuthService {
        self.assemble(None)
    }
}

impl AuthService {
    /// Starts assembling a service over `store`.
    pub fn builder(
        store: Arc<dyn Store>,
        config: AuthConfig,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
    ) -> Builder {
        Builder {
            store,
            config,
            hasher,
            clock,
            throttle: None,
            bus: None,
            operator_key: None,
        }
    }

    /// Now, by the injected clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The store's connection pool, for metrics.
    pub fn pool_connections(&self) -> Option<crate::store::PoolConnections> {
        self.store.pool_connections()
    }

    /// What this instance did, counted (for metrics).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn live(&self) -> Result<&Live, AuthError> {
        self.live.as_ref().ok_or_else(|| {
            AuthError::Internal("this service was opened for administration only".into())
        })
    }

    /// Picks up changes made elsewhere (CLI, other instances): new revocations and key rotations;
    /// forgets what has expired.
    pub async fn sync(&self) -> Result<(), AuthError> {
        let live = self.live()?;
        let now = self.now();
        live.revocations.catch_up(self.store.as_ref(), now).await?;
        live.revocations.prune(now);
        live.keys.reload(self.store.as_ref(), now).await?;
        Ok(())
    }

    /// After a write that logged revocations: this instance applies them before the caller is
    /// answered, and the others are told.
    async fn revocations_written(&self) -> Result<(), AuthError> {
        if let Some(live) = &self.live {
            live.revocations
                .catch_up(self.store.as_ref(), self.now())
                .await?;
        }
        self.announcer.announce().await;
        Ok(())
    }

    /// After a change to a user's record: this instance forgets what it remembered of them.
    fn user_changed(&self, id: crate::ids::UserId) {
        if let Some(live) = &self.live {
            live.profiles.remove(&id.0);
        }
    }

    /// Which token classes authenticate requests.
    pub fn token_classes(&self) -> crate::tokens::TokenClasses {
        self.config.token_classes
    }

    /// One round trip to storage, for readiness checks.
    pub async fn ping(&self) -> Result<(), AuthError> {
        Ok(self.store.ping().await?)
    }

    /// Deletes what has expired: refresh tokens, sessions, revocation entries, retired keys, and
    /// audit events older than `audit_retention`.
    pub async fn flush_expired(&self) -> Result<FlushStats, AuthError> {
        let now = self.now();
        let mut stats = self.store.flush_expired(now).await?;
        stats.audit_events = self
            .store
            .delete_audit_before(now.saturating_sub(self.config.audit_retention))
            .await?;
        Ok(stats)
    }

    /// Audit events `filter` selects, newest first (or oldest first), with how many there are.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        newest_first: bool,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<AuditRecord>), AuthError> {
        Ok(self
            .store
            .audit_events(filter, newest_first, limit, offset)
            .await?)
    }

    /// One structured log line per audit event, once it is stored.
    fn log_audit(&self, events: &[AuditEvent]) {
        for event in events {
            let subject = event.subject.as_ref();
            tracing::info!(
                target: "tessera::audit",
                event = event.kind.name(),
                actor_type = ?event.actor.kind,
                actor_id = event.actor.id.as_deref(),
                subject_id = subject.map(|s| s.id.0),
                subject = subject.map(|s| s.username.as_str()),
                session = event.session.as_ref().map(SessionId::as_str),
                ip = event.ip.as_deref(),
                user_agent = event.user_agent.as_deref(),
                detail = %serde_json::Value::Object(event.detail.clone()),
                "audit"
            );
        }
    }

    /// Stores events that record no change of their own (a refused login, a refresh that rotates
    /// nothing), and logs them. A failure to store them is logged, not returned: the call they
    /// describe has already been decided.
    async fn append_audit(&self, events: &[AuditEvent]) {
        match self.store.append_audit(events).await {
            Ok(()) => self.log_audit(events),
            Err(error) => tracing::warn!(%error, "writing audit events failed"),
        }
    }

    /// `event` about user `id`, named as stored now (deleted users: no subject).
    async fn about(
        &self,
        event: AuditEvent,
        id: crate::ids::UserId,
    ) -> Result<AuditEvent, AuthError> {
        Ok(match self.store.user_by_id(id).await? {
            Some(user) => event.about(id, &user.username),
            None => event,
        })
    }

    /// How long any token we issue can stay valid: the horizon for keeping revocations.
    fn log_until(&self, now: i64) -> i64 {
        now.saturating_add(self.config.longest_token_lifetime())
    }
}
