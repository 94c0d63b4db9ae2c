//! Login throttling: failed logins counted per username and per client IP in a sliding window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

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

/// In-memory sliding-window counters of failed logins.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl LoginThrottle {
    /// A throttle with `config`.
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, ip: Option<&str>) -> (String, Option<String>) {
        (format!("u:{username}"), ip.map(|ip| format!("i:{ip}")))
    }

    /// Seconds to wait if another attempt for `username` from `ip` is refused now, else `None`.
    pub fn retry_after(&self, username: &str, ip: Option<&str>, now: i64) -> Option<u64> {
        let (user_key, ip_key) = Self::keys(username, ip);
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut check = |key: &str, limit: usize| -> Option<u64> {
            let times = failures.get_mut(key)?;
            while times
                .front()
                .is_some_and(|t| *t <= now - self.config.window)
            {
                times.pop_front();
            }
            if times.len() < limit {
                return None;
            }
            let oldest_relevant = times[times.len() - limit];
            Some(
                u64::try_from(oldest_relevant + self.config.window - now)
                    .unwrap_or(0)
                    .max(1),
            )
        };
        let by_user = check(&user_key, self.config.per_username);
        let by_ip = ip_key.and_then(|key| check(&key, self.config.per_ip));
        by_user.max(by_ip)
    }

    /// Counts a failed login.
    pub fn record_failure(&self, username: &str, ip: Option<&str>, now: i64) {
        let (user_key, ip_key) = Self::keys(username, ip);
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in std::iter::once(user_key).chain(ip_key) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Never keep more than the largest limit needs.
            while times.len() > self.config.per_ip.max(self.config.per_username) {
                times.pop_front();
            }
        }
        if failures.len() > 100_000 {
            let horizon = now - self.config.window;
            failures.retain(|_, times| times.back().is_some_and(|t| *t > horizon));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_attempt_for_a_username_is_refused_whatever_the_ip() {
        let throttle = LoginThrottle::new(ThrottleConfig::default());
        for i in 0..5 {
            assert_eq!(
                throttle.retry_after("ann", Some(&format!("10.0.0.{i}")), 100),
                None
            );
            throttle.record_failure("ann", Some(&format!("10.0.0.{i}")), 100);
        }
        assert_eq!(
            throttle.retry_after("ann", Some("10.9.9.9"), 160),
            Some(900 - 60)
        );
        assert_eq!(throttle.retry_after("bob", Some("10.0.0.1"), 160), None);
        assert_eq!(
            throttle.retry_after("ann", None, 100 + 900),
            None,
            "window passed"
        );
    }

    #[test]
    fn per_ip_limit_is_higher() {
        let throttle = LoginThrottle::new(ThrottleConfig {
            per_username: 5,
            per_ip: 8,
            window: 60,
        });
        for i in 0..8 {
            throttle.record_failure(&format!("user{i}"), Some("1.2.3.4"), 0);
        }
        assert!(throttle.retry_after("fresh", Some("1.2.3.4"), 1).is_some());
        assert!(throttle.retry_after("fresh", Some("1.2.3.5"), 1).is_none());
    }
}
