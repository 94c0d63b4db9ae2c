//! Login throttling: failed logins counted per username and per client IP in a sliding window,
//! in this process or shared by every instance.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::{FailureLog, StoreError};

/// How long an unreachable shared log is left alone before the next try.
const SHARED_RETRY_SECONDS: i64 = 5;

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

/// Failure times kept in this process: the log when nothing is shared, and the fallback when the
/// shared one is unreachable.
#[derive(Debug, Default)]
struct LocalFailures {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl LocalFailures {
    fn recent(&self, key: &str, since: i64) -> Vec<i64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(key)
            .map(|times| times.iter().copied().filter(|t| *t > since).collect())
            .unwrap_or_default()
    }

    fn record(&self, key: &str, at: i64, window: i64, keep: usize) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = failures.entry(key.to_owned()).or_default();
        times.push_back(at);
        while times.len() > keep || times.front().is_some_and(|t| *t <= at - window) {
            times.pop_front();
        }
        if failures.len() > 100_000 {
            let horizon = at - window;
            failures.retain(|_, times| times.back().is_some_and(|t| *t > horizon));
        }
    }
}

/// Sliding-window limits on failed logins, per username and per client IP. Counted in this
/// process, or in a [`FailureLog`] shared by every instance (Redis) when one is given; if the
/// shared log is unreachable, the instance counts locally until it is back rather than stop
/// throttling.
#[derive(Default)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    local: LocalFailures,
    shared: Option<Arc<dyn FailureLog>>,
    /// After the shared log fails, it is left alone until this time (Unix seconds), so a login
    /// does not pay a timeout per call while it is down.
    shared_retry_at: AtomicI64,
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
        }
    }

    /// A throttle with `config`, counting in `shared`.
    pub fn shared(config: ThrottleConfig, shared: Arc<dyn FailureLog>) -> LoginThrottle {
        LoginThrottle {
            shared: Some(shared),
            ..LoginThrottle::new(config)
        }
    }

    /// The counters an attempt touches, each with its limit: the username's, and the IP's when
    /// there is one.
    fn counters(&self, username: &str, ip: Option<&str>) -> impl Iterator<Item = (String, usize)> {
        std::iter::once((format!("u:{username}"), self.config.per_username))
            .chain(ip.map(|ip| (format!("i:{ip}"), self.config.per_ip)))
    }

    fn keep(&self) -> usize {
        self.config.per_ip.max(self.config.per_username)
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

    async fn recent(&self, key: &str, since: i64, now: i64) -> Vec<i64> {
        if let Some(shared) = self.shared_now(now) {
            match shared.recent(key, since, self.keep()).await {
                Ok(times) => return times,
                Err(error) => self.shared_failed(&error, now),
            }
        }
        self.local.recent(key, since)
    }

    /// Seconds to wait if another attempt for `username` from `ip` is refused now, else `None`.
    pub async fn retry_after(&self, username: &str, ip: Option<&str>, now: i64) -> Option<u64> {
        let since = now - self.config.window;
        let mut wait = None;
        for (key, limit) in self.counters(username, ip) {
            let times = self.recent(&key, since, now).await;
            if times.len() < limit {
                continue;
            }
            let oldest_relevant = times[times.len() - limit];
            let seconds = u64::try_from(oldest_relevant + self.config.window - now)
                .unwrap_or(0)
                .max(1);
            wait = wait.max(Some(seconds));
        }
        wait
    }

    /// Counts a failed login.
    pub async fn record_failure(&self, username: &str, ip: Option<&str>, now: i64) {
        for (key, _) in self.counters(username, ip) {
            if let Some(shared) = self.shared_now(now) {
                match shared
                    .record(&key, now, self.config.window, self.keep())
                    .await
                {
                    Ok(()) => continue,
                    Err(error) => self.shared_failed(&error, now),
                }
            }
            self.local
                .record(&key, now, self.config.window, self.keep());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn sixth_attempt_for_a_username_is_refused_whatever_the_ip() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..5 {
            let ip = format!("10.0.0.{i}");
            assert_eq!(throttle.retry_after("ann", Some(&ip), 100).await, None);
            throttle.record_failure("ann", Some(&ip), 100).await;
        }
        assert_eq!(
            throttle.retry_after("ann", Some("10.9.9.9"), 160).await,
            Some(900 - 60)
        );
        assert_eq!(
            throttle.retry_after("bob", Some("10.0.0.1"), 160).await,
            None
        );
        assert_eq!(
            throttle.retry_after("ann", None, 100 + 900).await,
            None,
            "window passed"
        );
    }

    #[tokio::test]
    async fn per_ip_limit_is_higher() {
        let throttle = LoginThrottle::new(ThrottleConfig {
            per_username: 5,
            per_ip: 8,
            window: 60,
        });
        for i in 0..8 {
            throttle
                .record_failure(&format!("user{i}"), Some("1.2.3.4"), 0)
                .await;
        }
        assert!(
            throttle
                .retry_after("fresh", Some("1.2.3.4"), 1)
                .await
                .is_some()
        );
        assert!(
            throttle
                .retry_after("fresh", Some("1.2.3.5"), 1)
                .await
                .is_none()
        );
    }

    /// A shared log kept in memory, standing for Redis between two "instances".
    #[derive(Default)]
    struct SharedInMemory(LocalFailures);

    #[async_trait::async_trait]
    impl FailureLog for SharedInMemory {
        async fn recent(&self, key: &str, since: i64, _: usize) -> Result<Vec<i64>, StoreError> {
            Ok(self.0.recent(key, since))
        }
        async fn record(
            &self,
            key: &str,
            at: i64,
            window: i64,
            keep: usize,
        ) -> Result<(), StoreError> {
            self.0.record(key, at, window, keep);
            Ok(())
        }
    }

    /// A shared log that is down, counting how often it is asked.
    #[derive(Default)]
    struct Unreachable(AtomicUsize);

    impl Unreachable {
        fn refuse(&self) -> StoreError {
            self.0.fetch_add(1, Ordering::Relaxed);
            StoreError::Unavailable("connection refused".into())
        }
    }

    #[async_trait::async_trait]
    impl FailureLog for Unreachable {
        async fn recent(&self, _: &str, _: i64, _: usize) -> Result<Vec<i64>, StoreError> {
            Err(self.refuse())
        }
        async fn record(&self, _: &str, _: i64, _: i64, _: usize) -> Result<(), StoreError> {
            Err(self.refuse())
        }
    }

    #[tokio::test]
    async fn failures_on_one_instance_count_on_another_through_the_shared_log() {
        let shared: Arc<dyn FailureLog> = Arc::new(SharedInMemory::default());
        let a = LoginThrottle::shared(ThrottleConfig::default(), Arc::clone(&shared));
        let b = LoginThrottle::shared(ThrottleConfig::default(), shared);
        for _ in 0..3 {
            a.record_failure("ann", None, 100).await;
        }
        for _ in 0..2 {
            b.record_failure("ann", None, 100).await;
        }
        assert!(a.retry_after("ann", None, 101).await.is_some());
        assert!(b.retry_after("ann", None, 101).await.is_some());
    }

    #[tokio::test]
    async fn an_unreachable_shared_log_falls_back_to_counting_locally() {
        let down = Arc::new(Unreachable::default());
        let throttle = LoginThrottle::shared(ThrottleConfig::default(), down.clone());
        for _ in 0..5 {
            assert_eq!(throttle.retry_after("ann", None, 100).await, None);
            throttle.record_failure("ann", None, 100).await;
        }
        assert!(throttle.retry_after("ann", None, 100).await.is_some());
        assert_eq!(
            down.0.load(Ordering::Relaxed),
            1,
            "asked once, then left alone"
        );
        throttle
            .retry_after("ann", None, 100 + SHARED_RETRY_SECONDS)
            .await;
        assert_eq!(
            down.0.load(Ordering::Relaxed),
            2,
            "asked again after the pause"
        );
    }
}
