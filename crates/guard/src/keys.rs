//! The issuer's key set, fetched and cached.
//!
//! - Cached for the response's `Cache-Control: max-age`, bounded below (an issuer answering
//!   `max-age=0` is not fetched on every request) and above; refreshed in the background.
//! - A token naming an unknown `kid` triggers a refetch, at most once per cooldown however many
//!   such tokens arrive: a flood of bogus kids costs the issuer one request per cooldown.
//! - A failed fetch keeps the last good set.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use tessera_jwt::{JwkSet, KeySet, VerifyingKey};

use crate::error::FetchError;
use crate::http::Http;
use crate::issuer::Issuer;

/// How long key sets are cached and how often an unknown `kid` may cause a fetch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyPolicy {
    pub(crate) min_age: Duration,
    pub(crate) max_age: Duration,
    pub(crate) cooldown: Duration,
}

#[derive(Debug)]
struct Cached {
    keys: Arc<KeySet>,
    /// Monotonic time after which the set is refreshed.
    fresh_until: Duration,
}

/// The issuer's keys.
pub(crate) struct RemoteKeys {
    http: Http,
    issuer: Issuer,
    policy: KeyPolicy,
    /// Where the keys are, once discovered.
    jwks_url: Mutex<Option<Url>>,
    cached: RwLock<Option<Cached>>,
    /// One fetch at a time; waiters find the set it fetched.
    fetching: tokio::sync::Mutex<()>,
    /// Monotonic time of the last fetch started.
    last_fetch: Mutex<Option<Duration>>,
    fetches: AtomicU64,
}

/// What the issuer's metadata says about its keys.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: Option<String>,
}

impl RemoteKeys {
    pub(crate) fn new(http: Http, issuer: Issuer, policy: KeyPolicy) -> RemoteKeys {
        RemoteKeys {
            http,
            issuer,
            policy,
            jwks_url: Mutex::new(None),
            cached: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            last_fetch: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// The current set, if one was ever fetched.
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|c| Arc::clone(&c.keys))
    }

    /// How many key set fetches were started (metadata requests not counted).
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// How long until the cached set should be refreshed (zero when there is none).
    pub(crate) fn refresh_in(&self) -> Duration {
        let now = self.http.clock().monotonic();
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(Duration::ZERO, |c| c.fresh_until.saturating_sub(now))
    }

    /// The set after a token named a key it lacks: refetched unless a fetch started within the
    /// cooldown or is running now (then the current set).
    pub(crate) async fn after_unknown_kid(&self) -> Option<Arc<KeySet>> {
        if !self.cooled_down() {
            return self.current();
        }
        // A fetch already running (the background refresh, or another request's): no request
        // waits behind it; this one answers from the set at hand.
        let Ok(_one_at_a_time) = self.fetching.try_lock() else {
            return self.current();
        };
        if !self.cooled_down() {
            return self.current();
        }
        if let Err(error) = self.fetch_locked().await {
            tracing::warn!(%error, "guard: refetching the issuer's keys failed; keeping the last good set");
        }
        self.current()
    }

    /// Fetches the set now (the background refresh, and the first fetch).
    pub(crate) async fn refresh(&self) -> Result<(), FetchError> {
        let _one_at_a_time = self.fetching.lock().await;
        self.fetch_locked().await
    }

    fn cooled_down(&self) -> bool {
        let now = self.http.clock().monotonic();
        self.last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|last| now.saturating_sub(last) >= self.policy.cooldown)
    }

    async fn fetch_locked(&self) -> Result<(), FetchError> {
        let clock = Arc::clone(self.http.clock());
        *self.last_fetch.lock().unwrap_or_else(|e| e.into_inner()) = Some(clock.monotonic());
        let url = self.jwks_url().await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = self.http.get(&url, "application/json").await?;
        let invalid = |reason: String| FetchError::Invalid {
            url: url.to_string(),
            reason,
        };
        if fetched.status != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: fetched.status.as_u16(),
            });
        }
        let text = std::str::from_utf8(&fetched.body).map_err(|e| invalid(e.to_string()))?;
        let keys = parse_key_set(text).map_err(invalid)?;
        let max_age = fetched
            .headers
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age)
            .unwrap_or(Duration::ZERO)
            .clamp(self.policy.min_age, self.policy.max_age);
        tracing::debug!(
            keys = keys.keys().len(),
            ?max_age,
            "guard: fetched the issuer's keys"
        );
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
            keys: Arc::new(keys),
            fresh_until: clock.monotonic().saturating_add(max_age),
        });
        Ok(())
    }

    /// The key set's address: the metadata's `jwks_uri` (whose `issuer` must be ours, RFC 8414
    /// §3.3), or `{issuer}/.well-known/jwks.json` when the issuer publishes no metadata.
    async fn jwks_url(&self) -> Result<Url, FetchError> {
        if let Some(url) = self
            .jwks_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(url);
        }
        let metadata_url = self.issuer.metadata_url();
        let fetched = self.http.get(&metadata_url, "application/json").await?;
        let invalid = |reason: String| FetchError::Invalid {
            url: metadata_url.to_string(),
            reason,
        };
        let url = match fetched.status {
            reqwest::StatusCode::OK => {
                let metadata: Metadata =
                    serde_json::from_slice(&fetched.body).map_err(|e| invalid(e.to_string()))?;
                if metadata.issuer.trim_end_matches('/') != self.issuer.id() {
                    return Err(invalid(format!(
                        "the metadata names issuer {:?}, not {:?}",
                        metadata.issuer,
                        self.issuer.id()
                    )));
                }
                match metadata.jwks_uri {
                    Some(uri) => {
                        let url = Url::parse(&uri).map_err(|e| invalid(e.to_string()))?;
                        self.issuer
                            .check(&url)
                            .map_err(|e| invalid(format!("jwks_uri refused: {e}")))?;
                        url
                    }
                    None => self.issuer.default_jwks_url(),
                }
            }
            reqwest::StatusCode::NOT_FOUND => self.issuer.default_jwks_url(),
            status => {
                return Err(FetchError::Status {
                    url: metadata_url.to_string(),
                    status: status.as_u16(),
                });
            }
        };
        tracing::info!(jwks_uri = %url, "guard: the issuer's keys are here");
        *self.jwks_url.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
        Ok(url)
    }
}

/// Reads a remote JWK Set for verification, as the guard does. Keys that are not for signatures or of a kind this library
/// does not verify are skipped (an issuer may publish encryption keys beside its signing keys);
/// a symmetric key is refused outright, since a published secret verifies forgeries.
pub fn parse_key_set(json: &str) -> Result<KeySet, String> {
    let set = JwkSet::from_json(json).map_err(|e| e.to_string())?;
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for jwk in &set.keys {
        if jwk.kty == "oct" {
            return Err("the key set publishes a symmetric key".into());
        }
        if jwk.is_private() {
            return Err("the key set publishes a private key".into());
        }
        match VerifyingKey::from_jwk(jwk, None) {
            Ok(key) if keys.iter().any(|k| k.kid() == key.kid()) => {
                return Err(format!("key id {:?} appears twice", key.kid().as_str()));
            }
            Ok(key) => keys.push(key),
            Err(error) => {
                tracing::debug!(kid = ?jwk.kid, %error, "guard: skipping a published key");
            }
        }
    }
    if keys.is_empty() {
        return Err("the key set has no usable signature key".into());
    }
    KeySet::new(keys).map_err(|e| e.to_string())
}

/// `max-age` from one `Cache-Control` value; `no-store`/`no-cache` count as zero.
fn max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for directive in value.split(',').map(str::trim) {
        let (name, argument) = directive
            .split_once('=')
            .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            let seconds = argument?.trim_matches('"').parse::<u64>().ok()?;
            found = Some(Duration::from_secs(seconds));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_jwt::{Algorithm, SigningKey};

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("MAX-AGE=\"7\""), Some(Duration::from_secs(7)));
        assert_eq!(max_age("max-age=60, no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
        assert_eq!(max_age("max-age=-1"), None);
    }

    fn public(alg: Algorithm, kid: &str) -> serde_json::Value {
        let key = SigningKey::generate(alg).unwrap().with_kid(kid);
        serde_json::to_value(key.verifying_key().unwrap().to_public_jwk().unwrap()).unwrap()
    }

    #[test]
    fn remote_sets_skip_keys_for_other_uses_and_refuse_secrets() {
        let mut enc = public(Algorithm::ES256, "enc");
        enc["use"] = "enc".into();
        let set = serde_json::json!({ "keys": [public(Algorithm::ES256, "a"), enc, public(Algorithm::EdDSA, "b")] });
        let keys = parse_key_set(&set.to_string()).unwrap();
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid().to_string()).collect();
        assert_eq!(kids, ["a", "b"]);

        let secret = serde_json::json!({ "keys": [{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","alg":"HS256","kid":"s"}] });
        assert!(
            parse_key_set(&secret.to_string())
                .unwrap_err()
                .contains("symmetric")
        );
        assert!(
            parse_key_set(r#"{"keys":[]}"#)
                .unwrap_err()
                .contains("no usable")
        );
        let twice = serde_json::json!({ "keys": [public(Algorithm::ES256, "a"), public(Algorithm::ES256, "a")] });
        assert!(
            parse_key_set(&twice.to_string())
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_key_set("{").is_err());
    }
}
