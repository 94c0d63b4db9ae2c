//! Wycheproof signature and MAC vectors, per algorithm: every `valid` accepted, every `invalid` (and
//! every `acceptable`) rejected, through the same `VerifyingKey::verify_signature` tokens use.

use serde_json::Value;
use tessera_jwt::{Algorithm, Jwk, VerifyingKey};

use crate::{hex, load};

#[derive(Default, Debug)]
struct Tally {
    accepted: usize,
    rejected: usize,
    key_refused: usize,
    groups_skipped: usize,
}

fn run(
    file: &str,
    key_of: impl Fn(&Value) -> Option<Result<VerifyingKey, tessera_jwt::Error>>,
) -> Tally {
    let data = load(&format!("wycheproof/testvectors_v1/{file}"));
    let mut tally = Tally::default();
    for group in data["testGroups"].as_array().unwrap() {
        let Some(key) = key_of(group) else {
            tally.groups_skipped += 1;
            continue;
        };
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let expected_valid = test["result"] == "valid";
            let key = match &key {
                Ok(key) => key,
                Err(error) => {
                    assert!(
                        !expected_valid,
                        "{file} tcId {id}: key refused ({error}) but the test is valid"
                    );
                    tally.key_refused += 1;
                    continue;
                }
            };
            let message = hex(test["msg"].as_str().unwrap());
            let signature = hex(test
                .get("sig")
                .or_else(|| test.get("tag"))
                .unwrap()
                .as_str()
                .unwrap());
            let accepted = key.verify_signature(&message, &signature).is_ok();
            assert_eq!(
                accepted, expected_valid,
                "{file} tcId {id} ({}): {}",
                test["comment"], test["result"]
            );
            if accepted {
                tally.accepted += 1;
            } else {
                tally.rejected += 1;
            }
        }
    }
    println!("{file}: {tally:?}");
    assert!(
        tally.accepted > 0 && tally.rejected > 0,
        "{file}: {tally:?}"
    );
    tally
}

fn from_jwk(
    group: &Value,
    member: &str,
    alg: Algorithm,
) -> Result<VerifyingKey, tessera_jwt::Error> {
    let mut jwk = Jwk::from_json(&group[member].to_string())?;
    jwk.kid = None;
    jwk.alg = None;
    VerifyingKey::from_jwk(&jwk, Some(alg))
}

fn from_spki_pem(group: &Value, alg: Algorithm) -> Result<VerifyingKey, tessera_jwt::Error> {
    VerifyingKey::from_pem(group["publicKeyPem"].as_str().unwrap(), alg)
}

#[test]
fn ecdsa_p1363_es256_es384_es512() {
    for (file, alg) in [
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
        ("ecdsa_secp521r1_sha512_p1363_test.json", Algorithm::ES512),
    ] {
        // The JWK where the group has one (some groups only carry DER), then the PEM for all.
        let jwk = run(file, |g| {
            Some(match g.get("publicKeyJwk").filter(|j| !j.is_null()) {
                Some(_) => from_jwk(g, "publicKeyJwk", alg),
                None => from_spki_pem(g, alg),
            })
        });
        let pem = run(file, |g| Some(from_spki_pem(g, alg)));
        assert_eq!(
            (jwk.accepted, jwk.rejected),
            (pem.accepted, pem.rejected),
            "{file}: JWK and PEM agree"
        );
    }
}

#[test]
fn ed25519() {
    run("ed25519_test.json", |g| {
        Some(match g.get("publicKeyJwk").filter(|j| !j.is_null()) {
            Some(_) => from_jwk(g, "publicKeyJwk", Algorithm::EdDSA),
            None => from_spki_pem(g, Algorithm::EdDSA),
        })
    });
    run("ed25519_test.json", |g| {
        Some(from_spki_pem(g, Algorithm::EdDSA))
    });
}

#[test]
fn rsa_pkcs1_rs256_rs384_rs512() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
    ] {
        run(file, |g| Some(from_spki_pem(g, alg)));
    }
}

#[test]
fn rsa_pss_ps256_ps384_ps512() {
    for (file, alg, sha, salt) in [
        (
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            "SHA-256",
            "32",
        ),
        (
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            Algorithm::PS384,
            "SHA-384",
            "48",
        ),
        (
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            Algorithm::PS512,
            "SHA-512",
            "64",
        ),
    ] {
        let tally = run(file, |g| {
            // Only groups with JWS's parameters: hash = MGF1 hash, salt = hash length.
            let matches = g["sha"] == sha
                && g["mgfSha"] == sha
                && g["sLen"].to_string().trim_matches('"') == salt;
            matches.then(|| from_spki_pem(g, alg))
        });
        println!(
            "{file}: {} groups with other parameters skipped",
            tally.groups_skipped
        );
    }
}

#[test]
fn hmac_hs256_hs384_hs512() {
    for (file, alg, bits) in [
        ("hmac_sha256_test.json", Algorithm::HS256, 256),
        ("hmac_sha384_test.json", Algorithm::HS384, 384),
        ("hmac_sha512_test.json", Algorithm::HS512, 512),
    ] {
        let data = load(&format!("wycheproof/testvectors_v1/{file}"));
        let (mut accepted, mut rejected, mut short_keys_refused) = (0, 0, 0);
        for group in data["testGroups"].as_array().unwrap() {
            // Truncated tags are never valid in JWS.
            if group["tagSize"].as_u64().unwrap() != bits {
                continue;
            }
            let key_bits = group["keySize"].as_u64().unwrap();
            for test in group["tests"].as_array().unwrap() {
                let key = VerifyingKey::from_hmac_secret(alg, &hex(test["key"].as_str().unwrap()));
                if key_bits < bits {
                    assert!(
                        key.is_err(),
                        "{file} tcId {}: a {key_bits}-bit key must be refused",
                        test["tcId"]
                    );
                    short_keys_refused += 1;
                    continue;
                }
                let ok = key
                    .unwrap()
                    .verify_signature(
                        &hex(test["msg"].as_str().unwrap()),
                        &hex(test["tag"].as_str().unwrap()),
                    )
                    .is_ok();
                assert_eq!(
                    ok,
                    test["result"] == "valid",
                    "{file} tcId {}",
                    test["tcId"]
                );
                if ok {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        println!(
            "{file}: accepted {accepted}, rejected {rejected}, short keys refused {short_keys_refused}"
        );
        assert!(accepted > 0 && rejected > 0 && short_keys_refused > 0);
    }
}
