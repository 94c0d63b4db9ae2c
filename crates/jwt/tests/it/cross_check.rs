//! Cross-check with `jsonwebtoken` 11 (its aws-lc-rs provider): each library verifies what the other
//! signs, for every algorithm both implement, with keys passed as PEM and as JWK.
//!
//! ES512 is left out of the exchange: `jsonwebtoken` 11.1's `Algorithm` has no ES512 variant (its
//! ECDSA stops at ES384). `es512_is_not_understood_by_jsonwebtoken` pins that down, so this module
//! is revisited if it changes.

use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use tessera_jwt::{
    Algorithm, Error, FixedClock, KeyFamily, KeySet, SigningKey, Validation, VerifyingKey, encode,
    verify,
};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    sub: String,
    role: String,
    exp: i64,
}

fn claims() -> Claims {
    Claims {
        sub: "114514".into(),
        role: "joker".into(),
        exp: 4_000_000_000,
    }
}

/// `jsonwebtoken` picks its provider from its crate features; installing it explicitly keeps the
/// test independent of how features are unified across the workspace.
fn install_provider() {
    // Err means a provider is already installed, which is all we need.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

fn peer_alg(alg: Algorithm) -> Option<jsonwebtoken::Algorithm> {
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

/// A key of ours and the same key as `jsonwebtoken` takes it: PEM (or the raw secret) for signing
/// and verifying, and our JWK for verifying.
struct Pair {
    ours: SigningKey,
    encoding: EncodingKey,
    decoding_pem: DecodingKey,
    decoding_jwk: DecodingKey,
}

fn pair(alg: Algorithm) -> Pair {
    let ours = SigningKey::generate(alg).unwrap();
    let (encoding, decoding_pem, jwk) = if alg.is_symmetric() {
        // HMAC secrets have no PEM form; the JWK `k` is the secret.
        let jwk = ours.to_jwk().unwrap();
        let secret = crate::unb64url(jwk.k.as_deref().unwrap());
        (
            EncodingKey::from_secret(&secret),
            DecodingKey::from_secret(&secret),
            jwk,
        )
    } else {
        let private = ours.to_pem().unwrap();
        let public = ours.verifying_key().unwrap().to_pem().unwrap();
        let (private, public) = (private.as_bytes(), public.as_bytes());
        let (encoding, decoding) = match alg.family() {
            KeyFamily::Rsa => (
                EncodingKey::from_rsa_pem(private).unwrap(),
                DecodingKey::from_rsa_pem(public).unwrap(),
            ),
            KeyFamily::Ec => (
                EncodingKey::from_ec_pem(private).unwrap(),
                DecodingKey::from_ec_pem(public).unwrap(),
            ),
            _ => (
                EncodingKey::from_ed_pem(private).unwrap(),
                DecodingKey::from_ed_pem(public).unwrap(),
            ),
        };
        let jwk = ours.verifying_key().unwrap().to_public_jwk().unwrap();
        (encoding, decoding, jwk)
    };
    let their_jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(serde_json::to_value(&jwk).unwrap())
            .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken cannot read our JWK: {e}"));
    Pair {
        ours,
        encoding,
        decoding_pem,
        decoding_jwk: DecodingKey::from_jwk(&their_jwk).unwrap(),
    }
}

fn theirs_decode(
    token: &str,
    key: &DecodingKey,
    alg: jsonwebtoken::Algorithm,
) -> jsonwebtoken::errors::Result<Claims> {
    jsonwebtoken::decode::<Claims>(token, key, &jsonwebtoken::Validation::new(alg))
        .map(|d| d.claims)
}

fn ours_verify(token: &str, keys: &impl tessera_jwt::KeyResolver) -> Result<Claims, Error> {
    verify::<Claims>(token, keys, &Validation::new(), &FixedClock(1_000)).map(|v| v.into_claims())
}

/// Changes one character in the middle of the signature segment.
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = token.rfind('.').unwrap() + (token.len() - token.rfind('.').unwrap()) / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tokens_cross_verify_both_ways() {
    install_provider();
    let mut checked = Vec::new();
    for alg in Algorithm::ALL {
        let Some(peer) = peer_alg(alg) else {
            println!("{alg}: not supported by jsonwebtoken 11, not cross-checked");
            continue;
        };
        let p = pair(alg);
        let verifying = p.ours.verifying_key().unwrap();

        // Ours -> theirs, with the key as PEM and as our JWK.
        let ours = encode(&claims(), &p.ours).unwrap();
        for (how, key) in [("PEM", &p.decoding_pem), ("JWK", &p.decoding_jwk)] {
            let got = theirs_decode(&ours, key, peer)
                .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refused our token ({how}): {e}"));
            assert_eq!(got, claims(), "{alg} {how}");
            assert!(
                theirs_decode(&tampered(&ours), key, peer).is_err(),
                "{alg} {how}: jsonwebtoken accepts a tampered token"
            );
        }
        let header = jsonwebtoken::decode_header(&ours).unwrap();
        assert_eq!(header.alg, peer);
        assert_eq!(header.kid.as_deref(), Some(p.ours.kid().as_str()));

        // Theirs -> ours, with the kid jsonwebtoken was told, through one key and a key set.
        let mut their_header = jsonwebtoken::Header::new(peer);
        their_header.kid = Some(p.ours.kid().to_string());
        let theirs = jsonwebtoken::encode(&their_header, &claims(), &p.encoding).unwrap();
        assert_eq!(
            ours_verify(&theirs, &verifying)
                .unwrap_or_else(|e| panic!("{alg}: we refused jsonwebtoken's token: {e}")),
            claims()
        );
        let set = KeySet::new(vec![verifying.clone()]).unwrap();
        assert_eq!(
            ours_verify(&theirs, &set).unwrap(),
            claims(),
            "{alg} via KeySet"
        );
        assert_eq!(
            ours_verify(&tampered(&theirs), &verifying),
            Err(Error::InvalidSignature),
            "{alg}"
        );

        // jsonwebtoken's JWK of the key loads into ours and verifies its token.
        let their_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&p.encoding, peer).unwrap();
        let from_their_jwk = VerifyingKey::from_jwk(
            &crate::jwk(&serde_json::to_value(&their_jwk).unwrap()),
            None,
        )
        .unwrap_or_else(|e| panic!("{alg}: we cannot read jsonwebtoken's JWK: {e}"));
        assert_eq!(from_their_jwk.algorithm(), alg);
        assert_eq!(ours_verify(&theirs, &from_their_jwk).unwrap(), claims());

        // Neither accepts the other's token under another key of the same algorithm.
        let stranger = pair(alg);
        assert!(
            theirs_decode(&ours, &stranger.decoding_pem, peer).is_err(),
            "{alg}"
        );
        assert_eq!(
            ours_verify(&theirs, &stranger.ours.verifying_key().unwrap()),
            Err(Error::InvalidSignature),
            "{alg}"
        );
        checked.push(alg);
    }
    assert_eq!(checked.len(), 12, "{checked:?}");
    assert!(!checked.contains(&Algorithm::ES512));
}

#[test]
fn es512_is_not_understood_by_jsonwebtoken() {
    install_provider();
    let token = encode(&claims(), &SigningKey::generate(Algorithm::ES512).unwrap()).unwrap();
    assert!(
        jsonwebtoken::decode_header(&token).is_err(),
        "jsonwebtoken now reads ES512: add it to the cross-check"
    );
}
