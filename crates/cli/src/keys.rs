//! `tessera keys`: generate private keys and derive public ones.

use clap::{Subcommand, ValueEnum};
use tessera_jwt::{Algorithm, KeyFamily, VerifyingKey};

use crate::Failure;
use crate::input::{self, KeyFile};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Jwk,
    Pem,
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new signing key for the server; the old one verifies until its tokens expire.
    Rotate(crate::admin::DataArgs),
    /// List the server's keys.
    List(crate::admin::DataArgs),
    /// Print a new private key (a JWK with `alg` and `kid` by default; HS* keys are JWKs of kty `oct`).
    Generate {
        /// Algorithm the key is for: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA.
        #[arg(long, value_parser = parse_alg)]
        alg: Algorithm,
        /// Key id (default: the RFC 7638 thumbprint).
        #[arg(long)]
        kid: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jwk)]
        format: Format,
    },
    /// Print the public part of a private key (JWK or PEM in; JWK or SPKI PEM out).
    Public {
        /// Key file, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jwk)]
        format: Format,
        /// Algorithm, for keys that do not name one (RSA PEM keys are reported without `alg`).
        #[arg(long, value_parser = parse_alg)]
        alg: Option<Algorithm>,
    },
}

pub(crate) fn parse_alg(name: &str) -> Result<Algorithm, String> {
    name.parse().map_err(|e: tessera_jwt::Error| e.to_string())
}

pub(crate) fn run(command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Rotate(data) => crate::admin::keys_rotate(data),
        KeysCommand::List(data) => crate::admin::keys_list(data),
        KeysCommand::Generate { alg, kid, format } => {
            let mut key = tessera_jwt::SigningKey::generate(alg).map_err(Failure::Invalid)?;
            if let Some(kid) = kid {
                key = key.with_kid(kid);
            }
            match format {
                Format::Jwk => print_json(&key.to_jwk().map_err(Failure::Invalid)?),
                Format::Pem if alg.is_symmetric() => Err(Failure::usage(
                    "HMAC secrets have no PEM form; use --format jwk",
                )),
                Format::Pem => {
                    print!("{}", key.to_pem().map_err(Failure::Invalid)?);
                    Ok(())
                }
            }
        }
        KeysCommand::Public { file, format, alg } => {
            let (key, alg_known) = public_key(&file, alg)?;
            match format {
                Format::Jwk => {
                    let mut jwk = key
                        .to_public_jwk()
                        .ok_or_else(|| Failure::usage("HMAC secrets have no public part"))?;
                    if !alg_known {
                        jwk.alg = None;
                    }
                    print_json(&jwk)
                }
                Format::Pem => {
                    print!(
                        "{}",
                        key.to_pem()
                            .ok_or_else(|| Failure::usage("HMAC secrets have no public part"))?
                    );
                    Ok(())
                }
            }
        }
    }
}

/// Loads any key and returns its public form, and whether its algorithm is really known (an RSA key
/// could be RS* or PS*; the others are fixed by their curve).
fn public_key(path: &str, alg: Option<Algorithm>) -> Result<(VerifyingKey, bool), Failure> {
    let bad = |e: tessera_jwt::Error| Failure::usage(format!("{path}: {e}"));
    match input::read_key_file(path)? {
        KeyFile::Jwk(jwk) => {
            if jwk.kty == "oct" {
                return Err(Failure::usage("HMAC secrets have no public part"));
            }
            let named = alg.is_some() || jwk.alg.is_some();
            let fallback = (jwk.kty == "RSA" && !named).then_some(Algorithm::RS256);
            let key = VerifyingKey::from_jwk(&jwk, alg.or(fallback)).map_err(bad)?;
            Ok((key, named || jwk.kty != "RSA"))
        }
        KeyFile::Set(_) => Err(Failure::usage(format!(
            "{path}: give one key, not a JWK Set"
        ))),
        KeyFile::Pem(pem) => {
            let key = match alg {
                Some(alg) => VerifyingKey::from_pem(&pem, alg),
                None => VerifyingKey::from_pem_detect(&pem),
            }
            .map_err(bad)?;
            let known = alg.is_some() || key.algorithm().family() != KeyFamily::Rsa;
            Ok((key, known))
        }
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::usage(e.to_string()))?;
    println!("{text}");
    Ok(())
}
