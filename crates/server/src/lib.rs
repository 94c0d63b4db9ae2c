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
pub mod console;
pub mod error;
pub mod extract;
pub mod feed;
pub mod metrics;
pub mod oauth;
mod observe;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod state;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tessera_auth::{
    AuthError, AuthService, Clock, FailureLog, LoginThrottle, PasswordHasher, RevocationBus, Store,
};
use tokio::sync::Notify;

pub use settings::{LogFormat, Settings};
pub use state::{AppState, BrowserMode, FeedStatus};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
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

/// What an instance runs on: the store and, when instances share state, the revocation
/// broadcast and the shared login-failure counters. The binary opens these from the
/// configuration; tests build them directly.
#[derive(Clone)]
pub struct Backend {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Announces and hears revocations across instances; `None` polls only.
    pub bus: Option<Arc<dyn RevocationBus>>,
    /// Login failures counted across instances; `None` counts in this process.
    pub failures: Option<Arc<dyn FailureLog>>,
}

impl Backend {
    /// A backend of one store and nothing shared besides it.
    pub fn store_only(store: Arc<dyn Store>) -> Backend {
        Backend {
            store,
            bus: None,
            failures: None,
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("bus", &self.bus.as_ref().map(|bus| bus.name()))
            .field("shared_failures", &self.failures.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds the service and the HTTP state from `settings` over `backend`, timed by `clock`.
pub async fn build(
    settings: &Settings,
    backend: Backend,
    clock: Arc<dyn Clock>,
) -> Result<Arc<AppState>, StartError> {
    let Backend {
        store,
        bus,
        failures,
    } = backend;
    let workers = match settings.password_workers {
        0 => PasswordHasher::default_concurrency(),
        n => n,
    };
    let hasher = PasswordHasher::new(settings.password, workers)?;
    let throttle = match failures {
        Some(shared) => LoginThrottle::shared(settings.throttle.clone(), shared),
        None => LoginThrottle::new(settings.throttle.clone()),
    };
    let mut config = settings.auth.clone();
    // RFC 8414 and RFC 9068 need an issuer: without a configured one, the server's own URL.
    config
        .default_issuer
        .get_or_insert_with(|| format!("http://{}", settings.listen));
    let auth = AuthService::builder(store, config, hasher, Arc::clone(&clock))
        .throttle(throttle)
        .bus(bus.clone())
        .operator_key(settings.signing_key.clone())
        .start()
        .await?;
    let auth = Arc::new(auth);
    let feed = Arc::new(FeedStatus::new(bus, clock));
    let metrics = settings
        .metrics_listen
        .map(|_| Arc::new(metrics::Metrics::new(Arc::clone(&auth), Arc::clone(&feed))));
    let state = Arc::new(AppState {
        auth,
        trusted_proxies: settings.trusted_proxies.clone(),
        browser: settings.browser.clone(),
        feed,
        feed_token: settings.revocation_feed_token.clone(),
        max_staleness: settings.revocation_max_staleness,
        metrics,
        auth_header: settings.auth_header.clone(),
    });
    // The service has just loaded the revocation state.
    state.feed.synced(Ok(()));
    Ok(state)
}

/// Keeps the instance current and tidy. Revocations and key changes made elsewhere are replayed
/// from the database every `sync_interval`, and at once whenever the broadcast announces one (or
/// reconnects, since announcements may have been missed while it was down). Expired rows are
/// deleted every `sweep_interval`.
pub fn spawn_background(state: &Arc<AppState>, settings: &Settings) {
    let wake = Arc::new(Notify::new());
    if let Some(bus) = state.feed.bus.clone() {
        let (state, wake) = (Arc::clone(state), Arc::clone(&wake));
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let heard = || {
                    state.feed.listening();
                    wake.notify_one();
                };
                let error = bus.listen(&heard).await;
                if state.feed.is_listening() {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(%error, bus = bus.name(), "revocation broadcast down; polling until it is back");
                state.feed.bus_down(error.to_string());
                state.auth.clock().sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }
    let sync_state = Arc::clone(state);
    let every = settings.sync_interval;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = sync_state.auth.clock().sleep(every) => {}
            }
            let outcome = sync_state.auth.sync().await;
            if let Err(error) = &outcome {
                tracing::warn!(%error, "sync with the store failed; will retry");
            }
            sync_state.feed.synced(outcome.map_err(|e| e.to_string()));
        }
    });
    let auth = Arc::clone(&state.auth);
    let every = settings.sweep_interval;
    tokio::spawn(async move {
        loop {
            match auth.flush_expired().await {
                Ok(stats) => tracing::debug!(?stats, "swept expired rows"),
                Err(error) => tracing::warn!(%error, "sweep failed"),
            }
            auth.clock().sleep(every).await;
        }
    });
}

/// What a server without users says at start, and its console's sign-in page too.
pub const FIRST_ADMIN_HINT: &str = "No users yet: create the first administrator with \
     `tessera users add NAME --role admin --password-stdin`";

/// Serves until Ctrl-C or SIGTERM. Prints the address once listening.
pub async fn run(
    settings: Settings,
    backend: Backend,
    clock: Arc<dyn Clock>,
) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: settings.listen,
        source,
    })?;
    // Bound first, so that a default issuer names the port really listened on (`:0` picks one).
    let settings = Settings {
        listen: addr,
        ..settings
    };
    let metrics_listener = match settings.metrics_listen {
        Some(metrics_addr) => Some(tokio::net::TcpListener::bind(metrics_addr).await.map_err(
            |source| StartError::Listen {
                addr: metrics_addr,
                source,
            },
        )?),
        None => None,
    };
    let state = build(&settings, backend, clock).await?;
    spawn_background(&state, &settings);
    let metrics_addr = match (metrics_listener, &state.metrics) {
        (Some(listener), Some(metrics)) => {
            let bound = listener.local_addr().ok();
            let app = metrics::router(Arc::clone(metrics));
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            });
            bound
        }
        _ => None,
    };
    let kid = state.auth.signing_kid()?;
    // A fresh server says how to make the first administrator (there is no web bootstrap).
    let first_run = match state.auth.users_page(1, 0).await {
        Ok((0, _)) => Some(FIRST_ADMIN_HINT),
        _ => None,
    };
    match settings.log_format {
        LogFormat::Pretty => {
            println!("Tessera listening on http://{addr}");
            if let Some(metrics_addr) = metrics_addr {
                println!("Metrics on http://{metrics_addr}/metrics");
            }
            if let Some(hint) = first_run {
                println!("{hint}");
            }
        }
        LogFormat::Json => {
            let line = serde_json::json!({
                "message": format!("Tessera listening on http://{addr}"),
                "addr": addr.to_string(),
                "metrics_addr": metrics_addr.map(|a| a.to_string()),
                "first_run": first_run,
            });
            println!("{line}");
        }
    }
    tracing::info!(%addr, ?metrics_addr, %kid, "listening");
    let clock = Arc::clone(state.auth.clock());
    let app = routes::router(state);
    serve_until(
        listener,
        app,
        clock,
        settings.shutdown_grace,
        termination_signal(),
    )
    .await
    .map_err(|source| StartError::Listen { addr, source })
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting connections and
/// lets the requests in flight finish, for at most `grace` (by `clock`). Past the grace it returns
/// anyway, and the binary exits, dropping whatever is still running. Every write was committed
/// before its response, so nothing else needs flushing.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    clock: Arc<dyn Clock>,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = Arc::new(Notify::new());
    let announce = Arc::clone(&stopping);
    let signal = async move {
        shutdown.await;
        tracing::info!(grace = ?grace, "shutting down: finishing the requests in flight");
        announce.notify_one();
    };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let serving = axum::serve(listener, service).with_graceful_shutdown(signal);
    let deadline = async {
        stopping.notified().await;
        clock.sleep(grace).await;
    };
    tokio::select! {
        outcome = serving => outcome,
        () = deadline => {
            tracing::warn!(grace = ?grace, "requests still in flight after the shutdown grace: dropping them");
            Ok(())
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn termination_signal() {
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
}
