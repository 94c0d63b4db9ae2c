//! Wycheproof signature and MAC vectors, per JWS algorithm, through the same
//! [`VerifyingKey::verify_signature`] that tokens use: every `valid` accepted, every `invalid`
//! rejected, and every `acceptable` rejected too (the stricter choice).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tessera_jwt::{Algorithm, Error, KeyRejection, VerifyingKey};

use super::{groups, testvectors};
use crate::{hex, jwk};

#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    valid_accepted: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    /// Tests of groups whose key the library refused (all of them `invalid` or `acceptable`).
    key_refused: usize,
    /// Groups whose parameters are not those of the JWS algorithm.
    groups_skipped: usize,
    tests_skipped: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.valid_accepted
            + self.invalid_rejected
            + self.acceptable_rejected
            + self.key_refused
            + self.tests_skipped
    }
}

enum GroupKey {
    Use(Result<VerifyingKey, Error>),
    Skip(String),
}

fn run(file: &str, alg: Algorithm, key_of: impl Fn(&Value) -> GroupKey) -> Tally {
    let data = testvectors(file);
    let mut tally = Tally::default();
    for group in groups(&data) {
        let tests = group["tests"].as_array().unwrap();
        let key = match key_of(group) {
            GroupKey::Use(key) => key,
            GroupKey::Skip(why) => {
                println!("{file}: skipping a group of {} tests: {why}", tests.len());
                tally.groups_skipped += 1;
                tally.tests_skipped += tests.len();
                continue;
            }
        };
        for test in tests {
            let id = &test["tcId"];
            let result = test["result"].as_str().unwrap();
            let key = match &key {
                Ok(key) => key,
                Err(error) => {
                    assert_ne!(
                        result, "valid",
                        "{file} tcId {id}: the group's key was refused ({error}) but the test is valid"
                    );
                    tally.key_refused += 1;
                    continue;
                }
            };
            let message = hex(test["msg"].as_str().unwrap());
            let signature = hex(test["sig"].as_str().unwrap());
            let outcome = key.verify_signature(&message, &signature);
            let context = format!("{file} ({alg}) tcId {id} {}: {result}", test["comment"]);
            match result {
                "valid" => {
                    assert_eq!(outcome, Ok(()), "{context}");
                    tally.valid_accepted += 1;
                }
                "invalid" => {
                    assert_eq!(outcome, Err(Error::InvalidSignature), "{context}");
                    tally.invalid_rejected += 1;
                }
                "acceptable" => {
                    assert_eq!(
                        outcome,
                        Err(Error::InvalidSignature),
                        "{context}: we reject"
                    );
                    tally.acceptable_rejected += 1;
                }
                other => panic!("{context}: unknown result {other:?}"),
            }
        }
    }
    println!("{file} ({alg}): {tally:?}");
    assert_eq!(
        tally.total(),
        groups(&data)
            .iter()
            .map(|g| g["tests"].as_array().unwrap().len())
            .sum::<usize>()
    );
    assert!(
        tally.valid_accepted > 0 && tally.invalid_rejected > 0,
        "{file}: nothing was really checked: {tally:?}"
    );
    tally
}

/// The group's JWK, if it has one.
fn from_jwk(group: &Value, member: &str, alg: Algorithm) -> Option<Result<VerifyingKey, Error>> {
    group
        .get(member)
        .filter(|value| !value.is_null())
        .map(|value| VerifyingKey::from_jwk(&jwk(value), Some(alg)))
}

/// The group's DER `SubjectPublicKeyInfo`, wrapped as PEM.
fn from_der(group: &Value, alg: Algorithm) -> Result<VerifyingKey, Error> {
    let body = STANDARD.encode(hex(group["publicKeyDer"].as_str().unwrap()));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    VerifyingKey::from_pem(&pem, alg)
}

/// Runs `file` twice: with the group's JWK (DER where a group has none), then with DER only. Both
/// ways of loading a key must give the same verdicts.
fn jwk_then_der(
    file: &str,
    alg: Algorithm,
    jwk_member: &str,
    accept_group: impl Fn(&Value) -> Result<(), String>,
) -> Tally {
    let by_jwk = run(file, alg, |group| match accept_group(group) {
        Err(why) => GroupKey::Skip(why),
        Ok(()) => {
            GroupKey::Use(from_jwk(group, jwk_member, alg).unwrap_or_else(|| from_der(group, alg)))
        }
    });
    let by_der = run(file, alg, |group| match accept_group(group) {
        Err(why) => GroupKey::Skip(why),
        Ok(()) => GroupKey::Use(from_der(group, alg)),
    });
    assert_eq!(
        by_jwk, by_der,
        "{file}: JWK and DER keys give the same verdicts"
    );
    by_jwk
}

fn any_group(_: &Value) -> Result<(), String> {
    Ok(())
}

#[test]
fn ecdsa_p1363_as_es256_es384_es512() {
    for (file, alg, sha) in [
        (
            "ecdsa_secp256r1_sha256_p1363_test.json",
            Algorithm::ES256,
            "SHA-256",
        ),
        (
            "ecdsa_secp384r1_sha384_p1363_test.json",
            Algorithm::ES384,
            "SHA-384",
        ),
        (
            "ecdsa_secp521r1_sha512_p1363_test.json",
            Algorithm::ES512,
            "SHA-512",
        ),
    ] {
        let tally = jwk_then_der(file, alg, "publicKeyJwk", |group| {
            if group["sha"] == sha {
                Ok(())
            } else {
                Err(format!("hash {} is not {alg}'s", group["sha"]))
            }
        });
        assert_eq!(tally.groups_skipped, 0, "{file}");
        assert_eq!(tally.key_refused, 0, "{file}: every key is on the curve");
    }
}

#[test]
fn ed25519_as_eddsa() {
    let tally = jwk_then_der(
        "ed25519_test.json",
        Algorithm::EdDSA,
        "publicKeyJwk",
        any_group,
    );
    assert_eq!(tally.key_refused, 0);
}

#[test]
fn rsa_pkcs1_as_rs256_rs384_rs512() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
    ] {
        // `keyJwk` is the RSA files' name for the public JWK.
        let tally = jwk_then_der(file, alg, "keyJwk", any_group);
        assert_eq!(
            tally.acceptable_rejected, 1,
            "{file}: the one `acceptable` (MissingNull) is rejected"
        );
    }
}

#[test]
fn rsa_pss_as_ps256_ps384_ps512() {
    for (file, alg, sha, salt) in [
        (
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            "SHA-256",
            32,
        ),
        (
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            Algorithm::PS384,
            "SHA-384",
            48,
        ),
        // Wycheproof has no 2048-bit SHA-512/salt-64 file; the 4096-bit one has JWS's parameters.
        (
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            Algorithm::PS512,
            "SHA-512",
            64,
        ),
    ] {
        // RFC 7518 §3.5: hash = MGF1 hash, salt as long as the hash. Other groups are not PS*.
        let tally = jwk_then_der(file, alg, "publicKeyJwk", |group| {
            let parameters = (
                group["sha"].as_str(),
                group["mgf"].as_str(),
                group["mgfSha"].as_str(),
                group["sLen"].as_u64(),
            );
            if parameters == (Some(sha), Some("MGF1"), Some(sha), Some(salt)) {
                Ok(())
            } else {
                Err(format!("PSS parameters {parameters:?} are not {alg}'s"))
            }
        });
        println!(
            "{file}: {} group(s) with other PSS parameters skipped",
            tally.groups_skipped
        );
    }
}

#[test]
fn hmac_as_hs256_hs384_hs512() {
    for (file, alg) in [
        ("hmac_sha256_test.json", Algorithm::HS256),
        ("hmac_sha384_test.json", Algorithm::HS384),
        ("hmac_sha512_test.json", Algorithm::HS512),
    ] {
        let bits = match alg {
            Algorithm::HS256 => 256,
            Algorithm::HS384 => 384,
            _ => 512,
        };
        let data = testvectors(file);
        let (mut valid, mut invalid, mut short_keys, mut truncated) = (0, 0, 0, 0);
        for group in groups(&data) {
            let key_bits = group["keySize"].as_u64().unwrap();
            let tag_bits = group["tagSize"].as_u64().unwrap();
            for test in group["tests"].as_array().unwrap() {
                let context = format!("{file} tcId {} {}", test["tcId"], test["comment"]);
                let secret = hex(test["key"].as_str().unwrap());
                let key = VerifyingKey::from_hmac_secret(alg, &secret);
                // RFC 7518 §3.2: a key shorter than the hash output is refused when it is loaded.
                if key_bits < bits {
                    assert_eq!(
                        key.unwrap_err(),
                        Error::InvalidKey(KeyRejection::SecretTooShort {
                            min: bits as usize / 8,
                            found: secret.len()
                        }),
                        "{context}"
                    );
                    short_keys += 1;
                    continue;
                }
                let outcome = key.unwrap().verify_signature(
                    &hex(test["msg"].as_str().unwrap()),
                    &hex(test["tag"].as_str().unwrap()),
                );
                // A truncated tag, even a correct one, is never a JWS signature.
                if tag_bits != bits {
                    assert_eq!(
                        outcome,
                        Err(Error::InvalidSignature),
                        "{context}: truncated"
                    );
                    truncated += 1;
                    continue;
                }
                if test["result"] == "valid" {
                    assert_eq!(outcome, Ok(()), "{context}");
                    valid += 1;
                } else {
                    assert_eq!(test["result"], "invalid", "{context}");
                    assert_eq!(outcome, Err(Error::InvalidSignature), "{context}");
                    invalid += 1;
                }
            }
        }
        println!(
            "{file} ({alg}): valid accepted {valid}, invalid rejected {invalid}, \
             short keys refused {short_keys}, truncated tags rejected {truncated}"
        );
        assert!(valid > 0 && invalid > 0 && short_keys > 0 && truncated > 0);
        assert_eq!(
            (valid + invalid + short_keys + truncated) as u64,
            data["numberOfTests"].as_u64().unwrap()
        );
    }
}
