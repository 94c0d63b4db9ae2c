//! Every Django password format Tessera verifies, made in this run by Django itself (Django,
//! argon2-cffi and bcrypt from PyPI, in the venv `.ci/test` installs): the right password
//! matches and is re-hashed to argon2id, a wrong one does not, an unusable or unsupported hash
//! never matches.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use tessera_auth::django_password::{DjangoFormat, DjangoHash};
use tessera_auth::{PasswordHasher, PasswordPolicy};
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse ✓";

/// A Python with Django: `TESSERA_TEST_PYTHON` (set by `.ci/test`), else `python3` if it has it.
/// `None` (after saying why) outside CI; under CI a missing one fails.
fn python() -> Option<String> {
    let candidate = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let usable = Command::new(&candidate)
        .args(["-c", "import django, argon2, bcrypt"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(candidate);
    }
    let why = format!(
        "{candidate} lacks Django, argon2-cffi or bcrypt (`bash .ci/test` installs them; or set TESSERA_TEST_PYTHON)"
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

fn django_hashes(python: &str) -> BTreeMap<String, String> {
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/django_hashes.py"
        ))
        .arg(PASSWORD)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn hasher() -> PasswordHasher {
    let policy = PasswordPolicy {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    PasswordHasher::new(policy, 2).unwrap()
}

#[tokio::test]
async fn every_supported_django_format_verifies_and_is_upgraded() {
    let Some(python) = python() else {
        return;
    };
    let hashes = django_hashes(&python);
    let hasher = hasher();
    let expected = [
        ("pbkdf2_sha256", DjangoFormat::Pbkdf2Sha256),
        ("pbkdf2_sha256_low", DjangoFormat::Pbkdf2Sha256),
        ("pbkdf2_sha1", DjangoFormat::Pbkdf2Sha1),
        ("argon2id", DjangoFormat::Argon2),
        ("argon2i", DjangoFormat::Argon2),
        ("bcrypt_sha256", DjangoFormat::BcryptSha256),
        ("bcrypt", DjangoFormat::Bcrypt),
        ("scrypt", DjangoFormat::Scrypt),
    ];
    for (name, format) in expected {
        let hash = hashes[name].clone();
        assert_eq!(
            DjangoHash::of(&hash),
            DjangoHash::Supported(format),
            "{name}"
        );
        let right = hasher
            .verify_login(Zeroizing::new(PASSWORD.into()), Some(hash.clone()))
            .await
            .unwrap();
        assert!(right.matches, "{name}: {hash}");
        let upgraded = right
            .upgraded
            .unwrap_or_else(|| panic!("{name} not re-hashed"));
        assert!(
            upgraded.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{upgraded}"
        );
        let again = hasher
            .verify_login(Zeroizing::new(PASSWORD.into()), Some(upgraded))
            .await
            .unwrap();
        assert!(
            again.matches && again.upgraded.is_none(),
            "{name}: the new hash is current"
        );
        let wrong = hasher
            .verify_login(Zeroizing::new("correct horse".into()), Some(hash.clone()))
            .await
            .unwrap();
        assert!(
            !wrong.matches && wrong.upgraded.is_none(),
            "{name}: a wrong password"
        );
    }
    for (name, verdict) in [
        ("unusable", DjangoHash::Unusable),
        ("md5", DjangoHash::Unsupported("md5")),
    ] {
        let hash = hashes[name].clone();
        assert_eq!(DjangoHash::of(&hash), verdict, "{name}");
        let checked = hasher
            .verify_login(Zeroizing::new(PASSWORD.into()), Some(hash))
            .await
            .unwrap();
        assert!(!checked.matches, "{name} never matches");
    }
}
