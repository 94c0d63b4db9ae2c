//! Password hashes as Django stores them (`algorithm$...`), so that users imported from a Django
//! site log in with the passwords they have; after the first successful login they are re-hashed
//! to Tessera's argon2id. Each format is verified with the library that does it best (aws-lc-rs
//! for PBKDF2, RustCrypto's argon2 and scrypt, the `bcrypt` crate) and compared in constant time.
//! Nothing here hashes new passwords.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// The Django hash formats Tessera verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DjangoFormat {
    /// `pbkdf2_sha256$ITERATIONS$SALT$HASH` (Django's default).
    Pbkdf2Sha256,
    /// `pbkdf2_sha1$ITERATIONS$SALT$HASH`.
    Pbkdf2Sha1,
    /// `argon2$argon2id$v=19$m=…,t=…,p=…$SALT$HASH` (argon2id or argon2i).
    Argon2,
    /// `bcrypt_sha256$$2b$…`: bcrypt of the SHA-256 hex digest of the password.
    BcryptSha256,
    /// `bcrypt$$2b$…`.
    Bcrypt,
    /// `scrypt$N$SALT$R$P$HASH`.
    Scrypt,
}

/// What a stored Django password is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DjangoHash<'a> {
    /// A format Tessera verifies.
    Supported(DjangoFormat),
    /// `!…`: Django's unusable password (`set_unusable_password`); it never matches.
    Unusable,
    /// Another format (`md5`, `unsalted_md5`, `sha1`, `crypt`, ...), named by its prefix: the user
    /// must reset the password.
    Unsupported(&'a str),
}

impl<'a> DjangoHash<'a> {
    /// Classifies a stored Django password.
    pub fn of(encoded: &'a str) -> DjangoHash<'a> {
        if encoded.is_empty() || encoded.starts_with('!') {
            return DjangoHash::Unusable;
        }
        let algorithm = encoded.split('$').next().unwrap_or_default();
        let format = match algorithm {
            "pbkdf2_sha256" => DjangoFormat::Pbkdf2Sha256,
            "pbkdf2_sha1" => DjangoFormat::Pbkdf2Sha1,
            "argon2" => DjangoFormat::Argon2,
            "bcrypt_sha256" => DjangoFormat::BcryptSha256,
            "bcrypt" => DjangoFormat::Bcrypt,
            "scrypt" => DjangoFormat::Scrypt,
            // No `algorithm$` prefix (a bare digest), or an empty one: no name to report.
            other if other.is_empty() || other.len() == encoded.len() => {
                return DjangoHash::Unsupported("unknown");
            }
            other => return DjangoHash::Unsupported(other),
        };
        DjangoHash::Supported(format)
    }
}

/// Highest costs verified: a stored hash beyond them (a corrupt or hostile import) would make one
/// login take minutes of a hashing worker. Django's defaults are far below (PBKDF2 1,000,000
/// iterations, bcrypt cost 12, scrypt N = 2^14).
const MAX_PBKDF2_ITERATIONS: u32 = 5_000_000;
const MAX_BCRYPT_COST: u32 = 14;
/// scrypt's memory is 128·N·r bytes: at most 64 MiB (hashlib's default limit is 32 MiB).
const MAX_SCRYPT_MEMORY: u64 = 64 << 20;
/// scrypt's work is N·r·p: at most four times Django's default (2^14 · 8 · 5).
const MAX_SCRYPT_WORK: u64 = 4 * (1 << 14) * 8 * 5;

/// Whether `password` matches the Django hash `encoded` of `format`. A malformed hash, or one
/// whose cost is beyond the limits above, matches nothing.
pub fn verify(format: DjangoFormat, encoded: &str, password: &[u8]) -> bool {
    match format {
        DjangoFormat::Pbkdf2Sha256 => {
            pbkdf2(encoded, password, aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256, 32)
        }
        DjangoFormat::Pbkdf2Sha1 => {
            pbkdf2(encoded, password, aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1, 20)
        }
        // Django writes the PHC string after its own prefix, without the leading `$`. Old Django
        // hashes have no `v=`: they are argon2 1.0 (0x10), as argon2-cffi reads them.
        DjangoFormat::Argon2 => encoded
            .strip_prefix("argon2")
            .is_some_and(|phc| crate::password::verify_phc(phc, password, argon2::Version::V0x10)),
        DjangoFormat::Bcrypt => encoded
            .strip_prefix("bcrypt$")
            .filter(|hash| bcrypt_cost_ok(hash))
            .is_some_and(|hash| bcrypt::verify(password, hash).unwrap_or(false)),
        DjangoFormat::BcryptSha256 => encoded
            .strip_prefix("bcrypt_sha256$")
            .filter(|hash| bcrypt_cost_ok(hash))
            .is_some_and(|hash| {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, password);
                let hex = Zeroizing::new(hex(digest.as_ref()));
                bcrypt::verify(hex.as_bytes(), hash).unwrap_or(false)
            }),
        DjangoFormat::Scrypt => scrypt(encoded, password),
    }
}

/// `$2b$COST$...`: whether the cost is within the limit.
fn bcrypt_cost_ok(hash: &str) -> bool {
    hash.split('$')
        .nth(2)
        .and_then(|cost| cost.parse::<u32>().ok())
        .is_some_and(|cost| cost <= MAX_BCRYPT_COST)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `pbkdf2_*$ITERATIONS$SALT$BASE64`.
/// `length` is the digest's: Django's key is one block, and a longer stored key would multiply the
/// work.
fn pbkdf2(
    encoded: &str,
    password: &[u8],
    algorithm: aws_lc_rs::pbkdf2::Algorithm,
    length: usize,
) -> bool {
    let mut parts = encoded.split('$');
    let (Some(_), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Some(iterations) = iterations
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_PBKDF2_ITERATIONS)
        .and_then(std::num::NonZeroU32::new)
    else {
        return false;
    };
    let Ok(expected) = STANDARD.decode(hash) else {
        return false;
    };
    // Compared in constant time inside aws-lc-rs.
    expected.len() == length
        && aws_lc_rs::pbkdf2::verify(algorithm, iterations, salt.as_bytes(), password, &expected)
            .is_ok()
}

/// `scrypt$N$SALT$R$P$BASE64` (Django's `ScryptPasswordHasher`: work factor, salt, block size,
/// parallelism, a 64-byte key).
fn scrypt(encoded: &str, password: &[u8]) -> bool {
    let parts: Vec<&str> = encoded.split('$').collect();
    let [_, n, salt, r, p, hash] = parts.as_slice() else {
        return false;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return false;
    };
    if !n.is_power_of_two() || n < 2 {
        return false;
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    let memory = 128u64.saturating_mul(n).saturating_mul(u64::from(r));
    let work = n.saturating_mul(u64::from(r)).saturating_mul(u64::from(p));
    // Django's key is 64 bytes (88 base64 characters); a longer one would multiply the work.
    if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK || hash.len() > 128 {
        return false;
    }
    let Ok(expected) = STANDARD.decode(hash) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p, expected.len()) else {
        return false;
    };
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    scrypt::scrypt(password, salt.as_bytes(), &params, &mut computed).is_ok()
        && aws_lc_rs::constant_time::verify_slices_are_equal(&computed, &expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2 (`get_hasher("pbkdf2_sha256").encode("tessera", "seasalt", 1000)`), so
    /// one format is checked against Django even where Python is absent; the integration tests
    /// check every format against hashes Django makes in the run.
    const PBKDF2_SHA256: &str =
        "pbkdf2_sha256$1000$seasalt$JufROfxj26yFKzOTf2LtZ4LBpdvdVUqDMTeLsZNG59w=";

    #[test]
    fn a_django_pbkdf2_hash_verifies() {
        assert!(verify(
            DjangoFormat::Pbkdf2Sha256,
            PBKDF2_SHA256,
            b"tessera"
        ));
        assert!(!verify(
            DjangoFormat::Pbkdf2Sha256,
            PBKDF2_SHA256,
            b"Tessera"
        ));
        assert!(!verify(DjangoFormat::Pbkdf2Sha1, PBKDF2_SHA256, b"tessera"));
    }

    #[test]
    fn formats_are_classified() {
        assert_eq!(
            DjangoHash::of(PBKDF2_SHA256),
            DjangoHash::Supported(DjangoFormat::Pbkdf2Sha256)
        );
        assert_eq!(DjangoHash::of("!Xk2abc"), DjangoHash::Unusable);
        assert_eq!(DjangoHash::of(""), DjangoHash::Unusable);
        assert_eq!(
            DjangoHash::of("md5$salt$abc"),
            DjangoHash::Unsupported("md5")
        );
        assert_eq!(
            DjangoHash::of("unsalted_md5$$abc"),
            DjangoHash::Unsupported("unsalted_md5")
        );
        assert_eq!(
            DjangoHash::of("5f4dcc3b5aa765d61d8327deb882cf99"),
            DjangoHash::Unsupported("unknown")
        );
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        for (format, bad) in [
            (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$0$salt$AAAA"),
            (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$x$salt$AAAA"),
            (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$1$salt$!!"),
            (DjangoFormat::Pbkdf2Sha256, "pbkdf2_sha256$1$salt$"),
            (
                DjangoFormat::Pbkdf2Sha256,
                "pbkdf2_sha256$1$salt$AAAA$extra",
            ),
            (DjangoFormat::Scrypt, "scrypt$3$salt$8$1$AAAA"),
            (DjangoFormat::Scrypt, "scrypt$16384$salt$8$1"),
            (DjangoFormat::Bcrypt, "bcrypt$$2b$nonsense"),
            (DjangoFormat::BcryptSha256, "bcrypt_sha256$"),
            (DjangoFormat::Argon2, "argon2$argon2id$v=19$m=x"),
            // Costs no login should pay.
            (
                DjangoFormat::Pbkdf2Sha256,
                "pbkdf2_sha256$4000000000$salt$AAAA",
            ),
            (
                DjangoFormat::Bcrypt,
                "bcrypt$$2b$31$OqF5tothc2rGqBJ55046WeDAkCXjIFojHOY/NL7O5ST.0pI23YVr2",
            ),
            (DjangoFormat::Scrypt, "scrypt$1073741824$salt$8$1$AAAA"),
            (
                DjangoFormat::Argon2,
                "argon2$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            ),
        ] {
            assert!(!verify(format, bad, b"tessera"), "{bad}");
        }
    }
}
