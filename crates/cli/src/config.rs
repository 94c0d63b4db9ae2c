//! The binary's configuration: one typed struct, loaded in layers (defaults, then a TOML file, then
//! `TESSERA_*` environment variables, then command-line flags), validated once, with every error
//! naming the setting. Each setting is declared once, in [`SETTINGS`]' table below: its type, its
//! default as text (parsed like any other layer) and its help. That table is what `serve --help`
//! prints, and a test checks its defaults against the libraries' own (`Settings::default()`, the
//! store options), so no default is written twice.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tessera_auth::{
    AuthConfig, ClaimNames, MasterKey, PasswordPolicy, ThrottleConfig, TokenClasses,
};
use tessera_jwt::{Algorithm, SigningKey, VerifyingKey};
use tessera_server::feed::FeedToken;
use tessera_server::state::AuthHeader;
use tessera_server::{BrowserMode, LogFormat, Settings};

/// A span of time written as `15m`, `1h 30m`, `1d` or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span(pub(crate) Duration);

impl Span {
    /// Whole seconds, saturating.
    pub(crate) fn seconds(self) -> i64 {
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
            Raw::Text(text) => crate::input::parse_duration(&text)
                .map(Span)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A secret setting: compared and deserialized as text, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct SecretText(pub(crate) String);

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

/// Declares [`Config`] and [`SETTINGS`] from one table: `name: Type = default, "help";`, the
/// default as the text a user would write (`None`: unset).
macro_rules! settings {
    ($( $(#[$attr:meta])* $name:ident : $ty:ty = $default:expr, $help:literal; )*) => {
        /// Every setting of `tessera serve` (and of the commands that open its data).
        #[derive(Clone, Debug, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct Config {
            $(
                #[doc = $help]
                $(#[$attr])*
                pub(crate) $name: $ty,
            )*
            /// What loading noticed for the operator (keys of `[simplejwt]` that have no effect).
            #[serde(skip)]
            pub(crate) warnings: Vec<String>,
        }

        /// Each setting's name, default (as text; `None`: unset) and meaning.
        pub(crate) const SETTINGS: &[(&str, Option<&str>, &str)] = &[
            $( (stringify!($name), $default, $help), )*
        ];
    };
}

settings! {
    listen: SocketAddr = Some("127.0.0.1:8000"), "address to listen on";
    data_dir: PathBuf = Some("./tessera-data"), "directory of the embedded SQLite database";
    database_url: Option<String> = None,
        "sqlite://PATH or postgres://USER@HOST/DB; overrides data_dir";
    migrate: bool = Some("true"), "apply pending migrations when serve starts";
    database_max_connections: u32 = Some("16"), "PostgreSQL connections per instance";
    database_timeout: Span = Some("3s"), "longest wait for a database connection before 503";
    database_statement_timeout: Span = Some("5s"), "longest a PostgreSQL statement may run";
    redis_url: Option<String> = None, "Redis for revocation broadcast and shared throttling";
    redis_prefix: String = Some("tessera:"), "prefix of Redis keys and channels";
    redis_timeout: Span = Some("1s"), "longest wait for Redis before falling back";
    master_key: Option<SecretText> = None,
        "seals private keys at rest (use TESSERA_MASTER_KEY)";
    signing_key: Option<PathBuf> = None,
        "private JWK or PEM to sign with instead of generated keys";
    signing_algorithm: Algorithm = Some("ES256"), "algorithm of generated keys";
    key_publish_ahead: Span = Some("0s"), "how long a rotated key is published before it signs";
    signing_key_secret: Option<SecretText> = None,
        "the signing key itself: an HMAC secret, or a PEM private key (simplejwt's SIGNING_KEY)";
    verifying_key: Option<String> = None,
        "PEM public key that must be the signing key's (simplejwt's VERIFYING_KEY)";
    access_token_lifetime: Span = Some("5m"), "access token lifetime";
    refresh_token_lifetime: Span = Some("1d"), "refresh token lifetime";
    session_lifetime: Span = Some("30d"), "absolute session lifetime";
    sliding_token_lifetime: Span = Some("5m"), "sliding token lifetime";
    sliding_token_refresh_lifetime: Span = Some("1d"), "how long a sliding token can be refreshed";
    #[serde(deserialize_with = "list")]
    auth_token_classes: Vec<String> = Some("access,sliding"),
        "token classes that authenticate requests (access, sliding)";
    #[serde(deserialize_with = "list")]
    auth_header_types: Vec<String> = Some("Bearer"),
        "accepted first words of the access token header";
    auth_header_name: String = Some("Authorization"), "header that carries access tokens";
    user_id_claim: String = Some("user_id"), "name of the user id claim";
    token_type_claim: String = Some("token_type"), "name of the token type claim";
    jti_claim: String = Some("jti"), "name of the token id claim";
    sliding_token_refresh_exp_claim: String = Some("refresh_exp"),
        "name of the sliding token's refresh expiry claim";
    update_last_login: bool = Some("false"), "record each user's last login";
    rotate_refresh_tokens: bool = Some("true"), "issue a new refresh token on refresh";
    blacklist_after_rotation: bool = Some("true"), "retire the old refresh token on rotation";
    reuse_grace: Span = Some("0s"), "grace window for the previous refresh token";
    issuer: Option<String> = None, "iss to issue and require";
    audience: Option<String> = None, "aud to issue and require";
    leeway: Span = Some("0s"), "clock skew allowed when validating tokens";
    login_failures_per_username: usize = Some("5"), "failed logins per username per window";
    login_failures_per_ip: usize = Some("50"), "failed logins per client IP per window";
    login_throttle_window: Span = Some("15m"), "throttling window";
    #[serde(deserialize_with = "list")]
    trusted_proxies: Vec<IpAddr> = Some(""),
        "comma-separated proxy IPs whose X-Forwarded-For is trusted";
    password_hash_memory_kib: u32 = Some("19456"), "argon2id memory (KiB)";
    password_hash_iterations: u32 = Some("2"), "argon2id passes";
    password_hash_workers: usize = Some("0"), "concurrent hashes; 0 = cores - 1";
    sync_interval: Span = Some("1s"), "how often to poll for revocations and key changes";
    revocation_max_staleness: Span = Some("0s"),
        "503 for access tokens when revocations are this stale; 0s = never";
    sweep_interval: Span = Some("1h"), "how often to delete expired rows";
    audit_retention: Span = Some("90d"), "how long audit events are kept";
    shutdown_grace: Span = Some("10s"), "how long a shutdown lets requests in flight finish";
    revocation_feed_token: Option<SecretText> = None,
        "bearer secret that reads the revocation feed (use TESSERA_REVOCATION_FEED_TOKEN)";
    browser_mode: bool = Some("false"), "refresh token in an HttpOnly cookie";
    cookie_secure: bool = Some("true"), "mark the cookie Secure";
    #[serde(deserialize_with = "list")]
    allowed_origins: Vec<String> = Some(""),
        "comma-separated origins trusted for cookie requests";
    verified_token_cache: usize = Some("10000"),
        "verified access tokens remembered; 0 = off";
    #[serde(deserialize_with = "list")]
    access_token_claims: Vec<String> = Some(""),
        "custom claims copied into access tokens (comma-separated; empty = all)";
    log: String = Some("info"), "log filter";
    log_format: Option<LogFormat> = None,
        "json or pretty (default: pretty when standard error is a terminal, json otherwise)";
    metrics_listen: Option<SocketAddr> = None,
        "address of the Prometheus /metrics listener (off when unset)";
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
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
    /// Builds the configuration from its layers: the defaults, `file` (the `--config` TOML, if
    /// any), `env` (only `TESSERA_<SETTING>` names are read), then `flags` given on the command
    /// line as (name, value) text.
    pub(crate) fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = SETTINGS
            .iter()
            .filter_map(|(name, default, _)| {
                default.map(|text| ((*name).to_owned(), guess_value(text)))
            })
            .collect();
        let mut warnings = Vec::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let mut from_file = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
            // A site's SIMPLE_JWT, pasted: its keys become the settings they mean, at this layer.
            if let Some(simplejwt) = from_file.remove("simplejwt") {
                let simplejwt = simplejwt.as_table().ok_or_else(|| {
                    ConfigError::Invalid("simplejwt must be a table ([simplejwt])".into())
                })?;
                let translated =
                    crate::simplejwt::translate(simplejwt).map_err(ConfigError::Invalid)?;
                for (name, value) in translated.settings {
                    if from_file.contains_key(name) {
                        return Err(ConfigError::Invalid(format!(
                            "{name} is set twice: on its own and through [simplejwt]"
                        )));
                    }
                    from_file.insert(name.to_owned(), value);
                }
                warnings = translated.warnings;
            }
            table.extend(from_file);
        }
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
        let mut config: Config = table.try_into().map_err(|e: toml::de::Error| {
            ConfigError::Invalid(e.to_string().trim().replace('\n', " "))
        })?;
        config.validate()?;
        config.warnings = warnings;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("access_token_lifetime", self.access_token_lifetime),
            ("sliding_token_lifetime", self.sliding_token_lifetime),
            (
                "sliding_token_refresh_lifetime",
                self.sliding_token_refresh_lifetime,
            ),
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
            ("audit_retention", self.audit_retention),
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
        if self
            .revocation_feed_token
            .as_ref()
            .is_some_and(|token| token.0.len() < 32)
        {
            return Err(ConfigError::Invalid(
                "revocation_feed_token must be at least 32 characters".into(),
            ));
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
        self.token_classes()?;
        self.claim_names()
            .check()
            .map_err(|e| ConfigError::Invalid(format!("claim names: {e}")))?;
        self.auth_header()?;
        if self.signing_key.is_some() && self.signing_key_secret.is_some() {
            return Err(ConfigError::Invalid(
                "signing_key and signing_key_secret are both set: give the key one way".into(),
            ));
        }
        Ok(())
    }

    /// `auth_token_classes` as the domain's.
    fn token_classes(&self) -> Result<TokenClasses, ConfigError> {
        let mut classes = TokenClasses {
            access: false,
            sliding: false,
        };
        for name in &self.auth_token_classes {
            match name.as_str() {
                "access" => classes.access = true,
                "sliding" => classes.sliding = true,
                other => {
                    return Err(ConfigError::Invalid(format!(
                        "auth_token_classes: {other:?} is not a token class (access, sliding)"
                    )));
                }
            }
        }
        if !(classes.access || classes.sliding) {
            return Err(ConfigError::Invalid(
                "auth_token_classes must name at least one class".into(),
            ));
        }
        Ok(classes)
    }

    fn claim_names(&self) -> ClaimNames {
        ClaimNames {
            user_id: self.user_id_claim.clone(),
            token_type: self.token_type_claim.clone(),
            jti: self.jti_claim.clone(),
            refresh_exp: self.sliding_token_refresh_exp_claim.clone(),
        }
    }

    /// Where access tokens are presented.
    fn auth_header(&self) -> Result<AuthHeader, ConfigError> {
        let name = self.auth_header_name.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "auth_header_name: {:?} is not a header name",
                self.auth_header_name
            ))
        })?;
        if self.auth_header_types.is_empty()
            || self
                .auth_header_types
                .iter()
                .any(|t| !t.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid(
                "auth_header_types must be one or more words without spaces".into(),
            ));
        }
        Ok(AuthHeader {
            name,
            types: self.auth_header_types.clone(),
        })
    }

    /// The key given inline (`signing_key_secret`: an HMAC secret or a PEM private key), checked
    /// against `verifying_key` when that is set.
    pub(crate) fn inline_signing_key(&self) -> Result<Option<SigningKey>, ConfigError> {
        let Some(SecretText(text)) = &self.signing_key_secret else {
            if self.verifying_key.is_some() {
                return Err(ConfigError::Invalid(
                    "verifying_key is set without signing_key_secret".into(),
                ));
            }
            return Ok(None);
        };
        let alg = self.signing_algorithm;
        let invalid =
            |e: tessera_jwt::Error| ConfigError::Invalid(format!("signing_key_secret: {e}"));
        let key = if text.trim_start().starts_with("-----BEGIN") {
            SigningKey::from_pem(text, alg).map_err(invalid)?
        } else if alg.as_str().starts_with("HS") {
            SigningKey::from_hmac_secret(alg, text.as_bytes()).map_err(invalid)?
        } else {
            return Err(ConfigError::Invalid(format!(
                "signing_key_secret: a {alg} key is a PEM private key"
            )));
        };
        if let Some(pem) = &self.verifying_key {
            let given = VerifyingKey::from_pem(pem, alg)
                .map_err(|e| ConfigError::Invalid(format!("verifying_key: {e}")))?;
            let ours = key.verifying_key().map_err(invalid)?;
            if given.to_public_jwk() != ours.to_public_jwk() {
                return Err(ConfigError::Invalid(
                    "verifying_key is not the public key of signing_key_secret".into(),
                ));
            }
        }
        Ok(Some(key))
    }

    /// The parsed master key, if one is set.
    pub(crate) fn master_key(&self) -> Result<Option<MasterKey>, ConfigError> {
        self.master_key
            .as_ref()
            .map(|text| MasterKey::parse(&text.0))
            .transpose()
            .map_err(|e| ConfigError::Invalid(format!("master_key: {e}")))
    }

    /// Whether the database is PostgreSQL (shared by instances) rather than an SQLite file.
    pub(crate) fn is_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres"))
    }

    /// The domain settings.
    pub(crate) fn auth(&self) -> Result<AuthConfig, ConfigError> {
        Ok(AuthConfig {
            access_lifetime: self.access_token_lifetime.seconds(),
            refresh_lifetime: self.refresh_token_lifetime.seconds(),
            session_lifetime: self.session_lifetime.seconds(),
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            blacklist_after_rotation: self.blacklist_after_rotation,
            reuse_grace: self.reuse_grace.seconds(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            leeway: self.leeway.0.as_secs(),
            signing_algorithm: self.signing_algorithm,
            access_token_claims: (!self.access_token_claims.is_empty())
                .then(|| self.access_token_claims.clone()),
            verified_token_cache: self.verified_token_cache,
            key_publish_ahead: self.key_publish_ahead.seconds(),
            master_key: self.master_key()?,
            sliding_lifetime: self.sliding_token_lifetime.seconds(),
            sliding_refresh_lifetime: self.sliding_token_refresh_lifetime.seconds(),
            token_classes: self.token_classes()?,
            claim_names: self.claim_names(),
            update_last_login: self.update_last_login,
            audit_retention: self.audit_retention.seconds(),
            ..AuthConfig::default()
        })
    }

    /// The password hashing cost.
    pub(crate) fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            memory_kib: self.password_hash_memory_kib,
            iterations: self.password_hash_iterations,
            ..PasswordPolicy::default()
        }
    }

    /// What `serve` runs with; `signing_key` is the operator's key, already read from its file.
    pub(crate) fn settings(
        &self,
        signing_key: Option<SigningKey>,
    ) -> Result<Settings, ConfigError> {
        Ok(Settings {
            listen: self.listen,
            auth: self.auth()?,
            throttle: ThrottleConfig {
                per_username: self.login_failures_per_username,
                per_ip: self.login_failures_per_ip,
                window: self.login_throttle_window.seconds(),
            },
            password: self.password_policy(),
            password_workers: self.password_hash_workers,
            signing_key,
            trusted_proxies: self.trusted_proxies.clone(),
            browser: self
                .browser_mode
                .then(|| BrowserMode::new(self.cookie_secure, self.allowed_origins.clone())),
            revocation_max_staleness: (!self.revocation_max_staleness.0.is_zero())
                .then_some(self.revocation_max_staleness.0),
            sync_interval: self.sync_interval.0,
            sweep_interval: self.sweep_interval.0,
            shutdown_grace: self.shutdown_grace.0,
            revocation_feed_token: self
                .revocation_feed_token
                .as_ref()
                .map(|secret| FeedToken(zeroize::Zeroizing::new(secret.0.clone()))),
            metrics_listen: self.metrics_listen,
            log_format: self.log_format(),
            auth_header: self.auth_header()?,
        })
    }

    /// The log format: as set, or pretty on a terminal and JSON for log collectors.
    pub(crate) fn log_format(&self) -> LogFormat {
        use std::io::IsTerminal as _;
        self.log_format
            .unwrap_or(match std::io::stderr().is_terminal() {
                true => LogFormat::Pretty,
                false => LogFormat::Json,
            })
    }

    /// The SQLite database file, from `database_url` or `data_dir`.
    pub(crate) fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database_url {
            Some(url) => url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(PathBuf::from),
            None => Some(self.data_dir.join("tessera.db")),
        }
    }
}

/// Text from a default, an environment variable or a flag as a TOML value: booleans and integers
/// as such, anything else as a string.
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

    fn defaults() -> Config {
        Config::load(None, env(&[]), &[]).unwrap()
    }

    /// The table's defaults are the libraries' own: nothing is written twice.
    #[test]
    fn the_defaults_are_the_libraries_defaults() {
        let config = defaults();
        let ours = config.settings(None).unwrap();
        // The one default that is not fixed: the log format follows the terminal.
        let theirs = Settings {
            log_format: config.log_format(),
            ..Settings::default()
        };
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        let postgres = tessera_store::PostgresOptions::default();
        assert_eq!(config.database_max_connections, postgres.max_connections);
        assert_eq!(config.database_timeout.0, postgres.acquire_timeout);
        assert_eq!(
            config.database_statement_timeout.0,
            postgres.statement_timeout
        );
        let redis = tessera_store::RedisOptions::default();
        assert_eq!(config.redis_prefix, redis.prefix);
        assert_eq!(config.redis_timeout.0, redis.timeout);
        // simplejwt's own defaults, as the README promises.
        assert_eq!(ours.auth.access_lifetime, 300);
        assert_eq!(ours.auth.refresh_lifetime, 86_400);
        assert!(ours.auth.rotate_refresh_tokens && ours.auth.blacklist_after_rotation);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
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
                ("TESSERA_LEEWAY", "7s"),
                ("TESSERA_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2"),
                ("TESSERA_NOT_A_SETTING", "x"),
            ]),
            &[("issuer", "flag".into())],
        )
        .unwrap();
        let auth = config.auth().unwrap();
        assert_eq!(auth.access_lifetime, 600);
        assert_eq!(auth.leeway, 7);
        assert_eq!(config.issuer.as_deref(), Some("flag"));
        assert_eq!(config.trusted_proxies.len(), 2);
    }

    /// Every duration takes the same syntax, `leeway` included.
    #[test]
    fn every_duration_takes_the_span_syntax() {
        for (text, seconds) in [("30", 30), ("30s", 30), ("1m", 60), ("1h 30m", 5_400)] {
            let config = Config::load(None, env(&[("TESSERA_LEEWAY", text)]), &[]).unwrap();
            assert_eq!(config.auth().unwrap().leeway, seconds, "{text}");
        }
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
            (vec![("TESSERA_LEEWAY", "a while")], "leeway"),
            (
                vec![("TESSERA_REVOCATION_FEED_TOKEN", "short")],
                "revocation_feed_token",
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
        assert!(config.auth().unwrap().master_key.is_some());
        assert!(!format!("{config:?}").contains(&hex));
        assert!(defaults().auth().unwrap().master_key.is_none());
    }

    #[test]
    fn every_setting_can_be_set_to_its_default_and_unknown_ones_are_refused() {
        for (name, default, _) in SETTINGS {
            let Some(default) = default else { continue };
            let loaded = Config::load(None, env(&[]), &[(name, (*default).to_owned())]);
            assert_eq!(loaded.ok(), Some(defaults()), "{name} = {default}");
        }
        assert!(Config::load(None, env(&[]), &[("no_such_setting", "1".into())]).is_err());
    }
    fn with_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(&file, text).unwrap();
        Config::load(Some(&file), env(&[]), &[])
    }

    /// Every key of the table lands on the setting it means.
    #[test]
    fn a_pasted_simple_jwt_dict_sets_what_it_means() {
        let config = with_file(
            r#"
            [simplejwt]
            ACCESS_TOKEN_LIFETIME = 600
            REFRESH_TOKEN_LIFETIME = "2d"
            ROTATE_REFRESH_TOKENS = false
            BLACKLIST_AFTER_ROTATION = false
            UPDATE_LAST_LOGIN = true
            ALGORITHM = "HS512"
            SIGNING_KEY = "a shared secret that is long enough for HS512 keys, sixty-four b"
            VERIFYING_KEY = ""
            AUDIENCE = "api"
            ISSUER = "https://auth.example"
            LEEWAY = "30s"
            AUTH_HEADER_TYPES = ["JWT", "Bearer"]
            AUTH_HEADER_NAME = "HTTP_X_ACCESS_TOKEN"
            USER_ID_CLAIM = "uid"
            TOKEN_TYPE_CLAIM = "kind"
            JTI_CLAIM = "token_id"
            SLIDING_TOKEN_LIFETIME = "10m"
            SLIDING_TOKEN_REFRESH_LIFETIME = 7200
            SLIDING_TOKEN_REFRESH_EXP_CLAIM = "renew_until"
            AUTH_TOKEN_CLASSES = ["rest_framework_simplejwt.tokens.SlidingToken"]
            TOKEN_USER_CLASS = "rest_framework_simplejwt.models.TokenUser"
            "#,
        )
        .unwrap();
        let settings = config.settings(None).unwrap();
        let auth = &settings.auth;
        assert_eq!(
            (auth.access_lifetime, auth.refresh_lifetime),
            (600, 172_800)
        );
        assert!(!auth.rotate_refresh_tokens && !auth.blacklist_after_rotation);
        assert!(auth.update_last_login);
        assert_eq!(auth.signing_algorithm, Algorithm::HS512);
        assert_eq!(auth.audience.as_deref(), Some("api"));
        assert_eq!(auth.issuer.as_deref(), Some("https://auth.example"));
        assert_eq!(auth.leeway, 30);
        assert_eq!(
            (auth.sliding_lifetime, auth.sliding_refresh_lifetime),
            (600, 7200)
        );
        assert_eq!(
            auth.claim_names,
            ClaimNames {
                user_id: "uid".into(),
                token_type: "kind".into(),
                jti: "token_id".into(),
                refresh_exp: "renew_until".into(),
            }
        );
        assert_eq!(
            auth.token_classes,
            TokenClasses {
                access: false,
                sliding: true
            }
        );
        assert_eq!(settings.auth_header.name.as_str(), "x-access-token");
        assert_eq!(settings.auth_header.types, ["JWT", "Bearer"]);
        assert_eq!(settings.auth_header.challenge(), "JWT realm=\"api\"");
        let key = config.inline_signing_key().unwrap().unwrap();
        assert_eq!(key.algorithm(), Algorithm::HS512);
        assert_eq!(config.warnings.len(), 1);
        assert!(
            config.warnings[0].contains("TOKEN_USER_CLASS"),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn the_table_refuses_typos_removed_keys_and_a_setting_given_twice() {
        for (text, named) in [
            (
                "[simplejwt]\nACESS_TOKEN_LIFETIME = 300\n",
                "ACESS_TOKEN_LIFETIME",
            ),
            ("[simplejwt]\nSECRET_KEY = \"x\"\n", "SECRET_KEY"),
            (
                "leeway = 3\n[simplejwt]\nLEEWAY = 5\n",
                "leeway is set twice",
            ),
            ("[simplejwt]\nUSER_ID_CLAIM = \"sub\"\n", "sub"),
            (
                "[simplejwt]\nAUTH_HEADER_NAME = \"AUTHORIZATION\"\n",
                "AUTH_HEADER_NAME",
            ),
            ("[simplejwt]\nALGORITHM = \"none\"\n", "signing_algorithm"),
            ("simplejwt = 1\n", "simplejwt must be a table"),
        ] {
            let error = with_file(text).unwrap_err().to_string();
            assert!(error.contains(named), "{text}: {error}");
        }
    }

    /// `SIGNING_KEY` and `VERIFYING_KEY` as PEM text: the pair must belong together.
    #[test]
    fn a_pem_signing_key_must_match_its_verifying_key() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let private = key.to_pem().unwrap();
        let public = key.verifying_key().unwrap().to_pem().unwrap();
        let other = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .verifying_key()
            .unwrap()
            .to_pem()
            .unwrap();
        let file = |verifying: &str| {
            format!(
                "[simplejwt]\nALGORITHM = \"ES256\"\nSIGNING_KEY = '''{private}'''\nVERIFYING_KEY = '''{verifying}'''\n"
            )
        };
        let config = with_file(&file(&public)).unwrap();
        assert!(config.inline_signing_key().unwrap().is_some());
        let config = with_file(&file(&other)).unwrap();
        let error = config.inline_signing_key().unwrap_err().to_string();
        assert!(error.contains("not the public key"), "{error}");
        let hmac_for_es =
            with_file("[simplejwt]\nALGORITHM = \"ES256\"\nSIGNING_KEY = \"secret\"\n")
                .unwrap()
                .inline_signing_key()
                .unwrap_err()
                .to_string();
        assert!(hmac_for_es.contains("PEM private key"), "{hmac_for_es}");
    }
}
