//! # tessera-clock
//!
//! Time, injected: wall time for tokens and records, monotonic time for intervals and ages, and
//! waiting. The binary hands one [`SystemClock`] down to every component; tests hand a
//! [`ManualClock`] and move it forward instead of sleeping. Nothing else in the workspace reads the
//! time (`clippy.toml` bans the alternatives).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A future that completes when a [`Clock::sleep`] is over.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Wall time (Unix seconds, through [`tessera_jwt::Clock`], which token validation reads), monotonic
/// time, and waiting on that same time.
pub trait Clock: tessera_jwt::Clock {
    /// Time since an arbitrary fixed origin; never goes backwards.
    fn monotonic(&self) -> Duration;
    /// Completes once `duration` of this clock's time has passed.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The real clock: the system's wall clock, `Instant`, and tokio's timer.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl SystemClock {
    /// The system clock; its monotonic origin is now.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one sanctioned reader of the monotonic clock"
    )]
    pub fn new() -> SystemClock {
        SystemClock {
            origin: std::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl tessera_jwt::Clock for SystemClock {
    fn now(&self) -> i64 {
        tessera_jwt::SystemClock.now()
    }
}

impl Clock for SystemClock {
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "the one sanctioned way to wait on real time"
    )]
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]), for tests: sleepers wake
/// as soon as the time they wait for is reached, with no real waiting.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    /// Unix seconds at the origin.
    epoch: i64,
    elapsed: Mutex<Duration>,
    moved: tokio::sync::watch::Sender<Duration>,
}

impl ManualClock {
    /// A clock standing at `epoch` (Unix seconds).
    pub fn at(epoch: i64) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualState {
                epoch,
                elapsed: Mutex::new(Duration::ZERO),
                moved: tokio::sync::watch::channel(Duration::ZERO).0,
            }),
        }
    }

    /// How many sleeps are waiting on this clock: a test can wait until a component has started
    /// its timer before moving time past it.
    pub fn sleepers(&self) -> usize {
        self.inner.moved.receiver_count()
    }

    /// Moves the clock forward by `by`, waking every sleeper whose time has come.
    pub fn advance(&self, by: Duration) {
        let mut elapsed = self.inner.elapsed.lock().unwrap_or_else(|e| e.into_inner());
        *elapsed = elapsed.saturating_add(by);
        self.inner.moved.send_replace(*elapsed);
    }
}

impl tessera_jwt::Clock for ManualClock {
    fn now(&self) -> i64 {
        let seconds = i64::try_from(self.monotonic().as_secs()).unwrap_or(i64::MAX);
        self.inner.epoch.saturating_add(seconds)
    }
}

impl Clock for ManualClock {
    fn monotonic(&self) -> Duration {
        *self.inner.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.monotonic().saturating_add(duration);
        let mut moved = self.inner.moved.subscribe();
        Box::pin(async move {
            while *moved.borrow_and_update() < deadline {
                if moved.changed().await.is_err() {
                    // The clock is gone: it will never get there.
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_jwt::Clock as _;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved_past_their_time() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.sleepers(), 0);
        let sleeper = tokio::spawn(clock.sleep(Duration::from_secs(10)));
        assert_eq!(clock.sleepers(), 1);
        let already = clock.sleep(Duration::ZERO);
        already.await;
        assert_eq!(clock.sleepers(), 1);
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        assert_eq!(clock.now(), 1_009);
        clock.advance(Duration::from_millis(1_500));
        sleeper.await.unwrap();
        assert_eq!(clock.now(), 1_010);
        assert_eq!(clock.monotonic(), Duration::from_millis(10_500));
    }
}
