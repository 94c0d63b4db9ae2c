//! # tessera-server
//!
//! The HTTP face of Tessera: djangorestframework-simplejwt's token API (same paths, bodies, status
//! codes and error shapes) plus logout that really logs out, sessions, password change and JWKS.
//!
//! ## Overview
//! [`routes::router`] builds the axum router over an [`AppState`]; [`run`] serves it with the
//! background tasks (revocation/key sync and the expired-row sweep). Errors become HTTP in exactly
//! one place, [`error::ApiError`].
//!
//! ## Guarding your own routes
//! Add an [`extract::Authenticated`] argument to a handler: it only runs for a valid, unrevoked
//! `Bearer` access token, and every other request gets simplejwt's 401 bodies. To require a role,
//! take [`extract::RequireRole`] with a [`extract::RoleRequirement`] instead: callers with a valid
//! token but none of the roles get DRF's 403 `{"detail":"You do not have permission to perform
//! this action."}`.
//!
//! ## Security considerations
//! Bodies are limited to 64 KiB; tokens and passwords are never logged; `X-Forwarded-For` is only
//! believed from configured proxies.

pub mod admin;
pub mod config;
pub mod error;
pub mod extract;
pub mod routes;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tessera_auth::{
    AuthError, AuthService, LoginThrottle, PasswordHasher, Store, SystemClock, UserAdmin,
};
use tessera_jwt::{Jwk, SigningKey};

pub use config::Config;
pub use state::{AppState, BrowserMode};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The signing key file is unusable.
    #[error("signing_key: {0}")]
    SigningKey(String),
    /// The domain failed to start (storage, keys).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Binding or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Reads the operator's signing key: a private JWK (its `kid` kept, else the RFC 7638 thumbprint) or
/// a PEM key (algorithm implied by its type).
pub fn load_signing_key(path: &std::path::Path) -> Result<SigningKey, StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::SigningKey(format!("cannot read {}: {e}", path.display())))?;
    let trimmed = text.trim_start();
    let key = if trimmed.starts_with('{') {
        Jwk::from_json(trimmed).and_then(|jwk| SigningKey::from_jwk(&jwk, None))
    } else {
        SigningKey::from_pem_detect(&text)
    };
    key.map_err(|e| StartError::SigningKey(format!("{}: {e}", path.display())))
}

/// Builds the service and the HTTP state from `config` over `store`.
pub async fn build(config: &Config, store: Arc<dyn Store>) -> Result<Arc<AppState>, StartError> {
    let operator_key = config
        .signing_key
        .as_deref()
        .map(load_signing_key)
        .transpose()?;
    let workers = match config.password_hash_workers {
        0 => PasswordHasher::default_concurrency(),
        n => n,
    };
    let hasher = PasswordHasher::new(config.password_policy(), workers)?;
    let admin = UserAdmin::new(Arc::clone(&store), hasher.clone(), config.auth());
    let auth = AuthService::start(
        store,
        config.auth(),
        operator_key,
        hasher,
        LoginThrottle::new(config.throttle()),
        Arc::new(SystemClock),
    )
    .await?;
    Ok(Arc::new(AppState {
        auth: Arc::new(auth),
        admin,
        trusted_proxies: config.trusted_proxies.clone(),
        browser: config.browser_mode.then(|| BrowserMode {
            cookie_name: "refresh_token".into(),
            secure: config.cookie_secure,
            allowed_origins: config.allowed_origins.clone(),
        }),
    }))
}

/// Keeps the instance current: replays revocations and key changes made elsewhere every
/// `sync_interval`, and deletes expired rows every `sweep_interval`.
pub fn spawn_background(state: &Arc<AppState>, config: &Config) {
    let auth = Arc::clone(&state.auth);
    let every = config.sync_interval.0;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if let Err(error) = auth.sync().await {
                tracing::warn!(%error, "sync with the store failed; will retry");
            }
        }
    });
    let auth = Arc::clone(&state.auth);
    let every = config.sweep_interval.0;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match auth.store().flush_expired(auth.now()).await {
                Ok(stats) => tracing::debug!(?stats, "swept expired rows"),
                Err(error) => tracing::warn!(%error, "sweep failed"),
            }
        }
    });
}

/// Serves until Ctrl-C or SIGTERM. Prints the address once listening.
pub async fn run(config: Config, store: Arc<dyn Store>) -> Result<(), StartError> {
    let state = build(&config, store).await?;
    spawn_background(&state, &config);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    println!("Tessera listening on http://{addr}");
    tracing::info!(%addr, kid = %state.auth.keys().signing_kid(), "listening");
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    // Let in-flight requests finish; nothing else to flush (every write was committed).
    tokio::time::sleep(Duration::from_millis(0)).await;
}
