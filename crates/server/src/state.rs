//! Shared state of the HTTP layer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_auth::{AuthError, AuthService, Clock, RevocationBus};

/// Opt-in browser mode: the refresh token travels in an `HttpOnly` cookie.
#[derive(Clone, Debug)]
pub struct BrowserMode {
    /// Cookie name.
    pub cookie_name: String,
    /// Whether to mark the cookie `Secure` (only turn off for plain-HTTP development).
    pub secure: bool,
    /// Origins whose cookie-authenticated requests are accepted without the CSRF header.
    pub allowed_origins: Vec<String>,
}

/// Where users' access tokens are presented (simplejwt's `AUTH_HEADER_NAME` and
/// `AUTH_HEADER_TYPES`): by default `Authorization: Bearer <token>`. OAuth clients' tokens (scope
/// guards, the revocation feed) always use RFC 6750's `Authorization: Bearer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHeader {
    /// The header.
    pub name: axum::http::HeaderName,
    /// The accepted first words; the first one is named in `WWW-Authenticate`.
    pub types: Vec<String>,
}

impl Default for AuthHeader {
    fn default() -> Self {
        AuthHeader {
            name: axum::http::header::AUTHORIZATION,
            types: vec!["Bearer".into()],
        }
    }
}

impl AuthHeader {
    /// The `WWW-Authenticate` challenge of a 401, as simplejwt words it.
    pub fn challenge(&self) -> String {
        let scheme = self.types.first().map_or("Bearer", String::as_str);
        format!("{scheme} realm=\"api\"")
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The domain service: every rule, and the in-memory state.
    pub auth: Arc<AuthService>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Browser mode, when enabled.
    pub browser: Option<BrowserMode>,
    /// The revocation broadcast, if any, and how the instance keeps its revocation state current.
    pub feed: Arc<FeedStatus>,
    /// The secret that reads the revocation feed, if one is set.
    pub feed_token: Option<crate::feed::FeedToken>,
    /// Refuse access tokens when the revocation state is older than this (see
    /// [`AppState::revocations_fresh`]); `None` never refuses.
    pub max_staleness: Option<Duration>,
    /// Prometheus metrics, when a metrics listener is configured.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Where users present their access tokens.
    pub auth_header: AuthHeader,
}

impl AppState {
    /// Fails with 503 when revocations have not been synced for longer than `max_staleness`: an
    /// instance cut off from the database (while others can still write to it) cannot know what
    /// was revoked meanwhile.
    pub fn revocations_fresh(&self) -> Result<(), AuthError> {
        let Some(max) = self.max_staleness else {
            return Ok(());
        };
        let limit_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        match self.feed.sync_age_ms() {
            Some(age) if age <= limit_ms => Ok(()),
            age_ms => Err(AuthError::RevocationsStale { age_ms, limit_ms }),
        }
    }
}

/// How current this instance's revocation state is, for `/readyz`.
pub struct FeedStatus {
    /// The broadcast in use (`redis`, `postgres`), or none (polling only).
    pub bus: Option<Arc<dyn RevocationBus>>,
    listening: AtomicBool,
    bus_error: Mutex<Option<String>>,
    /// The clock `last_sync_ms` is read from (its monotonic time).
    clock: Arc<dyn Clock>,
    /// When the last successful sync with the database finished, in ms after `started`, plus one
    /// (0: never). An atomic, because requests read it when `max_staleness` is set.
    last_sync_ms: AtomicU64,
    sync_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for FeedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedStatus")
            .field("feed", &self.describe())
            .finish_non_exhaustive()
    }
}

impl FeedStatus {
    /// A status for `bus`, timed by `clock`.
    pub fn new(bus: Option<Arc<dyn RevocationBus>>, clock: Arc<dyn Clock>) -> FeedStatus {
        FeedStatus {
            bus,
            listening: AtomicBool::new(false),
            bus_error: Mutex::new(None),
            clock,
            last_sync_ms: AtomicU64::new(0),
            sync_error: Mutex::new(None),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.clock.monotonic().as_millis()).unwrap_or(u64::MAX)
    }

    /// Milliseconds since the last successful sync, if there was one.
    pub fn sync_age_ms(&self) -> Option<u64> {
        match self.last_sync_ms.load(Ordering::Acquire) {
            0 => None,
            at => Some(self.elapsed_ms().saturating_sub(at - 1)),
        }
    }

    /// The subscription is up.
    pub fn listening(&self) {
        self.listening.store(true, Ordering::Release);
        *self.bus_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The subscription broke.
    pub fn bus_down(&self, why: String) {
        self.listening.store(false, Ordering::Release);
        *self.bus_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// A sync with the database finished.
    pub fn synced(&self, outcome: Result<(), String>) {
        if outcome.is_ok() {
            self.last_sync_ms
                .store(self.elapsed_ms().saturating_add(1), Ordering::Release);
        }
        *self.sync_error.lock().unwrap_or_else(|e| e.into_inner()) = outcome.err();
    }

    /// Whether announcements are arriving (else the instance relies on polling).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// `/readyz`'s description: `redis`, `postgres`, or `polling` with the reason.
    pub fn describe(&self) -> String {
        match &self.bus {
            Some(bus) if self.is_listening() => format!("{} (listening)", bus.name()),
            Some(bus) => {
                let why = self
                    .bus_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_else(|| "not connected yet".into());
                format!("polling ({} down: {why})", bus.name())
            }
            None => "polling".into(),
        }
    }

    /// Milliseconds since the last successful sync, and the last sync error if the last one failed.
    pub fn sync_age(&self) -> (Option<u64>, Option<String>) {
        let age = self.sync_age_ms();
        let error = self
            .sync_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (age, error)
    }
}
