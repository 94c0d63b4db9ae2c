//! Password hashing with argon2id on a bounded blocking pool.
//!
//! Hashing is deliberately slow; at most `max_concurrent` hashes run at once, on tokio's blocking
//! threads, so a login flood queues up here instead of starving the threads that verify tokens.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Argon2, Block, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::django_password::DjangoHash;
use crate::error::AuthError;

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug)]
pub struct PasswordPolicy {
    /// Memory in KiB (OWASP: 19 MiB).
    pub memory_kib: u32,
    /// Passes (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for PasswordPolicy {
    /// OWASP Password Storage Cheat Sheet: argon2id, m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        PasswordPolicy {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The verdict on a login's password.
#[derive(Debug)]
pub struct Checked {
    /// Whether the password matched.
    pub matches: bool,
    /// A new argon2id hash of the password, when the stored one should be replaced.
    pub upgraded: Option<String>,
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the username is unknown so that an
    /// unknown user costs the same time as a wrong password.
    dummy_hash: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `policy`, running at most `max_concurrent` hashes at once.
    pub fn new(policy: PasswordPolicy, max_concurrent: usize) -> Result<PasswordHasher, AuthError> {
        let params = Params::new(
            policy.memory_kib,
            policy.iterations,
            policy.parallelism,
            None,
        )
        .map_err(|e| AuthError::InvalidInput(format!("argon2 parameters: {e}")))?;
        let dummy = hash_blocking(&params, &crate::ids::random_hex())?;
        Ok(PasswordHasher {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: Arc::new(dummy),
        })
    }

    /// The default worker count: every core but one, so verification always has a core.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1).max(1))
            .unwrap_or(1)
    }

    /// Hashes `password` into a PHC string.
    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, AuthError> {
        let params = self.params.clone();
        self.run(move || hash_blocking(&params, &password)).await?
    }

    /// Checks `password` against `hash`; with no hash (unknown user) it checks against a dummy hash
    /// and returns false, taking the same time.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        hash: Option<String>,
    ) -> Result<bool, AuthError> {
        let (known, hash) = self.verifiable(hash);
        let matches = self
            .run(move || verify_blocking(&hash, password.as_bytes()))
            .await?;
        Ok(known && matches)
    }

    /// [`PasswordHasher::verify`] for a login: on a match against a hash that is not argon2id
    /// with the current parameters (an imported Django hash, or an older cost), also a new hash of
    /// the same password to store in its place.
    #[tracing::instrument(skip_all)]
    pub async fn verify_login(
        &self,
        password: Zeroizing<String>,
        hash: Option<String>,
    ) -> Result<Checked, AuthError> {
        let (known, hash) = self.verifiable(hash);
        let params = self.params.clone();
        let (matches, upgraded) = self
            .run(move || {
                if !verify_blocking(&hash, password.as_bytes()) {
                    return Ok((false, None));
                }
                match needs_rehash(&hash, &params) {
                    true => hash_blocking(&params, &password).map(|new| (true, Some(new))),
                    false => Ok((true, None)),
                }
            })
            .await??;
        Ok(Checked {
            matches: known && matches,
            upgraded: upgraded.filter(|_| known),
        })
    }

    /// The hash to check against, and whether a match counts. An unknown user, an unusable
    /// password and a format Tessera does not verify all cost one check of the dummy hash, so
    /// timing does not tell them from a wrong password.
    fn verifiable(&self, hash: Option<String>) -> (bool, String) {
        match hash {
            Some(hash)
                if hash.starts_with('$')
                    || matches!(DjangoHash::of(&hash), DjangoHash::Supported(_)) =>
            {
                (true, hash)
            }
            _ => (false, self.dummy_hash.as_ref().clone()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AuthError::Internal("password hasher closed".into()))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| AuthError::Internal(format!("password hashing task failed: {e}")))
    }
}

/// More than glibc's largest dynamic mmap threshold (32 MiB on 64-bit). glibc serves a large
/// allocation with a mapping of its own and unmaps it on free, but raises the threshold to the
/// size of each such freed chunk up to that maximum: after the first login, every later 19 MiB
/// argon2 buffer would come from a thread's arena and stay resident there. Reserving more address
/// space than the maximum keeps each buffer a mapping of its own, returned to the OS as soon as
/// the hash is done; only the pages argon2 touches are ever resident. (Other allocators return
/// such buffers anyway; the reservation then costs only address space.)
const OWN_MAPPING_BYTES: usize = 33 << 20;

/// argon2 into `out`, with its working memory in a buffer that is returned to the OS afterwards.
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let count = argon2.params().block_count();
    let reserve = count.max(OWN_MAPPING_BYTES / std::mem::size_of::<Block>());
    let mut blocks: Vec<Block> = Vec::with_capacity(reserve);
    blocks.resize(count, Block::default());
    argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..])
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, AuthError> {
    let failed =
        |e: password_hash::Error| AuthError::Internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let algorithm = argon2::Algorithm::Argon2id;
    let argon2 = Argon2::new(algorithm, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        Ok(argon2_into(&argon2, password.as_bytes(), salt_bytes, out)?)
    })
    .map_err(failed)?;
    let hash = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the stored `hash`: Tessera's argon2 PHC string, or one of the
/// Django formats an imported user may still have. Anything else matches nothing.
fn verify_blocking(hash: &str, password: &[u8]) -> bool {
    if hash.starts_with('$') {
        return verify_phc(hash, password, Version::V0x13);
    }
    match DjangoHash::of(hash) {
        DjangoHash::Supported(format) => crate::django_password::verify(format, hash, password),
        DjangoHash::Unusable | DjangoHash::Unsupported(_) => false,
    }
}

/// Whether a stored hash should be replaced, after a successful login, by one made with `params`:
/// any hash that is not argon2id (v19) with exactly these parameters.
fn needs_rehash(hash: &str, params: &Params) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let current = Params::try_from(&parsed).ok();
    parsed.algorithm != argon2::Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || current.is_none_or(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (params.m_cost(), params.t_cost(), params.p_cost())
        })
}

/// Largest argon2 memory cost verified: 256 MiB (Django's default is 100 MiB, OWASP's 19 MiB)...
const MAX_ARGON2_MEMORY_KIB: u32 = 256 << 10;
/// ...and largest memory × passes: 1 GiB·pass.
const MAX_ARGON2_WORK_KIB: u64 = 1 << 20;

/// Whether `password` matches the argon2 PHC string `hash` (any variant, version and cost); a hash
/// that does not parse matches nothing. The comparison takes constant time.
/// A hash without `v=` is read as `default_version`.
pub(crate) fn verify_phc(hash: &str, password: &[u8], default_version: Version) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(default_version), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    // A stored hash beyond these costs (a corrupt or hostile import) would hold a hashing worker
    // for minutes, or its memory for gigabytes: it matches nothing.
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB || work > MAX_ARGON2_WORK_KIB || params.p_cost() > 64
    {
        return false;
    }
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    argon2_into(&argon2, password, salt_bytes, &mut computed).is_ok()
        && aws_lc_rs::constant_time::verify_slices_are_equal(&computed, expected.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            PasswordPolicy {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = cheap();
        let hash = hasher.hash(Zeroizing::new("s3cret".into())).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify(Zeroizing::new("s3cret".into()), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Zeroizing::new("S3cret".into()), Some(hash))
                .await
                .unwrap()
        );
    }

    /// Our hashing and verification agree with the argon2 crate's own PHC implementation, both
    /// ways, for every variant and for other costs and output lengths.
    #[test]
    fn agrees_with_the_argon2_crates_own_phc_implementation() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(64, 1, 1, None).unwrap();
        let ours = hash_blocking(&params, "s3cret").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"s3creT", &parsed)
                .is_err()
        );
        for algorithm in [
            argon2::Algorithm::Argon2id,
            argon2::Algorithm::Argon2i,
            argon2::Algorithm::Argon2d,
        ] {
            for (version, params) in [
                (Version::V0x13, Params::new(128, 2, 2, Some(48)).unwrap()),
                (Version::V0x10, Params::new(64, 3, 1, None).unwrap()),
            ] {
                let salt = SaltString::generate(&mut OsRng);
                let theirs = Argon2::new(algorithm, version, params)
                    .hash_password(b"pw", &salt)
                    .unwrap()
                    .to_string();
                assert!(verify_blocking(&theirs, b"pw"), "{theirs}");
                assert!(!verify_blocking(&theirs, b"pw "), "{theirs}");
            }
        }
        for garbage in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA",
            "plain",
        ] {
            assert!(!verify_blocking(garbage, b""));
        }
    }

    #[tokio::test]
    async fn unknown_user_never_matches_even_the_dummy_password() {
        let hasher = cheap();
        assert!(
            !hasher
                .verify(Zeroizing::new(String::new()), None)
                .await
                .unwrap()
        );
    }
}
