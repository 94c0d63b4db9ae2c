//! Login throttling: failed logins counted per username and per client IP in a sliding window,
//! in this process or shared by every instance.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::AuthError;
use crate::store::{Counter, FailureLog, IN_FLIGHT_SECONDS, StoreError};

/// How long an unreachable shared log is left alone before the next try.
const SHARED_RETRY_SECONDS: i64 = 5;

/// Most counters kept in one process before those with nothing left in their window are dropped.
const LOCAL_COUNTERS_MAX: usize = 100_000;

/// Limits on failed logins.
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Failures allowed per username within the window; the next attempt is refused (default 5).
    pub per_username: usize,
    /// Failures allowed per client IP within the window (default 50).
    pub per_ip: usize,
    /// Window length in seconds (default 15 minutes).
    pub window: i64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_username: 5,
            per_ip: 50,
            window: 15 * 60,
        }
    }
}

/// One counter: its failures within the window (oldest first) and its attempts in flight.
#[derive(Debug, Default)]
struct Tally {
    failures: VecDeque<i64>,
    in_flight: Vec<(i64, Box<str>)>,
}

impl Tally {
    fn forget_old(&mut self, at: i64, window: i64) {
        let horizon = at.saturating_sub(window);
        while self.failures.front().is_some_and(|t| *t <= horizon) {
            self.failures.pop_front();
        }
        let stale = at.saturating_sub(IN_FLIGHT_SECONDS);
        self.in_flight.retain(|(started, _)| *started > stale);
    }

    /// Seconds to wait if the counter is full: until its oldest relevant failure leaves the window,
    /// or 1 when attempts in flight fill it (they settle within a second or so).
    fn full(&self, limit: usize, at: i64, window: i64) -> Option<u64> {
        if self.failures.len() + self.in_flight.len() < limit {
            return None;
        }
        let wait = match self.failures.len().checked_sub(limit) {
            Some(i) => self
                .failures
                .get(i)
                .map_or(window, |t| t.saturating_add(window).saturating_sub(at)),
            None => 1,
        };
        Some(u64::try_from(wait).unwrap_or(0).max(1))
    }
}

/// Counters kept in this process: the log when nothing is shared, and the fallback when the
/// shared one is unreachable.
#[derive(Debug, Default)]
pub struct LocalFailures {
    tallies: Mutex<HashMap<String, Tally>>,
}

impl LocalFailures {
    /// Checks the counters and, unless refused, holds `attempt` in flight (`None`: check only).
    fn admit_now(
        &self,
        counters: &[Counter],
        attempt: Option<&str>,
        at: i64,
        window: i64,
    ) -> Option<u64> {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        for counter in counters {
            let tally = tallies.entry(counter.key.clone()).or_default();
            tally.forget_old(at, window);
            wait = wait.max(tally.full(counter.limit, at, window));
        }
        if let (None, Some(attempt)) = (wait, attempt) {
            for counter in counters {
                let tally = tallies.entry(counter.key.clone()).or_default();
                tally.in_flight.push((at, attempt.into()));
            }
        }
        if tallies.len() > LOCAL_COUNTERS_MAX {
            tallies.retain(|_, tally| {
                tally.forget_old(at, window);
                !(tally.failures.is_empty() && tally.in_flight.is_empty())
            });
        }
        wait
    }

    fn settle_now(&self, counters: &[Counter], attempt: &str, failed: bool, at: i64) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        for counter in counters {
            let tally = tallies.entry(counter.key.clone()).or_default();
            tally.in_flight.retain(|(_, id)| &**id != attempt);
            if failed {
                // Attempts settle out of order; failures stay sorted by when they were made.
                let position = tally.failures.partition_point(|t| *t <= at);
                tally.failures.insert(position, at);
                while tally.failures.len() > counter.limit {
                    tally.failures.pop_front();
                }
            }
        }
    }
}

#[async_trait]
impl FailureLog for LocalFailures {
    async fn admit(
        &self,
        counters: &[Counter],
        attempt: &str,
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.admit_now(counters, Some(attempt), at, window))
    }

    async fn check(
        &self,
        counters: &[Counter],
        at: i64,
        window: i64,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.admit_now(counters, None, at, window))
    }

    async fn settle(
        &self,
        counters: &[Counter],
        attempt: &str,
        failed: bool,
        at: i64,
        _window: i64,
    ) -> Result<(), StoreError> {
        self.settle_now(counters, attempt, failed, at);
        Ok(())
    }
}

/// Whose credentials an attempt checks: a user's password or an OAuth client's secret. Their
/// counters never meet, whatever the names.
enum Account<'a> {
    User(&'a str),
    Client(&'a str),
}

/// A login attempt counted as in flight while its password is checked. Settle it with
/// [`LoginThrottle::failed`] or [`LoginThrottle::released`].
#[derive(Debug)]
#[must_use = "settle the attempt with LoginThrottle::failed or LoginThrottle::released"]
pub struct Attempt {
    id: String,
    counters: Vec<Counter>,
    /// When it was made (Unix seconds).
    at: i64,
    /// Whether it was counted in the shared log (else in this process).
    shared: bool,
}

/// Sliding-window limits on failed logins, per username and per client IP. Counted in this
/// process, or in a [`FailureLog`] shared by every instance (Redis) when one is given; if the
/// shared log is unreachable, the instance counts locally until it is back rather than stop
/// throttling.
///
/// Every attempt is counted (as in flight) before its password is checked, so the number of
/// guesses does not depend on how many arrive at once.
#[derive(Default)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    local: LocalFailures,
    shared: Option<Arc<dyn FailureLog>>,
    /// After the shared log fails, it is left alone until this time (Unix seconds), so a login
    /// does not pay a timeout per call while it is down.
    shared_retry_at: AtomicI64,
    /// Numbers this process's attempts; with a random prefix, unique across instances.
    attempts: AtomicU64,
    instance: String,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("config", &self.config)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// A throttle with `config`, counting in this process.
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            local: LocalFailures::default(),
            shared: None,
            shared_retry_at: AtomicI64::new(i64::MIN),
            attempts: AtomicU64::new(0),
            instance: crate::ids::random_hex(),
        }
    }

    /// A throttle with `config`, counting in `shared`.
    pub fn shared(config: ThrottleConfig, shared: Arc<dyn FailureLog>) -> LoginThrottle {
        LoginThrottle {
            shared: Some(shared),
            ..LoginThrottle::new(config)
        }
    }

    /// The counters an attempt touches, each with its limit: the account's (a username, or an
    /// OAuth client), and the IP's when there is one.
    fn counters(&self, account: &Account<'_>, ip: Option<&str>) -> Vec<Counter> {
        let key = match account {
            Account::User(username) => format!("u:{username}"),
            Account::Client(client_id) => format!("c:{client_id}"),
        };
        std::iter::once(Counter {
            key,
            limit: self.config.per_username,
        })
        .chain(ip.map(|ip| Counter {
            key: format!("i:{ip}"),
            limit: self.config.per_ip,
        }))
        .collect()
    }

    /// The shared log, unless it failed within the last few seconds.
    fn shared_now(&self, now: i64) -> Option<&Arc<dyn FailureLog>> {
        self.shared
            .as_ref()
            .filter(|_| now >= self.shared_retry_at.load(Ordering::Acquire))
    }

    fn shared_failed(&self, error: &StoreError, now: i64) {
        tracing::warn!(%error, "shared login throttle unreachable; counting locally for {SHARED_RETRY_SECONDS} s");
        self.shared_retry_at
            .store(now.saturating_add(SHARED_RETRY_SECONDS), Ordering::Release);
    }

    /// Counts an attempt for `username` from `ip` before its password is checked, or refuses it
    /// with [`AuthError::Throttled`] when a limit is reached.
    pub async fn admit(
        &self,
        username: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<Attempt, AuthError> {
        self.admit_for(&Account::User(username), ip, now, true)
            .await
    }

    /// Checks an OAuth client's authentication attempt against the same limits as a username's
    /// logins, counting only failures: a client's secret is 256 random bits, so concurrent guesses
    /// gain nothing, while a gateway's many concurrent calls must not fill the counter.
    pub async fn admit_client(
        &self,
        client_id: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<Attempt, AuthError> {
        // Not held in flight: only a failure, recorded afterwards, counts.
        self.admit_for(&Account::Client(client_id), ip, now, false)
            .await
    }

    /// Checks an attempt against the counters and, when `hold`, counts it in flight.
    async fn admit_for(
        &self,
        account: &Account<'_>,
        ip: Option<&str>,
        now: i64,
        hold: bool,
    ) -> Result<Attempt, AuthError> {
        let counters = self.counters(account, ip);
        let id = format!(
            "{now}:{}:{}",
            self.instance,
            self.attempts.fetch_add(1, Ordering::Relaxed)
        );
        let window = self.config.window;
        let mut shared = false;
        let mut refused = None;
        if let Some(log) = self.shared_now(now) {
            let answer = match hold {
                true => log.admit(&counters, &id, now, window).await,
                false => log.check(&counters, now, window).await,
            };
            match answer {
                Ok(wait) => {
                    shared = true;
                    refused = wait;
                }
                Err(error) => self.shared_failed(&error, now),
            }
        }
        if !shared {
            refused = self
                .local
                .admit_now(&counters, hold.then_some(id.as_str()), now, window);
        }
        match refused {
            Some(retry_after) => Err(AuthError::Throttled { retry_after }),
            None => Ok(Attempt {
                id,
                counters,
                at: now,
                shared,
            }),
        }
    }

    /// Records `attempt` as a failed login.
    pub async fn failed(&self, attempt: Attempt) {
        self.settle(attempt, true).await;
    }

    /// Ends `attempt` without a failure: its password was right, or was never checked (storage
    /// down).
    pub async fn released(&self, attempt: Attempt) {
        self.settle(attempt, false).await;
    }

    async fn settle(&self, attempt: Attempt, failed: bool) {
        // The failure counts from when the attempt was made.
        let now = attempt.at;
        if attempt.shared
            && let Some(log) = &self.shared
        {
            match log
                .settle(
                    &attempt.counters,
                    &attempt.id,
                    failed,
                    now,
                    self.config.window,
                )
                .await
            {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "shared login throttle: attempt not settled; counting it here");
                    self.shared_failed(&error, now);
                    if !failed {
                        return;
                    }
                }
            }
        }
        self.local
            .settle_now(&attempt.counters, &attempt.id, failed, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    async fn fail(throttle: &LoginThrottle, username: &str, ip: Option<&str>, now: i64) {
        let attempt = throttle.admit(username, ip, now).await;
        assert!(attempt.is_ok(), "{attempt:?}");
        if let Ok(attempt) = attempt {
            throttle.failed(attempt).await;
        }
    }

    fn retry_after(result: Result<Attempt, AuthError>) -> Option<u64> {
        match result {
            Err(AuthError::Throttled { retry_after }) => Some(retry_after),
            Ok(_) => None,
            Err(other) => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn sixth_attempt_for_a_username_is_refused_whatever_the_ip() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..5 {
            fail(&throttle, "ann", Some(&format!("10.0.0.{i}")), 100).await;
        }
        assert_eq!(
            retry_after(throttle.admit("ann", Some("10.9.9.9"), 160).await),
            Some(900 - 60)
        );
        assert_eq!(
            retry_after(throttle.admit("bob", Some("10.0.0.1"), 160).await),
            None
        );
        assert_eq!(
            retry_after(throttle.admit("ann", None, 100 + 900).await),
            None,
            "window passed"
        );
    }

    #[tokio::test]
    async fn attempts_in_flight_count_and_successes_are_forgotten() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        // Nineteen attempts admitted before any password check has finished.
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for _ in 0..19 {
            match throttle.admit("ann", Some("10.0.0.1"), 100).await {
                Ok(attempt) => admitted.push(attempt),
                Err(AuthError::Throttled { retry_after }) => refused.push(retry_after),
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(admitted.len(), 5);
        assert_eq!(
            refused, [1; 14],
            "attempts in flight settle soon: retry in a second"
        );
        // Two of them turn out to have the right password: they no longer count.
        for attempt in admitted.drain(..2) {
            throttle.released(attempt).await;
        }
        fail(&throttle, "ann", Some("10.0.0.1"), 101).await;
        fail(&throttle, "ann", Some("10.0.0.1"), 101).await;
        for attempt in admitted {
            throttle.failed(attempt).await;
        }
        assert_eq!(
            retry_after(throttle.admit("ann", None, 102).await),
            Some(900 - 2),
            "five failures: wait for the oldest to leave the window"
        );
    }

    #[tokio::test]
    async fn an_attempt_never_settled_stops_counting_after_a_minute() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        // Five attempts whose instance never settles them (it died while checking).
        let lost: Vec<_> = admit_many(&throttle, 5, 100).await;
        assert!(retry_after(throttle.admit("ann", None, 100).await).is_some());
        assert!(retry_after(throttle.admit("ann", None, 100 + IN_FLIGHT_SECONDS).await).is_none());
        drop(lost);
    }

    async fn admit_many(throttle: &LoginThrottle, n: usize, at: i64) -> Vec<Attempt> {
        let mut attempts = Vec::new();
        for _ in 0..n {
            attempts.push(throttle.admit("ann", None, at).await.unwrap());
        }
        attempts
    }

    #[tokio::test]
    async fn per_ip_limit_is_higher() {
        let throttle = LoginThrottle::new(ThrottleConfig {
            per_username: 5,
            per_ip: 8,
            window: 60,
        });
        for i in 0..8 {
            fail(&throttle, &format!("user{i}"), Some("1.2.3.4"), 0).await;
        }
        assert!(
            retry_after(throttle.admit("fresh", Some("1.2.3.4"), 1).await).is_some(),
            "the IP is full"
        );
        assert!(retry_after(throttle.admit("fresh", Some("1.2.3.5"), 1).await).is_none());
    }

    #[tokio::test]
    async fn a_client_s_attempts_in_flight_do_not_fill_its_counter_but_failures_do() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(
                throttle
                    .admit_client("gateway", Some("10.0.0.1"), 100)
                    .await
                    .unwrap(),
            );
        }
        for attempt in held {
            throttle.released(attempt).await;
        }
        for _ in 0..5 {
            let attempt = throttle.admit_client("gateway", None, 100).await.unwrap();
            throttle.failed(attempt).await;
        }
        assert!(retry_after(throttle.admit_client("gateway", None, 101).await).is_some());
        assert!(
            retry_after(throttle.admit("gateway", None, 101).await).is_none(),
            "a user of the same name is another counter"
        );
    }

    #[tokio::test]
    async fn a_refused_attempt_counts_under_no_counter() {
        let throttle = LoginThrottle::new(ThrottleConfig {
            per_username: 1,
            per_ip: 3,
            window: 60,
        });
        fail(&throttle, "ann", Some("1.2.3.4"), 0).await;
        for _ in 0..5 {
            assert!(retry_after(throttle.admit("ann", Some("1.2.3.4"), 0).await).is_some());
        }
        // The refusals above did not fill the IP's counter.
        fail(&throttle, "bob", Some("1.2.3.4"), 0).await;
        fail(&throttle, "cid", Some("1.2.3.4"), 0).await;
    }

    #[tokio::test]
    async fn failures_on_one_instance_count_on_another_through_the_shared_log() {
        let shared: Arc<dyn FailureLog> = Arc::new(LocalFailures::default());
        let a = LoginThrottle::shared(ThrottleConfig::default(), Arc::clone(&shared));
        let b = LoginThrottle::shared(ThrottleConfig::default(), shared);
        for _ in 0..3 {
            fail(&a, "ann", None, 100).await;
        }
        let success = b.admit("ann", None, 100).await.unwrap();
        b.released(success).await;
        for _ in 0..2 {
            fail(&b, "ann", None, 100).await;
        }
        assert!(retry_after(a.admit("ann", None, 101).await).is_some());
        assert!(retry_after(b.admit("ann", None, 101).await).is_some());
    }

    /// A shared log that is down, counting how often it is asked.
    #[derive(Default)]
    struct Unreachable(AtomicUsize);

    impl Unreachable {
        fn refuse(&self) -> StoreError {
            self.0.fetch_add(1, Ordering::Relaxed);
            StoreError::unavailable_because("connection refused")
        }
    }

    #[async_trait::async_trait]
    impl FailureLog for Unreachable {
        async fn admit(
            &self,
            _: &[Counter],
            _: &str,
            _: i64,
            _: i64,
        ) -> Result<Option<u64>, StoreError> {
            Err(self.refuse())
        }
        async fn check(&self, _: &[Counter], _: i64, _: i64) -> Result<Option<u64>, StoreError> {
            Err(self.refuse())
        }
        async fn settle(
            &self,
            _: &[Counter],
            _: &str,
            _: bool,
            _: i64,
            _: i64,
        ) -> Result<(), StoreError> {
            Err(self.refuse())
        }
    }

    #[tokio::test]
    async fn an_unreachable_shared_log_falls_back_to_counting_locally() {
        let down = Arc::new(Unreachable::default());
        let throttle = LoginThrottle::shared(ThrottleConfig::default(), down.clone());
        for _ in 0..5 {
            fail(&throttle, "ann", None, 100).await;
        }
        assert!(retry_after(throttle.admit("ann", None, 100).await).is_some());
        assert_eq!(
            down.0.load(Ordering::Relaxed),
            1,
            "asked once, then left alone"
        );
        let _ = throttle
            .admit("ann", None, 100 + SHARED_RETRY_SECONDS)
            .await;
        assert_eq!(
            down.0.load(Ordering::Relaxed),
            2,
            "asked again after the pause"
        );
    }
}
