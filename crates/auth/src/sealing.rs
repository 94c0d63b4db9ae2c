//! Private signing keys at rest: sealed with AES-256-GCM under the operator's master key
//! (`TESSERA_MASTER_KEY`), so a copy of the database alone does not yield the keys.
//!
//! A sealed key is stored as `sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag), with the key's
//! `kid` and algorithm as associated data: a sealed blob moved to another row does not open.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::store::PrivateJwk;

const PREFIX: &str = "sealed:v1:";

/// The operator's 256-bit master key. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct MasterKey(Arc<LessSafeKey>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn invalid(why: &str) -> AuthError {
    AuthError::InvalidInput(format!("master key: {why}"))
}

impl MasterKey {
    /// Reads 32 bytes written as 64 hex digits or as base64 (standard or URL-safe, padded or not).
    /// `openssl rand -hex 32` makes one.
    pub fn parse(text: &str) -> Result<MasterKey, AuthError> {
        let text = text.trim();
        let bytes = Zeroizing::new(
            if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                (0..32)
                    .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .map_err(|_| invalid("not hex"))?
            } else {
                let unpadded = text.trim_end_matches('=');
                URL_SAFE_NO_PAD
                    .decode(unpadded)
                    .or_else(|_| STANDARD.decode(text))
                    .map_err(|_| invalid("expected 64 hex digits or base64 of 32 bytes"))?
            },
        );
        if bytes.len() != 32 {
            return Err(invalid(&format!(
                "{} bytes; it must be 32 (e.g. `openssl rand -hex 32`)",
                bytes.len()
            )));
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| invalid("rejected"))?;
        Ok(MasterKey(Arc::new(LessSafeKey::new(key))))
    }

    /// Seals a private JWK of key `kid` (algorithm `alg`).
    pub fn seal(&self, kid: &str, alg: &str, private_jwk: &str) -> Result<String, AuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| AuthError::Internal("no randomness for a nonce".into()))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + private_jwk.len() + 16);
        sealed.extend_from_slice(&nonce);
        let mut body = private_jwk.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(kid, alg).as_bytes()),
                &mut body,
            )
            .map_err(|_| AuthError::Internal("sealing a key failed".into()))?;
        sealed.extend_from_slice(&body);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Opens what [`MasterKey::seal`] stored for key `kid` (algorithm `alg`). Fails, never panics,
    /// on anything else: the text comes from the database.
    pub fn unseal(
        &self,
        kid: &str,
        alg: &str,
        stored: &str,
    ) -> Result<Zeroizing<String>, AuthError> {
        match stored.strip_prefix(PREFIX) {
            Some(sealed) => self.open(kid, alg, sealed),
            None => Err(AuthError::Internal(format!(
                "signing key {kid}: not a sealed key"
            ))),
        }
    }

    fn open(&self, kid: &str, alg: &str, sealed: &str) -> Result<Zeroizing<String>, AuthError> {
        let wrong = || {
            AuthError::Internal(format!(
                "signing key {kid}: cannot be decrypted with this TESSERA_MASTER_KEY \
                 (a different key sealed it, or the row was altered)"
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| wrong())?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(wrong());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain = self
            .0
            .open_in_place(
                nonce,
                Aad::from(associated_data(kid, alg).as_bytes()),
                &mut body,
            )
            .map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| wrong())
    }
}

fn associated_data(kid: &str, alg: &str) -> String {
    format!("tessera signing key\0{kid}\0{alg}")
}

/// What to store for a new private key: sealed when there is a master key.
pub(crate) fn seal(
    master: Option<&MasterKey>,
    kid: &str,
    alg: &str,
    private_jwk: Zeroizing<String>,
) -> Result<PrivateJwk, AuthError> {
    match master {
        Some(master) => master.seal(kid, alg, &private_jwk).map(PrivateJwk::new),
        None => Ok(PrivateJwk::new(private_jwk.as_str())),
    }
}

/// The private JWK of a stored key, opened if sealed.
pub(crate) fn open(
    master: Option<&MasterKey>,
    kid: &str,
    alg: &str,
    stored: &PrivateJwk,
) -> Result<Zeroizing<String>, AuthError> {
    let stored = stored.expose();
    match (is_sealed(stored), master) {
        (true, Some(master)) => master.unseal(kid, alg, stored),
        (true, None) => Err(AuthError::Internal(format!(
            "signing key {kid} is encrypted at rest: set TESSERA_MASTER_KEY to the key it was \
             sealed with"
        ))),
        (false, _) => Ok(Zeroizing::new(stored.to_owned())),
    }
}

/// Whether a stored private key is sealed.
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn master_keys_parse_from_hex_or_base64_and_nothing_else() {
        let b64 = URL_SAFE_NO_PAD.encode((0u8..32).collect::<Vec<_>>());
        let std = STANDARD.encode((0u8..32).collect::<Vec<_>>());
        for text in [HEX, &b64, &std, &format!(" {HEX}\n")] {
            MasterKey::parse(text).unwrap();
        }
        for bad in [
            "",
            "short",
            &HEX[..62],
            &URL_SAFE_NO_PAD.encode([1u8; 16]),
            "z".repeat(64).as_str(),
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", MasterKey::parse(HEX).unwrap()),
            "MasterKey(..)"
        );
    }

    #[test]
    fn sealed_keys_open_only_with_their_master_key_kid_and_alg() {
        let master = MasterKey::parse(HEX).unwrap();
        let jwk = r#"{"kty":"OKP","crv":"Ed25519","d":"secret","x":"public"}"#;
        let stored = seal(Some(&master), "k1", "EdDSA", Zeroizing::new(jwk.into())).unwrap();
        assert!(is_sealed(stored.expose()));
        assert!(!stored.expose().contains("secret"));
        assert_eq!(*open(Some(&master), "k1", "EdDSA", &stored).unwrap(), jwk);
        let other = MasterKey::parse(&"ab".repeat(32)).unwrap();
        assert!(
            open(Some(&other), "k1", "EdDSA", &stored).is_err(),
            "other master key"
        );
        assert!(
            open(Some(&master), "k2", "EdDSA", &stored).is_err(),
            "moved to another kid"
        );
        assert!(
            open(Some(&master), "k1", "ES256", &stored).is_err(),
            "other alg"
        );
        let message = open(None, "k1", "EdDSA", &stored).unwrap_err().to_string();
        assert!(message.contains("TESSERA_MASTER_KEY"), "{message}");
        let mut tampered = stored.expose().to_owned();
        tampered.pop();
        tampered.push(if stored.expose().ends_with('A') {
            'B'
        } else {
            'A'
        });
        assert!(
            open(Some(&master), "k1", "EdDSA", &PrivateJwk::new(tampered)).is_err(),
            "tampered"
        );
    }

    #[test]
    fn plain_keys_stay_readable_with_or_without_a_master_key() {
        let master = MasterKey::parse(HEX).unwrap();
        let plain = PrivateJwk::new("{}");
        assert_eq!(*open(Some(&master), "k", "ES256", &plain).unwrap(), "{}");
        assert_eq!(*open(None, "k", "ES256", &plain).unwrap(), "{}");
        assert_eq!(
            seal(None, "k", "ES256", Zeroizing::new("{}".into())).unwrap(),
            plain
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// One key however it is written: hex, base64url and standard base64 of the same bytes
        /// open each other's seals.
        #[test]
        fn every_spelling_of_a_key_is_the_same_key(bytes in proptest::array::uniform32(any::<u8>()),
                                                    plain in ".{0,200}") {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let spellings = [hex.clone(), hex.to_uppercase(), URL_SAFE_NO_PAD.encode(bytes), STANDARD.encode(bytes)];
            let sealed = MasterKey::parse(&spellings[0]).unwrap().seal("k", "ES256", &plain).unwrap();
            for spelling in &spellings {
                let key = MasterKey::parse(spelling).unwrap();
                prop_assert_eq!(&*key.unseal("k", "ES256", &sealed).unwrap(), &plain);
            }
        }

        /// Any text is refused or accepted as a key, never a panic; anything but 32 bytes is refused.
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,100}") {
            let _ = MasterKey::parse(&text);
        }

        /// Changing any one character of a sealed key makes it fail to open.
        #[test]
        fn a_sealed_key_altered_anywhere_does_not_open(plain in ".{1,100}", at in any::<prop::sample::Index>()) {
            let key = MasterKey::parse(&"5a".repeat(32)).unwrap();
            let sealed = key.seal("k", "EdDSA", &plain).unwrap();
            let body = &sealed[PREFIX.len()..];
            let i = at.index(body.len());
            let replacement = if body.as_bytes()[i] == b'A' { 'B' } else { 'A' };
            let mut altered = sealed[..PREFIX.len() + i].to_owned();
            altered.push(replacement);
            altered.push_str(&sealed[PREFIX.len() + i + 1..]);
            // The last base64url character may carry unused bits: then the bytes, and the
            // result, are unchanged.
            if let Ok(opened) = key.unseal("k", "EdDSA", &altered) {
                prop_assert!(i == body.len() - 1 && *opened == plain);
            }
        }
    }
}
