//! The revocation feed for downstream services: the revocation log, as entries a verifier can
//! apply to tokens it checks on its own, each with a cursor to resume from. No personal data: ids,
//! never names.

use serde::Serialize;

use super::AuthService;
use crate::error::AuthError;
use crate::store::{Revocation, RevocationKind};

/// One entry of the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedEntry {
    /// Resume after this (`?after=`, or SSE's `Last-Event-ID`).
    pub cursor: i64,
    /// What is revoked.
    #[serde(flatten)]
    pub revoked: Revoked,
    /// When the entry stops mattering: every token it covers has expired by then.
    pub expires_at: i64,
}

/// What an entry revokes, as a verifier applies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Revoked {
    /// Every token carrying this `sid` (a logout, a revoked session, reuse detection).
    Session {
        /// The session id, as in the tokens' `sid`.
        sid: String,
    },
    /// This user's tokens issued at or before `not_after`: every one of them for a disabled or
    /// deleted user; only those without a `sid` after a logout-all or a password change (whose
    /// sessions each have their own `session` entry, and one may be kept).
    User {
        /// The user id, as in the tokens' `user_id` (and `sub` for OAuth tokens).
        user_id: String,
        /// Tokens with `iat` at or before this are revoked.
        not_after: i64,
        /// Whether only tokens without a `sid` are revoked.
        only_without_sid: bool,
    },
    /// Every token issued to this OAuth client (it was deleted).
    Client {
        /// The `client_id`.
        client_id: String,
    },
    /// One token, by its `jti`.
    Token {
        /// The token's id.
        jti: String,
    },
}

impl AuthService {
    /// Feed entries after `after` (exclusive; none: from the oldest entry that still matters), at
    /// most `limit`. Log entries a verifier has nothing to do with (a user enabled again) are
    /// skipped, but still move the cursor.
    pub async fn revocation_feed(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, i64), AuthError> {
        let after = after.unwrap_or(0);
        let page = self
            .store
            .revocations_page(after, self.now(), limit)
            .await?;
        let cursor = page.last().map_or(after, |entry| entry.id);
        let entries = page
            .iter()
            .filter_map(|entry| self.feed_entry(entry))
            .collect();
        Ok((entries, cursor))
    }

    fn feed_entry(&self, entry: &Revocation) -> Option<FeedEntry> {
        // A user's status changes are logged without a time; they were logged when the entry was
        // made, which is its expiry less the longest token lifetime.
        let logged_at = entry
            .expires_at
            .saturating_sub(self.config.longest_token_lifetime());
        let revoked = match &entry.kind {
            RevocationKind::Session(sid) => Revoked::Session { sid: sid.0.clone() },
            RevocationKind::UserTokensBefore { user, before } => Revoked::User {
                user_id: user.0.to_string(),
                not_after: *before,
                only_without_sid: true,
            },
            RevocationKind::UserDisabled(user) | RevocationKind::UserDeleted(user) => {
                Revoked::User {
                    user_id: user.0.to_string(),
                    not_after: logged_at,
                    only_without_sid: false,
                }
            }
            RevocationKind::UserEnabled(_) => return None,
            RevocationKind::ClientDeleted(client) => Revoked::Client {
                client_id: client.clone(),
            },
            RevocationKind::Token(jti) => Revoked::Token { jti: jti.clone() },
        };
        Some(FeedEntry {
            cursor: entry.id,
            revoked,
            expires_at: entry.expires_at,
        })
    }

    /// Changes whenever this instance applies new revocations: the live feed waits on it.
    pub fn revocations_grown(&self) -> Result<tokio::sync::watch::Receiver<i64>, AuthError> {
        Ok(self.live()?.revocations.watch())
    }
}
