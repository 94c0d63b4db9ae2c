//! A downstream service guarded by tessera-guard: it trusts the issuer's access tokens, and with
//! a feed token it refuses revoked ones as soon as the issuer revokes them.
//!
//! ```text
//! cargo run --release -p tessera-guard --example downstream -- \
//!     --issuer http://127.0.0.1:8000 --listen 127.0.0.1:9000 [--audience AUD] \
//!     [--feed-token TOKEN] [--max-staleness 30s]
//! ```
//!
//! - `GET /whoami`: `{"user_id","roles","scope"}` of a valid access token; 401 otherwise.
//! - `GET /admin-only`: the same, for tokens with the `admin` role; 403 for others.
//! - `GET /healthz`: `{"status":"ok"}`, unauthenticated.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::FromRef;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};
use tessera_guard::{AccessToken, Admin, Authenticated, Guard, RequireRole};

#[derive(Parser, Debug)]
#[command(about = "A downstream service that trusts a Tessera (or any JWKS) issuer's tokens")]
struct Args {
    /// The issuer's URL (https, or http to a loopback host).
    #[arg(long)]
    issuer: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Required `aud` of tokens.
    #[arg(long)]
    audience: Option<String>,
    /// Token for the issuer's revocation feed (Tessera's `revocation_feed_token`).
    #[arg(long, env = "TESSERA_GUARD_FEED_TOKEN", hide_env_values = true)]
    feed_token: Option<String>,
    /// Answer 503 once cut off from the feed this long (e.g. `30s`).
    #[arg(long, value_parser = humantime::parse_duration)]
    max_staleness: Option<Duration>,
    /// Accept plain http to an issuer that is not on loopback.
    #[arg(long)]
    allow_plain_http: bool,
}

#[derive(Clone, FromRef)]
struct AppState {
    guard: Guard,
}

/// Who a token stands for, written straight from the verified token (no copies).
#[derive(Serialize)]
struct WhoAmI<'a> {
    user_id: Option<&'a str>,
    roles: &'a [String],
    scope: Option<&'a str>,
}

fn who(token: &AccessToken) -> Response {
    let body = WhoAmI {
        user_id: token.user_id.as_deref(),
        roles: &token.roles,
        scope: token.scope(),
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn whoami(Authenticated(token): Authenticated) -> Response {
    who(&token)
}

async fn admin_only(RequireRole(token, ..): RequireRole<Admin>) -> Response {
    who(&token)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOWNSTREAM_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut builder = Guard::builder(&args.issuer);
    if let Some(audience) = args.audience {
        builder = builder.audience(audience);
    }
    if let Some(token) = args.feed_token {
        builder = builder.feed_token(token);
    }
    if let Some(span) = args.max_staleness {
        builder = builder.max_staleness(span);
    }
    if args.allow_plain_http {
        builder = builder.allow_plain_http();
    }
    let guard = match builder.start().await {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("downstream: {error}");
            return ExitCode::from(2);
        }
    };
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route("/admin-only", get(admin_only))
        .route("/healthz", get(healthz))
        .with_state(AppState { guard });
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("downstream: cannot listen on {}: {error}", args.listen);
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().unwrap_or(args.listen);
    println!("downstream listening on http://{addr}");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("downstream: {error}");
            ExitCode::FAILURE
        }
    }
}
