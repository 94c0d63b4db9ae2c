//! The guard: configuration, background tasks, and the per-request decision.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use tessera_clock::{Clock, SystemClock};
use tessera_jwt::{BoundedCache, Error as JwtError, TokenTailHasher, UntrustedToken, Validation};
use zeroize::Zeroizing;

use crate::error::{ConfigError, Rejection, TokenProblem, Unavailable};
use crate::feed::{FeedStatus, Subscription};
use crate::http::Http;
use crate::issuer::Issuer;
use crate::keys::{KeyPolicy, RemoteKeys};
use crate::revocations::Revocations;
use crate::token::AccessToken;

/// Configures and starts a [`Guard`]; every setting has a default but the issuer.
#[must_use = "a builder does nothing until `start` is called"]
pub struct GuardBuilder {
    issuer: String,
    audience: Option<String>,
    require_issuer_claim: bool,
    allow_plain_http: bool,
    leeway: u64,
    feed_token: Option<Zeroizing<String>>,
    max_staleness: Option<Duration>,
    keys: KeyPolicy,
    timeout: Duration,
    max_response_bytes: usize,
    revocation_capacity: usize,
    verified_cache: usize,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for GuardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The feed token is a secret: only whether there is one.
        f.debug_struct("GuardBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("feed_token", &self.feed_token.as_ref().map(|_| ".."))
            .field("max_staleness", &self.max_staleness)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl GuardBuilder {
    /// Requires `aud` to name `audience` (default: tokens carrying any `aud` are refused, RFC 7519
    /// §4.1.3).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Refuses tokens without `iss` (default: a token without `iss` is accepted, since
    /// simplejwt-style issuers write none unless configured; one with `iss` must name the issuer).
    pub fn require_issuer_claim(mut self) -> Self {
        self.require_issuer_claim = true;
        self
    }

    /// Allows plain `http` to a host that is not loopback (default: refused).
    pub fn allow_plain_http(mut self) -> Self {
        self.allow_plain_http = true;
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 0, like Tessera).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Subscribes to Tessera's revocation feed with this token: the server's
    /// `revocation_feed_token`. (An OAuth access token with scope `tessera:revocations` reads the
    /// feed too, but expires, and the guard does not renew it.)
    pub fn feed_token(mut self, token: impl Into<String>) -> Self {
        self.feed_token = Some(Zeroizing::new(token.into()));
        self
    }

    /// With a feed: answer 503 once cut off from it for longer than `span`, and before it first
    /// caught up (default: never). A live stream that falls silent counts as cut off 20 s after its
    /// last byte (Tessera sends a keep-alive every 15 s).
    pub fn max_staleness(mut self, span: Duration) -> Self {
        self.max_staleness = Some(span);
        self
    }

    /// Bounds on how long a key set is cached, whatever its `Cache-Control` says (default 30 s to
    /// 1 h).
    pub fn key_cache_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.keys.min_age = min;
        self.keys.max_age = max;
        self
    }

    /// Least time between two key set fetches caused by unknown key ids (default 5 s).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.keys.cooldown = cooldown;
        self
    }

    /// Time limit of each request to the issuer (default 5 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Size limit of the metadata and key set responses (default 256 KiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Most revocations held at once (default 1,000,000); past it the guard answers 503 rather
    /// than forget one.
    pub fn revocation_capacity(mut self, entries: usize) -> Self {
        self.revocation_capacity = entries;
        self
    }

    /// Most verified tokens remembered by their text (default 100,000; 0 turns it off).
    pub fn verified_cache(mut self, tokens: usize) -> Self {
        self.verified_cache = tokens;
        self
    }

    /// The clock (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the configuration, fetches the issuer's keys once (a failure is logged and retried
    /// in the background: the guard answers 503 until keys arrive) and starts the background
    /// tasks: key refresh, and the revocation feed when a token was given. They stop when the
    /// last clone of the guard is dropped. Must be called within a tokio runtime.
    pub async fn start(self) -> Result<Guard, ConfigError> {
        let setting = |setting, reason| ConfigError::Setting { setting, reason };
        if self.keys.min_age > self.keys.max_age {
            return Err(setting(
                "key_cache_bounds",
                "the minimum is above the maximum",
            ));
        }
        if self.timeout.is_zero() {
            return Err(setting("request_timeout", "must be more than zero"));
        }
        if self.keys.cooldown.is_zero() {
            return Err(setting(
                "refetch_cooldown",
                "must be more than zero, or every bogus key id would cause a fetch",
            ));
        }
        if self.max_response_bytes == 0 {
            return Err(setting("max_response_bytes", "must be more than zero"));
        }
        if self.max_staleness.is_some() && self.feed_token.is_none() {
            return Err(setting(
                "max_staleness",
                "needs a feed token: without a feed there is nothing to be stale",
            ));
        }
        if self
            .feed_token
            .as_ref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(setting("feed_token", "is empty"));
        }
        let issuer = Issuer::parse(&self.issuer, self.allow_plain_http)?;
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(SystemClock::new()) as Arc<dyn Clock>);
        let http = Http::new(Arc::clone(&clock), self.timeout, self.max_response_bytes)?;
        let mut validation = Validation::new()
            .leeway(self.leeway)
            .issuers([issuer.id().to_owned()]);
        if !self.require_issuer_claim {
            validation = validation.issuer_optional();
        }
        validation = match &self.audience {
            Some(audience) => validation.audiences([audience.clone()]),
            // As Tessera: tokens from the simplejwt endpoints carry no `aud`, those from the
            // OAuth endpoints name the issuer (RFC 9068); any other `aud` is someone else's.
            None => validation
                .audiences([issuer.id().to_owned()])
                .audience_optional(),
        };
        let keys = Arc::new(RemoteKeys::new(http.clone(), issuer.clone(), self.keys));
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        let revocations = Arc::new(Revocations::new(self.revocation_capacity, leeway));
        let feed = self
            .feed_token
            .is_some()
            .then(|| Arc::new(FeedStatus::new(clock.monotonic())));
        let mut tasks = Vec::new();
        if let (Some(token), Some(status)) = (self.feed_token, &feed) {
            let subscription = Subscription {
                http: http.clone(),
                issuer: issuer.clone(),
                token,
                revocations: Arc::clone(&revocations),
                status: Arc::clone(status),
            };
            tasks.push(tokio::spawn(subscription.run()));
        }
        if let Err(error) = keys.refresh().await {
            tracing::warn!(%error, "guard: the issuer's keys could not be fetched yet; retrying");
        }
        if let Some(status) = &feed {
            // Give the feed the time of one request to catch up, so a healthy start serves at once.
            let mut changes = status.subscribe();
            let synced = async {
                while !status.synced() {
                    if changes.changed().await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                () = synced => {}
                () = clock.sleep(self.timeout) => {
                    tracing::warn!("guard: not in sync with the revocation feed yet; retrying");
                }
            }
        }
        tasks.push(tokio::spawn(refresh_keys(
            Arc::clone(&keys),
            Arc::clone(&revocations),
            Arc::clone(&clock),
        )));
        Ok(Guard {
            inner: Arc::new(Inner {
                keys,
                validation,
                revocations,
                feed,
                max_staleness: self.max_staleness,
                verified: BoundedCache::with_hasher(
                    self.verified_cache,
                    TokenTailHasher::default(),
                ),
                clock,
                leeway,
                tasks: Tasks(tasks),
            }),
        })
    }
}

/// Keeps the key set fresh (per its cache lifetime, and retrying failures within the minimum)
/// and drops expired revocations.
async fn refresh_keys(keys: Arc<RemoteKeys>, revocations: Arc<Revocations>, clock: Arc<dyn Clock>) {
    /// Expired revocations are dropped at least this often.
    const PRUNE_EVERY: Duration = Duration::from_secs(60);
    loop {
        // Without a set, `refresh_in` is zero: a failed first fetch is retried every second.
        let wait = keys.refresh_in().max(Duration::from_secs(1));
        clock.sleep(wait.min(PRUNE_EVERY)).await;
        revocations.prune(clock.now());
        if !keys.refresh_in().is_zero() {
            continue;
        }
        if let Err(error) = keys.refresh().await {
            tracing::warn!(%error, "guard: refreshing the issuer's keys failed; keeping the last good set");
        }
    }
}

/// The background tasks, aborted with the guard.
#[derive(Debug)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

struct Inner {
    keys: Arc<RemoteKeys>,
    validation: Validation,
    revocations: Arc<Revocations>,
    feed: Option<Arc<FeedStatus>>,
    max_staleness: Option<Duration>,
    /// Tokens verified before, by their exact text: the signature is checked once per token, not
    /// once per request. Expiry and revocation are still checked on every hit.
    verified: BoundedCache<Box<str>, Arc<AccessToken>, TokenTailHasher>,
    clock: Arc<dyn Clock>,
    leeway: i64,
    tasks: Tasks,
}

/// Verifies an issuer's access tokens. Cheap to clone; share one per service.
///
/// ```no_run
/// # async fn run() -> Result<(), tessera_guard::ConfigError> {
/// let guard = tessera_guard::Guard::builder("https://auth.example.com")
///     .audience("orders-api")
///     .feed_token("the server's revocation_feed_token")
///     .max_staleness(std::time::Duration::from_secs(30))
///     .start()
///     .await?;
/// let token = guard.verify("eyJ...").await;
/// assert!(token.is_err());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("feed", &self.inner.feed.is_some())
            .field("tasks", &self.inner.tasks.0.len())
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A builder for a guard of the issuer at `issuer` (its URL, as in its tokens' `iss`).
    pub fn builder(issuer: impl Into<String>) -> GuardBuilder {
        GuardBuilder {
            issuer: issuer.into(),
            audience: None,
            require_issuer_claim: false,
            allow_plain_http: false,
            leeway: 0,
            feed_token: None,
            max_staleness: None,
            keys: KeyPolicy {
                min_age: Duration::from_secs(30),
                max_age: Duration::from_secs(3_600),
                cooldown: Duration::from_secs(5),
            },
            timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
            revocation_capacity: 1_000_000,
            verified_cache: 100_000,
            clock: None,
        }
    }

    /// Verifies the `Authorization: Bearer` credential of a request.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<AccessToken>, Rejection> {
        self.verify(bearer_token(headers)?).await
    }

    /// Verifies an access token: signature by the issuer's key for the header's `kid` (with the
    /// key's own algorithm), `typ`, `iss`, `aud`, `exp`/`nbf`/`iat`, and the revocations read from
    /// the feed. No network call, unless the token names a key the guard has not seen (then one
    /// fetch per cooldown at most).
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessToken>, Rejection> {
        let inner = &self.inner;
        self.check_fresh()?;
        let now = inner.clock.now();
        let token = token.trim();
        let verified = match inner
            .verified
            .get(token, |t| now < t.expires_at.saturating_add(inner.leeway))
        {
            Some(hit) => hit,
            None => {
                let verified = Arc::new(self.verify_signed(token).await?);
                inner.verified.insert(token.into(), Arc::clone(&verified));
                verified
            }
        };
        if inner.revocations.revokes(&verified) {
            return Err(Rejection::InvalidToken(TokenProblem::Revoked));
        }
        Ok(verified)
    }

    async fn verify_signed(&self, token: &str) -> Result<AccessToken, Rejection> {
        let inner = &self.inner;
        let invalid = |e: &JwtError| Rejection::InvalidToken(TokenProblem::of(e));
        let parsed = UntrustedToken::parse(token, inner.validation.max_token_size())
            .map_err(|e| invalid(&e))?;
        let keys = match inner.keys.current() {
            Some(keys) => keys,
            None => inner
                .keys
                .after_unknown_kid()
                .await
                .ok_or(Rejection::Unavailable(Unavailable::NoKeys))?,
        };
        let keys = match parsed.unverified_header().kid.as_deref() {
            Some(kid) if keys.get(kid).is_none() => {
                inner.keys.after_unknown_kid().await.unwrap_or(keys)
            }
            _ => keys,
        };
        let verified = parsed
            .verify::<serde_json::Map<String, serde_json::Value>>(
                keys.as_ref(),
                &inner.validation,
                inner.clock.as_ref(),
            )
            .map_err(|e| invalid(&e))?;
        let header = verified.header().clone();
        AccessToken::read(&header, verified.into_claims()).map_err(Rejection::InvalidToken)
    }

    fn check_fresh(&self) -> Result<(), Rejection> {
        let inner = &self.inner;
        // A guard that never caught up does not know what was revoked before it started.
        if let (Some(limit), Some(feed)) = (inner.max_staleness, &inner.feed)
            && (!feed.synced() || feed.cut_off_for(inner.clock.monotonic()) > limit)
        {
            return Err(Rejection::Unavailable(Unavailable::RevocationsStale));
        }
        if inner.revocations.is_full() {
            inner.revocations.prune(inner.clock.now());
            if inner.revocations.is_full() {
                return Err(Rejection::Unavailable(Unavailable::TooManyRevocations));
            }
        }
        Ok(())
    }

    /// Where the guard stands, for health checks and tests.
    pub fn status(&self) -> GuardStatus {
        let inner = &self.inner;
        let now = inner.clock.monotonic();
        GuardStatus {
            keys: inner.keys.current().map_or(0, |k| k.keys().len()),
            key_fetches: inner.keys.fetches(),
            feed_cursor: inner.feed.as_ref().map(|f| f.cursor()),
            feed_cut_off_for: inner.feed.as_ref().map(|f| f.cut_off_for(now)),
            revocations: inner.revocations.len(),
        }
    }

    /// Waits until the revocation feed applied an entry or connected or disconnected; for tests
    /// and tools that must see a revocation arrive. Returns at once without a feed.
    pub async fn feed_changed(&self) {
        let Some(feed) = &self.inner.feed else {
            return;
        };
        let mut changes = feed.subscribe();
        changes.borrow_and_update();
        let _ = changes.changed().await;
    }
}

/// A snapshot of a guard's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuardStatus {
    /// Keys in the current set (0 until the first fetch succeeds).
    pub keys: usize,
    /// Key set fetches started so far.
    pub key_fetches: u64,
    /// The last feed cursor applied, with a feed.
    pub feed_cursor: Option<i64>,
    /// With a feed: how long it has been cut off (zero while connected).
    pub feed_cut_off_for: Option<Duration>,
    /// Revocations held.
    pub revocations: usize,
}

/// The token of `Authorization: Bearer <token>`, refused as Tessera refuses it.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(Rejection::NotAuthenticated)?;
    if values.next().is_some() {
        return Err(Rejection::DuplicateAuthorization);
    }
    let text = value.to_str().map_err(|_| Rejection::NotAuthenticated)?;
    // The usual shape, checked byte-wise: every request passes here.
    if let Some(token) = text.strip_prefix("Bearer ")
        && !token.is_empty()
        && !token.bytes().any(|b| b.is_ascii_whitespace())
    {
        return Ok(token);
    }
    let mut words = text.split_ascii_whitespace();
    if words.next() != Some("Bearer") {
        return Err(Rejection::NotAuthenticated);
    }
    match (words.next(), words.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(Rejection::BadAuthorizationHeader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_as_tessera_reads_them() {
        let read = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::AUTHORIZATION, value.parse().unwrap());
            }
            bearer_token(&headers).map(str::to_owned)
        };
        assert_eq!(read(&["Bearer abc"]), Ok("abc".into()));
        assert_eq!(read(&["Bearer  abc "]), Ok("abc".into()));
        assert_eq!(read(&["Bearer\tabc"]), Ok("abc".into()));
        assert_eq!(read(&[]), Err(Rejection::NotAuthenticated));
        assert_eq!(read(&["Basic abc"]), Err(Rejection::NotAuthenticated));
        assert_eq!(read(&["bearer abc"]), Err(Rejection::NotAuthenticated));
        assert_eq!(read(&["Bearer"]), Err(Rejection::BadAuthorizationHeader));
        assert_eq!(read(&["Bearer "]), Err(Rejection::BadAuthorizationHeader));
        assert_eq!(
            read(&["Bearer a b"]),
            Err(Rejection::BadAuthorizationHeader)
        );
        assert_eq!(
            read(&["Bearer a", "Bearer a"]),
            Err(Rejection::DuplicateAuthorization)
        );
    }
}
