//! Shared state of the HTTP layer.

use std::net::IpAddr;
use std::sync::Arc;

use tessera_auth::{AuthService, UserAdmin};

/// Opt-in browser mode: the refresh token travels in an `HttpOnly` cookie.
#[derive(Clone, Debug)]
pub struct BrowserMode {
    /// Cookie name.
    pub cookie_name: String,
    /// Whether to mark the cookie `Secure` (only turn off for plain-HTTP development).
    pub secure: bool,
    /// Origins whose cookie-authenticated requests are accepted without the CSRF header.
    pub allowed_origins: Vec<String>,
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The domain service.
    pub auth: Arc<AuthService>,
    /// User administration (the admin API).
    pub admin: UserAdmin,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Browser mode, when enabled.
    pub browser: Option<BrowserMode>,
}
