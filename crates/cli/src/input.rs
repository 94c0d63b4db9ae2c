//! Reading arguments that may be files, standard input or inline JSON, and loading keys from them.

use std::io::Read as _;

use tessera_jwt::{Algorithm, Jwk, JwkSet, KeyResolver, KeySet, SigningKey, VerifyingKey};

use crate::Failure;

/// Reads `path`, or standard input when it is `-`.
pub(crate) fn read_source(path: &str) -> Result<String, Failure> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))
    }
}

/// A token argument: the token itself, or `-` for standard input. Surrounding whitespace is ignored.
pub(crate) fn read_token(arg: &str) -> Result<String, Failure> {
    let text = if arg == "-" {
        read_source("-")?
    } else {
        arg.to_owned()
    };
    Ok(text.trim().to_owned())
}

/// A JSON object given inline or as `@FILE`.
pub(crate) fn json_object(
    arg: &str,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    let text = match arg.strip_prefix('@') {
        Some(path) => read_source(path)?,
        None => arg.to_owned(),
    };
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::usage(format!("{what} must be a JSON object"))),
        Err(e) => Err(Failure::usage(format!("{what} is not valid JSON: {e}"))),
    }
}

/// What a key file holds.
pub(crate) enum KeyFile {
    Jwk(Box<Jwk>),
    Set(JwkSet),
    Pem(String),
}

pub(crate) fn read_key_file(path: &str) -> Result<KeyFile, Failure> {
    let text = read_source(path)?;
    let trimmed = text.trim_start();
    let bad = |e: tessera_jwt::Error| Failure::usage(format!("{path}: {e}"));
    if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| Failure::usage(format!("{path}: not valid JSON: {e}")))?;
        if value.get("keys").is_some() {
            Ok(KeyFile::Set(JwkSet::from_json(trimmed).map_err(bad)?))
        } else {
            Ok(KeyFile::Jwk(Box::new(
                Jwk::from_json(trimmed).map_err(bad)?,
            )))
        }
    } else if trimmed.starts_with("-----BEGIN") {
        Ok(KeyFile::Pem(text))
    } else {
        Err(Failure::usage(format!(
            "{path}: expected a JWK, a JWK Set or a PEM key"
        )))
    }
}

fn key_error(path: &str) -> impl Fn(tessera_jwt::Error) -> Failure + '_ {
    move |e| Failure::usage(format!("{path}: {e}"))
}

/// A private key for signing. PEM keys without `--alg` get the algorithm their type implies.
pub(crate) fn signing_key(path: &str, alg: Option<Algorithm>) -> Result<SigningKey, Failure> {
    match read_key_file(path)? {
        KeyFile::Jwk(jwk) => SigningKey::from_jwk(&jwk, alg).map_err(key_error(path)),
        KeyFile::Set(_) => Err(Failure::usage(format!(
            "{path}: a JWK Set cannot sign; give one private JWK"
        ))),
        KeyFile::Pem(pem) => match alg {
            Some(alg) => SigningKey::from_pem(&pem, alg),
            None => SigningKey::from_pem_detect(&pem),
        }
        .map_err(key_error(path)),
    }
}

/// The keys a token may be verified with. One key the caller names without an id (a PEM, a JWK
/// without `kid`) verifies whatever `kid` a token carries: the id is only a hint (RFC 7515
/// §4.1.4), as PyJWT, jose and jsonwebtoken treat it, so a token another issuer signed with that
/// key and its own `kid` verifies. In a JWK Set (or a JWK with `kid`), `kid` selects the key, and a
/// token without one uses the only key of its algorithm.
pub(crate) enum VerifyingKeys {
    /// One key; the token's `kid` is not compared.
    One(VerifyingKey),
    /// Keys chosen by `kid`.
    Set(KeySet),
}

impl KeyResolver for VerifyingKeys {
    fn resolve(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerifyingKey, tessera_jwt::Error> {
        match self {
            VerifyingKeys::One(key) => key.resolve(kid, alg),
            VerifyingKeys::Set(keys) => keys.resolve(kid, alg),
        }
    }
}

pub(crate) fn verifying_keys(path: &str, alg: Option<Algorithm>) -> Result<VerifyingKeys, Failure> {
    let set = |keys: Vec<VerifyingKey>| {
        KeySet::new(keys)
            .map(VerifyingKeys::Set)
            .map_err(key_error(path))
    };
    match read_key_file(path)? {
        KeyFile::Jwk(jwk) => {
            let key = VerifyingKey::from_jwk(&jwk, alg).map_err(key_error(path))?;
            match jwk.kid {
                None => Ok(VerifyingKeys::One(key)),
                Some(_) => set(vec![key]),
            }
        }
        KeyFile::Set(jwks) => match alg {
            None => KeySet::from_jwks(
                &serde_json::to_string(&jwks).map_err(|e| Failure::usage(e.to_string()))?,
            )
            .map(VerifyingKeys::Set)
            .map_err(key_error(path)),
            Some(alg) => set(jwks
                .keys
                .iter()
                .filter(|jwk| jwk.alg.as_deref().is_none_or(|a| a == alg.as_str()))
                .map(|jwk| VerifyingKey::from_jwk(jwk, Some(alg)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(key_error(path))?),
        },
        KeyFile::Pem(pem) => match alg {
            Some(alg) => VerifyingKey::from_pem(&pem, alg),
            None => VerifyingKey::from_pem_detect(&pem),
        }
        .map(VerifyingKeys::One)
        .map_err(key_error(path)),
    }
}

/// A duration such as `15m`, `1h 30m`, `2d` or a plain number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Ok(std::time::Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}
