//! `tessera token`: encode, verify and (insecurely) decode compact JWTs.

use clap::Subcommand;
use serde_json::{Map, Value};
use tessera_jwt::{
    Algorithm, Clock, FixedClock, Header, SystemClock, Validation, dangerous, encode_with_header,
    verify,
};

use crate::Failure;
use crate::input;
use crate::keys::parse_alg;

/// Largest token `decode` will look at; generous, since it is only for display.
const DECODE_LIMIT: usize = 64 * 1024;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Sign claims into a compact token.
    Encode {
        /// Private key: a JWK or a PEM file (`-` for standard input).
        #[arg(long)]
        key: String,
        /// Algorithm; may be omitted when the JWK names it (PEM keys default by type, RSA to RS256).
        #[arg(long, value_parser = parse_alg)]
        alg: Option<Algorithm>,
        /// Claims as a JSON object, or @FILE.
        #[arg(long, default_value = "{}")]
        claims: String,
        /// Extra header members as a JSON object (`typ`, `cty`, `kid`, ...); `alg` comes from the key.
        #[arg(long)]
        header: Option<String>,
        /// Set `exp` this far in the future (e.g. 15m, 1h, 3600).
        #[arg(long, value_parser = input::parse_duration)]
        exp: Option<std::time::Duration>,
        /// Set `iat` to now.
        #[arg(long)]
        iat: bool,
        /// Set a random `jti`.
        #[arg(long)]
        jti: bool,
    },
    /// Verify a token: exit 0 and print the payload, or exit 1 and say why on stderr.
    Verify {
        /// The token, or `-` for standard input.
        token: String,
        /// A JWK, a JWK Set or a PEM key.
        #[arg(long)]
        key: String,
        /// Algorithm; may be omitted when the key names it or its type implies it.
        #[arg(long, value_parser = parse_alg)]
        alg: Option<Algorithm>,
        /// Accepted issuer (repeatable).
        #[arg(long)]
        iss: Vec<String>,
        /// Accepted audience (repeatable). Without it, a token carrying `aud` is refused.
        #[arg(long)]
        aud: Vec<String>,
        /// Accept any audience when none is named.
        #[arg(long, conflicts_with = "aud")]
        any_aud: bool,
        /// Allowed clock skew in seconds.
        #[arg(long, default_value_t = 0)]
        leeway: u64,
        /// Verify as of this Unix time instead of now.
        #[arg(long)]
        time: Option<i64>,
    },
    /// Print header and payload WITHOUT verifying anything.
    Decode {
        /// The token, or `-` for standard input.
        token: String,
    },
}

pub(crate) fn run(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Encode {
            key,
            alg,
            claims,
            header,
            exp,
            iat,
            jti,
        } => {
            let key = input::signing_key(&key, alg)?;
            let mut claims = input::json_object(&claims, "--claims")?;
            let now = SystemClock.now();
            if let Some(exp) = exp {
                let seconds = i64::try_from(exp.as_secs())
                    .map_err(|_| Failure::usage("--exp is too long"))?;
                claims.insert("exp".into(), Value::from(now.saturating_add(seconds)));
            }
            if iat {
                claims.insert("iat".into(), Value::from(now));
            }
            if jti {
                claims.insert("jti".into(), Value::from(random_hex(16)?));
            }
            let mut head = Header::for_key(&key);
            if let Some(extra) = header {
                merge_header(&mut head, input::json_object(&extra, "--header")?)?;
            }
            let token = encode_with_header(&head, &claims, &key).map_err(Failure::Invalid)?;
            println!("{token}");
            Ok(())
        }
        TokenCommand::Verify {
            token,
            key,
            alg,
            iss,
            aud,
            any_aud,
            leeway,
            time,
        } => {
            let keys = input::verifying_keys(&key, alg)?;
            let token = input::read_token(&token)?;
            let mut policy = Validation::new().leeway(leeway);
            if !iss.is_empty() {
                policy = policy.issuers(iss);
            }
            if !aud.is_empty() {
                policy = policy.audiences(aud);
            }
            if any_aud {
                policy = policy.accept_any_audience();
            }
            let clock: Box<dyn Clock> = match time {
                Some(t) => Box::new(FixedClock(t)),
                None => Box::new(SystemClock),
            };
            let verified = verify::<Map<String, Value>>(&token, &keys, &policy, clock.as_ref())
                .map_err(Failure::Invalid)?;
            println!("{}", Value::Object(verified.into_claims()));
            Ok(())
        }
        TokenCommand::Decode { token } => {
            let token = input::read_token(&token)?;
            let (header, payload) =
                dangerous::decode_unverified(&token, DECODE_LIMIT).map_err(Failure::Invalid)?;
            eprintln!("warning: the signature was NOT verified; do not trust this content");
            let both = serde_json::json!({ "header": header, "payload": payload });
            let text =
                serde_json::to_string_pretty(&both).map_err(|e| Failure::usage(e.to_string()))?;
            println!("{text}");
            Ok(())
        }
    }
}

/// Applies `--header` members. `alg` may only restate the key's algorithm.
fn merge_header(head: &mut Header, extra: Map<String, Value>) -> Result<(), Failure> {
    for (name, value) in extra {
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Failure::usage(format!("--header: {name:?} must be a string")))
        };
        match name.as_str() {
            "alg" => {
                if text()? != head.alg.as_str() {
                    return Err(Failure::usage(format!(
                        "--header: alg comes from the key ({}); it cannot be changed",
                        head.alg
                    )));
                }
            }
            "typ" => head.typ = Some(text()?),
            "cty" => head.cty = Some(text()?),
            "kid" => head.kid = Some(text()?),
            "crit" => {
                return Err(Failure::usage(
                    "--header: crit extensions are not supported",
                ));
            }
            _ => {
                head.extra.insert(name, value);
            }
        }
    }
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String, Failure> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| Failure::usage("random generator failed"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
