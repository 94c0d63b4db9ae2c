//! A small bounded cache that keeps hot paths off the crypto: verifiers remember tokens they
//! already verified by their exact text (the server and `tessera-guard` alike).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::RwLock;

/// A bounded map that forgets everything when full. Simple, predictable, and good enough for a
/// working set that turns over with token lifetimes: a full cache is refilled by the next requests.
#[derive(Debug)]
pub struct BoundedCache<K, V, S = RandomState> {
    entries: RwLock<HashMap<K, V, S>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    /// An empty cache holding at most `capacity` entries (0 turns it off).
    pub fn new(capacity: usize) -> Self {
        BoundedCache::with_hasher(capacity, RandomState::new())
    }
}

/// Hashes a token by its last 32 bytes (its signature, which nobody can choose for a token that
/// verifies) and its length, with SipHash under random keys: a cache keyed by token text then
/// hashes 40 bytes per lookup instead of the whole token. Equality still compares every byte.
#[derive(Clone, Debug, Default)]
pub struct TokenTailHasher(RandomState);

impl BuildHasher for TokenTailHasher {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

/// The hasher of [`TokenTailHasher`].
#[derive(Debug)]
pub struct TailHasher(std::collections::hash_map::DefaultHasher);

impl Hasher for TailHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    fn write(&mut self, bytes: &[u8]) {
        let tail = bytes.len().saturating_sub(32);
        self.0.write(&bytes[tail..]);
        self.0.write_usize(bytes.len());
    }
}

impl<K: Eq + Hash, V: Clone, S: BuildHasher> BoundedCache<K, V, S> {
    /// An empty cache holding at most `capacity` entries, hashing keys with `hasher`.
    pub fn with_hasher(capacity: usize, hasher: S) -> Self {
        BoundedCache {
            entries: RwLock::new(HashMap::with_hasher(hasher)),
            capacity,
        }
    }

    /// The value for `key` if `fresh` accepts it; a stale entry is dropped.
    pub fn get<Q>(&self, key: &Q, fresh: impl Fn(&V) -> bool) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let value = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()?;
        if fresh(&value) {
            return Some(value);
        }
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        None
    }

    /// The value for `key`, however old.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Remembers `value` for `key`; a full cache is emptied first.
    pub fn insert(&self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value);
    }

    /// Forgets `key`.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_fresh_and_removable() {
        let cache = BoundedCache::new(2);
        cache.insert("a".to_owned(), 1);
        cache.insert("b".to_owned(), 2);
        assert_eq!(cache.get("a", |_| true), Some(1));
        assert_eq!(
            cache.get("a", |v| *v > 1),
            None,
            "stale entries are dropped"
        );
        assert_eq!(cache.len(), 1);
        cache.insert("c".to_owned(), 3);
        cache.insert("d".to_owned(), 4);
        assert!(cache.len() <= 2);
        cache.remove("d");
        assert_eq!(cache.get("d", |_| true), None);
        let off = BoundedCache::new(0);
        off.insert("x".to_owned(), 1);
        assert_eq!(off.get("x", |_| true), None);
        // Keys alike in their last 32 bytes are still told apart.
        let tails = BoundedCache::with_hasher(10, TokenTailHasher::default());
        let tail = "s".repeat(40);
        tails.insert(format!("a.{tail}").into_boxed_str(), 1);
        tails.insert(format!("b.{tail}").into_boxed_str(), 2);
        assert_eq!(tails.get(format!("a.{tail}").as_str(), |_| true), Some(1));
        assert_eq!(tails.get(format!("b.{tail}").as_str(), |_| true), Some(2));
        assert_eq!(tails.get(format!("c.{tail}").as_str(), |_| true), None);
    }
}
