//! Signing keys: rotation, and what the key ring publishes.

use tessera_jwt::JwkSet;

use super::AuthService;
use crate::audit::{Acting, AuditKind};
use crate::error::AuthError;
use crate::keyring::KeyRing;
use crate::store::KeyInfo;

/// Where a stored key stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published (in the JWKS) but not signing until its `created_at`.
    Published,
    /// The key that signs new tokens.
    Signing,
    /// Still signing until a newer key takes over at this time.
    SigningUntil(i64),
    /// Retired from signing; verifies tokens it signed until this time (if known).
    Verifying(Option<i64>),
    /// Past the last token it can have signed.
    Expired,
}

impl KeyStatus {
    /// The status of `key` at `now`.
    pub fn of(key: &KeyInfo, now: i64) -> KeyStatus {
        match (key.retired_at, key.expires_at) {
            _ if key.created_at > now => KeyStatus::Published,
            (None, _) => KeyStatus::Signing,
            (Some(retired), _) if retired > now => KeyStatus::SigningUntil(retired),
            (Some(_), Some(until)) if until <= now => KeyStatus::Expired,
            (Some(_), until) => KeyStatus::Verifying(until),
        }
    }
}

impl AuthService {
    /// Generates a new signing key and stores it. It is published at once but signs only
    /// `key_publish_ahead` later; the previous key verifies until every token it can have signed has
    /// expired. A serving instance uses it at once; others are told.
    pub async fn rotate_key(&self, acting: &Acting) -> Result<KeyInfo, AuthError> {
        let now = self.now();
        let event = acting.event(now, AuditKind::KeyRotated);
        let (key, event) = KeyRing::rotate(self.store.as_ref(), &self.config, now, event).await?;
        self.log_audit(std::slice::from_ref(&event));
        if let Some(live) = &self.live {
            live.keys.reload(self.store.as_ref(), now).await?;
        }
        self.announcer.announce().await;
        Ok(key)
    }

    /// Every stored key with where it stands now, oldest first.
    pub async fn keys(&self) -> Result<Vec<(KeyInfo, KeyStatus)>, AuthError> {
        let now = self.now();
        Ok(self
            .store
            .keys()
            .await?
            .into_iter()
            .map(|key| {
                let status = KeyStatus::of(&key, now);
                (key, status)
            })
            .collect())
    }

    /// The published key set: public keys only; an HMAC-only ring publishes `{"keys":[]}`.
    pub fn public_jwks(&self) -> Result<JwkSet, AuthError> {
        Ok(self.live()?.keys.public_jwks())
    }

    /// Seconds a published key set may be cached: a rotated-in key is published this long before
    /// it signs (`key_publish_ahead`), so a cache that old still holds every key that signs.
    pub fn jwks_max_age(&self) -> i64 {
        self.config.key_publish_ahead.max(0)
    }

    /// Id of the key that signs new tokens.
    pub fn signing_kid(&self) -> Result<String, AuthError> {
        Ok(self.live()?.keys.signing_kid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_key_s_times() {
        let key = |created_at, retired_at, expires_at| KeyInfo {
            kid: "k".into(),
            alg: "ES256".into(),
            created_at,
            retired_at,
            expires_at,
        };
        assert_eq!(KeyStatus::of(&key(10, None, None), 5), KeyStatus::Published);
        assert_eq!(KeyStatus::of(&key(10, None, None), 10), KeyStatus::Signing);
        assert_eq!(
            KeyStatus::of(&key(10, Some(20), Some(30)), 15),
            KeyStatus::SigningUntil(20)
        );
        assert_eq!(
            KeyStatus::of(&key(10, Some(20), Some(30)), 25),
            KeyStatus::Verifying(Some(30))
        );
        assert_eq!(
            KeyStatus::of(&key(10, Some(20), Some(30)), 30),
            KeyStatus::Expired
        );
    }
}
