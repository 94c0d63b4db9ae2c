//! Sign and verify+validate a typical access token with every algorithm, side by side with
//! `jsonwebtoken` (aws-lc-rs backend) and `jwt-simple` (pure-Rust backend), and with the raw
//! aws-lc-rs signature operation as the floor. Run: `cargo bench -p tessera-jwt --bench jwt`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "bench"
)]

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use tessera_jwt::{Algorithm, KeyFamily, SigningKey, SystemClock, Validation, encode, verify};

/// The claims of a typical access token, as the server issues them.
#[derive(Serialize, Deserialize)]
struct AccessClaims {
    token_type: String,
    exp: i64,
    iat: i64,
    jti: String,
    user_id: String,
    sid: String,
}

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        token_type: "access".into(),
        exp: now + 300,
        iat: now,
        jti: "8a6d0f4b8c1e4b7f9b2d3c4e5f6a7b8c".into(),
        user_id: "42".into(),
        sid: "3f2e1d0c9b8a7f6e5d4c3b2a19081726".into(),
    }
}

#[derive(Serialize, Deserialize)]
struct SimpleCustom {
    token_type: String,
    user_id: String,
    sid: String,
}

fn now() -> i64 {
    use tessera_jwt::Clock as _;
    SystemClock.now()
}

fn jsonwebtoken_alg(alg: Algorithm) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::Algorithm as J;
    Some(match alg {
        Algorithm::HS256 => J::HS256,
        Algorithm::HS384 => J::HS384,
        Algorithm::HS512 => J::HS512,
        Algorithm::RS256 => J::RS256,
        Algorithm::RS384 => J::RS384,
        Algorithm::RS512 => J::RS512,
        Algorithm::PS256 => J::PS256,
        Algorithm::PS384 => J::PS384,
        Algorithm::PS512 => J::PS512,
        Algorithm::ES256 => J::ES256,
        Algorithm::ES384 => J::ES384,
        Algorithm::EdDSA => J::EdDSA,
        Algorithm::ES512 => return None,
    })
}

fn jsonwebtoken_keys(
    key: &SigningKey,
    secret: &[u8],
) -> (jsonwebtoken::EncodingKey, jsonwebtoken::DecodingKey) {
    use jsonwebtoken::{DecodingKey, EncodingKey};
    let alg = key.algorithm();
    if alg.is_symmetric() {
        return (
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        );
    }
    let private = key.to_pem().unwrap();
    let public = key.verifying_key().unwrap().to_pem().unwrap();
    match alg.family() {
        KeyFamily::Rsa => (
            EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        ),
        KeyFamily::Ec => (
            EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        ),
        _ => (
            EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
        ),
    }
}

/// The floor: the aws-lc-rs verification of the token's signature, nothing else.
fn floor(alg: Algorithm, key: &SigningKey, secret: &[u8], token: &str) -> Box<dyn Fn() -> bool> {
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signing_input = signing_input.as_bytes().to_vec();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    if alg.is_symmetric() {
        let h = match alg {
            Algorithm::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
            Algorithm::HS512 => aws_lc_rs::hmac::HMAC_SHA512,
            _ => aws_lc_rs::hmac::HMAC_SHA256,
        };
        let hkey = aws_lc_rs::hmac::Key::new(h, secret);
        return Box::new(move || {
            aws_lc_rs::hmac::verify(&hkey, &signing_input, &signature).is_ok()
        });
    }
    let verification: &'static dyn signature::VerificationAlgorithm = match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        _ => &signature::ED25519,
    };
    let pem = key.verifying_key().unwrap().to_pem().unwrap();
    let spki = pem::parse(pem).unwrap().into_contents();
    let parsed = ParsedPublicKey::new(verification, spki).unwrap();
    Box::new(move || parsed.verify_sig(&signing_input, &signature).is_ok())
}

/// jwt-simple's own keys for `alg` (it has no ES512), as sign and verify closures.
type SimplePair = (Box<dyn Fn() -> String>, Box<dyn Fn(&str) -> bool>);

fn jwt_simple(alg: Algorithm, secret: &[u8]) -> Option<SimplePair> {
    use jwt_simple::prelude::*;
    let custom = || {
        Claims::with_custom_claims(
            SimpleCustom {
                token_type: "access".into(),
                user_id: "42".into(),
                sid: "3f2e1d0c9b8a7f6e5d4c3b2a19081726".into(),
            },
            jwt_simple::prelude::Duration::from_mins(5),
        )
        .with_jwt_id("8a6d0f4b8c1e4b7f9b2d3c4e5f6a7b8c")
    };
    macro_rules! mac {
        ($key:ident) => {{
            let key = $key::from_bytes(secret);
            let verify_key = key.clone();
            Some((
                Box::new(move || key.authenticate(custom()).unwrap()) as Box<dyn Fn() -> String>,
                Box::new(move |t: &str| {
                    verify_key
                        .verify_token::<SimpleCustom>(t, None)
                        .is_ok_and(|c| c.custom.token_type == "access")
                }) as Box<dyn Fn(&str) -> bool>,
            ))
        }};
    }
    macro_rules! pair {
        ($pair:expr) => {{
            let pair = $pair;
            let public = pair.public_key();
            Some((
                Box::new(move || pair.sign(custom()).unwrap()) as Box<dyn Fn() -> String>,
                Box::new(move |t: &str| {
                    public
                        .verify_token::<SimpleCustom>(t, None)
                        .is_ok_and(|c| c.custom.token_type == "access")
                }) as Box<dyn Fn(&str) -> bool>,
            ))
        }};
    }
    match alg {
        Algorithm::HS256 => mac!(HS256Key),
        Algorithm::HS384 => mac!(HS384Key),
        Algorithm::HS512 => mac!(HS512Key),
        Algorithm::RS256 => pair!(RS256KeyPair::generate(2048).unwrap()),
        Algorithm::RS384 => pair!(RS384KeyPair::generate(2048).unwrap()),
        Algorithm::RS512 => pair!(RS512KeyPair::generate(2048).unwrap()),
        Algorithm::PS256 => pair!(PS256KeyPair::generate(2048).unwrap()),
        Algorithm::PS384 => pair!(PS384KeyPair::generate(2048).unwrap()),
        Algorithm::PS512 => pair!(PS512KeyPair::generate(2048).unwrap()),
        Algorithm::ES256 => pair!(ES256KeyPair::generate()),
        Algorithm::ES384 => pair!(ES384KeyPair::generate()),
        Algorithm::EdDSA => pair!(Ed25519KeyPair::generate()),
        Algorithm::ES512 => None,
    }
}

fn bench(c: &mut Criterion) {
    let algs: Vec<Algorithm> = match std::env::var("TESSERA_BENCH_ALGS") {
        Ok(list) => list.split(',').map(|a| a.trim().parse().unwrap()).collect(),
        Err(_) => Algorithm::ALL.to_vec(),
    };
    for alg in algs {
        let secret = vec![0x5a_u8; 64];
        let key = if alg.is_symmetric() {
            SigningKey::from_hmac_secret(alg, &secret).unwrap()
        } else {
            SigningKey::generate(alg).unwrap()
        };
        let verifying = key.verifying_key().unwrap();
        let policy = Validation::new().claim_equals("token_type", "access");
        let token = encode(&claims(now()), &key).unwrap();
        let jwt_alg = jsonwebtoken_alg(alg);
        let jwt_keys = jwt_alg.map(|_| jsonwebtoken_keys(&key, &secret));
        let simple = jwt_simple(alg, &secret);

        let mut group = c.benchmark_group(format!("sign/{alg}"));
        group.bench_function("tessera", |b| {
            b.iter(|| encode(black_box(&claims(1_800_000_000)), &key).unwrap())
        });
        if let (Some(jalg), Some((enc, _))) = (jwt_alg, &jwt_keys) {
            let header = jsonwebtoken::Header::new(jalg);
            group.bench_function("jsonwebtoken", |b| {
                b.iter(|| {
                    jsonwebtoken::encode(&header, black_box(&claims(1_800_000_000)), enc).unwrap()
                })
            });
        }
        if let Some((sign, _)) = &simple {
            group.bench_function("jwt-simple", |b| b.iter(sign));
        }
        group.finish();

        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("tessera", |b| {
            b.iter(|| {
                verify::<AccessClaims>(black_box(&token), &verifying, &policy, &SystemClock)
                    .unwrap()
            })
        });
        if let (Some(jalg), Some((enc, dec))) = (jwt_alg, &jwt_keys) {
            let jtoken =
                jsonwebtoken::encode(&jsonwebtoken::Header::new(jalg), &claims(now()), enc)
                    .unwrap();
            let validation = jsonwebtoken::Validation::new(jalg);
            group.bench_function("jsonwebtoken", |b| {
                b.iter(|| {
                    let data =
                        jsonwebtoken::decode::<AccessClaims>(black_box(&jtoken), dec, &validation)
                            .unwrap();
                    assert_eq!(data.claims.token_type, "access");
                })
            });
        }
        if let Some((sign, check)) = &simple {
            let stoken = sign();
            assert!(check(&stoken));
            group.bench_function("jwt-simple", |b| b.iter(|| check(black_box(&stoken))));
        }
        let raw = floor(alg, &key, &secret, &token);
        assert!(raw());
        group.bench_function("aws-lc-rs floor", |b| b.iter(&raw));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
