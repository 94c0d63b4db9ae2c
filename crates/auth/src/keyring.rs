//! The key ring: the key that signs new tokens and every key that still verifies old ones.

use std::sync::{Arc, RwLock};

use tessera_jwt::{Jwk, JwkSet, KeySet, SigningKey, VerifyingKey};

use zeroize::Zeroizing;

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::sealing::{self, MasterKey};
use crate::store::{KeyInfo, Store};

/// One consistent view of the keys.
#[derive(Debug)]
pub(crate) struct KeyMaterial {
    pub(crate) signing: SigningKey,
    pub(crate) verifying: KeySet,
    /// What the view was built from, to notice changes cheaply.
    fingerprint: Fingerprint,
}

/// Keys shared by every instance through the store, plus an optional operator-supplied key.
#[derive(Debug)]
pub struct KeyRing {
    material: RwLock<Arc<KeyMaterial>>,
    operator: Option<SigningKey>,
    master: Option<MasterKey>,
}

fn internal(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(e.to_string())
}

impl KeyRing {
    /// Loads the stored keys. With no operator key and no stored key able to sign now, generates
    /// one with the configured algorithm, signing at once, and stores it (the embedded default's
    /// first start).
    pub async fn load(
        store: &dyn Store,
        config: &AuthConfig,
        operator: Option<SigningKey>,
        now: i64,
    ) -> Result<KeyRing, AuthError> {
        let mut stored = store.keys().await?;
        if operator.is_none() && !stored.iter().any(|k| signs_at(k, now)) {
            KeyRing::store_new(store, config, now, None).await?;
            stored = store.keys().await?;
        }
        let master = config.master_key.clone();
        let material = build(store, &stored, operator.as_ref(), master.as_ref(), now).await?;
        Ok(KeyRing {
            material: RwLock::new(Arc::new(material)),
            operator,
            master,
        })
    }

    /// Generates a new signing key and stores it. It is published at once (JWKS, and every
    /// instance's verification set) but signs only `key_publish_ahead` seconds later, so that
    /// verifiers that cache the key set know it before they meet a token it signed. The previous
    /// key signs until then, and verifies until every token it can have signed has expired.
    /// `event` records the rotation, with the new key's id and algorithm added; it is stored with
    /// the key and returned for the log.
    pub async fn rotate(
        store: &dyn Store,
        config: &AuthConfig,
        now: i64,
        event: crate::audit::AuditEvent,
    ) -> Result<(KeyInfo, crate::audit::AuditEvent), AuthError> {
        let signs_from = now.saturating_add(config.key_publish_ahead.max(0));
        KeyRing::store_new(store, config, signs_from, Some(event)).await
    }

    async fn store_new(
        store: &dyn Store,
        config: &AuthConfig,
        signs_from: i64,
        event: Option<crate::audit::AuditEvent>,
    ) -> Result<(KeyInfo, crate::audit::AuditEvent), AuthError> {
        let key = SigningKey::generate(config.signing_algorithm).map_err(internal)?;
        let jwk = key.to_jwk().map_err(internal)?;
        let (kid, alg) = (key.kid().to_string(), key.algorithm().to_string());
        let private_jwk = Zeroizing::new(serde_json::to_string(&jwk).map_err(internal)?);
        // `created_at` is when the key starts signing; the store retires the others at that time.
        let private = sealing::seal(config.master_key.as_ref(), &kid, &alg, private_jwk)?;
        let info = KeyInfo {
            kid,
            alg,
            created_at: signs_from,
            retired_at: None,
            expires_at: None,
        };
        // The event learns the key's id here, where the key is made. The first key, made at
        // start, is recorded as the system's.
        let event = event
            .unwrap_or_else(|| {
                crate::audit::Acting::system()
                    .event(signs_from, crate::audit::AuditKind::KeyRotated)
            })
            .with("kid", info.kid.as_str())
            .with("alg", info.alg.as_str());
        store
            .rotate_in(
                &info,
                &private,
                signs_from.saturating_add(config.longest_token_lifetime()),
                std::slice::from_ref(&event),
            )
            .await?;
        Ok((info, event))
    }

    /// Re-reads the stored keys' public facts and, if they changed (a rotation by the CLI or
    /// another instance, or an old key expiring), loads the keys and swaps in a new view. Returns
    /// whether anything changed. Private material is read only in that case.
    pub async fn reload(&self, store: &dyn Store, now: i64) -> Result<bool, AuthError> {
        let stored = store.keys().await?;
        let live = live_keys(&stored, now);
        if fingerprint(&live, now) == self.material().fingerprint {
            return Ok(false);
        }
        let material = build(
            store,
            &stored,
            self.operator.as_ref(),
            self.master.as_ref(),
            now,
        )
        .await?;
        *self.material.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(material);
        Ok(true)
    }

    pub(crate) fn material(&self) -> Arc<KeyMaterial> {
        Arc::clone(&self.material.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The published key set: public keys only; an HMAC-only ring publishes `{"keys":[]}`.
    pub fn public_jwks(&self) -> JwkSet {
        self.material().verifying.to_public_jwks()
    }

    /// Id of the key that signs new tokens.
    pub fn signing_kid(&self) -> String {
        self.material().signing.kid().to_string()
    }
}

fn live_keys(stored: &[KeyInfo], now: i64) -> Vec<&KeyInfo> {
    stored
        .iter()
        .filter(|k| k.expires_at.is_none_or(|t| t > now))
        .collect()
}

/// Whether `key` is the one to sign with at `now` (when several are, the newest).
fn signs_at(key: &KeyInfo, now: i64) -> bool {
    key.created_at <= now && key.retired_at.is_none_or(|retired| retired > now)
}

/// What a view was built from: the live keys, and which of them signs at `now` (that changes
/// with time alone when a pre-published key comes into force).
type Fingerprint = (Vec<(String, Option<i64>, Option<i64>)>, Option<String>);

fn fingerprint(live: &[&KeyInfo], now: i64) -> Fingerprint {
    let keys = live
        .iter()
        .map(|k| (k.kid.clone(), k.retired_at, k.expires_at))
        .collect();
    let signer = live
        .iter()
        .rev()
        .find(|k| signs_at(k, now))
        .map(|k| k.kid.clone());
    (keys, signer)
}

/// Loads the live keys (their private halves read now, one by one) into a view.
async fn build(
    store: &dyn Store,
    stored: &[KeyInfo],
    operator: Option<&SigningKey>,
    master: Option<&MasterKey>,
    now: i64,
) -> Result<KeyMaterial, AuthError> {
    let live = live_keys(stored, now);
    let mut signing = operator.cloned();
    let mut verifying = Vec::new();
    for key in &live {
        let sealed = store.private_key(&key.kid).await?.ok_or_else(|| {
            AuthError::Internal(format!(
                "signing key {}: its private half is missing",
                key.kid
            ))
        })?;
        if master.is_some() && !sealing::is_sealed(sealed.expose()) {
            tracing::warn!(
                kid = %key.kid,
                "a stored signing key is not encrypted at rest; `tessera keys rotate` replaces it \
                 with a sealed one"
            );
        }
        let private_jwk = sealing::open(master, &key.kid, &key.alg, &sealed)?;
        let jwk = Jwk::from_json(&private_jwk).map_err(internal)?;
        let private = SigningKey::from_jwk(&jwk, Some(key.alg.parse().map_err(internal)?))
            .map_err(internal)?
            .with_kid(key.kid.clone());
        verifying.push(private.verifying_key().map_err(internal)?);
        if signs_at(key, now) && operator.is_none() {
            // The newest key in force wins (keys are ordered oldest first).
            signing = Some(private);
        }
    }
    let signing = signing.ok_or_else(|| AuthError::Internal("no signing key".into()))?;
    if !verifying
        .iter()
        .any(|k: &VerifyingKey| k.kid() == signing.kid())
    {
        verifying.push(signing.verifying_key().map_err(internal)?);
    }
    let mut set = KeySet::new(verifying).map_err(internal)?;
    set.set_default_for_missing_kid(signing.kid())
        .map_err(internal)?;
    Ok(KeyMaterial {
        signing,
        verifying: set,
        fingerprint: fingerprint(&live, now),
    })
}
