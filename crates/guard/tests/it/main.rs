//! The guard against a real HTTP issuer whose key set the tests control: discovery, caching,
//! unknown-kid refetches and their cooldown, failures, limits, and the extractors. Time is a
//! `ManualClock`, moved instead of waited for. (The guard with `tessera serve` itself is tested in
//! the `tessera` crate's end-to-end suite.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod extract;
mod keys;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tessera_guard::{Guard, GuardBuilder, ManualClock};
use tessera_jwt::{Algorithm, Header, SigningKey, encode_with_header};

/// Unix time the tests' clocks start at.
pub(crate) const EPOCH: i64 = 1_800_000_000;

/// What the test issuer serves; changed by the tests while it runs.
pub(crate) struct Served {
    pub(crate) keys: Vec<SigningKey>,
    pub(crate) cache_control: Option<String>,
    /// `None`: no metadata (404).
    pub(crate) metadata: Option<Value>,
    /// Answer the key set with this status instead.
    pub(crate) failing: Option<StatusCode>,
    /// Never answer the key set (for the timeout).
    pub(crate) hang: bool,
    /// Pad the key set to this many bytes.
    pub(crate) padding: usize,
}

/// A real HTTP issuer on loopback.
pub(crate) struct TestIssuer {
    pub(crate) url: String,
    pub(crate) served: Arc<Mutex<Served>>,
    /// Bumped on every key set request.
    pub(crate) fetched: tokio::sync::watch::Receiver<u64>,
}

#[derive(Clone)]
struct IssuerState {
    served: Arc<Mutex<Served>>,
    fetched: Arc<tokio::sync::watch::Sender<u64>>,
}

async fn metadata(State(state): State<IssuerState>) -> Response {
    let metadata = state.served.lock().unwrap().metadata.clone();
    match metadata {
        Some(m) => axum::Json(m).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn key_set(State(state): State<IssuerState>) -> Response {
    state.fetched.send_modify(|n| *n += 1);
    let (body, cache, failing, hang) = {
        let served = state.served.lock().unwrap();
        let keys: Vec<Value> = served
            .keys
            .iter()
            .map(|k| {
                serde_json::to_value(k.verifying_key().unwrap().to_public_jwk().unwrap()).unwrap()
            })
            .collect();
        let mut body = json!({ "keys": keys });
        if served.padding > 0 {
            body["padding"] = "x".repeat(served.padding).into();
        }
        (
            body.to_string(),
            served.cache_control.clone(),
            served.failing,
            served.hang,
        )
    };
    if hang {
        std::future::pending::<()>().await;
    }
    if let Some(status) = failing {
        return status.into_response();
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(cache) = cache {
        headers.insert(header::CACHE_CONTROL, cache.parse().unwrap());
    }
    (headers, body).into_response()
}

impl TestIssuer {
    /// An issuer publishing `keys`, with metadata pointing at `/keys`.
    pub(crate) async fn start(keys: Vec<SigningKey>) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(Served {
            keys,
            cache_control: Some("public, max-age=60".into()),
            metadata: Some(json!({ "issuer": url, "jwks_uri": format!("{url}/keys") })),
            failing: None,
            hang: false,
            padding: 0,
        }));
        let (sender, fetched) = tokio::sync::watch::channel(0);
        let state = IssuerState {
            served: Arc::clone(&served),
            fetched: Arc::new(sender),
        };
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/keys", get(key_set))
            .route("/.well-known/jwks.json", get(key_set))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestIssuer {
            url,
            served,
            fetched,
        }
    }

    pub(crate) fn fetches(&self) -> u64 {
        *self.fetched.borrow()
    }

    /// Waits (at most 10 s of real time) until the key set was requested `count` times.
    pub(crate) async fn wait_for_fetches(&self, count: u64) {
        let mut fetched = self.fetched.clone();
        tokio::time::timeout(Duration::from_secs(10), fetched.wait_for(|n| *n >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} fetches expected, saw {}", self.fetches()))
            .unwrap();
    }
}

/// A guard of `issuer` on a manual clock.
pub(crate) fn guard_of(issuer: &TestIssuer, clock: &ManualClock) -> GuardBuilder {
    Guard::builder(&issuer.url).clock(Arc::new(clock.clone()))
}

/// A key with id `kid`.
pub(crate) fn key(kid: &str) -> SigningKey {
    SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid(kid)
}

/// An access token as Tessera writes it, signed by `key`, with `extra` claims merged in.
pub(crate) fn access_token(key: &SigningKey, extra: Value) -> String {
    let mut claims = json!({
        "token_type": "access",
        "exp": EPOCH + 300,
        "iat": EPOCH,
        "jti": "j1",
        "user_id": "7",
        "sid": "s1",
        "roles": ["admin"],
    });
    for (name, value) in extra.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let mut header = Header::for_key(key);
    header.typ = Some("at+jwt".into());
    encode_with_header(&header, &claims, key).unwrap()
}
