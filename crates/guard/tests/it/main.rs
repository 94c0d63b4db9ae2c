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
mod feed;
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

/// The revocation feed the test issuer serves, as Tessera does: pages and a live stream.
#[derive(Default)]
pub(crate) struct Feed {
    /// Entries as Tessera writes them, each with its `cursor`.
    pub(crate) entries: Vec<Value>,
    /// Answer 401 to every feed request.
    pub(crate) refuse: bool,
    /// The `after` of every feed request, with the endpoint (`page` or `stream`).
    pub(crate) requests: Vec<(&'static str, i64)>,
}

/// A real HTTP issuer on loopback.
pub(crate) struct TestIssuer {
    pub(crate) url: String,
    pub(crate) served: Arc<Mutex<Served>>,
    pub(crate) feed: Arc<Mutex<Feed>>,
    /// Bumped when entries are added (streams send them) or streams must end.
    feed_changed: Arc<tokio::sync::watch::Sender<(u64, u64)>>,
    /// Bumped on every key set request.
    pub(crate) fetched: tokio::sync::watch::Receiver<u64>,
}

#[derive(Clone)]
struct IssuerState {
    served: Arc<Mutex<Served>>,
    fetched: Arc<tokio::sync::watch::Sender<u64>>,
    feed: Arc<Mutex<Feed>>,
    feed_changed: Arc<tokio::sync::watch::Sender<(u64, u64)>>,
}

/// The feed token the test issuer accepts.
pub(crate) const FEED_TOKEN: &str = "test-feed-token";

#[derive(serde::Deserialize)]
struct After {
    after: i64,
}

/// Whether the request may read the feed; records it.
fn admit(state: &IssuerState, headers: &HeaderMap, endpoint: &'static str, after: i64) -> bool {
    let mut feed = state.feed.lock().unwrap();
    feed.requests.push((endpoint, after));
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    !feed.refuse && presented == Some(&format!("Bearer {FEED_TOKEN}"))
}

fn entries_after(feed: &Mutex<Feed>, after: i64) -> Vec<Value> {
    feed.lock()
        .unwrap()
        .entries
        .iter()
        .filter(|e| e["cursor"].as_i64().unwrap() > after)
        .cloned()
        .collect()
}

async fn feed_page(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    axum::extract::Query(After { after }): axum::extract::Query<After>,
) -> Response {
    if !admit(&state, &headers, "page", after) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let results: Vec<Value> = entries_after(&state.feed, after)
        .into_iter()
        .take(2)
        .collect();
    let cursor = results
        .last()
        .map_or(after, |e| e["cursor"].as_i64().unwrap());
    axum::Json(json!({ "results": results, "cursor": cursor })).into_response()
}

async fn feed_stream(
    State(state): State<IssuerState>,
    headers: HeaderMap,
    axum::extract::Query(After { after }): axum::extract::Query<After>,
) -> Response {
    use axum::response::sse::{Event, Sse};
    if !admit(&state, &headers, "stream", after) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let changes = state.feed_changed.subscribe();
    let generation = changes.borrow().1;
    let events = futures_util::stream::unfold(
        (state, after, changes),
        move |(state, mut cursor, mut changes)| async move {
            loop {
                if changes.borrow_and_update().1 != generation {
                    return None;
                }
                if let Some(entry) = entries_after(&state.feed, cursor).into_iter().next() {
                    cursor = entry["cursor"].as_i64().unwrap();
                    let event = Event::default()
                        .id(cursor.to_string())
                        .event("revocation")
                        .data(entry.to_string());
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (state, cursor, changes),
                    ));
                }
                changes.changed().await.ok()?;
            }
        },
    );
    Sse::new(events).into_response()
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
        let feed = Arc::new(Mutex::new(Feed::default()));
        let feed_changed = Arc::new(tokio::sync::watch::channel((0, 0)).0);
        let state = IssuerState {
            served: Arc::clone(&served),
            fetched: Arc::new(sender),
            feed: Arc::clone(&feed),
            feed_changed: Arc::clone(&feed_changed),
        };
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/keys", get(key_set))
            .route("/.well-known/jwks.json", get(key_set))
            .route("/api/revocations/", get(feed_page))
            .route("/api/revocations/stream", get(feed_stream))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestIssuer {
            url,
            served,
            feed,
            feed_changed,
            fetched,
        }
    }

    /// Logs `entry` (its cursor is the next one) and sends it to the live streams.
    pub(crate) fn revoke(&self, mut entry: Value) -> i64 {
        let mut feed = self.feed.lock().unwrap();
        let cursor = feed.entries.len() as i64 + 1;
        entry["cursor"] = cursor.into();
        feed.entries.push(entry);
        drop(feed);
        self.feed_changed.send_modify(|(grown, _)| *grown += 1);
        cursor
    }

    /// Ends every live stream (the guard sees its connection drop).
    pub(crate) fn drop_streams(&self) {
        self.feed_changed
            .send_modify(|(_, generation)| *generation += 1);
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

/// The usual start: one signing key (`k1`), an issuer publishing it, and a clock at [`EPOCH`].
pub(crate) async fn one_key_issuer() -> (SigningKey, TestIssuer, ManualClock) {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    (signer, issuer, ManualClock::at(EPOCH))
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
    // Merged in; a null removes the claim.
    for (name, value) in extra.as_object().unwrap() {
        match value {
            Value::Null => {
                claims.as_object_mut().unwrap().remove(name);
            }
            value => claims[name] = value.clone(),
        }
    }
    let mut header = Header::for_key(key);
    header.typ = Some("at+jwt".into());
    encode_with_header(&header, &claims, key).unwrap()
}
