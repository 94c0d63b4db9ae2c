//! Cross-check with `jsonwebtoken` (aws-lc-rs backend): each verifies what the other signs, for
//! every algorithm both support. `jsonwebtoken` has no ES512, so it is the one left out.

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use tessera_jwt::{Algorithm, FixedClock, KeyFamily, SigningKey, Validation, encode, verify};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    sub: String,
    role: String,
    exp: i64,
}

fn peer_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    use jsonwebtoken::Algorithm as J;
    match alg {
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
        Algorithm::ES512 => unreachable!("jsonwebtoken has no ES512"),
    }
}

fn peer_keys(key: &SigningKey, secret: &[u8]) -> (EncodingKey, DecodingKey) {
    if key.algorithm().is_symmetric() {
        return (
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        );
    }
    let private = key.to_pem().unwrap();
    let public = key.verifying_key().unwrap().to_pem().unwrap();
    match key.algorithm().family() {
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

#[test]
fn tokens_cross_verify_both_ways() {
    let claims = Claims {
        sub: "114514".into(),
        role: "joker".into(),
        exp: 4_000_000_000,
    };
    let mut checked = 0;
    for alg in Algorithm::ALL
        .into_iter()
        .filter(|a| *a != Algorithm::ES512)
    {
        let secret = vec![0x42; 64];
        let key = if alg.is_symmetric() {
            SigningKey::from_hmac_secret(alg, &secret).unwrap()
        } else {
            SigningKey::generate(alg).unwrap()
        };
        let (encoding, decoding) = peer_keys(&key, &secret);
        let peer = peer_alg(alg);

        let ours = encode(&claims, &key).unwrap();
        let theirs_view =
            jsonwebtoken::decode::<Claims>(&ours, &decoding, &jsonwebtoken::Validation::new(peer))
                .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refused our token: {e}"));
        assert_eq!(theirs_view.claims, claims);

        let theirs =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(peer), &claims, &encoding).unwrap();
        let ours_view = verify::<Claims>(
            &theirs,
            &key.verifying_key().unwrap(),
            &Validation::new(),
            &FixedClock(1_000),
        )
        .unwrap_or_else(|e| panic!("{alg}: we refused jsonwebtoken's token: {e}"));
        assert_eq!(ours_view.claims(), &claims);

        // And neither accepts the other's token under a different key of the same algorithm.
        let other = if alg.is_symmetric() {
            SigningKey::from_hmac_secret(alg, &[0x43; 64]).unwrap()
        } else {
            SigningKey::generate(alg).unwrap()
        };
        assert!(
            verify::<Claims>(
                &theirs,
                &other.verifying_key().unwrap(),
                &Validation::new(),
                &FixedClock(1_000)
            )
            .is_err()
        );
        checked += 1;
    }
    assert_eq!(checked, 12);
}
