//! What the domain did, counted for an operator's dashboard: plain atomics, read by whatever
//! exports them (the server's `/metrics`). Every label is one of the closed sets below, so no
//! username, address or token can become a label value.

use std::sync::atomic::{AtomicU64, Ordering};

/// A closed set of outcomes, each with its label value.
pub trait Outcome: Copy + 'static {
    /// Every outcome, in a fixed order.
    const ALL: &'static [Self];
    /// The label value.
    fn label(self) -> &'static str;
    /// The position in [`Outcome::ALL`].
    fn index(self) -> usize;
}

macro_rules! outcomes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl Outcome for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

outcomes!(
    /// How a login ended.
    LoginResult {
        /// Tokens issued.
        Success => "success",
        /// Wrong username or password, or an inactive account.
        Failure => "failure",
        /// Refused by the throttle before the password was checked.
        Throttled => "throttled",
    }
);

outcomes!(
    /// How a refresh ended.
    RefreshResult {
        /// A new access token issued.
        Success => "success",
        /// Refused: invalid, expired, revoked, or the account is gone.
        Failure => "failure",
        /// A rotated refresh token presented again: its session was revoked.
        Reuse => "reuse",
    }
);

outcomes!(
    /// Why sessions or tokens were revoked.
    RevocationReason {
        /// `POST /api/logout/`.
        Logout => "logout",
        /// `POST /api/logout-all/`.
        LogoutAll => "logout_all",
        /// Refresh-token reuse detection.
        Reuse => "reuse",
        /// A password change ended the other sessions.
        Password => "password",
        /// An administrator (the admin API or the CLI): users disabled or deleted, sessions revoked.
        Admin => "admin",
        /// A user ended one of their own sessions (`DELETE /api/sessions/{id}/`).
        Session => "session",
        /// `POST /api/token/blacklist/`.
        Blacklist => "blacklist",
        /// An OAuth client revoked a token (RFC 7009), or a client was deleted.
        OAuth => "oauth",
    }
);

/// Counts per outcome of one kind.
#[derive(Debug)]
pub struct Tally<O: Outcome> {
    counts: Vec<AtomicU64>,
    _kind: std::marker::PhantomData<O>,
}

impl<O: Outcome> Default for Tally<O> {
    fn default() -> Self {
        Tally {
            counts: O::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            _kind: std::marker::PhantomData,
        }
    }
}

impl<O: Outcome> Tally<O> {
    /// Counts one `outcome`.
    pub fn add(&self, outcome: O) {
        if let Some(count) = self.counts.get(outcome.index()) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times `outcome` was counted.
    pub fn get(&self, outcome: O) -> u64 {
        self.counts
            .get(outcome.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Everything the domain counts.
#[derive(Debug, Default)]
pub struct Counters {
    /// Logins by result.
    pub logins: Tally<LoginResult>,
    /// Refreshes by result.
    pub refreshes: Tally<RefreshResult>,
    /// Revocations (one per revoking action, however many sessions it ends) by reason.
    pub revocations: Tally<RevocationReason>,
    /// Access tokens answered from the cache of verified tokens.
    pub verified_cache_hits: AtomicU64,
    /// Access tokens whose signature had to be checked.
    pub verified_cache_misses: AtomicU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_each_outcome_apart() {
        let counters = Counters::default();
        counters.logins.add(LoginResult::Throttled);
        counters.logins.add(LoginResult::Throttled);
        counters.revocations.add(RevocationReason::OAuth);
        assert_eq!(counters.logins.get(LoginResult::Throttled), 2);
        assert_eq!(counters.logins.get(LoginResult::Success), 0);
        assert_eq!(counters.revocations.get(RevocationReason::OAuth), 1);
        let labels: Vec<_> = RevocationReason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), 8);
        assert!(
            labels
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
