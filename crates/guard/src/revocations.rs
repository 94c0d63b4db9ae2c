//! What the issuer revoked, as read from its feed, held in memory until every token an entry
//! covers has expired. Checked on every request without a network call.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::token::AccessToken;

/// One entry of Tessera's revocation feed (`GET /api/revocations/stream`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct FeedEntry {
    pub(crate) cursor: i64,
    #[serde(flatten)]
    pub(crate) revoked: Revoked,
    /// Every token the entry covers has expired by then.
    pub(crate) expires_at: i64,
}

/// What an entry revokes.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Revoked {
    /// Every token carrying this `sid`.
    Session { sid: String },
    /// The user's tokens issued at or before `not_after` (only those without a `sid` when
    /// `only_without_sid`).
    User {
        user_id: String,
        not_after: i64,
        only_without_sid: bool,
    },
    /// Every token issued to this OAuth client.
    Client { client_id: String },
    /// The token with this `jti`.
    Token { jti: String },
}

#[derive(Clone, Copy, Debug, Default)]
struct UserCutOff {
    /// Tokens issued at or before this are revoked.
    all: Option<i64>,
    /// Tokens without a `sid` issued at or before this are revoked.
    without_sid: Option<i64>,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct Entries {
    sessions: HashMap<String, i64>,
    users: HashMap<String, UserCutOff>,
    clients: HashMap<String, i64>,
    tokens: HashMap<String, i64>,
}

impl Entries {
    fn len(&self) -> usize {
        self.sessions.len() + self.users.len() + self.clients.len() + self.tokens.len()
    }

    fn prune(&mut self, horizon: i64) {
        self.sessions.retain(|_, until| *until >= horizon);
        self.users.retain(|_, cut| cut.expires_at >= horizon);
        self.clients.retain(|_, until| *until >= horizon);
        self.tokens.retain(|_, until| *until >= horizon);
    }
}

/// The revocations in force, bounded: past `capacity` entries (after dropping the expired ones)
/// the set reports itself full, and the guard fails closed rather than forget a revocation.
#[derive(Debug)]
pub(crate) struct Revocations {
    entries: RwLock<Entries>,
    /// Whether more than `capacity` entries are held: read on every request without the lock.
    full: AtomicBool,
    capacity: usize,
    leeway: i64,
}

impl Revocations {
    pub(crate) fn new(capacity: usize, leeway: i64) -> Revocations {
        Revocations {
            entries: RwLock::new(Entries::default()),
            full: AtomicBool::new(false),
            capacity,
            leeway,
        }
    }

    /// Applies `entry`, dropping entries expired at `now` when the set is full.
    pub(crate) fn apply(&self, entry: &FeedEntry, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let until = entry.expires_at;
        let later = |held: &mut i64| *held = (*held).max(until);
        match &entry.revoked {
            Revoked::Session { sid } => later(entries.sessions.entry(sid.clone()).or_insert(until)),
            Revoked::Client { client_id } => {
                later(entries.clients.entry(client_id.clone()).or_insert(until));
            }
            Revoked::Token { jti } => later(entries.tokens.entry(jti.clone()).or_insert(until)),
            Revoked::User {
                user_id,
                not_after,
                only_without_sid,
            } => {
                let cut = entries.users.entry(user_id.clone()).or_default();
                let slot = match only_without_sid {
                    true => &mut cut.without_sid,
                    false => &mut cut.all,
                };
                *slot = Some(slot.map_or(*not_after, |held| held.max(*not_after)));
                cut.expires_at = cut.expires_at.max(until);
            }
        }
        if entries.len() > self.capacity {
            entries.prune(now.saturating_sub(self.leeway));
        }
        self.full
            .store(entries.len() > self.capacity, Ordering::Release);
    }

    /// Drops entries whose tokens have all expired (with the leeway) at `now`.
    pub(crate) fn prune(&self, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.prune(now.saturating_sub(self.leeway));
        self.full
            .store(entries.len() > self.capacity, Ordering::Release);
    }

    /// Whether more entries are held than allowed.
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    /// How many entries are held.
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether anything revoked `token`.
    pub(crate) fn revokes(&self, token: &AccessToken) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if let Some(sid) = &token.session_id
            && entries.sessions.contains_key(sid)
        {
            return true;
        }
        if let Some(jti) = &token.jti
            && entries.tokens.contains_key(jti)
        {
            return true;
        }
        if let Some(client) = &token.client_id
            && entries.clients.contains_key(client)
        {
            return true;
        }
        let Some(cut) = token.user_id.as_ref().and_then(|u| entries.users.get(u)) else {
            return false;
        };
        // A token without `iat` cannot be placed before or after a cut-off: revoked.
        let issued_by = |not_after: Option<i64>| {
            not_after.is_some_and(|not_after| token.issued_at.is_none_or(|iat| iat <= not_after))
        };
        issued_by(cut.all) || (token.session_id.is_none() && issued_by(cut.without_sid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(user: &str, sid: Option<&str>, iat: i64) -> AccessToken {
        AccessToken {
            user_id: Some(user.into()),
            session_id: sid.map(Into::into),
            issued_at: Some(iat),
            jti: Some(format!("jti-{user}-{iat}")),
            ..AccessToken::default()
        }
    }

    fn entry(cursor: i64, revoked: Revoked, expires_at: i64) -> FeedEntry {
        FeedEntry {
            cursor,
            revoked,
            expires_at,
        }
    }

    #[test]
    fn sessions_users_clients_and_tokens() {
        let set = Revocations::new(100, 0);
        let a = token("1", Some("s1"), 100);
        let b = token("1", Some("s2"), 100);
        let sidless = token("1", None, 100);
        set.apply(&entry(1, Revoked::Session { sid: "s1".into() }, 500), 0);
        assert!(set.revokes(&a) && !set.revokes(&b) && !set.revokes(&sidless));

        set.apply(
            &entry(
                2,
                Revoked::User {
                    user_id: "1".into(),
                    not_after: 100,
                    only_without_sid: true,
                },
                500,
            ),
            0,
        );
        assert!(
            !set.revokes(&b),
            "a logout-all leaves sessions to their own entries"
        );
        assert!(set.revokes(&sidless));
        assert!(
            !set.revokes(&token("1", None, 101)),
            "issued after the cut-off"
        );

        set.apply(
            &entry(
                3,
                Revoked::User {
                    user_id: "1".into(),
                    not_after: 100,
                    only_without_sid: false,
                },
                500,
            ),
            0,
        );
        assert!(set.revokes(&b), "a disabled user's every token");
        assert!(!set.revokes(&token("2", Some("s9"), 1)));

        let mut client = token("3", None, 1);
        client.client_id = Some("app".into());
        set.apply(
            &entry(
                4,
                Revoked::Client {
                    client_id: "app".into(),
                },
                500,
            ),
            0,
        );
        assert!(set.revokes(&client));
        let one = token("4", Some("s4"), 1);
        set.apply(
            &entry(
                5,
                Revoked::Token {
                    jti: one.jti.clone().unwrap(),
                },
                500,
            ),
            0,
        );
        assert!(set.revokes(&one));
    }

    #[test]
    fn bounded_by_expiry_and_full_when_over_capacity() {
        let set = Revocations::new(2, 10);
        for (i, until) in [(1, 100), (2, 100), (3, 1_000)] {
            set.apply(
                &entry(
                    i,
                    Revoked::Session {
                        sid: format!("s{i}"),
                    },
                    until,
                ),
                105,
            );
        }
        assert_eq!(set.len(), 3, "within the leeway, nothing is dropped");
        assert!(set.is_full());
        set.prune(111);
        assert_eq!(set.len(), 1);
        assert!(!set.is_full());
        assert!(set.revokes(&token("1", Some("s3"), 1)));
    }

    #[test]
    fn feed_entries_parse_as_tessera_writes_them() {
        let parsed: FeedEntry = serde_json::from_str(
            r#"{"cursor":7,"type":"user","user_id":"42","not_after":10,"only_without_sid":false,"expires_at":99}"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            entry(
                7,
                Revoked::User {
                    user_id: "42".into(),
                    not_after: 10,
                    only_without_sid: false
                },
                99
            )
        );
        assert!(
            serde_json::from_str::<FeedEntry>(r#"{"cursor":1,"type":"mystery","expires_at":1}"#)
                .is_err()
        );
    }
}
