//! Keys bound to one algorithm: signing keys, verifying keys and key sets.
//!
//! Every key fixes its [`Algorithm`] when it is made; there is no default. Material comes from raw
//! HMAC secrets, PEM (PKCS#8, SPKI, PKCS#1, SEC1) or JWK, and can be generated for every algorithm.
//! All crypto is aws-lc-rs; this module only routes bytes to it.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rsa::{KeyPairComponents, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, ParsedPublicKey,
    RsaEncoding, RsaKeyPair, RsaParameters, VerificationAlgorithm,
};
use aws_lc_rs::{hmac, rand};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, KeyFamily};
use crate::b64;
use crate::der;
use crate::error::{Error, KeyRejection};
use crate::jwk::{Jwk, JwkSet, Secret};

/// A key identifier (`kid`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(String);

impl Kid {
    /// Wraps a key id.
    pub fn new(kid: impl Into<String>) -> Kid {
        Kid(kid.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Output format for exported keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// JSON Web Key.
    Jwk,
    /// PEM (PKCS#8 for private keys, SPKI for public keys).
    Pem,
}

/// A private key (or HMAC secret) that signs with exactly one algorithm.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Kid,
    signer: Signer,
}

#[derive(Clone)]
enum Signer {
    Hmac {
        key: Box<hmac::Key>,
        secret: Arc<Zeroizing<Vec<u8>>>,
    },
    Rsa(Arc<RsaKeyPair>),
    Ecdsa(Arc<EcdsaKeyPair>),
    Ed25519(Arc<Ed25519KeyPair>),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A public key (or HMAC secret) that verifies exactly one algorithm.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: Kid,
    verifier: Verifier,
    /// The public JWK (without `kid`/`alg`); `None` for HMAC secrets, which are never published.
    public: Option<Arc<Jwk>>,
    /// The exact signature length this key produces, checked before the crypto runs.
    signature_len: usize,
}

#[derive(Clone)]
enum Verifier {
    Hmac(Box<hmac::Key>),
    Public(Arc<ParsedPublicKey>),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidKey(KeyRejection::Invalid(reason.into()))
}

fn hmac_algorithm(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

fn rsa_signing(alg: Algorithm) -> &'static dyn RsaEncoding {
    match alg {
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => &signature::RSA_PKCS1_SHA256,
    }
}

fn rsa_verification(alg: Algorithm) -> &'static RsaParameters {
    match alg {
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => &signature::RSA_PKCS1_2048_8192_SHA256,
    }
}

fn ecdsa_signing(alg: Algorithm) -> &'static EcdsaSigningAlgorithm {
    match alg {
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    }
}

fn public_verification(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        rsa => rsa_verification(rsa),
    }
}

/// Coordinate length in bytes of the curve of an ECDSA algorithm.
fn coordinate_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::ES384 => 48,
        Algorithm::ES512 => 66,
        _ => 32,
    }
}

fn bit_length(unsigned_be: &[u8]) -> usize {
    let trimmed: &[u8] = match unsigned_be.iter().position(|&b| b != 0) {
        Some(first) => &unsigned_be[first..],
        None => return 0,
    };
    (trimmed.len() - 1) * 8 + (8 - trimmed[0].leading_zeros() as usize)
}

fn check_rsa_size(modulus: &[u8]) -> Result<(), Error> {
    let bits = bit_length(modulus);
    if bits < 2048 {
        return Err(KeyRejection::RsaTooSmall(bits).into());
    }
    if has_roca_fingerprint(modulus) {
        return Err(invalid(
            "RSA modulus has the ROCA fingerprint (CVE-2017-15361): the private key can be computed",
        ));
    }
    Ok(())
}

/// Refuses exponents the crypto library might tolerate but that break RSA (e = 1, even e).
fn check_rsa_exponent(exponent: &[u8]) -> Result<(), Error> {
    let trimmed: Vec<u8> = exponent.iter().copied().skip_while(|b| *b == 0).collect();
    if (trimmed.len() <= 1 && trimmed.first().is_none_or(|e| *e < 3))
        || trimmed.last().is_some_and(|e| e % 2 == 0)
    {
        return Err(invalid("RSA public exponent must be odd and at least 3"));
    }
    Ok(())
}

/// The ROCA test (Nemec et al., CCS 2017): moduli made by the vulnerable Infineon library are, modulo
/// each of these small primes, a power of 65537. A random modulus passes all of them with
/// negligible probability. This is a fingerprint check on public data, not a cryptographic primitive.
fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = modulus
            .iter()
            .fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % p);
        let generator = 65_537 % p;
        let mut power = 1 % p;
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

fn check_family(alg: Algorithm, kty: &str, crv: Option<&str>) -> Result<(), Error> {
    let expected_kty = match alg.family() {
        KeyFamily::Hmac => "oct",
        KeyFamily::Rsa => "RSA",
        KeyFamily::Ec => "EC",
        KeyFamily::Okp => "OKP",
    };
    let wrong = || {
        Error::InvalidKey(KeyRejection::WrongKeyType {
            alg,
            found: match crv {
                Some(crv) => format!("{kty}/{crv}"),
                None => kty.to_owned(),
            },
        })
    };
    if kty != expected_kty {
        return Err(wrong());
    }
    if let Some(expected_crv) = alg.curve()
        && crv != Some(expected_crv)
    {
        return Err(wrong());
    }
    Ok(())
}

/// Decides which algorithm a JWK is bound to: the caller's and the key's must agree; with neither,
/// only EC and OKP keys name one unambiguously through their curve.
fn resolve_jwk_algorithm(jwk: &Jwk, requested: Option<Algorithm>) -> Result<Algorithm, Error> {
    let in_key = match jwk.alg.as_deref() {
        Some(name) => Some(name.parse::<Algorithm>().map_err(|_| {
            Error::InvalidKey(KeyRejection::Invalid(format!(
                "key names unsupported algorithm {:?}",
                name.chars().take(32).collect::<String>()
            )))
        })?),
        None => None,
    };
    let alg = match (requested, in_key) {
        (Some(requested), Some(in_key)) if requested != in_key => {
            return Err(KeyRejection::AlgorithmConflict {
                requested,
                in_key: in_key.to_string(),
            }
            .into());
        }
        (Some(alg), _) | (None, Some(alg)) => alg,
        (None, None) => match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some(crv)) => Algorithm::for_ec_curve(crv).ok_or_else(|| {
                Error::InvalidKey(KeyRejection::Invalid(format!("unsupported curve {crv:?}")))
            })?,
            ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
            _ => return Err(KeyRejection::AlgorithmRequired.into()),
        },
    };
    check_family(alg, &jwk.kty, jwk.crv.as_deref())?;
    Ok(alg)
}

fn default_kid(public_or_secret: &Jwk, explicit: Option<&str>) -> Result<Kid, Error> {
    match explicit {
        Some(kid) => Ok(Kid::new(kid)),
        None => Ok(Kid::new(public_or_secret.thumbprint()?)),
    }
}

fn hmac_secret_jwk(secret: &[u8]) -> Jwk {
    Jwk {
        kty: "oct".into(),
        k: Some(Secret::new(b64::encode(secret))),
        ..Jwk::default()
    }
}

fn check_hmac_secret(alg: Algorithm, secret: &[u8]) -> Result<(), Error> {
    if alg.family() != KeyFamily::Hmac {
        return Err(KeyRejection::WrongKeyType {
            alg,
            found: "oct".into(),
        }
        .into());
    }
    if secret.len() < alg.hmac_len() {
        return Err(KeyRejection::SecretTooShort {
            min: alg.hmac_len(),
            found: secret.len(),
        }
        .into());
    }
    Ok(())
}

/// Public parts of an asymmetric key, the input to [`VerifyingKey::from_public`].
enum PublicParts<'a> {
    Rsa {
        n: &'a [u8],
        e: &'a [u8],
    },
    /// An uncompressed SEC1 point, `04 || x || y`.
    Ec(&'a [u8]),
    Ed25519(&'a [u8]),
}

fn public_jwk(alg: Algorithm, parts: &PublicParts<'_>) -> Result<Jwk, Error> {
    Ok(match parts {
        PublicParts::Rsa { n, e } => Jwk {
            kty: "RSA".into(),
            n: Some(b64::encode(n)),
            e: Some(b64::encode(e)),
            ..Jwk::default()
        },
        PublicParts::Ec(point) => {
            let len = coordinate_len(alg);
            if point.len() != 1 + 2 * len || point[0] != 4 {
                return Err(invalid(
                    "EC point is not an uncompressed point of the curve",
                ));
            }
            Jwk {
                kty: "EC".into(),
                crv: alg.curve().map(str::to_owned),
                x: Some(b64::encode(&point[1..=len])),
                y: Some(b64::encode(&point[1 + len..])),
                ..Jwk::default()
            }
        }
        PublicParts::Ed25519(x) => Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(b64::encode(x)),
            ..Jwk::default()
        },
    })
}

/// Reads the key inside a DER `SubjectPublicKeyInfo` (as aws-lc-rs writes it).
fn spki_key_bits(spki: &[u8]) -> Option<&[u8]> {
    let mut outer = der::sequence(spki)?;
    outer.expect(der::SEQUENCE)?;
    let bits = outer.expect(der::BIT_STRING)?;
    let (&unused, key) = bits.split_first()?;
    (unused == 0).then_some(key)
}

fn rsa_public_from_pkcs1(der_bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut seq = der::sequence(der_bytes)?;
    Some((seq.unsigned()?, seq.unsigned()?))
}

fn pem_block(text: &str) -> Result<pem::Pem, Error> {
    pem::parse(text.trim()).map_err(|e| invalid(format!("not a PEM block: {e}")))
}

impl SigningKey {
    /// Binds a raw HMAC secret to an HS* algorithm; the secret must be at least as long as the hash
    /// output (RFC 7518 §3.2). The `kid` defaults to the RFC 7638 thumbprint.
    pub fn from_hmac_secret(alg: Algorithm, secret: &[u8]) -> Result<SigningKey, Error> {
        check_hmac_secret(alg, secret)?;
        let kid = default_kid(&hmac_secret_jwk(secret), None)?;
        Ok(SigningKey {
            alg,
            kid,
            signer: Signer::Hmac {
                key: Box::new(hmac::Key::new(hmac_algorithm(alg), secret)),
                secret: Arc::new(Zeroizing::new(secret.to_vec())),
            },
        })
    }

    /// Generates a new key for `alg` (RSA keys are 2048 bits; HMAC secrets are hash-length random).
    pub fn generate(alg: Algorithm) -> Result<SigningKey, Error> {
        let signer = match alg.family() {
            KeyFamily::Hmac => {
                let mut secret = Zeroizing::new(vec![0u8; alg.hmac_len()]);
                rand::fill(&mut secret).map_err(|_| Error::Crypto("random generator failed"))?;
                return SigningKey::from_hmac_secret(alg, &secret);
            }
            KeyFamily::Rsa => Signer::Rsa(Arc::new(
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| Error::Crypto("RSA key generation failed"))?,
            )),
            KeyFamily::Ec => Signer::Ecdsa(Arc::new(
                EcdsaKeyPair::generate(ecdsa_signing(alg))
                    .map_err(|_| Error::Crypto("EC key generation failed"))?,
            )),
            KeyFamily::Okp => Signer::Ed25519(Arc::new(
                Ed25519KeyPair::generate()
                    .map_err(|_| Error::Crypto("Ed25519 key generation failed"))?,
            )),
        };
        SigningKey::with_thumbprint_kid(alg, signer)
    }

    fn with_thumbprint_kid(alg: Algorithm, signer: Signer) -> Result<SigningKey, Error> {
        let mut key = SigningKey {
            alg,
            kid: Kid::new(String::new()),
            signer,
        };
        key.kid = key.verifying_key()?.kid;
        Ok(key)
    }

    /// Loads a private JWK (or an `oct` secret). `alg` may be omitted when the JWK names it (or, for
    /// EC and OKP keys, when its curve does); if both are present they must agree.
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<SigningKey, Error> {
        let alg = resolve_jwk_algorithm(jwk, alg)?;
        jwk.check_signature_use(true)?;
        if !jwk.is_private() {
            return Err(KeyRejection::NotPrivate.into());
        }
        let signer = match alg.family() {
            KeyFamily::Hmac => {
                let secret = Zeroizing::new(jwk.bytes(jwk.k.as_deref(), "k")?);
                let mut key = SigningKey::from_hmac_secret(alg, &secret)?;
                if let Some(kid) = &jwk.kid {
                    key.kid = Kid::new(kid.clone());
                }
                return Ok(key);
            }
            KeyFamily::Rsa => {
                if jwk.oth.is_some() {
                    return Err(invalid("multi-prime RSA keys are not supported"));
                }
                let n = jwk.bytes(jwk.n.as_deref(), "n")?;
                check_rsa_size(&n)?;
                let components = KeyPairComponents {
                    public_key: PublicKeyComponents {
                        n,
                        e: jwk.bytes(jwk.e.as_deref(), "e")?,
                    },
                    d: Zeroizing::new(jwk.bytes(jwk.d.as_deref(), "d")?),
                    p: Zeroizing::new(jwk.bytes(jwk.p.as_deref(), "p")?),
                    q: Zeroizing::new(jwk.bytes(jwk.q.as_deref(), "q")?),
                    dP: Zeroizing::new(jwk.bytes(jwk.dp.as_deref(), "dp")?),
                    dQ: Zeroizing::new(jwk.bytes(jwk.dq.as_deref(), "dq")?),
                    qInv: Zeroizing::new(jwk.bytes(jwk.qi.as_deref(), "qi")?),
                };
                Signer::Rsa(Arc::new(
                    RsaKeyPair::from_components(&components)
                        .map_err(|e| invalid(format!("RSA key rejected: {e}")))?,
                ))
            }
            KeyFamily::Ec => {
                let point = ec_point_from_jwk(jwk, alg)?;
                let d = Zeroizing::new(jwk.bytes(jwk.d.as_deref(), "d")?);
                if d.len() != coordinate_len(alg) {
                    return Err(invalid("EC private scalar has the wrong length"));
                }
                Signer::Ecdsa(Arc::new(
                    EcdsaKeyPair::from_private_key_and_public_key(ecdsa_signing(alg), &d, &point)
                        .map_err(|e| invalid(format!("EC key rejected: {e}")))?,
                ))
            }
            KeyFamily::Okp => {
                let x = jwk.bytes(jwk.x.as_deref(), "x")?;
                let d = Zeroizing::new(jwk.bytes(jwk.d.as_deref(), "d")?);
                Signer::Ed25519(Arc::new(
                    Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map_err(|e| invalid(format!("Ed25519 key rejected: {e}")))?,
                ))
            }
        };
        let mut key = SigningKey::with_thumbprint_kid(alg, signer)?;
        if let Some(kid) = &jwk.kid {
            key.kid = Kid::new(kid.clone());
        }
        Ok(key)
    }

    /// Loads a private key from PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`) for `alg`.
    pub fn from_pem(pem_text: &str, alg: Algorithm) -> Result<SigningKey, Error> {
        let block = pem_block(pem_text)?;
        let der_bytes = block.contents();
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            Error::InvalidKey(KeyRejection::WrongKeyType {
                alg,
                found: format!("PEM {} ({e})", block.tag()),
            })
        };
        let signer = match (block.tag(), alg.family()) {
            ("PUBLIC KEY" | "RSA PUBLIC KEY", _) => return Err(KeyRejection::NotPrivate.into()),
            (_, KeyFamily::Hmac) => {
                return Err(KeyRejection::WrongKeyType {
                    alg,
                    found: "PEM".into(),
                }
                .into());
            }
            ("PRIVATE KEY", KeyFamily::Rsa) => Signer::Rsa(Arc::new(
                RsaKeyPair::from_pkcs8(der_bytes).map_err(rejected)?,
            )),
            ("RSA PRIVATE KEY", KeyFamily::Rsa) => {
                Signer::Rsa(Arc::new(RsaKeyPair::from_der(der_bytes).map_err(rejected)?))
            }
            ("PRIVATE KEY" | "EC PRIVATE KEY", KeyFamily::Ec) => Signer::Ecdsa(Arc::new(
                EcdsaKeyPair::from_private_key_der(ecdsa_signing(alg), der_bytes)
                    .map_err(rejected)?,
            )),
            ("PRIVATE KEY", KeyFamily::Okp) => Signer::Ed25519(Arc::new(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes).map_err(rejected)?,
            )),
            (tag, _) => {
                return Err(KeyRejection::WrongKeyType {
                    alg,
                    found: format!("PEM {tag}"),
                }
                .into());
            }
        };
        if let Signer::Rsa(pair) = &signer {
            check_rsa_size(
                pair.public_key()
                    .modulus()
                    .big_endian_without_leading_zero(),
            )?;
        }
        SigningKey::with_thumbprint_kid(alg, signer)
    }

    /// Loads a private PEM key whose algorithm is implied by its type: Ed25519 -> EdDSA, P-256/384/521
    /// -> ES256/384/512, RSA -> RS256.
    pub fn from_pem_detect(pem_text: &str) -> Result<SigningKey, Error> {
        let candidates = [
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::RS256,
        ];
        let mut last = None;
        for alg in candidates {
            match SigningKey::from_pem(pem_text, alg) {
                Ok(key) => return Ok(key),
                Err(e @ Error::InvalidKey(KeyRejection::WrongKeyType { .. })) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| invalid("unrecognised private key")))
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> SigningKey {
        self.kid = Kid::new(kid);
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id written into token headers.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// Signs `message` (the JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.signer {
            Signer::Hmac { key, .. } => Ok(hmac::sign(key, message).as_ref().to_vec()),
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    rsa_signing(self.alg),
                    &rand::SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| Error::Crypto("RSA signing failed"))?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => pair
                .sign(&rand::SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| Error::Crypto("ECDSA signing failed")),
            Signer::Ed25519(pair) => pair
                .try_sign(message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| Error::Crypto("Ed25519 signing failed")),
        }
    }

    /// The matching verifying key (for HMAC, the same secret), with the same `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey, Error> {
        let mut key = match &self.signer {
            Signer::Hmac { secret, .. } => VerifyingKey::from_hmac_secret(self.alg, secret)?,
            Signer::Rsa(pair) => {
                let public = pair.public_key();
                VerifyingKey::from_public(
                    self.alg,
                    &PublicParts::Rsa {
                        n: public.modulus().big_endian_without_leading_zero(),
                        e: public.exponent().big_endian_without_leading_zero(),
                    },
                )?
            }
            Signer::Ecdsa(pair) => {
                VerifyingKey::from_public(self.alg, &PublicParts::Ec(pair.public_key().as_ref()))?
            }
            Signer::Ed25519(pair) => VerifyingKey::from_public(
                self.alg,
                &PublicParts::Ed25519(pair.public_key().as_ref()),
            )?,
        };
        if !self.kid.as_str().is_empty() {
            key.kid = self.kid.clone();
        }
        Ok(key)
    }

    /// The private key as a JWK, with `alg` and `kid` set.
    pub fn to_jwk(&self) -> Result<Jwk, Error> {
        let mut jwk = match &self.signer {
            Signer::Hmac { secret, .. } => hmac_secret_jwk(secret),
            Signer::Rsa(pair) => {
                let pkcs8 = pair
                    .as_der()
                    .map_err(|_| Error::Crypto("RSA key export failed"))?;
                rsa_private_jwk(pkcs8.as_ref()).ok_or(Error::Crypto("RSA key export failed"))?
            }
            Signer::Ecdsa(pair) => {
                let mut jwk = public_jwk(self.alg, &PublicParts::Ec(pair.public_key().as_ref()))?;
                let d = pair
                    .private_key()
                    .as_be_bytes()
                    .map_err(|_| Error::Crypto("EC key export failed"))?;
                jwk.d = Some(Secret::new(b64::encode(d.as_ref())));
                jwk
            }
            Signer::Ed25519(pair) => {
                let mut jwk =
                    public_jwk(self.alg, &PublicParts::Ed25519(pair.public_key().as_ref()))?;
                let seed = pair
                    .seed()
                    .and_then(|seed| seed.as_be_bytes())
                    .map_err(|_| Error::Crypto("Ed25519 key export failed"))?;
                jwk.d = Some(Secret::new(b64::encode(seed.as_ref())));
                jwk
            }
        };
        jwk.alg = Some(self.alg.to_string());
        jwk.kid = Some(self.kid.to_string());
        Ok(jwk)
    }

    /// The private key as PKCS#8 PEM. HMAC secrets have no PEM form.
    pub fn to_pem(&self) -> Result<String, Error> {
        let der_bytes = match &self.signer {
            Signer::Hmac { .. } => return Err(invalid("HMAC secrets have no PEM form; use JWK")),
            Signer::Rsa(pair) => pair.as_der().map(|d| d.as_ref().to_vec()),
            Signer::Ecdsa(pair) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Signer::Ed25519(pair) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| Error::Crypto("private key export failed"))?;
        Ok(pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            Zeroizing::new(der_bytes).to_vec(),
        )))
    }
}

fn rsa_private_jwk(pkcs8: &[u8]) -> Option<Jwk> {
    let mut info = der::sequence(pkcs8)?;
    info.expect(der::INTEGER)?;
    info.expect(der::SEQUENCE)?;
    let inner = info.expect(der::OCTET_STRING)?;
    let mut rsa = der::sequence(inner)?;
    rsa.expect(der::INTEGER)?;
    let mut next = || rsa.unsigned().map(b64::encode);
    let (n, e) = (next(), next());
    let mut secret = || next().map(Secret::new);
    Some(Jwk {
        kty: "RSA".into(),
        n,
        e,
        d: secret(),
        p: secret(),
        q: secret(),
        dp: secret(),
        dq: secret(),
        qi: secret(),
        ..Jwk::default()
    })
}

fn ec_point_from_jwk(jwk: &Jwk, alg: Algorithm) -> Result<Vec<u8>, Error> {
    let x = jwk.bytes(jwk.x.as_deref(), "x")?;
    let y = jwk.bytes(jwk.y.as_deref(), "y")?;
    let len = coordinate_len(alg);
    if x.len() != len || y.len() != len {
        return Err(invalid(
            "EC coordinates have the wrong length for the curve",
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

impl VerifyingKey {
    /// Binds a raw HMAC secret to an HS* algorithm for verification.
    pub fn from_hmac_secret(alg: Algorithm, secret: &[u8]) -> Result<VerifyingKey, Error> {
        check_hmac_secret(alg, secret)?;
        Ok(VerifyingKey {
            alg,
            kid: default_kid(&hmac_secret_jwk(secret), None)?,
            verifier: Verifier::Hmac(Box::new(hmac::Key::new(hmac_algorithm(alg), secret))),
            public: None,
            signature_len: alg.hmac_len(),
        })
    }

    fn from_public(alg: Algorithm, parts: &PublicParts<'_>) -> Result<VerifyingKey, Error> {
        let rejected =
            |e: aws_lc_rs::error::KeyRejected| invalid(format!("public key rejected: {e}"));
        let (parsed, signature_len) = match (parts, alg.family()) {
            (PublicParts::Rsa { n, e }, KeyFamily::Rsa) => {
                check_rsa_size(n)?;
                check_rsa_exponent(e)?;
                let parsed = PublicKeyComponents { n: *n, e: *e }
                    .to_parsed_public_key(rsa_verification(alg))
                    .map_err(rejected)?;
                (parsed, n.len())
            }
            (PublicParts::Ec(point), KeyFamily::Ec) => (
                ParsedPublicKey::new(public_verification(alg), point).map_err(rejected)?,
                2 * coordinate_len(alg),
            ),
            (PublicParts::Ed25519(x), KeyFamily::Okp) => {
                if x.len() != signature::ED25519_PUBLIC_KEY_LEN {
                    return Err(invalid("Ed25519 public key must be 32 bytes"));
                }
                (
                    ParsedPublicKey::new(public_verification(alg), x).map_err(rejected)?,
                    64,
                )
            }
            _ => {
                return Err(KeyRejection::WrongKeyType {
                    alg,
                    found: "public key of another type".into(),
                }
                .into());
            }
        };
        let jwk = public_jwk(alg, parts)?;
        Ok(VerifyingKey {
            alg,
            kid: default_kid(&jwk, None)?,
            verifier: Verifier::Public(Arc::new(parsed)),
            public: Some(Arc::new(jwk)),
            signature_len,
        })
    }

    /// Loads a JWK (public or private; an `oct` key is the shared secret). `alg` may be omitted when
    /// the JWK names it (or, for EC and OKP keys, when its curve does).
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<VerifyingKey, Error> {
        let alg = resolve_jwk_algorithm(jwk, alg)?;
        jwk.check_signature_use(false)?;
        let mut key = match alg.family() {
            KeyFamily::Hmac => VerifyingKey::from_hmac_secret(
                alg,
                &Zeroizing::new(jwk.bytes(jwk.k.as_deref(), "k")?),
            )?,
            KeyFamily::Rsa => {
                if jwk.oth.is_some() {
                    return Err(invalid("multi-prime RSA keys are not supported"));
                }
                let n = jwk.bytes(jwk.n.as_deref(), "n")?;
                let e = jwk.bytes(jwk.e.as_deref(), "e")?;
                if n.first() == Some(&0) || e.first() == Some(&0) {
                    return Err(invalid("RSA n and e must not have leading zero bytes"));
                }
                VerifyingKey::from_public(alg, &PublicParts::Rsa { n: &n, e: &e })?
            }
            KeyFamily::Ec => {
                let point = ec_point_from_jwk(jwk, alg)?;
                VerifyingKey::from_public(alg, &PublicParts::Ec(&point))?
            }
            KeyFamily::Okp => {
                let x = jwk.bytes(jwk.x.as_deref(), "x")?;
                VerifyingKey::from_public(alg, &PublicParts::Ed25519(&x))?
            }
        };
        if jwk.is_private() && alg.family() != KeyFamily::Hmac {
            // Make sure the private half matches the public one before trusting either.
            SigningKey::from_jwk(jwk, Some(alg))?;
        }
        if let Some(kid) = &jwk.kid {
            key.kid = Kid::new(kid.clone());
        }
        Ok(key)
    }

    /// Loads a public key from PEM (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`) or derives it from a
    /// private PEM key, for `alg`.
    pub fn from_pem(pem_text: &str, alg: Algorithm) -> Result<VerifyingKey, Error> {
        let block = pem_block(pem_text)?;
        match block.tag() {
            "PUBLIC KEY" => VerifyingKey::from_spki(block.contents(), alg),
            "RSA PUBLIC KEY" => {
                if alg.family() != KeyFamily::Rsa {
                    return Err(KeyRejection::WrongKeyType {
                        alg,
                        found: "RSA".into(),
                    }
                    .into());
                }
                let (n, e) = rsa_public_from_pkcs1(block.contents())
                    .ok_or_else(|| invalid("malformed RSA public key"))?;
                VerifyingKey::from_public(alg, &PublicParts::Rsa { n, e })
            }
            _ => SigningKey::from_pem(pem_text, alg)?.verifying_key(),
        }
    }

    /// Loads a public or private PEM key whose algorithm is implied by its type (see
    /// [`SigningKey::from_pem_detect`]).
    pub fn from_pem_detect(pem_text: &str) -> Result<VerifyingKey, Error> {
        let block = pem_block(pem_text)?;
        if !matches!(block.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
            return SigningKey::from_pem_detect(pem_text)?.verifying_key();
        }
        let mut last = None;
        for alg in [
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::ES512,
            Algorithm::RS256,
        ] {
            match VerifyingKey::from_pem(pem_text, alg) {
                Ok(key) => return Ok(key),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| invalid("unrecognised public key")))
    }

    fn from_spki(spki: &[u8], alg: Algorithm) -> Result<VerifyingKey, Error> {
        let wrong = || {
            Error::InvalidKey(KeyRejection::WrongKeyType {
                alg,
                found: "SPKI public key of another type".into(),
            })
        };
        if alg.family() == KeyFamily::Hmac {
            return Err(wrong());
        }
        // Let aws-lc-rs validate the key for this algorithm (type, curve, point), then take its
        // canonical re-encoding apart to learn the JWK members.
        let parsed = ParsedPublicKey::new(public_verification(alg), spki).map_err(|_| wrong())?;
        let canonical = parsed
            .as_der()
            .map_err(|_| invalid("public key could not be re-encoded"))?;
        let key_bits = spki_key_bits(canonical.as_ref()).ok_or_else(wrong)?;
        match alg.family() {
            KeyFamily::Rsa => {
                let (n, e) = rsa_public_from_pkcs1(key_bits).ok_or_else(wrong)?;
                VerifyingKey::from_public(alg, &PublicParts::Rsa { n, e })
            }
            KeyFamily::Ec => VerifyingKey::from_public(alg, &PublicParts::Ec(key_bits)),
            _ => VerifyingKey::from_public(alg, &PublicParts::Ed25519(key_bits)),
        }
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> VerifyingKey {
        self.kid = Kid::new(kid);
        self
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// Whether this is an HMAC secret (never to be published).
    pub fn is_symmetric(&self) -> bool {
        matches!(self.verifier, Verifier::Hmac(_))
    }

    /// The public JWK with `kid`, `alg` and `use: sig`; `None` for HMAC secrets.
    pub fn to_public_jwk(&self) -> Option<Jwk> {
        self.public.as_ref().map(|jwk| Jwk {
            kid: Some(self.kid.to_string()),
            alg: Some(self.alg.to_string()),
            use_: Some("sig".into()),
            ..Jwk::to_public(jwk)
        })
    }

    /// The public key as SPKI PEM; `None` for HMAC secrets.
    pub fn to_pem(&self) -> Option<String> {
        match &self.verifier {
            Verifier::Hmac(_) => None,
            Verifier::Public(parsed) => parsed
                .as_der()
                .ok()
                .map(|der_bytes| pem::encode(&pem::Pem::new("PUBLIC KEY", der_bytes.as_ref()))),
        }
    }

    /// The RFC 7638 thumbprint of the public key; `None` for HMAC secrets.
    pub fn thumbprint(&self) -> Option<String> {
        self.public.as_ref().and_then(|jwk| jwk.thumbprint().ok())
    }

    /// Checks `signature` over `message`. Lengths are checked first (a P-256 signature is exactly 64
    /// bytes), so an over-long or truncated signature never reaches the crypto. HMAC tags are
    /// compared in constant time by aws-lc-rs.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        if signature.len() != self.signature_len {
            return Err(Error::InvalidSignature);
        }
        let ok = match &self.verifier {
            Verifier::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Verifier::Public(parsed) => parsed.verify_sig(message, signature).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidSignature)
        }
    }
}

/// Finds the key that must verify a token, from the token's (unverified) `kid` and `alg`.
pub trait KeyResolver {
    /// Returns the key, or why there is none. The key's algorithm must equal `alg`.
    fn resolve(&self, kid: Option<&str>, alg: Algorithm) -> Result<&VerifyingKey, Error>;
}

impl KeyResolver for VerifyingKey {
    /// A single key ignores `kid` (a hint, RFC 7515 §4.1.4) but never its algorithm.
    fn resolve(&self, _kid: Option<&str>, alg: Algorithm) -> Result<&VerifyingKey, Error> {
        if alg != self.alg {
            return Err(Error::AlgorithmMismatch {
                expected: self.alg,
                found: alg,
            });
        }
        Ok(self)
    }
}

/// Several verifying keys, chosen by `kid`.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    /// Per algorithm, the key that verifies tokens that carry no `kid`.
    defaults: Vec<(Algorithm, Kid)>,
}

impl KeySet {
    /// A set of keys with distinct ids.
    pub fn new(keys: Vec<VerifyingKey>) -> Result<KeySet, Error> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|other| other.kid == key.kid) {
                return Err(KeyRejection::DuplicateKid(key.kid.to_string()).into());
            }
        }
        Ok(KeySet {
            keys,
            defaults: Vec::new(),
        })
    }

    /// Parses a JWK Set for verification. Keys for other uses, duplicate ids, and sets that mix
    /// symmetric with asymmetric keys are refused; keys without `alg` must have a curve naming one.
    pub fn from_jwks(json: &str) -> Result<KeySet, Error> {
        let set = JwkSet::from_json(json)?;
        if set.keys.is_empty() {
            return Err(KeyRejection::EmptyKeySet.into());
        }
        let symmetric = set.keys.iter().filter(|k| k.kty == "oct").count();
        if symmetric != 0 && symmetric != set.keys.len() {
            return Err(KeyRejection::MixedKeySet.into());
        }
        let keys = set
            .keys
            .iter()
            .map(|jwk| VerifyingKey::from_jwk(jwk, None))
            .collect::<Result<Vec<_>, _>>()?;
        KeySet::new(keys)
    }

    /// Makes the key with id `kid` the one that verifies tokens of its algorithm that have no `kid`.
    pub fn set_default_for_missing_kid(&mut self, kid: &Kid) -> Result<(), Error> {
        let key = self
            .keys
            .iter()
            .find(|k| &k.kid == kid)
            .ok_or_else(|| Error::UnknownKeyId(kid.to_string()))?;
        let alg = key.alg;
        self.defaults.retain(|(a, _)| *a != alg);
        self.defaults.push((alg, kid.clone()));
        Ok(())
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The key with id `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid.as_str() == kid)
    }

    /// The publishable JWK Set: every asymmetric key's public JWK. Secrets are never included.
    pub fn to_public_jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter_map(VerifyingKey::to_public_jwk)
                .collect(),
        }
    }
}

impl KeyResolver for KeySet {
    fn resolve(&self, kid: Option<&str>, alg: Algorithm) -> Result<&VerifyingKey, Error> {
        let key = match kid {
            Some(kid) => self
                .get(kid)
                .ok_or_else(|| Error::UnknownKeyId(kid.chars().take(64).collect()))?,
            None => {
                let by_default = self
                    .defaults
                    .iter()
                    .find(|(a, _)| *a == alg)
                    .and_then(|(_, kid)| self.get(kid.as_str()));
                match by_default {
                    Some(key) => key,
                    None => {
                        let mut candidates = self.keys.iter().filter(|k| k.alg == alg);
                        match (candidates.next(), candidates.next()) {
                            (Some(only), None) => only,
                            _ => return Err(Error::MissingKeyId),
                        }
                    }
                }
            }
        };
        key.resolve(None, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_signs_and_verifies() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let signature = key.sign(b"message").unwrap();
            let verifying = key.verifying_key().unwrap();
            assert_eq!(verifying.kid(), key.kid());
            verifying.verify_signature(b"message", &signature).unwrap();
            assert_eq!(
                verifying.verify_signature(b"massage", &signature),
                Err(Error::InvalidSignature),
                "{alg}"
            );
        }
    }

    #[test]
    fn jwk_and_pem_round_trip() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let jwk = key.to_jwk().unwrap();
            let again = SigningKey::from_jwk(&jwk, None).unwrap();
            assert_eq!(again.kid(), key.kid());
            let signature = again.sign(b"m").unwrap();
            key.verifying_key()
                .unwrap()
                .verify_signature(b"m", &signature)
                .unwrap();
            if alg.is_symmetric() {
                assert!(key.to_pem().is_err());
                assert!(key.verifying_key().unwrap().to_public_jwk().is_none());
                continue;
            }
            let pem = key.to_pem().unwrap();
            let from_pem = SigningKey::from_pem(&pem, alg).unwrap();
            assert_eq!(from_pem.kid(), key.verifying_key().unwrap().kid());
            let public_pem = key.verifying_key().unwrap().to_pem().unwrap();
            let public = VerifyingKey::from_pem(&public_pem, alg).unwrap();
            public.verify_signature(b"m", &signature).unwrap();
            let public_jwk = public.to_public_jwk().unwrap();
            assert!(!public_jwk.is_private());
            VerifyingKey::from_jwk(&public_jwk, None)
                .unwrap()
                .verify_signature(b"m", &signature)
                .unwrap();
        }
    }

    #[test]
    fn pem_detection_picks_the_natural_algorithm() {
        for alg in [Algorithm::ES384, Algorithm::EdDSA, Algorithm::RS256] {
            let pem = SigningKey::generate(alg).unwrap().to_pem().unwrap();
            assert_eq!(SigningKey::from_pem_detect(&pem).unwrap().algorithm(), alg);
        }
    }

    #[test]
    fn roca_and_bad_exponents_are_refused() {
        let key = SigningKey::generate(Algorithm::RS256)
            .unwrap()
            .to_jwk()
            .unwrap();
        let n = b64::decode(key.n.as_deref().unwrap().as_bytes()).unwrap();
        assert!(!has_roca_fingerprint(&n), "a fresh key is not ROCA");
        assert!(
            has_roca_fingerprint(&[1]),
            "1 is 65537^0 modulo every prime"
        );
        assert!(check_rsa_exponent(&[1]).is_err());
        assert!(check_rsa_exponent(&[0, 1]).is_err());
        assert!(check_rsa_exponent(&[1, 0]).is_err(), "even");
        assert!(check_rsa_exponent(&[3]).is_ok());
        assert!(check_rsa_exponent(&[1, 0, 1]).is_ok());
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        assert_eq!(
            SigningKey::from_hmac_secret(Algorithm::HS384, &[7; 47]).unwrap_err(),
            Error::InvalidKey(KeyRejection::SecretTooShort { min: 48, found: 47 })
        );
        assert!(SigningKey::from_hmac_secret(Algorithm::HS384, &[7; 48]).is_ok());
        assert!(SigningKey::from_hmac_secret(Algorithm::ES256, &[7; 64]).is_err());
    }

    #[test]
    fn a_jwk_binds_one_algorithm() {
        let jwk = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .to_jwk()
            .unwrap();
        assert!(matches!(
            SigningKey::from_jwk(&jwk, Some(Algorithm::ES384)),
            Err(Error::InvalidKey(KeyRejection::AlgorithmConflict { .. }))
        ));
        let rsa = SigningKey::generate(Algorithm::RS256)
            .unwrap()
            .to_jwk()
            .unwrap();
        let mut no_alg = rsa.to_public();
        no_alg.alg = None;
        assert!(matches!(
            VerifyingKey::from_jwk(&no_alg, None),
            Err(Error::InvalidKey(KeyRejection::AlgorithmRequired))
        ));
        assert!(VerifyingKey::from_jwk(&no_alg, Some(Algorithm::PS256)).is_ok());
    }

    #[test]
    fn key_sets_refuse_duplicates_and_resolve_by_kid() {
        let a = SigningKey::generate(Algorithm::ES256).unwrap();
        let b = SigningKey::generate(Algorithm::ES256).unwrap();
        let set =
            KeySet::new(vec![a.verifying_key().unwrap(), b.verifying_key().unwrap()]).unwrap();
        assert_eq!(
            set.resolve(Some(b.kid().as_str()), Algorithm::ES256)
                .unwrap()
                .kid(),
            b.kid()
        );
        assert_eq!(
            set.resolve(None, Algorithm::ES256).unwrap_err(),
            Error::MissingKeyId
        );
        assert!(matches!(
            set.resolve(Some(a.kid().as_str()), Algorithm::ES384),
            Err(Error::AlgorithmMismatch { .. })
        ));
        assert!(KeySet::new(vec![a.verifying_key().unwrap(), a.verifying_key().unwrap()]).is_err());
    }
}
