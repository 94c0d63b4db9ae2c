//! What the server runs with, typed. The binary builds [`Settings`] from its configuration (file,
//! environment, flags); embedders and tests build it directly. The defaults are the domain's own
//! ([`AuthConfig`], [`ThrottleConfig`], [`PasswordPolicy`]) plus the ones written here, once.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tessera_auth::{AuthConfig, PasswordPolicy, ThrottleConfig};
use tessera_jwt::SigningKey;

use crate::state::BrowserMode;

/// Every setting of a serving instance.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on (default `127.0.0.1:8000`).
    pub listen: SocketAddr,
    /// Token lifetimes and policies.
    pub auth: AuthConfig,
    /// Limits on failed logins.
    pub throttle: ThrottleConfig,
    /// argon2id cost.
    pub password: PasswordPolicy,
    /// Concurrent password hashes; 0 means every core but one (default 0).
    pub password_workers: usize,
    /// A key to sign with instead of the stored ones (default none).
    pub signing_key: Option<SigningKey>,
    /// Proxies whose `X-Forwarded-For` is believed (default none).
    pub trusted_proxies: Vec<IpAddr>,
    /// Browser mode: the refresh token in an `HttpOnly` cookie (default off).
    pub browser: Option<BrowserMode>,
    /// Refuse access tokens (503) when revocations have not been synced for this long (default
    /// none: never).
    pub revocation_max_staleness: Option<Duration>,
    /// How often revocations and key changes made elsewhere are polled (default 1 s).
    pub sync_interval: Duration,
    /// How often expired rows are deleted (default 1 h).
    pub sweep_interval: Duration,
    /// How long a shutdown lets the requests in flight finish (default 10 s).
    pub shutdown_grace: Duration,
    /// The bearer secret that reads the revocation feed (default none: OAuth tokens with the
    /// `tessera:revocations` scope only).
    pub revocation_feed_token: Option<crate::feed::FeedToken>,
    /// Where Prometheus metrics are served at `/metrics` (default none: off).
    pub metrics_listen: Option<SocketAddr>,
    /// How the start-up line is written (the log's format is the binary's business).
    pub log_format: LogFormat,
    /// Where users present their access tokens.
    pub auth_header: crate::state::AuthHeader,
}

/// How logs and the start-up line are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people at a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            auth: AuthConfig::default(),
            throttle: ThrottleConfig::default(),
            password: PasswordPolicy::default(),
            password_workers: 0,
            signing_key: None,
            trusted_proxies: Vec::new(),
            browser: None,
            revocation_max_staleness: None,
            sync_interval: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(60 * 60),
            shutdown_grace: Duration::from_secs(10),
            revocation_feed_token: None,
            metrics_listen: None,
            log_format: LogFormat::Pretty,
            auth_header: crate::state::AuthHeader::default(),
        }
    }
}

impl BrowserMode {
    /// Browser mode with the `refresh_token` cookie, `Secure` unless `secure` is false (plain-HTTP
    /// development only), trusting `allowed_origins` besides the server's own.
    pub fn new(secure: bool, allowed_origins: Vec<String>) -> BrowserMode {
        BrowserMode {
            cookie_name: "refresh_token".into(),
            secure,
            allowed_origins,
        }
    }
}
