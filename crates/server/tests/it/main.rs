//! HTTP tests of the server, in process (`tower::ServiceExt::oneshot`), every one of them twice:
//! over an SQLite file and over a PostgreSQL database of its own. When PostgreSQL is unreachable
//! outside CI, the PostgreSQL run says so and uses SQLite; under `CI=true` that is a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]
#![allow(
    clippy::duplicate_mod,
    reason = "the same test files are included once per backend, on purpose"
)]

mod postgres;
mod shutdown;
mod sqlite;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tessera_auth::store::PrivateJwk;
use tessera_auth::{AuthService, ManualClock, NewAccount, PasswordHasher, Store};
use tessera_jwt::{Clock as _, Jwk, SigningKey, SystemClock};
use tessera_server::{AppState, Backend, Settings};
use tower::ServiceExt as _;
use zeroize::Zeroizing;

/// A server over a fresh database: an SQLite file in a temporary directory, or (`POSTGRES`) a
/// PostgreSQL database of its own.
pub struct Server<const POSTGRES: bool> {
    pub app: Router,
    /// The store itself, to take it down in fault tests.
    store: OpenStore,
    /// The same store, as the domain sees it.
    shared: Arc<dyn Store>,
    /// The server's clock: it moves only when a test moves it ([`Server::advance`]), and every
    /// instance of one test shares it.
    pub clock: ManualClock,
    pub state: Arc<AppState>,
    pub config: Settings,
    /// Shared by the instances of one test (see [`Server::another_instance`]).
    pub dir: Arc<tempfile::TempDir>,
    /// The PostgreSQL database, shared the same way and dropped after the last instance.
    database: Option<Arc<tessera_store::testing::TestDatabase>>,
}

enum OpenStore {
    Sqlite(tessera_store::SqliteStore),
    Postgres(tessera_store::PostgresStore),
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The defaults, with a cheap password hash.
pub fn cheap_settings() -> Settings {
    let mut settings = Settings::default();
    settings.password.memory_kib = 64;
    settings.password.iterations = 1;
    settings
}

impl<const POSTGRES: bool> Server<POSTGRES> {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = cheap_settings();
        tweak(&mut config);
        let database = if POSTGRES {
            let database = tessera_store::testing::TestDatabase::create().await;
            if database.is_none() {
                eprintln!("(this PostgreSQL run of the test runs on SQLite instead)");
            }
            database.map(Arc::new)
        } else {
            None
        };
        let clock = ManualClock::at(SystemClock.now());
        Self::open(config, Arc::new(dir), database, clock).await
    }

    /// Starts a server over an existing database (a restart, or a second instance).
    async fn open(
        config: Settings,
        dir: Arc<tempfile::TempDir>,
        database: Option<Arc<tessera_store::testing::TestDatabase>>,
        clock: ManualClock,
    ) -> Self {
        let (store, shared): (OpenStore, Arc<dyn tessera_auth::Store>) = match &database {
            Some(database) => {
                let options = tessera_store::PostgresOptions {
                    max_connections: 4,
                    ..tessera_store::PostgresOptions::default()
                };
                let store = tessera_store::PostgresStore::connect(&database.url, &options)
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
                (OpenStore::Postgres(store.clone()), Arc::new(store))
            }
            None => {
                let store = tessera_store::SqliteStore::open(&dir.path().join("tessera.db"))
                    .await
                    .unwrap();
                (OpenStore::Sqlite(store.clone()), Arc::new(store))
            }
        };
        let state = tessera_server::build(
            &config,
            Backend::store_only(Arc::clone(&shared)),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        Server {
            store,
            shared,
            clock,
            app: tessera_server::routes::router(Arc::clone(&state)),
            state,
            config,
            dir,
            database,
        }
    }

    pub async fn restart(self) -> Self {
        let Server {
            config,
            dir,
            database,
            clock,
            ..
        } = self;
        Self::open(config, dir, database, clock).await
    }

    /// A second instance on the same database, as behind a load balancer.
    pub async fn another_instance(&self) -> Self {
        Self::open(
            self.config.clone(),
            Arc::clone(&self.dir),
            self.database.clone(),
            self.clock.clone(),
        )
        .await
    }

    /// Takes the store down (every later call fails as unavailable), as an outage would.
    pub async fn close_store(&self) {
        match &self.store {
            OpenStore::Sqlite(store) => store.close().await,
            OpenStore::Postgres(store) => store.close().await,
        }
    }

    /// Serves this instance on `listener` (a real socket) until the test ends.
    pub fn serve(&self, listener: tokio::net::TcpListener) {
        tokio::spawn(tessera_server::serve_until(
            listener,
            self.app.clone(),
            Arc::new(self.clock.clone()),
            std::time::Duration::ZERO,
            std::future::pending(),
        ));
    }

    /// Now, by the server's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.clock.advance(by);
    }

    /// The domain opened over the same store the way the CLI opens it: its changes reach this
    /// instance only through the revocation log (at [`Server::sync`]).
    pub fn cli(&self) -> AuthService {
        let hasher = PasswordHasher::new(self.config.password, 2).unwrap();
        AuthService::builder(
            Arc::clone(&self.shared),
            self.config.auth.clone(),
            hasher,
            Arc::new(self.clock.clone()),
        )
        .administer()
    }

    pub async fn add_user(&self, name: &str, password: &str) {
        self.add_user_with(name, password, &[], serde_json::json!({}))
            .await;
    }

    /// Adds a user with roles and custom claims.
    pub async fn add_user_with(&self, name: &str, password: &str, roles: &[&str], claims: Value) {
        self.cli()
            .add_user(
                NewAccount {
                    username: name.into(),
                    password: Zeroizing::new(password.into()),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    claims: claims.as_object().unwrap().clone(),
                    is_active: true,
                },
                &tessera_auth::audit::Acting::cli(),
            )
            .await
            .unwrap();
    }

    /// Deletes a user through the store, as the CLI does.
    pub async fn delete_user(&self, name: &str) {
        let cli = self.cli();
        let user = cli.find_user(name).await.unwrap();
        cli.delete_user(user.id, &tessera_auth::audit::Acting::cli())
            .await
            .unwrap();
    }

    /// Picks up changes made through the store directly (as the CLI does), as the poller would.
    pub async fn sync(&self) {
        self.state.auth.sync().await.unwrap();
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(json_request(Method::POST, path, &body, None))
            .await
    }

    pub async fn get_with(&self, path: &str, bearer: &str) -> Reply {
        let request = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn post_with(&self, path: &str, bearer: &str, body: Value) -> Reply {
        self.send(json_request(Method::POST, path, &body, Some(bearer)))
            .await
    }

    /// Logs in and returns (access, refresh).
    pub async fn login(&self, name: &str, password: &str) -> (String, String) {
        let reply = self
            .post(
                "/api/token/",
                serde_json::json!({"username": name, "password": password}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        (
            reply.body["access"].as_str().unwrap().to_owned(),
            reply.body["refresh"].as_str().unwrap().to_owned(),
        )
    }

    /// The server's current signing key, read from the store, to mint tokens the way an attacker
    /// with the key, or simplejwt sharing it, would.
    pub async fn signing_key(&self) -> SigningKey {
        let keys = self.shared.keys().await.unwrap();
        let current = keys.iter().rev().find(|k| k.retired_at.is_none()).unwrap();
        let private: PrivateJwk = self
            .shared
            .private_key(&current.kid)
            .await
            .unwrap()
            .unwrap();
        let jwk = Jwk::from_json(private.expose()).unwrap();
        SigningKey::from_jwk(&jwk, None)
            .unwrap()
            .with_kid(current.kid.clone())
    }
}

pub fn json_request(
    method: Method,
    path: &str,
    body: &Value,
    bearer: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

/// Signs `claims` under exactly `header` (raw JSON), the way simplejwt or a key holder would.
pub fn mint(key: &SigningKey, header: &Value, claims: &Value) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        engine.encode(header.to_string()),
        engine.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", engine.encode(signature))
}

pub fn decode_part(token: &str, index: usize) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
