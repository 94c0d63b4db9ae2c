//! The server's configuration: one typed struct, loaded only by the binary, in layers: defaults,
//! then a TOML file, then `TESSERA_*` environment variables, then command-line flags. Validated once
//! at start; every error names the setting.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tessera_auth::{AuthConfig, MasterKey, PasswordPolicy, ThrottleConfig};
use tessera_jwt::Algorithm;

/// A span of time written as `15m`, `1h 30m`, `1d` or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    /// Whole seconds, saturating.
    pub fn seconds(self) -> i64 {
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(s) => Ok(Span(Duration::from_secs(s))),
            Raw::Text(text) => match text.trim().parse::<u64>() {
                Ok(s) => Ok(Span(Duration::from_secs(s))),
                Err(_) => humantime::parse_duration(&text).map(Span).map_err(|e| {
                    serde::de::Error::custom(format!("invalid duration {text:?}: {e}"))
                }),
            },
        }
    }
}

/// A secret setting: compared and deserialized as text, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"(secret)\"")
    }
}

/// A list given as a TOML array or as one comma-separated string (handy in environment variables).
fn list<'de, D: Deserializer<'de>, T: std::str::FromStr>(
    deserializer: D,
) -> Result<Vec<T>, D::Error>
where
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Many(Vec<String>),
        One(String),
    }
    let items = match Raw::deserialize(deserializer)? {
        Raw::Many(items) => items,
        Raw::One(text) => text.split(',').map(str::to_owned).collect(),
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
        })
        .collect()
}

/// Every setting of `tessera serve`. Each field's doc says its default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database. Default `./tessera-data`.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://PATH` or `postgres://user@host/db`); overrides `data_dir`.
    /// Default: none.
    pub database_url: Option<String>,
    /// Apply pending migrations when `serve` starts (else refuse an outdated schema). Default `true`.
    pub migrate: bool,
    /// PostgreSQL connections per instance. Default `16`.
    pub database_max_connections: u32,
    /// Longest wait for a database connection (PostgreSQL down or restarting) before 503. Default `3s`.
    pub database_timeout: Span,
    /// Longest a PostgreSQL statement may run. Default `5s`.
    pub database_statement_timeout: Span,
    /// Redis URL for revocation broadcast and shared login throttling. Default: none.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel. Default `tessera:`.
    pub redis_prefix: String,
    /// Longest wait for Redis before falling back (polling, local counters). Default `1s`.
    pub redis_timeout: Span,
    /// Key sealing private signing keys in the database (64 hex digits or base64 of 32 bytes);
    /// best given as `TESSERA_MASTER_KEY`. Default: none (keys stored unencrypted).
    pub master_key: Option<SecretText>,
    /// A private JWK or PEM file to sign with instead of the generated keys. Default: none.
    pub signing_key: Option<PathBuf>,
    /// Algorithm for keys the server generates. Default `ES256`.
    pub signing_algorithm: Algorithm,
    /// How long a rotated-in key is published (JWKS) before it signs, so verifiers that cache the
    /// key set know it first. Default `0s` (signs at once).
    pub key_publish_ahead: Span,
    /// Access token lifetime. Default `5m`.
    pub access_token_lifetime: Span,
    /// Refresh token lifetime. Default `1d`.
    pub refresh_token_lifetime: Span,
    /// Absolute session lifetime. Default `30d`.
    pub session_lifetime: Span,
    /// Issue a new refresh token on refresh. Default `true`.
    pub rotate_refresh_tokens: bool,
    /// Retire the old refresh token on rotation. Default `true`.
    pub blacklist_after_rotation: bool,
    /// Grace window for presenting the previous refresh token again. Default `0s` (off).
    pub reuse_grace: Span,
    /// `iss` to issue and require. Default: none.
    pub issuer: Option<String>,
    /// `aud` to issue and require. Default: none.
    pub audience: Option<String>,
    /// Clock skew allowed in validation, seconds. Default `0`.
    pub leeway: u64,
    /// Failed logins per username per window before 429. Default `5`.
    pub login_failures_per_username: usize,
    /// Failed logins per client IP per window before 429. Default `50`.
    pub login_failures_per_ip: usize,
    /// Throttling window. Default `15m`.
    pub login_throttle_window: Span,
    /// Proxies whose `X-Forwarded-For` is trusted (comma-separated IPs). Default: none.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<IpAddr>,
    /// argon2id memory in KiB. Default `19456` (OWASP).
    pub password_hash_memory_kib: u32,
    /// argon2id passes. Default `2` (OWASP).
    pub password_hash_iterations: u32,
    /// Concurrent password hashes; 0 means cores - 1. Default `0`.
    pub password_hash_workers: usize,
    /// How often to poll for revocations and key changes made elsewhere (also the fallback when
    /// the broadcast is down). Default `1s`.
    pub sync_interval: Span,
    /// Refuse access tokens (503) when revocations have not been synced with the database for
    /// this long (an instance cut off from a database others still write to); `0s` never refuses,
    /// so verification survives a database outage. Default `0s`.
    pub revocation_max_staleness: Span,
    /// How often to delete expired rows. Default `1h`.
    pub sweep_interval: Span,
    /// How long a shutdown waits for the requests in flight to finish. Default `10s`.
    pub shutdown_grace: Span,
    /// Keep the refresh token in an HttpOnly cookie. Default `false`.
    pub browser_mode: bool,
    /// Mark that cookie `Secure`. Default `true`.
    pub cookie_secure: bool,
    /// Origins trusted for cookie-authenticated requests (comma-separated). Default: none.
    #[serde(deserialize_with = "list")]
    pub allowed_origins: Vec<String>,
    /// Verified access tokens remembered (skips repeat signature checks); 0 = off. Default `10000`.
    pub verified_token_cache: usize,
    /// Custom claims copied into access tokens (comma-separated); empty means all. Default: all.
    #[serde(deserialize_with = "list")]
    pub access_token_claims: Vec<String>,
    /// Log filter (tracing `EnvFilter` syntax). Default `info`.
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        let auth = AuthConfig::default();
        let throttle = ThrottleConfig::default();
        let password = PasswordPolicy::default();
        let span = |s: i64| Span(Duration::from_secs(u64::try_from(s).unwrap_or(0)));
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: PathBuf::from("./tessera-data"),
            database_url: None,
            migrate: true,
            database_max_connections: 16,
            database_timeout: Span(Duration::from_secs(3)),
            database_statement_timeout: Span(Duration::from_secs(5)),
            redis_url: None,
            redis_prefix: "tessera:".into(),
            redis_timeout: Span(Duration::from_secs(1)),
            master_key: None,
            signing_key: None,
            signing_algorithm: auth.signing_algorithm,
            key_publish_ahead: span(auth.key_publish_ahead),
            access_token_lifetime: span(auth.access_lifetime),
            refresh_token_lifetime: span(auth.refresh_lifetime),
            session_lifetime: span(auth.session_lifetime),
            rotate_refresh_tokens: auth.rotate_refresh_tokens,
            blacklist_after_rotation: auth.blacklist_after_rotation,
            reuse_grace: span(auth.reuse_grace),
            issuer: None,
            audience: None,
            leeway: 0,
            login_failures_per_username: throttle.per_username,
            login_failures_per_ip: throttle.per_ip,
            login_throttle_window: span(throttle.window),
            trusted_proxies: Vec::new(),
            password_hash_memory_kib: password.memory_kib,
            password_hash_iterations: password.iterations,
            password_hash_workers: 0,
            sync_interval: Span(Duration::from_secs(1)),
            revocation_max_staleness: Span(Duration::ZERO),
            sweep_interval: Span(Duration::from_secs(3600)),
            shutdown_grace: Span(Duration::from_secs(10)),
            browser_mode: false,
            cookie_secure: true,
            allowed_origins: Vec::new(),
            access_token_claims: Vec::new(),
            verified_token_cache: 10_000,
            log: "info".into(),
        }
    }
}

/// The settings, their defaults and meaning, for `tessera serve --help`.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("listen", "127.0.0.1:8000", "address to listen on"),
    (
        "data_dir",
        "./tessera-data",
        "directory of the embedded SQLite database",
    ),
    (
        "database_url",
        "(none)",
        "sqlite://PATH or postgres://USER@HOST/DB; overrides data_dir",
    ),
    (
        "migrate",
        "true",
        "apply pending migrations when serve starts",
    ),
    (
        "database_max_connections",
        "16",
        "PostgreSQL connections per instance",
    ),
    (
        "database_timeout",
        "3s",
        "longest wait for a database connection before 503",
    ),
    (
        "database_statement_timeout",
        "5s",
        "longest a PostgreSQL statement may run",
    ),
    (
        "redis_url",
        "(none)",
        "Redis for revocation broadcast and shared throttling",
    ),
    (
        "redis_prefix",
        "tessera:",
        "prefix of Redis keys and channels",
    ),
    (
        "redis_timeout",
        "1s",
        "longest wait for Redis before falling back",
    ),
    (
        "master_key",
        "(none)",
        "seals private keys at rest (use TESSERA_MASTER_KEY)",
    ),
    (
        "signing_key",
        "(none)",
        "private JWK or PEM to sign with instead of generated keys",
    ),
    ("signing_algorithm", "ES256", "algorithm of generated keys"),
    (
        "key_publish_ahead",
        "0s",
        "how long a rotated key is published before it signs",
    ),
    ("access_token_lifetime", "5m", "access token lifetime"),
    ("refresh_token_lifetime", "1d", "refresh token lifetime"),
    ("session_lifetime", "30d", "absolute session lifetime"),
    (
        "rotate_refresh_tokens",
        "true",
        "issue a new refresh token on refresh",
    ),
    (
        "blacklist_after_rotation",
        "true",
        "retire the old refresh token on rotation",
    ),
    (
        "reuse_grace",
        "0s",
        "grace window for the previous refresh token",
    ),
    ("issuer", "(none)", "iss to issue and require"),
    ("audience", "(none)", "aud to issue and require"),
    ("leeway", "0", "clock skew allowed, seconds"),
    (
        "login_failures_per_username",
        "5",
        "failed logins per username per window",
    ),
    (
        "login_failures_per_ip",
        "50",
        "failed logins per client IP per window",
    ),
    ("login_throttle_window", "15m", "throttling window"),
    (
        "trusted_proxies",
        "(none)",
        "comma-separated proxy IPs whose X-Forwarded-For is trusted",
    ),
    ("password_hash_memory_kib", "19456", "argon2id memory (KiB)"),
    ("password_hash_iterations", "2", "argon2id passes"),
    (
        "password_hash_workers",
        "0",
        "concurrent hashes; 0 = cores - 1",
    ),
    (
        "sync_interval",
        "1s",
        "how often to poll for revocations and key changes",
    ),
    (
        "revocation_max_staleness",
        "0s",
        "503 for access tokens when revocations are this stale; 0s = never",
    ),
    ("sweep_interval", "1h", "how often to delete expired rows"),
    (
        "shutdown_grace",
        "10s",
        "how long a shutdown lets requests in flight finish",
    ),
    (
        "browser_mode",
        "false",
        "refresh token in an HttpOnly cookie",
    ),
    ("cookie_secure", "true", "mark the cookie Secure"),
    (
        "allowed_origins",
        "(none)",
        "comma-separated origins trusted for cookie requests",
    ),
    (
        "access_token_claims",
        "(all)",
        "custom claims copied into access tokens (comma-separated)",
    ),
    ("log", "info", "log filter"),
];

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is invalid; the message names it.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Builds the configuration from its layers. `file` is the `--config` TOML (if any), `env` the
    /// process environment (only `TESSERA_<SETTING>` names are read), `flags` settings given on the
    /// command line as (name, value) text.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (name, value) in env {
            let Some(setting) = name.strip_prefix("TESSERA_").map(str::to_ascii_lowercase) else {
                continue;
            };
            if SETTINGS.iter().any(|(known, _, _)| *known == setting) {
                table.insert(setting, guess_value(&value));
            }
        }
        for (name, value) in flags {
            table.insert((*name).to_owned(), guess_value(value));
        }
        let config: Config = table.try_into().map_err(|e: toml::de::Error| {
            ConfigError::Invalid(e.to_string().trim().replace('\n', " "))
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("access_token_lifetime", self.access_token_lifetime),
            ("refresh_token_lifetime", self.refresh_token_lifetime),
            ("session_lifetime", self.session_lifetime),
            ("login_throttle_window", self.login_throttle_window),
            ("sync_interval", self.sync_interval),
            ("database_timeout", self.database_timeout),
            (
                "database_statement_timeout",
                self.database_statement_timeout,
            ),
            ("redis_timeout", self.redis_timeout),
            ("sweep_interval", self.sweep_interval),
        ];
        for (name, span) in positive {
            if span.0.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be longer than 0"
                )));
            }
        }
        if self.login_failures_per_username == 0 || self.login_failures_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "login_failures_per_username and login_failures_per_ip must be at least 1".into(),
            ));
        }
        if self.password_hash_memory_kib < 8 || self.password_hash_iterations == 0 {
            return Err(ConfigError::Invalid(
                "password_hash_memory_kib must be at least 8 and password_hash_iterations at least 1".into(),
            ));
        }
        if let Some(url) = &self.database_url
            && !url.starts_with("sqlite:")
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
        {
            return Err(ConfigError::Invalid(format!(
                "database_url {url:?} must start with sqlite: or postgres://"
            )));
        }
        if let Some(url) = &self.redis_url
            && !url.starts_with("redis://")
            && !url.starts_with("rediss://")
        {
            return Err(ConfigError::Invalid(format!(
                "redis_url {url:?} must start with redis:// or rediss://"
            )));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database_max_connections must be at least 1".into(),
            ));
        }
        if !self.revocation_max_staleness.0.is_zero()
            && self.revocation_max_staleness.0 <= self.sync_interval.0 * 2
        {
            return Err(ConfigError::Invalid(
                "revocation_max_staleness must be 0s (off) or longer than twice sync_interval"
                    .into(),
            ));
        }
        self.master_key()?;
        Ok(())
    }

    /// The parsed master key, if one is set.
    pub fn master_key(&self) -> Result<Option<MasterKey>, ConfigError> {
        self.master_key
            .as_ref()
            .map(|text| MasterKey::parse(&text.0))
            .transpose()
            .map_err(|e| ConfigError::Invalid(format!("master_key: {e}")))
    }

    /// Whether the database is PostgreSQL (shared by instances) rather than an SQLite file.
    pub fn is_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres"))
    }

    /// The domain settings.
    pub fn auth(&self) -> AuthConfig {
        AuthConfig {
            access_lifetime: self.access_token_lifetime.seconds(),
            refresh_lifetime: self.refresh_token_lifetime.seconds(),
            session_lifetime: self.session_lifetime.seconds(),
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            blacklist_after_rotation: self.blacklist_after_rotation,
            reuse_grace: self.reuse_grace.seconds(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway,
            signing_algorithm: self.signing_algorithm,
            access_token_claims: (!self.access_token_claims.is_empty())
                .then(|| self.access_token_claims.clone()),
            max_token_bytes: tessera_jwt::DEFAULT_MAX_TOKEN_BYTES,
            verified_token_cache: self.verified_token_cache,
            key_publish_ahead: self.key_publish_ahead.seconds(),
            // Validated at load; a config built by hand with a bad key gets none here and fails
            // loudly at `validate`.
            master_key: self.master_key().ok().flatten(),
        }
    }

    /// The throttling settings.
    pub fn throttle(&self) -> ThrottleConfig {
        ThrottleConfig {
            per_username: self.login_failures_per_username,
            per_ip: self.login_failures_per_ip,
            window: self.login_throttle_window.seconds(),
        }
    }

    /// The password hashing cost.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            memory_kib: self.password_hash_memory_kib,
            iterations: self.password_hash_iterations,
            parallelism: 1,
        }
    }

    /// The SQLite database file, from `database_url` or `data_dir`.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database_url {
            Some(url) => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(PathBuf::from),
            None => Some(self.data_dir.join("tessera.db")),
        }
    }
}

/// Text from an environment variable or flag as a TOML value: booleans and integers as such,
/// anything else as a string.
fn guess_value(text: &str) -> toml::Value {
    match text {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => match text.parse::<i64>() {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => toml::Value::String(text.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_match_simplejwt() {
        let config = Config::load(None, env(&[]), &[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.auth().access_lifetime, 300);
        assert_eq!(config.auth().refresh_lifetime, 86_400);
        assert!(config.rotate_refresh_tokens && config.blacklist_after_rotation);
        assert_eq!(config.signing_algorithm, Algorithm::ES256);
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "access_token_lifetime = \"10m\"\nleeway = 3\nissuer = \"file\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("TESSERA_LEEWAY", "7"),
                ("TESSERA_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2"),
                ("TESSERA_NOT_A_SETTING", "x"),
            ]),
            &[("issuer", "flag".into())],
        )
        .unwrap();
        assert_eq!(config.auth().access_lifetime, 600);
        assert_eq!(config.leeway, 7);
        assert_eq!(config.issuer.as_deref(), Some("flag"));
        assert_eq!(config.trusted_proxies.len(), 2);
    }

    #[test]
    fn invalid_settings_are_named() {
        for (pairs, name) in [
            (
                vec![("TESSERA_ACCESS_TOKEN_LIFETIME", "soon")],
                "access_token_lifetime",
            ),
            (vec![("TESSERA_LISTEN", "nowhere")], "listen"),
            (
                vec![("TESSERA_SIGNING_ALGORITHM", "none")],
                "signing_algorithm",
            ),
            (vec![("TESSERA_SESSION_LIFETIME", "0")], "session_lifetime"),
            (vec![("TESSERA_MASTER_KEY", "too-short")], "master_key"),
            (vec![("TESSERA_REDIS_URL", "127.0.0.1:6379")], "redis_url"),
            (
                vec![("TESSERA_DATABASE_URL", "mysql://h/db")],
                "database_url",
            ),
            (
                vec![("TESSERA_DATABASE_MAX_CONNECTIONS", "0")],
                "database_max_connections",
            ),
            (vec![("TESSERA_DATABASE_TIMEOUT", "0s")], "database_timeout"),
            (
                vec![("TESSERA_REVOCATION_MAX_STALENESS", "1s")],
                "revocation_max_staleness",
            ),
        ] {
            let error = Config::load(None, env(&pairs), &[])
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{error}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "acess_token_lifetime = \"5m\"\n").unwrap();
        let error = Config::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("acess_token_lifetime"), "{error}");
    }

    #[test]
    fn the_master_key_is_parsed_but_never_shown() {
        let hex = "ab".repeat(32);
        let config = Config::load(None, env(&[("TESSERA_MASTER_KEY", &hex)]), &[]).unwrap();
        assert!(config.auth().master_key.is_some());
        assert!(!format!("{config:?}").contains(&hex));
        assert!(
            Config::load(None, env(&[]), &[])
                .unwrap()
                .auth()
                .master_key
                .is_none()
        );
    }

    #[test]
    fn every_documented_setting_exists_with_its_default() {
        for (name, default, _) in SETTINGS {
            if default.starts_with('(') {
                continue;
            }
            let loaded = Config::load(None, env(&[]), &[(name, (*default).to_owned())]);
            assert!(loaded.is_ok(), "{name} = {default}: {loaded:?}");
        }
        assert!(Config::load(None, env(&[]), &[("no_such_setting", "1".into())]).is_err());
        // The defaults `--help` prints are the defaults in force.
        let documented: Vec<(&str, String)> = SETTINGS
            .iter()
            .filter(|(_, default, _)| !default.starts_with('('))
            .map(|(name, default, _)| (*name, (*default).to_owned()))
            .collect();
        assert_eq!(
            Config::load(None, env(&[]), &documented).unwrap(),
            Config::default()
        );
    }
}
